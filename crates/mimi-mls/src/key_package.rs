//! KeyPackage validation for the KeyPackage store (draft-kohbrok-mimi-transport
//! §5.8-5.9: KeyPackages are uploaded by clients and handed to other providers).
//!
//! A provider hands a KeyPackage to other domains, so it checks what it can without
//! trusting anything: structure, signatures, lifetime, cipher suite, the shape of the
//! X.509 credential and the queue-reference extension. Whether the certificate chain is
//! trustworthy is for `mimi-credentials` (the caller's next step) and, in the end,
//! for the clients that add the KeyPackage to a group.

use std::time::Duration;

use mimi_wire::QueueReference;
use openmls::ciphersuite::hash_ref::make_key_package_ref;
use openmls::prelude::{KeyPackage, KeyPackageIn, KeyPackageVerifyError, ProtocolVersion};
use openmls::treesync::errors::LifetimeError;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::types::{Ciphersuite, SignatureScheme};
use tls_codec::{Deserialize, Serialize};

use crate::credential::{CredentialError, certificate_chain};
use crate::extension::{QUEUE_REFERENCE_EXTENSION_TYPE, leaf_queue_reference};
use crate::{QueueIdError, codec_detail};

/// Largest KeyPackage accepted: 64 KiB. A MIMI KeyPackage with a six-certificate
/// chain of 16 KiB certificates would exceed it, but real chains are a few KiB.
pub const MAX_KEY_PACKAGE_LEN: usize = 64 * 1024;

/// Default longest lifetime (`not_after - not_before`) accepted: 90 days.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// The first four bytes of an `MLSMessage` carrying a KeyPackage (RFC 9420 §6):
/// `version = mls10 (0x0001)`, `wire_format = mls_key_package (0x0005)`.
const MLS_MESSAGE_KEY_PACKAGE_HEADER: [u8; 4] = [0x00, 0x01, 0x00, 0x05];

/// RFC 9420 `ProtocolVersion` mls10, the first field of a KeyPackage.
const MLS10: [u8; 2] = [0x00, 0x01];

/// What a KeyPackage store accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackagePolicy {
    /// Accepted cipher suites. Default: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
    /// (0x0001) and MLS_128_DHKEMP256_AES128GCM_SHA256_P256 (0x0002), the suites of
    /// the signature keys MIMI certificates carry.
    pub cipher_suites: Vec<Ciphersuite>,
    /// Longest span `not_after - not_before` accepted (the whole lifetime, not
    /// what is left of it). Default: [`DEFAULT_MAX_LIFETIME`] (90 days).
    pub max_lifetime: Duration,
    /// Whether the leaf node must carry the `mimi_queue_reference` extension.
    /// Default: true.
    pub require_queue_reference: bool,
}

impl Default for KeyPackagePolicy {
    fn default() -> Self {
        KeyPackagePolicy {
            cipher_suites: vec![
                Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
                Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
            ],
            max_lifetime: DEFAULT_MAX_LIFETIME,
            require_queue_reference: true,
        }
    }
}

/// Why a KeyPackage was refused. Every variant is the uploader's fault except
/// [`KeyPackageError::Internal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyPackageError {
    #[error("KeyPackage is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("not an MLS 1.0 KeyPackage: {detail}")]
    Malformed { detail: String },
    #[error("{extra} bytes follow the KeyPackage; send exactly one KeyPackage")]
    TrailingBytes { extra: usize },
    #[error("cipher suite 0x{suite:04x} is not accepted here; use one of {accepted}")]
    UnsupportedCipherSuite { suite: u16, accepted: String },
    #[error(
        "the {what} signature does not verify under the leaf's signature key; sign it with the key the credential certifies"
    )]
    BadSignature { what: &'static str },
    #[error("KeyPackage is invalid: {detail}")]
    Invalid { detail: String },
    #[error("KeyPackage expired at {not_after} (now {now}, Unix seconds); upload a fresh one")]
    Expired { not_after: u64, now: u64 },
    #[error(
        "KeyPackage is not valid before {not_before} (now {now}, Unix seconds); check the client's clock"
    )]
    NotYetValid { not_before: u64, now: u64 },
    #[error(
        "KeyPackage lifetime is {lifetime_secs} s; at most {max_secs} s are accepted, so make it shorter"
    )]
    LifetimeTooLong { lifetime_secs: u64, max_secs: u64 },
    #[error(
        "credential type is {found}; MIMI requires x509 (2) carrying the device's certificate chain"
    )]
    WrongCredentialType { found: u16 },
    #[error("the KeyPackage's X.509 credential is unusable: {0}")]
    BadCertificateChain(CredentialError),
    #[error(
        "the leaf node's capabilities do not list its own credential type x509 (2); add it (RFC 9420 §7.2)"
    )]
    CredentialNotInCapabilities,
    #[error(
        "the leaf node has no mimi_queue_reference extension (0xF0A1); seal the queue ID to the provider's queue key and add it with the provider's domain"
    )]
    MissingQueueReference,
    #[error("the leaf node's mimi_queue_reference extension is malformed: {detail}")]
    MalformedQueueReference { detail: String },
    #[error(
        "the leaf node's capabilities do not list mimi_queue_reference (0xF0A1), which it carries; add it to the capabilities"
    )]
    QueueReferenceNotInCapabilities,
    #[error(
        "the leaf node carries extension 0x{extension_type:04x} without listing it in its capabilities; list it (RFC 9420 §7.2)"
    )]
    ExtensionNotInCapabilities { extension_type: u16 },
    #[error("internal error while validating a KeyPackage: {detail}; this is a bug")]
    Internal { detail: String },
}

