//! ACME errors (RFC 8555 §6.7) and their RFC 7807 problem documents. Only
//! the web front end turns an [`AcmeError`] into an HTTP response.

use serde::Serialize;

/// An ACME error type (the part after `urn:ietf:params:acme:error:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorType {
    AccountDoesNotExist,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Connection,
    ExternalAccountRequired,
    IncorrectResponse,
    InvalidContact,
    InvalidProfile,
    Malformed,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Unauthorized,
    UnsupportedIdentifier,
}

impl ErrorType {
    pub fn urn(self) -> String {
        let name = match self {
            ErrorType::AccountDoesNotExist => "accountDoesNotExist",
            ErrorType::AlreadyRevoked => "alreadyRevoked",
            ErrorType::BadCsr => "badCSR",
            ErrorType::BadNonce => "badNonce",
            ErrorType::BadPublicKey => "badPublicKey",
            ErrorType::BadRevocationReason => "badRevocationReason",
            ErrorType::BadSignatureAlgorithm => "badSignatureAlgorithm",
            ErrorType::Connection => "connection",
            ErrorType::ExternalAccountRequired => "externalAccountRequired",
            ErrorType::IncorrectResponse => "incorrectResponse",
            ErrorType::InvalidContact => "invalidContact",
            ErrorType::InvalidProfile => "invalidProfile",
            ErrorType::Malformed => "malformed",
            ErrorType::OrderNotReady => "orderNotReady",
            ErrorType::RateLimited => "rateLimited",
            ErrorType::RejectedIdentifier => "rejectedIdentifier",
            ErrorType::ServerInternal => "serverInternal",
            ErrorType::Unauthorized => "unauthorized",
            ErrorType::UnsupportedIdentifier => "unsupportedIdentifier",
        };
        format!("urn:ietf:params:acme:error:{name}")
    }

    /// The HTTP status that goes with the error type.
    pub fn status(self) -> u16 {
        match self {
            ErrorType::AccountDoesNotExist | ErrorType::Unauthorized => 403,
            ErrorType::RateLimited => 429,
            ErrorType::ServerInternal => 500,
            ErrorType::OrderNotReady => 403,
            _ => 400,
        }
    }
}

/// An error answered to an ACME client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct AcmeError {
    pub kind: ErrorType,
    pub detail: String,
    /// Seconds a rate-limited client should wait (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl AcmeError {
    pub fn new(kind: ErrorType, detail: impl Into<String>) -> Self {
        AcmeError {
            kind,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        AcmeError::new(ErrorType::Malformed, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        AcmeError::new(ErrorType::Unauthorized, detail)
    }

    /// An internal failure: the detail goes to the log, the client gets a
    /// generic message (nothing internal leaks).
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        AcmeError::new(
            ErrorType::ServerInternal,
            format!("{context}; try again later"),
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: self.kind.urn(),
            detail: self.detail.clone(),
            status: self.kind.status(),
        }
    }
}

/// An RFC 7807 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub detail: String,
    pub status: u16,
}
