//! The registration authority: the ACME state machine. It gets requests that
//! the web front end has already authenticated, checks them against policy
//! and the current state, and drives validation and issuance.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::{Certificate, TnAuthList, TnEntry};
use mimi_identifiers::{Domain, PhoneNumber};

use crate::ca::{self, Issuing, Profile, unix_seconds};
use crate::crl::CrlPublisher;
use crate::jws::{self, Jwk, KeyRef};
use crate::objects::{
    AccountUpdate, ChallengeAnswer, DNS, HTTP_01, Identifier, KeyChange, NewAccount, NewOrder,
    RevokeCert, SMS_LINK_00, Status, TN_AUTH_LIST,
};
use crate::problem::{AcmeError, ErrorType};
use crate::ratelimit::{Limits, Spend, TokenBuckets};
use crate::sa::{
    AccountRecord, AcmeStore, AuthzRecord, CertificateRecord, ChallengeRecord, CrlIssuer,
    NewCertificate, NewOrderRecord, OrderRecord, StoreError,
};
use crate::sms::{self, Sms, SmsGateway};
use crate::va::Validator;

pub mod enrollment;

/// Most identifiers in one order.
pub const MAX_IDENTIFIERS: usize = 10;
/// How long an order and its authorizations stay usable.
pub const ORDER_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long an ARI client should wait before asking again (RFC 9773 §4.3:
/// Retry-After), as Let's Encrypt answers.
pub const ARI_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);
/// The revocation reasons (RFC 5280 §5.3.1) a revokeCert may give:
/// certificateHold (6) is not offered (revocation here is final),
/// removeFromCRL (8) only exists in delta CRLs, and aACompromise (10) is
/// for attribute certificates.
pub const REVOCATION_REASONS: [i64; 7] = [0, 1, 2, 3, 4, 5, 9];

pub struct Ra<S> {
    pub store: S,
    /// The identity authority's roots, or a domain CA.
    pub issuers: Issuing,
    pub validator: Validator,
    /// Where `sms-link-00` codes go.
    pub sms: Arc<dyn SmsGateway>,
    pub limits: Limits,
    /// The rate limits' state (in memory: a restart forgives all debts).
    pub buckets: TokenBuckets,
    /// The roots' CRLs, as last signed.
    pub crls: CrlPublisher,
}

