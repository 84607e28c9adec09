//! The framing of draft-kohbrok-mimi-transport §3, field for field.
//!
//! The draft writes its vectors as bare `opaque` (no length); as it says the framing
//! "mimicks that of MLS", we read them as RFC 9420 `opaque <V>` (variable-length
//! vectors with a minimal QUIC-style length prefix), the only reading under which
//! the structures can be parsed at all (docs/draft-divergences.md).
//!
//! The codec checks structure only. What the bytes mean (a domain, a known event
//! type) is checked by the accessors and by [`check_incoming`](crate::check_incoming),
//! so that a peer's message can always be decoded and refused with a precise error.

use mimi_identifiers::{Domain, MAX_DOMAIN_LEN};
use tls_codec::{Deserialize, Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::envelope::EventEnvelope;
use crate::error::{WireError, quote};
use crate::event_kind::EventKind;

/// A sensible `max_len` for [`S2SMessage::decode`] and
/// [`check_incoming`](crate::check_incoming): 1 MiB. MLS commits that add many
/// members with their KeyPackages stay well below; media never travels inline.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 20;

/// Longest event type accepted by [`EventType::new`].
pub const MAX_EVENT_TYPE_LEN: usize = 255;

/// `enum { reserved(0), mimi10(1), (65535) } ProtocolVersion;`
///
/// Any other value fails to decode ([`WireError::UnsupportedVersion`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
#[repr(u16)]
pub enum ProtocolVersion {
    /// Never valid in a message; decodes so that it can be refused by name.
    Reserved = 0,
    /// MIMI 1.0, the only version we speak.
    Mimi10 = 1,
}

impl ProtocolVersion {
    /// The value on the wire.
    pub fn value(self) -> u16 {
        self as u16
    }

    fn from_value(v: u16) -> Option<ProtocolVersion> {
        match v {
            0 => Some(ProtocolVersion::Reserved),
            1 => Some(ProtocolVersion::Mimi10),
            _ => None,
        }
    }
}

/// `opaque EventType<V>;`: an ASCII registry string such as
/// `"mimi.delivery-service.group-operation"`.
///
/// Decoding accepts any bytes; [`EventType::kind`] says whether they name an event we
/// handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct EventType(VLBytes);

impl EventType {
    /// An event type from any registry string: 1 to [`MAX_EVENT_TYPE_LEN`] bytes of
    /// printable ASCII (`!` to `~`). For our own events use `EventType::from(kind)`.
    pub fn new(s: &str) -> Result<EventType, WireError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_EVENT_TYPE_LEN
            && s.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(WireError::InvalidEventType {
                event_type: quote(s.as_bytes()),
            });
        }
        Ok(EventType(VLBytes::new(s.as_bytes().to_vec())))
    }

    /// The bytes as sent (not necessarily ASCII if a peer sent otherwise).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }

    /// The event this type names, or [`WireError::UnknownEventType`].
    pub fn kind(&self) -> Result<EventKind, WireError> {
        EventKind::from_bytes(self.as_bytes())
    }
}

impl From<EventKind> for EventType {
    fn from(kind: EventKind) -> EventType {
        EventType(VLBytes::new(kind.as_str().as_bytes().to_vec()))
    }
}

/// `struct { EventType event_type; opaque event_payload<V>; } Event;`
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct Event {
    event_type: EventType,
    event_payload: VLBytes,
}

impl Event {
    /// An event with any payload. Events we send carry an [`EventEnvelope`]: use
    /// [`Event::with_envelope`].
    pub fn new(event_type: EventType, event_payload: Vec<u8>) -> Event {
        Event {
            event_type,
            event_payload: VLBytes::new(event_payload),
        }
    }

    /// An event of `kind` whose payload is the TLS serialization of `envelope`.
    pub fn with_envelope(kind: EventKind, envelope: &EventEnvelope) -> Result<Event, WireError> {
        Ok(Event::new(kind.into(), envelope.encode()?))
    }

    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    pub fn event_payload(&self) -> &[u8] {
        self.event_payload.as_slice()
    }
}

/// ```text
/// struct {
///     ProtocolVersion version = mimi10;
///     opaque sender_domain<V>;
///     opaque recipient_domain<V>;
///     Event event;
///     opaque signature<V>;
/// } S2SMessage;
/// ```
///
/// An `S2SMessage` is unverified: it is what arrived (or what [`S2SMessage::sign`]
/// made). Nothing in it is trusted until [`S2SMessage::verify`] turns it into a
/// [`VerifiedS2SMessage`](crate::VerifiedS2SMessage).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct S2SMessage {
    pub(crate) version: ProtocolVersion,
    pub(crate) sender_domain: VLBytes,
    pub(crate) recipient_domain: VLBytes,
    pub(crate) event: Event,
    pub(crate) signature: VLBytes,
}

impl S2SMessage {
    pub(crate) const NAME: &'static str = "S2SMessage";

