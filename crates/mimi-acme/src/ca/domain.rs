//! A domain CA's issuing side (docs/enrollment.md): the domain CA
//! certificate and key the identity authority issued (profile `domain-ca`),
//! the phone-number CAs it holds (profile `phone-ca`), and the three
//! certificate profiles of draft-mahy-mimi-identity ("Centralized credential
//! hierarchy") it issues from them.

use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use mimi_credentials::{
    CaRole, Certificate, CertificateAuthority, KeyPair, Subject, TnAuthList, Validity, VerifiedCsr,
};
use mimi_identifiers::Domain;

use super::{Issued, Profile, hex, unix_seconds};
use crate::objects::Identifier;
use crate::problem::{AcmeError, ErrorType};
use crate::ra::enrollment::Enrollment;
use crate::sa::{CrlIssuer, PhoneCaId};

/// Longest lifetime a domain CA's config may give a certificate. The
/// certificates here are renewed with ARI; a long-lived one would sit in
/// the CRL for as long after a revocation.
pub const MAX_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long each profile's certificates live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub device: Duration,
    pub user: Duration,
    pub user_ca: Duration,
}

impl Default for Lifetimes {
    /// Device certificates 7 days (they are what a stolen device holds),
    /// user certificates and user CAs 30 days.
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Lifetimes {
            device: Duration::from_secs(7 * DAY),
            user: Duration::from_secs(30 * DAY),
            user_ca: Duration::from_secs(30 * DAY),
        }
    }
}

impl Lifetimes {
    /// The lifetime of `profile`'s certificates (the authority's profiles
    /// keep their own, [`Profile::lifetime`]).
    pub fn of(&self, profile: Profile) -> Duration {
        match profile {
            Profile::Device => self.device,
            Profile::User => self.user,
            Profile::UserCa => self.user_ca,
            other => other.lifetime(),
        }
    }
}

/// Why a domain CA cannot be set up from what it was given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainCaError {
    #[error(
        "the {what} chain is empty; give the CA certificate first, then its issuers up to (not including) the identity root"
    )]
    EmptyChain { what: &'static str },
    #[error("the {what} certificate and key do not make a CA: {detail}")]
    BadCa { what: &'static str, detail: String },
    #[error(
        "the domain CA certificate is not a domain CA ({role}); give the certificate the identity authority issued with the domain-ca profile"
    )]
    NotDomainCa { role: String },
    #[error(
        "the domain CA certificate is for {certified}, but this domain CA serves {configured}; configure the domain the certificate names"
    )]
    WrongDomain {
        certified: Domain,
        configured: Domain,
    },
    #[error(
        "phone-number CA {index} is not a phone-number CA ({role}); give a certificate issued with the phone-ca profile"
    )]
    NotPhoneCa { index: usize, role: String },
    #[error(
        "phone-number CA {index} is constrained to {certified}, not to {configured}; a domain CA holds only its own domain's phone-number CAs"
    )]
    PhoneCaWrongDomain {
        index: usize,
        certified: Domain,
        configured: Domain,
    },
    #[error(
        "in the {what} chain, certificate {index} ({subject}) was not issued by the next one ({next}); order the chain leaf first, each certificate followed by its issuer"
    )]
    ChainOrder {
        what: &'static str,
        index: usize,
        subject: String,
        next: String,
    },
    #[error("the {profile} lifetime must be between one hour and 90 days")]
    Lifetime { profile: &'static str },
}

/// A phone-number CA this domain CA holds.
#[derive(Debug)]
pub struct PhoneCa {
    ca: CertificateAuthority,
    /// The CA certificate first, up to (not including) the identity root.
    chain: Vec<Certificate>,
    numbers: TnAuthList,
    id: PhoneCaId,
}

impl PhoneCa {
    pub fn certificate(&self) -> &Certificate {
        self.ca.certificate()
    }

    pub fn numbers(&self) -> &TnAuthList {
        &self.numbers
    }
}

/// A domain CA: its own CA, its phone-number CAs and the lifetimes it gives.
#[derive(Debug)]
pub struct DomainCa {
    domain: Domain,
    ca: CertificateAuthority,
    /// The domain CA certificate first, up to (not including) the identity
    /// root: what follows every leaf in an issued chain.
    chain: Vec<Certificate>,
    phone_cas: Vec<PhoneCa>,
    lifetimes: Lifetimes,
}

