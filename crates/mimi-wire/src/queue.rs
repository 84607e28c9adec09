//! Encrypted queue IDs (draft-kohbrok-mimi-metadata-minimalization §8): the wire
//! forms only. The HPKE operations live in `mimi-mls`, on the same crypto provider
//! as MLS itself.
//!
//! A client's queue ID travels to hubs only encrypted to its provider's
//! [`QueueEncryptionKey`], freshly for every KeyPackage, so that neither the hub nor
//! two rooms can link a client by it; the hub hands the ciphertext back to the
//! client's provider on fan-out (`/deliver_message`), which decrypts it and routes.
//! The hub learns which provider that is from the [`QueueReference`] around the
//! ciphertext.

use mimi_identifiers::{Domain, MAX_DOMAIN_LEN};
use tls_codec::{Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLByteSlice, VLBytes};

use crate::error::WireError;
use crate::framing::{canonical_domain, decode_exact};
use crate::reader::{Reader, check_field_len, decode_with};

/// Length of a queue ID: 16 random bytes chosen by the client's provider.
pub const QUEUE_ID_LEN: usize = 16;

/// Largest encoded [`HpkeCiphertext`] we accept: a KEM output and a sealed queue ID
/// are well under 200 bytes with every HPKE KEM that MLS uses (the largest,
/// X-Wing and P-521, included).
pub const MAX_HPKE_CIPHERTEXT_LEN: usize = 2048;

/// ```text
/// struct {
///     opaque kem_output<V>;
///     opaque ciphertext<V>;
/// } HPKECiphertext;
/// ```
///
/// RFC 9420 §7.6, reused as is: the encapsulated key and the AEAD ciphertext of
/// one single-shot HPKE seal (RFC 9180 base mode).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct HpkeCiphertext {
    pub kem_output: VLBytes,
    pub ciphertext: VLBytes,
}

impl HpkeCiphertext {
    const NAME: &'static str = "HPKECiphertext";

    pub fn new(kem_output: Vec<u8>, ciphertext: Vec<u8>) -> HpkeCiphertext {
        HpkeCiphertext {
            kem_output: kem_output.into(),
            ciphertext: ciphertext.into(),
        }
    }

    /// Reads one ciphertext as an element of `field`, refusing one whose encoding
    /// exceeds [`MAX_HPKE_CIPHERTEXT_LEN`].
    pub(crate) fn read(
        r: &mut Reader<'_>,
        field: &'static str,
    ) -> Result<HpkeCiphertext, WireError> {
        let kem_output = r.opaque(field, 0, MAX_HPKE_CIPHERTEXT_LEN)?;
        let ciphertext = r.opaque(field, 0, MAX_HPKE_CIPHERTEXT_LEN)?;
        let c = HpkeCiphertext {
            kem_output,
            ciphertext,
        };
        check_field_len(field, c.tls_serialized_len(), 0, MAX_HPKE_CIPHERTEXT_LEN)?;
        Ok(c)
    }

    /// Decodes exactly one ciphertext of at most [`MAX_HPKE_CIPHERTEXT_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<HpkeCiphertext, WireError> {
        decode_exact(bytes, MAX_HPKE_CIPHERTEXT_LEN, Self::NAME)
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        use tls_codec::Serialize;
        self.tls_serialize_detached()
            .map_err(|e| WireError::encoding(Self::NAME, e))
    }
}

/// Largest encoded [`QueueEncryptionKey`] we accept.
pub const MAX_QUEUE_KEY_LEN: usize = 4096;

/// ```text
/// struct {
///     uint16 kem_id;      // RFC 9180 §7.1, e.g. 0x0020 DHKEM(X25519, HKDF-SHA256)
///     uint16 kdf_id;      // RFC 9180 §7.2, e.g. 0x0001 HKDF-SHA256
///     uint16 aead_id;     // RFC 9180 §7.3, e.g. 0x0001 AES-128-GCM
///     opaque public_key<V>;
/// } QueueEncryptionKey;
/// ```
///
/// A provider's public HPKE key for queue IDs, published to its clients and in
/// its domain keys (key-material discovery).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct QueueEncryptionKey {
    pub kem_id: u16,
    pub kdf_id: u16,
    pub aead_id: u16,
    pub public_key: VLBytes,
}

impl QueueEncryptionKey {
    const NAME: &'static str = "QueueEncryptionKey";

