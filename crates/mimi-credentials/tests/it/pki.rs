//! A test PKI: one identity root and helpers to issue what the tests need.

use std::time::{Duration, SystemTime};

use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, RevokedSerial, SignatureScheme, Subject,
    TrustAnchors, Validity,
};
use mimi_identifiers::{DeviceId, Domain, UserId};

pub const HOUR: Duration = Duration::from_secs(3600);
pub const DAY: Duration = Duration::from_secs(24 * 3600);

pub struct Pki {
    pub scheme: SignatureScheme,
    pub now: SystemTime,
    pub root: CertificateAuthority,
}

impl Pki {
    pub fn new(scheme: SignatureScheme) -> Pki {
        let now = SystemTime::now();
        let root = CertificateAuthority::new_root(
            "MIMI test identity root",
            scheme,
            Validity::new(now - 365 * DAY, now + 3650 * DAY).unwrap(),
        )
        .unwrap();
        Pki { scheme, now, root }
    }

    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new(vec![self.root.certificate().clone()])
    }

    /// Valid from an hour ago for thirty days.
    pub fn validity(&self) -> Validity {
        Validity::new(self.now - HOUR, self.now + 30 * DAY).unwrap()
    }

    pub fn domain_ca(&self, domain: &str) -> CertificateAuthority {
        self.domain_ca_valid(domain, self.validity())
    }

    pub fn domain_ca_valid(&self, domain: &str, validity: Validity) -> CertificateAuthority {
        let subject = Subject::DomainCa {
            domain: dom(domain),
            organization: Some(format!("{domain} Messaging")),
        };
        self.root.issue_ca(&subject, self.scheme, validity).unwrap()
    }

    /// A CRL valid from an hour ago for 23 more hours, listing `revoked`.
    pub fn crl(&self, ca: &CertificateAuthority, revoked: &[&Certificate]) -> Crl {
        let revoked: Vec<RevokedSerial> = revoked
            .iter()
            .map(|c| RevokedSerial {
                serial: c.serial().to_vec(),
                revoked_at: self.now - HOUR,
            })
            .collect();
        ca.crl(&revoked, self.now - HOUR, self.now + 23 * HOUR, 1)
            .unwrap()
    }

    pub fn key(&self) -> KeyPair {
        KeyPair::generate(self.scheme).unwrap()
    }
}

pub fn dom(d: &str) -> Domain {
    Domain::parse(d).unwrap()
}

pub fn user(id: &str, domain: &str) -> UserId {
    UserId::new(id, Some(dom(domain))).unwrap()
}

pub fn device(u: &str, d: &str, domain: &str) -> DeviceId {
    DeviceId::new(&user(u, domain), d).unwrap()
}

pub fn device_subject(u: &str, d: &str, domain: &str, with_user_uri: bool) -> Subject {
    Subject::Device {
        device: device(u, d, domain),
        with_user_uri,
        numbers: None,
        organization: None,
    }
}

pub fn user_subject(u: &str, domain: &str, issues_devices: bool) -> Subject {
    Subject::User {
        user: user(u, domain),
        issues_devices,
        numbers: None,
        organization: None,
    }
}
