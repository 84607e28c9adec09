//! The CA side of the authority: turns a finalized order and its verified CSR
//! into a certificate chain, per ACME profile (draft-ietf-acme-profiles).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mimi_credentials::{CertificateAuthority, Subject, TnAuthList, Validity, VerifiedCsr};
use mimi_identifiers::Domain;

use crate::objects::{DNS, Identifier, TN_AUTH_LIST};
use crate::problem::{AcmeError, ErrorType};

/// The certificate profiles this authority offers.
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
}

impl Profile {
    pub const DEFAULT: Profile = Profile::TlsServer;
    pub const ALL: [Profile; 3] = [Profile::TlsServer, Profile::DomainCa, Profile::PhoneCa];

    pub fn name(self) -> &'static str {
        match self {
            Profile::TlsServer => "tls-server",
            Profile::DomainCa => "domain-ca",
            Profile::PhoneCa => "phone-ca",
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
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// How long certificates of this profile live.
    pub fn lifetime(self) -> Duration {
        match self {
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
}

impl Issuers {
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
        };
        let validity = Validity::starting_now(profile.lifetime());
        let cert = issuer
            .issue(&subject, &csr.public_key, validity)
            .map_err(|e| AcmeError::new(ErrorType::BadCsr, format!("cannot issue: {e}")))?;
        let not_after = unix_seconds(cert.not_after());
        Ok(Issued {
            chain_pem: cert.pem() + &issuer.certificate().pem(),
            serial_hex: cert.serial().iter().map(|b| format!("{b:02x}")).collect(),
            not_after,
        })
    }
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
