//! Keys and signatures: Ed25519 (default) and ECDSA P-256 with SHA-256, the
//! signature schemes of MLS cipher suites 1 to 3. Verification uses aws-lc-rs,
//! the same provider rustls uses.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::error::IssueError;
use crate::oids;

/// A signature scheme for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureScheme {
    /// Ed25519 (MLS cipher suites 1 and 3).
    #[default]
    Ed25519,
    /// ECDSA on P-256 with SHA-256 (MLS cipher suite 2).
    EcdsaP256Sha256,
}

impl SignatureScheme {
    fn rcgen_alg(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            SignatureScheme::Ed25519 => &rcgen::PKCS_ED25519,
            SignatureScheme::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }

    /// The scheme a certificate or CRL signature algorithm names.
    pub(crate) fn from_signature_oid(oid: &ObjectIdentifier) -> Option<Self> {
        if *oid == oids::ED25519 {
            Some(SignatureScheme::Ed25519)
        } else if *oid == oids::ECDSA_WITH_SHA256 {
            Some(SignatureScheme::EcdsaP256Sha256)
        } else {
            None
        }
    }

    fn verification_alg(self) -> &'static dyn VerificationAlgorithm {
        match self {
            SignatureScheme::Ed25519 => &sig::ED25519,
            SignatureScheme::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
        }
    }
}

/// A signing key pair (a CA's, or a client's in tests). The private key never
/// appears in `Debug` output.
pub struct KeyPair {
    inner: rcgen::KeyPair,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    pub fn generate(scheme: SignatureScheme) -> Result<Self, IssueError> {
        let inner = rcgen::KeyPair::generate_for(scheme.rcgen_alg())?;
        Ok(KeyPair { inner, scheme })
    }

    /// Loads a PKCS#8 (DER) private key of the given scheme.
    pub fn from_pkcs8_der(der: &[u8], scheme: SignatureScheme) -> Result<Self, IssueError> {
        let pkcs8 = rustls_pki_types_pkcs8(der);
        let inner = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, scheme.rcgen_alg())?;
        Ok(KeyPair { inner, scheme })
    }

    /// The PKCS#8 (DER) encoding of the private key. Store it 0600.
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.inner.serialize_der()
    }

    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The public key as a SubjectPublicKeyInfo.
    pub fn public_key(&self) -> PublicKey {
        use rcgen::PublicKeyData;
        PublicKey {
            spki_der: self.inner.subject_public_key_info(),
            scheme: self.scheme,
            raw: self.inner.der_bytes().to_vec(),
        }
    }

    /// Signs `msg` (used by tests and by clients proving possession).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, IssueError> {
        use rcgen::SigningKey;
        Ok(self.inner.sign(msg)?)
    }

    pub(crate) fn rcgen(&self) -> &rcgen::KeyPair {
        &self.inner
    }
}

fn rustls_pki_types_pkcs8(der: &[u8]) -> rustls_pki_types::PrivatePkcs8KeyDer<'static> {
    rustls_pki_types::PrivatePkcs8KeyDer::from(der.to_vec())
}

/// A public key, as the DER of a SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    spki_der: Vec<u8>,
    scheme: SignatureScheme,
    raw: Vec<u8>,
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo and checks it is Ed25519 or P-256.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, IssueError> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der)
            .map_err(|_| IssueError::BadPublicKey("not a DER SubjectPublicKeyInfo"))?;
        let scheme = key_scheme(&spki).ok_or(IssueError::BadPublicKey(
            "only Ed25519 and ECDSA P-256 keys are accepted",
        ))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or(IssueError::BadPublicKey("bad key bits"))?
            .to_vec();
        Ok(PublicKey {
            spki_der: der.to_vec(),
            scheme,
            raw,
        })
    }

    /// A raw Ed25519 public key (32 bytes), e.g. an MLS signature key.
    pub fn from_ed25519_raw(raw: &[u8]) -> Result<Self, IssueError> {
        if raw.len() != 32 {
            return Err(IssueError::BadPublicKey("an Ed25519 key is 32 bytes"));
        }
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
                oid: oids::ED25519,
                parameters: None,
            },
            subject_public_key: der::asn1::BitString::from_bytes(raw)
                .map_err(|_| IssueError::BadPublicKey("bad key bytes"))?,
        };
        Ok(PublicKey {
            spki_der: spki.to_der().expect("small structure"),
            scheme: SignatureScheme::Ed25519,
            raw: raw.to_vec(),
        })
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The raw key bits: 32 bytes for Ed25519, an uncompressed SEC1 point for
    /// P-256 (the forms MLS uses for signature keys).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Checks `signature` over `msg` under this key's scheme (Ed25519, or ECDSA
    /// P-256 with SHA-256 and a DER signature, as in X.509 and MLS).
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), BadSignature> {
        UnparsedPublicKey::new(self.scheme.verification_alg(), &self.raw)
            .verify(msg, signature)
            .map_err(|_| BadSignature)
    }
}

/// A signature that does not verify under the key it was checked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the signature does not verify under the given public key")]
pub struct BadSignature;

impl rcgen::PublicKeyData for PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.scheme.rcgen_alg()
    }
}

/// The scheme of a subject public key, if it is one we accept.
pub(crate) fn key_scheme(spki: &SubjectPublicKeyInfoOwned) -> Option<SignatureScheme> {
    let alg = &spki.algorithm;
    if alg.oid == oids::ED25519 && alg.parameters.is_none() {
        return Some(SignatureScheme::Ed25519);
    }
    if alg.oid == oids::EC_PUBLIC_KEY {
        let curve = alg
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve == Some(oids::SECP256R1) {
            return Some(SignatureScheme::EcdsaP256Sha256);
        }
    }
    None
}

/// Verifies `signature` over `msg` with `key`, under the algorithm `alg_oid`
/// named by the signed structure. The key's type must match the algorithm.
pub(crate) fn verify(
    key: &SubjectPublicKeyInfoOwned,
    alg_oid: &ObjectIdentifier,
    msg: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let scheme =
        SignatureScheme::from_signature_oid(alg_oid).ok_or(SignatureError::UnsupportedAlgorithm)?;
    if key_scheme(key) != Some(scheme) {
        return Err(SignatureError::KeyMismatch);
    }
    let raw = key
        .subject_public_key
        .as_bytes()
        .ok_or(SignatureError::Invalid)?;
    UnparsedPublicKey::new(scheme.verification_alg(), raw)
        .verify(msg, signature)
        .map_err(|_| SignatureError::Invalid)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureError {
    UnsupportedAlgorithm,
    KeyMismatch,
    Invalid,
}
