//! Orders, authorizations and challenges (RFC 8555 §7.1.3-7.1.5, §7.4,
//! §7.5), polling them with Retry-After honoured, finalization and the
//! certificate chain.

use std::time::Duration;

use mimi_acme::objects::{Identifier, Status};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use crate::account::Account;
use crate::client::{MAX_CHAIN_LEN, MAX_JSON_LEN, Reply};
use crate::error::{Error, Problem, Result};
use crate::key::b64;

/// The order object (RFC 8555 §7.1.3). `mimi_acme::objects::OrderObject`
/// is the server's serializing type and cannot be deserialized.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderState {
    pub status: Status,
    #[serde(default)]
    pub expires: Option<String>,
    pub identifiers: Vec<Identifier>,
    /// draft-ietf-acme-profiles.
    #[serde(default)]
    pub profile: Option<String>,
    pub authorizations: Vec<String>,
    pub finalize: String,
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub error: Option<Problem>,
    /// RFC 9773 §5.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// An authorization (RFC 8555 §7.1.4).
#[derive(Debug, Clone, Deserialize)]
pub struct Authorization {
    /// Not part of the object: the URL it was read from.
    #[serde(skip)]
    pub url: String,
    pub identifier: Identifier,
    pub status: Status,
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub challenges: Vec<Challenge>,
    #[serde(default)]
    pub wildcard: bool,
}

impl Authorization {
    /// The challenge of type `type_` (`"http-01"`, `"sms-link-00"`, ...),
    /// if the server offers it.
    pub fn challenge(&self, type_: &str) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.type_ == type_)
    }
}

/// A challenge (RFC 8555 §7.1.5, §8).
#[derive(Debug, Clone, Deserialize)]
pub struct Challenge {
    #[serde(rename = "type")]
    pub type_: String,
    pub url: String,
    pub status: Status,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub validated: Option<String>,
    #[serde(default)]
    pub error: Option<Problem>,
}

/// An order of an account: its URL and the state last read.
#[derive(Debug, Clone)]
pub struct Order {
    account: Account,
    url: String,
    state: OrderState,
}

impl Order {
    pub(crate) fn new(account: Account, url: String, state: OrderState) -> Order {
        Order {
            account,
            url,
            state,
        }
    }

    /// The order URL: store it to resume the order later
    /// ([`Account::order`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The state last read.
    pub fn state(&self) -> &OrderState {
        &self.state
    }

    /// Reads the order again.
    pub async fn refresh(&mut self) -> Result<&OrderState> {
        self.fetch().await?;
        Ok(&self.state)
    }

    async fn fetch(&mut self) -> Result<Option<Duration>> {
        let reply = self.account.post(&self.url, None, MAX_JSON_LEN).await?;
        self.state = reply.ok_json()?;
        Ok(reply.retry_after())
    }

    /// Reads every authorization of the order.
    pub async fn authorizations(&self) -> Result<Vec<Authorization>> {
        let mut out = Vec::with_capacity(self.state.authorizations.len());
        for url in &self.state.authorizations {
            out.push(self.account.authorization(url).await?);
        }
        Ok(out)
    }

    /// Waits until the order is `ready` (all authorizations valid).
    pub async fn poll_ready(&mut self) -> Result<&OrderState> {
        self.poll_until(Status::Ready).await
    }

    /// Waits until the order is `valid` (the certificate is issued).
    pub async fn poll_valid(&mut self) -> Result<&OrderState> {
        self.poll_until(Status::Valid).await
    }

    /// Polls until the status is `wanted`; `pending`, `processing` and (on
    /// the way to valid) `ready` are waited out, honouring Retry-After and
    /// otherwise backing off, for at most the client's
    /// [`PollPolicy::max_wait`](crate::PollPolicy).
    async fn poll_until(&mut self, wanted: Status) -> Result<&OrderState> {
        let policy = self.account.client().poll_policy();
        let started = Instant::now();
        let mut interval = policy.interval;
        let mut retry_after = None;
        loop {
            let status = self.state.status;
            if status == wanted {
                return Ok(&self.state);
            }
            let transient = matches!(status, Status::Pending | Status::Processing)
                || (status == Status::Ready && wanted == Status::Valid);
            if !transient {
                return Err(Error::Unexpected {
                    url: self.url.clone(),
                    status,
                    wanted,
                    problem: self.state.error.clone().map(Box::new),
                });
            }
            let wait = retry_after.unwrap_or(interval);
            let waited = started.elapsed();
            if waited + wait > policy.max_wait {
                return Err(Error::PollTimeout {
                    url: self.url.clone(),
                    status,
                    wanted,
                    waited,
                });
            }
            tokio::time::sleep(wait).await;
            interval = (interval * 2).min(policy.max_interval);
            retry_after = self.fetch().await?;
        }
    }

    /// Finalizes a ready order with a CSR (DER) naming exactly the order's
    /// identifiers (RFC 8555 §7.4). The order is usually `processing` or
    /// `valid` afterwards: follow with [`Order::poll_valid`].
    pub async fn finalize(&mut self, csr_der: &[u8]) -> Result<&OrderState> {
        let payload = json!({"csr": b64(csr_der)});
        let reply = self
            .account
            .post(&self.state.finalize, Some(&payload), MAX_JSON_LEN)
            .await?;
        self.state = reply.ok_json()?;
        Ok(&self.state)
    }

    /// Downloads the certificate chain of a valid order (RFC 8555 §7.4.2):
    /// DER, leaf first.
    pub async fn certificate_chain(&self) -> Result<Vec<Vec<u8>>> {
        let Some(url) = &self.state.certificate else {
            return Err(Error::InvalidInput(format!(
                "the order {} is {:?} and has no certificate yet; wait with poll_valid first",
                self.url, self.state.status
            )));
        };
        let reply = self.account.post(url, None, MAX_CHAIN_LEN).await?;
        if let Some(e) = reply.problem() {
            return Err(e);
        }
        pem_chain(&reply)
    }
}

impl Account {
    /// Reads an authorization (POST-as-GET).
    pub async fn authorization(&self, url: &str) -> Result<Authorization> {
        let mut authz: Authorization = self.post(url, None, MAX_JSON_LEN).await?.ok_json()?;
        authz.url = url.to_owned();
        Ok(authz)
    }

    /// Reads a challenge (POST-as-GET).
    pub async fn challenge(&self, url: &str) -> Result<Challenge> {
        self.post(url, None, MAX_JSON_LEN).await?.ok_json()
    }

    /// Deactivates an authorization (RFC 8555 §7.5.2), e.g. one the
    /// client no longer wants to be able to use.
    pub async fn deactivate_authorization(&self, url: &str) -> Result<Authorization> {
        let payload = json!({"status": "deactivated"});
        let mut authz: Authorization = self
            .post(url, Some(&payload), MAX_JSON_LEN)
            .await?
            .ok_json()?;
        authz.url = url.to_owned();
        Ok(authz)
    }
}

/// The certificates of an application/pem-certificate-chain body
/// (RFC 8555 §9.1), in order.
fn pem_chain(reply: &Reply) -> Result<Vec<Vec<u8>>> {
    let mut chain = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&reply.body) {
        let cert = cert.map_err(|e| {
            Error::bad_response(&reply.url, format!("the certificate chain is not PEM: {e}"))
        })?;
        chain.push(cert.as_ref().to_vec());
    }
    if chain.is_empty() {
        return Err(Error::bad_response(
            &reply.url,
            "the certificate chain holds no CERTIFICATE block",
        ));
    }
    Ok(chain)
}
