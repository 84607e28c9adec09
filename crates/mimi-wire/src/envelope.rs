//! Replay defence without changing `S2SMessage`: every event payload we send is an
//! `EventEnvelope` carrying a random message ID and its creation time, both covered
//! by the S2SMessage signature.
//!
//! The draft is silent on replays (docs/draft-divergences.md). A receiver refuses an
//! envelope outside the freshness window ([`check_freshness`]) and remembers the
//! [`ReplayKey`]s of the envelopes it accepted for as long as they would still be
//! fresh; the window bounds that table. The table itself belongs to the storage
//! layer.

use mimi_identifiers::Domain;
use tls_codec::{Serialize, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::error::WireError;
use crate::framing::decode_exact;
use crate::signature::VerifiedS2SMessage;

/// Length of a message ID: 128 random bits, so that IDs never collide by chance.
pub const MESSAGE_ID_LEN: usize = 16;

/// The freshness window we use unless configured otherwise: 5 minutes each way,
/// which absorbs ordinary clock skew and retries while keeping the replay table
/// to 10 minutes of traffic.
pub const DEFAULT_FRESHNESS_WINDOW_MS: u64 = 5 * 60 * 1000;

/// ```text
/// struct {
///     opaque message_id[16];
///     uint64 created_at_ms;   // Unix milliseconds
///     opaque body<V>;
/// } EventEnvelope;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct EventEnvelope {
    message_id: [u8; MESSAGE_ID_LEN],
    created_at_ms: u64,
    body: VLBytes,
}

impl EventEnvelope {
    const NAME: &'static str = "EventEnvelope";

    /// An envelope around `body` with a fresh random message ID, created at `now_ms`
    /// (Unix milliseconds).
    pub fn new(body: Vec<u8>, now_ms: u64) -> Result<EventEnvelope, WireError> {
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        aws_lc_rs::rand::fill(&mut message_id).map_err(|_| WireError::Random)?;
        Ok(EventEnvelope::with_id(message_id, body, now_ms))
    }

    /// An envelope with a given message ID: for a retry of the same event (which
    /// must keep its ID, so that a receiver that got the first copy drops the second),
    /// and for test vectors.
    pub fn with_id(
        message_id: [u8; MESSAGE_ID_LEN],
        body: Vec<u8>,
        created_at_ms: u64,
    ) -> EventEnvelope {
        EventEnvelope {
            message_id,
            created_at_ms,
            body: VLBytes::new(body),
        }
    }

    /// Decodes exactly one envelope from at most `max_len` bytes. Never panics.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<EventEnvelope, WireError> {
        decode_exact(bytes, max_len, Self::NAME)
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        self.tls_serialize_detached()
            .map_err(|e| WireError::encoding(Self::NAME, e))
    }

    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// Creation time, Unix milliseconds, as the sender claims it.
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    /// The event's own payload (e.g. an MLS message), opaque here.
    pub fn body(&self) -> &[u8] {
        self.body.as_slice()
    }

    pub fn into_body(self) -> Vec<u8> {
        self.body.into()
    }
}

/// Refuses a creation time more than `skew_ms` before `now_ms`
/// ([`WireError::StaleEvent`]) or more than `skew_ms` after it
/// ([`WireError::FutureEvent`]); the bounds themselves are accepted.
pub fn check_freshness(created_at_ms: u64, now_ms: u64, skew_ms: u64) -> Result<(), WireError> {
    if now_ms.saturating_sub(created_at_ms) > skew_ms {
        return Err(WireError::StaleEvent {
            created_at_ms,
            now_ms,
            skew_ms,
        });
    }
    if created_at_ms.saturating_sub(now_ms) > skew_ms {
        return Err(WireError::FutureEvent {
            created_at_ms,
            now_ms,
            skew_ms,
        });
    }
    Ok(())
}

/// What a receiver de-duplicates on: the authenticated sender and the message ID it
/// chose. IDs are only unique per sender, so the sender is part of the key (one
/// provider cannot block another's messages by reusing its IDs).
///
/// Keep each key until `created_at_ms + skew_ms` has passed; after that
/// [`check_freshness`] refuses the event anyway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey {
    sender: Domain,
    message_id: [u8; MESSAGE_ID_LEN],
}

impl ReplayKey {
    pub fn new(sender: Domain, message_id: [u8; MESSAGE_ID_LEN]) -> ReplayKey {
        ReplayKey { sender, message_id }
    }

    /// The key of an envelope that arrived in `message`: its sender is
    /// authenticated, so the key cannot be claimed by anyone else.
    pub fn of(message: &VerifiedS2SMessage, envelope: &EventEnvelope) -> ReplayKey {
        ReplayKey::new(message.sender().clone(), envelope.message_id)
    }

    pub fn sender(&self) -> &Domain {
        &self.sender
    }

    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }
}
