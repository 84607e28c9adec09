//! Server signing keys, the verification-key record peers fetch, and the signature
//! over an `S2SMessage` (RFC 9420 §5.1.2 `SignWithLabel` as the model).
//!
//! Ed25519 only for now, through aws-lc-rs (the crypto provider of our TLS stack).
//! The scheme travels in the key record, not in the message, so a second scheme can
//! be added later without changing `S2SMessage`.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use mimi_identifiers::Domain;
use tls_codec::{Serialize, Size, TlsDeserialize, TlsSerialize, TlsSize, VLByteSlice, VLBytes};

use crate::error::WireError;
use crate::event_kind::EventKind;
use crate::framing::{Event, ProtocolVersion, S2SMessage, decode_exact, to_be_signed};
use crate::labels;

/// Length of an Ed25519 public key (RFC 8032).
const ED25519_PUBLIC_KEY_LEN: usize = 32;

/// `uint16 SignatureScheme;` with the TLS 1.3 / MLS code points.
///
/// A plain number rather than an enum: a key record with a scheme we do not know
/// must still decode, so that it is refused as
/// [`WireError::UnsupportedSignatureScheme`] (incompatible) rather than as garbage.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, TlsSerialize, TlsDeserialize, TlsSize,
)]
pub struct SignatureScheme(u16);

impl SignatureScheme {
    /// `ed25519(0x0807)` (RFC 8446 §4.2.3), the only scheme we sign and verify with.
    pub const ED25519: SignatureScheme = SignatureScheme(0x0807);

    pub fn new(value: u16) -> SignatureScheme {
        SignatureScheme(value)
    }

    pub fn value(self) -> u16 {
        self.0
    }
}

/// A provider's public server signing key with its validity, as served at
/// `/signature_key`:
///
/// ```text
/// struct {
///     SignatureScheme scheme;
///     opaque public_key<V>;
///     uint64 not_before;   // Unix seconds, inclusive
///     uint64 not_after;    // Unix seconds, inclusive
/// } ServerVerificationKey;
/// ```
///
/// Nothing here is checked at decoding; [`S2SMessage::verify`] checks the scheme,
/// the key's length and the validity window before it uses the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsDeserialize, TlsSize)]
pub struct ServerVerificationKey {
    scheme: SignatureScheme,
    public_key: VLBytes,
    not_before: u64,
    not_after: u64,
}

impl ServerVerificationKey {
    const NAME: &'static str = "ServerVerificationKey";

    /// A key record; for Ed25519, `public_key` is the raw 32-byte key.
    pub fn new(
        scheme: SignatureScheme,
        public_key: Vec<u8>,
        not_before: u64,
        not_after: u64,
    ) -> ServerVerificationKey {
        ServerVerificationKey {
            scheme,
            public_key: VLBytes::new(public_key),
            not_before,
            not_after,
        }
    }

    /// Decodes exactly one record from at most `max_len` bytes. Never panics.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<ServerVerificationKey, WireError> {
        decode_exact(bytes, max_len, Self::NAME)
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        self.tls_serialize_detached()
            .map_err(|e| WireError::encoding(Self::NAME, e))
    }

    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    pub fn public_key(&self) -> &[u8] {
        self.public_key.as_slice()
    }

    /// Start of validity, Unix seconds (inclusive).
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// End of validity, Unix seconds (inclusive).
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// Whether the key may be used at `now_unix_secs` (both bounds inclusive, as
    /// RFC 9420 `Lifetime` and X.509 validity are).
    pub fn check_valid_at(&self, now_unix_secs: u64) -> Result<(), WireError> {
        if now_unix_secs < self.not_before {
            return Err(WireError::KeyNotYetValid {
                not_before: self.not_before,
                now: now_unix_secs,
            });
        }
        if now_unix_secs > self.not_after {
            return Err(WireError::KeyExpired {
                not_after: self.not_after,
                now: now_unix_secs,
            });
        }
        Ok(())
    }

    /// The key as aws-lc wants it, after checking scheme and length.
    fn usable_key(&self) -> Result<UnparsedPublicKey<&[u8]>, WireError> {
        if self.scheme != SignatureScheme::ED25519 {
            return Err(WireError::UnsupportedSignatureScheme {
                scheme: self.scheme.value(),
            });
        }
        if self.public_key().len() != ED25519_PUBLIC_KEY_LEN {
            return Err(WireError::InvalidPublicKey {
                len: self.public_key().len(),
                expected: ED25519_PUBLIC_KEY_LEN,
            });
        }
        Ok(UnparsedPublicKey::new(&ED25519, self.public_key()))
    }
}

