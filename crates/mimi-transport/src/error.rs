//! Everything that can go wrong between two providers, and the one place where it
//! becomes an HTTP answer: a status ([`TransportError::status`]) and an RFC 9457
//! problem document ([`problem_response`], docs/wire-spec.md §10).

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mimi_identifiers::Domain;
use mimi_storage::StorageError;
use mimi_wire::WireError;

/// Why a request could not be received or sent. Each message says what was wrong
/// and what to do; untrusted text in it is already quoted and cut short.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The body is not an acceptable signed S2S message (decoding, version,
    /// recipient, signature, envelope or freshness): see the inner error.
    #[error(transparent)]
    Wire(#[from] WireError),

    /// The request was not marked as a TLS-encoded body.
    #[error(
        "the Content-Type is {found}, not application/octet-stream: send the TLS-serialized \
         S2SMessage as application/octet-stream (draft-kohbrok-mimi-transport §5)"
    )]
    WrongContentType { found: String },

    /// The body exceeds the receiver's limit (checked before it is read in full).
    #[error(
        "the request body is larger than the {max} bytes this server accepts: send smaller \
         events"
    )]
    BodyTooLarge { max: usize },

    /// The body could not be read from the connection.
    #[error("the request body could not be read ({detail}): resend the request")]
    BodyUnreadable { detail: String },

    /// The event is of another type than the endpoint it was posted to handles.
    #[error(
        "the event type is {found}, but this endpoint handles {expected}: post each event to \
         the endpoint of its type (docs/wire-spec.md §3)"
    )]
    WrongEndpoint { found: String, expected: String },

    /// The same (sender, message ID) was accepted before.
    #[error(
        "event {message_id} from {sender} was already accepted: this is a replay (or a retry \
         of a delivered event); do not send it again, a retry needs no new delivery"
    )]
    Replay { sender: Domain, message_id: String },

    /// The (authenticated) sender sent more requests than the receiver's rate
    /// limits allow, in all or to this endpoint (draft-kohbrok-mimi-transport
    /// §6). Answered with 429 and a `Retry-After` of `retry_after_secs`.
    #[error(
        "{sender} sent too many requests to the {endpoint} endpoint: retry after \
         {retry_after_secs} s (draft-kohbrok-mimi-transport §6)"
    )]
    RateLimited {
        sender: Domain,
        endpoint: String,
        retry_after_secs: u64,
    },

    /// The sender's signature keys (or its DS domain) could not be fetched, or
    /// the sender serves none valid now.
    #[error(
        "cannot get {domain}'s signature keys ({detail}): {domain} must serve \
         /.well-known/mimi/ds-domain and /signature_key over HTTPS with a certificate from \
         a configured TLS root; retry later"
    )]
    KeysUnavailable { domain: Domain, detail: String },

    /// Discovery of a recipient's DS domain failed (sending side).
    #[error(
        "cannot discover {domain}'s DS domain ({detail}): {domain} must answer \
         GET /.well-known/mimi/ds-domain over HTTPS with its DS domain as text/plain"
    )]
    DiscoveryFailed { domain: Domain, detail: String },

    /// The request to a peer failed on the way (connection, TLS, timeout).
    #[error("the request to {url} failed ({detail}): check that the peer is up, then retry")]
    Request { url: String, detail: String },

    /// The replay table could not be read or written: nothing was accepted.
    #[error("the replay table failed ({0}); the event was not accepted, retry later")]
    Storage(#[from] StorageError),
}

