//! Issuing MIMI credentials: identity root → domain CA (or phone-number CA) →
//! user → device, in the three profiles of draft-mahy-mimi-identity
//! ("Centralized credential hierarchy", examples 1-3).
//!
//! | profile | chain |
//! |---|---|
//! | 1, separate certificates | domain CA → user certificate; domain CA → device certificate (device URI) |
//! | 2, one combined certificate | domain CA → device certificate (user URI + device URI) |
//! | 3, cascading | domain CA → user CA (path length 0) → device certificate |
//!
//! A CA only issues what it may: a domain CA names of its own domain, a
//! phone-number CA names of its provider's domain and numbers within its
//! TNAuthList, a user CA devices of its user. Verification checks the same
//! rules again; this side is defence in depth.
//!
//! Beside the identity PKI stands a separate TLS PKI (ARCHITECTURE.md, "Trust
//! model"): a TLS root issues only TLS server certificates, and identity CAs
//! never do. The two are never mixed, so that trusting a provider's HTTPS
//! endpoint never makes anyone accept an identity, and the reverse.

use std::time::{Duration, SystemTime};

use der::Encode;
use der::asn1::Ia5String;
use mimi_identifiers::{DeviceId, Domain, Identifier, UserId};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension,
    DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, NameConstraints};
use x509_cert::ext::pkix::name::GeneralName;

use crate::cert::Certificate;
use crate::crl::Crl;
use crate::error::IssueError;
use crate::key::{KeyPair, PublicKey, SignatureScheme};
use crate::oids;
use crate::tnauthlist::TnAuthList;

/// Longest a CRL may be valid (nextUpdate − thisUpdate), so that a provider
/// relaying stale revocation data is caught within a day.
pub const MAX_CRL_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a CA is, which decides what it may issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaRole {
    /// A trusted identity root: issues domain and phone-number CAs.
    Root,
    /// A provider's domain CA, name-constrained to its domain.
    Domain(Domain),
    /// A CA attesting a provider's association with phone numbers,
    /// name-constrained to the provider's domain.
    Phone { domain: Domain, numbers: TnAuthList },
    /// A profile-3 user CA: issues only that user's device certificates.
    User(UserId),
    /// The TLS root: issues only TLS server certificates
    /// ([`Subject::TlsServer`]), never MIMI identities, and is never a MIMI
    /// trust anchor.
    ///
    /// **How its certificate says so:** it is a self-signed CA whose
    /// extendedKeyUsage is exactly `serverAuth`; an identity root carries no
    /// extendedKeyUsage at all. Why this marker: it is the standard field
    /// for "what this key may be used for", so it holds outside this crate
    /// too — OpenSSL and other RFC 5280 verifiers that honour CA EKUs refuse
    /// the TLS root for anything but TLS servers (e.g. as an issuer of
    /// clientAuth certificates), while the subject name is free text chosen
    /// by whoever runs the CA, and a name-constraint marker would limit the
    /// TLS root to fixed DNS subtrees. [`CertificateAuthority::from_parts`]
    /// refuses a self-signed CA whose extendedKeyUsage is anything else, or
    /// that carries serverAuth together with MIMI names (URIs, URI name
    /// constraints, TNAuthList), and `verify_chain` refuses any chain
    /// through a CA whose extendedKeyUsage allows serverAuth.
    TlsRoot,
}

/// The subject of a certificate to issue.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A provider's domain CA (issued by a root).
    DomainCa {
        domain: Domain,
        organization: Option<String>,
    },
    /// A phone-number CA for a provider (issued by a root).
    PhoneCa { domain: Domain, numbers: TnAuthList },
    /// A user certificate (profile 1), or with `issues_devices` a user CA
    /// (profile 3).
    User {
        user: UserId,
        issues_devices: bool,
        numbers: Option<TnAuthList>,
        organization: Option<String>,
    },
    /// A device certificate; with `with_user_uri` it also names the user
    /// (profile 2).
    Device {
        device: DeviceId,
        with_user_uri: bool,
        numbers: Option<TnAuthList>,
        organization: Option<String>,
    },
    /// A TLS server certificate for a provider's HTTPS endpoint (issued only
    /// by a TLS root): DNS names in subjectAltName, at least one, the first
    /// also as the common name.
    TlsServer { dns_names: Vec<Domain> },
}

/// A certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Validity {
    pub fn new(not_before: SystemTime, not_after: SystemTime) -> Result<Self, IssueError> {
        if not_after <= not_before {
            return Err(IssueError::BadValidity("notAfter must be after notBefore"));
        }
        Ok(Validity {
            not_before,
            not_after,
        })
    }

    /// From a minute ago (clock skew) for `lifetime`.
    pub fn starting_now(lifetime: Duration) -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now - Duration::from_secs(60),
            not_after: now + lifetime,
        }
    }
}

