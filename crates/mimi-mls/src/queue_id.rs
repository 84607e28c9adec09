//! Encrypted queue IDs (draft-kohbrok-mimi-metadata-minimalization §8): a client's
//! queue ID travels to hubs only HPKE-encrypted to its provider's queue key, freshly
//! for every KeyPackage, so that neither a hub nor two rooms can link a client by it.
//!
//! The HPKE suite is the one of MLS cipher suite 1: DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-128-GCM, single-shot base mode (RFC 9180), run on OpenMLS's own
//! crypto provider (`openmls_rust_crypto`).
//!
//! ```text
//! info = struct {
//!     opaque label<V> = "MIMI 1.0 QueueId";
//!     opaque provider_domain<V>;
//! };
//! aad  = "" (empty)
//! (kem_output, ciphertext) = SealBase(pkR = queue key, info, aad, queue_id[16])
//! ```

use mimi_wire::{HpkeCiphertext, QUEUE_ID_LEN, QueueEncryptionKey};
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::random::OpenMlsRand;
use openmls_traits::types::{
    self as mls_types, CryptoError, HpkeAeadType, HpkeConfig, HpkeKdfType, HpkeKemType,
    HpkePrivateKey,
};
use tls_codec::{
    Deserialize, Serialize, TlsDeserialize, TlsSerialize, TlsSize, VLByteSlice, VLBytes,
};
use zeroize::Zeroizing;

use crate::labels;

/// RFC 9180 §7.1 KEM id of DHKEM(X25519, HKDF-SHA256), the only KEM we use.
pub const KEM_X25519_HKDF_SHA256: u16 = 0x0020;
/// RFC 9180 §7.2 KDF id of HKDF-SHA256.
pub const KDF_HKDF_SHA256: u16 = 0x0001;
/// RFC 9180 §7.3 AEAD id of AES-128-GCM.
pub const AEAD_AES_128_GCM: u16 = 0x0001;

/// Length of an X25519 public key and of a DHKEM(X25519) `kem_output` (RFC 9180 §7.1).
const X25519_KEY_LEN: usize = 32;
/// Length of the input keying material from which a key pair is derived
/// (RFC 9180 §7.1.3 `DeriveKeyPair`: at least `Nsk` = 32 bytes).
const SEED_LEN: usize = 32;
/// AES-128-GCM tag length: no ciphertext is shorter.
const AEAD_TAG_LEN: usize = 16;
/// Longest provider domain bound into `info` (a DNS name is at most 253 bytes).
pub const MAX_PROVIDER_DOMAIN_LEN: usize = 255;

/// The `format` string at the start of an encoded [`QueueKeyPair`].
const KEY_FILE_FORMAT: &str = "MIMI queue key v1";
/// Largest encoded [`QueueKeyPair`] accepted by [`QueueKeyPair::from_bytes`].
pub const MAX_QUEUE_KEY_FILE_LEN: usize = 1024;

