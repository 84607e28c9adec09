//! Enrollment at a domain CA (docs/enrollment.md): the `mimi-user` and
//! `mimi-device` identifiers (draft-mahy-mimi-identity URIs), phone numbers
//! through the domain CA's phone-number CAs, the registrar's `mimiNewEab`,
//! pre-authorized orders for the identifiers an EAB names, and the CSR rules
//! of the joint key/identity check (draft-barnes-mimi-identity-arch §4.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::{TnAuthList, TnEntry, VerifiedCsr};
use mimi_identifiers::{DeviceId, Form, PhoneNumber, UserId};

use super::{Ra, now, random_bytes, shorten, store_error, tn_identifier};
use crate::ca::{DomainCa, Profile};
use crate::objects::{Identifier, MIMI_DEVICE, MIMI_USER, NewEab, TN_AUTH_LIST, parse_rfc3339};
use crate::problem::{AcmeError, ErrorType};
use crate::sa::{
    AccountRecord, AcmeStore, EabKind, EabRecord, NewEab as NewEabRecord, OrderRecord,
};

/// Most identifiers one mimiNewEab may name: a user, a few devices and
/// numbers.
pub const MAX_EAB_IDENTIFIERS: usize = 8;
/// How long a new client EAB key stays usable when the registrar names no
/// time.
pub const EAB_DEFAULT_LIFETIME: i64 = 3600;
/// The longest a client EAB key may stay usable.
pub const EAB_MAX_LIFETIME: i64 = 24 * 3600;

/// The names of an enrollment: at most one user, that user's devices, and
/// phone numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Enrollment {
    pub user: Option<UserId>,
    pub devices: Vec<DeviceId>,
    pub phones: Vec<PhoneNumber>,
}

impl Enrollment {
    /// The numbers as one TNAuthList, if there are any.
    pub fn numbers(&self) -> Option<TnAuthList> {
        if self.phones.is_empty() {
            return None;
        }
        let entries = self.phones.iter().map(|p| TnEntry::One(p.into())).collect();
        // At most MAX_EAB_IDENTIFIERS single numbers: always a valid list.
        TnAuthList::new(entries).ok()
    }

    /// The names of identifiers that were checked when they were stored.
    pub fn of_stored(identifiers: &[Identifier]) -> Result<Enrollment, AcmeError> {
        let mut out = Enrollment::default();
        for id in identifiers {
            match read_name(id) {
                Ok(Name::User(u)) => out.user = Some(u),
                Ok(Name::Device(d)) => out.devices.push(d),
                Ok(Name::Phone(p)) => out.phones.push(p),
                Err(e) => {
                    return Err(AcmeError::internal("a stored identifier is unreadable", e));
                }
            }
        }
        Ok(out)
    }
}

/// What one identifier names.
enum Name {
    User(UserId),
    Device(DeviceId),
    Phone(PhoneNumber),
}

/// Reads an identifier of a type a domain CA takes, without checking its
/// domain: `malformed` if its value is not what its type says,
/// `unsupportedIdentifier` for other types.
fn read_name(id: &Identifier) -> Result<Name, AcmeError> {
    let uri = |kind: &str, shape: &str| {
        let parsed = mimi_identifiers::parse(&id.value).map_err(|e| {
            AcmeError::malformed(format!(
                "the {kind} identifier {} is not a mimi:// URI ({e}); send {shape}",
                shorten(&id.value)
            ))
        })?;
        if parsed.form != Form::Mimi {
            return Err(AcmeError::malformed(format!(
                "the {kind} identifier {} is not written as a mimi:// URI; send {shape}",
                shorten(&id.value)
            )));
        }
        Ok(parsed.identifier)
    };
    match id.type_.as_str() {
        MIMI_USER => match uri(MIMI_USER, "mimi://<domain>/u/<user>")? {
            mimi_identifiers::Identifier::User(u) => Ok(Name::User(u)),
            other => Err(AcmeError::malformed(format!(
                "the mimi-user identifier {} names a {}, not a user; send mimi://<domain>/u/<user>",
                shorten(&id.value),
                other.kind().as_str()
            ))),
        },
        MIMI_DEVICE => match uri(MIMI_DEVICE, "mimi://<domain>/d/<user>/<device>")? {
            mimi_identifiers::Identifier::Device(d) => Ok(Name::Device(d)),
            other => Err(AcmeError::malformed(format!(
                "the mimi-device identifier {} names a {}, not a device; send mimi://<domain>/d/<user>/<device>",
                shorten(&id.value),
                other.kind().as_str()
            ))),
        },
        TN_AUTH_LIST => tn_identifier(&id.value).map(|(_, phone)| Name::Phone(phone)),
        other => Err(AcmeError::new(
            ErrorType::UnsupportedIdentifier,
            format!(
                "identifier type {} is not offered by a domain CA; use mimi-user, mimi-device and TNAuthList",
                shorten(other)
            ),
        )),
    }
}