/// A provider's private server signing key (Ed25519).
///
/// Its `Debug` shows only the public key: the secret never reaches a log.
pub struct SigningKey {
    key_pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Reads an unencrypted PKCS#8 (v1 or v2) Ed25519 private key in DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, WireError> {
        let key_pair =
            Ed25519KeyPair::from_pkcs8(der).map_err(|e| WireError::InvalidSigningKey {
                detail: e.to_string(),
            })?;
        Ok(SigningKey { key_pair })
    }

    /// A new random Ed25519 key as PKCS#8 v2 DER, to be stored (0600) and read with
    /// [`SigningKey::from_pkcs8`].
    pub fn generate_pkcs8() -> Result<Vec<u8>, WireError> {
        let doc =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| WireError::Random)?;
        Ok(doc.as_ref().to_vec())
    }

    pub fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }

    /// The record to publish at `/signature_key` for this key, valid from
    /// `not_before` to `not_after` (Unix seconds, inclusive).
    pub fn verification_key(&self, not_before: u64, not_after: u64) -> ServerVerificationKey {
        ServerVerificationKey::new(
            self.scheme(),
            self.public_key().to_vec(),
            not_before,
            not_after,
        )
    }

    /// `SignWithLabel(label, content)`: a signature over `SignContent`.
    fn sign_with_label(&self, label: &str, content: &[u8]) -> Result<Vec<u8>, WireError> {
        let input = sign_content(label, content)?;
        let sig = self
            .key_pair
            .try_sign(&input)
            .map_err(|_| WireError::Signing)?;
        Ok(sig.as_ref().to_vec())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("scheme", &self.scheme())
            .field("public_key", &HexBytes(self.public_key()))
            .finish_non_exhaustive()
    }
}

struct HexBytes<'a>(&'a [u8]);

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// `struct { opaque label<V>; opaque content<V>; } SignContent;`, serialized: the
/// exact input of the signature algorithm.
pub(crate) fn sign_content(label: &str, content: &[u8]) -> Result<Vec<u8>, WireError> {
    let label = VLByteSlice(label.as_bytes());
    let content = VLByteSlice(content);
    let mut out = Vec::with_capacity(label.tls_serialized_len() + content.tls_serialized_len());
    let enc = |e| WireError::encoding("SignContent", e);
    label.tls_serialize(&mut out).map_err(enc)?;
    content.tls_serialize(&mut out).map_err(enc)?;
    Ok(out)
}

/// Proof that an [`S2SMessage`] carried a valid signature of its sender under a key
/// that was valid at the time of checking, with its domains validated.
///
/// Only [`S2SMessage::verify`] makes one (its fields are private and it has no
/// constructor), so holding one is the proof: code that takes a
/// `VerifiedS2SMessage` cannot be handed an unchecked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedS2SMessage {
    version: ProtocolVersion,
    sender: Domain,
    recipient: Domain,
    event: Event,
}

impl VerifiedS2SMessage {
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The authenticated sender.
    pub fn sender(&self) -> &Domain {
        &self.sender
    }

    pub fn recipient(&self) -> &Domain {
        &self.recipient
    }

    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event's kind, or [`WireError::UnknownEventType`].
    pub fn event_kind(&self) -> Result<EventKind, WireError> {
        self.event.event_type().kind()
    }

    pub fn into_event(self) -> Event {
        self.event
    }
}

impl S2SMessage {
    /// A message from `sender` to `recipient`, signed with `key` under
    /// [`labels::S2S_MESSAGE`].
    ///
    /// Fails only if the event is too large to encode (a vector over 2^30 - 1 bytes)
    /// or aws-lc fails to sign.
    pub fn sign(
        version: ProtocolVersion,
        sender: &Domain,
        recipient: &Domain,
        event: Event,
        key: &SigningKey,
    ) -> Result<S2SMessage, WireError> {
        let sender_domain = VLBytes::new(sender.as_str().as_bytes().to_vec());
        let recipient_domain = VLBytes::new(recipient.as_str().as_bytes().to_vec());
        let tbs = to_be_signed(version, &sender_domain, &recipient_domain, &event)?;
        let signature = key.sign_with_label(labels::S2S_MESSAGE, &tbs)?;
        Ok(S2SMessage {
            version,
            sender_domain,
            recipient_domain,
            event,
            signature: VLBytes::new(signature),
        })
    }

    /// Checks the signature under `key`, the key's scheme, length and validity at
    /// `now_unix_secs`, and that both domains are valid and canonical.
    ///
    /// It does not check the version, that the recipient is us, or freshness:
    /// [`check_incoming`](crate::check_incoming) does all of that in order.
    pub fn verify(
        &self,
        key: &ServerVerificationKey,
        now_unix_secs: u64,
    ) -> Result<VerifiedS2SMessage, WireError> {
        let public_key = key.usable_key()?;
        key.check_valid_at(now_unix_secs)?;
        let sender = self.sender_domain()?;
        let recipient = self.recipient_domain()?;
        let input = sign_content(labels::S2S_MESSAGE, &self.to_be_signed()?)?;
        public_key
            .verify(&input, self.signature())
            .map_err(|_| WireError::BadSignature {
                sender: sender.clone(),
            })?;
        Ok(VerifiedS2SMessage {
            version: self.version,
            sender,
            recipient,
            event: self.event.clone(),
        })
    }
}
