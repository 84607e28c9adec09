//! The registration authority: the ACME state machine. It gets requests that
//! the web front end has already authenticated, checks them against policy
//! and the current state, and drives validation and issuance.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_identifiers::Domain;

use crate::ca::{Issuers, Profile, unix_seconds};
use crate::jws::{self, Jwk, KeyRef};
use crate::objects::{Identifier, NewAccount, NewOrder, Status};
use crate::problem::{AcmeError, ErrorType};
use crate::ratelimit::{Limits, Spend, TokenBuckets};
use crate::sa::{
    AccountRecord, AcmeStore, AuthzRecord, CertificateRecord, ChallengeRecord, NewCertificate,
    NewOrderRecord, OrderRecord, StoreError,
};
use crate::va::Validator;

/// Most identifiers in one order.
pub const MAX_IDENTIFIERS: usize = 10;
/// How long an order and its authorizations stay usable.
pub const ORDER_LIFETIME: Duration = Duration::from_secs(24 * 3600);

pub struct Ra<S> {
    pub store: S,
    pub issuers: Issuers,
    pub validator: Validator,
    pub limits: Limits,
    /// The rate limits' state (in memory: a restart forgives all debts).
    pub buckets: TokenBuckets,
}

impl<S> std::fmt::Debug for Ra<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ra").finish_non_exhaustive()
    }
}

pub(crate) fn store_error(e: StoreError) -> AcmeError {
    AcmeError::internal("the authority's database failed", e)
}

fn now() -> i64 {
    unix_seconds(SystemTime::now())
}

/// The key authorization of RFC 8555 §8.1.
pub fn key_authorization(token: &str, jwk: &Jwk) -> String {
    format!("{token}.{}", jwk.thumbprint())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    URL_SAFE_NO_PAD.encode(bytes)
}

impl<S: AcmeStore> Ra<S> {
    /// newAccount: returns the account and whether it was created.
    pub async fn new_account(
        &self,
        jwk: &Jwk,
        request: NewAccount,
        new_account_url: &str,
    ) -> Result<(AccountRecord, bool), AcmeError> {
        let thumbprint = jwk.thumbprint();
        if let Some(existing) = self
            .store
            .account_by_thumbprint(&thumbprint)
            .await
            .map_err(store_error)?
        {
            return Ok((existing, false));
        }
        if request.only_return_existing == Some(true) {
            return Err(AcmeError::new(
                ErrorType::AccountDoesNotExist,
                "no account exists for this key; create one without onlyReturnExisting",
            ));
        }
        check_contacts(&request.contact)?;
        let eab_kid = match &request.external_account_binding {
            Some(eab) => Some(self.check_eab(eab, jwk, new_account_url).await?),
            None => None,
        };
        let id = match self
            .store
            .create_account(
                &thumbprint,
                &jwk.to_json(),
                &request.contact,
                eab_kid.as_deref(),
                now(),
            )
            .await
        {
            Ok(id) => id,
            Err(StoreError::EabUnavailable(kid)) => {
                return Err(AcmeError::unauthorized(format!(
                    "externalAccountBinding: key {kid} is unknown or already used; each key binds one account, ask the authority's operator for a new one"
                )));
            }
            // A concurrent newAccount with the same key won the race.
            Err(StoreError::DuplicateAccount) => {
                let existing = self
                    .store
                    .account_by_thumbprint(&thumbprint)
                    .await
                    .map_err(store_error)?;
                return existing.map(|a| (a, false)).ok_or_else(|| {
                    AcmeError::internal("account vanished", "duplicate then missing")
                });
            }
            Err(e) => return Err(store_error(e)),
        };
        let account = self.account(id).await?;
        Ok((account, true))
    }

