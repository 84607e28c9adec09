//! ACME errors (RFC 8555 §6.7) and their RFC 7807 problem documents. Only
//! the web front end turns an [`AcmeError`] into an HTTP response.

use serde::Serialize;

/// An ACME error type (the part after `urn:ietf:params:acme:error:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorType {
    AccountDoesNotExist,
    /// RFC 9773 §7.4: the certificate named in `replaces` has been
    /// replaced already.
    AlreadyReplaced,
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
    UnsupportedContact,
    UnsupportedIdentifier,
}

impl ErrorType {
    pub fn urn(self) -> String {
        let name = match self {
            ErrorType::AccountDoesNotExist => "accountDoesNotExist",
            ErrorType::AlreadyReplaced => "alreadyReplaced",
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
            ErrorType::UnsupportedContact => "unsupportedContact",
            ErrorType::UnsupportedIdentifier => "unsupportedIdentifier",
        };
        format!("urn:ietf:params:acme:error:{name}")
    }

    /// The HTTP status that usually goes with the error type (Boulder's
    /// choices where RFC 8555 names none); [`AcmeError::with_status`] overrides
    /// it where the RFC asks for another.
    pub fn status(self) -> u16 {
        match self {
            ErrorType::Unauthorized
            | ErrorType::OrderNotReady
            | ErrorType::ExternalAccountRequired => 403,
            ErrorType::RateLimited => 429,
            // Boulder answers alreadyReplaced with 409, as a conflict with
            // the state of the replaced certificate.
            ErrorType::AlreadyReplaced => 409,
            ErrorType::ServerInternal => 500,
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
    /// The HTTP status, where it is not the type's usual one
    /// ([`ErrorType::status`]): RFC 8555 asks for 415 on a wrong
    /// Content-Type and 401 for a deactivated account, and HTTP for 404 when
    /// an object does not exist.
    pub status: Option<u16>,
    /// A `Location` for the response: the account that already holds a key
    /// (RFC 8555 §7.3.5, a key rollover's 409).
    pub location: Option<String>,
}

impl AcmeError {
    pub fn new(kind: ErrorType, detail: impl Into<String>) -> Self {
        AcmeError {
            kind,
            detail: detail.into(),
            retry_after: None,
            status: None,
            location: None,
        }
    }

    /// The same error, answered with `Location: location`.
    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// The same error, answered with HTTP status `status`.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// An object that does not exist, or not for this account: `malformed`
    /// with 404, as Boulder answers. Someone else's object gets the same
    /// answer as a missing one, so that ids cannot be probed.
    pub fn not_found(detail: impl Into<String>) -> Self {
        AcmeError::malformed(detail).with_status(404)
    }

    /// A request over a rate limit (RFC 8555 §6.6): `rateLimited`, 429, and
    /// `Retry-After: retry_after_secs`.
    pub fn rate_limited(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        AcmeError {
            retry_after: Some(retry_after_secs),
            ..AcmeError::new(ErrorType::RateLimited, detail)
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
        // RFC 8555 §6.2: a badSignatureAlgorithm problem MUST list the
        // algorithms the server accepts.
        let algorithms = (self.kind == ErrorType::BadSignatureAlgorithm).then(|| {
            crate::jws::REQUEST_ALGS
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect()
        });
        Problem {
            type_: self.kind.urn(),
            detail: self.detail.clone(),
            status: self.status.unwrap_or(self.kind.status()),
            algorithms,
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
    /// The "alg" values the server accepts, in badSignatureAlgorithm
    /// problems only (RFC 8555 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<String>>,
}
