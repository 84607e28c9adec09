//! `retire_queue_reference` (docs/wire-spec.md §13.5, §11.5): a device tells
//! its provider to refuse deliveries addressed with one of its queue
//! references (draft-kohbrok-mimi-metadata-minimalization §8), e.g. the
//! reference of a room it left, or one that leaked, without retiring its
//! queue and so its other references.

use tls_codec::{TlsSerialize, TlsSize};

use crate::error::WireError;
use crate::queue::{HpkeCiphertext, MAX_HPKE_CIPHERTEXT_LEN};
use crate::reader::{Reader, decode_with, encode_checked};

/// ```text
/// struct {
///     HPKECiphertext encrypted_queue_id;   // as in the QueueReference
/// } RetireQueueReferenceRequest;
/// ```
///
/// The `encrypted_queue_id` of one of the device's own `QueueReference`s,
/// byte for byte as its leaf node (and so every hub) carries it: the
/// provider refuses from then on every delivery naming exactly this
/// ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct RetireQueueReferenceRequest {
    encrypted_queue_id: HpkeCiphertext,
}

impl RetireQueueReferenceRequest {
    const NAME: &'static str = "RetireQueueReferenceRequest";
    const FIELD: &'static str = "RetireQueueReferenceRequest.encrypted_queue_id";

    /// Longest encoding: one [`HpkeCiphertext`] of at most
    /// [`MAX_HPKE_CIPHERTEXT_LEN`] bytes.
    pub const MAX_LEN: usize = MAX_HPKE_CIPHERTEXT_LEN;

    /// A request retiring the reference whose ciphertext is
    /// `encrypted_queue_id` (bounds checked by [`encode`](Self::encode)).
    pub fn new(encrypted_queue_id: HpkeCiphertext) -> RetireQueueReferenceRequest {
        RetireQueueReferenceRequest { encrypted_queue_id }
    }

    /// Decodes exactly one request. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<RetireQueueReferenceRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<RetireQueueReferenceRequest, WireError> {
        Ok(RetireQueueReferenceRequest {
            encrypted_queue_id: HpkeCiphertext::read(r, Self::FIELD)?,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The ciphertext to retire, as sent.
    pub fn encrypted_queue_id(&self) -> &HpkeCiphertext {
        &self.encrypted_queue_id
    }
}

/// `struct { uint8 newly_retired; } RetireQueueReferenceResponse;`:
/// `newly_retired` is 1 if this request retired the reference, 0 if it was
/// retired already (retiring is idempotent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct RetireQueueReferenceResponse {
    newly_retired: u8,
}

impl RetireQueueReferenceResponse {
    const NAME: &'static str = "RetireQueueReferenceResponse";

    /// The encoding's length.
    pub const LEN: usize = 1;

    pub fn new(newly_retired: bool) -> RetireQueueReferenceResponse {
        RetireQueueReferenceResponse {
            newly_retired: newly_retired.into(),
        }
    }

    /// Decodes exactly one response; `newly_retired` must be 0 or 1
    /// ([`WireError::OutOfRange`]). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<RetireQueueReferenceResponse, WireError> {
        decode_with(bytes, Self::LEN, Self::NAME, |r| {
            let newly_retired = r.u8()?;
            if newly_retired > 1 {
                return Err(WireError::OutOfRange {
                    field: "RetireQueueReferenceResponse.newly_retired",
                    value: newly_retired.into(),
                    min: 0,
                    max: 1,
                });
            }
            Ok(RetireQueueReferenceResponse { newly_retired })
        })
    }

    /// The TLS serialization.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// Whether this request retired the reference (false: it was already).
    pub fn newly_retired(&self) -> bool {
        self.newly_retired == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_at_their_bound_and_not_beyond() {
        // kem_output<V>: 1 + 32 bytes; ciphertext<V>: 2 length bytes and the rest.
        let longest = RetireQueueReferenceRequest::new(HpkeCiphertext::new(
            vec![1; 32],
            vec![2; MAX_HPKE_CIPHERTEXT_LEN - 32 - 3],
        ));
        let bytes = longest.encode().unwrap();
        assert_eq!(bytes.len(), RetireQueueReferenceRequest::MAX_LEN);
        assert_eq!(
            RetireQueueReferenceRequest::decode(&bytes).unwrap(),
            longest
        );
        let too_long = RetireQueueReferenceRequest::new(HpkeCiphertext::new(
            vec![1; 32],
            vec![2; MAX_HPKE_CIPHERTEXT_LEN - 32 - 2],
        ));
        match too_long.encode() {
            Err(WireError::Unencodable { reason, .. }) => {
                assert!(matches!(*reason, WireError::TooLong { .. }), "{reason:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_request_is_exactly_one_ciphertext() {
        // kem_output = 01 02, ciphertext = 03 04 05 (wire-spec §13.8).
        let bytes = [0x02, 0x01, 0x02, 0x03, 0x03, 0x04, 0x05];
        let request = RetireQueueReferenceRequest::decode(&bytes).unwrap();
        assert_eq!(
            request.encrypted_queue_id(),
            &HpkeCiphertext::new(vec![1, 2], vec![3, 4, 5])
        );
        assert_eq!(request.encode().unwrap(), bytes);
        let e = RetireQueueReferenceRequest::decode(&[&bytes[..], &[0]].concat()).unwrap_err();
        assert!(matches!(e, WireError::TrailingBytes { .. }), "{e:?}");
        let e = RetireQueueReferenceRequest::decode(&bytes[..6]).unwrap_err();
        assert!(matches!(e, WireError::Truncated { .. }), "{e:?}");
    }

    #[test]
    fn responses_are_zero_or_one() {
        for flag in [false, true] {
            let bytes = RetireQueueReferenceResponse::new(flag).encode().unwrap();
            assert_eq!(bytes, [u8::from(flag)]);
            let decoded = RetireQueueReferenceResponse::decode(&bytes).unwrap();
            assert_eq!(decoded.newly_retired(), flag);
        }
        let e = RetireQueueReferenceResponse::decode(&[2]).unwrap_err();
        assert!(
            matches!(
                e,
                WireError::OutOfRange {
                    field: "RetireQueueReferenceResponse.newly_retired",
                    value: 2,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