    /// Checks an external account binding (RFC 8555 §7.3.4): a JWS, MACed
    /// with a key the operator issued, over the account's public key.
    async fn check_eab(
        &self,
        eab: &serde_json::Value,
        jwk: &Jwk,
        new_account_url: &str,
    ) -> Result<String, AcmeError> {
        // RFC 8555 §7.3.4 only says to reject a binding that fails a check.
        // Like Pebble: a binding of the wrong shape is malformed; one that is
        // well formed but does not authorize this key is unauthorized.
        let malformed =
            |detail: String| AcmeError::malformed(format!("externalAccountBinding: {detail}"));
        let refused =
            |detail: String| AcmeError::unauthorized(format!("externalAccountBinding: {detail}"));
        let bytes = serde_json::to_vec(eab).map_err(|e| malformed(e.to_string()))?;
        let inner = jws::parse(&bytes).map_err(|e| match e {
            // The generic message would list the request algorithms.
            jws::JwsError::UnsupportedAlg(alg) => malformed(format!(
                "alg {alg:?} is not supported; MAC the binding with HS256"
            )),
            e => malformed(e.to_string()),
        })?;
        if inner.protected.alg != jws::Alg::Hs256 {
            return Err(malformed(format!(
                "alg is {}; a binding is MACed with HS256 and the key from the authority, not signed",
                inner.protected.alg
            )));
        }
        if inner.protected.nonce.is_some() {
            return Err(malformed(
                "carries a nonce; the binding's protected header has none".into(),
            ));
        }
        if inner.protected.url != new_account_url {
            return Err(malformed(format!(
                "its url {:?} is not the newAccount URL {new_account_url:?}",
                inner.protected.url
            )));
        }
        let KeyRef::Kid(kid) = &inner.protected.key else {
            return Err(malformed(
                "names its key with jwk; name the MAC key with the kid the authority gave you"
                    .into(),
            ));
        };
        let key = self
            .store
            .unused_eab_key(kid)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                refused(format!(
                    "key {kid} is unknown or already used; each key binds one account, ask the authority's operator for a new one"
                ))
            })?;
        inner.verify_hmac(&key).map_err(|_| {
            refused(format!(
                "the MAC does not verify under key {kid}; MAC with the HMAC key that came with that kid"
            ))
        })?;
        let bound: serde_json::Value = inner
            .payload_json()
            .map_err(|e| malformed(format!("the payload is not a JWK: {e}")))?;
        let bound = Jwk::from_json(&bound)
            .map_err(|e| malformed(format!("the payload is not a JWK: {e}")))?;
        if bound != *jwk {
            return Err(refused(
                "it binds another key than the one signing this request; put this request's jwk in the binding's payload".into(),
            ));
        }
        Ok(kid.clone())
    }

    pub async fn account(&self, id: i64) -> Result<AccountRecord, AcmeError> {
        self.store
            .account(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| AcmeError::new(ErrorType::AccountDoesNotExist, "no such account"))
    }

    /// newOrder: validates identifiers and profile, and creates the order with
    /// an authorization and challenges per identifier.
    pub async fn new_order(
        &self,
        account: &AccountRecord,
        request: NewOrder,
    ) -> Result<OrderRecord, AcmeError> {
        if request.not_before.is_some() || request.not_after.is_some() {
            return Err(AcmeError::malformed(
                "notBefore and notAfter are not supported; each profile sets the validity",
            ));
        }
        if request.replaces.is_some() {
            return Err(AcmeError::malformed("replaces (ARI) is not supported yet"));
        }
        let profile = match request.profile.as_deref() {
            None => Profile::DEFAULT,
            Some(name) => Profile::from_name(name).ok_or_else(|| {
                AcmeError::new(
                    ErrorType::InvalidProfile,
                    format!("unknown profile {name:?}; the directory lists the profiles offered"),
                )
            })?,
        };
        if profile == Profile::DomainCa && account.eab_kid.is_none() {
            return Err(AcmeError::new(
                ErrorType::ExternalAccountRequired,
                "the domain-ca profile is only for accounts created with external account binding; create an account with the EAB key the authority's operator gave you",
            ));
        }
        let identifiers = check_identifiers(request.identifiers)?;
        // Only a request that would succeed is charged, and a refused one
        // creates nothing.
        self.charge_new_order(account, &identifiers)?;
        let authorizations = identifiers
            .into_iter()
            .map(|id| (id, vec![("http-01".to_owned(), random_token())]))
            .collect();
        let record = NewOrderRecord {
            account_id: account.id,
            profile: profile.name().to_owned(),
            expires: now() + ORDER_LIFETIME.as_secs() as i64,
            authorizations,
        };
        let id = self
            .store
            .create_order(&record)
            .await
            .map_err(store_error)?;
        self.order_for(account, id).await
    }

    /// Takes the rate-limit tokens of a new order (RFC 8555 §6.6): one from
    /// the account's newOrder bucket and, since every order makes a new
    /// authorization per identifier, one from the bucket of each identifier
    /// *for this account*. Counting identifiers across accounts would let
    /// anyone spend a domain's budget and lock its owner out, before proving
    /// anything.
    fn charge_new_order(
        &self,
        account: &AccountRecord,
        identifiers: &[Identifier],
    ) -> Result<(), AcmeError> {
        let orders = self.limits.new_orders_per_account;
        let authzs = self.limits.new_authorizations_per_identifier;
        let spends: Vec<Spend> = std::iter::once(Spend {
            key: format!("new-order/account/{}", account.id),
            limit: orders,
            cost: 1,
        })
        .chain(identifiers.iter().map(|id| Spend {
            key: format!("new-authz/account/{}/{}/{}", account.id, id.type_, id.value),
            limit: authzs,
            cost: 1,
        }))
        .collect();
        let Err(denied) = self.buckets.try_spend(&spends) else {
            return Ok(());
        };
        let wait = denied.retry_after_secs();
        // Index 0 is the account's spend, index i the identifier i - 1.
        let detail = match denied.index.checked_sub(1).and_then(|i| identifiers.get(i)) {
            None => {
                format!("too many new orders from this account ({orders}); retry after {wait} s")
            }
            Some(id) => format!(
                "too many new authorizations for {} from this account ({authzs}); retry after {wait} s",
                id.value
            ),
        };
        Err(AcmeError::rate_limited(detail, wait))
    }

    /// An order of `account`, with expiry applied.
    pub async fn order_for(
        &self,
        account: &AccountRecord,
        id: i64,
    ) -> Result<OrderRecord, AcmeError> {
        let mut order = self
            .store
            .order(id)
            .await
            .map_err(store_error)?
            .filter(|o| o.account_id == account.id)
            .ok_or_else(|| not_found("order", id))?;
        if matches!(order.status, Status::Pending | Status::Ready) && order.expires < now() {
            order.status = Status::Invalid;
        }
        Ok(order)
    }

    pub async fn authorizations(&self, order: &OrderRecord) -> Result<Vec<AuthzRecord>, AcmeError> {
        self.store
            .authorizations_of_order(order.id)
            .await
            .map_err(store_error)
    }

    pub async fn authz_for(
        &self,
        account: &AccountRecord,
        id: i64,
    ) -> Result<AuthzRecord, AcmeError> {
        let mut authz = self
            .store
            .authorization(id)
            .await
            .map_err(store_error)?
            .filter(|a| a.account_id == account.id)
            .ok_or_else(|| not_found("authorization", id))?;
        if authz.status == Status::Pending && authz.expires < now() {
            authz.status = Status::Expired;
        }
        Ok(authz)
    }

    pub async fn challenges(&self, authz: &AuthzRecord) -> Result<Vec<ChallengeRecord>, AcmeError> {
        self.store
            .challenges_of(authz.id)
            .await
            .map_err(store_error)
    }

    pub async fn challenge_for(
        &self,
        account: &AccountRecord,
        id: i64,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        let challenge = self
            .store
            .challenge(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found("challenge", id))?;
        // Someone else's challenge is answered like a missing one, naming
        // the challenge asked for rather than its authorization.
        let authz = match self.authz_for(account, challenge.authz_id).await {
            Err(e) if e.status == Some(404) => return Err(not_found("challenge", id)),
            other => other?,
        };
        Ok((challenge, authz))
    }

    /// The client says a challenge is ready: validate it in the background
    /// (RFC 8555 §7.5.1). Answering again while it runs changes nothing.
    pub async fn respond_to_challenge(
        self: &Arc<Self>,
        account: &AccountRecord,
        jwk: &Jwk,
        id: i64,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        let (challenge, authz) = self.challenge_for(account, id).await?;
        if authz.status == Status::Expired {
            return Err(AcmeError::malformed(
                "the authorization has expired; place a new order",
            ));
        }
        let started = self
            .store
            .transition_challenge(id, Status::Pending, Status::Processing)
            .await
            .map_err(store_error)?;
        if started {
            let ra = Arc::clone(self);
            let key_authorization = key_authorization(&challenge.token, jwk);
            let domain = authz.identifier.value.clone();
            let token = challenge.token.clone();
            tokio::spawn(async move {
                let outcome = ra
                    .validator
                    .http01(&domain, &token, &key_authorization)
                    .await;
                let outcome = outcome.map(|()| now()).map_err(|e| e.problem());
                if let Err(e) = ra.store.record_validation(id, outcome).await {
                    tracing::error!(error = %e, challenge = id, "recording a validation failed");
                }
            });
        }
        self.challenge_for(account, id).await
    }

    /// finalize: the CSR must name exactly the order's identifiers.
    pub async fn finalize(
        &self,
        account: &AccountRecord,
        order_id: i64,
        csr_b64: &str,
    ) -> Result<OrderRecord, AcmeError> {
        let order = self.order_for(account, order_id).await?;
        if order.status != Status::Ready {
            let what_to_do = match order.status {
                Status::Pending => "finalize it once all its authorizations are valid",
                Status::Processing | Status::Valid => {
                    "it has been finalized already; fetch the order for its certificate"
                }
                _ => "it cannot be finalized any more; place a new order",
            };
            return Err(AcmeError::new(
                ErrorType::OrderNotReady,
                format!("the order is {}; {what_to_do}", order.status.as_str()),
            ));
        }
        let der = URL_SAFE_NO_PAD.decode(csr_b64).map_err(|_| {
            AcmeError::new(
                ErrorType::BadCsr,
                "csr is not base64url without padding; send the DER of the CSR, base64url-encoded",
            )
        })?;
        let csr = mimi_credentials::verify_csr(&der)
            .map_err(|e| AcmeError::new(ErrorType::BadCsr, e.to_string()))?;
        check_csr_names(&order, &csr)?;
        let profile = Profile::from_name(&order.profile).ok_or_else(|| {
            AcmeError::internal("stored order has an unknown profile", &order.profile)
        })?;
        let moved = self
            .store
            .transition_order(order.id, Status::Ready, Status::Processing, None)
            .await
            .map_err(store_error)?;
        if !moved {
            return Err(AcmeError::new(
                ErrorType::OrderNotReady,
                "the order is already being finalized",
            ));
        }
        let issued = match self.issuers.issue(profile, &order.identifiers, &csr) {
            Ok(issued) => issued,
            Err(e) => {
                let problem = e.problem();
                self.store
                    .transition_order(
                        order.id,
                        Status::Processing,
                        Status::Invalid,
                        Some(&problem),
                    )
                    .await
                    .map_err(store_error)?;
                return Err(e);
            }
        };
        let record = NewCertificate {
            order_id: order.id,
            account_id: account.id,
            serial: issued.serial_hex,
            chain_pem: issued.chain_pem,
            not_after: issued.not_after,
            issued_at: now(),
        };
        self.store
            .store_certificate(&record)
            .await
            .map_err(store_error)?;
        self.order_for(account, order.id).await
    }

    pub async fn certificate_for(
        &self,
        account: &AccountRecord,
        id: i64,
    ) -> Result<CertificateRecord, AcmeError> {
        self.store
            .certificate(id)
            .await
            .map_err(store_error)?
            .filter(|c| c.account_id == account.id)
            .ok_or_else(|| not_found("certificate", id))
    }
}