/// Who asks for a revocation (RFC 8555 §7.6).
#[derive(Debug, Clone, Copy)]
pub enum Revoker<'a> {
    /// An account (`kid`): it must be the one that ordered the certificate.
    Account(&'a AccountRecord),
    /// A request signed by a key carried as `jwk`: it must be the
    /// certificate's own key.
    CertificateKey(&'a Jwk),
}

/// When a certificate should be renewed (RFC 9773 §4.2), in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewalWindow {
    pub start: i64,
    pub end: i64,
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

/// What an `sms-link-00` completion must carry, before base64url
/// (docs/sms-link-00.md): SHA-256(code || token || "." || thumbprint), which
/// proves both the code the phone received and the account key.
pub fn sms_key_authorization_digest(code: &str, token: &str, thumbprint: &str) -> Vec<u8> {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(code.as_bytes());
    ctx.update(token.as_bytes());
    ctx.update(b".");
    ctx.update(thumbprint.as_bytes());
    ctx.finish().as_ref().to_vec()
}

/// Reads the value of a `TNAuthList` identifier (RFC 9448 §3): base64url of
/// the DER of an RFC 8226 TNAuthList that, here, holds exactly one telephone
/// number (draft-peterson-mimi-idprover §4) that is an E.164 number. A value
/// that is not such DER is `malformed`; a well-formed list this server will
/// not certify (several entries, a range, an SPC, a number that is not
/// E.164) is `rejectedIdentifier`.
pub fn tn_identifier(value: &str) -> Result<(TnAuthList, PhoneNumber), AcmeError> {
    let der = URL_SAFE_NO_PAD.decode(value).map_err(|_| {
        AcmeError::malformed(format!(
            "the TNAuthList identifier value {} is not base64url without padding; send base64url(DER of the TNAuthList) (RFC 9448 §3)",
            shorten(value)
        ))
    })?;
    let list = TnAuthList::from_der(&der).map_err(|e| {
        AcmeError::malformed(format!(
            "the TNAuthList identifier value is not an RFC 8226 TNAuthList: {e}; send the DER of a TNAuthList with one `one` entry holding the number's digits"
        ))
    })?;
    // from_der is strict DER, so this only catches what a later change to
    // it might let through; the identifier's value must have one spelling.
    if list.to_der() != der {
        return Err(AcmeError::malformed(
            "the TNAuthList identifier value is not in DER; encode it with DER",
        ));
    }
    let rejected = |detail: String| AcmeError::new(ErrorType::RejectedIdentifier, detail);
    let number = match list.entries() {
        [TnEntry::One(n)] => n.clone(),
        [TnEntry::Range { start, count }] => {
            return Err(rejected(format!(
                "the TNAuthList holds a range ({count} numbers from {}); only single numbers are certified here, each proved by its own SMS: order one number per order",
                start.as_str()
            )));
        }
        [TnEntry::ServiceProviderCode(_)] => {
            return Err(rejected(
                "the TNAuthList holds a service provider code; only single telephone numbers are certified here (a `one` entry)".into(),
            ));
        }
        entries => {
            return Err(rejected(format!(
                "the TNAuthList holds {} entries; a TNAuthList identifier here holds exactly one telephone number (draft-peterson-mimi-idprover §4): order one number per order",
                entries.len()
            )));
        }
    };
    let phone = PhoneNumber::parse(&format!("+{}", number.as_str())).map_err(|e| {
        rejected(format!(
            "the TNAuthList number {:?} is not an E.164 number ({e}); give the 1 to 15 digits of the international number, country code first, without '+'",
            number.as_str()
        ))
    })?;
    Ok((list, phone))
}

/// The TNAuthList of a stored (already checked) `TNAuthList` identifier.
pub(crate) fn tn_auth_list_of(value: &str) -> Result<TnAuthList, AcmeError> {
    tn_identifier(value)
        .map(|(list, _)| list)
        .map_err(|e| AcmeError::internal("a stored TNAuthList identifier is unreadable", e))
}

/// An identifier in words, for messages: a number for `TNAuthList`.
fn describe(id: &Identifier) -> String {
    match (id.type_.as_str(), tn_identifier(&id.value)) {
        (TN_AUTH_LIST, Ok((_, phone))) => phone.to_string(),
        _ => id.value.clone(),
    }
}

/// At most 40 characters of what a client sent, for messages.
pub(crate) fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(40).collect();
        format!("{head:?}…")
    }
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system RNG works");
    bytes
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
        if request.external_account_binding.is_none() && self.issuers.domain_ca().is_some() {
            return Err(AcmeError::new(
                ErrorType::ExternalAccountRequired,
                "a domain CA creates accounts only with external account binding: a client with the EAB key its provider obtained from the registrar (mimiNewEab), the registrar with a key from the domain CA's operator",
            ));
        }
        let eab_kid = match &request.external_account_binding {
            Some(eab) => Some(self.check_eab(eab, jwk, new_account_url).await?),
            None => None,
        };
        let eab = eab_kid
            .as_deref()
            .zip(request.external_account_binding.as_ref());
        let id = match self
            .store
            .create_account(&thumbprint, &jwk.to_json(), &request.contact, eab, now())
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
        let unavailable = || {
            refused(format!(
                "key {kid} is unknown or already used; each key binds one account, ask the authority's operator for a new one"
            ))
        };
        let record = self
            .store
            .eab(kid)
            .await
            .map_err(store_error)?
            .filter(|r| r.account_id.is_none())
            .ok_or_else(unavailable)?;
        inner.verify_hmac(&record.hmac_key).map_err(|_| {
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
        // Checked after the MAC, so that only the key's holder learns that
        // it expired.
        if record.expires.is_some_and(|at| at <= now()) {
            return Err(refused(format!(
                "key {kid} has expired unused; ask the registrar for a new one"
            )));
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
        let profile = match request.profile.as_deref() {
            None => self.issuers.default_profile(),
            Some(name) => self
                .issuers
                .profiles()
                .iter()
                .copied()
                .find(|p| p.name() == name)
                .ok_or_else(|| {
                    AcmeError::new(
                        ErrorType::InvalidProfile,
                        format!(
                            "unknown profile {name:?}; the directory lists the profiles offered"
                        ),
                    )
                })?,
        };
        if matches!(profile, Profile::DomainCa | Profile::PhoneCa) && account.eab_kid.is_none() {
            return Err(AcmeError::new(
                ErrorType::ExternalAccountRequired,
                format!(
                    "the {} profile is only for accounts created with external account binding; create an account with the EAB key the authority's operator gave you",
                    profile.name()
                ),
            ));
        }
        let identifiers = match self.issuers.domain_ca() {
            None => check_identifiers(profile, request.identifiers)?,
            Some(ca) => {
                self.check_domain_order(ca, account, profile, &request.identifiers)
                    .await?
            }
        };
        // At a domain CA the account's EAB key authorized the identifiers:
        // no challenges.
        let authorized = self.issuers.domain_ca().is_some();
        let replaces = match &request.replaces {
            Some(cert_id) => Some(self.check_replaces(account, cert_id, &identifiers).await?),
            None => None,
        };
        // Only a request that would succeed is charged, and a refused one
        // creates nothing.
        self.charge_new_order(account, &identifiers)?;
        // A number is proved only by sms-link-00, and sms-link-00 is offered
        // only for numbers: http-01 says nothing about who holds a phone.
        let authorizations = identifiers
            .into_iter()
            .map(|id| {
                if authorized {
                    return (id, Vec::new());
                }
                let challenge = if id.type_ == TN_AUTH_LIST {
                    SMS_LINK_00
                } else {
                    HTTP_01
                };
                (id, vec![(challenge.to_owned(), random_token())])
            })
            .collect();
        let record = NewOrderRecord {
            account_id: account.id,
            profile: profile.name().to_owned(),
            expires: now() + ORDER_LIFETIME.as_secs() as i64,
            authorizations,
            replaces,
            authorized,
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
                describe(id)
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

    /// A client answers a challenge (RFC 8555 §7.5.1): `{}` says it is ready
    /// (http-01 is then validated in the background; sms-link-00 sends the
    /// code), `{"keyAuthorization": ...}` completes an sms-link-00 challenge.
    pub async fn respond_to_challenge(
        self: &Arc<Self>,
        account: &AccountRecord,
        jwk: &Jwk,
        id: i64,
        answer: ChallengeAnswer,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        let (challenge, authz) = self.challenge_for(account, id).await?;
        if authz.status == Status::Expired {
            return Err(AcmeError::malformed(
                "the authorization has expired; place a new order",
            ));
        }
        match (challenge.type_.as_str(), answer) {
            (HTTP_01, ChallengeAnswer::Ready) => {
                self.start_http01(account, jwk, &challenge, &authz).await
            }
            (HTTP_01, ChallengeAnswer::KeyAuthorization(_)) => Err(AcmeError::malformed(
                "an http-01 challenge is answered with the empty object {} as payload; the key authorization is served over HTTP, not sent here",
            )),
            (SMS_LINK_00, ChallengeAnswer::Ready) => {
                self.send_sms_code(account, jwk, &challenge, &authz).await
            }
            (SMS_LINK_00, ChallengeAnswer::KeyAuthorization(key_authorization)) => {
                self.complete_sms(account, id, &key_authorization).await
            }
            (other, _) => Err(AcmeError::internal(
                "a stored challenge has an unknown type",
                other,
            )),
        }
    }

    /// http-01: validate in the background. Answering again while it runs
    /// changes nothing.
    async fn start_http01(
        self: &Arc<Self>,
        account: &AccountRecord,
        jwk: &Jwk,
        challenge: &ChallengeRecord,
        authz: &AuthzRecord,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        let id = challenge.id;
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

    /// sms-link-00, the client is ready (draft-peterson-mimi-idprover §4):
    /// send a fresh code to the number, naming the provider's domain, and
    /// keep only the digest the completion must match. The code itself
    /// leaves this function only inside the text handed to the gateway.
    async fn send_sms_code(
        &self,
        account: &AccountRecord,
        jwk: &Jwk,
        challenge: &ChallengeRecord,
        authz: &AuthzRecord,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        if challenge.status != Status::Pending {
            return Err(not_ready_for_code(challenge));
        }
        let order = self.order_for(account, authz.order_id).await?;
        if order.status != Status::Pending {
            return Err(AcmeError::malformed(format!(
                "the order is {}, so no code is sent for it; place a new order",
                order.status.as_str()
            )));
        }
        let (_, number) = tn_identifier(&authz.identifier.value)
            .map_err(|e| AcmeError::internal("a stored TNAuthList identifier is unreadable", e))?;
        let provider = order
            .identifiers
            .iter()
            .find(|i| i.type_ == DNS)
            .ok_or_else(|| {
                AcmeError::internal("a phone-ca order has no dns identifier", order.id)
            })?;
        // The per-number cap comes before any change, so that a refused
        // request changes nothing.
        self.charge_sms(&number)?;
        let code = sms::six_digit_code();
        let digest = sms_key_authorization_digest(&code, &challenge.token, &jwk.thumbprint());
        let lifetime = i64::try_from(self.limits.sms_code_lifetime.as_secs()).unwrap_or(i64::MAX);
        let expires = now().saturating_add(lifetime);
        let started = self
            .store
            .start_sms_code(challenge.id, &digest, expires)
            .await
            .map_err(store_error)?;
        if !started {
            // A concurrent ready request won.
            let (challenge, _) = self.challenge_for(account, challenge.id).await?;
            return Err(not_ready_for_code(&challenge));
        }
        let text = Sms {
            to: number.to_string(),
            text: sms::message_text(&provider.value, &code),
        };
        if let Err(e) = self.sms.send(&text).await {
            // The challenge goes back to pending, without a code, so that
            // the client can ask again; wrong answers stay counted.
            // SmsError never holds the message text.
            tracing::error!(error = %e, challenge = challenge.id, "sending an sms-link-00 code failed");
            self.store
                .abort_sms_code(challenge.id, &digest)
                .await
                .map_err(store_error)?;
            return Err(AcmeError::new(
                ErrorType::ServerInternal,
                "the authority could not send the SMS with the code; the challenge is pending again: POST {} to it again later to have a new code sent",
            ));
        }
        self.challenge_for(account, challenge.id).await
    }

    /// Takes a token from the number's SMS bucket, or refuses with
    /// `rateLimited`.
    fn charge_sms(&self, number: &PhoneNumber) -> Result<(), AcmeError> {
        let limit = self.limits.sms_codes_per_number;
        let spend = Spend {
            key: format!("sms/number/{}", number.digits()),
            limit,
            cost: 1,
        };
        self.buckets.try_spend(&[spend]).map_err(|denied| {
            let wait = denied.retry_after_secs();
            AcmeError::rate_limited(
                format!(
                    "too many codes sent to {number} ({limit}), by any account; retry after {wait} s"
                ),
                wait,
            )
        })
    }

    /// sms-link-00, the client completes (modelled on RFC 8823 §3.2): the
    /// keyAuthorization must be base64url(SHA-256(code || token || "." ||
    /// thumbprint)) for the code sent and this account's key, within the
    /// code's lifetime and the allowed wrong answers.
    async fn complete_sms(
        &self,
        account: &AccountRecord,
        id: i64,
        key_authorization: &str,
    ) -> Result<(ChallengeRecord, AuthzRecord), AcmeError> {
        // The payload's shape first: a malformed answer counts nothing.
        let answer = URL_SAFE_NO_PAD
            .decode(key_authorization)
            .ok()
            .filter(|a| a.len() == 32)
            .ok_or_else(|| {
                AcmeError::malformed(
                    "keyAuthorization is not base64url (without padding) of 32 bytes; send base64url(SHA-256(code || token || \".\" || base64url(JWK thumbprint)))",
                )
            })?;
        let max = i64::from(self.limits.sms_max_attempts.max(1));
        // Each pass reads the state and writes only if it is unchanged; a
        // concurrent answer makes the next pass decide on the new state. Every
        // write moves the state on, so few passes are ever needed.
        for _ in 0..16 {
            let (challenge, authz) = self.challenge_for(account, id).await?;
            if authz.status == Status::Expired {
                return Err(AcmeError::malformed(
                    "the authorization has expired; place a new order",
                ));
            }
            match challenge.status {
                Status::Processing => {}
                Status::Pending => {
                    return Err(AcmeError::malformed(
                        "no code has been sent for this challenge yet: POST {} to it first, then answer with the code the phone receives",
                    ));
                }
                _ => return Err(decided(&challenge)),
            }
            let seen = self
                .store
                .sms_code(id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| not_found("challenge", id))?;
            let (Some(digest), Some(expires)) = (seen.digest.as_deref(), seen.expires) else {
                return Err(AcmeError::internal(
                    "an sms-link-00 challenge is processing without a code",
                    id,
                ));
            };
            let t = now();
            let (outcome, attempts, error) = if t >= expires {
                let e = AcmeError::unauthorized(format!(
                    "the code has expired (codes are valid for {} s after they are sent); the challenge, its authorization and the order are now invalid: place a new order to get a new code",
                    self.limits.sms_code_lifetime.as_secs()
                ));
                (Err(e.problem()), seen.attempts, Some(e))
            } else if aws_lc_rs::constant_time::verify_slices_are_equal(&answer, digest).is_ok() {
                (Ok(t), seen.attempts, None)
            } else if seen.attempts + 1 >= max {
                let e = AcmeError::new(
                    ErrorType::IncorrectResponse,
                    format!(
                        "the keyAuthorization does not match the code sent and this account's key; that was the last of {max} attempts: the challenge, its authorization and the order are now invalid, place a new order"
                    ),
                );
                (Err(e.problem()), seen.attempts + 1, Some(e))
            } else {
                if self
                    .store
                    .count_sms_attempt(id, &seen)
                    .await
                    .map_err(store_error)?
                {
                    let left = max - seen.attempts - 1;
                    return Err(AcmeError::new(
                        ErrorType::IncorrectResponse,
                        format!(
                            "the keyAuthorization does not match the code sent and this account's key; {left} attempt(s) left. Send base64url(SHA-256(code || token || \".\" || base64url(JWK thumbprint))) with the six digits the phone received"
                        ),
                    ));
                }
                continue;
            };
            if self
                .store
                .finish_sms_code(id, &seen, attempts, outcome)
                .await
                .map_err(store_error)?
            {
                return match error {
                    Some(e) => Err(e),
                    None => self.challenge_for(account, id).await,
                };
            }
        }
        Err(AcmeError::internal(
            "an sms-link-00 answer kept racing with others",
            id,
        ))
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
        match self.issuers.domain_ca() {
            None => check_csr_names(&order, &csr)?,
            Some(_) => enrollment::check_csr_names(&order, &csr)?,
        }
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
            issuer: issued.issuer,
        };
        self.store
            .store_certificate(&record)
            .await
            .map_err(store_error)?;
        self.order_for(account, order.id).await
    }

    /// A POST to the account URL (RFC 8555 §7.3.2, §7.3.6): deactivation,
    /// or new contacts (checked as newAccount's). Returns the account as it
    /// is afterwards.
    pub async fn update_account(
        &self,
        account: &AccountRecord,
        update: AccountUpdate,
    ) -> Result<AccountRecord, AcmeError> {
        match update.status.as_deref() {
            Some("deactivated") => {
                // Deactivation is final and wins over anything else sent with
                // it. A concurrent deactivation that got there first is the
                // same outcome.
                self.store
                    .deactivate_account(account.id)
                    .await
                    .map_err(store_error)?;
                return self.account(account.id).await;
            }
            // Clients echo the account object back; its own status changes
            // nothing.
            Some("valid") | None => {}
            Some(other) => {
                return Err(AcmeError::malformed(format!(
                    "status {other:?} cannot be set; send {{\"status\": \"deactivated\"}} to deactivate the account, or leave status out"
                )));
            }
        }
        if let Some(contact) = &update.contact {
            check_contacts(contact)?;
            let changed = self
                .store
                .update_contact(account.id, contact)
                .await
                .map_err(store_error)?;
            if !changed {
                return Err(AcmeError::unauthorized(
                    "the account was deactivated while this request was processed; create a new one with newAccount",
                )
                .with_status(401));
            }
        }
        self.account(account.id).await
    }

    /// Key rollover (RFC 8555 §7.3.5). The outer JWS, from `account` under
    /// its current key `old_key` (`kid`), has been checked; `inner` is its
    /// payload: a JWS by the new key (as `jwk`), without nonce, to the same
    /// `url`, whose payload names the account (`kid`) and the old key.
    /// `account_url` gives an account's URL, for the 409 when the new key is
    /// another account's.
    pub async fn key_change(
        &self,
        account: &AccountRecord,
        old_key: &Jwk,
        kid: &str,
        url: &str,
        inner: &[u8],
        account_url: &(dyn Fn(i64) -> String + Sync),
    ) -> Result<AccountRecord, AcmeError> {
        let malformed = |detail: String| AcmeError::malformed(format!("key rollover: {detail}"));
        let refused = |detail: String| AcmeError::unauthorized(format!("key rollover: {detail}"));
        if inner.is_empty() {
            return Err(malformed(
                "the payload is empty; it must be the inner JWS, signed by the new key".into(),
            ));
        }
        let inner = jws::parse(inner)
            .map_err(|e| malformed(format!("the payload is not the inner JWS: {e}")))?;
        let KeyRef::Jwk(new_key) = &inner.protected.key else {
            return Err(malformed(
                "the inner JWS names its key with kid; it must carry the new key as jwk".into(),
            ));
        };
        if inner.protected.nonce.is_some() {
            return Err(malformed(
                "the inner JWS carries a nonce; only the outer JWS has one, leave it out of the inner protected header".into(),
            ));
        }
        if inner.protected.url != url {
            return Err(malformed(format!(
                "the inner JWS url {:?} is not the outer JWS url {url:?}; sign the keyChange URL in both",
                inner.protected.url
            )));
        }
        inner
            .verify(new_key)
            .map_err(|e| malformed(format!("the inner JWS: {e}")))?;
        let request: KeyChange = inner
            .payload_json()
            .map_err(|e| malformed(format!("the inner JWS: {e}; send {{\"account\": <your account URL>, \"oldKey\": <the current key as JWK>}}")))?;
        if request.account != kid {
            return Err(refused(format!(
                "the inner JWS is for the account {:?}, not for {kid:?}, which signs this request; name the account whose key changes",
                request.account
            )));
        }
        let named_old = Jwk::from_json(&request.old_key)
            .map_err(|e| malformed(format!("oldKey is not a public key: {e}")))?;
        if named_old != *old_key {
            return Err(refused(
                "oldKey is not the account's current key; put the key that signs the outer JWS in oldKey".into(),
            ));
        }
        if new_key == old_key {
            return Err(malformed(
                "the new key is the account's current key; roll over to a newly generated key"
                    .into(),
            ));
        }
        let conflict = |other: i64| {
            AcmeError::malformed(format!(
                "key rollover: the new key is already the key of account {}; generate another key (RFC 8555 §7.3.5)",
                account_url(other)
            ))
            .with_status(409)
            .with_location(account_url(other))
        };
        let new_thumbprint = new_key.thumbprint();
        if let Some(other) = self
            .store
            .account_by_thumbprint(&new_thumbprint)
            .await
            .map_err(store_error)?
        {
            return Err(conflict(other.id));
        }
        match self
            .store
            .update_account_key(
                account.id,
                &old_key.thumbprint(),
                &new_thumbprint,
                &new_key.to_json(),
            )
            .await
        {
            Ok(true) => self.account(account.id).await,
            Ok(false) => Err(refused(
                "the account's key changed, or the account was deactivated, while this request was processed; sign with the account's current key".into(),
            )),
            // Another request took the new key meanwhile.
            Err(StoreError::DuplicateAccount) => {
                let other = self
                    .store
                    .account_by_thumbprint(&new_thumbprint)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| {
                        AcmeError::internal("a key's account vanished", "duplicate then missing")
                    })?;
                Err(conflict(other.id))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// revokeCert (RFC 8555 §7.6): by the account that ordered the
    /// certificate, or by the certificate's key. Records the revocation and
    /// has the issuing root's CRL re-signed.
    pub async fn revoke(&self, by: Revoker<'_>, request: RevokeCert) -> Result<(), AcmeError> {
        let reason = request.reason.unwrap_or(0);
        if !REVOCATION_REASONS.contains(&reason) {
            return Err(AcmeError::new(
                ErrorType::BadRevocationReason,
                format!(
                    "reason {reason} is not accepted; give 0 (unspecified), 1 (keyCompromise), 2 (cACompromise), 3 (affiliationChanged), 4 (superseded), 5 (cessationOfOperation) or 9 (privilegeWithdrawn), or leave it out"
                ),
            ));
        }
        let der = URL_SAFE_NO_PAD.decode(&request.certificate).map_err(|_| {
            AcmeError::malformed(
                "certificate is not base64url without padding; send base64url(DER of the certificate)",
            )
        })?;
        let cert = Certificate::from_der(&der).map_err(|e| {
            AcmeError::malformed(format!(
                "certificate is not an X.509 certificate ({e}); send base64url(DER of the certificate), not PEM"
            ))
        })?;
        let record = self
            .store
            .certificate_by_serial(&ca::hex(cert.serial()))
            .await
            .map_err(store_error)?;
        // The same serial is not enough: only a certificate byte for byte
        // as issued here is ours.
        let record = match record {
            Some(record) if leaf_of(&record)?.der() == der.as_slice() => record,
            _ => {
                return Err(AcmeError::not_found(
                    "this authority did not issue this certificate; revoke it where it was issued",
                ));
            }
        };
        match by {
            // A domain CA's registrar may revoke whatever the CA issued.
            Revoker::Account(account)
                if record.account_id != account.id && !self.is_registrar(account).await? =>
            {
                return Err(AcmeError::unauthorized(
                    "this account did not order this certificate; sign the request with the account that did, or with the certificate's key (as jwk)",
                ));
            }
            Revoker::CertificateKey(jwk)
                if jwk_spki(jwk).as_deref() != Some(cert.spki_der().as_slice()) =>
            {
                return Err(AcmeError::unauthorized(
                    "the key that signs this request is not the certificate's key; sign with the certificate's private key, or with the account that ordered it (kid)",
                ));
            }
            _ => {}
        }
        let already = || {
            AcmeError::new(
                ErrorType::AlreadyRevoked,
                "the certificate is revoked already; nothing to do",
            )
        };
        if record.revoked_at.is_some() {
            return Err(already());
        }
        let revoked = self
            .store
            .revoke_certificate(record.id, now(), reason)
            .await
            .map_err(store_error)?;
        if !revoked {
            // A concurrent request revoked it first.
            return Err(already());
        }
        self.crls.revoked(record.issuer);
        Ok(())
    }

    /// `issuer`'s current CRL, DER.
    pub async fn crl(&self, issuer: CrlIssuer) -> Result<Bytes, AcmeError> {
        self.crls
            .current(&self.store, &self.issuers, issuer, SystemTime::now())
            .await
    }

    /// The certificate a certID (RFC 9773 §4.1) names, with its leaf.
    async fn certificate_by_cert_id(
        &self,
        aki: &[u8],
        serial: &[u8],
    ) -> Result<Option<(CertificateRecord, Certificate)>, AcmeError> {
        let Some(record) = self
            .store
            .certificate_by_serial(&ca::hex(serial))
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let leaf = leaf_of(&record)?;
        if ca::authority_key_id(leaf.der()).as_deref() != Some(aki) {
            return Ok(None);
        }
        Ok(Some((record, leaf)))
    }

    /// ARI (RFC 9773 §4.2): when to renew the certificate `cert_id` names.
    /// The middle third of its lifetime; for a revoked certificate, the
    /// hour before `now`, which tells the client to renew at once.
    pub async fn renewal_window(
        &self,
        cert_id: &str,
        now: i64,
    ) -> Result<RenewalWindow, AcmeError> {
        let (aki, serial) = ca::parse_cert_id(cert_id).ok_or_else(|| {
            AcmeError::malformed(format!(
                "{} is not a certificate identifier; send base64url(authority key identifier) \".\" base64url(serial number DER bytes) (RFC 9773 §4.1)",
                shorten(cert_id)
            ))
        })?;
        let (record, leaf) = self
            .certificate_by_cert_id(&aki, &serial)
            .await?
            .ok_or_else(|| {
                AcmeError::not_found(
                    "this authority issued no certificate with this identifier; check the authority key identifier and serial it is made of",
                )
            })?;
        if record.revoked_at.is_some() {
            return Ok(RenewalWindow {
                start: now - 3600,
                end: now,
            });
        }
        let not_before = unix_seconds(leaf.not_before());
        let not_after = unix_seconds(leaf.not_after());
        let third = (not_after - not_before) / 3;
        Ok(RenewalWindow {
            start: not_before + third,
            end: not_before + 2 * third,
        })
    }

    /// ARI's `replaces` in newOrder (RFC 9773 §5): a certificate of this
    /// account sharing an identifier with the order, not replaced already
    /// by a finalized order. Returns its row id and the certID.
    async fn check_replaces(
        &self,
        account: &AccountRecord,
        cert_id: &str,
        identifiers: &[Identifier],
    ) -> Result<(i64, String), AcmeError> {
        let (aki, serial) = ca::parse_cert_id(cert_id).ok_or_else(|| {
            AcmeError::malformed(format!(
                "replaces {} is not a certificate identifier; send base64url(authority key identifier) \".\" base64url(serial number DER bytes) (RFC 9773 §4.1)",
                shorten(cert_id)
            ))
        })?;
        let record = match self.certificate_by_cert_id(&aki, &serial).await? {
            Some((record, _)) if record.account_id == account.id => record,
            _ => {
                return Err(AcmeError::malformed(
                    "replaces names no certificate of this account; name a certificate this account ordered, or leave replaces out",
                ));
            }
        };
        let replaced = self
            .store
            .order(record.order_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| AcmeError::internal("a certificate's order vanished", record.id))?;
        if !identifiers.iter().any(|i| replaced.identifiers.contains(i)) {
            return Err(AcmeError::malformed(
                "the order shares no identifier with the certificate it replaces; a replacement renews at least one of its identifiers",
            ));
        }
        if let Some(order) = self
            .store
            .replacing_order(record.id)
            .await
            .map_err(store_error)?
        {
            return Err(AcmeError::new(
                ErrorType::AlreadyReplaced,
                format!(
                    "the certificate was replaced already, by order {order}; replace its replacement instead, or leave replaces out"
                ),
            ));
        }
        Ok((record.id, cert_id.to_owned()))
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

/// The leaf of a stored chain.
fn leaf_of(record: &CertificateRecord) -> Result<Certificate, AcmeError> {
    Certificate::from_pem_chain(&record.chain_pem)
        .ok()
        .and_then(|chain| chain.into_iter().next())
        .ok_or_else(|| AcmeError::internal("a stored certificate chain is unreadable", record.id))
}

/// The SubjectPublicKeyInfo DER of a JWK, for the key types certificates
/// here have (Ed25519 and P-256, uncompressed, as issued); `None` for RSA,
/// which no certificate here has.
fn jwk_spki(jwk: &Jwk) -> Option<Vec<u8>> {
    // The fixed DER prefixes of RFC 8410 §4 and RFC 5480 §2.
    const ED25519: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    const P256: [u8; 27] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    match jwk {
        Jwk::Ed25519 { x } => Some([&ED25519[..], x].concat()),
        Jwk::EcP256 { x, y } => Some([&P256[..], x, y].concat()),
        Jwk::Rsa { .. } => None,
    }
}

/// Why a ready request (`{}`) to an sms-link-00 challenge that is not
/// pending sends nothing.
fn not_ready_for_code(challenge: &ChallengeRecord) -> AcmeError {
    match challenge.status {
        Status::Processing => AcmeError::malformed(
            "the code for this challenge has been sent already and is not sent again; complete the challenge with {\"keyAuthorization\": base64url(SHA-256(code || token || \".\" || base64url(JWK thumbprint)))}, or, if no SMS arrives, place a new order once this one has failed",
        ),
        _ => decided(challenge),
    }
}

/// An answer to a challenge that is already valid or invalid.
fn decided(challenge: &ChallengeRecord) -> AcmeError {
    match (&challenge.status, &challenge.error) {
        (Status::Valid, _) => AcmeError::malformed(
            "the challenge is valid already and takes no more answers; its authorization is done, continue with the order",
        ),
        (status, Some(error)) => AcmeError::malformed(format!(
            "the challenge is {} ({}) and takes no more answers; place a new order",
            status.as_str(),
            error.detail
        )),
        (status, None) => AcmeError::malformed(format!(
            "the challenge is {} and takes no more answers; place a new order",
            status.as_str()
        )),
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
/// wildcards (lowercased); `TNAuthList` identifiers of one E.164 number, only
/// in `phone-ca` orders, which name exactly one number and one domain; no
/// duplicates.
fn check_identifiers(
    profile: Profile,
    identifiers: Vec<Identifier>,
) -> Result<Vec<Identifier>, AcmeError> {
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
        let id = match id.type_.as_str() {
            DNS => check_dns(&id.value)?,
            TN_AUTH_LIST => {
                // The type is supported, but not for this profile: the server
                // will not issue this identifier here.
                if profile != Profile::PhoneCa {
                    return Err(AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        format!(
                            "TNAuthList identifiers are certified only in phone-ca orders, not in {} orders; order the number with \"profile\": \"phone-ca\" together with your provider's domain",
                            profile.name()
                        ),
                    ));
                }
                let (list, _) = tn_identifier(&id.value)?;
                Identifier {
                    type_: TN_AUTH_LIST.into(),
                    value: URL_SAFE_NO_PAD.encode(list.to_der()),
                }
            }
            other => {
                return Err(AcmeError::new(
                    ErrorType::UnsupportedIdentifier,
                    format!(
                        "identifier type {other:?} is not offered; use dns (and TNAuthList in phone-ca orders)"
                    ),
                ));
            }
        };
        if out.contains(&id) {
            return Err(AcmeError::malformed(format!(
                "{} is listed twice; list each identifier once",
                describe(&id)
            )));
        }
        out.push(id);
    }
    if profile == Profile::PhoneCa {
        let numbers = out.iter().filter(|i| i.type_ == TN_AUTH_LIST).count();
        let domains = out.iter().filter(|i| i.type_ == DNS).count();
        if numbers != 1 || domains != 1 {
            // TNAuthList orders only from accounts that prove, in the same
            // order, that they control the domain the CA will be
            // constrained to.
            return Err(AcmeError::malformed(format!(
                "a phone-ca order names exactly one TNAuthList identifier (the number, proved with sms-link-00) and exactly one dns identifier (your provider's domain, proved with http-01 in the same order); this one names {numbers} TNAuthList and {domains} dns"
            )));
        }
    }
    Ok(out)
}

/// A `dns` identifier's value: a valid domain, no wildcard; lowercased.
fn check_dns(value: &str) -> Result<Identifier, AcmeError> {
    // A wildcard is a well-formed ACME identifier (RFC 8555 §7.1.3) that
    // this server will not issue for: rejectedIdentifier.
    if value.starts_with("*.") {
        return Err(AcmeError::new(
            ErrorType::RejectedIdentifier,
            format!("{value:?}: wildcard names are not issued; order each name explicitly"),
        ));
    }
    // A value that is no domain name at all makes the request malformed
    // (as in Boulder's policy); rejectedIdentifier is for names the
    // server could issue for but will not.
    let domain = Domain::parse(value)
        .map_err(|e| AcmeError::malformed(format!("{value:?} is not a domain name: {e}")))?;
    Ok(Identifier {
        type_: DNS.into(),
        value: domain.to_string(),
    })
}

/// The joint key/identity check of draft-barnes-mimi-identity-arch §4.1: the
/// CSR must name exactly the identifiers that were validated, nothing more or
/// less, so that no one obtains a certificate for names bound to another key.
/// The dns identifiers are the CSR's DNS names; a `phone-ca` order's
/// TNAuthList is the CSR's TNAuthList extension, equal to the order's; other
/// profiles' CSRs carry none.
fn check_csr_names(
    order: &OrderRecord,
    csr: &mimi_credentials::VerifiedCsr,
) -> Result<(), AcmeError> {
    let bad = |detail: String| Err(AcmeError::new(ErrorType::BadCsr, detail));
    let mut wanted: Vec<&str> = order
        .identifiers
        .iter()
        .filter(|i| i.type_ == DNS)
        .map(|i| i.value.as_str())
        .collect();
    let mut got: Vec<&str> = csr.dns_names.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    got.sort_unstable();
    got.dedup();
    if wanted != got || !csr.uris.is_empty() {
        return bad(format!(
            "the CSR names {got:?}{}; it must name exactly the order's identifiers {wanted:?}",
            if csr.uris.is_empty() { "" } else { " and URIs" }
        ));
    }
    let order_list = order
        .identifiers
        .iter()
        .find(|i| i.type_ == TN_AUTH_LIST)
        .map(|i| tn_auth_list_of(&i.value))
        .transpose()?;
    match (&order_list, &csr.tn_auth_list) {
        (None, None) => Ok(()),
        (None, Some(_)) => bad(format!(
            "the CSR carries a TNAuthList extension, but this {} order certifies no telephone numbers; it must name exactly the order's identifiers {wanted:?}, without TNAuthList (numbers are certified in phone-ca orders)",
            order.profile
        )),
        (Some(list), None) => bad(format!(
            "the CSR carries no TNAuthList extension; a phone-ca CSR must carry the order's TNAuthList (RFC 8226, OID 1.3.6.1.5.5.7.1.26, with the number {}) besides the DNS name {wanted:?}",
            numbers_text(list)
        )),
        (Some(list), Some(asked)) if list != asked => bad(format!(
            "the CSR's TNAuthList ({}) is not the order's ({}); request exactly the TNAuthList of the order's identifier",
            numbers_text(asked),
            numbers_text(list)
        )),
        (Some(_), Some(_)) => Ok(()),
    }
}

/// A TNAuthList in words, for messages: "+12015550123, a range of 10 from +1201555".
fn numbers_text(list: &TnAuthList) -> String {
    list.entries()
        .iter()
        .map(|e| match e {
            TnEntry::One(n) => format!("+{}", n.as_str()),
            TnEntry::Range { start, count } => {
                format!("a range of {count} from +{}", start.as_str())
            }
            TnEntry::ServiceProviderCode(spc) => format!("the SPC {spc:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
