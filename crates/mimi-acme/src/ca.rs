//! The CA side: turns a finalized order and its verified CSR into a
//! certificate chain, per ACME profile (draft-ietf-acme-profiles). The
//! identity authority issues from its roots ([`Issuers`]); a domain CA from
//! its domain CA and phone-number CAs ([`domain::DomainCa`]). [`Issuing`] is
//! either.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::{
    CertificateAuthority, Crl, RevokedSerial, Subject, TnAuthList, Validity, VerifiedCsr,
};
use mimi_identifiers::Domain;

use crate::objects::{DNS, Identifier, TN_AUTH_LIST};
use crate::problem::{AcmeError, ErrorType};
use crate::sa::CrlIssuer;

pub mod domain;

pub use domain::{DomainCa, DomainCaError, Lifetimes};

/// The certificate profiles of the identity authority and of domain CAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// A TLS server certificate for providers' HTTPS endpoints, from the TLS
    /// root (never from an identity root).
    TlsServer,
    /// A provider's domain CA, name-constrained to its domain, from the
    /// identity root. Only for accounts with external account binding.
    DomainCa,
    /// A provider's phone-number CA (draft-peterson-mimi-idprover): one
    /// telephone number proved with `sms-link-00` and the provider's domain
    /// proved with `http-01` in the same order, from the identity root,
    /// name-constrained to that domain. Only for accounts with external
    /// account binding.
    PhoneCa,
    /// At a domain CA: a device certificate (draft-mahy-mimi-identity
    /// profile 1; profile 2 when the order also names the user), from the
    /// domain CA, or from a phone-number CA when it carries numbers.
    Device,
    /// At a domain CA: a user certificate (profile 1).
    User,
    /// At a domain CA: a user CA (profile 3, path length 0), which certifies
    /// its user's devices itself.
    UserCa,
}

impl Profile {
    /// The identity authority's default profile.
    pub const DEFAULT: Profile = Profile::TlsServer;
    /// A domain CA's default profile.
    pub const DOMAIN_CA_DEFAULT: Profile = Profile::Device;
    pub const ALL: [Profile; 6] = [
        Profile::TlsServer,
        Profile::DomainCa,
        Profile::PhoneCa,
        Profile::Device,
        Profile::User,
        Profile::UserCa,
    ];
    /// What the identity authority offers.
    pub const AUTHORITY: [Profile; 3] = [Profile::TlsServer, Profile::DomainCa, Profile::PhoneCa];
    /// What a domain CA offers.
    pub const DOMAIN: [Profile; 3] = [Profile::Device, Profile::User, Profile::UserCa];

