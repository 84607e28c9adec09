//! An ACME server (RFC 8555) for MIMI identity authorities, split the way
//! Boulder is: the web front end ([`wfe`]) authenticates requests and is the
//! only place that speaks HTTP and problem documents; the registration
//! authority ([`ra`]) runs the state machine; the validation authority
//! ([`va`]) proves control of identifiers; the CA side ([`ca`]) issues through
//! `mimi-credentials`; the storage authority ([`sa`]) holds all state.
//!
//! Profiles (draft-ietf-acme-profiles): `tls-server` (TLS server
//! certificates from the TLS root, `dns` + `http-01`), `domain-ca` (a
//! provider's name-constrained domain CA from the identity root, for accounts
//! with external account binding) and `phone-ca` (a provider's phone-number
//! CA: a `TNAuthList` identifier proved with `sms-link-00`, codes sent through
//! an [`sms::SmsGateway`], plus the provider's domain with `http-01`).
//!
//! Accounts can be updated, deactivated and rolled over to a new key;
//! certificates revoked by their account or their key. Each root publishes a
//! CRL of what it revoked ([`crl`], at `/acme/crl/identity-root` and
//! `/acme/crl/tls-root`), which providers relay to clients; renewal
//! information (ARI, RFC 9773) suggests when to renew.
//!
//! The same server runs as a provider's **domain CA** ([`domain_ca_router`],
//! docs/enrollment.md): identifiers `mimi-user` and `mimi-device` (and
//! `TNAuthList` through the phone-number CAs it holds), profiles `device`,
//! `user` and `user-ca`, accounts pre-authorized by external account binding
//! keys that the provider's registrar account creates with `mimiNewEab`, and
//! the CRLs of the domain CA (`/acme/crl/domain-ca`) and each phone-number CA
//! (`/acme/crl/phone-ca/<n>`).
//!
//! Departures from RFC 8555 are listed in docs/acme-divergences.md;
//! `sms-link-00` is specified in docs/sms-link-00.md.

use std::sync::Arc;

pub mod ca;
pub mod crl;
pub mod jws;
pub mod nonce;
pub mod objects;
pub mod problem;
pub mod ra;
pub mod ratelimit;
pub mod sa;
pub mod sms;
pub mod va;
pub mod wfe;

pub use ca::{DomainCa, DomainCaError, Issuers, Issuing, Lifetimes, Profile};
pub use problem::{AcmeError, ErrorType, Problem};
pub use ratelimit::{Limit, Limits};
pub use sa::{AcmeStore, CrlIssuer, EabKind, NewEab, SqliteStore};
pub use sms::{OutboxGateway, SmsGateway, WebhookGateway};
pub use va::ResolverMap;

/// Builds the ACME router for an authority reachable at `base`
/// (`https://host:port`, no trailing slash) that sends `sms-link-00` codes
/// through `sms`, with the rate limits and code limits `limits`
/// (`Limits::default()` for the usual ones).
pub fn router<S: AcmeStore>(
    store: S,
    issuers: Issuers,
    resolve: ResolverMap,
    sms: Arc<dyn SmsGateway>,
    base: &str,
    limits: Limits,
) -> Result<axum::Router, AcmeError> {
    serve(
        store,
        Issuing::Authority(Box::new(issuers)),
        resolve,
        sms,
        base,
        limits,
    )
}

/// Builds the ACME router of the domain CA `ca` reachable at `base`
/// (`https://host:port`, no trailing slash), with the rate limits `limits`.
/// It validates nothing itself: its accounts are pre-authorized by external
/// account binding (docs/enrollment.md).
pub fn domain_ca_router<S: AcmeStore>(
    store: S,
    ca: DomainCa,
    base: &str,
    limits: Limits,
) -> Result<axum::Router, AcmeError> {
    serve(
        store,
        Issuing::DomainCa(Box::new(ca)),
        ResolverMap::new(),
        Arc::new(sms::NoGateway),
        base,
        limits,
    )
}

/// Creates a registrar external account binding key (docs/enrollment.md)
/// in a domain CA's database: a random kid (16 bytes, base64url) and HMAC
/// key (32 bytes). The account it binds is the registrar's.
pub async fn create_registrar_eab<S: AcmeStore>(
    store: &S,
    now: i64,
) -> Result<(String, Vec<u8>), sa::StoreError> {
    use base64::Engine;
    let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ra::random_bytes::<16>());
    let hmac_key = ra::random_bytes::<32>().to_vec();
    store
        .add_eab(&NewEab {
            kid: kid.clone(),
            hmac_key: hmac_key.clone(),
            kind: EabKind::Registrar,
            identifiers: Vec::new(),
            expires: None,
            created_by: None,
            created_at: now,
        })
        .await?;
    Ok((kid, hmac_key))
}

fn serve<S: AcmeStore>(
    store: S,
    issuers: Issuing,
    resolve: ResolverMap,
    sms: Arc<dyn SmsGateway>,
    base: &str,
    limits: Limits,
) -> Result<axum::Router, AcmeError> {
    let validator = va::Validator::new(resolve)?;
    let crls = crl::CrlPublisher::for_issuers(issuers.crl_issuers());
    let ra = Arc::new(ra::Ra {
        store,
        issuers,
        validator,
        sms,
        buckets: ratelimit::TokenBuckets::new(limits.max_tracked_keys),
        limits,
        crls,
    });
    let wfe = Arc::new(wfe::Wfe {
        ra,
        nonces: nonce::NonceService::new(),
        base: base.trim_end_matches('/').to_owned(),
    });
    Ok(wfe::router(wfe))
}