/// Checks one identifier for the domain CA `ca`: its type and value, that a
/// mimi URI's host is the CA's domain and a device names its user, and that
/// a phone-number CA covers a number. Returns it in canonical form.
fn check_identifier(ca: &DomainCa, id: &Identifier) -> Result<(Identifier, Name), AcmeError> {
    let rejected = |detail: String| AcmeError::new(ErrorType::RejectedIdentifier, detail);
    let name = read_name(id)?;
    let (domain, canonical) = match &name {
        Name::User(u) => (
            u.domain(),
            mimi_identifiers::Identifier::User(u.clone()).to_mimi_uri(),
        ),
        Name::Device(d) => {
            if d.user().is_none() {
                return Err(rejected(format!(
                    "the device {} does not name its user; certificates name devices as mimi://<domain>/d/<user>/<device>",
                    shorten(&id.value)
                )));
            }
            (
                d.domain(),
                mimi_identifiers::Identifier::Device(d.clone()).to_mimi_uri(),
            )
        }
        Name::Phone(phone) => {
            let list = TnAuthList::one(phone);
            if ca.phone_ca_covering(&list).is_none() {
                return Err(rejected(format!(
                    "this domain CA holds no phone-number CA for {phone}; numbers are certified only through a phone-number CA the identity authority issued for them"
                )));
            }
            let value = URL_SAFE_NO_PAD.encode(list.to_der());
            return Ok((
                Identifier {
                    type_: TN_AUTH_LIST.into(),
                    value,
                },
                name,
            ));
        }
    };
    match domain {
        Some(d) if d == ca.domain() => {}
        Some(d) => {
            return Err(rejected(format!(
                "{} is a name of {d}; this domain CA certifies names of {} only",
                shorten(&id.value),
                ca.domain()
            )));
        }
        None => {
            return Err(rejected(format!(
                "{} names no domain; this domain CA certifies names of {} only",
                shorten(&id.value),
                ca.domain()
            )));
        }
    }
    let value = canonical
        .map_err(|e| AcmeError::internal("a checked mimi identifier has no mimi URI", e))?;
    Ok((
        Identifier {
            type_: id.type_.clone(),
            value,
        },
        name,
    ))
}

/// Checks the identifiers of a mimiNewEab or a newOrder at the domain CA
/// `ca`: 1 to `max`, each as [`check_identifier`], no duplicates (after
/// canonicalisation), at most one user, and every device of one user — the
/// named user, if there is one. Returns them canonical, in the order given.
fn check_identifiers(
    ca: &DomainCa,
    identifiers: &[Identifier],
    max: usize,
) -> Result<(Vec<Identifier>, Enrollment), AcmeError> {
    if identifiers.is_empty() || identifiers.len() > max {
        return Err(AcmeError::malformed(format!(
            "{} identifiers given; send 1 to {max}",
            identifiers.len()
        )));
    }
    let mut out: Vec<Identifier> = Vec::with_capacity(identifiers.len());
    let mut names = Enrollment::default();
    for id in identifiers {
        let (id, name) = check_identifier(ca, id)?;
        if out.contains(&id) {
            return Err(AcmeError::malformed(format!(
                "{} is listed twice; list each identifier once",
                shorten(&id.value)
            )));
        }
        out.push(id);
        match name {
            Name::User(u) => {
                if let Some(first) = &names.user {
                    return Err(AcmeError::malformed(format!(
                        "two users are named ({first} and {u}); an enrollment is for at most one user"
                    )));
                }
                names.user = Some(u);
            }
            Name::Device(d) => names.devices.push(d),
            Name::Phone(p) => names.phones.push(p),
        }
    }
    let owner = names
        .user
        .clone()
        .or_else(|| names.devices.first().and_then(DeviceId::user));
    for device in &names.devices {
        if device.user() != owner {
            let owner = owner.as_ref().map(ToString::to_string).unwrap_or_default();
            return Err(AcmeError::new(
                ErrorType::RejectedIdentifier,
                format!(
                    "the device {device} is not a device of {owner}; an enrollment names the devices of one user only"
                ),
            ));
        }
    }
    Ok((out, names))
}

