//! The enrollment operations of the client API (docs/wire-spec.md §13.5,
//! docs/enrollment.md "The provider side"): a device asks its provider to
//! pre-authorize it at the domain's CA (draft-barnes-mimi-identity-arch §3,
//! role separation; RFC 8555 §7.3.4 external account binding) and gets the
//! binding with which it then orders its certificate over ACME itself.

use mimi_identifiers::DeviceId;
use tls_codec::{TlsSerialize, TlsSize, VLBytes};

use crate::error::WireError;
use crate::ids::{self, MAX_ID_LEN};
use crate::reader::{Reader, decode_with, encode_checked};

/// Longest invite code: operators' codes are short random strings.
pub const MAX_INVITE_CODE_LEN: usize = 128;

/// Largest signature public key (a DER SubjectPublicKeyInfo: 44 bytes for
/// Ed25519, 91 for P-256), as the provider stores it.
pub const MAX_ENROLL_KEY_LEN: usize = 1024;

/// Longest ACME directory URL.
pub const MAX_DIRECTORY_URL_LEN: usize = 2048;

/// Longest external account binding key identifier.
pub const MAX_EAB_KID_LEN: usize = 256;

/// Largest external account binding MAC key (domain CAs issue 32 bytes).
pub const MAX_EAB_KEY_LEN: usize = 256;

/// Most identifiers one binding pre-authorizes (as `mimiNewEab` allows).
pub const MAX_PREAUTHORIZED: usize = 8;

/// Longest ACME identifier type (`mimi-device`, `TNAuthList`).
pub const MAX_IDENTIFIER_TYPE_LEN: usize = 32;

/// Longest ACME identifier value: a `mimi://` URI or a base64url TNAuthList.
pub const MAX_IDENTIFIER_VALUE_LEN: usize = 2048;

const MAX_IDENTIFIERS_LEN: usize =
    MAX_PREAUTHORIZED * (2 + MAX_IDENTIFIER_TYPE_LEN + 2 + MAX_IDENTIFIER_VALUE_LEN);

/// `bytes` as visible ASCII (no spaces or controls), or `Malformed`.
fn visible_ascii(field: &'static str, bytes: &[u8]) -> Result<(), WireError> {
    if bytes.iter().all(u8::is_ascii_graphic) {
        return Ok(());
    }
    Err(WireError::Malformed {
        what: field,
        detail: "must be visible ASCII characters only".into(),
    })
}

fn utf8<'a>(field: &'static str, bytes: &'a [u8]) -> Result<&'a str, WireError> {
    std::str::from_utf8(bytes).map_err(|_| WireError::Malformed {
        what: field,
        detail: "is not UTF-8".into(),
    })
}

/// ```text
/// struct {
///     opaque invite_code<V>;     // 0 to 128 visible ASCII bytes; empty: none
///     opaque signature_key<V>;   // DER SubjectPublicKeyInfo, 1 to 1024 bytes
/// } EnrollUserRequest;
/// ```
///
/// Enrolls the signing device (`client_id`, which names its user) as the
/// **first** device of its user. `signature_key` is the device's MLS
/// signature key, which has no certificate yet: the request's signature
/// under it is the proof of possession. The provider's registration policy
/// decides whether `invite_code` is needed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct EnrollUserRequest {
    invite_code: VLBytes,
    signature_key: VLBytes,
}

impl EnrollUserRequest {
    const NAME: &'static str = "EnrollUserRequest";
    const INVITE_CODE: &'static str = "EnrollUserRequest.invite_code";
    const KEY: &'static str = "EnrollUserRequest.signature_key";

    /// Longest encoding.
    pub const MAX_LEN: usize = 2 + MAX_INVITE_CODE_LEN + 2 + MAX_ENROLL_KEY_LEN;

    /// A request with `invite_code` (empty for none) and the device's key
    /// (bounds checked by [`encode`](Self::encode)).
    pub fn new(invite_code: &str, signature_key: Vec<u8>) -> EnrollUserRequest {
        EnrollUserRequest {
            invite_code: invite_code.as_bytes().to_vec().into(),
            signature_key: signature_key.into(),
        }
    }