/// A KeyPackage that passed [`validate_key_package`]; only that function makes one.
#[derive(Debug, Clone)]
pub struct ValidatedKeyPackage {
    key_package: KeyPackage,
    bytes: Vec<u8>,
    key_package_ref: Vec<u8>,
    chain: Vec<Vec<u8>>,
    queue_reference: Option<QueueReference>,
}

impl ValidatedKeyPackage {
    /// `KeyPackageRef` (RFC 9420 §5.2): `RefHash("MLS 1.0 KeyPackage Reference",
    /// KeyPackage)` with the suite's hash, over [`ValidatedKeyPackage::bytes`].
    pub fn key_package_ref(&self) -> &[u8] {
        &self.key_package_ref
    }

    /// The cipher suite's code point (e.g. 0x0001).
    pub fn cipher_suite(&self) -> u16 {
        u16::from(self.key_package.ciphersuite())
    }

    /// The credential's DER certificates, leaf first, for the caller to verify.
    pub fn certificate_chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The leaf's signature public key as MLS carries it: 32 raw bytes for Ed25519,
    /// an uncompressed SEC1 point for ECDSA P-256. The verified leaf certificate's
    /// key must be this key (the MLS signature is the proof of possession).
    pub fn signature_key(&self) -> &[u8] {
        self.key_package.leaf_node().signature_key().as_slice()
    }

    /// The signature scheme of the cipher suite.
    pub fn signature_scheme(&self) -> SignatureScheme {
        self.key_package.ciphersuite().signature_algorithm()
    }

    /// The leaf's `mimi_queue_reference` extension (provider domain and encrypted
    /// queue ID), if it carries one. Only its encoding is checked: whether the
    /// domain is the store's own and the ciphertext opens is the store's check.
    pub fn queue_reference(&self) -> Option<&QueueReference> {
        self.queue_reference.as_ref()
    }

    /// Whether the KeyPackage carries the `last_resort` extension (type 0x000A,
    /// RFC 9420 §17.3; OpenMLS `ExtensionType::LastResort`).
    pub fn is_last_resort(&self) -> bool {
        self.key_package.last_resort()
    }

    /// The KeyPackage's encoding as received (a bare RFC 9420 `KeyPackage`, also
    /// when it arrived inside an `MLSMessage`), to hand out verbatim.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the value, keeping the bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Start of the lifetime (Unix seconds).
    pub fn not_before(&self) -> u64 {
        self.key_package.life_time().not_before()
    }

    /// End of the lifetime (Unix seconds).
    pub fn not_after(&self) -> u64 {
        self.key_package.life_time().not_after()
    }

    /// The OpenMLS KeyPackage.
    pub fn key_package(&self) -> &KeyPackage {
        &self.key_package
    }
}