fn not_found(what: &str, id: i64) -> AcmeError {
    AcmeError::not_found(format!(
        "this account has no {what} {id}; use the URLs the server returned to this account"
    ))
}

/// Most contacts per account.
const MAX_CONTACTS: usize = 4;

/// RFC 8555 §7.3: only `mailto:` is supported; another scheme is
/// `unsupportedContact`, a `mailto:` that is not one plain address is
/// `invalidContact`.
fn check_contacts(contacts: &[String]) -> Result<(), AcmeError> {
    if contacts.len() > MAX_CONTACTS {
        return Err(AcmeError::new(
            ErrorType::InvalidContact,
            format!(
                "{} contacts given; send at most {MAX_CONTACTS}",
                contacts.len()
            ),
        ));
    }
    for c in contacts {
        let Some(addr) = strip_prefix_ignore_case(c, "mailto:") else {
            return Err(AcmeError::new(
                ErrorType::UnsupportedContact,
                format!("contact {c:?} is not a mailto: URL, the only kind this server accepts"),
            ));
        };
        if let Err(e) = mimi_identifiers::parse(&format!("mailto:{addr}")) {
            return Err(AcmeError::new(
                ErrorType::InvalidContact,
                format!(
                    "contact {c:?} is not a mailto: URL of exactly one address ({e}); send e.g. \"mailto:ops@example.com\""
                ),
            ));
        }
    }
    Ok(())
}

