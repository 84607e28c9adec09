//! The provider's shared state: settings, keys, storage, caches and counters,
//! built once at start and shared by every handler.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mimi_credentials::{Certificate, TrustAnchors};
use mimi_mls::{KeyPackagePolicy, QueueKeyPair};
use mimi_storage::Storage;
use mimi_transport::ratelimit::{Spend, TokenBuckets};
use mimi_transport::{CacheConfig, Discovery, KeyCache, RateLimiter, RateLimits, ServedKeys};

use crate::config::Settings;
use crate::error::ProviderError;
use crate::metrics::Metrics;
use crate::signing_keys::{self, ActiveKey, InUse, KeyRecordError, KeySet};

/// Everything a request handler needs. `S` is the storage back end.
#[derive(Debug)]
pub struct Provider<S> {
    pub(crate) settings: Settings,
    pub(crate) storage: Arc<S>,
    /// The key `sign_event` uses; a reload swaps it (`signing_keys`).
    pub(crate) signing_key: ActiveKey,
    /// What `/signature_key` serves; a reload replaces it.
    pub(crate) served_keys: ServedKeys,
    /// Shared so that large fan-outs can open queue IDs off the async threads.
    pub(crate) queue_key: Arc<QueueKeyPair>,
    pub(crate) transport: mimi_transport::Config,
    pub(crate) s2s_limiter: RateLimiter,
    /// Buckets for the provider's own limits (KeyPackages, clients, discovery).
    pub(crate) buckets: TokenBuckets,
    pub(crate) key_cache: KeyCache,
    pub(crate) discovery: Arc<Discovery>,
    pub(crate) http: reqwest::Client,
    pub(crate) identity_roots: TrustAnchors,
    pub(crate) key_package_policy: KeyPackagePolicy,
    pub(crate) metrics: Arc<Metrics>,
    /// The hub's outbox worker signal and backoff state.
    pub(crate) outbox: crate::ds::OutboxState,
    /// Queue IDs already opened from their sealed references (`qs`).
    pub(crate) opened_queue_ids: crate::qs::OpenedQueueIds,
    /// The hub's parsed rooms (`ds::cache`).
    pub(crate) groups: crate::ds::GroupCache<mimi_mls::hub::HubGroup>,
    /// The registrar at the domain CA, if `[enrollment]` is configured.
    pub(crate) registrar: Option<Arc<crate::enrollment::Registrar>>,
    /// The CRLs relayed at `/.well-known/mimi/crls` (`revocation`).
    pub(crate) crls: Arc<crate::revocation::CrlRelay>,
}

/// The parts of a [`Provider`] that `server::start` builds from files.
#[derive(Debug)]
pub(crate) struct Parts<S> {
    pub settings: Settings,
    pub storage: Arc<S>,
    pub signing_keys: KeySet,
    pub queue_key: QueueKeyPair,
    pub http: reqwest::Client,
    pub identity_roots: Vec<Certificate>,
    pub registrar: Option<crate::enrollment::Registrar>,
    pub crls: crate::revocation::CrlRelay,
}

/// Most keys the provider's own token buckets remember at once.
const MAX_TRACKED_KEYS: usize = 100_000;

impl<S: Storage> Provider<S> {
    pub(crate) fn new(parts: Parts<S>) -> Provider<S> {
        let Parts {
            settings,
            storage,
            signing_keys,
            queue_key,
            http,
            identity_roots,
            registrar,
            crls,
        } = parts;
        let (signing, signer, served) = signing_keys.into_parts();
        let signing_key = ActiveKey::new(signing.id, signer);
        let served_keys = ServedKeys::new(settings.ds_domain.clone(), served);
        let cache = CacheConfig::default();
        let discovery = Arc::new(Discovery::new(http.clone(), cache));
        let key_package_policy = KeyPackagePolicy {
            cipher_suites: settings.key_package_suites.clone(),
            max_lifetime: Duration::from_secs(
                u64::from(settings.key_packages.max_lifetime_days) * 24 * 3600,
            ),
            ..KeyPackagePolicy::default()
        };
        Provider {
            transport: mimi_transport::Config {
                // A full fan-out (a 1 MiB message and 5,000 recipients) must fit.
                max_message_len: mimi_wire::qs::MAX_S2S_MESSAGE_LEN,
                ..mimi_transport::Config::new(settings.domain.clone())
            },
            s2s_limiter: RateLimiter::new(RateLimits {
                per_sender: settings.limits.s2s_sender,
                per_sender_and_endpoint: settings.limits.s2s_endpoint,
                max_tracked_keys: MAX_TRACKED_KEYS,
            }),
            buckets: TokenBuckets::new(MAX_TRACKED_KEYS),
            key_cache: KeyCache::new(http.clone(), discovery.clone(), cache),
            discovery,
            identity_roots: TrustAnchors::new(identity_roots),
            metrics: Arc::new(Metrics::new()),
            outbox: crate::ds::OutboxState::default(),
            groups: crate::ds::GroupCache::default(),
            opened_queue_ids: crate::qs::OpenedQueueIds::default(),
            registrar: registrar.map(Arc::new),
            crls: Arc::new(crls),
            key_package_policy,
            settings,
            storage,
            signing_key,
            served_keys,
            queue_key: Arc::new(queue_key),
            http,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn storage(&self) -> &Arc<S> {
        &self.storage
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The CRL relay.
    pub fn crls(&self) -> &Arc<crate::revocation::CrlRelay> {
        &self.crls
    }

    /// Re-reads the signing key records of the data directory
    /// (`signing_keys`): publishes every key not past its `not_after`, then
    /// signs with the newest whose `signs_from` has come (publishing first,
    /// so that a key is never used before it is served). The server calls
    /// this every [`signing_keys::RELOAD_INTERVAL`]; on an error nothing
    /// changes. Returns the keys now in use.
    pub fn reload_signing_keys(&self) -> Result<InUse, KeyRecordError> {
        let keys = signing_keys::load(&self.settings.data_dir, signing_keys::now_s())?;
        let in_use = keys.in_use();
        let (signing, signer, served) = keys.into_parts();
        self.served_keys.set_keys(served);
        if self.signing_key.id() != signing.id {
            tracing::info!(
                key = signing.id,
                "now signing with the next S2S signing key"
            );
        }
        self.signing_key.set(signing.id, signer);
        Ok(in_use)
    }

    /// Spends one token of each `(key, limit)`, or refuses with 429.
    pub(crate) fn rate_limit(&self, spends: &[Spend]) -> Result<(), ProviderError> {
        self.buckets
            .try_spend(spends)
            .map_err(|denied| ProviderError::RateLimited {
                limit: spends
                    .get(denied.index)
                    .map_or_else(String::new, |s| s.limit.to_string()),
                retry_after_secs: denied.retry_after_secs(),
            })
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
