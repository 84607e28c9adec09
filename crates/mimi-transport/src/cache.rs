//! DS discovery and the cache of peers' signature keys.
//!
//! Everything a peer can make us fetch is rate limited per domain and bounded in
//! size: a message naming a sender is enough to trigger a fetch, so without the
//! limits a peer could make us fetch in a loop or fill our memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mimi_identifiers::Domain;
use mimi_wire::ServerVerificationKey;

use crate::error::TransportError;
use crate::keys::{DS_DOMAIN_PATH, MAX_KEY_LIST_LEN, SIGNATURE_KEY_PATH, SignatureKeys};

/// A DS domain answer is one domain name (at most 253 bytes) and a line end.
const MAX_DS_DOMAIN_LEN: usize = 512;

/// Tuning of [`Discovery`] and [`KeyCache`]; all times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a discovered DS domain is reused before asking again.
    pub discovery_ttl_ms: u64,
    /// At most one key fetch per domain per this interval, whatever peers send.
    pub min_refetch_interval_ms: u64,
    /// At most this many domains are remembered; the least recently fetched one
    /// is forgotten first.
    pub max_domains: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            discovery_ttl_ms: 60 * 60 * 1000,
            min_refetch_interval_ms: 30 * 1000,
            max_domains: 10_000,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent under a panic (each update is one insert), so a
    // poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the entry with the smallest `age` key when `map` is full, so that
/// inserting one more stays within `max`.
fn make_room<V>(map: &mut HashMap<Domain, V>, max: usize, age: impl Fn(&V) -> u64) {
    while map.len() >= max.max(1) {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| age(v))
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        map.remove(&oldest);
    }
}

