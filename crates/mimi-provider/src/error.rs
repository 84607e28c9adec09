//! The provider's errors, and the one place they become HTTP answers: RFC 9457
//! problem documents (`application/problem+json`), as the transport's own.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mimi_storage::StorageError;
use mimi_transport::TransportError;
use mimi_wire::WireError;

/// A refused or failed request to one of the provider's endpoints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// Refused by the S2S transport checks (signature, replay, rate limit, …).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A request body that does not decode.
    #[error("malformed request: {0}")]
    Malformed(WireError),
    /// A request body larger than the endpoint accepts.
    #[error("request too large: {0}")]
    TooLarge(WireError),
    /// A client request that does not prove who sent it.
    #[error("client request not authenticated: {0}")]
    Unauthenticated(String),
    /// An authenticated request for something its sender may not do.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A credential (certificate chain) that does not verify.
    #[error(
        "credential rejected: {0}; send a chain (leaf first) to a trusted identity root, with fresh CRLs of its CAs"
    )]
    Credential(String),
    /// A KeyPackage refused by the KeyPackage store's checks.
    #[error("KeyPackage {index} rejected: {reason}")]
    KeyPackage { index: usize, reason: String },
    /// A client request with an ID already seen, or one too old or too new.
    #[error("client request replayed or out of its time window: {0}")]
    Replay(String),
    /// A conflicting state, e.g. a client registered with another key.
    #[error("{0}")]
    Conflict(String),
    /// Something asked for that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A valid request that breaks a documented limit (e.g. ack beyond the end).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Over a rate limit; retry after the given number of seconds.
    #[error("rate limit exceeded ({limit}); retry after {retry_after_secs} s")]
    RateLimited {
        limit: String,
        retry_after_secs: u64,
    },
    /// The hub refused a group operation; `kind` is its problem type
    /// (`stale-epoch`, `not-a-member`, `bad-signature`, `bad-credential`,
    /// `encrypted-handshake`, `policy`, `invalid-operation`).
    #[error("group operation refused: {detail}")]
    Hub { kind: &'static str, detail: String },
    /// Another provider (a room's hub) refused a request we relayed for a
    /// client: its status and problem type, passed on.
    #[error("{detail}")]
    Relayed {
        status: StatusCode,
        kind: String,
        detail: String,
    },
    /// Another provider could not be reached or answered nonsense.
    #[error("the other provider could not be reached: {0}; retry later")]
    Unreachable(String),
    /// An endpoint of the draft that this provider does not serve yet.
    #[error("{0} is not implemented by this provider")]
    NotImplemented(&'static str),
    /// Our storage failed; nothing was changed.
    #[error("storage failed: {0}")]
    Storage(StorageError),
    /// A bug or an unusable key on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for ProviderError {
    /// Storage errors that describe the request (an unknown queue, a limit)
    /// are the client's; the rest are ours.
    fn from(e: StorageError) -> Self {
        match &e {
            StorageError::UnknownQueue { .. } | StorageError::UnknownGroup { .. } => {
                ProviderError::NotFound(e.to_string())
            }
            StorageError::GroupExists { .. } => ProviderError::Conflict(e.to_string()),
            // A reference another client retired: not this client's to retire.
            StorageError::ReferenceOfAnotherQueue { .. } => ProviderError::Forbidden(e.to_string()),
            StorageError::EpochNotAdvanced { .. }
            | StorageError::DuplicateDestination { .. }
            | StorageError::LimitOutOfRange { .. }
            | StorageError::CountOutOfRange { .. } => ProviderError::Invalid(e.to_string()),
            StorageError::AckBeyondEnd { .. }
            | StorageError::FetchLimit { .. }
            | StorageError::InvalidLength { .. }
            | StorageError::MessageTooLarge { .. }
            | StorageError::BatchTooLarge { .. }
            | StorageError::OutOfRange { .. } => ProviderError::Invalid(e.to_string()),
            // docs/wire-spec.md §13.5: a handle the provider refuses is 403.
            StorageError::HandleTaken { .. } => ProviderError::Forbidden(e.to_string()),
            StorageError::DuplicateKeyPackage { .. }
            | StorageError::ClientExists { .. }
            | StorageError::QueueExists { .. }
            | StorageError::UserTaken { .. }
            | StorageError::ClientKeyChanged { .. }
            | StorageError::UnknownClient { .. }
            | StorageError::InviteExists => ProviderError::Conflict(e.to_string()),
            // An invite spent or expired between the check and the commit.
            StorageError::InviteUnusable { .. } => ProviderError::Forbidden(e.to_string()),
            _ => ProviderError::Storage(e),
        }
    }
}

impl From<WireError> for ProviderError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::TooLong { .. } => ProviderError::TooLarge(e),
            e => ProviderError::Malformed(e),
        }
    }
}

