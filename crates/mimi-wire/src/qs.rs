//! The queueing service's server-to-server requests (draft-kohbrok-mimi-transport
//! §5.6 `/connection_request`, §5.7 `/deliver_message`): a hub hands one MLS
//! message to a member's provider together with the encrypted queue IDs of that
//! provider's recipient clients, and learns per recipient what became of it.
//!
//! The transport draft names `QueueingServiceRequest` and `QueueingServiceResponse`
//! and defers them to draft-robert-mimi-delivery-service, whose later revisions no
//! longer define them; the shapes here are ours (docs/draft-divergences.md,
//! "Provider endpoints"). Both travel as the body of an
//! [`EventEnvelope`](crate::EventEnvelope) inside a signed
//! [`S2SMessage`](crate::S2SMessage); responses are the HTTP response body,
//! authenticated by TLS.

use tls_codec::{TlsSerialize, TlsSize, VLBytes};

use crate::error::WireError;
use crate::event_kind::EventKind;
use crate::queue::HpkeCiphertext;
use crate::reader::{Reader, decode_with, encode, encode_checked};

/// Most recipients in one [`DeliverMessageRequest`]: a hub splits a larger fan-out
/// to one provider into several requests.
pub const MAX_RECIPIENTS: usize = 5000;

/// Largest `message` of a [`DeliverMessageRequest`]: 1 MiB, as for S2S messages
/// (MLS commits adding many members stay well below; media never travels inline).
pub const MAX_MESSAGE_LEN: usize = 1 << 20;

/// Largest `recipients` vector, in bytes: 1 MiB, room for [`MAX_RECIPIENTS`]
/// ciphertexts of about 200 bytes (an X25519 or P-256 queue ID ciphertext is 66 to
/// 100 bytes, a P-521 one about 170). Post-quantum KEMs with kilobyte
/// encapsulations fit fewer per request.
pub const MAX_RECIPIENTS_LEN: usize = 1 << 20;

/// Largest `connection_request` (reserved for the metadata-minimalization work).
pub const MAX_CONNECTION_REQUEST_LEN: usize = 64 * 1024;

/// The `max_len` a receiver passes to [`check_incoming`](crate::check_incoming)
/// on `/deliver_message` and `/connection_request`: the largest
/// [`QueueingServiceRequest`] plus 1 KiB for the `S2SMessage` around it (two
/// domains of at most 253 bytes, the event type, the envelope's 28 bytes, the
/// signature and the length prefixes come to under 700). The default
/// [`DEFAULT_MAX_MESSAGE_LEN`](crate::DEFAULT_MAX_MESSAGE_LEN) of 1 MiB would refuse
/// a full 1 MiB message.
pub const MAX_S2S_MESSAGE_LEN: usize = QueueingServiceRequest::MAX_LEN + 1024;

/// `enum { reserved(0), deliver_message(1), connection_request(2), (255) }
/// QueueingServiceRequestType;`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, TlsSerialize, TlsSize)]
#[repr(u8)]
pub enum QueueingServiceRequestType {
    /// §5.7 `/deliver_message`.
    DeliverMessage = 1,
    /// §5.6 `/connection_request`; providers answer 501 until the
    /// metadata-minimalization work defines it.
    ConnectionRequest = 2,
}

impl QueueingServiceRequestType {
    pub const ALL: [QueueingServiceRequestType; 2] = [
        QueueingServiceRequestType::DeliverMessage,
        QueueingServiceRequestType::ConnectionRequest,
    ];

    /// The value on the wire.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// The type with this wire value; reserved(0) and unknown values are `None`.
    pub fn from_value(value: u8) -> Option<QueueingServiceRequestType> {
        Self::ALL.into_iter().find(|t| t.value() == value)
    }

    /// The event type (and so the endpoint) that carries requests of this type: a
    /// receiver refuses a request whose type is not its endpoint's.
    pub fn event_kind(self) -> EventKind {
        match self {
            QueueingServiceRequestType::DeliverMessage => EventKind::DeliverMessage,
            QueueingServiceRequestType::ConnectionRequest => EventKind::ConnectionRequest,
        }
    }

    fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, WireError> {
        let value = r.u8()?;
        Self::from_value(value).ok_or(WireError::UnknownValue {
            field,
            value: value.into(),
        })
    }
}

/// ```text
/// struct {
///     QueueingServiceRequestType request_type;
///     select (request_type) {
///         case deliver_message:    DeliverMessageRequest;
///         case connection_request: opaque connection_request<V>;
///     };
/// } QueueingServiceRequest;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
#[repr(u8)]
pub enum QueueingServiceRequest {
    #[tls_codec(discriminant = 1)]
    DeliverMessage(DeliverMessageRequest),
    /// Opaque until the metadata-minimalization work defines it (its HPKE-encrypted
    /// `ConnectionRequest`); at most [`MAX_CONNECTION_REQUEST_LEN`] bytes.
    #[tls_codec(discriminant = 2)]
    ConnectionRequest(VLBytes),
}

impl QueueingServiceRequest {
    const NAME: &'static str = "QueueingServiceRequest";

    /// Longest encoding [`decode`](Self::decode) accepts: a full message and a
    /// full recipients vector, 2 MiB and 9 bytes.
    pub const MAX_LEN: usize = 1 + DeliverMessageRequest::MAX_LEN;

    /// Decodes exactly one request. Refuses an unknown or reserved type
    /// ([`WireError::UnknownValue`]) and everything [`DeliverMessageRequest::decode`]
    /// refuses. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<QueueingServiceRequest, WireError> {
        decode_with(
            bytes,
            Self::MAX_LEN,
            Self::NAME,
            |r| match QueueingServiceRequestType::read(r, "QueueingServiceRequest.request_type")? {
                QueueingServiceRequestType::DeliverMessage => Ok(
                    QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::read(r)?),
                ),
                QueueingServiceRequestType::ConnectionRequest => {
                    Ok(QueueingServiceRequest::ConnectionRequest(r.opaque(
                        "QueueingServiceRequest.connection_request",
                        1,
                        MAX_CONNECTION_REQUEST_LEN,
                    )?))
                }
            },
        )
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a request that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn request_type(&self) -> QueueingServiceRequestType {
        match self {
            QueueingServiceRequest::DeliverMessage(_) => QueueingServiceRequestType::DeliverMessage,
            QueueingServiceRequest::ConnectionRequest(_) => {
                QueueingServiceRequestType::ConnectionRequest
            }
        }
    }
}

/// ```text
/// struct {
///     opaque message<V>;               // an MLSMessage (RFC 9420 §6)
///     HPKECiphertext recipients<V>;    // one encrypted queue ID per recipient client
/// } DeliverMessageRequest;
/// ```
///
/// `message` is opaque to the queueing service: it stores the same bytes in every
/// recipient's queue. Each of `recipients` is a client's queue ID sealed to this
/// provider's [`QueueEncryptionKey`](crate::QueueEncryptionKey)
/// (draft-kohbrok-mimi-metadata-minimalization §8); one that does not decrypt or
/// names no queue fails for that recipient only ([`RecipientStatus`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct DeliverMessageRequest {
    message: VLBytes,
    recipients: Vec<HpkeCiphertext>,
}

impl DeliverMessageRequest {
    const NAME: &'static str = "DeliverMessageRequest";

    /// Longest encoding: both vectors full, with 4-byte lengths.
    pub const MAX_LEN: usize = 4 + MAX_MESSAGE_LEN + 4 + MAX_RECIPIENTS_LEN;

