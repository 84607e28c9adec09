//! Errors: one variant per way a message can fail, each saying what to do, and a
//! [`Fault`] that says whose problem it is (a server maps that to its response).

use mimi_identifiers::Domain;

/// Why bytes could not be encoded, decoded, signed or accepted.
///
/// Untrusted bytes quoted in a message are ASCII-escaped and cut to 64 bytes, so an
/// error can be logged as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    // --- Decoding: the peer sent bytes that are not what the spec says. ---
    #[error(
        "{what} is {len} bytes; at most {max} are accepted: send smaller events \
         (or raise the receiver's limit if this size is legitimate)"
    )]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} ends early (truncated): send its complete TLS serialization")]
    Truncated { what: &'static str },
    #[error(
        "{what} is followed by {extra} more bytes: send exactly one TLS-serialized \
         {what} and nothing after it"
    )]
    TrailingBytes { what: &'static str, extra: usize },
    #[error(
        "{what} is not a valid TLS serialization ({detail}): encode it as \
         docs/wire-spec.md specifies, with minimal-length RFC 9420 vector lengths"
    )]
    Malformed { what: &'static str, detail: String },

    // --- Fields of the provider's request and response structures. ---
    #[error(
        "{field} is {len} bytes; at most {max} are accepted: send a smaller value \
         (docs/wire-spec.md gives every field's bound)"
    )]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} is empty: it must hold at least one byte or element")]
    EmptyField { field: &'static str },
    #[error(
        "{field} has more than {max} elements: send at most {max} (split larger \
         batches into several requests)"
    )]
    TooMany { field: &'static str, max: usize },
    #[error(
        "{field} is {value}, outside the accepted range {min} to {max}: send a value \
         within it"
    )]
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error(
        "{field} \"{value}\" is refused ({reason}): send the identifier in the canonical \
         form docs/wire-spec.md gives (e.g. \"mimi://a.example/u/alice\", \
         \"mimi://a.example/d/alice/laptop\", \"@alice\")"
    )]
    InvalidIdentifier {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "the request is for operation \"{found}\" but was sent to the endpoint of \
         \"{expected}\": POST each request to its own operation's path"
    )]
    WrongOperation {
        expected: &'static str,
        found: &'static str,
    },

    // --- Incompatible: a version, scheme or event type we do not implement. ---
    #[error(
        "{field} is {value}, which is reserved or unknown to this side: send one of the \
         values docs/wire-spec.md lists for it (a newer peer may know more)"
    )]
    UnknownValue { field: &'static str, value: u64 },
    #[error(
        "protocol version {version} is not supported: this server speaks mimi10 (1) only; \
         send a mimi10 S2SMessage"
    )]
    UnsupportedVersion { version: u16 },
    #[error(
        "signature scheme 0x{scheme:04x} is not supported: only ed25519 (0x0807) is; \
         publish an Ed25519 server signing key"
    )]
    UnsupportedSignatureScheme { scheme: u16 },
    #[error(
        "event type \"{event_type}\" is not one this server handles: send one of the \
         types listed in docs/wire-spec.md (e.g. \"mimi.delivery-service.group-operation\")"
    )]
    UnknownEventType { event_type: String },

    // --- The receiver's checks: the peer misbehaved, or the message was altered. ---
    #[error(
        "the message is addressed to \"{recipient}\", not to {me}: a message signed for \
         another provider is refused (it was forwarded or misrouted); send it to its \
         recipient_domain only"
    )]
    WrongRecipient { recipient: String, me: Domain },
    #[error(
        "{field} \"{value}\" is refused ({reason}): send the domain in canonical form \
         (lowercase, A-labels, no trailing dot)"
    )]
    InvalidDomain {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "the public key in the verification key record is {len} bytes; an Ed25519 key \
         is {expected}: publish the raw 32-byte public key"
    )]
    InvalidPublicKey { len: usize, expected: usize },
    #[error(
        "the sender's signature key is not valid before {not_before} (now {now}, Unix \
         seconds): the sender must sign with its current key; check both clocks"
    )]
    KeyNotYetValid { not_before: u64, now: u64 },
    #[error(
        "the sender's signature key expired at {not_after} (now {now}, Unix seconds): \
         refetch the sender's /signature_key; if it is still expired, the sender must \
         rotate its key"
    )]
    KeyExpired { not_after: u64, now: u64 },
    #[error(
        "the signature does not verify under {sender}'s key: the message was altered or \
         signed with another key; refetch {sender}'s /signature_key once, and refuse the \
         message if it still fails"
    )]
    BadSignature { sender: Domain },
    #[error(
        "the event was created at {created_at_ms} ms, more than {skew_ms} ms before now \
         ({now_ms} ms, Unix): refused as too old (a delayed copy or a replay); send new \
         events promptly and check the sender's clock"
    )]
    StaleEvent {
        created_at_ms: u64,
        now_ms: u64,
        skew_ms: u64,
    },
    #[error(
        "the event was created at {created_at_ms} ms, more than {skew_ms} ms after now \
         ({now_ms} ms, Unix): refused as from the future; check the sender's clock"
    )]
    FutureEvent {
        created_at_ms: u64,
        now_ms: u64,
        skew_ms: u64,
    },

    // --- Local: what this side gave or lacks. ---
    #[error(
        "no signature key is known for {sender}: fetch it from {sender}'s /signature_key \
         endpoint, then retry (or refuse: {sender} is not a federation peer)"
    )]
    UnknownSenderKey { sender: Domain },
    #[error(
        "event type \"{event_type}\" is not 1 to {max} bytes of printable ASCII: \
         use a registry string such as \"mimi.delivery-service.group-operation\"",
        max = crate::MAX_EVENT_TYPE_LEN
    )]
    InvalidEventType { event_type: String },
    #[error(
        "the signing key was rejected ({detail}): give an unencrypted PKCS#8 Ed25519 \
         private key (DER), e.g. from SigningKey::generate_pkcs8 or \
         `openssl genpkey -algorithm ed25519 -outform DER`"
    )]
    InvalidSigningKey { detail: String },
    #[error(
        "cannot encode {what} ({detail}): every vector is limited to 2^30 - 1 bytes; \
         send a smaller payload"
    )]
    Encode { what: &'static str, detail: String },
    #[error(
        "refusing to encode {what}: {reason}; the receiver would refuse it (a bug in \
         the sender: build it within the bounds of docs/wire-spec.md)"
    )]
    Unencodable {
        what: &'static str,
        reason: Box<WireError>,
    },
    #[error("the system random number generator failed: check the OS entropy source, then retry")]
    Random,
    #[error("Ed25519 signing failed in aws-lc: retry; if it persists, reload the signing key")]
    Signing,
}