/// Whether `profile` fits an order's names (docs/enrollment.md): `device`
/// names one device, maybe its user, maybe numbers; `user` and `user-ca`
/// name one user and nothing else.
fn check_profile_fit(profile: Profile, names: &Enrollment) -> Result<(), AcmeError> {
    let rejected = |detail: String| Err(AcmeError::new(ErrorType::RejectedIdentifier, detail));
    match profile {
        Profile::Device => {
            if names.devices.len() != 1 {
                return Err(AcmeError::malformed(format!(
                    "a device order names exactly one mimi-device identifier (with its mimi-user for a combined certificate, and TNAuthList identifiers for numbers); this one names {}",
                    names.devices.len()
                )));
            }
            Ok(())
        }
        Profile::User | Profile::UserCa => {
            if !names.devices.is_empty() {
                return rejected(format!(
                    "a {} order names only the user; order devices with \"profile\": \"device\"",
                    profile.name()
                ));
            }
            if !names.phones.is_empty() {
                return rejected(format!(
                    "numbers are certified only in device orders, not in {} orders; order them with \"profile\": \"device\" together with the device",
                    profile.name()
                ));
            }
            if names.user.is_none() {
                return Err(AcmeError::malformed(format!(
                    "a {} order names exactly one mimi-user identifier",
                    profile.name()
                )));
            }
            Ok(())
        }
        other => Err(AcmeError::new(
            ErrorType::InvalidProfile,
            format!(
                "the {} profile is not offered by a domain CA; the directory lists the profiles offered",
                other.name()
            ),
        )),
    }
}