    /// Reads one key as the field `field`, refusing one whose encoding exceeds
    /// [`MAX_QUEUE_KEY_LEN`] or whose public key is empty.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        field: &'static str,
    ) -> Result<QueueEncryptionKey, WireError> {
        let key = QueueEncryptionKey {
            kem_id: r.u16()?,
            kdf_id: r.u16()?,
            aead_id: r.u16()?,
            public_key: r.opaque(field, 1, MAX_QUEUE_KEY_LEN)?,
        };
        check_field_len(field, key.tls_serialized_len(), 1, MAX_QUEUE_KEY_LEN)?;
        Ok(key)
    }

    /// Decodes exactly one key of at most [`MAX_QUEUE_KEY_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<QueueEncryptionKey, WireError> {
        decode_exact(bytes, MAX_QUEUE_KEY_LEN, Self::NAME)
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        use tls_codec::Serialize;
        self.tls_serialize_detached()
            .map_err(|e| WireError::encoding(Self::NAME, e))
    }
}

/// Largest encoded [`QueueReference`]: a 253-byte domain with its 2-byte length,
/// and the largest [`HpkeCiphertext`].
pub const MAX_QUEUE_REFERENCE_LEN: usize = 2 + MAX_DOMAIN_LEN + MAX_HPKE_CIPHERTEXT_LEN;

/// ```text
/// struct {
///     opaque provider_domain<V>;          // canonical, as S2SMessage domains
///     HPKECiphertext encrypted_queue_id;
/// } QueueReference;
/// ```
///
/// Where a client's messages go: its provider's domain in the clear, and its queue
/// ID sealed to that provider's [`QueueEncryptionKey`]
/// (draft-kohbrok-mimi-metadata-minimalization §8). A hub reads the domain to pick
/// the provider it sends `/deliver_message` to, and passes the ciphertext on
/// unopened. The domain is needed because a pseudonymous credential does not name
/// the user's domain. The same domain is bound into the HPKE `info` of the seal
/// (`mimi_mls::queue_id_hpke_info`), so a reference re-pointed at another provider
/// does not open there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueReference {
    provider_domain: Domain,
    encrypted_queue_id: HpkeCiphertext,
}

impl QueueReference {
    const NAME: &'static str = "QueueReference";
    const PROVIDER_DOMAIN: &'static str = "QueueReference.provider_domain";
    const ENCRYPTED_QUEUE_ID: &'static str = "QueueReference.encrypted_queue_id";

    /// A reference to the queue behind `encrypted_queue_id` at `provider_domain`.
    /// The ciphertext's bound ([`MAX_HPKE_CIPHERTEXT_LEN`]) is checked by
    /// [`encode`](Self::encode).
    pub fn new(provider_domain: Domain, encrypted_queue_id: HpkeCiphertext) -> QueueReference {
        QueueReference {
            provider_domain,
            encrypted_queue_id,
        }
    }

    /// The provider that holds the queue: where a hub sends `/deliver_message`.
    pub fn provider_domain(&self) -> &Domain {
        &self.provider_domain
    }

    /// The queue ID sealed to that provider, for `DeliverMessageRequest.recipients`.
    pub fn encrypted_queue_id(&self) -> &HpkeCiphertext {
        &self.encrypted_queue_id
    }

    pub fn into_parts(self) -> (Domain, HpkeCiphertext) {
        (self.provider_domain, self.encrypted_queue_id)
    }

    /// Decodes exactly one reference of at most [`MAX_QUEUE_REFERENCE_LEN`] bytes,
    /// refusing a domain that is empty, invalid or not in canonical form. Never
    /// panics.
    pub fn decode(bytes: &[u8]) -> Result<QueueReference, WireError> {
        decode_with(bytes, MAX_QUEUE_REFERENCE_LEN, Self::NAME, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<QueueReference, WireError> {
        let domain = r.vector(Self::PROVIDER_DOMAIN, MAX_DOMAIN_LEN)?;
        if domain.is_empty() {
            return Err(WireError::EmptyField {
                field: Self::PROVIDER_DOMAIN,
            });
        }
        let provider_domain = canonical_domain(Self::PROVIDER_DOMAIN, domain)?;
        let encrypted_queue_id = HpkeCiphertext::read(r, Self::ENCRYPTED_QUEUE_ID)?;
        Ok(QueueReference {
            provider_domain,
            encrypted_queue_id,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a reference that
    /// [`decode`](Self::decode) would refuse (a ciphertext over its bound).
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let domain = VLByteSlice(self.provider_domain.as_str().as_bytes());
        let mut out = Vec::with_capacity(
            domain.tls_serialized_len() + self.encrypted_queue_id.tls_serialized_len(),
        );
        domain
            .tls_serialize(&mut out)
            .and_then(|_| self.encrypted_queue_id.tls_serialize(&mut out))
            .map_err(|e| WireError::encoding(Self::NAME, e))?;
        Self::decode(&out).map_err(|reason| WireError::Unencodable {
            what: Self::NAME,
            reason: Box::new(reason),
        })?;
        Ok(out)
    }
}