impl ProviderError {
    /// The status and problem type (`urn:mimi:problem:<kind>`) of this error.
    fn status_and_kind(&self) -> (StatusCode, &'static str) {
        match self {
            ProviderError::Transport(_) => (StatusCode::INTERNAL_SERVER_ERROR, "transport"),
            ProviderError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            ProviderError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            ProviderError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ProviderError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ProviderError::Credential(_) => (StatusCode::FORBIDDEN, "bad-credential"),
            ProviderError::KeyPackage { .. } => (StatusCode::BAD_REQUEST, "bad-key-package"),
            ProviderError::Replay(_) => (StatusCode::CONFLICT, "replay"),
            ProviderError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ProviderError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ProviderError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ProviderError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ProviderError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not-implemented"),
            ProviderError::Hub { kind, .. } => (hub_status(kind), kind),
            ProviderError::Relayed { status, .. } => (*status, "relayed"),
            ProviderError::Unreachable(_) => (StatusCode::BAD_GATEWAY, "unreachable"),
            ProviderError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
            ProviderError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The problem type (`urn:mimi:problem:<kind>`) of this error.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Transport(_) => "transport",
            other => other.status_and_kind().1,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ProviderError::Transport(e) => e.status(),
            other => other.status_and_kind().0,
        }
    }
}

/// A stale epoch is a conflict to resolve by catching up (409); a forged or
/// non-member request is 403; everything else the hub refuses is 422 (the
/// request is well-formed, its content is not acceptable).
fn hub_status(kind: &str) -> StatusCode {
    match kind {
        "stale-epoch" => StatusCode::CONFLICT,
        "not-a-member" | "bad-signature" | "bad-credential" | "policy" => StatusCode::FORBIDDEN,
        "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        if let ProviderError::Transport(e) = self {
            return e.into_response();
        }
        let (status, kind) = self.status_and_kind();
        if let ProviderError::Relayed {
            status,
            kind,
            detail,
        } = &self
        {
            let kind = if kind.is_empty() {
                "relayed"
            } else {
                kind.as_str()
            };
            return mimi_transport::problem_response(*status, kind, detail.clone());
        }
        let detail = match &self {
            // Database details go to our log, not to the peer.
            ProviderError::Storage(e) => {
                tracing::warn!(error = %e, "request failed in storage");
                "the provider could not store or read this; nothing was changed, retry later"
                    .to_string()
            }
            ProviderError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "the provider failed on its side; retry later".to_string()
            }
            other => {
                tracing::debug!(error = %other, "request refused");
                other.to_string()
            }
        };
        let mut response = mimi_transport::problem_response(status, kind, detail);
        if let ProviderError::RateLimited {
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

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {detail}")]
    Read { path: PathBuf, detail: String },
    #[error("config file {path} is not valid TOML for a provider: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("config field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The provider could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{what} {path}: {detail}")]
    File {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("key file {} is readable by others (mode {mode:o}); run chmod 600 on it", path.display())]
    KeyFileReadable { path: PathBuf, mode: u32 },
    #[error("cannot open storage: {0}")]
    Storage(#[from] StorageError),
    #[error("cannot listen on {addr}: {detail}")]
    Listen {
        addr: std::net::SocketAddr,
        detail: String,
    },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("key setup failed: {0}")]
    Key(String),
}