/// The joint key/identity check at a domain CA (draft-barnes-mimi-identity-arch
/// §4.1): the CSR's URIs are exactly the order's mimi identifiers (compared
/// canonical), its TNAuthList exactly the order's numbers, and it names no
/// DNS names. Its key type and self-signature were checked by `verify_csr`.
pub(crate) fn check_csr_names(order: &OrderRecord, csr: &VerifiedCsr) -> Result<(), AcmeError> {
    let bad = |detail: String| Err(AcmeError::new(ErrorType::BadCsr, detail));
    let mut wanted: Vec<&str> = order
        .identifiers
        .iter()
        .filter(|i| i.type_ == MIMI_USER || i.type_ == MIMI_DEVICE)
        .map(|i| i.value.as_str())
        .collect();
    wanted.sort_unstable();
    if !csr.dns_names.is_empty() {
        return bad(format!(
            "the CSR names DNS names {:?}; a MIMI credential names only the order's URIs {wanted:?}",
            csr.dns_names
        ));
    }
    let mut got = Vec::with_capacity(csr.uris.len());
    for uri in &csr.uris {
        let canonical = mimi_identifiers::parse(uri)
            .ok()
            .filter(|p| p.form == Form::Mimi)
            .and_then(|p| p.identifier.to_mimi_uri().ok());
        match canonical {
            Some(c) => got.push(c),
            None => {
                return bad(format!(
                    "the CSR's URI {} is not a mimi:// URI; it must name exactly the order's URIs {wanted:?}",
                    shorten(uri)
                ));
            }
        }
    }
    got.sort_unstable();
    got.dedup();
    if got.len() != csr.uris.len() || got != wanted {
        return bad(format!(
            "the CSR names the URIs {:?}; it must name exactly the order's URIs {wanted:?}, each once",
            csr.uris
        ));
    }
    let order_numbers = Enrollment::of_stored(&order.identifiers)?.numbers();
    match (&order_numbers, &csr.tn_auth_list) {
        (None, None) => Ok(()),
        (None, Some(_)) => bad(
            "the CSR carries a TNAuthList extension, but the order names no numbers; leave it out, or order the numbers too".into(),
        ),
        (Some(_), None) => bad(
            "the CSR carries no TNAuthList extension; it must carry the order's numbers (RFC 8226, OID 1.3.6.1.5.5.7.1.26)".into(),
        ),
        (Some(ours), Some(theirs)) => {
            let same = ours.entries().len() == theirs.entries().len()
                && ours.entries().iter().all(|e| theirs.entries().contains(e));
            if same {
                Ok(())
            } else {
                bad(format!(
                    "the CSR's TNAuthList is not the order's numbers ({}); request exactly the order's numbers, one `one` entry each",
                    ours.numbers()
                        .map(|n| format!("+{}", n.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}

/// A client EAB key made by mimiNewEab.
#[derive(Clone)]
pub struct EabGrant {
    pub kid: String,
    pub hmac_key: Vec<u8>,
    pub identifiers: Vec<Identifier>,
    /// Unix seconds.
    pub expires: i64,
}

impl std::fmt::Debug for EabGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EabGrant")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .field("identifiers", &self.identifiers)
            .field("expires", &self.expires)
            .finish()
    }
}

impl<S: AcmeStore> Ra<S> {
    /// The EAB key an account was created with, if any.
    pub async fn account_eab(
        &self,
        account: &AccountRecord,
    ) -> Result<Option<EabRecord>, AcmeError> {
        let Some(kid) = &account.eab_kid else {
            return Ok(None);
        };
        self.store.eab(kid).await.map_err(store_error)
    }

    /// Whether `account` is a registrar account (created with a registrar
    /// EAB key).
    pub(crate) async fn is_registrar(&self, account: &AccountRecord) -> Result<bool, AcmeError> {
        Ok(self
            .account_eab(account)
            .await?
            .is_some_and(|e| e.kind == EabKind::Registrar))
    }

    /// mimiNewEab (docs/enrollment.md): the registrar account creates an
    /// EAB key that pre-authorizes one client account for `request`'s
    /// identifiers until it expires or binds an account.
    pub async fn new_eab(
        &self,
        account: &AccountRecord,
        request: NewEab,
    ) -> Result<EabGrant, AcmeError> {
        let ca = self.issuers.domain_ca().ok_or_else(|| {
            AcmeError::not_found("this server is not a domain CA and makes no EAB keys")
        })?;
        if !self.is_registrar(account).await? {
            return Err(AcmeError::unauthorized(
                "only the registrar account (created with a registrar EAB key from the domain CA's operator) may create EAB keys",
            ));
        }
        let t = now();
        let expires = match &request.expires {
            None => t + EAB_DEFAULT_LIFETIME,
            Some(text) => {
                let at = parse_rfc3339(text).ok_or_else(|| {
                    AcmeError::malformed(format!(
                        "expires {} is not an RFC 3339 time; send e.g. \"2026-11-25T12:00:00Z\", or leave it out for one hour",
                        shorten(text)
                    ))
                })?;
                if at <= t || at > t + EAB_MAX_LIFETIME {
                    return Err(AcmeError::malformed(format!(
                        "expires {} is not within the next 24 hours; an EAB key lives at most 24 hours",
                        shorten(text)
                    )));
                }
                at
            }
        };
        let (identifiers, names) =
            check_identifiers(ca, &request.identifiers, MAX_EAB_IDENTIFIERS)?;
        if names.user.is_none() && names.devices.is_empty() {
            return Err(AcmeError::malformed(
                "the identifiers name no user or device; an EAB key enrolls one user or one user's devices (numbers go with a device)",
            ));
        }
        let kid = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let hmac_key = random_bytes::<32>().to_vec();
        self.store
            .add_eab(&NewEabRecord {
                kid: kid.clone(),
                hmac_key: hmac_key.clone(),
                kind: EabKind::Client,
                identifiers: identifiers.clone(),
                expires: Some(expires),
                created_by: Some(account.id),
                created_at: t,
            })
            .await
            .map_err(store_error)?;
        Ok(EabGrant {
            kid,
            hmac_key,
            identifiers,
            expires,
        })
    }

    /// A newOrder at a domain CA: from a client account, whose EAB key names
    /// every identifier ordered, with a profile that fits them. Returns the
    /// identifiers, canonical; the order is created pre-authorized.
    pub(crate) async fn check_domain_order(
        &self,
        ca: &DomainCa,
        account: &AccountRecord,
        profile: Profile,
        identifiers: &[Identifier],
    ) -> Result<Vec<Identifier>, AcmeError> {
        let eab = self.account_eab(account).await?;
        let allowed = match eab {
            Some(EabRecord {
                kind: EabKind::Client,
                identifiers,
                ..
            }) => identifiers,
            Some(EabRecord {
                kind: EabKind::Registrar,
                ..
            }) => {
                return Err(AcmeError::unauthorized(
                    "the registrar account does not order certificates; create an EAB key for the client with mimiNewEab, and let the client order with its own account",
                ));
            }
            _ => {
                return Err(AcmeError::new(
                    ErrorType::ExternalAccountRequired,
                    "this account was not created with an EAB key from the registrar (mimiNewEab), so it is authorized for nothing; create an account with one",
                ));
            }
        };
        let (identifiers, names) = check_identifiers(ca, identifiers, crate::ra::MAX_IDENTIFIERS)?;
        if let Some(outside) = identifiers.iter().find(|i| !allowed.contains(i)) {
            return Err(AcmeError::new(
                ErrorType::RejectedIdentifier,
                format!(
                    "this account is not authorized for {} {}: its EAB key names {}; order only those, or ask the registrar for a key naming it",
                    outside.type_,
                    shorten(&outside.value),
                    allowed
                        .iter()
                        .map(|i| i.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        check_profile_fit(profile, &names)?;
        if let Some(numbers) = names.numbers()
            && ca.phone_ca_covering(&numbers).is_none()
        {
            return Err(AcmeError::new(
                ErrorType::RejectedIdentifier,
                "no single phone-number CA of this domain CA covers all the order's numbers; order the numbers of one phone-number CA per certificate",
            ));
        }
        Ok(identifiers)
    }
}