/// Why a queue ID could not be sealed or opened, or a queue key not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueIdError {
    /// The queue key names an HPKE suite we do not implement.
    #[error(
        "queue key uses HPKE kem 0x{kem_id:04x}, kdf 0x{kdf_id:04x}, aead 0x{aead_id:04x}; only \
         DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), AES-128-GCM (0x0001) is \
         supported: publish a key of that suite"
    )]
    UnsupportedSuite {
        kem_id: u16,
        kdf_id: u16,
        aead_id: u16,
    },
    /// The queue key's public key is not an X25519 public key.
    #[error(
        "queue key public key is {len} bytes; an X25519 public key is 32 bytes: publish a valid key"
    )]
    InvalidPublicKey { len: usize },
    /// The provider domain bound into the encryption is empty or too long.
    #[error(
        "provider domain is {len} bytes; it must be 1 to {MAX_PROVIDER_DOMAIN_LEN} bytes (the \
         provider's own domain name)"
    )]
    InvalidProviderDomain { len: usize },
    /// The encryption itself failed (a key the KEM refuses, or no randomness).
    #[error(
        "could not encrypt the queue ID to the queue key: {detail}; check the provider's published queue key"
    )]
    Seal { detail: String },
    /// The crypto provider failed (no randomness, or an internal error).
    #[error("the crypto provider failed: {detail}; this is a bug or a broken system RNG")]
    Crypto { detail: String },
    /// The ciphertext cannot be an encryption of a queue ID under our suite.
    #[error(
        "encrypted queue ID is malformed: {detail}; the sender must seal it with the provider's queue key"
    )]
    Malformed { detail: String },
    /// Decryption failed: sealed to another key or for another domain, or altered.
    #[error(
        "encrypted queue ID does not decrypt under this provider's queue key for domain \
         {provider_domain:?}: it was sealed to another key or domain, or altered in transit"
    )]
    Undecryptable { provider_domain: String },
    /// It decrypted, but not to a queue ID.
    #[error(
        "encrypted queue ID decrypted to {len} bytes; a queue ID is {QUEUE_ID_LEN} bytes: the \
         client sealed something else"
    )]
    WrongPlaintextLength { len: usize },
    /// A stored queue key could not be read back.
    #[error("queue key file is unusable: {detail}; restore it from backup or generate a new key")]
    KeyFile { detail: String },
    /// The `mimi_queue_reference` leaf-node extension does not hold a `QueueReference`.
    #[error(
        "mimi_queue_reference extension is malformed: {detail}; it must hold one TLS-encoded \
         QueueReference (docs/wire-spec.md §11.5)"
    )]
    MalformedExtension { detail: String },
}

/// The HPKE configuration of MLS cipher suite 1, the only one we use.
fn hpke_config() -> HpkeConfig {
    HpkeConfig(
        HpkeKemType::DhKem25519,
        HpkeKdfType::HkdfSha256,
        HpkeAeadType::AesGcm128,
    )
}

/// Checks that `key` names our suite and holds an X25519 public key.
fn check_suite(key: &QueueEncryptionKey) -> Result<(), QueueIdError> {
    if (key.kem_id, key.kdf_id, key.aead_id)
        != (KEM_X25519_HKDF_SHA256, KDF_HKDF_SHA256, AEAD_AES_128_GCM)
    {
        return Err(QueueIdError::UnsupportedSuite {
            kem_id: key.kem_id,
            kdf_id: key.kdf_id,
            aead_id: key.aead_id,
        });
    }
    let len = key.public_key.as_slice().len();
    if len != X25519_KEY_LEN {
        return Err(QueueIdError::InvalidPublicKey { len });
    }
    Ok(())
}

/// The HPKE `info` for a queue ID sealed to the provider `provider_domain`:
/// `struct { opaque label<V> = "MIMI 1.0 QueueId"; opaque provider_domain<V>; }`,
/// TLS-encoded with RFC 9420 variable-length vectors (the `EncryptContext` of
/// RFC 9420 §5.1.3 `EncryptWithLabel`, with our own label).
///
/// Binding the domain means a ciphertext made for one provider never opens as a
/// queue ID at another that happens to hold the same key.
pub fn queue_id_hpke_info(provider_domain: &str) -> Result<Vec<u8>, QueueIdError> {
    let len = provider_domain.len();
    if len == 0 || len > MAX_PROVIDER_DOMAIN_LEN {
        return Err(QueueIdError::InvalidProviderDomain { len });
    }
    let mut info = Vec::with_capacity(2 + labels::QUEUE_ID.len() + len);
    // Writing to a Vec fails only on lengths above 2^30, which the bounds exclude.
    let encoded = VLByteSlice(labels::QUEUE_ID.as_bytes())
        .tls_serialize(&mut info)
        .and_then(|_| VLByteSlice(provider_domain.as_bytes()).tls_serialize(&mut info));
    encoded.map_err(|e| QueueIdError::Crypto {
        detail: format!("encoding the HPKE info failed: {e}"),
    })?;
    Ok(info)
}

