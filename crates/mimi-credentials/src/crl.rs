//! Certificate revocation lists (RFC 5280 §5) as MIMI uses them
//! (draft-barnes-mimi-identity-arch §4.3): signed by the issuing CA, valid for
//! at most 24 hours, relayed by untrusted providers. A verifier takes CRLs from
//! anywhere and trusts them only after checking signature and freshness.

use std::sync::OnceLock;
use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::cert::{Certificate, pem_blocks, to_pem, unix};
use crate::error::CertificateError;
use crate::issue::MAX_CRL_LIFETIME;
use crate::key;

/// Largest CRL we parse: about 35 bytes per revoked serial, so room for
/// some 240,000 (BENCHMARKS.md).
pub const MAX_CRL_LEN: usize = 8 * 1024 * 1024;

/// Why a CRL is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    #[error("its issuer's keyUsage does not allow signing CRLs")]
    NotACrlSigner,
    #[error("its two signature algorithm fields differ")]
    AlgorithmMismatch,
    #[error("its signature is not a whole number of bytes")]
    MalformedSignature,
    #[error("its signature does not verify under the issuer's key")]
    BadSignature,
    #[error("it has no nextUpdate")]
    NoNextUpdate,
    #[error("it is not valid yet (thisUpdate is in the future)")]
    NotYetValid,
    #[error("it is stale (past its nextUpdate); fetch the current one")]
    Stale,
    #[error("it is valid for more than 24 hours")]
    TooLong,
}

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

    /// Checks that `issuer` signed this CRL and may sign CRLs: its keyUsage
    /// (if present) allows cRLSign, the two signature algorithm fields
    /// agree, and the signature verifies under its key. A CRL that verified
    /// once under a key is not hashed again (its bytes never change).
    /// [`crate::verify_chain`] does this for every CRL it uses; a relay that
    /// only passes CRLs on uses it to refuse forgeries early.
    pub fn check_signed_by(&self, issuer: &Certificate) -> Result<(), CrlError> {
        if let Some(ku) = &issuer.ext.key_usage
            && !ku.crl_sign()
        {
            return Err(CrlError::NotACrlSigner);
        }
        if self.inner.signature_algorithm != self.inner.tbs_cert_list.signature {
            return Err(CrlError::AlgorithmMismatch);
        }
        let issuer_key = &issuer.inner.tbs_certificate.subject_public_key_info;
        if self.verified_under(issuer_key) {
            return Ok(());
        }
        let signature = self
            .inner
            .signature
            .as_bytes()
            .ok_or(CrlError::MalformedSignature)?;
        key::verify(
            issuer_key,
            &self.inner.signature_algorithm.oid,
            self.tbs_der(),
            signature,
        )
        .map_err(|_| CrlError::BadSignature)?;
        self.remember_verified(issuer_key);
        Ok(())
    }

    /// Checks that the CRL is current at `now`: it has a nextUpdate, its
    /// thisUpdate has come and its nextUpdate has not, and it is valid for at
    /// most 24 hours (MIMI's rule, [`MAX_CRL_LIFETIME`]).
    pub fn check_fresh(&self, now: SystemTime) -> Result<(), CrlError> {
        let now = unix(now);
        let this_update = self.inner.tbs_cert_list.this_update.to_unix_duration();
        let next_update = self
            .inner
            .tbs_cert_list
            .next_update
            .map(|t| t.to_unix_duration())
            .ok_or(CrlError::NoNextUpdate)?;
        if now < this_update {
            return Err(CrlError::NotYetValid);
        }
        if now > next_update {
            return Err(CrlError::Stale);
        }
        if next_update.saturating_sub(this_update) > MAX_CRL_LIFETIME {
            return Err(CrlError::TooLong);
        }
        Ok(())
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
