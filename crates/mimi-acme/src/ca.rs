//! The CA side of the authority: turns a finalized order and its verified CSR
//! into a certificate chain, per ACME profile (draft-ietf-acme-profiles).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mimi_credentials::{CertificateAuthority, Subject, Validity, VerifiedCsr};
use mimi_identifiers::Domain;

use crate::objects::Identifier;
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
}

impl Profile {
    pub const DEFAULT: Profile = Profile::TlsServer;
    pub const ALL: [Profile; 2] = [Profile::TlsServer, Profile::DomainCa];

    pub fn name(self) -> &'static str {
        match self {
            Profile::TlsServer => "tls-server",
            Profile::DomainCa => "domain-ca",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Profile::TlsServer => "TLS server certificate for dns identifiers, from the TLS root",
            Profile::DomainCa => {
                "a provider's MIMI domain CA (one dns identifier, name-constrained to it), \
                 from the identity root; needs an account with external account binding"
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
        let (issuer, subject) = match profile {
            Profile::TlsServer => (&self.tls_root, Subject::TlsServer { dns_names: domains }),
            Profile::DomainCa => {
                let [domain] = <[Domain; 1]>::try_from(domains).map_err(|_| {
                    AcmeError::new(
                        ErrorType::RejectedIdentifier,
                        "a domain-ca order names exactly one dns identifier",
                    )
                })?;
                let subject = Subject::DomainCa {
                    domain,
                    organization: None,
                };
                (&self.identity_root, subject)
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

fn dns_domains(identifiers: &[Identifier]) -> Result<Vec<Domain>, AcmeError> {
    identifiers
        .iter()
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