    pub fn name(self) -> &'static str {
        match self {
            Profile::TlsServer => "tls-server",
            Profile::DomainCa => "domain-ca",
            Profile::PhoneCa => "phone-ca",
            Profile::Device => "device",
            Profile::User => "user",
            Profile::UserCa => "user-ca",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Profile::TlsServer => "TLS server certificate for dns identifiers, from the TLS root",
            Profile::DomainCa => {
                "a provider's MIMI domain CA (one dns identifier, name-constrained to it), \
                 from the identity root; needs an account with external account binding"
            }
            Profile::PhoneCa => {
                "a provider's MIMI phone-number CA: one TNAuthList identifier (one number, \
                 sms-link-00) and one dns identifier (the provider's domain, http-01), \
                 name-constrained to that domain, 30 days, from the identity root; needs an \
                 account with external account binding"
            }
            Profile::Device => {
                "a device certificate: one mimi-device identifier, with its mimi-user for a \
                 combined user and device certificate, and TNAuthList identifiers for numbers \
                 (then issued by the phone-number CA covering them); for accounts \
                 pre-authorized by external account binding"
            }
            Profile::User => {
                "a user certificate: one mimi-user identifier; for accounts pre-authorized by \
                 external account binding"
            }
            Profile::UserCa => {
                "a user CA (path length 0) that certifies its user's devices: one mimi-user \
                 identifier; for accounts pre-authorized by external account binding"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The CA that signs certificates of this profile (a domain CA's
    /// device certificates with numbers come from a phone-number CA
    /// instead).
    pub fn issuer(self) -> CrlIssuer {
        match self {
            Profile::TlsServer => CrlIssuer::TlsRoot,
            Profile::DomainCa | Profile::PhoneCa => CrlIssuer::IdentityRoot,
            Profile::Device | Profile::User | Profile::UserCa => CrlIssuer::DomainCa,
        }
    }

    /// How long certificates of this profile live (a domain CA's profiles:
    /// the defaults of [`Lifetimes`], which its config may change).
    pub fn lifetime(self) -> Duration {
        match self {
            Profile::Device | Profile::User | Profile::UserCa => Lifetimes::default().of(self),
            Profile::TlsServer => Duration::from_secs(30 * 24 * 3600),
            // A domain CA is short-lived: its provider renews it with ARI.
            Profile::DomainCa => Duration::from_secs(14 * 24 * 3600),
            // Control of a number must be re-proved (draft-peterson-mimi-idprover
            // §1): at most 30 days. Less the minute of clock skew that
            // `Validity::starting_now` puts before now, so that notAfter −
            // notBefore is exactly 30 days.
            Profile::PhoneCa => Duration::from_secs(30 * 24 * 3600 - 60),
        }
    }
}

/// The issuing keys of the authority.
#[derive(Debug)]
pub struct Issuers {
    pub tls_root: CertificateAuthority,
    pub identity_root: CertificateAuthority,
}

/// An issued chain, ready to store.
#[derive(Debug, Clone)]
pub struct Issued {
    pub chain_pem: String,
    pub serial_hex: String,
    pub not_after: i64,
    pub issuer: CrlIssuer,
}

impl Issuers {
    /// The root that is `issuer`, if it is one of the authority's.
    pub fn root(&self, issuer: CrlIssuer) -> Option<&CertificateAuthority> {
        match issuer {
            CrlIssuer::IdentityRoot => Some(&self.identity_root),
            CrlIssuer::TlsRoot => Some(&self.tls_root),
            CrlIssuer::DomainCa | CrlIssuer::PhoneCa(_) => None,
        }
    }

    /// Signs `issuer`'s CRL listing `revoked` (serials as hex, revocation
    /// times in Unix seconds), valid from `this_update` for `lifetime`.
    pub fn crl(
        &self,
        issuer: CrlIssuer,
        revoked: &[(String, i64)],
        this_update: SystemTime,
        lifetime: Duration,
        number: u64,
    ) -> Result<Crl, AcmeError> {
        let root = self.root(issuer).ok_or_else(|| {
            AcmeError::internal("a CRL was asked of a CA that is not here", issuer.name())
        })?;
        sign_crl_with(root, revoked, this_update, lifetime, number)
    }

    pub fn issue(
        &self,
        profile: Profile,
        identifiers: &[Identifier],
        csr: &VerifiedCsr,
    ) -> Result<Issued, AcmeError> {
        let domains = dns_domains(identifiers)?;
        let one_domain = |profile: &str| {
            <[Domain; 1]>::try_from(domains.clone()).map_err(|_| {
                AcmeError::new(
                    ErrorType::RejectedIdentifier,
                    format!("a {profile} order names exactly one dns identifier"),
                )
            })
        };
        let (issuer, subject) = match profile {
            Profile::TlsServer => {
                if identifiers.iter().any(|i| i.type_ != DNS) {
                    return Err(AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        "a tls-server certificate names dns identifiers only",
                    ));
                }
                (&self.tls_root, Subject::TlsServer { dns_names: domains })
            }
            Profile::DomainCa => {
                if identifiers.iter().any(|i| i.type_ != DNS) {
                    return Err(AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        "a domain-ca certificate names dns identifiers only",
                    ));
                }
                let [domain] = one_domain("domain-ca")?;
                let subject = Subject::DomainCa {
                    domain,
                    organization: None,
                };
                (&self.identity_root, subject)
            }
            Profile::PhoneCa => {
                let [domain] = one_domain("phone-ca")?;
                let lists = identifiers
                    .iter()
                    .filter(|i| i.type_ == TN_AUTH_LIST)
                    .map(|i| crate::ra::tn_auth_list_of(&i.value))
                    .collect::<Result<Vec<_>, _>>()?;
                let [numbers] = <[TnAuthList; 1]>::try_from(lists).map_err(|_| {
                    AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        "a phone-ca order names exactly one TNAuthList identifier",
                    )
                })?;
                (&self.identity_root, Subject::PhoneCa { domain, numbers })
            }
            Profile::Device | Profile::User | Profile::UserCa => {
                return Err(AcmeError::new(
                    ErrorType::InvalidProfile,
                    format!(
                        "the {} profile is issued by domain CAs, not by the identity authority",
                        profile.name()
                    ),
                ));
            }
        };
        let validity = Validity::starting_now(profile.lifetime());
        let cert = issuer
            .issue(&subject, &csr.public_key, validity)
            .map_err(|e| AcmeError::new(ErrorType::BadCsr, format!("cannot issue: {e}")))?;
        let not_after = unix_seconds(cert.not_after());
        Ok(Issued {
            chain_pem: cert.pem() + &issuer.certificate().pem(),
            serial_hex: hex(cert.serial()),
            not_after,
            issuer: profile.issuer(),
        })
    }
}