/// URI schemes compare case-insensitively (RFC 3986 §3.1).
fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Identifiers of a new order: `dns` names that are valid domains, no
/// wildcards, no duplicates; lowercased.
fn check_identifiers(identifiers: Vec<Identifier>) -> Result<Vec<Identifier>, AcmeError> {
    if identifiers.is_empty() {
        return Err(AcmeError::malformed(
            "an order needs at least one identifier",
        ));
    }
    if identifiers.len() > MAX_IDENTIFIERS {
        // Boulder: malformed ("Order cannot contain more than N identifiers").
        return Err(AcmeError::malformed(format!(
            "the order has {} identifiers; split it into orders of at most {MAX_IDENTIFIERS}",
            identifiers.len()
        )));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(identifiers.len());
    for id in identifiers {
        if id.type_ != "dns" {
            return Err(AcmeError::new(
                ErrorType::UnsupportedIdentifier,
                format!("identifier type {:?} is not offered; use dns", id.type_),
            ));
        }
        // A wildcard is a well-formed ACME identifier (RFC 8555 §7.1.3) that
        // this server will not issue for: rejectedIdentifier.
        if id.value.starts_with("*.") {
            return Err(AcmeError::new(
                ErrorType::RejectedIdentifier,
                format!(
                    "{:?}: wildcard names are not issued; order each name explicitly",
                    id.value
                ),
            ));
        }
        // A value that is no domain name at all makes the request malformed
        // (as in Boulder's policy); rejectedIdentifier is for names the
        // server could issue for but will not.
        let domain = Domain::parse(&id.value).map_err(|e| {
            AcmeError::malformed(format!("{:?} is not a domain name: {e}", id.value))
        })?;
        let id = Identifier {
            type_: "dns".into(),
            value: domain.to_string(),
        };
        if out.contains(&id) {
            return Err(AcmeError::malformed(format!(
                "{} is listed twice; list each identifier once",
                id.value
            )));
        }
        out.push(id);
    }
    Ok(out)
}

/// The joint key/identity check of draft-barnes-mimi-identity-arch §4.1: the
/// CSR must name exactly the identifiers that were validated, nothing more or
/// less, so that no one obtains a certificate for names bound to another key.
fn check_csr_names(
    order: &OrderRecord,
    csr: &mimi_credentials::VerifiedCsr,
) -> Result<(), AcmeError> {
    let mut wanted: Vec<&str> = order.identifiers.iter().map(|i| i.value.as_str()).collect();
    let mut got: Vec<&str> = csr.dns_names.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    got.sort_unstable();
    got.dedup();
    if wanted != got || !csr.uris.is_empty() || csr.tn_auth_list.is_some() {
        return Err(AcmeError::new(
            ErrorType::BadCsr,
            format!(
                "the CSR names {got:?}{}; it must name exactly the order's identifiers {wanted:?}",
                if csr.uris.is_empty() && csr.tn_auth_list.is_none() {
                    ""
                } else {
                    " and more"
                }
            ),
        ));
    }
    Ok(())
}
