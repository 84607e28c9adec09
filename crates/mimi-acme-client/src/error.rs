//! What can go wrong talking ACME, split by who is at fault: the server said
//! no ([`Error::Problem`]), the server misbehaved ([`Error::BadResponse`],
//! [`Error::ResponseTooLarge`]), the network failed ([`Error::Transport`]),
//! the caller asked for something impossible ([`Error::InvalidInput`],
//! [`Error::NotOffered`]), or waiting did not end ([`Error::PollTimeout`]).

use std::fmt;
use std::time::Duration;

use mimi_acme::objects::{Identifier, Status};
use serde::Deserialize;

/// The URN prefix of ACME's error types (RFC 8555 §6.7).
pub const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

/// An RFC 7807 problem document as an ACME server sends it (RFC 8555 §6.7),
/// with the subproblems of §6.7.1.
///
/// `mimi_acme::Problem` is the server's serializing type: it requires
/// `detail` and `status` and has no subproblems, so a client reading any
/// ACME server needs this more lenient one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The error type, e.g. `urn:ietf:params:acme:error:rejectedIdentifier`.
    #[serde(rename = "type", default = "about_blank")]
    pub type_: String,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub status: Option<u16>,
    /// Per-identifier problems of a compound error (RFC 8555 §6.7.1).
    #[serde(default)]
    pub subproblems: Vec<Subproblem>,
    /// The accepted "alg" values, in badSignatureAlgorithm problems (§6.2).
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
}

/// A subproblem (RFC 8555 §6.7.1): a problem about one identifier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subproblem {
    #[serde(rename = "type", default = "about_blank")]
    pub type_: String,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub identifier: Option<Identifier>,
}

/// RFC 7807 §4.2: a problem without a type is "about:blank".
fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    /// The ACME error name (`"badNonce"`, `"rejectedIdentifier"`, ...) if the
    /// type is one of RFC 8555's URNs.
    pub fn acme_type(&self) -> Option<&str> {
        self.type_.strip_prefix(ACME_ERROR_PREFIX)
    }

    /// Whether the type is the ACME error `name` (e.g. `"badNonce"`).
    pub fn is(&self, name: &str) -> bool {
        self.acme_type() == Some(name)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.type_)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        for sub in &self.subproblems {
            f.write_str("; ")?;
            if let Some(id) = &sub.identifier {
                write!(f, "{} {:?}: ", id.type_, id.value)?;
            }
            f.write_str(&sub.type_)?;
            if let Some(detail) = &sub.detail {
                write!(f, ": {detail}")?;
            }
        }
        Ok(())
    }
}

/// An error of this crate. Messages say what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request with a problem document.
    #[error("the ACME server refused {url}: {problem}{}", retry_hint(.retry_after))]
    Problem {
        url: String,
        problem: Box<Problem>,
        /// The server's Retry-After, if it sent one (rateLimited, §6.6).
        retry_after: Option<Duration>,
    },
    /// The server answered something that is not ACME.
    #[error(
        "the ACME server's answer from {url} is not usable: {reason}; check that the directory URL is an ACME server's"
    )]
    BadResponse { url: String, reason: String },
    /// The server sent more than this client reads.
    #[error(
        "the answer from {url} is larger than {limit} bytes, more than any ACME object or certificate chain should be; the server is misbehaving or is not an ACME server"
    )]
    ResponseTooLarge { url: String, limit: usize },
    /// The connection failed (DNS, TCP, TLS, timeout).
    #[error(
        "could not reach {url}: {reason}; check the URL, the network and that the server's certificate chains to the configured roots"
    )]
    Transport { url: String, reason: String },
    /// The directory does not list a resource the call needs.
    #[error("{0}")]
    NotOffered(String),
    /// An argument this client cannot send.
    #[error("{0}")]
    InvalidInput(String),
    /// An account key that cannot be loaded or used.
    #[error("{0}")]
    Key(String),
    /// An object became `invalid`, or another final state than the one
    /// waited for.
    #[error("{url} became {status:?} while waiting for {wanted:?}{}", problem_hint(.problem))]
    Unexpected {
        url: String,
        status: Status,
        wanted: Status,
        problem: Option<Box<Problem>>,
    },
    /// Polling did not reach the wanted state within the allowed time.
    #[error(
        "{url} was still {status:?} after waiting {waited:?} for {wanted:?}; poll again later, or allow a longer wait (PollPolicy::max_wait)"
    )]
    PollTimeout {
        url: String,
        status: Status,
        wanted: Status,
        waited: Duration,
    },
}

impl Error {
    /// The problem document, if the server refused the request.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem { problem, .. } => Some(problem),
            Error::Unexpected {
                problem: Some(problem),
                ..
            } => Some(problem),
            _ => None,
        }
    }

    pub(crate) fn bad_response(url: &str, reason: impl Into<String>) -> Error {
        Error::BadResponse {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn transport(url: &str, e: &reqwest::Error) -> Error {
        // The source chain holds the useful part (TLS: unknown issuer, ...).
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            reason.push_str(": ");
            reason.push_str(&s.to_string());
            source = s.source();
        }
        Error::Transport {
            url: url.to_owned(),
            reason,
        }
    }
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} s)", d.as_secs()),
        None => String::new(),
    }
}

fn problem_hint(problem: &Option<Box<Problem>>) -> String {
    match problem {
        Some(p) => format!(": {p}"),
        None => String::new(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