/// Encrypts `queue_id` to the provider's queue key, binding its domain.
///
/// Every call is a fresh HPKE encryption (new ephemeral key), so two KeyPackages of
/// one client never carry the same ciphertext and cannot be linked by it.
pub fn seal_queue_id(
    key: &QueueEncryptionKey,
    provider_domain: &str,
    queue_id: &[u8; QUEUE_ID_LEN],
) -> Result<HpkeCiphertext, QueueIdError> {
    check_suite(key)?;
    let info = queue_id_hpke_info(provider_domain)?;
    let sealed = RustCrypto::default()
        .hpke_seal(
            hpke_config(),
            key.public_key.as_slice(),
            &info,
            &[],
            queue_id,
        )
        .map_err(|e| QueueIdError::Seal {
            detail: crypto_error_text(e),
        })?;
    Ok(HpkeCiphertext {
        kem_output: sealed.kem_output,
        ciphertext: sealed.ciphertext,
    })
}

fn crypto_error_text(e: CryptoError) -> String {
    format!("{e:?}")
}

/// A provider's HPKE key pair for queue IDs: the private key stays with the
/// provider (in a 0600 key file, see [`QueueKeyPair::to_bytes`]); the public
/// [`QueueEncryptionKey`] goes to its clients.
///
/// The private key is zeroized on drop and never appears in `Debug` output.
pub struct QueueKeyPair {
    /// RFC 9180 `DeriveKeyPair` input: what we store, since the key pair follows
    /// from it and a stored public key can then be checked against it.
    seed: Zeroizing<Vec<u8>>,
    private: HpkePrivateKey,
    public: QueueEncryptionKey,
}

impl std::fmt::Debug for QueueKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// ```text
/// struct {
///     opaque format<V>;      // "MIMI queue key v1"
///     uint16 kem_id;         // 0x0020
///     uint16 kdf_id;         // 0x0001
///     uint16 aead_id;        // 0x0001
///     opaque seed<V>;        // 32 bytes: RFC 9180 DeriveKeyPair(ikm)
///     opaque public_key<V>;  // 32 bytes: checked against the seed on load
/// } QueueKeyFile;
/// ```
#[derive(TlsSerialize, TlsDeserialize, TlsSize)]
struct QueueKeyFile {
    format: VLBytes,
    kem_id: u16,
    kdf_id: u16,
    aead_id: u16,
    seed: VLBytes,
    public_key: VLBytes,
}

impl Drop for QueueKeyFile {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.seed.zeroize();
    }
}

impl QueueKeyPair {
    /// A fresh key pair from the crypto provider's randomness.
    pub fn generate() -> Result<QueueKeyPair, QueueIdError> {
        let seed =
            RustCrypto::default()
                .random_vec(SEED_LEN)
                .map_err(|e| QueueIdError::Crypto {
                    detail: format!("no randomness for a new queue key: {e}"),
                })?;
        Self::from_seed(Zeroizing::new(seed))
    }

    fn from_seed(seed: Zeroizing<Vec<u8>>) -> Result<QueueKeyPair, QueueIdError> {
        let pair = RustCrypto::default()
            .derive_hpke_keypair(hpke_config(), &seed)
            .map_err(|e| QueueIdError::KeyFile {
                detail: format!("deriving the key pair failed: {}", crypto_error_text(e)),
            })?;
        let mls_types::HpkeKeyPair { private, public } = pair;
        Ok(QueueKeyPair {
            seed,
            private,
            public: QueueEncryptionKey {
                kem_id: KEM_X25519_HKDF_SHA256,
                kdf_id: KDF_HKDF_SHA256,
                aead_id: AEAD_AES_128_GCM,
                public_key: public.into(),
            },
        })
    }

    /// The public key to publish to clients.
    pub fn public(&self) -> &QueueEncryptionKey {
        &self.public
    }

