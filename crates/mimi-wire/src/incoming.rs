//! Every check a receiving provider makes on a request body, in order.

use mimi_identifiers::Domain;

use crate::envelope::{EventEnvelope, check_freshness};
use crate::error::{WireError, quote};
use crate::framing::{ProtocolVersion, S2SMessage};
use crate::signature::{ServerVerificationKey, VerifiedS2SMessage};

/// Checks an incoming request body addressed to `me` and returns the authenticated
/// message with its decoded envelope.
///
/// In order, each failure its own [`WireError`]:
/// 1. decode, at most `max_len` bytes, nothing trailing (`TooLong`, `Truncated`,
///    `TrailingBytes`, `Malformed`, `UnsupportedVersion` for an unknown version);
/// 2. the version is mimi10 (`UnsupportedVersion`);
/// 3. `recipient_domain` is exactly `me` (`WrongRecipient`: a message signed for
///    another provider and forwarded to us is refused even though its signature is
///    good);
/// 4. `sender_domain` is a canonical domain (`InvalidDomain`);
/// 5. `key_lookup` knows a key for the sender (`UnknownSenderKey`);
/// 6. the signature verifies under that key, which is valid at `now_ms`
///    (`UnsupportedSignatureScheme`, `InvalidPublicKey`, `KeyNotYetValid`,
///    `KeyExpired`, `BadSignature`);
/// 7. `event_payload` is an [`EventEnvelope`] (decoding errors about it);
/// 8. the envelope is fresh: created within `skew_ms` of `now_ms` (`StaleEvent`,
///    `FutureEvent`).
///
/// The cheap checks that need no key come first, so that a peer cannot make us look
/// up keys or verify signatures for messages we would refuse anyway. What is left to
/// the caller: de-duplication on [`ReplayKey::of`](crate::ReplayKey::of), and the
/// event type ([`VerifiedS2SMessage::event_kind`]), which depends on the endpoint.
pub fn check_incoming(
    bytes: &[u8],
    me: &Domain,
    key_lookup: impl Fn(&Domain) -> Option<ServerVerificationKey>,
    now_ms: u64,
    skew_ms: u64,
    max_len: usize,
) -> Result<(VerifiedS2SMessage, EventEnvelope), WireError> {
    let message = S2SMessage::decode(bytes, max_len)?;
    if message.version() != ProtocolVersion::Mimi10 {
        return Err(WireError::UnsupportedVersion {
            version: message.version().value(),
        });
    }
    // Compared as bytes: our own domain is canonical, and a recipient spelled any
    // other way is not us (senders must write the canonical form).
    if message.recipient_domain_bytes() != me.as_str().as_bytes() {
        return Err(WireError::WrongRecipient {
            recipient: quote(message.recipient_domain_bytes()),
            me: me.clone(),
        });
    }
    let sender = message.sender_domain()?;
    let key = key_lookup(&sender).ok_or(WireError::UnknownSenderKey { sender })?;
    let verified = message.verify(&key, now_ms / 1000)?;
    let envelope = EventEnvelope::decode(verified.event().event_payload(), max_len)?;
    check_freshness(envelope.created_at_ms(), now_ms, skew_ms)?;
    Ok((verified, envelope))
}
