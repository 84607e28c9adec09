//! Revocation at the provider (draft-barnes-mimi-identity-arch §4.3;
//! docs/enrollment.md, "Relayed CRLs" and "Revoking a device").
//!
//! - [`CrlRelay`]: the CRLs this provider fetches from their issuers —
//!   the identity root's (`[revocation] crl_urls`, the authority's
//!   `/acme/crl/identity-root`) and its domain CA's (`/acme/crl/domain-ca`
//!   and `/acme/crl/phone-ca/<n>`, derived from `[enrollment]
//!   directory_url`) — checks, keeps and serves at
//!   `GET /.well-known/mimi/crls` (a `mimi_wire::crls::CrlBundle`). Clients
//!   must check revocation with fresh CRLs, and a hub needs the CRLs of
//!   every member's domain CA: each provider relays its own domain's.
//! - [`revoke_device`]: the provider, as its domain CA's registrar, revokes
//!   a device's certificate over ACME, removes the client (its queue and
//!   KeyPackages) and keeps a record so that the device URI never comes
//!   back, then refreshes its CRLs.
//!
//! The provider is not trusted for identity: clients check every relayed
//! CRL's signature and freshness themselves. The relay checks what it can
//! anyway, so that it never replaces a good CRL with a bad one: a fetch
//! that fails, answers something that is not a fresh CRL, a CRL older than
//! the one held, or one whose signature does not verify under the issuer
//! it names (when the provider knows that issuer: the identity roots,
//! `[revocation] issuers`, and the CAs of the chains devices registered
//! with) keeps the last good CRL, is logged and counted in `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use mimi_acme_client::RevocationReason;
use mimi_credentials::{Certificate, Crl, MAX_CRL_LEN};
use mimi_identifiers::Domain;
use mimi_storage::{ClientRecord, PostgresStorage, RevokedClient, SqliteStorage, Storage};
use mimi_wire::crls::{CrlBundle, MAX_BUNDLE_CRLS};
use tokio::sync::{Mutex, Notify, watch};

use crate::clients;
use crate::config::{EnrollmentSettings, RevocationSettings, Settings, StorageUrl};
use crate::enrollment::Registrar;
use crate::error::{ProviderError, StartError};
use crate::state::{Provider, now_ms};

/// Longest wait for one CRL.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// The earliest a CRL is fetched again, however close its nextUpdate.
const MIN_REFETCH: Duration = Duration::from_secs(10);

/// How soon a fetch that failed is tried again (unless the refresh
/// interval is shorter).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// How often a provider process looks in storage for a revocation made by
/// another process (`mimi-server provider revoke-device`).
pub const REVOCATION_POLL: Duration = Duration::from_secs(60);

/// Most phone-number CAs whose CRLs are looked for at a domain CA.
const MAX_PHONE_CAS: usize = 8;

/// Why a CRL was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlRefused {
    /// The source could not be reached, or answered with an error status.
    #[error("cannot fetch {url}: {detail}")]
    Fetch { url: String, detail: String },
    /// The source has no CRL there (404): for phone-number CAs, the end
    /// of the list.
    #[error("{url} answers 404: no CRL is published there")]
    NotFound { url: String },
    /// The body is not a usable CRL.
    #[error("{url} answered a CRL that is refused: {reason}")]
    Bad { url: String, reason: String },
}

/// Counters of the relay, for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    fetched: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
}

/// A CRL held, and where and when it came from.
#[derive(Debug, Clone)]
struct Held {
    crl: Crl,
    /// Whether its signature was checked under a known issuer.
    checked: bool,
    fetched_at: SystemTime,
}

