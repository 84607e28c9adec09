//! Real KeyPackages for tests, built by OpenMLS (feature `test-utils`; never
//! enable it in a product).
//!
//! [`key_package`] builds exactly what [`KeyPackageParams`] says, including
//! KeyPackages the store must refuse (a Basic credential, an empty chain, an
//! extension missing from the capabilities, an expired lifetime), so that each
//! refusal can be tested on a real, correctly signed KeyPackage.
//!
//! To make the MLS signature key the key of a certificate (as MIMI requires),
//! give [`TestSigner::from_pkcs8`] the PKCS#8 private key the certificate was
//! issued for (`mimi_credentials::KeyPair::to_pkcs8_der()`).
//!
//! For the hub: [`TestPki`] (identity root, domain CAs, device certificates,
//! CRLs), [`TestMember`] (a real OpenMLS client) and [`forge`] (broken inputs
//! from real ones).

pub mod forge;
mod member;
mod pki;

pub use member::{CommitMessages, TestMember};
pub use pki::{TestIdentity, TestPki, device_id};

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use mimi_identifiers::Domain;
use mimi_wire::{QUEUE_ID_LEN, QueueReference};
use openmls::prelude::{
    Capabilities, Credential, CredentialType, CredentialWithKey, Extension, Extensions, KeyPackage,
    KeyPackageBundle, Lifetime, UnknownExtension,
};
use openmls_rust_crypto::OpenMlsRustCrypto;
use openmls_traits::signatures::{Signer, SignerError};
use openmls_traits::types::{Ciphersuite, SignatureScheme};
use tls_codec::Serialize;

use crate::credential::encode_certificates;
use crate::{QueueKeyPair, capabilities, queue_reference_extension, seal_queue_reference};

/// Why a test KeyPackage could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestUtilsError {
    #[error("signing key: {0}")]
    Key(String),
    #[error("building the KeyPackage: {0}")]
    Build(String),
}

enum SignerKey {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

/// An MLS signer (OpenMLS's `Signer`) on aws-lc-rs: Ed25519 or ECDSA P-256 with
/// SHA-256 (DER signatures, as RFC 9420 §5.1.2 and OpenMLS expect).
pub struct TestSigner {
    key: SignerKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for TestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSigner")
            .field("scheme", &self.scheme())
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn key_error(e: impl std::fmt::Display) -> TestUtilsError {
    TestUtilsError::Key(e.to_string())
}

impl TestSigner {
    /// A fresh key of `scheme` (ED25519 or ECDSA_SECP256R1_SHA256).
    pub fn generate(scheme: SignatureScheme) -> Result<TestSigner, TestUtilsError> {
        match scheme {
            SignatureScheme::ED25519 => Ok(Self::ed25519(
                Ed25519KeyPair::generate().map_err(key_error)?,
            )),
            SignatureScheme::ECDSA_SECP256R1_SHA256 => Ok(Self::p256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(key_error)?,
            )),
            other => Err(TestUtilsError::Key(format!(
                "{other:?} is not supported; use ED25519 or ECDSA_SECP256R1_SHA256"
            ))),
        }
    }

    /// A key from its PKCS#8 DER encoding (v1 or v2), e.g.
    /// `mimi_credentials::KeyPair::to_pkcs8_der()`, so that a certificate's key
    /// is the MLS signature key.
    pub fn from_pkcs8(der: &[u8], scheme: SignatureScheme) -> Result<TestSigner, TestUtilsError> {
        match scheme {
            SignatureScheme::ED25519 => Ok(Self::ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(key_error)?,
            )),
            SignatureScheme::ECDSA_SECP256R1_SHA256 => Ok(Self::p256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der)
                    .map_err(key_error)?,
            )),
            other => Err(TestUtilsError::Key(format!(
                "{other:?} is not supported; use ED25519 or ECDSA_SECP256R1_SHA256"
            ))),
        }
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032 private key).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Result<TestSigner, TestUtilsError> {
        Ok(Self::ed25519(
            Ed25519KeyPair::from_seed_unchecked(seed).map_err(key_error)?,
        ))
    }

    fn ed25519(key: Ed25519KeyPair) -> TestSigner {
        let public = key.public_key().as_ref().to_vec();
        TestSigner {
            key: SignerKey::Ed25519(key),
            public,
        }
    }

    fn p256(key: EcdsaKeyPair) -> TestSigner {
        let public = key.public_key().as_ref().to_vec();
        TestSigner {
            key: SignerKey::P256(key),
            public,
        }
    }

    /// The public key as MLS carries it (raw Ed25519 key, or uncompressed SEC1 point).
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The cipher suite MIMI uses with this key: 0x0001 for Ed25519, 0x0002 for P-256.
    pub fn cipher_suite(&self) -> Ciphersuite {
        match self.key {
            SignerKey::Ed25519(_) => Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
            SignerKey::P256(_) => Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
        }
    }

    /// The signature scheme.
    pub fn scheme(&self) -> SignatureScheme {
        match self.key {
            SignerKey::Ed25519(_) => SignatureScheme::ED25519,
            SignerKey::P256(_) => SignatureScheme::ECDSA_SECP256R1_SHA256,
        }
    }
}

impl Signer for TestSigner {
    fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, SignerError> {
        match &self.key {
            SignerKey::Ed25519(key) => key
                .try_sign(payload)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignerError::SigningError),
            SignerKey::P256(key) => key
                .sign(&SystemRandom::new(), payload)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignerError::SigningError),
        }
    }

    fn signature_scheme(&self) -> SignatureScheme {
        self.scheme()
    }
}