/// GETs `url` and returns at most `max` bytes of a 200 answer, refusing more.
async fn get_bounded(client: &reqwest::Client, url: &str, max: usize) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url} failed: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("GET {url} answered {}", response.status()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(format!("GET {url} answered more than {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading GET {url} failed: {e}"))?
    {
        if body.len() + chunk.len() > max {
            return Err(format!("GET {url} answered more than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Finds a provider's DS domain (draft-kohbrok-mimi-transport §4) and caches it.
#[derive(Debug)]
pub struct Discovery {
    client: reqwest::Client,
    config: CacheConfig,
    /// provider domain → (DS domain, when it was discovered).
    entries: Mutex<HashMap<Domain, (Domain, u64)>>,
}

impl Discovery {
    /// `client` should come from [`crate::https::client`] (TLS 1.3, TLS roots only).
    pub fn new(client: reqwest::Client, config: CacheConfig) -> Discovery {
        Discovery {
            client,
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The DS domain of `provider`: cached, or fetched from
    /// `https://<provider>/.well-known/mimi/ds-domain`.
    pub async fn ds_domain(
        &self,
        provider: &Domain,
        now_ms: u64,
    ) -> Result<Domain, TransportError> {
        if let Some((ds, at)) = lock(&self.entries).get(provider)
            && now_ms.abs_diff(*at) < self.config.discovery_ttl_ms
        {
            return Ok(ds.clone());
        }
        let fail = |detail: String| TransportError::DiscoveryFailed {
            domain: provider.clone(),
            detail,
        };
        let url = format!("https://{}{DS_DOMAIN_PATH}", provider.as_str());
        let body = get_bounded(&self.client, &url, MAX_DS_DOMAIN_LEN)
            .await
            .map_err(fail)?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| fail("the answer is not UTF-8 text".into()))?
            .trim_end_matches(['\r', '\n']);
        let ds =
            Domain::parse(text).map_err(|e| fail(format!("the answer is not a domain: {e}")))?;
        let mut entries = lock(&self.entries);
        if !entries.contains_key(provider) {
            make_room(&mut entries, self.config.max_domains, |(_, at)| *at);
        }
        entries.insert(provider.clone(), (ds.clone(), now_ms));
        Ok(ds)
    }
}

#[derive(Debug)]
struct KeyEntry {
    keys: Vec<ServerVerificationKey>,
    /// When we last tried to fetch (successfully or not): the rate limit.
    last_attempt_ms: u64,
    last_error: Option<String>,
}

/// Peers' signature keys, fetched over HTTPS from `/signature_key` on their DS
/// domain, each kept until its `not_after`.
#[derive(Debug)]
pub struct KeyCache {
    client: reqwest::Client,
    discovery: Arc<Discovery>,
    config: CacheConfig,
    entries: Mutex<HashMap<Domain, KeyEntry>>,
}

impl KeyCache {
    /// `client` should come from [`crate::https::client`]; `discovery` may be
    /// shared with the sending side.
    pub fn new(
        client: reqwest::Client,
        discovery: Arc<Discovery>,
        config: CacheConfig,
    ) -> KeyCache {
        KeyCache {
            client,
            discovery,
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached keys of `domain` that have not expired at `now_ms` (keys not yet
    /// valid are kept: they are the next key of a rotation).
    pub fn cached(&self, domain: &Domain, now_ms: u64) -> Vec<ServerVerificationKey> {
        let now_s = now_ms / 1000;
        lock(&self.entries)
            .get(domain)
            .map(|e| {
                e.keys
                    .iter()
                    .filter(|k| now_s <= k.not_after())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The keys of `domain`: the cached ones, or, if none is cached, fetched
    /// (unless a fetch for `domain` was tried within the refetch interval).
    pub async fn keys(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<Vec<ServerVerificationKey>, TransportError> {
        let cached = self.cached(domain, now_ms);
        if !cached.is_empty() {
            return Ok(cached);
        }
        match self.refresh(domain, now_ms).await? {
            Some(keys) => Ok(keys),
            None => Err(TransportError::KeysUnavailable {
                domain: domain.clone(),
                detail: lock(&self.entries)
                    .get(domain)
                    .and_then(|e| e.last_error.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "none is valid now, and they were fetched less than {} s ago \
                             (or a fetch is under way)",
                            self.config.min_refetch_interval_ms / 1000
                        )
                    }),
            }),
        }
    }

    /// Fetches `domain`'s keys again and replaces the cached ones (a key the
    /// peer no longer serves is forgotten). Returns `Ok(None)` without fetching
    /// if a fetch for `domain` was tried within the refetch interval.
    pub async fn refresh(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<Option<Vec<ServerVerificationKey>>, TransportError> {
        {
            let mut entries = lock(&self.entries);
            if let Some(entry) = entries.get_mut(domain) {
                if entry.last_attempt_ms.abs_diff(now_ms) < self.config.min_refetch_interval_ms {
                    return Ok(None);
                }
                entry.last_attempt_ms = now_ms;
            } else {
                make_room(&mut entries, self.config.max_domains, |e| e.last_attempt_ms);
                entries.insert(
                    domain.clone(),
                    KeyEntry {
                        keys: Vec::new(),
                        last_attempt_ms: now_ms,
                        last_error: None,
                    },
                );
            }
        }
        let fetched = self.fetch(domain, now_ms).await;
        let mut entries = lock(&self.entries);
        // The entry may have been evicted meanwhile; the answer is used anyway.
        let entry = entries.get_mut(domain);
        match fetched {
            Ok(keys) => {
                let now_s = now_ms / 1000;
                let keys: Vec<_> = keys
                    .into_iter()
                    .filter(|k| now_s <= k.not_after())
                    .collect();
                if let Some(entry) = entry {
                    entry.keys = keys.clone();
                    entry.last_error = None;
                }
                if keys.is_empty() {
                    return Err(TransportError::KeysUnavailable {
                        domain: domain.clone(),
                        detail: "it serves no key valid now".into(),
                    });
                }
                Ok(Some(keys))
            }
            Err(detail) => {
                if let Some(entry) = entry {
                    entry.last_error = Some(detail.clone());
                }
                Err(TransportError::KeysUnavailable {
                    domain: domain.clone(),
                    detail,
                })
            }
        }
    }

    async fn fetch(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<Vec<ServerVerificationKey>, String> {
        let ds = self
            .discovery
            .ds_domain(domain, now_ms)
            .await
            .map_err(|e| match e {
                TransportError::DiscoveryFailed { detail, .. } => format!("discovery: {detail}"),
                other => other.to_string(),
            })?;
        let url = format!("https://{}{SIGNATURE_KEY_PATH}", ds.as_str());
        let body = get_bounded(&self.client, &url, MAX_KEY_LIST_LEN).await?;
        Ok(SignatureKeys::decode(&body)
            .map_err(|e| format!("{url}: {e}"))?
            .into_keys())
    }
}