/// The CRLs a provider relays: fetched from their issuers, checked, kept
/// while fetches fail, served as a [`CrlBundle`].
#[derive(Debug)]
pub struct CrlRelay {
    http: reqwest::Client,
    refresh: Duration,
    /// URLs fetched every time: the configured ones and the domain CA's.
    urls: Vec<String>,
    /// `<base>/acme/crl/phone-ca/` of the domain CA, if derived.
    phone_ca_prefix: Option<String>,
    /// CA certificates whose CRLs are signature-checked.
    issuers: RwLock<Vec<Certificate>>,
    held: RwLock<BTreeMap<String, Held>>,
    /// Whether the last refresh had a failure (a sooner retry).
    last_failed: RwLock<bool>,
    /// One refresh at a time.
    refreshing: Mutex<()>,
    wake: Notify,
    counters: Counters,
}

impl CrlRelay {
    /// The relay of `settings`, fetching with `http`; `issuers` are the
    /// identity roots and the `[revocation] issuers`. Nothing is fetched
    /// yet.
    pub fn new(
        settings: &RevocationSettings,
        enrollment: Option<&EnrollmentSettings>,
        http: reqwest::Client,
        issuers: Vec<Certificate>,
    ) -> CrlRelay {
        let mut urls = settings.crl_urls.clone();
        let base = enrollment.and_then(|e| domain_ca_base(&e.directory_url));
        if let Some(base) = &base {
            urls.push(format!("{base}/acme/crl/domain-ca"));
        }
        urls.dedup();
        CrlRelay {
            http,
            refresh: settings.refresh,
            urls,
            phone_ca_prefix: base.map(|b| format!("{b}/acme/crl/phone-ca/")),
            issuers: RwLock::new(issuers),
            held: RwLock::new(BTreeMap::new()),
            last_failed: RwLock::new(false),
            refreshing: Mutex::new(()),
            wake: Notify::new(),
            counters: Counters::default(),
        }
    }