/// The credential to put in the leaf node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestCredential {
    /// An X.509 credential with these DER certificates, leaf first, encoded as
    /// given (no bounds checks, so that refused chains can be built too).
    X509(Vec<Vec<u8>>),
    /// An X.509 credential whose content (the certificate entries inside the
    /// outer vector) is these bytes as they are, well-formed or not.
    X509Raw(Vec<u8>),
    /// A Basic credential with this identity (MIMI refuses it).
    Basic(Vec<u8>),
}

impl TestCredential {
    fn to_credential(&self) -> Result<Credential, TestUtilsError> {
        match self {
            TestCredential::X509(chain) => Ok(Credential::new(
                CredentialType::X509,
                encode_certificates(chain).map_err(|e| TestUtilsError::Build(e.to_string()))?,
            )),
            TestCredential::X509Raw(content) => {
                Ok(Credential::new(CredentialType::X509, content.clone()))
            }
            TestCredential::Basic(identity) => {
                Ok(Credential::new(CredentialType::Basic, identity.clone()))
            }
        }
    }
}

/// Everything [`key_package`] puts in a KeyPackage. [`KeyPackageParams::new`] gives
/// a KeyPackage the store accepts; change the fields to build one it refuses.
#[derive(Debug)]
pub struct KeyPackageParams<'a> {
    /// Must match the signer's scheme (OpenMLS refuses otherwise).
    pub cipher_suite: Ciphersuite,
    pub signer: &'a TestSigner,
    pub credential: TestCredential,
    /// The `mimi_queue_reference` leaf-node extension, if any.
    pub queue_reference: Option<QueueReference>,
    /// The leaf's capabilities; default [`capabilities()`](crate::capabilities).
    pub capabilities: Capabilities,
    /// More leaf-node extensions: (type, data).
    pub extra_leaf_extensions: Vec<(u16, Vec<u8>)>,
    pub last_resort: bool,
    /// Lifetime, Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
}

impl<'a> KeyPackageParams<'a> {
    /// An acceptable KeyPackage: the signer's suite, an X.509 credential with
    /// `chain`, the `mimi_queue_reference` extension with `queue_reference`, MIMI's
    /// capabilities, valid from an hour ago for 28 days, not last resort.
    pub fn new(
        signer: &'a TestSigner,
        chain: Vec<Vec<u8>>,
        queue_reference: QueueReference,
    ) -> KeyPackageParams<'a> {
        let now = now_unix_secs();
        KeyPackageParams {
            cipher_suite: signer.cipher_suite(),
            signer,
            credential: TestCredential::X509(chain),
            queue_reference: Some(queue_reference),
            capabilities: capabilities(),
            extra_leaf_extensions: Vec::new(),
            last_resort: false,
            not_before: now.saturating_sub(3600),
            not_after: now + 28 * 24 * 3600,
        }
    }
}

/// A KeyPackage built by OpenMLS, with its private keys.
#[derive(Debug)]
pub struct TestKeyPackage {
    /// The TLS encoding of the bare KeyPackage (what a client uploads).
    pub bytes: Vec<u8>,
    /// The KeyPackage and its private init and encryption keys.
    pub bundle: KeyPackageBundle,
}

impl TestKeyPackage {
    pub fn key_package(&self) -> &KeyPackage {
        self.bundle.key_package()
    }
}

/// Builds and signs a KeyPackage with OpenMLS as `params` say.
pub fn key_package(params: &KeyPackageParams<'_>) -> Result<TestKeyPackage, TestUtilsError> {
    let build_error = |e: &dyn std::fmt::Display| TestUtilsError::Build(e.to_string());
    let mut leaf_extensions = Vec::new();
    if let Some(reference) = &params.queue_reference {
        leaf_extensions.push(queue_reference_extension(reference).map_err(|e| build_error(&e))?);
    }
    for (ext_type, data) in &params.extra_leaf_extensions {
        leaf_extensions.push(Extension::Unknown(
            *ext_type,
            UnknownExtension(data.clone()),
        ));
    }
    let leaf_extensions = Extensions::from_vec(leaf_extensions).map_err(|e| build_error(&e))?;
    let mut builder = KeyPackage::builder()
        .key_package_lifetime(Lifetime::init(params.not_before, params.not_after))
        .leaf_node_capabilities(params.capabilities.clone())
        .leaf_node_extensions(leaf_extensions);
    if params.last_resort {
        builder = builder.mark_as_last_resort();
    }
    let credential_with_key = CredentialWithKey {
        credential: params.credential.to_credential()?,
        signature_key: params.signer.public_key().into(),
    };
    let provider = OpenMlsRustCrypto::default();
    let bundle = builder
        .build(
            params.cipher_suite,
            &provider,
            params.signer,
            credential_with_key,
        )
        .map_err(|e| build_error(&e))?;
    let bytes = bundle
        .key_package()
        .tls_serialize_detached()
        .map_err(|e| build_error(&e))?;
    Ok(TestKeyPackage { bytes, bundle })
}

/// A fresh queue key, a random queue ID and a reference to it at
/// `provider_domain` (the ID sealed to the key for that domain).
pub fn sealed_queue_reference(
    provider_domain: &str,
) -> Result<(QueueKeyPair, [u8; QUEUE_ID_LEN], QueueReference), TestUtilsError> {
    let domain = Domain::parse(provider_domain).map_err(key_error)?;
    let key = QueueKeyPair::generate().map_err(key_error)?;
    let mut queue_id = [0u8; QUEUE_ID_LEN];
    aws_lc_rs::rand::fill(&mut queue_id).map_err(key_error)?;
    let reference = seal_queue_reference(key.public(), &domain, &queue_id).map_err(key_error)?;
    Ok((key, queue_id, reference))
}

/// The system clock in Unix seconds (0 if it is before 1970).
pub fn now_unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
