//! DS discovery and the cache of peers' signature keys.
//!
//! Everything a peer can make us fetch is rate limited per domain and bounded in
//! size: a message naming a sender is enough to trigger a fetch, so without the
//! limits a peer could make us fetch in a loop or fill our memory. Concurrent
//! requests that need one domain's keys share one fetch: the first to come
//! fetches, the others wait for it and take its outcome (a burst of first
//! contacts from a new peer costs one fetch, and none of them fails for
//! arriving second).

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
    /// `None` before the first attempt.
    last_attempt_ms: Option<u64>,
    /// When the entry was made or last fetched: the least recent is evicted
    /// first.
    touched_ms: u64,
    last_error: Option<String>,
    /// Held for the whole of a fetch, so that concurrent callers wait for it.
    fetching: Arc<tokio::sync::Mutex<()>>,
    /// How many fetches completed: a caller that waited sees that one did.
    fetches: u64,
}

impl KeyEntry {
    fn new(now_ms: u64) -> KeyEntry {
        KeyEntry {
            keys: Vec::new(),
            last_attempt_ms: None,
            touched_ms: now_ms,
            last_error: None,
            fetching: Arc::new(tokio::sync::Mutex::new(())),
            fetches: 0,
        }
    }

    fn valid_keys(&self, now_ms: u64) -> Vec<ServerVerificationKey> {
        valid(&self.keys, now_ms)
    }
}