impl DomainCa {
    /// A domain CA for `domain` from its chain (the domain CA certificate
    /// first, then its issuers up to, not including, the identity root) and
    /// its key.
    pub fn new(
        domain: Domain,
        chain: Vec<Certificate>,
        key: KeyPair,
        lifetimes: Lifetimes,
    ) -> Result<DomainCa, DomainCaError> {
        for (profile, lifetime) in [
            ("device", lifetimes.device),
            ("user", lifetimes.user),
            ("user-ca", lifetimes.user_ca),
        ] {
            if lifetime < Duration::from_secs(3600) || lifetime > MAX_LIFETIME {
                return Err(DomainCaError::Lifetime { profile });
            }
        }
        let ca = ca_from_chain("domain CA", &chain, key)?;
        match ca.role() {
            CaRole::Domain(d) if *d == domain => {}
            CaRole::Domain(d) => {
                return Err(DomainCaError::WrongDomain {
                    certified: d.clone(),
                    configured: domain,
                });
            }
            other => {
                return Err(DomainCaError::NotDomainCa {
                    role: format!("{other:?}"),
                });
            }
        }
        Ok(DomainCa {
            domain,
            ca,
            chain,
            phone_cas: Vec::new(),
            lifetimes,
        })
    }

    /// Adds a phone-number CA (its chain, CA certificate first, and key); it
    /// must be constrained to this domain. Its CRL is
    /// `/acme/crl/phone-ca/<n>`, n counting from 0 in the order added.
    pub fn with_phone_ca(
        mut self,
        chain: Vec<Certificate>,
        key: KeyPair,
    ) -> Result<DomainCa, DomainCaError> {
        let index = self.phone_cas.len();
        let ca = ca_from_chain("phone-number CA", &chain, key)?;
        let numbers = match ca.role() {
            CaRole::Phone { domain, numbers } if *domain == self.domain => numbers.clone(),
            CaRole::Phone { domain, .. } => {
                return Err(DomainCaError::PhoneCaWrongDomain {
                    index,
                    certified: domain.clone(),
                    configured: self.domain.clone(),
                });
            }
            other => {
                return Err(DomainCaError::NotPhoneCa {
                    index,
                    role: format!("{other:?}"),
                });
            }
        };
        let spki = digest::digest(&digest::SHA256, &ca.certificate().spki_der());
        let mut id = [0u8; 8];
        id.copy_from_slice(&spki.as_ref()[..8]);
        self.phone_cas.push(PhoneCa {
            ca,
            chain,
            numbers,
            id: PhoneCaId(id),
        });
        Ok(self)
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    pub fn certificate(&self) -> &Certificate {
        self.ca.certificate()
    }

    pub fn phone_cas(&self) -> &[PhoneCa] {
        &self.phone_cas
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The phone-number CA whose TNAuthList covers all of `numbers`.
    pub(crate) fn phone_ca_covering(&self, numbers: &TnAuthList) -> Option<&PhoneCa> {
        self.phone_cas
            .iter()
            .find(|p| numbers.is_within(&p.numbers))
    }

    pub(crate) fn crl_issuers(&self) -> Vec<CrlIssuer> {
        std::iter::once(CrlIssuer::DomainCa)
            .chain(self.phone_cas.iter().map(|p| CrlIssuer::PhoneCa(p.id)))
            .collect()
    }

    /// `domain-ca`, or `phone-ca/<n>` for the n-th phone-number CA.
    pub(crate) fn crl_path(&self, issuer: CrlIssuer) -> Option<String> {
        match issuer {
            CrlIssuer::DomainCa => Some("domain-ca".into()),
            CrlIssuer::PhoneCa(id) => self
                .phone_cas
                .iter()
                .position(|p| p.id == id)
                .map(|n| format!("phone-ca/{n}")),
            CrlIssuer::IdentityRoot | CrlIssuer::TlsRoot => None,
        }
    }

    pub(crate) fn ca_for(&self, issuer: CrlIssuer) -> Option<&CertificateAuthority> {
        match issuer {
            CrlIssuer::DomainCa => Some(&self.ca),
            CrlIssuer::PhoneCa(id) => self.phone_cas.iter().find(|p| p.id == id).map(|p| &p.ca),
            CrlIssuer::IdentityRoot | CrlIssuer::TlsRoot => None,
        }
    }

    /// Issues `profile`'s certificate for an order's (checked, stored)
    /// identifiers to the CSR's key: the leaf, then the issuing CA's chain.
    pub(crate) fn issue(
        &self,
        profile: Profile,
        identifiers: &[Identifier],
        csr: &VerifiedCsr,
    ) -> Result<Issued, AcmeError> {
        let names = Enrollment::of_stored(identifiers)?;
        let numbers = names.numbers();
        let user = || {
            names.user.clone().ok_or_else(|| {
                AcmeError::internal("a stored user order names no user", profile.name())
            })
        };
        let subject = match profile {
            Profile::Device => {
                let [device] = <[_; 1]>::try_from(names.devices.clone()).map_err(|_| {
                    AcmeError::internal("a stored device order names no one device", "")
                })?;
                Subject::Device {
                    device,
                    with_user_uri: names.user.is_some(),
                    numbers: numbers.clone(),
                    organization: None,
                }
            }
            Profile::User => Subject::User {
                user: user()?,
                issues_devices: false,
                numbers: None,
                organization: None,
            },
            Profile::UserCa => Subject::User {
                user: user()?,
                issues_devices: true,
                numbers: None,
                organization: None,
            },
            other => {
                return Err(AcmeError::new(
                    ErrorType::InvalidProfile,
                    format!(
                        "the {} profile is issued by the identity authority, not by a domain CA",
                        other.name()
                    ),
                ));
            }
        };
        let (issuer, ca, chain) = match &numbers {
            None => (CrlIssuer::DomainCa, &self.ca, &self.chain),
            Some(list) => {
                let phone = self.phone_ca_covering(list).ok_or_else(|| {
                    AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        "no phone-number CA of this domain CA covers all the order's numbers; order numbers one phone-number CA covers",
                    )
                })?;
                (CrlIssuer::PhoneCa(phone.id), &phone.ca, &phone.chain)
            }
        };
        let validity = validity_under(ca, self.lifetimes.of(profile))?;
        let cert = ca
            .issue(&subject, &csr.public_key, validity)
            .map_err(|e| AcmeError::new(ErrorType::BadCsr, format!("cannot issue: {e}")))?;
        let chain_pem = std::iter::once(&cert)
            .chain(chain.iter())
            .map(Certificate::pem)
            .collect();
        Ok(Issued {
            chain_pem,
            serial_hex: hex(cert.serial()),
            not_after: unix_seconds(cert.not_after()),
            issuer,
        })
    }
}

/// From a minute ago for `lifetime`, but never past the issuing CA's own
/// notAfter: a certificate that outlives its issuer stops verifying with
/// it anyway, and ARI should tell the client to renew before that.
fn validity_under(ca: &CertificateAuthority, lifetime: Duration) -> Result<Validity, AcmeError> {
    let wanted = Validity::starting_now(lifetime);
    let ca_end = ca.certificate().not_after();
    let not_after = wanted.not_after.min(ca_end);
    if not_after <= SystemTime::now() {
        return Err(AcmeError::internal(
            "the issuing CA has expired; renew the domain CA (or phone-number CA) certificate",
            ca.certificate().subject_text(),
        ));
    }
    Validity::new(wanted.not_before, not_after)
        .map_err(|e| AcmeError::internal("no valid validity period under the issuing CA", e))
}

/// A CA from its chain (CA certificate first) and key, with the chain's
/// order checked: each certificate's issuer is the next one's subject.
fn ca_from_chain(
    what: &'static str,
    chain: &[Certificate],
    key: KeyPair,
) -> Result<CertificateAuthority, DomainCaError> {
    let first = chain.first().ok_or(DomainCaError::EmptyChain { what })?;
    for (index, pair) in chain.windows(2).enumerate() {
        if pair[0].issuer_text() != pair[1].subject_text() {
            return Err(DomainCaError::ChainOrder {
                what,
                index,
                subject: pair[0].subject_text(),
                next: pair[1].subject_text(),
            });
        }
    }
    CertificateAuthority::from_parts(first.clone(), key).map_err(|e| DomainCaError::BadCa {
        what,
        detail: e.to_string(),
    })
}
