//! Certificate revocation lists (RFC 5280 §5) as MIMI uses them
//! (draft-barnes-mimi-identity-arch §4.3): signed by the issuing CA, valid for
//! at most 24 hours, relayed by untrusted providers. A verifier takes CRLs from
//! anywhere and trusts them only after checking signature and freshness.

use std::sync::OnceLock;
use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::cert::{pem_blocks, to_pem};
use crate::error::CertificateError;

/// Largest CRL we parse: about 35 bytes per revoked serial, so room for
/// some 240,000 (BENCHMARKS.md).
pub const MAX_CRL_LEN: usize = 8 * 1024 * 1024;

/// A parsed CRL. Nothing in it is trusted until [`crate::verify`] checks it
/// against its issuer.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    pub(crate) inner: CertificateList,
    /// The revoked serials, sorted, for binary search.
    serials: Vec<Vec<u8>>,
    /// The issuer key (SPKI DER) this CRL's signature verified under.
    verified_under: OnceLock<Vec<u8>>,
}

impl Crl {
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CRL_LEN {
            return Err(CertificateError::MalformedCrl(format!(
                "{} bytes is more than the {MAX_CRL_LEN} accepted",
                der.len()
            )));
        }
        let inner = CertificateList::from_der(der)
            .map_err(|e| CertificateError::MalformedCrl(e.to_string()))?;
        let tbs_der = inner
            .tbs_cert_list
            .to_der()
            .map_err(|e| CertificateError::MalformedCrl(e.to_string()))?;
        let mut serials: Vec<Vec<u8>> = inner
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|r| r.serial_number.as_bytes().to_vec())
            .collect();
        serials.sort_unstable();
        Ok(Crl {
            der: der.to_vec(),
            tbs_der,
            inner,
            serials,
            verified_under: OnceLock::new(),
        })
    }

    /// Parses every `X509 CRL` block of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Vec<Self>, CertificateError> {
        let blocks = pem_blocks(pem, "X509 CRL")?;
        if blocks.is_empty() {
            return Err(CertificateError::NoPem("X509 CRL"));
        }
        blocks.iter().map(|b| Crl::from_der(b)).collect()
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> String {
        to_pem("X509 CRL", &self.der)
    }

    pub(crate) fn tbs_der(&self) -> &[u8] {
        &self.tbs_der
    }

    pub fn issuer_text(&self) -> String {
        self.inner.tbs_cert_list.issuer.to_string()
    }

    pub fn this_update(&self) -> SystemTime {
        self.inner.tbs_cert_list.this_update.to_system_time()
    }

    pub fn next_update(&self) -> Option<SystemTime> {
        self.inner
            .tbs_cert_list
            .next_update
            .map(|t| t.to_system_time())
    }

    /// How many serials it lists.
    pub fn revoked_count(&self) -> usize {
        self.inner
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map_or(0, Vec::len)
    }

    /// Whether `serial` (as encoded in a certificate) is listed.
    pub fn lists(&self, serial: &[u8]) -> bool {
        self.serials
            .binary_search_by(|s| s.as_slice().cmp(serial))
            .is_ok()
    }

    /// Whether the signature was already found to verify under `key`.
    pub(crate) fn verified_under(&self, key: &SubjectPublicKeyInfoOwned) -> bool {
        let Some(known) = self.verified_under.get() else {
            return false;
        };
        key.to_der().is_ok_and(|der| *known == der)
    }

    pub(crate) fn remember_verified(&self, key: &SubjectPublicKeyInfoOwned) {
        if let Ok(der) = key.to_der() {
            let _ = self.verified_under.set(der);
        }
    }
}
