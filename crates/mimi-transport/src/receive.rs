//! Receiving a signed event (draft-kohbrok-mimi-transport §2.2, §3): the only way
//! to get an [`AuthenticatedPeer`].

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use mimi_identifiers::Domain;
use mimi_storage::{EventRecord, ReplayStore};
use mimi_wire::{
    DEFAULT_FRESHNESS_WINDOW_MS, DEFAULT_MAX_MESSAGE_LEN, EventEnvelope, EventKind, MESSAGE_ID_LEN,
    ReplayKey, ServerVerificationKey, VerifiedS2SMessage, WireError, check_incoming,
};

use crate::cache::KeyCache;
use crate::error::TransportError;
use crate::ratelimit::{Limit, Spend, TokenBuckets};

/// The Content-Type of every S2S request and of `/signature_key` (§5).
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What the receiving side checks against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our provider domain: `recipient_domain` must be exactly this.
    pub me: Domain,
    /// The largest request body read and decoded.
    pub max_message_len: usize,
    /// Envelopes created more than this before or after our clock are refused;
    /// replay records are kept this long after an event's creation.
    pub skew_ms: u64,
}

impl Config {
    /// The defaults of `mimi_wire`: 1 MiB messages, a 5-minute window.
    pub fn new(me: Domain) -> Config {
        Config {
            me,
            max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            skew_ms: DEFAULT_FRESHNESS_WINDOW_MS,
        }
    }
}

/// The receiver's rate limits (draft-kohbrok-mimi-transport §6), counted per
/// authenticated sender domain: one budget for all its requests, and one per
/// endpoint (event type), so that a flood of one event type cannot use up the
/// whole budget of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// All requests of one sender domain.
    pub per_sender: Limit,
    /// Requests of one sender domain to one endpoint.
    pub per_sender_and_endpoint: Limit,
    /// Most keys (senders plus sender-endpoint pairs) remembered at once.
    pub max_tracked_keys: usize,
}

impl Default for RateLimits {
    /// 1000 requests at once per sender, then one more every millisecond
    /// (1000/s sustained); 200 at once per sender and endpoint, then one every
    /// 5 ms (200/s); 100,000 keys remembered.
    fn default() -> Self {
        RateLimits {
            per_sender: Limit::new(1000, Duration::from_millis(1)),
            per_sender_and_endpoint: Limit::new(200, Duration::from_millis(5)),
            max_tracked_keys: 100_000,
        }
    }
}

/// The receiver's [`RateLimits`] and the token buckets that count against
/// them; share one between all S2S endpoints.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: TokenBuckets,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> RateLimiter {
        RateLimiter {
            buckets: TokenBuckets::new(limits.max_tracked_keys),
            limits,
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    /// Spends one request of `sender` to `endpoint` at `now_ms` (Unix ms), or
    /// refuses it with [`TransportError::RateLimited`] and spends nothing.
    fn check(
        &self,
        sender: &Domain,
        endpoint: EventKind,
        now_ms: u64,
    ) -> Result<(), TransportError> {
        let spends = [
            Spend {
                key: format!("sender {sender}"),
                limit: self.limits.per_sender,
                cost: 1,
            },
            Spend {
                key: format!("endpoint {sender} {endpoint}"),
                limit: self.limits.per_sender_and_endpoint,
                cost: 1,
            },
        ];
        self.buckets
            .try_spend_at(&spends, Duration::from_millis(now_ms))
            .map_err(|denied| TransportError::RateLimited {
                sender: sender.clone(),
                endpoint: endpoint.to_string(),
                retry_after_secs: denied.retry_after_secs(),
            })
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(RateLimits::default())
    }
}

/// A sender domain whose signature verified under a key it serves. Only
/// [`receive`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedPeer {
    domain: Domain,
}

impl AuthenticatedPeer {
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// A value that arrived from an [`AuthenticatedPeer`].
#[derive(Debug)]
pub struct Authenticated<T> {
    peer: AuthenticatedPeer,
    value: T,
}

impl<T> Authenticated<T> {
    pub fn peer(&self) -> &AuthenticatedPeer {
        &self.peer
    }

    pub fn value(&self) -> &T {
        &self.value
    }

    pub fn into_parts(self) -> (AuthenticatedPeer, T) {
        (self.peer, self.value)
    }
}

/// Whether a Content-Type value names `application/octet-stream` (parameters
/// allowed, case-insensitive, as RFC 9110 §8.3.1 has it).
fn is_octet_stream(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(OCTET_STREAM))
}