/// Whose problem a [`WireError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The peer sent something wrong or the bytes were altered on the way: refuse it,
    /// and do not retry the same bytes.
    Peer,
    /// The peer speaks a version, signature scheme or event type this side does not:
    /// not an attack; tell the operator.
    Incompatible,
    /// This side lacks something (a peer's key) or was given something invalid by its
    /// own caller (a key, an event type, a payload too large to encode).
    Local,
}

impl WireError {
    /// Whose problem this is.
    pub fn fault(&self) -> Fault {
        match self {
            WireError::TooLong { .. }
            | WireError::Truncated { .. }
            | WireError::TrailingBytes { .. }
            | WireError::Malformed { .. }
            | WireError::WrongRecipient { .. }
            | WireError::InvalidDomain { .. }
            | WireError::InvalidPublicKey { .. }
            | WireError::KeyNotYetValid { .. }
            | WireError::KeyExpired { .. }
            | WireError::BadSignature { .. }
            | WireError::StaleEvent { .. }
            | WireError::FutureEvent { .. }
            | WireError::FieldTooLong { .. }
            | WireError::EmptyField { .. }
            | WireError::TooMany { .. }
            | WireError::OutOfRange { .. }
            | WireError::InvalidIdentifier { .. }
            | WireError::WrongOperation { .. } => Fault::Peer,
            WireError::UnknownValue { .. }
            | WireError::UnsupportedVersion { .. }
            | WireError::UnsupportedSignatureScheme { .. }
            | WireError::UnknownEventType { .. } => Fault::Incompatible,
            WireError::UnknownSenderKey { .. }
            | WireError::InvalidEventType { .. }
            | WireError::InvalidSigningKey { .. }
            | WireError::Encode { .. }
            | WireError::Unencodable { .. }
            | WireError::Random
            | WireError::Signing => Fault::Local,
        }
    }

    /// Maps a `tls_codec` decoding error about `what` to ours.
    pub(crate) fn decoding(what: &'static str, e: tls_codec::Error) -> WireError {
        match e {
            tls_codec::Error::EndOfStream => WireError::Truncated { what },
            // `TrailingData` does not say how much: our decoders count it themselves and
            // never let tls_codec report it, so this arm is only a fallback.
            tls_codec::Error::TrailingData => WireError::TrailingBytes { what, extra: 0 },
            other => WireError::Malformed {
                what,
                detail: describe(&other),
            },
        }
    }

    pub(crate) fn encoding(what: &'static str, e: tls_codec::Error) -> WireError {
        WireError::Encode {
            what,
            detail: describe(&e),
        }
    }
}

/// tls_codec's `Display` is its `Debug`; say the common cases in words.
fn describe(e: &tls_codec::Error) -> String {
    match e {
        tls_codec::Error::InvalidVectorLength => {
            "a vector length is not minimally encoded or exceeds 2^30 - 1".to_owned()
        }
        tls_codec::Error::UnknownValue(v) => format!("unknown enum value {v}"),
        tls_codec::Error::EndOfStream => "input ends early".to_owned(),
        tls_codec::Error::TrailingData => "bytes follow the structure".to_owned(),
        other => format!("{other:?}"),
    }
}

/// At most this many bytes of untrusted input are quoted in an error message.
const MAX_QUOTED_LEN: usize = 64;

/// Untrusted bytes made safe to print: ASCII-escaped and cut to
/// [`MAX_QUOTED_LEN`] bytes (with `...` when cut), so that a peer cannot inject
/// control characters or megabytes into our logs.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let cut = bytes.len() > MAX_QUOTED_LEN;
    let shown = &bytes[..bytes.len().min(MAX_QUOTED_LEN)];
    let mut s = shown.escape_ascii().to_string();
    if cut {
        s.push_str("...");
    }
    s
}