/// Validates a KeyPackage for the store, at time `now_unix_secs`.
///
/// Accepts a bare RFC 9420 `KeyPackage` or an `MLSMessage` with wire format
/// `mls_key_package`. The two cannot be told apart when a bare KeyPackage of
/// cipher suite 0x0005 begins `00 01 00 05`; such input is read as an
/// `MLSMessage` (suite 5, P-521, is not one MIMI uses).
///
/// Checks, in order: length (at most [`MAX_KEY_PACKAGE_LEN`]); protocol version;
/// cipher suite in `policy`; exactly one KeyPackage, nothing after it; OpenMLS's
/// `KeyPackageIn::validate` (leaf-node and KeyPackage signatures under the leaf's
/// key, init key ≠ encryption key, KeyPackage extensions in the capabilities);
/// canonical encoding; lifetime `not_before ≤ now ≤ not_after` and no longer than
/// `policy.max_lifetime`; an X.509 credential of 1 to 6 certificates of at most
/// 16 KiB, listed in the capabilities; every leaf extension listed in the
/// capabilities; the `mimi_queue_reference` extension, well-formed (a canonical
/// domain and a bounded ciphertext), if `policy.require_queue_reference`.
///
/// OpenMLS also checks the lifetime against the system clock, so a KeyPackage
/// must be valid both at `now_unix_secs` and at the machine's current time.
pub fn validate_key_package(
    bytes: &[u8],
    policy: &KeyPackagePolicy,
    now_unix_secs: u64,
) -> Result<ValidatedKeyPackage, KeyPackageError> {
    if bytes.len() > MAX_KEY_PACKAGE_LEN {
        return Err(KeyPackageError::TooLarge {
            len: bytes.len(),
            max: MAX_KEY_PACKAGE_LEN,
        });
    }
    let kp_bytes = strip_mls_message_header(bytes);
    check_header(kp_bytes, policy)?;
    let key_package_in = parse_exactly_one(kp_bytes)?;
    let crypto = RustCrypto::default();
    let key_package = key_package_in
        .validate(&crypto, ProtocolVersion::Mls10)
        .map_err(map_verify_error)?;
    check_canonical(&key_package, kp_bytes)?;
    check_lifetime(&key_package, policy, now_unix_secs)?;
    let chain = check_credential(&key_package)?;
    check_leaf_extensions(&key_package)?;
    let queue_reference = check_queue_reference(&key_package, policy)?;
    let key_package_ref = make_key_package_ref(kp_bytes, key_package.ciphersuite(), &crypto)
        .map_err(|e| KeyPackageError::Internal {
            detail: format!("computing the KeyPackageRef failed: {e:?}"),
        })?
        .as_slice()
        .to_vec();
    Ok(ValidatedKeyPackage {
        key_package,
        bytes: kp_bytes.to_vec(),
        key_package_ref,
        chain,
        queue_reference,
    })
}

/// The bare KeyPackage inside an `MLSMessage` header, or `bytes` as they are.
fn strip_mls_message_header(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_prefix(&MLS_MESSAGE_KEY_PACKAGE_HEADER[..])
        .unwrap_or(bytes)
}

/// Checks the fixed-position `protocol_version` and `cipher_suite` before parsing,
/// so that a suite OpenMLS cannot even decode is refused by name.
fn check_header(kp_bytes: &[u8], policy: &KeyPackagePolicy) -> Result<(), KeyPackageError> {
    let (Some(version), Some(suite)) = (kp_bytes.get(0..2), kp_bytes.get(2..4)) else {
        return Err(KeyPackageError::Malformed {
            detail: format!("{} bytes is too short for a KeyPackage", kp_bytes.len()),
        });
    };
    if version != MLS10 {
        return Err(KeyPackageError::Malformed {
            detail: format!(
                "protocol version is 0x{:02x}{:02x}, not mls10 (0x0001)",
                version[0], version[1]
            ),
        });
    }
    let suite = u16::from_be_bytes([suite[0], suite[1]]);
    let accepted = policy.cipher_suites.iter().any(|s| u16::from(*s) == suite);
    if !accepted {
        return Err(KeyPackageError::UnsupportedCipherSuite {
            suite,
            accepted: accepted_suites(policy),
        });
    }
    Ok(())
}

fn accepted_suites(policy: &KeyPackagePolicy) -> String {
    let names: Vec<String> = policy
        .cipher_suites
        .iter()
        .map(|s| format!("0x{:04x} ({s:?})", u16::from(*s)))
        .collect();
    names.join(", ")
}

fn parse_exactly_one(kp_bytes: &[u8]) -> Result<KeyPackageIn, KeyPackageError> {
    // The reader-based decoder, not `tls_deserialize_bytes`: the latter has a
    // `debug_assert` on truncated vectors in tls_codec 0.5.
    let mut rest = kp_bytes;
    let key_package =
        KeyPackageIn::tls_deserialize(&mut rest).map_err(|e| KeyPackageError::Malformed {
            detail: codec_detail(&e),
        })?;
    if !rest.is_empty() {
        return Err(KeyPackageError::TrailingBytes { extra: rest.len() });
    }
    Ok(key_package)
}