    /// Decodes exactly one request. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<EnrollUserRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<EnrollUserRequest, WireError> {
        let invite_code = r.opaque(Self::INVITE_CODE, 0, MAX_INVITE_CODE_LEN)?;
        visible_ascii(Self::INVITE_CODE, invite_code.as_slice())?;
        let signature_key = r.opaque(Self::KEY, 1, MAX_ENROLL_KEY_LEN)?;
        Ok(EnrollUserRequest {
            invite_code,
            signature_key,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The invite code, empty for none (visible ASCII: decoding checked it).
    pub fn invite_code(&self) -> &str {
        std::str::from_utf8(self.invite_code.as_slice()).unwrap_or_default()
    }

    /// The device's signature key, a DER SubjectPublicKeyInfo, unparsed.
    pub fn signature_key(&self) -> &[u8] {
        self.signature_key.as_slice()
    }
}

/// ```text
/// struct {
///     opaque device<V>;          // the new device's canonical device URI
///     opaque signature_key<V>;   // its DER SubjectPublicKeyInfo
/// } EnrollDeviceRequest;
/// ```
///
/// Enrolls another device of the signing device's user: signed by a
/// registered device of that user (`client_id`), naming the new device and
/// the MLS signature key it will be certified for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct EnrollDeviceRequest {
    device: VLBytes,
    signature_key: VLBytes,
}

impl EnrollDeviceRequest {
    const NAME: &'static str = "EnrollDeviceRequest";
    const DEVICE: &'static str = "EnrollDeviceRequest.device";
    const KEY: &'static str = "EnrollDeviceRequest.signature_key";

    /// Longest encoding.
    pub const MAX_LEN: usize = 2 + MAX_ID_LEN + 2 + MAX_ENROLL_KEY_LEN;

    /// A request for `device` with its key; the device must name its user
    /// and domain.
    pub fn new(
        device: &DeviceId,
        signature_key: Vec<u8>,
    ) -> Result<EnrollDeviceRequest, WireError> {
        Ok(EnrollDeviceRequest {
            device: ids::device_uri(Self::DEVICE, device)?.into_bytes().into(),
            signature_key: signature_key.into(),
        })
    }

    /// Decodes exactly one request; `device` must be a canonical device URI
    /// naming its user ([`WireError::InvalidIdentifier`]). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<EnrollDeviceRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<EnrollDeviceRequest, WireError> {
        let device = r.opaque(Self::DEVICE, 1, MAX_ID_LEN)?;
        ids::device(Self::DEVICE, device.as_slice())?;
        let signature_key = r.opaque(Self::KEY, 1, MAX_ENROLL_KEY_LEN)?;
        Ok(EnrollDeviceRequest {
            device,
            signature_key,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The new device.
    pub fn device(&self) -> Result<DeviceId, WireError> {
        ids::device(Self::DEVICE, self.device.as_slice())
    }

    /// The new device's signature key, a DER SubjectPublicKeyInfo, unparsed.
    pub fn signature_key(&self) -> &[u8] {
        self.signature_key.as_slice()
    }
}

/// ```text
/// struct {
///     opaque type<V>;    // an ACME identifier type: "mimi-user", "mimi-device", ...
///     opaque value<V>;   // its value, e.g. "mimi://a.example/u/alice"
/// } PreauthorizedIdentifier;
/// ```
///
/// An ACME identifier (RFC 8555 §7.1.4) the binding pre-authorizes, as the
/// domain CA answered it (canonical form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct PreauthorizedIdentifier {
    type_: VLBytes,
    value: VLBytes,
}

impl PreauthorizedIdentifier {
    const TYPE: &'static str = "EnrollmentResponse.identifiers[i].type";
    const VALUE: &'static str = "EnrollmentResponse.identifiers[i].value";