/// Checks the Content-Type and reads at most `max_len` bytes of `body`; more is
/// refused without reading it all (a `Content-Length` above the limit is refused
/// before reading anything).
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max_len: usize,
) -> Result<Bytes, TransportError> {
    let content_type = headers.get(CONTENT_TYPE);
    if !content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_octet_stream)
    {
        let found = match content_type {
            None => "missing".to_string(),
            Some(v) => format!(
                "{:?}",
                String::from_utf8_lossy(&v.as_bytes()[..v.len().min(64)])
            ),
        };
        return Err(TransportError::WrongContentType { found });
    }
    let too_large = TransportError::BodyTooLarge { max: max_len };
    if let Some(len) = headers.get(CONTENT_LENGTH)
        && let Some(len) = len.to_str().ok().and_then(|s| s.parse::<u64>().ok())
        && len > max_len as u64
    {
        return Err(too_large);
    }
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| TransportError::BodyUnreadable {
            detail: e.to_string(),
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max_len {
                return Err(too_large);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// Errors that mean "not this key": another of the sender's keys may verify.
fn is_key_failure(e: &WireError) -> bool {
    matches!(
        e,
        WireError::BadSignature { .. }
            | WireError::KeyExpired { .. }
            | WireError::KeyNotYetValid { .. }
            | WireError::InvalidPublicKey { .. }
            | WireError::UnsupportedSignatureScheme { .. }
    )
}

/// What the checks produce: the verified message and its envelope.
pub type Checked = (VerifiedS2SMessage, EventEnvelope);

/// Runs `check_incoming` under each key in turn. `Err(Ok(e))` is a failure no
/// other key can fix (returned as is); `Err(Err(e))` means no key verified.
fn try_keys(
    bytes: &[u8],
    config: &Config,
    sender: &Domain,
    keys: &[ServerVerificationKey],
    now_ms: u64,
) -> Result<Checked, Result<WireError, WireError>> {
    let mut failure: Option<WireError> = None;
    for key in keys {
        match check_incoming(
            bytes,
            &config.me,
            |_| Some(key.clone()),
            now_ms,
            config.skew_ms,
            config.max_message_len,
        ) {
            Ok(checked) => return Ok(checked),
            Err(e) if is_key_failure(&e) => {
                // Report a bad signature over an expired key: it is the more
                // likely story when one of several keys was the signer's.
                if !matches!(failure, Some(WireError::BadSignature { .. })) {
                    failure = Some(e);
                }
            }
            Err(e) => return Err(Ok(e)),
        }
    }
    Err(Err(failure.unwrap_or_else(|| {
        WireError::UnknownSenderKey {
            sender: sender.clone(),
        }
    })))
}

/// What the replay table must hold for an accepted event: its
/// [`ReplayKey`] (the authenticated sender and the envelope's message ID)
/// and how long to keep it: the envelope's creation time plus the freshness
/// window, after which the freshness check refuses the event anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    key: ReplayKey,
    expires_at_ms: u64,
}

impl ReplayRecord {
    /// A record for an event that did not come over the network: a hub's
    /// delivery to its own provider's queues, de-duplicated like a peer's.
    pub fn local(sender: Domain, message_id: [u8; MESSAGE_ID_LEN], expires_at_ms: u64) -> Self {
        ReplayRecord {
            key: ReplayKey::new(sender, message_id),
            expires_at_ms,
        }
    }

    /// The same record kept at least until `until_ms`: for events a sender
    /// may retry with the same message ID long after the freshness window,
    /// as a hub's outbox does for a provider that was down (each retry is
    /// freshly signed, the message ID stays).
    pub fn kept_until(mut self, until_ms: u64) -> Self {
        self.expires_at_ms = self.expires_at_ms.max(until_ms);
        self
    }

    pub fn key(&self) -> &ReplayKey {
        &self.key
    }

    pub fn sender(&self) -> &Domain {
        self.key.sender()
    }

    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        self.key.message_id()
    }

    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// The record to store with the event's effect, e.g. through
    /// `mimi_storage::QueueStore::deliver`.
    pub fn event_record(&self) -> EventRecord<'_> {
        EventRecord {
            sender: self.sender().as_str(),
            message_id: *self.message_id(),
            expires_at_ms: self.expires_at_ms,
        }
    }

    /// The error a replay of this event is answered with (409), for a
    /// caller whose transaction found the event recorded already.
    pub fn replay_error(&self) -> TransportError {
        TransportError::Replay {
            sender: self.sender().clone(),
            message_id: hex(self.message_id()),
        }
    }

    /// Records the event in `replay` on its own, or refuses it as a
    /// [`TransportError::Replay`] if it was recorded before.
    pub async fn remember(&self, replay: &impl ReplayStore) -> Result<(), TransportError> {
        if replay
            .remember(
                self.sender().as_str(),
                *self.message_id(),
                self.expires_at_ms,
            )
            .await?
        {
            Ok(())
        } else {
            Err(self.replay_error())
        }
    }
}