    /// A request for `recipients` (1 to [`MAX_RECIPIENTS`], each at most
    /// [`MAX_HPKE_CIPHERTEXT_LEN`](crate::MAX_HPKE_CIPHERTEXT_LEN) bytes encoded, at
    /// most [`MAX_RECIPIENTS_LEN`] in all) of `message` (1 to [`MAX_MESSAGE_LEN`]
    /// bytes). The bounds are checked by [`encode`](Self::encode).
    pub fn new(message: Vec<u8>, recipients: Vec<HpkeCiphertext>) -> DeliverMessageRequest {
        DeliverMessageRequest {
            message: message.into(),
            recipients,
        }
    }

    const MESSAGE: &'static str = "DeliverMessageRequest.message";
    const RECIPIENTS: &'static str = "DeliverMessageRequest.recipients";
    const RECIPIENT: &'static str = "DeliverMessageRequest.recipients[i]";

    /// Decodes exactly one request (on its own; inside a
    /// [`QueueingServiceRequest`] it is read by that decoder). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<DeliverMessageRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<DeliverMessageRequest, WireError> {
        let message = r.opaque(Self::MESSAGE, 1, MAX_MESSAGE_LEN)?;
        let recipients = r.list(Self::RECIPIENTS, MAX_RECIPIENTS, MAX_RECIPIENTS_LEN, |r| {
            HpkeCiphertext::read(r, Self::RECIPIENT)
        })?;
        if recipients.is_empty() {
            return Err(WireError::EmptyField {
                field: Self::RECIPIENTS,
            });
        }
        Ok(DeliverMessageRequest {
            message,
            recipients,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a request that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The MLS message, as the hub sent it.
    pub fn message(&self) -> &[u8] {
        self.message.as_slice()
    }

    /// The encrypted queue IDs, in the order the response's statuses answer them.
    pub fn recipients(&self) -> &[HpkeCiphertext] {
        &self.recipients
    }

    pub fn into_parts(self) -> (Vec<u8>, Vec<HpkeCiphertext>) {
        (self.message.into(), self.recipients)
    }

    /// The `recipients<V>` field alone, as a hub keeps it between accepting a
    /// message and delivering it: 1 to [`MAX_RECIPIENTS`] ciphertexts.
    pub fn encode_recipients(recipients: &[HpkeCiphertext]) -> Result<Vec<u8>, WireError> {
        let bytes = encode(&recipients.to_vec(), Self::RECIPIENTS)?;
        Self::decode_recipients(&bytes).map_err(|reason| WireError::Unencodable {
            what: Self::RECIPIENTS,
            reason: Box::new(reason),
        })?;
        Ok(bytes)
    }

    /// Reads what [`encode_recipients`](Self::encode_recipients) wrote, with the
    /// bounds of the request's field.
    pub fn decode_recipients(bytes: &[u8]) -> Result<Vec<HpkeCiphertext>, WireError> {
        decode_with(bytes, 4 + MAX_RECIPIENTS_LEN, Self::RECIPIENTS, |r| {
            let recipients = r.list(Self::RECIPIENTS, MAX_RECIPIENTS, MAX_RECIPIENTS_LEN, |r| {
                HpkeCiphertext::read(r, Self::RECIPIENT)
            })?;
            if recipients.is_empty() {
                return Err(WireError::EmptyField {
                    field: Self::RECIPIENTS,
                });
            }
            Ok(recipients)
        })
    }
}

/// `enum { delivered(0), unknown_queue(1), undecryptable_queue_id(2),
/// queue_retired(3), (255) } RecipientStatus;`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, TlsSerialize, TlsSize)]
#[repr(u8)]
pub enum RecipientStatus {
    /// Stored durably in the recipient's queue.
    Delivered = 0,
    /// The queue ID decrypted but names no queue here: the client is gone (the
    /// hub should have it removed from the group).
    UnknownQueue = 1,
    /// The ciphertext did not decrypt under any of this provider's queue keys.
    UndecryptableQueueId = 2,
    /// The queue exists but no longer takes messages (its client was retired).
    QueueRetired = 3,
}

impl RecipientStatus {
    pub const ALL: [RecipientStatus; 4] = [
        RecipientStatus::Delivered,
        RecipientStatus::UnknownQueue,
        RecipientStatus::UndecryptableQueueId,
        RecipientStatus::QueueRetired,
    ];

    /// The value on the wire.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// The status with this wire value, if it is one.
    pub fn from_value(value: u8) -> Option<RecipientStatus> {
        Self::ALL.into_iter().find(|s| s.value() == value)
    }
}

/// `struct { RecipientStatus statuses<V>; } DeliverMessageResponse;`: one status
/// per recipient of the request, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct DeliverMessageResponse {
    statuses: Vec<RecipientStatus>,
}

impl DeliverMessageResponse {
    const NAME: &'static str = "DeliverMessageResponse";
    const STATUSES: &'static str = "DeliverMessageResponse.statuses";