/// Signs a CRL for one of its issuers.
pub trait CrlSigner {
    /// Signs `issuer`'s CRL listing `revoked` (serials as hex, revocation
    /// times in Unix seconds), valid from `this_update` for `lifetime`.
    fn sign_crl(
        &self,
        issuer: CrlIssuer,
        revoked: &[(String, i64)],
        this_update: SystemTime,
        lifetime: Duration,
        number: u64,
    ) -> Result<Crl, AcmeError>;
}

impl CrlSigner for Issuers {
    fn sign_crl(
        &self,
        issuer: CrlIssuer,
        revoked: &[(String, i64)],
        this_update: SystemTime,
        lifetime: Duration,
        number: u64,
    ) -> Result<Crl, AcmeError> {
        self.crl(issuer, revoked, this_update, lifetime, number)
    }
}

/// Who issues here: the identity authority's roots, or a domain CA.
#[derive(Debug)]
pub enum Issuing {
    Authority(Box<Issuers>),
    DomainCa(Box<DomainCa>),
}

impl Issuing {
    /// The profiles offered (and listed in the directory).
    pub fn profiles(&self) -> &'static [Profile] {
        match self {
            Issuing::Authority(_) => &Profile::AUTHORITY,
            Issuing::DomainCa(_) => &Profile::DOMAIN,
        }
    }

    /// The profile of an order that names none.
    pub fn default_profile(&self) -> Profile {
        match self {
            Issuing::Authority(_) => Profile::DEFAULT,
            Issuing::DomainCa(_) => Profile::DOMAIN_CA_DEFAULT,
        }
    }

    /// The domain CA, when this is one.
    pub fn domain_ca(&self) -> Option<&DomainCa> {
        match self {
            Issuing::Authority(_) => None,
            Issuing::DomainCa(d) => Some(d),
        }
    }

    /// The CAs that publish a CRL here.
    pub fn crl_issuers(&self) -> Vec<CrlIssuer> {
        match self {
            Issuing::Authority(_) => CrlIssuer::AUTHORITY.to_vec(),
            Issuing::DomainCa(d) => d.crl_issuers(),
        }
    }

    /// The path of `issuer`'s CRL after `/acme/crl/`.
    pub fn crl_path(&self, issuer: CrlIssuer) -> Option<String> {
        match self {
            Issuing::Authority(_) => CrlIssuer::AUTHORITY
                .contains(&issuer)
                .then(|| issuer.name()),
            Issuing::DomainCa(d) => d.crl_path(issuer),
        }
    }

    /// The issuer whose CRL is at `/acme/crl/<path>`.
    pub fn crl_issuer_at(&self, path: &str) -> Option<CrlIssuer> {
        self.crl_issuers()
            .into_iter()
            .find(|i| self.crl_path(*i).as_deref() == Some(path))
    }

    pub fn issue(
        &self,
        profile: Profile,
        identifiers: &[Identifier],
        csr: &VerifiedCsr,
    ) -> Result<Issued, AcmeError> {
        match self {
            Issuing::Authority(issuers) => issuers.issue(profile, identifiers, csr),
            Issuing::DomainCa(d) => d.issue(profile, identifiers, csr),
        }
    }
}

impl CrlSigner for Issuing {
    fn sign_crl(
        &self,
        issuer: CrlIssuer,
        revoked: &[(String, i64)],
        this_update: SystemTime,
        lifetime: Duration,
        number: u64,
    ) -> Result<Crl, AcmeError> {
        match self {
            Issuing::Authority(issuers) => {
                issuers.sign_crl(issuer, revoked, this_update, lifetime, number)
            }
            Issuing::DomainCa(d) => {
                let ca = d.ca_for(issuer).ok_or_else(|| {
                    AcmeError::internal("a CRL was asked of a CA that is not here", issuer.name())
                })?;
                sign_crl_with(ca, revoked, this_update, lifetime, number)
            }
        }
    }
}