    pub fn new(type_: &str, value: &str) -> PreauthorizedIdentifier {
        PreauthorizedIdentifier {
            type_: type_.as_bytes().to_vec().into(),
            value: value.as_bytes().to_vec().into(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<PreauthorizedIdentifier, WireError> {
        let type_ = r.opaque(Self::TYPE, 1, MAX_IDENTIFIER_TYPE_LEN)?;
        visible_ascii(Self::TYPE, type_.as_slice())?;
        let value = r.opaque(Self::VALUE, 1, MAX_IDENTIFIER_VALUE_LEN)?;
        utf8(Self::VALUE, value.as_slice())?;
        Ok(PreauthorizedIdentifier { type_, value })
    }

    /// The ACME identifier type (visible ASCII: decoding checked it).
    pub fn type_(&self) -> &str {
        std::str::from_utf8(self.type_.as_slice()).unwrap_or_default()
    }

    /// The value (UTF-8: decoding checked it).
    pub fn value(&self) -> &str {
        std::str::from_utf8(self.value.as_slice()).unwrap_or_default()
    }
}

/// ```text
/// struct {
///     opaque directory_url<V>;                     // https URL of the domain CA's ACME directory
///     opaque eab_kid<V>;                           // the binding's key identifier
///     opaque eab_hmac_key<V>;                      // its MAC key (raw bytes, HS256)
///     PreauthorizedIdentifier identifiers<V>;      // 1 to 8
///     uint64 expires_at_ms;                        // unused after this, it binds nothing
/// } EnrollmentResponse;
/// ```
///
/// The answer to `enroll_user` and `enroll_device`: an external account
/// binding (RFC 8555 §7.3.4) the domain CA issued through `mimiNewEab`
/// (docs/enrollment.md). The device creates its own ACME account at
/// `directory_url` with it, orders a certificate for the identifiers (they
/// are pre-authorized, no challenge), finalizes with a CSR under the key it
/// enrolled, and registers with the chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct EnrollmentResponse {
    directory_url: VLBytes,
    eab_kid: VLBytes,
    eab_hmac_key: VLBytes,
    identifiers: Vec<PreauthorizedIdentifier>,
    expires_at_ms: u64,
}

impl EnrollmentResponse {
    const NAME: &'static str = "EnrollmentResponse";
    const URL: &'static str = "EnrollmentResponse.directory_url";
    const KID: &'static str = "EnrollmentResponse.eab_kid";
    const KEY: &'static str = "EnrollmentResponse.eab_hmac_key";
    const IDENTIFIERS: &'static str = "EnrollmentResponse.identifiers";

    /// Longest encoding.
    pub const MAX_LEN: usize = 2
        + MAX_DIRECTORY_URL_LEN
        + 2
        + MAX_EAB_KID_LEN
        + 2
        + MAX_EAB_KEY_LEN
        + 4
        + MAX_IDENTIFIERS_LEN
        + 8;

    /// A response (bounds checked by [`encode`](Self::encode)).
    pub fn new(
        directory_url: &str,
        eab_kid: &str,
        eab_hmac_key: &[u8],
        identifiers: Vec<PreauthorizedIdentifier>,
        expires_at_ms: u64,
    ) -> EnrollmentResponse {
        EnrollmentResponse {
            directory_url: directory_url.as_bytes().to_vec().into(),
            eab_kid: eab_kid.as_bytes().to_vec().into(),
            eab_hmac_key: eab_hmac_key.to_vec().into(),
            identifiers,
            expires_at_ms,
        }
    }

    /// Decodes exactly one response: `directory_url` an `https://` URL,
    /// `eab_kid` visible ASCII, 1 to [`MAX_PREAUTHORIZED`] identifiers.
    /// Never panics.
    pub fn decode(bytes: &[u8]) -> Result<EnrollmentResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let directory_url = r.opaque(Self::URL, 1, MAX_DIRECTORY_URL_LEN)?;
            let url = utf8(Self::URL, directory_url.as_slice())?;
            if !url.starts_with("https://") || url.chars().any(char::is_whitespace) {
                return Err(WireError::Malformed {
                    what: Self::URL,
                    detail: "must be an https:// URL".into(),
                });
            }
            let eab_kid = r.opaque(Self::KID, 1, MAX_EAB_KID_LEN)?;
            visible_ascii(Self::KID, eab_kid.as_slice())?;
            let eab_hmac_key = r.opaque(Self::KEY, 1, MAX_EAB_KEY_LEN)?;
            let identifiers = r.list(
                Self::IDENTIFIERS,
                MAX_PREAUTHORIZED,
                MAX_IDENTIFIERS_LEN,
                PreauthorizedIdentifier::read,
            )?;
            if identifiers.is_empty() {
                return Err(WireError::EmptyField {
                    field: Self::IDENTIFIERS,
                });
            }
            Ok(EnrollmentResponse {
                directory_url,
                eab_kid,
                eab_hmac_key,
                identifiers,
                expires_at_ms: r.u64()?,
            })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The domain CA's ACME directory (an https URL: decoding checked it).
    pub fn directory_url(&self) -> &str {
        std::str::from_utf8(self.directory_url.as_slice()).unwrap_or_default()
    }

    /// The binding's key identifier (visible ASCII: decoding checked it).
    pub fn eab_kid(&self) -> &str {
        std::str::from_utf8(self.eab_kid.as_slice()).unwrap_or_default()
    }

    /// The binding's MAC key: secret, for the device's newAccount only.
    pub fn eab_hmac_key(&self) -> &[u8] {
        self.eab_hmac_key.as_slice()
    }

    pub fn identifiers(&self) -> &[PreauthorizedIdentifier] {
        &self.identifiers
    }

    /// Unix milliseconds after which the binding, unused, binds nothing.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
}

#[cfg(test)]
mod tests {
    use mimi_identifiers::{Domain, UserId};

    use super::*;

    fn phone() -> DeviceId {
        let alice = UserId::new("alice", Some(Domain::parse("a.example").unwrap())).unwrap();
        DeviceId::new(&alice, "phone").unwrap()
    }

    #[test]
    fn requests_round_trip_at_their_bounds() {
        let longest = EnrollUserRequest::new(&"c".repeat(MAX_INVITE_CODE_LEN), vec![7; 1024]);
        let bytes = longest.encode().unwrap();
        assert_eq!(bytes.len(), EnrollUserRequest::MAX_LEN);
        assert_eq!(EnrollUserRequest::decode(&bytes).unwrap(), longest);
        let none = EnrollUserRequest::new("", vec![7; 44]);
        assert_eq!(none.invite_code(), "");
        assert_eq!(
            EnrollUserRequest::decode(&none.encode().unwrap()).unwrap(),
            none
        );
        let device = EnrollDeviceRequest::new(&phone(), vec![7; 44]).unwrap();
        let decoded = EnrollDeviceRequest::decode(&device.encode().unwrap()).unwrap();
        assert_eq!(decoded.device().unwrap(), phone());
        assert_eq!(decoded.signature_key(), [7; 44]);
    }

    #[test]
    fn bad_requests_are_refused_with_their_field() {
        let refused = |r: Result<Vec<u8>, WireError>| match r {
            Err(WireError::Unencodable { reason, .. }) => *reason,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let e = refused(EnrollUserRequest::new("two words", vec![7; 44]).encode());
        assert!(
            matches!(
                e,
                WireError::Malformed {
                    what: "EnrollUserRequest.invite_code",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = refused(EnrollUserRequest::new("code", Vec::new()).encode());
        assert!(
            matches!(
                e,
                WireError::EmptyField {
                    field: "EnrollUserRequest.signature_key"
                }
            ),
            "{e:?}"
        );
        let e = refused(EnrollUserRequest::new(&"c".repeat(129), vec![7; 44]).encode());
        assert!(matches!(e, WireError::FieldTooLong { .. }), "{e:?}");
        // A device URI without its user.
        let bytes = [&[25u8][..], b"mimi://a.example/d/phone1", &[1, 7]].concat();
        let e = EnrollDeviceRequest::decode(&bytes).unwrap_err();
        assert!(
            matches!(
                e,
                WireError::InvalidIdentifier {
                    field: "EnrollDeviceRequest.device",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn responses_round_trip_and_bad_ones_are_refused() {
        let ids = |n: usize| {
            (0..n)
                .map(|i| {
                    PreauthorizedIdentifier::new(
                        "mimi-device",
                        &format!("mimi://a.example/d/alice/{i}"),
                    )
                })
                .collect::<Vec<_>>()
        };
        let good = EnrollmentResponse::new(
            "https://ca.a.example/acme/directory",
            "kid",
            &[1; 32],
            ids(2),
            9,
        );
        let decoded = EnrollmentResponse::decode(&good.encode().unwrap()).unwrap();
        assert_eq!(decoded, good);
        assert_eq!(
            decoded.identifiers()[1].value(),
            "mimi://a.example/d/alice/1"
        );
        assert_eq!(decoded.expires_at_ms(), 9);
        for (bad, field) in [
            (
                EnrollmentResponse::new(
                    "http://ca.a.example/acme/directory",
                    "kid",
                    &[1; 32],
                    ids(1),
                    9,
                ),
                "EnrollmentResponse.directory_url",
            ),
            (
                EnrollmentResponse::new("https://ca.a.example/d", "k i d", &[1; 32], ids(1), 9),
                "EnrollmentResponse.eab_kid",
            ),
        ] {
            match bad.encode() {
                Err(WireError::Unencodable { reason, .. }) => {
                    assert!(
                        matches!(*reason, WireError::Malformed { what, .. } if what == field),
                        "{reason:?}"
                    );
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let none = EnrollmentResponse::new("https://ca.a.example/d", "kid", &[1; 32], ids(0), 9);
        assert!(none.encode().is_err());
        let many = EnrollmentResponse::new("https://ca.a.example/d", "kid", &[1; 32], ids(9), 9);
        match many.encode() {
            Err(WireError::Unencodable { reason, .. }) => {
                assert!(
                    matches!(*reason, WireError::TooMany { max: 8, .. }),
                    "{reason:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