    /// Longest encoding: [`MAX_RECIPIENTS`] one-byte statuses and a 2-byte length.
    pub const MAX_LEN: usize = 2 + MAX_RECIPIENTS;

    /// A response of 1 to [`MAX_RECIPIENTS`] statuses (checked by
    /// [`encode`](Self::encode)).
    pub fn new(statuses: Vec<RecipientStatus>) -> DeliverMessageResponse {
        DeliverMessageResponse { statuses }
    }

    /// Decodes exactly one response. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<DeliverMessageResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<DeliverMessageResponse, WireError> {
        let statuses = r.list(Self::STATUSES, MAX_RECIPIENTS, MAX_RECIPIENTS, |r| {
            let value = r.u8()?;
            RecipientStatus::from_value(value).ok_or(WireError::UnknownValue {
                field: "DeliverMessageResponse.statuses[i]",
                value: value.into(),
            })
        })?;
        if statuses.is_empty() {
            return Err(WireError::EmptyField {
                field: Self::STATUSES,
            });
        }
        Ok(DeliverMessageResponse { statuses })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a response that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn statuses(&self) -> &[RecipientStatus] {
        &self.statuses
    }

    /// Checks that this response answers `request`: one status per recipient
    /// ([`WireError::OutOfRange`] otherwise). A hub that got a response of the
    /// wrong length cannot tell which recipient a status is for.
    pub fn check_answers(&self, request: &DeliverMessageRequest) -> Result<(), WireError> {
        let expected = request.recipients().len() as u64;
        if self.statuses.len() as u64 != expected {
            return Err(WireError::OutOfRange {
                field: "DeliverMessageResponse.statuses (count)",
                value: self.statuses.len() as u64,
                min: expected,
                max: expected,
            });
        }
        Ok(())
    }
}

/// ```text
/// struct {
///     QueueingServiceRequestType request_type;
///     select (request_type) {
///         case deliver_message: DeliverMessageResponse;
///     };
/// } QueueingServiceResponse;
/// ```
///
/// `connection_request` has no response body yet: providers answer it with HTTP
/// 501, so a response of that type is refused as [`WireError::UnknownValue`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
#[repr(u8)]
pub enum QueueingServiceResponse {
    #[tls_codec(discriminant = 1)]
    DeliverMessage(DeliverMessageResponse),
}

impl QueueingServiceResponse {
    const NAME: &'static str = "QueueingServiceResponse";

    pub const MAX_LEN: usize = 1 + DeliverMessageResponse::MAX_LEN;

    /// Decodes exactly one response. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<QueueingServiceResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            const FIELD: &str = "QueueingServiceResponse.request_type";
            match QueueingServiceRequestType::read(r, FIELD)? {
                QueueingServiceRequestType::DeliverMessage => Ok(
                    QueueingServiceResponse::DeliverMessage(DeliverMessageResponse::read(r)?),
                ),
                t @ QueueingServiceRequestType::ConnectionRequest => Err(WireError::UnknownValue {
                    field: FIELD,
                    value: t.value().into(),
                }),
            }
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a response that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn request_type(&self) -> QueueingServiceRequestType {
        match self {
            QueueingServiceResponse::DeliverMessage(_) => {
                QueueingServiceRequestType::DeliverMessage
            }
        }
    }
}