    /// The encoding to store (0600) and load with [`QueueKeyPair::from_bytes`]: a
    /// TLS-encoded `QueueKeyFile` (format string, suite ids, seed, public key).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, QueueIdError> {
        let file = QueueKeyFile {
            format: KEY_FILE_FORMAT.as_bytes().to_vec().into(),
            kem_id: self.public.kem_id,
            kdf_id: self.public.kdf_id,
            aead_id: self.public.aead_id,
            seed: self.seed.to_vec().into(),
            public_key: self.public.public_key.clone(),
        };
        file.tls_serialize_detached()
            .map(Zeroizing::new)
            .map_err(|e| QueueIdError::KeyFile {
                detail: format!("encoding failed: {e}"),
            })
    }

    /// Loads a key pair stored by [`QueueKeyPair::to_bytes`], checking its format,
    /// suite and that the stored public key is the one its seed derives.
    pub fn from_bytes(bytes: &[u8]) -> Result<QueueKeyPair, QueueIdError> {
        let bad = |detail: String| QueueIdError::KeyFile { detail };
        if bytes.len() > MAX_QUEUE_KEY_FILE_LEN {
            return Err(bad(format!(
                "{} bytes; a queue key file is at most {MAX_QUEUE_KEY_FILE_LEN}",
                bytes.len()
            )));
        }
        let mut rest = bytes;
        let file = QueueKeyFile::tls_deserialize(&mut rest)
            .map_err(|e| bad(format!("not a queue key file: {}", crate::codec_detail(&e))))?;
        if !rest.is_empty() {
            return Err(bad(format!("{} bytes after the key", rest.len())));
        }
        if file.format.as_slice() != KEY_FILE_FORMAT.as_bytes() {
            return Err(bad(format!(
                "format is {:?}, expected {KEY_FILE_FORMAT:?}",
                String::from_utf8_lossy(file.format.as_slice())
            )));
        }
        check_suite(&QueueEncryptionKey {
            kem_id: file.kem_id,
            kdf_id: file.kdf_id,
            aead_id: file.aead_id,
            public_key: file.public_key.clone(),
        })
        .map_err(|e| bad(e.to_string()))?;
        if file.seed.as_slice().len() != SEED_LEN {
            return Err(bad(format!(
                "seed is {} bytes, expected {SEED_LEN}",
                file.seed.as_slice().len()
            )));
        }
        let pair = Self::from_seed(Zeroizing::new(file.seed.as_slice().to_vec()))?;
        if pair.public.public_key != file.public_key {
            return Err(bad(
                "the stored public key is not the one its seed derives (file corrupted)".into(),
            ));
        }
        Ok(pair)
    }

    /// Decrypts a queue ID sealed by [`seal_queue_id`] to this key for
    /// `provider_domain` (our own domain).
    pub fn open_queue_id(
        &self,
        provider_domain: &str,
        sealed: &HpkeCiphertext,
    ) -> Result<[u8; QUEUE_ID_LEN], QueueIdError> {
        let info = queue_id_hpke_info(provider_domain)?;
        check_ciphertext_shape(sealed)?;
        let input = mls_types::HpkeCiphertext {
            kem_output: sealed.kem_output.clone(),
            ciphertext: sealed.ciphertext.clone(),
        };
        let plaintext = Zeroizing::new(
            RustCrypto::default()
                .hpke_open(hpke_config(), &input, &self.private, &info, &[])
                .map_err(|_| QueueIdError::Undecryptable {
                    provider_domain: provider_domain.to_owned(),
                })?,
        );
        <[u8; QUEUE_ID_LEN]>::try_from(plaintext.as_slice()).map_err(|_| {
            QueueIdError::WrongPlaintextLength {
                len: plaintext.len(),
            }
        })
    }
}

/// Refuses what cannot be a DHKEM(X25519)/AES-GCM ciphertext before any crypto.
fn check_ciphertext_shape(sealed: &HpkeCiphertext) -> Result<(), QueueIdError> {
    let kem_len = sealed.kem_output.as_slice().len();
    if kem_len != X25519_KEY_LEN {
        return Err(QueueIdError::Malformed {
            detail: format!("kem_output is {kem_len} bytes; DHKEM(X25519) outputs 32"),
        });
    }
    let ct_len = sealed.ciphertext.as_slice().len();
    if ct_len < AEAD_TAG_LEN {
        return Err(QueueIdError::Malformed {
            detail: format!(
                "ciphertext is {ct_len} bytes, shorter than the {AEAD_TAG_LEN}-byte AES-GCM tag"
            ),
        });
    }
    Ok(())
}