    /// The URLs fetched at every refresh (phone-number CAs' besides).
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Learns the CA certificates of a chain the provider verified (a
    /// registration's): their CRLs are signature-checked from now on.
    pub fn learn_chain(&self, chain: &[Certificate]) {
        let mut issuers = self.issuers.write().unwrap_or_else(|e| e.into_inner());
        for ca in chain.iter().skip(1) {
            if !issuers.iter().any(|known| known.der() == ca.der()) {
                issuers.push(ca.clone());
            }
        }
    }

    /// Asks the background task to refresh now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Fetches every CRL again, keeping the last good one of each source
    /// whose fetch fails or is refused. One refresh runs at a time.
    pub async fn refresh(&self) {
        let _one = self.refreshing.lock().await;
        let mut failed = false;
        for url in &self.urls {
            failed |= self.refresh_one(url).await.is_err();
        }
        if let Some(prefix) = &self.phone_ca_prefix {
            failed |= self.refresh_phone_cas(prefix).await;
        }
        *self.last_failed.write().unwrap_or_else(|e| e.into_inner()) = failed;
    }

    /// `phone-ca/0`, `phone-ca/1`, … until the first 404, which also drops
    /// the CRLs of that index and above (a phone-number CA removed from
    /// the domain CA's config publishes none any more). Returns whether a
    /// fetch failed otherwise.
    async fn refresh_phone_cas(&self, prefix: &str) -> bool {
        for n in 0..MAX_PHONE_CAS {
            let url = format!("{prefix}{n}");
            match self.refresh_one(&url).await {
                Ok(()) => {}
                Err(CrlRefused::NotFound { .. }) => {
                    self.held()
                        .retain(|held, _| !is_phone_ca_at_or_above(held, prefix, n));
                    return false;
                }
                // The domain CA is down or answered garbage: keep what we
                // have of this and the higher indexes.
                Err(_) => return true,
            }
        }
        false
    }

    fn held(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Held>> {
        self.held.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches and checks the CRL at `url`; keeps it if it is good.
    async fn refresh_one(&self, url: &str) -> Result<(), CrlRefused> {
        let previous = self
            .held
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(url)
            .map(|h| h.crl.clone());
        let result = match self.fetch(url).await {
            Ok(der) => self.check(url, &der, previous.as_ref(), SystemTime::now()),
            Err(e) => Err(e),
        };
        match result {
            Ok((crl, checked)) => {
                self.counters.fetched.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(url, revoked = crl.revoked_count(), checked, "fetched a CRL");
                self.held().insert(
                    url.to_owned(),
                    Held {
                        crl,
                        checked,
                        fetched_at: SystemTime::now(),
                    },
                );
                Ok(())
            }
            Err(e @ CrlRefused::NotFound { .. }) if url_is_phone_ca(url) => Err(e),
            Err(e) => {
                let counter = match e {
                    CrlRefused::Bad { .. } => &self.counters.refused,
                    _ => &self.counters.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, kept = previous.is_some(), "CRL refresh failed; keeping the last good CRL");
                Err(e)
            }
        }
    }

    /// GETs at most [`MAX_CRL_LEN`] bytes from `url`.
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, CrlRefused> {
        let fail = |detail: String| CrlRefused::Fetch {
            url: url.to_owned(),
            detail,
        };
        let mut response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(CrlRefused::NotFound {
                url: url.to_owned(),
            });
        }
        if !response.status().is_success() {
            return Err(fail(format!("HTTP status {}", response.status())));
        }
        let too_long = || CrlRefused::Bad {
            url: url.to_owned(),
            reason: format!("it is longer than {MAX_CRL_LEN} bytes"),
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_CRL_LEN as u64)
        {
            return Err(too_long());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(format!("the answer broke off: {e}")))?
        {
            if body.len() + chunk.len() > MAX_CRL_LEN {
                return Err(too_long());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Parses `der` and checks it as a replacement of `previous` at `now`:
    /// a CRL, fresh, at most 24 hours long, not older than `previous`, and
    /// signed by the issuer it names if that issuer is known. Returns the
    /// CRL and whether its signature was checked.
    fn check(
        &self,
        url: &str,
        der: &[u8],
        previous: Option<&Crl>,
        now: SystemTime,
    ) -> Result<(Crl, bool), CrlRefused> {
        let bad = |reason: String| CrlRefused::Bad {
            url: url.to_owned(),
            reason,
        };
        let crl = Crl::from_der(der).map_err(|e| bad(e.to_string()))?;
        crl.check_fresh(now).map_err(|e| bad(e.to_string()))?;
        if let Some(previous) = previous
            && crl.this_update() < previous.this_update()
        {
            return Err(bad(
                "it is older than the CRL held (its thisUpdate is earlier)".into(),
            ));
        }
        let issuers = self.issuers.read().unwrap_or_else(|e| e.into_inner());
        let named: Vec<&Certificate> = issuers
            .iter()
            .filter(|c| c.subject_text() == crl.issuer_text())
            .collect();
        if named.is_empty() {
            return Ok((crl, false));
        }
        if named
            .iter()
            .any(|issuer| crl.check_signed_by(issuer).is_ok())
        {
            return Ok((crl, true));
        }
        Err(bad(format!(
            "its signature does not verify under the key of {}, the issuer it names",
            crl.issuer_text()
        )))
    }

    /// The CRLs held that are fresh at `now`, in URL order.
    pub fn fresh_crls(&self, now: SystemTime) -> Vec<Crl> {
        self.held
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|h| h.crl.next_update().is_some_and(|next| next > now))
            .map(|h| h.crl.clone())
            .take(MAX_BUNDLE_CRLS)
            .collect()
    }

    /// What `/.well-known/mimi/crls` serves at `now`: the bundle of fresh
    /// CRLs and how long it may be cached (seconds): until the earliest
    /// nextUpdate, and at most the refresh interval, so that a revocation
    /// reaches clients within about two intervals.
    pub fn bundle(&self, now: SystemTime) -> Result<(Vec<u8>, u64), ProviderError> {
        let crls = self.fresh_crls(now);
        let max_age = crls
            .iter()
            .filter_map(|c| c.next_update())
            .map(|next| next.duration_since(now).unwrap_or_default())
            .fold(self.refresh, Duration::min);
        let bundle = CrlBundle::new(crls.iter().map(|c| c.der().to_vec()).collect());
        let bytes = bundle.encode().map_err(|e| {
            ProviderError::Internal(format!("the CRLs held do not fit a CRL bundle: {e}"))
        })?;
        Ok((bytes, max_age.as_secs()))
    }

    /// When the next refresh is due after `now`: the refresh interval,
    /// sooner halfway to the earliest nextUpdate, sooner after a failure.
    fn next_wait(&self, now: SystemTime) -> Duration {
        let mut wait = self.refresh;
        if *self.last_failed.read().unwrap_or_else(|e| e.into_inner()) {
            wait = wait.min(RETRY_AFTER_FAILURE);
        }
        for held in self.held.read().unwrap_or_else(|e| e.into_inner()).values() {
            if let Some(next) = held.crl.next_update() {
                let left = next.duration_since(now).unwrap_or_default();
                wait = wait.min((left / 2).max(MIN_REFETCH));
            }
        }
        wait
    }

    /// Appends the relay's counters and gauges to a `/metrics` text.
    pub fn render_metrics(&self, out: &mut String, now: SystemTime) {
        let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                value.load(Ordering::Relaxed)
            );
        };
        counter(
            out,
            "mimi_crl_fetches_total",
            "CRL fetches that replaced the CRL held.",
            &self.counters.fetched,
        );
        counter(
            out,
            "mimi_crl_fetch_failures_total",
            "CRL fetches that failed (unreachable, error status); the last good CRL is kept.",
            &self.counters.failed,
        );
        counter(
            out,
            "mimi_crl_refused_total",
            "Fetched CRLs refused (not a CRL, stale, older, bad signature); the last good CRL is kept.",
            &self.counters.refused,
        );
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        let fresh = held
            .values()
            .filter(|h| h.crl.next_update().is_some_and(|n| n > now))
            .count();
        let _ = write!(
            out,
            "# HELP mimi_crls_fresh CRLs held that are fresh (served).\n# TYPE mimi_crls_fresh gauge\nmimi_crls_fresh {fresh}\n"
        );
        let oldest = held
            .values()
            .map(|h| {
                now.duration_since(h.fetched_at)
                    .unwrap_or_default()
                    .as_secs()
            })
            .max()
            .unwrap_or(0);
        let _ = write!(
            out,
            "# HELP mimi_crl_oldest_fetch_age_seconds Seconds since the least recently fetched CRL held was fetched.\n# TYPE mimi_crl_oldest_fetch_age_seconds gauge\nmimi_crl_oldest_fetch_age_seconds {oldest}\n"
        );
        let unchecked = held.values().filter(|h| !h.checked).count();
        let _ = write!(
            out,
            "# HELP mimi_crls_unchecked CRLs held whose issuer the provider does not know (relayed unchecked; clients check).\n# TYPE mimi_crls_unchecked gauge\nmimi_crls_unchecked {unchecked}\n"
        );
    }
}

/// `https://ca.a.example/acme/directory` → `https://ca.a.example`: where
/// a MIMI domain CA (mimi-acme) publishes its CRLs. `None` for a directory
/// URL of another shape.
fn domain_ca_base(directory_url: &str) -> Option<String> {
    directory_url
        .strip_suffix("/acme/directory")
        .map(str::to_owned)
}

fn url_is_phone_ca(url: &str) -> bool {
    url.contains("/acme/crl/phone-ca/")
}

fn is_phone_ca_at_or_above(url: &str, prefix: &str, n: usize) -> bool {
    url.strip_prefix(prefix)
        .and_then(|i| i.parse::<usize>().ok())
        .is_some_and(|i| i >= n)
}

/// Fresh at `now`, with a nextUpdate at most 24 hours after thisUpdate
/// (what mimi-credentials accepts).
/// Reads the PEM CA certificates of `[revocation] issuers`.
pub fn load_issuers(settings: &RevocationSettings) -> Result<Vec<Certificate>, StartError> {
    let mut issuers = Vec::new();
    for path in &settings.issuers {
        let file_error = |detail: String| StartError::File {
            what: "unusable [revocation] issuers file",
            path: path.clone(),
            detail,
        };
        let pem = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let certs = Certificate::from_pem_chain(&pem).map_err(|e| file_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(file_error("it holds no PEM certificate".into()));
        }
        issuers.extend(certs);
    }
    Ok(issuers)
}

/// The relay's background task: refreshes at start, then when due
/// ([`CrlRelay::next_wait`]), when woken, and when another process
/// recorded a revocation in storage; until stopped.
pub(crate) async fn run<S: Storage>(
    provider: Arc<Provider<S>>,
    mut stopped: watch::Receiver<bool>,
) {
    let relay = provider.crls.clone();
    let mut seen = provider.storage.latest_revocation_ms().await.ok().flatten();
    let mut poll = tokio::time::interval(REVOCATION_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        relay.refresh().await;
        let due = tokio::time::Instant::now() + relay.next_wait(SystemTime::now());
        loop {
            let polled = tokio::select! {
                () = tokio::time::sleep_until(due) => break,
                () = relay.wake.notified() => break,
                _ = poll.tick() => true,
                () = until_stopped(&mut stopped) => return,
            };
            if polled {
                match provider.storage.latest_revocation_ms().await {
                    Ok(latest) if latest > seen => {
                        seen = latest;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot look for new revocations"),
                }
            }
        }
    }
}

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// What [`revoke_device`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRevoked {
    /// The record kept.
    pub revoked: RevokedClient,
    /// The client removed.
    pub client: ClientRecord,
    /// Whether the domain CA had revoked the certificate already (a second
    /// run after a failure).
    pub already_revoked_at_ca: bool,
}

/// A CRLReason as `revoke-device --reason` names it (RFC 5280 §5.3.1).
pub fn parse_reason(name: &str) -> Result<RevocationReason, ProviderError> {
    Ok(match name {
        "unspecified" => RevocationReason::Unspecified,
        "keyCompromise" => RevocationReason::KeyCompromise,
        "affiliationChanged" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessationOfOperation" => RevocationReason::CessationOfOperation,
        _ => {
            return Err(ProviderError::Invalid(format!(
                "{name:?} is not a revocation reason: use unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation"
            )));
        }
    })
}

/// Revokes `device` (a `mimi://` device URI, or `user/device`, of this
/// provider's domain): its current certificate at the domain CA over ACME
/// (as the registrar), then in storage (the client, its queue's messages
/// and KeyPackages removed, the queue retired, the record kept), then a
/// CRL refresh. A device not registered here, or revoked already, is
/// refused and nothing changes. If the domain CA revoked the certificate
/// before (a run that failed after it), the rest is done.
pub async fn revoke_device<S: Storage>(
    provider: &Provider<S>,
    device: &str,
    reason: RevocationReason,
) -> Result<DeviceRevoked, ProviderError> {
    let registrar = provider.registrar.as_deref().ok_or_else(no_registrar)?;
    let done = revoke_with(
        provider.storage.as_ref(),
        registrar,
        &provider.settings.domain,
        device,
        reason,
    )
    .await?;
    provider.crls.refresh().await;
    Ok(done)
}

/// `mimi-server provider revoke-device`: [`revoke_device`] from another
/// process (the provider need not run). A running provider sees the
/// revocation in storage within [`REVOCATION_POLL`] and refreshes its
/// CRLs.
pub async fn revoke(
    settings: &Settings,
    device: &str,
    reason: RevocationReason,
) -> Result<DeviceRevoked, ProviderError> {
    let registrar = Registrar::load(settings)
        .map_err(|e| ProviderError::Invalid(e.to_string()))?
        .ok_or_else(no_registrar)?;
    match &settings.storage {
        StorageUrl::Sqlite(path) => {
            let storage = SqliteStorage::open(path).await?;
            let done = revoke_with(&storage, &registrar, &settings.domain, device, reason).await;
            storage.close().await;
            done
        }
        StorageUrl::Postgres(url) => {
            let storage = PostgresStorage::connect(url).await?;
            let done = revoke_with(&storage, &registrar, &settings.domain, device, reason).await;
            storage.close().await;
            done
        }
    }
}

fn no_registrar() -> ProviderError {
    ProviderError::NotImplemented(
        "revocation by the provider (no [enrollment] is configured: the provider revokes as its domain CA's registrar; ask the domain CA's operator)",
    )
}

async fn revoke_with<S: Storage>(
    storage: &S,
    registrar: &Registrar,
    domain: &Domain,
    device: &str,
    reason: RevocationReason,
) -> Result<DeviceRevoked, ProviderError> {
    let client_id = parse_device(domain, device)?;
    if let Some(revoked) = storage.client_revocation(&client_id).await? {
        return Err(ProviderError::Conflict(format!(
            "{client_id} was revoked already (at Unix time {} s)",
            revoked.revoked_at_ms / 1000
        )));
    }
    let Some(client) = storage.client(&client_id).await? else {
        return Err(ProviderError::NotFound(format!(
            "{client_id} is not registered with this provider; check the device URI"
        )));
    };
    let chain = Certificate::from_pem_chain(&client.certificate_chain).map_err(|e| {
        ProviderError::Internal(format!(
            "the stored chain of {client_id} does not parse: {e}"
        ))
    })?;
    let Some(leaf) = chain.first() else {
        return Err(ProviderError::Internal(format!(
            "the stored chain of {client_id} is empty"
        )));
    };
    let already_revoked_at_ca = registrar.revoke(leaf.der(), reason).await?;
    let revoked = RevokedClient {
        client_id: client_id.clone(),
        user_id: client.user_id.clone(),
        serial: leaf.serial().to_vec(),
        reason: reason.code(),
        revoked_at_ms: now_ms(),
    };
    storage.revoke_client(&revoked).await?;
    tracing::info!(client = %client_id, reason = reason.code(), "revoked a device at the domain CA");
    Ok(DeviceRevoked {
        revoked,
        client,
        already_revoked_at_ca,
    })
}

/// `mimi://<domain>/d/<user>/<device>` or `<user>/<device>` of our domain,
/// canonical.
fn parse_device(domain: &Domain, text: &str) -> Result<String, ProviderError> {
    let device = if text.contains("://") {
        match mimi_identifiers::parse(text).map(|p| p.identifier) {
            Ok(mimi_identifiers::Identifier::Device(device)) => device,
            _ => {
                return Err(ProviderError::Invalid(format!(
                    "{text:?} is not a mimi:// device URI; give mimi://{domain}/d/<user>/<device>"
                )));
            }
        }
    } else {
        let (user, device) = text.split_once('/').ok_or_else(|| {
            ProviderError::Invalid(format!(
                "{text:?} is not a device: give <user>/<device> or mimi://{domain}/d/<user>/<device>"
            ))
        })?;
        let user = mimi_identifiers::UserId::new(user, Some(domain.clone()))
            .map_err(|e| ProviderError::Invalid(format!("{user:?} is not a user name: {e}")))?;
        mimi_identifiers::DeviceId::new(&user, device)
            .map_err(|e| ProviderError::Invalid(format!("{device:?} is not a device name: {e}")))?
    };
    if device.domain() != Some(domain) || device.user().is_none() {
        return Err(ProviderError::Invalid(format!(
            "{text:?} is not a device of a user of {domain}: revoke only this provider's devices"
        )));
    }
    clients::device_uri(&device)
}

/// A revoked client's requests: refused with what happened.
pub(crate) async fn refuse_if_revoked<S: Storage>(
    provider: &Provider<S>,
    client_id: &str,
) -> Result<(), ProviderError> {
    match provider.storage.client_revocation(client_id).await? {
        None => Ok(()),
        Some(revoked) => Err(ProviderError::Unauthenticated(format!(
            "{client_id} was revoked by this provider (at Unix time {} s); it can no longer use this provider: enroll a new device from a registered device of the user, or ask the operator for an invite",
            revoked.revoked_at_ms / 1000
        ))),
    }
}

#[cfg(test)]
mod tests;
