//! An ACME client (RFC 8555) for MIMI: providers get TLS and domain-CA
//! certificates from the identity authority, registrars ask their domain
//! CA for external account bindings, clients enroll device certificates
//! and renew them when renewal information (RFC 9773) says so.
//!
//! What it does:
//! - the directory, a replay-nonce pool with one retry after `badNonce`
//!   (§6.5), every POST a flattened JWS signed with an ES256 or EdDSA
//!   [`AccountKey`] (`jwk` for newAccount and revocation by certificate
//!   key, `kid` otherwise), POST-as-GET for reading (§6.3);
//! - accounts with external account binding (§7.3.4), key rollover,
//!   deactivation; orders for **any** identifier type (`dns`, RFC 9448
//!   `TNAuthList`, MIMI's `mimi-user`/`mimi-device`) with an ACME profile
//!   and ARI's `replaces`; challenge answers with any JSON payload
//!   (`sms-link-00` needs one); finalize; the chain as DER, leaf first;
//!   revocation by the account or the certificate key;
//! - ARI: the certificate identifier and the suggested window, with a
//!   renewal time picked in it;
//! - MIMI's `mimiNewEab` resource of domain CAs ([`Account::request_eab`]).
//!
//! Every answer is read within a size bound ([`MAX_JSON_LEN`],
//! [`MAX_CHAIN_LEN`]); refusals arrive as [`Error::Problem`] with the RFC
//! 7807 problem document; polling honours Retry-After within a total
//! bound ([`PollPolicy`]). The ACME object types it shares with the server
//! (identifiers, statuses) come from `mimi_acme::objects`.
//!
//! Not here: serving http-01 tokens (the caller serves
//! [`Account::key_authorization`]), CSR building, storing keys.

mod account;
mod ari;
mod client;
mod error;
mod key;
mod order;
mod time;

pub use account::{Account, AccountState, IssuedEab, NewAccount, RevocationReason};
pub use ari::{RenewalInfo, cert_id};
pub use client::{
    AcmeClient, AcmeClientBuilder, Directory, DirectoryMeta, MAX_CHAIN_LEN, MAX_JSON_LEN,
    PollPolicy,
};
pub use error::{ACME_ERROR_PREFIX, Error, Problem, Result, Subproblem};
pub use key::{AccountKey, ExternalAccountBinding, KeyAlg};
pub use mimi_acme::objects::{Identifier, Status};
pub use order::{Authorization, Challenge, Order, OrderState};

#[cfg(test)]
mod tests;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
