//! Everything that can go wrong between two providers, and the one place where it
//! becomes an HTTP status ([`TransportError::status`], used by `IntoResponse`).

use axum::http::StatusCode;
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
        WireError::Random | WireError::Signing | WireError::Encode { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for TransportError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "S2S request failed on our side");
        } else {
            tracing::debug!(error = %self, "S2S request refused");
        }
        // Internal details (database errors) are logged above, not sent to the peer.
        let body = match &self {
            TransportError::Storage(_) => {
                "the receiver could not record the event; nothing was accepted, retry later"
                    .to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            body,
        )
            .into_response();
        if let TransportError::RateLimited {
            retry_after_secs, ..
        } = &self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(*retry_after_secs),
            );
        }
        response
    }
}