    /// Decodes exactly one `S2SMessage` from `bytes`, refusing input longer than
    /// `max_len` (checked first, before anything is read), trailing bytes, and any
    /// version other than reserved(0) and mimi10(1). Never panics.
    ///
    /// The version is read first, on its own: a message of a later version may lay
    /// out its other fields differently, so it is refused as
    /// [`WireError::UnsupportedVersion`] rather than as malformed.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<S2SMessage, WireError> {
        check_len(bytes, max_len, Self::NAME)?;
        if let [hi, lo, ..] = *bytes {
            let v = u16::from_be_bytes([hi, lo]);
            if ProtocolVersion::from_value(v).is_none() {
                return Err(WireError::UnsupportedVersion { version: v });
            }
        }
        decode_exact(bytes, max_len, Self::NAME)
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        self.tls_serialize_detached()
            .map_err(|e| WireError::encoding(Self::NAME, e))
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// `sender_domain` as a [`Domain`], if it is one in canonical form.
    pub fn sender_domain(&self) -> Result<Domain, WireError> {
        canonical_domain("sender_domain", self.sender_domain.as_slice())
    }

    /// `recipient_domain` as a [`Domain`], if it is one in canonical form.
    pub fn recipient_domain(&self) -> Result<Domain, WireError> {
        canonical_domain("recipient_domain", self.recipient_domain.as_slice())
    }

    /// `sender_domain` as sent, unchecked.
    pub fn sender_domain_bytes(&self) -> &[u8] {
        self.sender_domain.as_slice()
    }

    /// `recipient_domain` as sent, unchecked.
    pub fn recipient_domain_bytes(&self) -> &[u8] {
        self.recipient_domain.as_slice()
    }

    pub fn event(&self) -> &Event {
        &self.event
    }

    pub fn signature(&self) -> &[u8] {
        self.signature.as_slice()
    }

    /// The serialization of every field but `signature`, in order: the content the
    /// signature covers (wrapped in `SignContent`, see [`crate::labels`]).
    pub(crate) fn to_be_signed(&self) -> Result<Vec<u8>, WireError> {
        to_be_signed(
            self.version,
            &self.sender_domain,
            &self.recipient_domain,
            &self.event,
        )
    }
}

pub(crate) fn to_be_signed(
    version: ProtocolVersion,
    sender_domain: &VLBytes,
    recipient_domain: &VLBytes,
    event: &Event,
) -> Result<Vec<u8>, WireError> {
    let len = version.tls_serialized_len()
        + sender_domain.tls_serialized_len()
        + recipient_domain.tls_serialized_len()
        + event.tls_serialized_len();
    let mut out = Vec::with_capacity(len);
    let enc = |e| WireError::encoding(S2SMessage::NAME, e);
    version.tls_serialize(&mut out).map_err(enc)?;
    sender_domain.tls_serialize(&mut out).map_err(enc)?;
    recipient_domain.tls_serialize(&mut out).map_err(enc)?;
    event.tls_serialize(&mut out).map_err(enc)?;
    Ok(out)
}

fn check_len(bytes: &[u8], max_len: usize, what: &'static str) -> Result<(), WireError> {
    if bytes.len() > max_len {
        return Err(WireError::TooLong {
            what,
            len: bytes.len(),
            max: max_len,
        });
    }
    Ok(())
}

/// Decodes exactly one `T` from at most `max_len` bytes.
pub(crate) fn decode_exact<T: Deserialize>(
    bytes: &[u8],
    max_len: usize,
    what: &'static str,
) -> Result<T, WireError> {
    check_len(bytes, max_len, what)?;
    let mut rest: &[u8] = bytes;
    let value = T::tls_deserialize(&mut rest).map_err(|e| WireError::decoding(what, e))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes {
            what,
            extra: rest.len(),
        });
    }
    Ok(value)
}

/// A domain field as a [`Domain`]: valid, and spelled exactly as its canonical form
/// (lowercase A-labels), so that one provider has exactly one spelling on the wire
/// and the bytes signed are the bytes compared.
pub(crate) fn canonical_domain(field: &'static str, bytes: &[u8]) -> Result<Domain, WireError> {
    let invalid = |reason: String| WireError::InvalidDomain {
        field,
        value: quote(bytes),
        reason,
    };
    // Bound before parsing: a domain is never longer than this (RFC 1035).
    if bytes.len() > MAX_DOMAIN_LEN {
        return Err(invalid(format!(
            "{} bytes; at most {MAX_DOMAIN_LEN} are allowed",
            bytes.len()
        )));
    }
    let s = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".to_owned()))?;
    let domain = Domain::parse(s).map_err(|e| invalid(e.to_string()))?;
    if domain.as_str() != s {
        return Err(invalid(format!(
            "not canonical; its canonical form is \"{}\"",
            domain.as_str()
        )));
    }
    Ok(domain)
}