/// An event that passed every check of [`receive`] but is not recorded in
/// the replay table yet: the caller **must** record [`Unrecorded::replay_record`]
/// in the same transaction as the event's effect (for `/deliver_message`,
/// `mimi_storage::QueueStore::deliver`), and refuse the event as a replay
/// if it was recorded before ([`ReplayRecord::replay_error`]). Recording it
/// separately, before or after the effect, would lose the event on a crash
/// in between, or apply it twice.
#[derive(Debug)]
#[must_use = "record the replay key in the transaction of the event's effect"]
pub struct Unrecorded {
    authenticated: Authenticated<Checked>,
    replay: ReplayRecord,
}

impl Unrecorded {
    pub fn peer(&self) -> &AuthenticatedPeer {
        self.authenticated.peer()
    }

    pub fn message(&self) -> &VerifiedS2SMessage {
        &self.authenticated.value().0
    }

    pub fn envelope(&self) -> &EventEnvelope {
        &self.authenticated.value().1
    }

    pub fn replay_record(&self) -> &ReplayRecord {
        &self.replay
    }

    /// Shorthand for `replay_record().expires_at_ms()`.
    pub fn expires_at_ms(&self) -> u64 {
        self.replay.expires_at_ms
    }

    pub fn into_parts(self) -> (Authenticated<Checked>, ReplayRecord) {
        (self.authenticated, self.replay)
    }
}

/// Checks a request body posted to the endpoint of `expected` and records it as
/// seen; returns the message, its envelope and the authenticated sender.
///
/// This is [`receive_unrecorded`] followed by [`ReplayRecord::remember`]: the
/// replay table comes last, so that a refused message leaves no row. A
/// replay is refused with [`TransportError::Replay`]. Use it for events whose
/// effect needs no transaction of its own; `/deliver_message` records the
/// event with its enqueues instead ([`receive_unrecorded`]).
pub async fn receive(
    bytes: &[u8],
    expected: EventKind,
    config: &Config,
    limiter: &RateLimiter,
    keys: &KeyCache,
    replay: &impl ReplayStore,
    now_ms: u64,
) -> Result<Authenticated<Checked>, TransportError> {
    let unrecorded = receive_unrecorded(bytes, expected, config, limiter, keys, now_ms).await?;
    unrecorded.replay.remember(replay).await?;
    Ok(unrecorded.authenticated)
}

/// Every check of [`receive`] except the replay table; returns the event and
/// the [`ReplayRecord`] that the caller MUST record in the same transaction as
/// the event's effect (see [`Unrecorded`]).
///
/// In order: [`check_incoming`]'s key-less checks (decoding, version, recipient,
/// sender domain), so that nothing we would refuse anyway makes us fetch keys;
/// the sender's keys from `keys` (fetched if none is cached; concurrent first
/// contacts share one fetch); the signature under each key, and once more
/// after one refetch if none verifies (rate limited per domain by the cache);
/// envelope and freshness; the sender's rate limits in `limiter` for the
/// endpoint of `expected` (only once the signature verified, so that no one
/// spends another domain's budget; refused with
/// [`TransportError::RateLimited`]); and the event type. `now_ms` is Unix
/// milliseconds.
pub async fn receive_unrecorded(
    bytes: &[u8],
    expected: EventKind,
    config: &Config,
    limiter: &RateLimiter,
    keys: &KeyCache,
    now_ms: u64,
) -> Result<Unrecorded, TransportError> {
    let sender = match check_incoming(
        bytes,
        &config.me,
        |_| None,
        now_ms,
        config.skew_ms,
        config.max_message_len,
    ) {
        Err(WireError::UnknownSenderKey { sender }) => sender,
        Err(e) => return Err(e.into()),
        // Not reachable with a lookup that knows no key; verified below anyway.
        Ok((message, _)) => message.sender().clone(),
    };
    let (cached, seen) = keys.keys_seen(&sender, now_ms).await?;
    let (message, envelope) = match try_keys(bytes, config, &sender, &cached, now_ms) {
        Ok(checked) => checked,
        Err(Ok(e)) => return Err(e.into()),
        Err(Err(key_failure)) => {
            // The sender may have rotated to a key we have not seen yet (or
            // a concurrent request already refetched it).
            match keys.refresh_since(&sender, now_ms, seen).await? {
                None => return Err(key_failure.into()),
                Some((fresh, _)) => match try_keys(bytes, config, &sender, &fresh, now_ms) {
                    Ok(checked) => checked,
                    Err(Ok(e) | Err(e)) => return Err(e.into()),
                },
            }
        }
    };
    limiter.check(&sender, expected, now_ms)?;
    let kind = message.event_kind()?;
    if kind != expected {
        return Err(TransportError::WrongEndpoint {
            found: kind.to_string(),
            expected: expected.to_string(),
        });
    }
    let replay = ReplayRecord {
        key: ReplayKey::of(&message, &envelope),
        expires_at_ms: envelope.created_at_ms().saturating_add(config.skew_ms),
    };
    Ok(Unrecorded {
        authenticated: Authenticated {
            peer: AuthenticatedPeer { domain: sender },
            value: (message, envelope),
        },
        replay,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