fn map_verify_error(e: KeyPackageVerifyError) -> KeyPackageError {
    match e {
        KeyPackageVerifyError::InvalidLeafNodeSignature => {
            KeyPackageError::BadSignature { what: "leaf node" }
        }
        KeyPackageVerifyError::InvalidSignature => {
            KeyPackageError::BadSignature { what: "KeyPackage" }
        }
        KeyPackageVerifyError::LifetimeError(LifetimeError::Expired { not_after, now }) => {
            KeyPackageError::Expired { not_after, now }
        }
        KeyPackageVerifyError::LifetimeError(LifetimeError::NotValidYet { not_before, now }) => {
            KeyPackageError::NotYetValid { not_before, now }
        }
        KeyPackageVerifyError::LibraryError(e) => KeyPackageError::Internal {
            detail: e.to_string(),
        },
        other => KeyPackageError::Invalid {
            detail: other.to_string(),
        },
    }
}

/// The KeyPackage must re-encode to exactly the bytes received, so that the
/// `KeyPackageRef` and the signatures cover what we hand out.
fn check_canonical(key_package: &KeyPackage, kp_bytes: &[u8]) -> Result<(), KeyPackageError> {
    let encoded = key_package
        .tls_serialize_detached()
        .map_err(|e| KeyPackageError::Internal {
            detail: format!("re-encoding the KeyPackage failed: {e}"),
        })?;
    if encoded != kp_bytes {
        return Err(KeyPackageError::Malformed {
            detail: "not in canonical encoding (it does not re-encode to the bytes sent)".into(),
        });
    }
    Ok(())
}

fn check_lifetime(
    key_package: &KeyPackage,
    policy: &KeyPackagePolicy,
    now: u64,
) -> Result<(), KeyPackageError> {
    let lifetime = key_package.life_time();
    let (not_before, not_after) = (lifetime.not_before(), lifetime.not_after());
    if now < not_before {
        return Err(KeyPackageError::NotYetValid { not_before, now });
    }
    if now > not_after {
        return Err(KeyPackageError::Expired { not_after, now });
    }
    let lifetime_secs = not_after.saturating_sub(not_before);
    let max_secs = policy.max_lifetime.as_secs();
    if lifetime_secs > max_secs {
        return Err(KeyPackageError::LifetimeTooLong {
            lifetime_secs,
            max_secs,
        });
    }
    Ok(())
}

fn check_credential(key_package: &KeyPackage) -> Result<Vec<Vec<u8>>, KeyPackageError> {
    let leaf = key_package.leaf_node();
    let chain = certificate_chain(leaf.credential()).map_err(|e| match e {
        CredentialError::WrongType { found } => KeyPackageError::WrongCredentialType { found },
        other => KeyPackageError::BadCertificateChain(other),
    })?;
    if !leaf
        .capabilities()
        .credentials()
        .contains(&leaf.credential().credential_type())
    {
        return Err(KeyPackageError::CredentialNotInCapabilities);
    }
    Ok(chain)
}

/// RFC 9420 §7.2: a leaf lists in its capabilities every non-default extension
/// it carries. OpenMLS checks this only when a leaf joins a group; the store checks
/// it on upload, so that no KeyPackage it hands out is refused for it later.
fn check_leaf_extensions(key_package: &KeyPackage) -> Result<(), KeyPackageError> {
    let leaf = key_package.leaf_node();
    let listed = leaf.capabilities().extensions();
    for ext in leaf.extensions().iter() {
        let ext_type = ext.extension_type();
        if is_default_extension(u16::from(ext_type)) || listed.contains(&ext_type) {
            continue;
        }
        let extension_type = u16::from(ext_type);
        return Err(if extension_type == QUEUE_REFERENCE_EXTENSION_TYPE {
            KeyPackageError::QueueReferenceNotInCapabilities
        } else {
            KeyPackageError::ExtensionNotInCapabilities { extension_type }
        });
    }
    Ok(())
}

/// The extension types of RFC 9420 §17.3 marked "Recommended: Y" with
/// "default" support, which need not be listed in capabilities (§7.2):
/// application_id .. external_senders (1-5).
fn is_default_extension(t: u16) -> bool {
    (1..=5).contains(&t)
}

fn check_queue_reference(
    key_package: &KeyPackage,
    policy: &KeyPackagePolicy,
) -> Result<Option<QueueReference>, KeyPackageError> {
    let reference = leaf_queue_reference(key_package.leaf_node()).map_err(|e| match e {
        QueueIdError::MalformedExtension { detail } => {
            KeyPackageError::MalformedQueueReference { detail }
        }
        other => KeyPackageError::MalformedQueueReference {
            detail: other.to_string(),
        },
    })?;
    if reference.is_none() && policy.require_queue_reference {
        return Err(KeyPackageError::MissingQueueReference);
    }
    Ok(reference)
}