/// The keys that have not expired at `now_ms` (keys not yet valid are kept:
/// they are the next key of a rotation).
fn valid(keys: &[ServerVerificationKey], now_ms: u64) -> Vec<ServerVerificationKey> {
    let now_s = now_ms / 1000;
    keys.iter()
        .filter(|k| now_s <= k.not_after())
        .cloned()
        .collect()
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
        lock(&self.entries)
            .get(domain)
            .map(|e| e.valid_keys(now_ms))
            .unwrap_or_default()
    }

    /// The keys of `domain`: the cached ones, or, if none is cached, fetched
    /// (unless a fetch for `domain` was tried within the refetch interval). A
    /// fetch already under way for `domain` is waited for, not repeated.
    pub async fn keys(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<Vec<ServerVerificationKey>, TransportError> {
        Ok(self.keys_seen(domain, now_ms).await?.0)
    }

    /// Fetches `domain`'s keys again and replaces the cached ones (a key the
    /// peer no longer serves is forgotten). If a fetch for `domain` is under
    /// way, waits for it and returns its outcome instead of fetching again.
    /// Returns `Ok(None)` without fetching if a fetch for `domain` was tried
    /// within the refetch interval.
    pub async fn refresh(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<Option<Vec<ServerVerificationKey>>, TransportError> {
        let seen = self.cached_seen(domain, now_ms).1;
        Ok(self
            .refresh_since(domain, now_ms, seen)
            .await?
            .map(|(keys, _)| keys))
    }

    /// [`KeyCache::keys`], with the number of completed fetches its answer
    /// reflects (for [`KeyCache::refresh_since`]).
    pub(crate) async fn keys_seen(
        &self,
        domain: &Domain,
        now_ms: u64,
    ) -> Result<(Vec<ServerVerificationKey>, u64), TransportError> {
        let (cached, seen) = self.cached_seen(domain, now_ms);
        if !cached.is_empty() {
            return Ok((cached, seen));
        }
        match self.refresh_since(domain, now_ms, seen).await? {
            Some(fetched) => Ok(fetched),
            None => Err(TransportError::KeysUnavailable {
                domain: domain.clone(),
                detail: lock(&self.entries)
                    .get(domain)
                    .and_then(|e| e.last_error.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "none is valid now, and they were fetched less than {} s ago",
                            self.config.min_refetch_interval_ms / 1000
                        )
                    }),
            }),
        }
    }

    /// [`KeyCache::refresh`] for a caller whose keys reflect `seen` completed
    /// fetches (from [`KeyCache::keys_seen`]): if a fetch completed since,
    /// even one that ended before this call, its outcome is the answer, so
    /// that a caller whose keys went stale during a concurrent refetch is not
    /// refused for the refetch interval.
    pub(crate) async fn refresh_since(
        &self,
        domain: &Domain,
        now_ms: u64,
        seen: u64,
    ) -> Result<Option<(Vec<ServerVerificationKey>, u64)>, TransportError> {
        let fetching = self.fetch_lock(domain, now_ms);
        let _fetching = fetching.lock().await;
        if let Some(outcome) = self.outcome_since(domain, seen, now_ms) {
            return outcome.map(Some);
        }
        if !self.start_attempt(domain, now_ms) {
            return Ok(None);
        }
        let fetched = self.fetch(domain, now_ms).await;
        self.finish_attempt(domain, now_ms, fetched).map(Some)
    }

    /// The cached keys valid now and how many fetches of `domain` completed.
    fn cached_seen(&self, domain: &Domain, now_ms: u64) -> (Vec<ServerVerificationKey>, u64) {
        lock(&self.entries)
            .get(domain)
            .map(|e| (e.valid_keys(now_ms), e.fetches))
            .unwrap_or_default()
    }

    /// The lock that `domain`'s fetches hold (making the entry if there is
    /// none).
    fn fetch_lock(&self, domain: &Domain, now_ms: u64) -> Arc<tokio::sync::Mutex<()>> {
        let mut entries = lock(&self.entries);
        self.entry(&mut entries, domain, now_ms).fetching.clone()
    }

    /// `domain`'s entry, made (within the bound on domains) if missing.
    fn entry<'a>(
        &self,
        entries: &'a mut HashMap<Domain, KeyEntry>,
        domain: &Domain,
        now_ms: u64,
    ) -> &'a mut KeyEntry {
        if !entries.contains_key(domain) {
            make_room(entries, self.config.max_domains, |e| e.touched_ms);
        }
        entries
            .entry(domain.clone())
            .or_insert_with(|| KeyEntry::new(now_ms))
    }

    /// The outcome of the latest fetch, if one completed after the caller saw
    /// `seen` completed fetches.
    fn outcome_since(
        &self,
        domain: &Domain,
        seen: u64,
        now_ms: u64,
    ) -> Option<Result<(Vec<ServerVerificationKey>, u64), TransportError>> {
        let entries = lock(&self.entries);
        let entry = entries.get(domain).filter(|e| e.fetches != seen)?;
        Some(match &entry.last_error {
            Some(detail) => Err(TransportError::KeysUnavailable {
                domain: domain.clone(),
                detail: detail.clone(),
            }),
            None => Ok((entry.valid_keys(now_ms), entry.fetches)),
        })
    }

    /// Records an attempt to fetch at `now_ms`, unless one was made within the
    /// refetch interval (then returns `false`).
    fn start_attempt(&self, domain: &Domain, now_ms: u64) -> bool {
        let mut entries = lock(&self.entries);
        let entry = self.entry(&mut entries, domain, now_ms);
        if entry
            .last_attempt_ms
            .is_some_and(|at| at.abs_diff(now_ms) < self.config.min_refetch_interval_ms)
        {
            return false;
        }
        entry.last_attempt_ms = Some(now_ms);
        entry.touched_ms = now_ms;
        true
    }

    /// Stores the outcome of a fetch and returns the keys valid now, with the
    /// number of completed fetches.
    fn finish_attempt(
        &self,
        domain: &Domain,
        now_ms: u64,
        fetched: Result<Vec<ServerVerificationKey>, String>,
    ) -> Result<(Vec<ServerVerificationKey>, u64), TransportError> {
        let fetched = fetched.map(|keys| valid(&keys, now_ms));
        let outcome = match &fetched {
            Ok(keys) if keys.is_empty() => Err("it serves no key valid now".to_string()),
            Ok(keys) => Ok(keys.clone()),
            Err(detail) => Err(detail.clone()),
        };
        // The entry may have been evicted meanwhile; the answer is used anyway.
        let mut fetches = 0;
        if let Some(entry) = lock(&self.entries).get_mut(domain) {
            entry.fetches += 1;
            fetches = entry.fetches;
            entry.last_error = outcome.as_ref().err().cloned();
            // What the peer serves replaces what we had (a key it no longer
            // serves is forgotten); a failed fetch forgets nothing: the peer
            // may be unreachable for a moment, and whoever made us refetch
            // (with a bad signature) must not be able to wipe its keys.
            if let Ok(keys) = fetched {
                entry.keys = keys;
            }
        }
        outcome
            .map(|keys| (keys, fetches))
            .map_err(|detail| TransportError::KeysUnavailable {
                domain: domain.clone(),
                detail,
            })
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
