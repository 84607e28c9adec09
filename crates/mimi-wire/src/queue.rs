//! Encrypted queue IDs (draft-kohbrok-mimi-metadata-minimalization §8): the wire
//! forms only. The HPKE operations live in `mimi-mls`, on the same crypto provider
//! as MLS itself.
//!
//! A client's queue ID travels to hubs only encrypted to its provider's
//! [`QueueEncryptionKey`], freshly for every KeyPackage, so that neither the hub nor
//! two rooms can link a client by it; the hub hands the ciphertext back to the
//! client's provider on fan-out (`/deliver_message`), which decrypts it and routes.

use tls_codec::{Size, TlsDeserialize, TlsSerialize, TlsSize, VLBytes};

use crate::error::WireError;
use crate::framing::decode_exact;
use crate::reader::{Reader, check_field_len};

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
