//! A small identity PKI for tests: an identity root (Ed25519), a domain CA per
//! domain, device certificates (profile 2: device and user URIs) and CRLs that
//! can list revoked serials. The provider's tests can reuse it.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, RevokedSerial, SignatureScheme, Subject,
    TrustAnchors, Validity,
};
use mimi_identifiers::{DeviceId, Domain, UserId};

use super::{TestSigner, TestUtilsError};

const HOUR: Duration = Duration::from_secs(3600);

fn setup(what: &'static str) -> impl Fn(mimi_credentials::IssueError) -> TestUtilsError {
    move |e| TestUtilsError::Build(format!("{what}: {e}"))
}

fn long_validity() -> Validity {
    Validity::starting_now(Duration::from_secs(30 * 24 * 3600))
}

/// The identity root, a domain CA per domain, and what each CA has revoked.
#[derive(Debug)]
pub struct TestPki {
    root: CertificateAuthority,
    domain_cas: BTreeMap<String, CertificateAuthority>,
    revoked: BTreeMap<String, Vec<RevokedSerial>>,
}

/// A device's key and certificate chain (leaf first, without the root).
#[derive(Debug)]
pub struct TestIdentity {
    pub device: DeviceId,
    pub key: KeyPair,
    pub chain: Vec<Certificate>,
}

impl TestIdentity {
    /// The chain as DER blobs, as the MLS X.509 credential carries it.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|c| c.der().to_vec()).collect()
    }

    /// An MLS signer on the certificate's key.
    pub fn signer(&self) -> Result<TestSigner, TestUtilsError> {
        let scheme = match self.key.scheme() {
            SignatureScheme::Ed25519 => openmls_traits::types::SignatureScheme::ED25519,
            SignatureScheme::EcdsaP256Sha256 => {
                openmls_traits::types::SignatureScheme::ECDSA_SECP256R1_SHA256
            }
        };
        TestSigner::from_pkcs8(&self.key.to_pkcs8_der(), scheme)
    }

    /// The serial of the device certificate (to revoke it).
    pub fn serial(&self) -> Vec<u8> {
        self.chain
            .first()
            .map(|c| c.serial().to_vec())
            .unwrap_or_default()
    }
}

impl TestPki {
    pub fn new(domains: &[&str]) -> Result<TestPki, TestUtilsError> {
        let root = CertificateAuthority::new_root(
            "MIMI test identity root",
            SignatureScheme::Ed25519,
            long_validity(),
        )
        .map_err(setup("identity root"))?;
        let mut domain_cas = BTreeMap::new();
        for name in domains {
            let domain = Domain::parse(name).map_err(|e| TestUtilsError::Build(e.to_string()))?;
            let ca = root
                .issue_ca(
                    &Subject::DomainCa {
                        domain,
                        organization: None,
                    },
                    SignatureScheme::Ed25519,
                    long_validity(),
                )
                .map_err(setup("domain CA"))?;
            domain_cas.insert((*name).to_owned(), ca);
        }
        Ok(TestPki {
            root,
            domain_cas,
            revoked: BTreeMap::new(),
        })
    }

    pub fn root(&self) -> &CertificateAuthority {
        &self.root
    }

    pub fn trust_anchors(&self) -> TrustAnchors {
        TrustAnchors::new(vec![self.root.certificate().clone()])
    }

    pub fn domain_ca(&self, domain: &str) -> Result<&CertificateAuthority, TestUtilsError> {
        self.domain_cas
            .get(domain)
            .ok_or_else(|| TestUtilsError::Build(format!("no domain CA for {domain}")))
    }

    /// Lists `serial` in the CRL of `domain`'s CA from now on.
    pub fn revoke(&mut self, domain: &str, serial: &[u8]) {
        self.revoked
            .entry(domain.to_owned())
            .or_default()
            .push(RevokedSerial {
                serial: serial.to_vec(),
                revoked_at: SystemTime::now() - HOUR,
            });
    }

    /// Fresh CRLs of the root and of every domain CA (valid from an hour ago
    /// for 23 hours more), listing what was revoked.
    pub fn crls(&self) -> Result<Vec<Crl>, TestUtilsError> {
        let now = SystemTime::now();
        let (from, until) = (now - HOUR, now + 23 * HOUR);
        let mut crls = vec![
            self.root
                .crl(&[], from, until, 1)
                .map_err(setup("root CRL"))?,
        ];
        for (name, ca) in &self.domain_cas {
            let revoked = self.revoked.get(name).map(Vec::as_slice).unwrap_or(&[]);
            crls.push(
                ca.crl(revoked, from, until, 1)
                    .map_err(setup("domain CA CRL"))?,
            );
        }
        Ok(crls)
    }

    /// A device certificate for `user`'s `device` at `domain` on a fresh
    /// Ed25519 key, issued by that domain's CA.
    pub fn device(
        &self,
        domain: &str,
        user: &str,
        device: &str,
    ) -> Result<TestIdentity, TestUtilsError> {
        let device = device_id(domain, user, device)?;
        let key = KeyPair::generate(SignatureScheme::Ed25519).map_err(setup("device key"))?;
        let chain = self.issue_device(&device, &key.public_key())?;
        Ok(TestIdentity { device, key, chain })
    }

    /// A device certificate (profile 2) for `device` and `key` from the device's
    /// domain CA: `[device certificate, domain CA certificate]`.
    pub fn issue_device(
        &self,
        device: &DeviceId,
        key: &mimi_credentials::PublicKey,
    ) -> Result<Vec<Certificate>, TestUtilsError> {
        let domain = device
            .domain()
            .ok_or_else(|| TestUtilsError::Build(format!("{device} has no domain")))?;
        let ca = self.domain_ca(domain.as_str())?;
        let leaf = ca
            .issue(
                &Subject::Device {
                    device: device.clone(),
                    with_user_uri: true,
                    numbers: None,
                    organization: None,
                },
                key,
                long_validity(),
            )
            .map_err(setup("device certificate"))?;
        Ok(vec![leaf, ca.certificate().clone()])
    }
}

/// `mimi://<domain>/d/<user>/<device>`.
pub fn device_id(domain: &str, user: &str, device: &str) -> Result<DeviceId, TestUtilsError> {
    let build = |e: mimi_identifiers::ParseError| TestUtilsError::Build(e.to_string());
    let domain = Domain::parse(domain).map_err(build)?;
    let user = UserId::new(user, Some(domain)).map_err(build)?;
    DeviceId::new(&user, device).map_err(build)
}
