//! Enrollment of users' devices at the domain's CA (docs/enrollment.md, "The
//! provider side"; draft-barnes-mimi-identity-arch §3, role separation).
//!
//! The domain CA is a separate process that the provider reaches over ACME
//! only, as its **registrar**: an ACME account created once with the
//! registrar's external account binding ([`Registrar`]), which may ask the
//! CA for bindings pre-authorized for given identifiers (`mimiNewEab`) and
//! may not order certificates itself.
//!
//! 1. A device asks (`enroll_user` for its user's first device, with an
//!    invite code unless registration is open; `enroll_device` signed by a
//!    registered device of the same user), naming the MLS signature key it
//!    will be certified for; the request is signed with that key.
//! 2. The provider checks who may enroll, asks the domain CA for a binding
//!    pre-authorized for exactly the user URI and the device URI, records
//!    the pending enrollment (device, user, key, expiry) together with the
//!    invite it spends, and answers with the binding.
//! 3. The device does ACME itself (its own account with the binding, an
//!    order, a CSR under its MLS key) and registers with the chain;
//!    [`crate::clients::register`] refuses a chain for another key than the
//!    one enrolled.
//!
//! A refused request changes nothing: every check runs before the replay
//! record, the domain CA call and the one storage transaction.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_acme_client::{
    Account, AccountKey, AcmeClient, ExternalAccountBinding, Identifier, IssuedEab, KeyAlg,
    NewAccount, RevocationReason,
};
use mimi_credentials::{Certificate, PublicKey, TnAuthList};
use mimi_identifiers::{DeviceId, Domain, Identifier as MimiIdentifier, PhoneNumber, UserId};
use mimi_storage::{
    EnrollmentStore, INVITE_HASH_LEN, Invite, MAX_INVITE_PHONE_NUMBERS, PendingEnrollment,
    PostgresStorage, SqliteStorage, Storage,
};
use mimi_transport::ratelimit::Spend;
use mimi_wire::ClientOperation;
use mimi_wire::client_api::{
    EnrollDeviceRequest, EnrollUserRequest, EnrollmentResponse, PreauthorizedIdentifier,
};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::clients::{self, device_uri, user_uri};
use crate::config::{EnrollmentSettings, RegistrationPolicy, Settings, StorageUrl};
use crate::error::{ProviderError, StartError};
use crate::secret_file;
use crate::state::{Provider, now_ms};

/// The registrar's ACME account key in the data directory (PKCS#8 DER,
/// 0600, created on first start).
pub const REGISTRAR_KEY_FILE: &str = "registrar-account.p8";

/// The registrar account's URL in the data directory, written when the
/// account is created (on the first enrollment).
pub const REGISTRAR_ACCOUNT_FILE: &str = "registrar-account.url";

/// Random bytes in an invite code (base64url: 22 characters).
pub const INVITE_CODE_BYTES: usize = 16;

/// Longest invite lifetime `mimi-server provider invite` accepts.
pub const MAX_INVITE_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long after its binding expires a pending enrollment still admits
/// the device's registration: the binding must be used (the ACME account
/// created) before it expires; ordering and registering may take a little
/// longer.
pub const REGISTRATION_GRACE: Duration = Duration::from_secs(3600);

/// How long expired invites and enrollments are kept before the purge
/// deletes them: a user presenting an expired code is told it expired,
/// rather than that it does not exist.
pub const EXPIRED_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Longest wait for the domain CA on one enrollment.
const ACME_TIMEOUT: Duration = Duration::from_secs(20);

/// The provider's ACME account at its domain CA. The account is created
/// with the registrar binding on first use and its URL kept in the data
/// directory; later starts load it.
pub struct Registrar {
    settings: EnrollmentSettings,
    account_key: Zeroizing<Vec<u8>>,
    binding: ExternalAccountBinding,
    roots_pem: Vec<u8>,
    resolve: Vec<(String, SocketAddr)>,
    account_file: PathBuf,
    account: OnceCell<Account>,
}

