//! Tests of mimi-wire through its public API.

mod fuzz;
mod incoming;
mod known_answer;
mod provider_api;
mod provider_bad_input;
mod provider_known_answer;
mod provider_props;
mod queue_reference;
mod roundtrip;

use mimi_identifiers::Domain;
use mimi_wire::tls_codec::{Serialize, VLBytes};
use mimi_wire::{
    Event, EventEnvelope, EventKind, ProtocolVersion, S2SMessage, ServerVerificationKey, SigningKey,
};

/// The secret key of RFC 8032 §7.1 test 1 as PKCS#8 v1 DER (the 16-byte prefix is
/// the fixed PKCS#8 header for Ed25519, as `openssl genpkey` writes it).
pub const RFC8032_PKCS8: [u8; 48] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// "Now" in every test: 2023-11-14T22:13:20Z, in Unix milliseconds.
pub const NOW_MS: u64 = 1_700_000_000_000;
/// The freshness window used in tests.
pub const SKEW_MS: u64 = 60_000;
/// The size bound used in tests.
pub const MAX_LEN: usize = 64 * 1024;

pub fn domain(s: &str) -> Domain {
    s.parse().unwrap()
}

/// a.example's key (RFC 8032 test 1).
pub fn key_a() -> SigningKey {
    SigningKey::from_pkcs8(&RFC8032_PKCS8).unwrap()
}

pub fn fresh_key() -> SigningKey {
    SigningKey::from_pkcs8(&SigningKey::generate_pkcs8().unwrap()).unwrap()
}

/// A key record valid for a day around `NOW_MS`.
pub fn record(key: &SigningKey) -> ServerVerificationKey {
    let now = NOW_MS / 1000;
    key.verification_key(now - 86_400, now + 86_400)
}

/// A fixed envelope created at `created_at_ms`.
pub fn envelope_at(created_at_ms: u64) -> EventEnvelope {
    EventEnvelope::with_id([7; 16], b"an MLS message".to_vec(), created_at_ms)
}

/// A mimi10 message from `from` to `to` carrying `envelope`, signed with `key`.
pub fn signed(
    from: &str,
    to: &str,
    kind: EventKind,
    envelope: &EventEnvelope,
    key: &SigningKey,
) -> S2SMessage {
    let event = Event::with_envelope(kind, envelope).unwrap();
    S2SMessage::sign(
        ProtocolVersion::Mimi10,
        &domain(from),
        &domain(to),
        event,
        key,
    )
    .unwrap()
}

/// The fields of an S2SMessage, to be encoded without any checks: builds the
/// tampered and malformed inputs that a hostile peer could send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub version: u16,
    pub sender: Vec<u8>,
    pub recipient: Vec<u8>,
    pub event_type: Vec<u8>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

impl Raw {
    pub fn of(m: &S2SMessage) -> Raw {
        Raw {
            version: m.version().value(),
            sender: m.sender_domain_bytes().to_vec(),
            recipient: m.recipient_domain_bytes().to_vec(),
            event_type: m.event().event_type().as_bytes().to_vec(),
            payload: m.event().event_payload().to_vec(),
            signature: m.signature().to_vec(),
        }
    }

    /// Encodes field by field with tls_codec primitives (independently of the
    /// crate's derives): uint16, then five `opaque <V>`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.version.tls_serialize(&mut out).unwrap();
        for v in [
            &self.sender,
            &self.recipient,
            &self.event_type,
            &self.payload,
            &self.signature,
        ] {
            VLBytes::new(v.clone()).tls_serialize(&mut out).unwrap();
        }
        out
    }
}
