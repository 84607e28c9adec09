//! The validation authority: proves control of identifiers.
//!
//! `http-01` (RFC 8555 §8.3): fetch
//! `http://<domain>/.well-known/acme-challenge/<token>` and compare the body
//! with the key authorization. A resolver map (domain → address) stands in for
//! DNS so that validation works on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use crate::problem::{AcmeError, ErrorType};

/// Longest body read from a challenge response.
const MAX_CHALLENGE_BODY: usize = 1024;

/// Where each domain's HTTP server listens.
pub type ResolverMap = std::collections::BTreeMap<String, SocketAddr>;

#[derive(Debug, Clone)]
pub struct Validator {
    http: reqwest::Client,
    resolve: ResolverMap,
}

impl Validator {
    pub fn new(resolve: ResolverMap) -> Result<Self, AcmeError> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            // Redirects are not followed: see docs/acme-divergences.md.
            .redirect(reqwest::redirect::Policy::none());
        for (name, addr) in &resolve {
            builder = builder.resolve(name, *addr);
        }
        let http = builder
            .build()
            .map_err(|e| AcmeError::internal("cannot build the validation client", e))?;
        Ok(Validator { http, resolve })
    }

    /// Checks an `http-01` challenge for `domain`.
    pub async fn http01(
        &self,
        domain: &str,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), AcmeError> {
        let port = self.resolve.get(domain).map_or(80, SocketAddr::port);
        let url = format!("http://{domain}:{port}/.well-known/acme-challenge/{token}");
        let failed = |kind, detail: String| Err(AcmeError::new(kind, detail));
        let mut response = match self.http.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                return failed(ErrorType::Connection, format!("fetching {url} failed: {e}"));
            }
        };
        if !response.status().is_success() {
            let status = response.status();
            return failed(
                ErrorType::Unauthorized,
                format!("{url} answered {status}; serve the key authorization there with 200"),
            );
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_CHALLENGE_BODY {
                        return failed(
                            ErrorType::Unauthorized,
                            format!("{url} answered more than {MAX_CHALLENGE_BODY} bytes"),
                        );
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return failed(ErrorType::Connection, format!("reading {url} failed: {e}"));
                }
            }
        }
        // RFC 8555 §8.3: surrounding whitespace is tolerated.
        let got = String::from_utf8_lossy(&body);
        if got.trim() != key_authorization {
            return failed(
                ErrorType::IncorrectResponse,
                format!("{url} did not answer the expected key authorization"),
            );
        }
        Ok(())
    }
}