impl fmt::Debug for Registrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No key material.
        f.debug_struct("Registrar")
            .field("directory_url", &self.settings.directory_url)
            .field("kid", &self.settings.registrar_eab_kid)
            .field("account", &self.account.get().map(Account::url))
            .finish_non_exhaustive()
    }
}

fn file_error(what: &'static str, path: &Path, detail: impl ToString) -> StartError {
    StartError::File {
        what,
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

impl Registrar {
    /// The registrar of `settings.enrollment`, if configured: reads the
    /// registrar binding's key file (0600) and the domain CA's TLS roots,
    /// and loads or creates (0600) the account key in the data directory.
    /// Nothing is sent yet.
    pub fn load(settings: &Settings) -> Result<Option<Registrar>, StartError> {
        let Some(enrollment) = &settings.enrollment else {
            return Ok(None);
        };
        let key_file = &enrollment.registrar_eab_key_file;
        let encoded = Zeroizing::new(secret_file::load(key_file)?);
        let text = std::str::from_utf8(&encoded)
            .map_err(|_| file_error("the registrar EAB key file", key_file, "is not text"))?;
        let binding =
            ExternalAccountBinding::from_base64url(&enrollment.registrar_eab_kid, text.trim())
                .map_err(|e| file_error("the registrar EAB key file", key_file, e))?;
        let mut roots_pem = Vec::new();
        for path in &enrollment.tls_roots {
            let pem = std::fs::read(path)
                .map_err(|e| file_error("cannot read the domain CA's TLS root", path, e))?;
            roots_pem.extend_from_slice(&pem);
            roots_pem.push(b'\n');
        }
        let key_path = settings.data_dir.join(REGISTRAR_KEY_FILE);
        let (account_key, _) = secret_file::load_or_create(&key_path, || {
            AccountKey::generate(KeyAlg::EdDsa)
                .map(|k| k.to_pkcs8().to_vec())
                .map_err(|e| StartError::Key(e.to_string()))
        })?;
        let account_key = Zeroizing::new(account_key);
        AccountKey::from_pkcs8(&account_key)
            .map_err(|e| file_error("unusable registrar account key", &key_path, e))?;
        Ok(Some(Registrar {
            settings: enrollment.clone(),
            account_key,
            binding,
            roots_pem,
            resolve: settings
                .resolve
                .iter()
                .map(|(name, addr)| (name.clone(), *addr))
                .collect(),
            account_file: settings.data_dir.join(REGISTRAR_ACCOUNT_FILE),
            account: OnceCell::new(),
        }))
    }

    pub fn settings(&self) -> &EnrollmentSettings {
        &self.settings
    }

    fn unreachable(&self, e: impl fmt::Display) -> ProviderError {
        ProviderError::Unreachable(format!(
            "the domain CA at {}: {e}",
            self.settings.directory_url
        ))
    }

    /// The registrar account: loaded from its stored URL, or created with
    /// the registrar binding (and its URL stored) on first use. A failure
    /// is retried by the next enrollment.
    async fn account(&self) -> Result<&Account, ProviderError> {
        self.account
            .get_or_try_init(|| async {
                let mut builder = AcmeClient::builder(&self.settings.directory_url)
                    .roots_pem(&self.roots_pem)
                    .timeout(ACME_TIMEOUT);
                for (name, addr) in &self.resolve {
                    builder = builder.resolve(name, *addr);
                }
                let client = builder.build().await.map_err(|e| self.unreachable(e))?;
                let key = AccountKey::from_pkcs8(&self.account_key)
                    .map_err(|e| ProviderError::Internal(format!("registrar key: {e}")))?;
                if let Ok(url) = std::fs::read_to_string(&self.account_file) {
                    return Ok(Account::load(&client, key, url.trim()));
                }
                let new = NewAccount {
                    terms_of_service_agreed: true,
                    external_account_binding: Some(&self.binding),
                    ..NewAccount::default()
                };
                let (account, _) = Account::create(&client, key, &new).await.map_err(|e| {
                    self.unreachable(format!("creating the registrar account: {e}"))
                })?;
                std::fs::write(&self.account_file, account.url()).map_err(|e| {
                    ProviderError::Internal(format!(
                        "cannot store the registrar account URL in {}: {e}",
                        self.account_file.display()
                    ))
                })?;
                tracing::info!(
                    account = account.url(),
                    "created the registrar account at the domain CA"
                );
                Ok(account)
            })
            .await
    }

    /// Asks the domain CA for a binding pre-authorized for exactly `user`,
    /// `device` and the E.164 `numbers` (TNAuthList identifiers, RFC 9448),
    /// valid for the configured lifetime. A refusal of the numbers by the
    /// domain CA (it holds no phone-number CA covering them) is relayed as
    /// 403.
    async fn request_eab(
        &self,
        user: &str,
        device: &str,
        numbers: &[PhoneNumber],
    ) -> Result<IssuedEab, ProviderError> {
        let mut identifiers = vec![
            Identifier {
                type_: "mimi-user".into(),
                value: user.into(),
            },
            Identifier {
                type_: "mimi-device".into(),
                value: device.into(),
            },
        ];
        identifiers.extend(numbers.iter().map(tn_auth_list_identifier));
        let expires = SystemTime::now() + self.settings.eab_lifetime;
        self.account()
            .await?
            .request_eab(&identifiers, Some(expires))
            .await
            .map_err(|e| match e.problem() {
                Some(problem) if !numbers.is_empty() && problem.is("rejectedIdentifier") => {
                    ProviderError::Forbidden(format!(
                        "the domain CA refused the invite's phone numbers: {}; ask the operator for an invite with numbers of this domain's phone-number CAs, or without numbers",
                        problem.detail.as_deref().unwrap_or("rejectedIdentifier")
                    ))
                }
                _ => self.unreachable(format!("mimiNewEab: {e}")),
            })
    }

    /// Revokes a certificate (DER) this domain CA issued, as the registrar
    /// (RFC 8555 §7.6). Returns whether it was revoked already
    /// (`alreadyRevoked`, which counts as done).
    pub async fn revoke(
        &self,
        cert_der: &[u8],
        reason: RevocationReason,
    ) -> Result<bool, ProviderError> {
        match self.account().await?.revoke(cert_der, reason).await {
            Ok(()) => Ok(false),
            Err(e) if e.problem().is_some_and(|p| p.is("alreadyRevoked")) => Ok(true),
            Err(e) => Err(self.unreachable(format!("revokeCert: {e}"))),
        }
    }
}

/// The ACME identifier of one number: base64url of the DER of a TNAuthList
/// with one `one` entry (RFC 9448 §3).
fn tn_auth_list_identifier(number: &PhoneNumber) -> Identifier {
    Identifier {
        type_: "TNAuthList".into(),
        value: URL_SAFE_NO_PAD.encode(TnAuthList::one(number).to_der()),
    }
}

/// SHA-256 of an invite code: what the store keeps.
pub fn invite_hash(code: &str) -> [u8; INVITE_HASH_LEN] {
    let mut hash = [0u8; INVITE_HASH_LEN];
    hash.copy_from_slice(digest::digest(&digest::SHA256, code.as_bytes()).as_ref());
    hash
}

/// A new invite, as the operator hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    /// The one-time code (base64url of [`INVITE_CODE_BYTES`] random bytes).
    pub code: String,
    /// The `mimi://` URI of the user it is for.
    pub user: String,
    /// Unix milliseconds.
    pub expires_at_ms: u64,
    /// The E.164 numbers (`+…`) the first device is pre-authorized for.
    pub phone_numbers: Vec<String>,
}

/// Parses the E.164 numbers of an invite (`+12025550123`), at most
/// [`MAX_INVITE_PHONE_NUMBERS`], each once.
pub fn parse_phone_numbers(texts: &[String]) -> Result<Vec<PhoneNumber>, ProviderError> {
    if texts.len() > MAX_INVITE_PHONE_NUMBERS {
        return Err(ProviderError::Invalid(format!(
            "an invite carries at most {MAX_INVITE_PHONE_NUMBERS} phone numbers, not {}",
            texts.len()
        )));
    }
    let mut numbers: Vec<PhoneNumber> = Vec::with_capacity(texts.len());
    for text in texts {
        let number = PhoneNumber::parse(text).map_err(|e| {
            ProviderError::Invalid(format!(
                "{text:?} is not an E.164 phone number ({e}); write it as +12025550123"
            ))
        })?;
        if numbers.contains(&number) {
            return Err(ProviderError::Invalid(format!("{text} is given twice")));
        }
        numbers.push(number);
    }
    Ok(numbers)
}

/// Refuses numbers no phone-number CA of `domain` among `issuers` (the
/// `[revocation] issuers` certificates) covers — if any phone-number CA of
/// the domain is listed there. Otherwise the provider cannot know, and the
/// domain CA decides at enrollment.
pub fn check_numbers_covered(
    domain: &Domain,
    issuers: &[Certificate],
    numbers: &[PhoneNumber],
) -> Result<(), ProviderError> {
    let ours: Vec<&TnAuthList> = issuers
        .iter()
        .filter(|c| c.ca().is_some() && constrained_to(c, domain))
        .filter_map(Certificate::tn_auth_list)
        .collect();
    if ours.is_empty() || numbers.is_empty() {
        return Ok(());
    }
    let wanted = TnAuthList::new(
        numbers
            .iter()
            .map(|n| mimi_credentials::TnEntry::One(n.into()))
            .collect(),
    )
    .map_err(|e| ProviderError::Invalid(format!("the phone numbers: {e}")))?;
    if ours.iter().any(|list| wanted.is_within(list)) {
        return Ok(());
    }
    let listed: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    Err(ProviderError::Invalid(format!(
        "no phone-number CA of {domain} covers all of {}: the domain CA could not certify them; invite with numbers of one of its phone-number CAs",
        listed.join(", ")
    )))
}

/// Whether `ca`'s URI name constraints permit exactly `domain`.
fn constrained_to(ca: &Certificate, domain: &Domain) -> bool {
    ca.uri_constraints()
        .is_some_and(|c| c.permitted.iter().any(|p| p == domain.as_str()))
}

/// Creates a one-time invite for the first device of `user` valid for
/// `lifetime` (at most [`MAX_INVITE_LIFETIME`]); only its hash is stored.
pub async fn create_invite<S: EnrollmentStore>(
    storage: &S,
    user: &UserId,
    lifetime: Duration,
) -> Result<NewInvite, ProviderError> {
    create_invite_with_numbers(storage, user, lifetime, &[]).await
}

/// [`create_invite`] pre-authorizing the first device for `numbers` too.
pub async fn create_invite_with_numbers<S: EnrollmentStore>(
    storage: &S,
    user: &UserId,
    lifetime: Duration,
    numbers: &[PhoneNumber],
) -> Result<NewInvite, ProviderError> {
    if lifetime.is_zero() || lifetime > MAX_INVITE_LIFETIME {
        return Err(ProviderError::Invalid(format!(
            "an invite lives 1 s to {} days",
            MAX_INVITE_LIFETIME.as_secs() / 86_400
        )));
    }
    let mut random = [0u8; INVITE_CODE_BYTES];
    aws_lc_rs::rand::fill(&mut random)
        .map_err(|_| ProviderError::Internal("the random generator failed".into()))?;
    let code = URL_SAFE_NO_PAD.encode(random);
    let now = now_ms();
    let expires_at_ms = now.saturating_add(u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX));
    let user = user_uri(user)?;
    let phone_numbers: Vec<String> = numbers.iter().map(ToString::to_string).collect();
    storage
        .add_invite(&Invite {
            code_hash: invite_hash(&code),
            user_id: user.clone(),
            created_at_ms: now,
            expires_at_ms,
            used_at_ms: None,
            phone_numbers: phone_numbers.clone(),
        })
        .await?;
    Ok(NewInvite {
        code,
        user,
        expires_at_ms,
        phone_numbers,
    })
}

