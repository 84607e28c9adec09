//! The X.509 MLS credential as MIMI uses it (RFC 9420 §5.3;
//! draft-mahy-mimi-identity "Centralized credential hierarchy"): the device's
//! certificate chain, leaf first, whose leaf key is the MLS signature key.
//!
//! ```text
//! struct { opaque cert_data<V>; } Certificate;
//! struct {
//!     CredentialType credential_type;   // x509(2)
//!     Certificate certificates<V>;       // leaf first
//! } Credential;
//! ```
//!
//! This module only frames DER blobs; it never parses or trusts a certificate.
//! Chains are verified by `mimi-credentials` against the verifier's own roots.

use openmls::credentials::{Credential, CredentialType};
use tls_codec::{Deserialize, Serialize, VLByteSlice, VLBytes};

use crate::codec_detail;

/// Most certificates in a chain: leaf, user CA or user certificate, domain CA,
/// phone-number CA and some slack (the profiles of draft-mahy-mimi-identity need
/// at most four below the root).
pub const MAX_CHAIN_LEN: usize = 6;

/// Largest DER certificate accepted in a chain.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// Why a credential's certificate chain is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Not an X.509 credential.
    #[error(
        "credential type is {found} ({}); MIMI requires x509 (2) carrying the device's certificate chain",
        credential_type_name(*found)
    )]
    WrongType { found: u16 },
    /// The chain has no certificate.
    #[error(
        "the X.509 credential holds no certificate; put the device certificate chain in it, leaf first"
    )]
    EmptyChain,
    /// The chain is longer than any MIMI chain.
    #[error(
        "the X.509 credential holds more than {max} certificates; send the chain from the leaf up to (not including) the root"
    )]
    TooManyCertificates { max: usize },
    /// One certificate is larger than we accept.
    #[error("certificate {index} of the chain is {len} bytes; at most {max} are accepted")]
    CertificateTooLarge {
        index: usize,
        len: usize,
        max: usize,
    },
    /// One certificate is empty.
    #[error("certificate {index} of the chain is empty; each entry must be a DER certificate")]
    EmptyCertificate { index: usize },
    /// The credential content is not a vector of `Certificate`.
    #[error("the X.509 credential is not a list of certificates: {detail}")]
    Malformed { detail: String },
}

fn credential_type_name(t: u16) -> &'static str {
    match CredentialType::from(t) {
        CredentialType::Basic => "basic",
        CredentialType::X509 => "x509",
        CredentialType::Grease(_) => "GREASE",
        CredentialType::Other(_) => "unknown",
    }
}

fn check_certificate(index: usize, der: &[u8]) -> Result<(), CredentialError> {
    if der.is_empty() {
        return Err(CredentialError::EmptyCertificate { index });
    }
    if der.len() > MAX_CERTIFICATE_LEN {
        return Err(CredentialError::CertificateTooLarge {
            index,
            len: der.len(),
            max: MAX_CERTIFICATE_LEN,
        });
    }
    Ok(())
}

/// An X.509 credential holding `chain` (DER, leaf first), checked against the
/// same bounds as [`certificate_chain`] so that we never build what we would refuse.
pub fn x509_credential(chain: &[Vec<u8>]) -> Result<Credential, CredentialError> {
    if chain.is_empty() {
        return Err(CredentialError::EmptyChain);
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(CredentialError::TooManyCertificates { max: MAX_CHAIN_LEN });
    }
    for (index, der) in chain.iter().enumerate() {
        check_certificate(index, der)?;
    }
    Ok(Credential::new(
        CredentialType::X509,
        encode_certificates(chain).map_err(|e| CredentialError::Malformed {
            detail: e.to_string(),
        })?,
    ))
}

/// The body of an X.509 credential: the `Certificate` entries one after the other.
///
/// OpenMLS keeps a credential's content as one opaque vector, so the outer
/// `certificates<V>` length is its, and what we supply is the inner entries.
pub(crate) fn encode_certificates(chain: &[Vec<u8>]) -> Result<Vec<u8>, tls_codec::Error> {
    let mut out = Vec::new();
    for der in chain {
        VLByteSlice(der).tls_serialize(&mut out)?;
    }
    Ok(out)
}

/// The DER certificates (leaf first) of an X.509 credential: at least one, at most
/// [`MAX_CHAIN_LEN`], each 1 to [`MAX_CERTIFICATE_LEN`] bytes.
pub fn certificate_chain(credential: &Credential) -> Result<Vec<Vec<u8>>, CredentialError> {
    let found = credential.credential_type();
    if found != CredentialType::X509 {
        return Err(CredentialError::WrongType {
            found: u16::from(found),
        });
    }
    let mut rest = credential.serialized_content();
    let mut chain = Vec::new();
    while !rest.is_empty() {
        if chain.len() == MAX_CHAIN_LEN {
            return Err(CredentialError::TooManyCertificates { max: MAX_CHAIN_LEN });
        }
        let der = VLBytes::tls_deserialize(&mut rest).map_err(|e| CredentialError::Malformed {
            detail: format!(
                "certificate {} could not be decoded: {}",
                chain.len(),
                codec_detail(&e)
            ),
        })?;
        check_certificate(chain.len(), der.as_slice())?;
        chain.push(der.as_slice().to_vec());
    }
    if chain.is_empty() {
        return Err(CredentialError::EmptyChain);
    }
    Ok(chain)
}