/// A revoked certificate, for a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSerial {
    pub serial: Vec<u8>,
    pub revoked_at: SystemTime,
}

/// A CA: its certificate, its key and its role.
#[derive(Debug)]
pub struct CertificateAuthority {
    certificate: Certificate,
    key: KeyPair,
    role: CaRole,
    /// The subject DN as rcgen needs it to write `issuer` fields.
    dn: DistinguishedName,
}

impl CertificateAuthority {
    /// Creates a self-signed identity root.
    pub fn new_root(
        name: &str,
        scheme: SignatureScheme,
        validity: Validity,
    ) -> Result<Self, IssueError> {
        let key = KeyPair::generate(scheme)?;
        let mut params = base_params(validity)?;
        params.distinguished_name = dn(name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = ca_key_usages();
        let cert = params.self_signed(key.rcgen())?;
        let certificate =
            Certificate::from_der(cert.der()).map_err(|e| IssueError::Generation(e.to_string()))?;
        Ok(CertificateAuthority {
            certificate,
            key,
            role: CaRole::Root,
            dn: params.distinguished_name,
        })
    }

    /// Creates a self-signed TLS root: it signs only TLS server certificates
    /// ([`Subject::TlsServer`]) and is never an identity root. Its
    /// certificate carries extendedKeyUsage serverAuth, which is how it is
    /// told apart from an identity root (see [`CaRole::TlsRoot`]), and path
    /// length 0, since it certifies servers directly.
    pub fn new_tls_root(
        name: &str,
        scheme: SignatureScheme,
        validity: Validity,
    ) -> Result<Self, IssueError> {
        let key = KeyPair::generate(scheme)?;
        let mut params = base_params(validity)?;
        params.distinguished_name = dn(name, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = ca_key_usages();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.self_signed(key.rcgen())?;
        let certificate =
            Certificate::from_der(cert.der()).map_err(|e| IssueError::Generation(e.to_string()))?;
        Ok(CertificateAuthority {
            certificate,
            key,
            role: CaRole::TlsRoot,
            dn: params.distinguished_name,
        })
    }

    /// Puts a CA back together from its certificate and key (e.g. loaded
    /// from disk), working out its role from the certificate: a self-signed
    /// CA is the TLS root if its extendedKeyUsage is exactly serverAuth, an
    /// identity root if it has none (see [`CaRole::TlsRoot`]).
    pub fn from_parts(certificate: Certificate, key: KeyPair) -> Result<Self, IssueError> {
        if key.public_key().spki_der() != certificate.spki_der() {
            return Err(IssueError::BadCa(
                "the key does not match the certificate".into(),
            ));
        }
        if certificate.ca().is_none() {
            return Err(IssueError::BadCa("the certificate is not a CA".into()));
        }
        let role = role_of(&certificate)?;
        let dn = dn_of(&certificate)?;
        Ok(CertificateAuthority {
            certificate,
            key,
            role,
            dn,
        })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    pub fn role(&self) -> &CaRole {
        &self.role
    }

    /// Issues a certificate for `subject` with the subject's public key.
    pub fn issue(
        &self,
        subject: &Subject,
        key: &PublicKey,
        validity: Validity,
    ) -> Result<Certificate, IssueError> {
        self.check_may_issue(subject)?;
        let params = subject_params(subject, validity)?;
        let issuer = Issuer::new(self.issuer_params(), self.key.rcgen());
        let cert = params.signed_by(key, &issuer)?;
        Certificate::from_der(cert.der()).map_err(|e| IssueError::Generation(e.to_string()))
    }

    /// Issues a CA certificate to a new key and returns the new CA.
    pub fn issue_ca(
        &self,
        subject: &Subject,
        scheme: SignatureScheme,
        validity: Validity,
    ) -> Result<CertificateAuthority, IssueError> {
        let key = KeyPair::generate(scheme)?;
        let certificate = self.issue(subject, &key.public_key(), validity)?;
        CertificateAuthority::from_parts(certificate, key)
    }

    /// Signs a CRL listing `revoked`, valid from `this_update` to
    /// `next_update` (at most [`MAX_CRL_LIFETIME`] apart).
    pub fn crl(
        &self,
        revoked: &[RevokedSerial],
        this_update: SystemTime,
        next_update: SystemTime,
        crl_number: u64,
    ) -> Result<Crl, IssueError> {
        let lifetime = next_update
            .duration_since(this_update)
            .map_err(|_| IssueError::BadValidity("nextUpdate must be after thisUpdate"))?;
        if lifetime.is_zero() || lifetime > MAX_CRL_LIFETIME {
            return Err(IssueError::BadValidity(
                "a CRL is valid for more than zero and at most 24 hours",
            ));
        }
        let params = CertificateRevocationListParams {
            this_update: this_update.into(),
            next_update: next_update.into(),
            crl_number: SerialNumber::from_slice(&crl_number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.revoked_at.into(),
                    reason_code: Some(RevocationReason::Unspecified),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::new(self.issuer_params(), self.key.rcgen());
        let crl = params.signed_by(&issuer)?;
        Crl::from_der(crl.der()).map_err(|e| IssueError::Generation(e.to_string()))
    }

    /// Issues without checking that this CA may, after `tweak` has edited
    /// the parameters: for tests that need broken chains.
    #[cfg(feature = "dangerous-test-utils")]
    pub fn dangerous_issue_unchecked(
        &self,
        subject: &Subject,
        key: &PublicKey,
        validity: Validity,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> Result<Certificate, IssueError> {
        let mut params = subject_params(subject, validity)?;
        tweak(&mut params);
        let issuer = Issuer::new(self.issuer_params(), self.key.rcgen());
        let cert = params.signed_by(key, &issuer)?;
        Certificate::from_der(cert.der()).map_err(|e| IssueError::Generation(e.to_string()))
    }

    /// A CA from any certificate and key, whatever the certificate says: for
    /// tests where a non-CA signs certificates.
    #[cfg(feature = "dangerous-test-utils")]
    pub fn dangerous_from_parts_unchecked(
        certificate: Certificate,
        key: KeyPair,
        role: CaRole,
    ) -> Result<Self, IssueError> {
        let dn = dn_of(&certificate)?;
        Ok(CertificateAuthority {
            certificate,
            key,
            role,
            dn,
        })
    }

    fn issuer_params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.dn.clone();
        params.key_usages = ca_key_usages();
        params.key_identifier_method = KeyIdMethod::Sha256;
        params
    }

    fn check_may_issue(&self, subject: &Subject) -> Result<(), IssueError> {
        let refuse = |why: String| Err(IssueError::NotAllowed(why));
        match (&self.role, subject) {
            // The TLS PKI and the identity PKI never mix.
            (CaRole::TlsRoot, Subject::TlsServer { dns_names }) => {
                if dns_names.is_empty() {
                    return refuse("a TLS server certificate needs at least one DNS name".into());
                }
                for (i, name) in dns_names.iter().enumerate() {
                    if dns_names[..i].contains(name) {
                        return refuse(format!("the DNS name {name} is listed twice"));
                    }
                }
                Ok(())
            }
            (CaRole::TlsRoot, _) => refuse(
                "a TLS root issues only TLS server certificates, never MIMI identities or CAs; \
                 issue those from an identity root or a domain CA"
                    .into(),
            ),
            (_, Subject::TlsServer { .. }) => refuse(
                "only the TLS root issues TLS server certificates; identity CAs never do \
                 (CertificateAuthority::new_tls_root makes one)"
                    .into(),
            ),
            (CaRole::Root, Subject::DomainCa { .. } | Subject::PhoneCa { .. }) => Ok(()),
            (CaRole::Root, _) => {
                refuse("an identity root issues only domain and phone-number CAs".into())
            }
            (_, Subject::DomainCa { .. } | Subject::PhoneCa { .. }) => {
                refuse("only an identity root issues domain and phone-number CAs".into())
            }
            (CaRole::Domain(d), s) => {
                if subject_numbers(s).is_some() {
                    return refuse(format!(
                        "the domain CA of {d} has no TNAuthList, so cannot certify phone numbers"
                    ));
                }
                same_domain(d, s)
            }
            (CaRole::Phone { domain, numbers }, s) => {
                if let Some(n) = subject_numbers(s)
                    && !n.is_within(numbers)
                {
                    return refuse("the TNAuthList asked for is not within this CA's".into());
                }
                same_domain(domain, s)
            }
            (CaRole::User(user), Subject::Device { device, .. }) => {
                if device.user().as_ref() != Some(user) {
                    return refuse(format!("the user CA of {user} issues only its own devices"));
                }
                if subject_numbers(subject).is_some() {
                    return refuse("a user CA does not delegate phone numbers".into());
                }
                Ok(())
            }
            (CaRole::User(user), _) => refuse(format!(
                "the user CA of {user} issues only device certificates"
            )),
        }
    }
}

fn subject_numbers(s: &Subject) -> Option<&TnAuthList> {
    match s {
        Subject::User { numbers, .. } | Subject::Device { numbers, .. } => numbers.as_ref(),
        Subject::PhoneCa { numbers, .. } => Some(numbers),
        Subject::DomainCa { .. } | Subject::TlsServer { .. } => None,
    }
}

fn same_domain(ca_domain: &Domain, subject: &Subject) -> Result<(), IssueError> {
    let domain = match subject {
        Subject::User { user, .. } => user.domain(),
        Subject::Device { device, .. } => device.domain(),
        _ => None,
    };
    match domain {
        Some(d) if d == ca_domain => Ok(()),
        Some(d) => Err(IssueError::NotAllowed(format!(
            "the CA for {ca_domain} cannot certify a name of {d}"
        ))),
        None => Err(IssueError::NotAllowed(
            "certificates name qualified identifiers only (no local.invalid)".into(),
        )),
    }
}

fn base_params(validity: Validity) -> Result<CertificateParams, IssueError> {
    let mut params = CertificateParams::default();
    params.not_before = validity.not_before.into();
    params.not_after = validity.not_after.into();
    params.serial_number = Some(random_serial()?);
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

/// 16 random bytes, top bit clear so the INTEGER is positive (RFC 5280 §4.1.2.2).
fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| IssueError::Generation("no randomness".into()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01; // no leading zero byte, so the encoding is exactly 16 bytes
    Ok(SerialNumber::from_slice(&bytes))
}

fn dn(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ]
}

fn uri_san(id: Identifier) -> Result<SanType, IssueError> {
    let uri = id
        .to_mimi_uri()
        .map_err(|e| IssueError::NotAllowed(e.to_string()))?;
    Ok(SanType::URI(uri.as_str().try_into().map_err(|_| {
        IssueError::Generation("URI is not IA5".into())
    })?))
}

/// A NameConstraints extension permitting URIs whose host is `domain`.
pub(crate) fn uri_name_constraint(domain: &Domain) -> Result<CustomExtension, IssueError> {
    let nc = NameConstraints {
        permitted_subtrees: Some(vec![GeneralSubtree {
            base: GeneralName::UniformResourceIdentifier(
                Ia5String::new(domain.as_str()).expect("domains are ASCII"),
            ),
            minimum: 0,
            maximum: None,
        }]),
        excluded_subtrees: None,
    };
    let der = nc
        .to_der()
        .map_err(|e| IssueError::Generation(e.to_string()))?;
    let mut ext = CustomExtension::from_oid_content(&oids::arcs(&oids::NAME_CONSTRAINTS), der);
    ext.set_criticality(true);
    Ok(ext)
}

fn tn_extension(numbers: &TnAuthList) -> CustomExtension {
    CustomExtension::from_oid_content(&oids::arcs(&oids::TN_AUTH_LIST), numbers.to_der())
}

fn subject_params(subject: &Subject, validity: Validity) -> Result<CertificateParams, IssueError> {
    let mut p = base_params(validity)?;
    p.use_authority_key_identifier_extension = true;
    match subject {
        Subject::DomainCa {
            domain,
            organization,
        } => {
            p.distinguished_name = dn(&format!("{domain} MIMI domain CA"), organization.as_deref());
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
            p.key_usages = ca_key_usages();
            p.subject_alt_names = vec![uri_san(Identifier::Domain(domain.clone()))?];
            p.custom_extensions = vec![uri_name_constraint(domain)?];
        }
        Subject::PhoneCa { domain, numbers } => {
            let listed: Vec<&str> = numbers.numbers().map(|n| n.as_str()).collect();
            p.distinguished_name = dn(
                &format!("+{} at {domain} MIMI phone-number CA", listed.join(",+")),
                None,
            );
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
            p.key_usages = ca_key_usages();
            p.subject_alt_names = vec![uri_san(Identifier::Domain(domain.clone()))?];
            p.custom_extensions = vec![uri_name_constraint(domain)?, tn_extension(numbers)];
        }
        Subject::User {
            user,
            issues_devices,
            numbers,
            organization,
        } => {
            let uri = uri_san(Identifier::User(user.clone()))?;
            p.distinguished_name = dn(&user.to_string(), organization.as_deref());
            p.subject_alt_names = vec![uri];
            if *issues_devices {
                let domain = user.domain().ok_or_else(|| {
                    IssueError::NotAllowed("a user CA needs a qualified user".into())
                })?;
                p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                p.key_usages = ca_key_usages();
                p.custom_extensions.push(uri_name_constraint(domain)?);
            } else {
                p.is_ca = IsCa::ExplicitNoCa;
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            }
            if let Some(n) = numbers {
                p.custom_extensions.push(tn_extension(n));
            }
        }
        Subject::Device {
            device,
            with_user_uri,
            numbers,
            organization,
        } => {
            let user = device.user().ok_or_else(|| {
                IssueError::NotAllowed("a device certificate must name the device's user".into())
            })?;
            p.distinguished_name = dn(&device.to_string(), organization.as_deref());
            p.subject_alt_names = vec![uri_san(Identifier::Device(device.clone()))?];
            if *with_user_uri {
                p.subject_alt_names.push(uri_san(Identifier::User(user))?);
            }
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            if let Some(n) = numbers {
                p.custom_extensions.push(tn_extension(n));
            }
        }
        Subject::TlsServer { dns_names } => {
            let first = dns_names.first().ok_or_else(|| {
                IssueError::NotAllowed(
                    "a TLS server certificate needs at least one DNS name".into(),
                )
            })?;
            p.distinguished_name = dn(first.as_str(), None);
            p.subject_alt_names = dns_names
                .iter()
                .map(|d| {
                    d.as_str()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(|_| IssueError::Generation("DNS name is not IA5".into()))
                })
                .collect::<Result<_, _>>()?;
            p.is_ca = IsCa::ExplicitNoCa;
            // TLS 1.3 servers only sign (ECDHE); no key encipherment.
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
    }
    Ok(p)
}

/// Works out a CA's role from its certificate. The marker between the two
/// PKIs is extendedKeyUsage (see [`CaRole::TlsRoot`]); anything that could be
/// read as both is refused rather than guessed at.
fn role_of(cert: &Certificate) -> Result<CaRole, IssueError> {
    let bad = |why: &str| IssueError::BadCa(why.to_owned());
    let eku = cert.ext.ext_key_usage.as_deref();
    if cert.is_self_issued() {
        return match eku {
            None => Ok(CaRole::Root),
            Some([only]) if *only == oids::SERVER_AUTH => {
                if !cert.uris().is_empty()
                    || cert.uri_constraints().is_some()
                    || cert.tn_auth_list().is_some()
                {
                    return Err(bad(
                        "it is marked as a TLS root (extendedKeyUsage serverAuth) but also \
                         carries MIMI names (URIs, name constraints or a TNAuthList); \
                         make separate identity and TLS roots",
                    ));
                }
                Ok(CaRole::TlsRoot)
            }
            Some(_) => Err(bad(
                "a self-signed CA is an identity root (no extendedKeyUsage) or a TLS root \
                 (extendedKeyUsage exactly serverAuth); this one's extendedKeyUsage is neither",
            )),
        };
    }
    if eku.is_some() {
        return Err(bad(
            "a MIMI CA below the root carries no extendedKeyUsage; \
             TLS server certificates come straight from the TLS root",
        ));
    }
    let domain = cert
        .uri_constraints()
        .and_then(|nc| nc.permitted.first())
        .ok_or_else(|| bad("a MIMI CA below the root carries a URI name constraint"))
        .and_then(|d| Domain::parse(d).map_err(|_| bad("its name constraint is not a domain")))?;
    let user =
        cert.uris()
            .iter()
            .find_map(|u| match mimi_identifiers::parse(u).map(|p| p.identifier) {
                Ok(Identifier::User(user)) => Some(user),
                _ => None,
            });
    Ok(match (user, cert.tn_auth_list()) {
        (Some(user), _) if cert.ca() == Some(Some(0)) => CaRole::User(user),
        (Some(_), _) => return Err(bad("a user CA has path length 0")),
        (None, Some(numbers)) => CaRole::Phone {
            domain,
            numbers: numbers.clone(),
        },
        (None, None) => CaRole::Domain(domain),
    })
}

/// The subject DN in rcgen's terms. Our CAs' subjects hold a CN and maybe an
/// O, both UTF8String, which rcgen writes back identically.
fn dn_of(cert: &Certificate) -> Result<DistinguishedName, IssueError> {
    let mut dn = DistinguishedName::new();
    for atv in cert.subject().0.iter().flat_map(|rdn| rdn.0.iter()) {
        let value = atv
            .value
            .decode_as::<String>()
            .map_err(|_| IssueError::BadCa("subject attributes must be UTF8String".into()))?;
        match atv.oid {
            oids::COMMON_NAME => dn.push(DnType::CommonName, value),
            oids::ORGANIZATION => dn.push(DnType::OrganizationName, value),
            other => {
                return Err(IssueError::BadCa(format!(
                    "unexpected subject attribute {other}"
                )));
            }
        }
    }
    Ok(dn)
}