/// `mimi-server provider invite`: opens the provider's storage (SQLite or
/// PostgreSQL, as configured) and creates an invite for `user` (a user
/// name of the provider's domain, or its `mimi://` user URI), for the E.164
/// `phone_numbers` too (refused here if a phone-number CA of the domain is
/// among `[revocation] issuers` and none covers them all).
pub async fn invite(
    settings: &Settings,
    user: &str,
    lifetime: Duration,
    phone_numbers: &[String],
) -> Result<NewInvite, ProviderError> {
    let user = parse_user(&settings.domain, user)?;
    let numbers = parse_phone_numbers(phone_numbers)?;
    if !numbers.is_empty() {
        let issuers = crate::revocation::load_issuers(&settings.revocation)
            .map_err(|e| ProviderError::Invalid(e.to_string()))?;
        check_numbers_covered(&settings.domain, &issuers, &numbers)?;
    }
    match &settings.storage {
        StorageUrl::Sqlite(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ProviderError::Internal(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let storage = SqliteStorage::open(path).await?;
            let made = create_invite_with_numbers(&storage, &user, lifetime, &numbers).await;
            storage.close().await;
            made
        }
        StorageUrl::Postgres(url) => {
            let storage = PostgresStorage::connect(url).await?;
            let made = create_invite_with_numbers(&storage, &user, lifetime, &numbers).await;
            storage.close().await;
            made
        }
    }
}

/// A user of `domain`: `alice` or `mimi://<domain>/u/alice`.
pub fn parse_user(domain: &Domain, text: &str) -> Result<UserId, ProviderError> {
    let user = if text.contains("://") {
        match mimi_identifiers::parse(text).map(|p| p.identifier) {
            Ok(MimiIdentifier::User(user)) => user,
            _ => {
                return Err(ProviderError::Invalid(format!(
                    "{text:?} is not a mimi:// user URI; give a user name such as alice"
                )));
            }
        }
    } else {
        UserId::new(text, Some(domain.clone()))
            .map_err(|e| ProviderError::Invalid(format!("{text:?} is not a user name: {e}")))?
    };
    if user.domain() != Some(domain) {
        return Err(ProviderError::Invalid(format!(
            "{text:?} is not a user of {domain}: invite only users of this provider"
        )));
    }
    Ok(user)
}

/// The enrolled key: Ed25519 or P-256, as MLS signature keys are.
fn enrolled_key(spki: &[u8]) -> Result<PublicKey, ProviderError> {
    PublicKey::from_spki_der(spki).map_err(|e| {
        ProviderError::Invalid(format!(
            "signature_key is not an Ed25519 or P-256 SubjectPublicKeyInfo ({e}); send the device's MLS signature key"
        ))
    })
}

fn registrar<S>(provider: &Provider<S>) -> Result<&Registrar, ProviderError> {
    provider
        .registrar
        .as_deref()
        .ok_or(ProviderError::NotImplemented(
            "enrollment (no [enrollment] is configured; register with a certificate chain from the domain CA)",
        ))
}

/// `enroll_user`: the first device of a user. Checks, in order: the
/// request (encoding, our domain, time), the key, the signature under it,
/// the invite (policy `invite`), that the user is free, the rate limit and
/// replay; then asks the domain CA and records the enrollment with the
/// invite it spends.
pub async fn enroll_user<S: Storage>(
    provider: &Provider<S>,
    bytes: &[u8],
) -> Result<EnrollmentResponse, ProviderError> {
    let registrar = registrar(provider)?;
    let (request, device) = clients::decode_request(provider, bytes, ClientOperation::EnrollUser)?;
    let body = EnrollUserRequest::decode(request.tbs().body())?;
    let key = enrolled_key(body.signature_key())?;
    clients::verify_with(&key, request.tbs(), request.signature())?;
    let device_id = device_uri(&device)?;
    let user_id = user_of(&device)?;
    let now = now_ms();
    let invite = match registrar.settings.registration {
        RegistrationPolicy::Invite => {
            Some(check_invite(provider, &user_id, body.invite_code(), now).await?)
        }
        RegistrationPolicy::Open => None,
    };
    crate::revocation::refuse_if_revoked(provider, &device_id).await?;
    check_user_free(provider, &user_id, &device_id, now).await?;
    let numbers = match &invite {
        Some(invite) => stored_numbers(invite)?,
        None => Vec::new(),
    };
    clients::admit(provider, &device_id, request.tbs()).await?;
    let issued = registrar
        .request_eab(&user_id, &device_id, &numbers)
        .await?;
    let pending = pending(&device_id, &user_id, &key, true, &issued, now);
    provider
        .storage
        .begin_enrollment(&pending, invite.as_ref().map(|i| &i.code_hash), now)
        .await?;
    tracing::info!(device = %device_id, "enrolled a user's first device at the domain CA");
    response(registrar, &issued)
}

/// `enroll_device`: another device of the signing device's user. The
/// signer is authenticated as for every operation (registered key,
/// signature, rate limit, replay); then the new device must be of the same
/// user and not registered, and one enrollment per user and rate-limit
/// period goes to the domain CA.
pub async fn enroll_device<S: Storage>(
    provider: &Provider<S>,
    bytes: &[u8],
) -> Result<EnrollmentResponse, ProviderError> {
    let registrar = registrar(provider)?;
    let client = clients::authenticate(provider, bytes, ClientOperation::EnrollDevice).await?;
    let body = EnrollDeviceRequest::decode(client.body())?;
    let device = body.device()?;
    let device_id = device_uri(&device)?;
    let user_id = user_of(&device)?;
    if user_id != client.record().user_id {
        return Err(ProviderError::Forbidden(format!(
            "{} may enroll devices of its own user only, not {device_id}",
            client.record().client_id
        )));
    }
    let key = enrolled_key(body.signature_key())?;
    crate::revocation::refuse_if_revoked(provider, &device_id).await?;
    if provider.storage.client(&device_id).await?.is_some() {
        return Err(ProviderError::Conflict(format!(
            "{device_id} is registered already; it renews its certificate with its own ACME account and registers again"
        )));
    }
    provider.rate_limit(&[Spend {
        key: format!("enroll for {user_id}"),
        limit: provider.settings.limits.registrations,
        cost: 1,
    }])?;
    let now = now_ms();
    let issued = registrar.request_eab(&user_id, &device_id, &[]).await?;
    let pending = pending(&device_id, &user_id, &key, false, &issued, now);
    provider
        .storage
        .begin_enrollment(&pending, None, now)
        .await?;
    tracing::info!(device = %device_id, "enrolled another device of a user at the domain CA");
    response(registrar, &issued)
}

fn user_of(device: &DeviceId) -> Result<String, ProviderError> {
    let user = device.user().ok_or_else(|| {
        ProviderError::Invalid(
            "the device URI names no user; use mimi://<domain>/d/<user>/<device>".into(),
        )
    })?;
    user_uri(&user)
}

/// The numbers an invite stored: parsed again (they were checked when it
/// was made).
fn stored_numbers(invite: &Invite) -> Result<Vec<PhoneNumber>, ProviderError> {
    invite
        .phone_numbers
        .iter()
        .map(|n| {
            PhoneNumber::parse(n).map_err(|e| {
                ProviderError::Internal(format!("a stored invite holds a bad number {n:?}: {e}"))
            })
        })
        .collect()
}

/// The invite `code` presented for `user`, compared in constant time with
/// each of the user's stored invites; the invite if it may be spent now.
async fn check_invite<S: Storage>(
    provider: &Provider<S>,
    user: &str,
    code: &str,
    now: u64,
) -> Result<Invite, ProviderError> {
    if code.is_empty() {
        return Err(ProviderError::Forbidden(
            "this provider enrolls a user's first device by invite: send the invite code its operator gave you".into(),
        ));
    }
    let hash = invite_hash(code);
    let invites = provider.storage.invites_of_user(user).await?;
    let found = invites
        .iter()
        .find(|i| constant_time::verify_slices_are_equal(&i.code_hash, &hash).is_ok());
    let Some(invite) = found else {
        return Err(ProviderError::Forbidden(format!(
            "no invite with this code for {user}: check the code and the user name, or ask the operator for a new invite"
        )));
    };
    if invite.used_at_ms.is_some() {
        return Err(ProviderError::Forbidden(
            "this invite was used already: ask the operator for a new one".into(),
        ));
    }
    if invite.expires_at_ms <= now {
        return Err(ProviderError::Forbidden(
            "this invite has expired: ask the operator for a new one".into(),
        ));
    }
    Ok(invite.clone())
}

/// A first device needs a user no one holds: no registered device, no
/// other first device enrolling. (The storage transaction checks again.)
async fn check_user_free<S: Storage>(
    provider: &Provider<S>,
    user: &str,
    device: &str,
    now: u64,
) -> Result<(), ProviderError> {
    let taken = || {
        ProviderError::Conflict(format!(
            "the user {user} is taken; pick another user name, or enroll this device from a registered device of the user (enroll_device)"
        ))
    };
    if !provider.storage.clients_of_user(user).await?.is_empty() {
        return Err(taken());
    }
    match provider.storage.pending_first_device(user, now).await? {
        Some(other) if other.device_id != device => Err(taken()),
        _ => Ok(()),
    }
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn pending(
    device: &str,
    user: &str,
    key: &PublicKey,
    first_device: bool,
    issued: &IssuedEab,
    now: u64,
) -> PendingEnrollment {
    let grace = u64::try_from(REGISTRATION_GRACE.as_millis()).unwrap_or(u64::MAX);
    PendingEnrollment {
        device_id: device.to_owned(),
        user_id: user.to_owned(),
        signature_key: key.spki_der().to_vec(),
        first_device,
        created_at_ms: now,
        expires_at_ms: unix_ms(issued.expires).saturating_add(grace),
    }
}

fn response(
    registrar: &Registrar,
    issued: &IssuedEab,
) -> Result<EnrollmentResponse, ProviderError> {
    let identifiers = issued
        .identifiers
        .iter()
        .map(|i| PreauthorizedIdentifier::new(&i.type_, &i.value))
        .collect();
    let response = EnrollmentResponse::new(
        &registrar.settings.directory_url,
        &issued.binding.kid,
        &issued.binding.hmac_key,
        identifiers,
        unix_ms(issued.expires),
    );
    // The domain CA's answer must fit our bounds before we hand it on.
    response.encode().map_err(|e| {
        ProviderError::Unreachable(format!(
            "the domain CA's binding does not fit the client API: {e}"
        ))
    })?;
    Ok(response)
}

/// `register` of a device with a pending enrollment: the certificate must
/// be for the key it enrolled. An expired enrollment no longer counts (the
/// chain alone then decides, as for any registration).
pub(crate) fn check_enrolled_key(
    pending: Option<&PendingEnrollment>,
    certified: &[u8],
    now: u64,
) -> Result<(), ProviderError> {
    let Some(pending) = pending.filter(|p| p.expires_at_ms > now) else {
        return Ok(());
    };
    if same_key(&pending.signature_key, certified) {
        return Ok(());
    }
    Err(ProviderError::Forbidden(format!(
        "the certificate is for another key than the one {} enrolled with: order it with a CSR under the enrolled key, or enroll again",
        pending.device_id
    )))
}

/// Two SubjectPublicKeyInfos of the same key (compared as algorithm and
/// key bits, whatever their DER spelling).
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    match (PublicKey::from_spki_der(a), PublicKey::from_spki_der(b)) {
        (Ok(a), Ok(b)) => a.scheme() == b.scheme() && a.raw() == b.raw(),
        _ => a == b,
    }
}