/// Signs a CRL with `ca` listing `revoked` (serials as hex, revocation times
/// in Unix seconds).
fn sign_crl_with(
    ca: &CertificateAuthority,
    revoked: &[(String, i64)],
    this_update: SystemTime,
    lifetime: Duration,
    number: u64,
) -> Result<Crl, AcmeError> {
    let revoked = revoked
        .iter()
        .map(|(serial, at)| {
            Ok(RevokedSerial {
                serial: unhex(serial)
                    .ok_or_else(|| AcmeError::internal("a stored serial is not hex", serial))?,
                revoked_at: UNIX_EPOCH + Duration::from_secs(u64::try_from(*at).unwrap_or(0)),
            })
        })
        .collect::<Result<Vec<_>, AcmeError>>()?;
    ca.crl(&revoked, this_update, this_update + lifetime, number)
        .map_err(|e| AcmeError::internal("signing a CRL failed", e))
}

/// The order's `dns` identifiers as domains.
fn dns_domains(identifiers: &[Identifier]) -> Result<Vec<Domain>, AcmeError> {
    identifiers
        .iter()
        .filter(|i| i.type_ == DNS)
        .map(|i| {
            Domain::parse(&i.value).map_err(|e| {
                AcmeError::new(ErrorType::RejectedIdentifier, format!("{}: {e}", i.value))
            })
        })
        .collect()
}

pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Lowercase hex, as serials are stored.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lowercase or uppercase hex, or `None`.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The ARI certificate identifier (RFC 9773 §4.1): base64url of the
/// authority key identifier's keyIdentifier, ".", base64url of the serial's
/// DER content bytes.
pub fn cert_id(aki: &[u8], serial: &[u8]) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(aki),
        URL_SAFE_NO_PAD.encode(serial)
    )
}

/// Reads a certID (RFC 9773 §4.1) into (keyIdentifier, serial bytes).
/// `None` if it is not two non-empty base64url parts around one ".".
pub fn parse_cert_id(text: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (aki, serial) = text.split_once('.')?;
    let aki = URL_SAFE_NO_PAD.decode(aki).ok()?;
    let serial = URL_SAFE_NO_PAD.decode(serial).ok()?;
    (!aki.is_empty() && !serial.is_empty()).then_some((aki, serial))
}

/// One DER TLV at the start of `input`: (tag, content, what follows).
/// Only the forms that X.509 certificates use: one-byte tags and definite
/// lengths of at most four bytes.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The keyIdentifier of a certificate's authority key identifier extension
/// (RFC 5280 §4.2.1.1), which an ARI certID names. mimi-credentials reads it
/// but does not expose it, so this walks the DER: Certificate →
/// TBSCertificate → `[3]` extensions → the extension 2.5.29.35 → its
/// keyIdentifier `[0]`. `None` if the certificate has none.
pub fn authority_key_id(cert_der: &[u8]) -> Option<Vec<u8>> {
    const AKI: [u8; 3] = [0x55, 0x1d, 0x23];
    let (0x30, cert, _) = tlv(cert_der)? else {
        return None;
    };
    let (0x30, mut tbs, _) = tlv(cert)? else {
        return None;
    };
    while !tbs.is_empty() {
        let (tag, content, rest) = tlv(tbs)?;
        tbs = rest;
        if tag != 0xa3 {
            continue;
        }
        let (0x30, mut extensions, _) = tlv(content)? else {
            return None;
        };
        while !extensions.is_empty() {
            let (0x30, extension, rest) = tlv(extensions)? else {
                return None;
            };
            extensions = rest;
            let (0x06, oid, extension) = tlv(extension)? else {
                return None;
            };
            if oid != AKI {
                continue;
            }
            // extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING.
            let (mut tag, mut value, rest) = tlv(extension)?;
            if tag == 0x01 {
                (tag, value, _) = tlv(rest)?;
            }
            if tag != 0x04 {
                return None;
            }
            let (0x30, mut fields, _) = tlv(value)? else {
                return None;
            };
            while !fields.is_empty() {
                let (tag, content, rest) = tlv(fields)?;
                if tag == 0x80 {
                    return Some(content.to_vec());
                }
                fields = rest;
            }
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests;