impl TransportError {
    /// The HTTP status this error is answered with (docs/wire-spec.md §10): the
    /// sender learns whether to fix its request (4xx) or retry later (5xx).
    pub fn status(&self) -> StatusCode {
        match self {
            TransportError::Wire(e) => wire_status(e),
            TransportError::WrongContentType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TransportError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            TransportError::BodyUnreadable { .. } | TransportError::WrongEndpoint { .. } => {
                StatusCode::BAD_REQUEST
            }
            TransportError::Replay { .. } => StatusCode::CONFLICT,
            TransportError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            TransportError::KeysUnavailable { .. }
            | TransportError::DiscoveryFailed { .. }
            | TransportError::Request { .. } => StatusCode::BAD_GATEWAY,
            TransportError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl TransportError {
    /// The problem type of this error: the `<kind>` of
    /// `urn:mimi:problem:<kind>` (docs/wire-spec.md §10 lists them).
    pub fn problem_kind(&self) -> &'static str {
        match self {
            TransportError::Wire(e) => wire_kind(e),
            TransportError::WrongContentType { .. } => "wrong-content-type",
            TransportError::BodyTooLarge { .. } => "body-too-large",
            TransportError::BodyUnreadable { .. } => "body-unreadable",
            TransportError::WrongEndpoint { .. } => "wrong-endpoint",
            TransportError::Replay { .. } => "replay",
            TransportError::RateLimited { .. } => "rate-limited",
            TransportError::KeysUnavailable { .. } => "keys-unavailable",
            TransportError::DiscoveryFailed { .. } => "discovery-failed",
            TransportError::Request { .. } => "request-failed",
            TransportError::Storage(_) => "storage-failed",
        }
    }
}

/// One problem type per way a message fails the wire checks; what only our
/// own side can get wrong (signing, randomness) is one `internal-error`.
fn wire_kind(e: &WireError) -> &'static str {
    match e {
        WireError::TooLong { .. } => "too-long",
        WireError::Truncated { .. } => "truncated",
        WireError::TrailingBytes { .. } => "trailing-bytes",
        WireError::Malformed { .. } => "malformed",
        WireError::UnsupportedVersion { .. } => "unsupported-version",
        WireError::UnsupportedSignatureScheme { .. } => "unsupported-signature-scheme",
        WireError::UnknownEventType { .. } => "unknown-event-type",
        WireError::InvalidEventType { .. } => "invalid-event-type",
        WireError::WrongRecipient { .. } => "wrong-recipient",
        WireError::InvalidDomain { .. } => "invalid-domain",
        WireError::InvalidPublicKey { .. } => "invalid-public-key",
        WireError::KeyNotYetValid { .. } => "key-not-yet-valid",
        WireError::KeyExpired { .. } => "key-expired",
        WireError::BadSignature { .. } => "bad-signature",
        WireError::StaleEvent { .. } => "stale-event",
        WireError::FutureEvent { .. } => "future-event",
        WireError::UnknownSenderKey { .. } => "keys-unavailable",
        WireError::InvalidSigningKey { .. }
        | WireError::Encode { .. }
        | WireError::Random
        | WireError::Signing => "internal-error",
        // A variant newer than this list: its status says whose fault it is.
        _ => "invalid-message",
    }
}

/// Decoding problems are 400, refusals of an authentic-looking message 403.
fn wire_status(e: &WireError) -> StatusCode {
    match e {
        WireError::TooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        WireError::WrongRecipient { .. }
        | WireError::BadSignature { .. }
        | WireError::KeyExpired { .. }
        | WireError::KeyNotYetValid { .. }
        | WireError::InvalidPublicKey { .. }
        | WireError::UnsupportedSignatureScheme { .. }
        | WireError::StaleEvent { .. }
        | WireError::FutureEvent { .. } => StatusCode::FORBIDDEN,
        // No key at all after a fetch: we could not get the sender's keys.
        WireError::UnknownSenderKey { .. } => StatusCode::BAD_GATEWAY,
        // Only our own side makes these (our key, our encoding, our RNG).
        WireError::Random
        | WireError::Signing
        | WireError::Encode { .. }
        | WireError::InvalidSigningKey { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The media type of RFC 9457 problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of our problem types: `urn:mimi:problem:<kind>`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:mimi:problem:";

/// An error answer as an RFC 9457 problem document
/// (`application/problem+json`):
///
/// ```json
/// { "type": "urn:mimi:problem:<kind>", "title": "<Kind in words>",
///   "status": <status>, "detail": "<detail>" }
/// ```
///
/// `kind` is a lower-case kebab-case name (`not-implemented`), fixed per
/// kind of problem; the title is derived from it (`Not implemented`), so it
/// is the same for every occurrence as RFC 9457 §3.1.3 wants. `detail` says
/// what was wrong with this request and what to do; it must hold nothing
/// the peer should not see (log internal details instead).
pub fn problem_response(status: StatusCode, kind: &str, detail: String) -> Response {
    debug_assert!(
        !kind.is_empty()
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "problem kinds are lower-case kebab-case: {kind:?}"
    );
    let body = serde_json::json!({
        "type": format!("{PROBLEM_TYPE_PREFIX}{kind}"),
        "title": problem_title(kind),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
        body.to_string(),
    )
        .into_response()
}

/// `not-implemented` → `Not implemented`.
pub(crate) fn problem_title(kind: &str) -> String {
    let words = kind.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

impl IntoResponse for TransportError {
    /// The status of [`TransportError::status`] and a problem document of
    /// type [`TransportError::problem_kind`] whose detail is the error's
    /// message (a database failure is logged, not detailed to the peer),
    /// with `Retry-After` on 429.
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "S2S request failed on our side");
        } else {
            tracing::debug!(error = %self, "S2S request refused");
        }
        let detail = match &self {
            TransportError::Storage(_) => {
                "the receiver could not record the event; nothing was accepted, retry later"
                    .to_string()
            }
            other => other.to_string(),
        };
        let mut response = problem_response(status, self.problem_kind(), detail);
        if let TransportError::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests;
