//! The signed request envelope of the client API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_identifiers::DeviceId;
use tls_codec::{Serialize, VLBytes};

use super::bodies::{
    AckRequest, FetchRequest, HubRequest, KeyPackageCountRequest, ListenRequest, RegisterRequest,
    UploadKeyPackagesRequest,
};
use super::enrollment::{EnrollDeviceRequest, EnrollUserRequest};
use super::operation::ClientOperation;
use super::retire::RetireQueueReferenceRequest;
use super::{MAX_ANY_CLIENT_REQUEST_LEN, MAX_LISTEN_HEADER_LEN, MAX_SIGNATURE_LEN, REQUEST_ID_LEN};
use crate::error::WireError;
use crate::ids::{self, MAX_ID_LEN};
use crate::labels;
use crate::reader::{Reader, decode_with};
use crate::signature::sign_content;

/// The request structure of one operation: what travels, TLS-encoded, in
/// `ClientRequestTbs.body`. Its variant decides the `operation` field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientRequestBody {
    Register(RegisterRequest),
    Fetch(FetchRequest),
    Ack(AckRequest),
    UploadKeyPackages(UploadKeyPackagesRequest),
    KeyPackageCount(KeyPackageCountRequest),
    Listen(ListenRequest),
    Hub(HubRequest),
    EnrollUser(EnrollUserRequest),
    EnrollDevice(EnrollDeviceRequest),
    RetireQueueReference(RetireQueueReferenceRequest),
}

macro_rules! body_from {
    ($($variant:ident($ty:ident)),+) => {
        $(impl From<$ty> for ClientRequestBody {
            fn from(body: $ty) -> ClientRequestBody {
                ClientRequestBody::$variant(body)
            }
        })+
    };
}

body_from!(
    Register(RegisterRequest),
    Fetch(FetchRequest),
    Ack(AckRequest),
    UploadKeyPackages(UploadKeyPackagesRequest),
    KeyPackageCount(KeyPackageCountRequest),
    Listen(ListenRequest),
    Hub(HubRequest),
    EnrollUser(EnrollUserRequest),
    EnrollDevice(EnrollDeviceRequest),
    RetireQueueReference(RetireQueueReferenceRequest)
);

impl ClientRequestBody {
    pub fn operation(&self) -> ClientOperation {
        match self {
            ClientRequestBody::Register(_) => ClientOperation::Register,
            ClientRequestBody::Fetch(_) => ClientOperation::Fetch,
            ClientRequestBody::Ack(_) => ClientOperation::Ack,
            ClientRequestBody::UploadKeyPackages(_) => ClientOperation::UploadKeyPackages,
            ClientRequestBody::KeyPackageCount(_) => ClientOperation::KeyPackageCount,
            ClientRequestBody::Listen(_) => ClientOperation::Listen,
            ClientRequestBody::Hub(_) => ClientOperation::Hub,
            ClientRequestBody::EnrollUser(_) => ClientOperation::EnrollUser,
            ClientRequestBody::EnrollDevice(_) => ClientOperation::EnrollDevice,
            ClientRequestBody::RetireQueueReference(_) => ClientOperation::RetireQueueReference,
        }
    }

    /// The TLS serialization of the operation's request structure.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        match self {
            ClientRequestBody::Register(b) => b.encode(),
            ClientRequestBody::Fetch(b) => b.encode(),
            ClientRequestBody::Ack(b) => b.encode(),
            ClientRequestBody::UploadKeyPackages(b) => b.encode(),
            ClientRequestBody::KeyPackageCount(b) => b.encode(),
            ClientRequestBody::Listen(b) => b.encode(),
            ClientRequestBody::Hub(b) => b.encode(),
            ClientRequestBody::EnrollUser(b) => b.encode(),
            ClientRequestBody::EnrollDevice(b) => b.encode(),
            ClientRequestBody::RetireQueueReference(b) => b.encode(),
        }
    }

    /// Decodes exactly one request structure of `operation` from `bytes` (at most
    /// [`ClientOperation::max_body_len`]). Never panics.
    pub fn decode(
        operation: ClientOperation,
        bytes: &[u8],
    ) -> Result<ClientRequestBody, WireError> {
        decode_with(bytes, operation.max_body_len(), body_name(operation), |r| {
            Self::read(operation, r)
        })
    }

    fn read(
        operation: ClientOperation,
        r: &mut Reader<'_>,
    ) -> Result<ClientRequestBody, WireError> {
        Ok(match operation {
            ClientOperation::Register => RegisterRequest::read(r)?.into(),
            ClientOperation::Fetch => FetchRequest::read(r)?.into(),
            ClientOperation::Ack => AckRequest::read(r)?.into(),
            ClientOperation::UploadKeyPackages => UploadKeyPackagesRequest::read(r)?.into(),
            ClientOperation::KeyPackageCount => KeyPackageCountRequest::read(r)?.into(),
            ClientOperation::Listen => ListenRequest::read(r)?.into(),
            ClientOperation::Hub => HubRequest::read(r)?.into(),
            ClientOperation::EnrollUser => EnrollUserRequest::read(r)?.into(),
            ClientOperation::EnrollDevice => EnrollDeviceRequest::read(r)?.into(),
            ClientOperation::RetireQueueReference => RetireQueueReferenceRequest::read(r)?.into(),
        })
    }
}

/// The name of `operation`'s request structure, for errors.
fn body_name(operation: ClientOperation) -> &'static str {
    match operation {
        ClientOperation::Register => "RegisterRequest",
        ClientOperation::Fetch => "FetchRequest",
        ClientOperation::Ack => "AckRequest",
        ClientOperation::UploadKeyPackages => "UploadKeyPackagesRequest",
        ClientOperation::KeyPackageCount => "KeyPackageCountRequest",
        ClientOperation::Listen => "ListenRequest",
        ClientOperation::Hub => "HubRequest",
        ClientOperation::EnrollUser => "EnrollUserRequest",
        ClientOperation::EnrollDevice => "EnrollDeviceRequest",
        ClientOperation::RetireQueueReference => "RetireQueueReferenceRequest",
    }
}

/// ```text
/// struct {
///     opaque client_id<V>;       // mimi://<domain>/d/<user>/<device>
///     uint64 created_at_ms;      // Unix milliseconds
///     opaque request_id[16];     // random, unique per client
///     ClientOperation operation;
///     opaque body<V>;            // the operation's request structure, TLS-encoded
/// } ClientRequestTbs;
/// ```
///
/// What a client signs. Decoding checks that `operation` is known and that `body`
/// is exactly one valid request structure of it (which
/// [`decode_body`](Self::decode_body) returns); what `client_id` means is checked
/// by [`client_id`](Self::client_id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientRequestTbs {
    client_id: VLBytes,
    created_at_ms: u64,
    request_id: [u8; REQUEST_ID_LEN],
    operation: ClientOperation,
    body: VLBytes,
}

impl ClientRequestTbs {
    const NAME: &'static str = "ClientRequestTbs";
    const CLIENT_ID: &'static str = "ClientRequestTbs.client_id";

    /// A request of `client` created at `created_at_ms` (Unix milliseconds) with a
    /// fresh random `request_id`. `client` must name its user and domain, and
    /// `body` be within its bounds.
    pub fn new(
        client: &DeviceId,
        created_at_ms: u64,
        body: impl Into<ClientRequestBody>,
    ) -> Result<ClientRequestTbs, WireError> {
        let mut request_id = [0u8; REQUEST_ID_LEN];
        aws_lc_rs::rand::fill(&mut request_id).map_err(|_| WireError::Random)?;
        Self::with_id(client, created_at_ms, request_id, body)
    }

    /// A request with a given `request_id`: for a retry of the same request and for
    /// test vectors.
    pub fn with_id(
        client: &DeviceId,
        created_at_ms: u64,
        request_id: [u8; REQUEST_ID_LEN],
        body: impl Into<ClientRequestBody>,
    ) -> Result<ClientRequestTbs, WireError> {
        let client_id = ids::device_uri(Self::CLIENT_ID, client)?;
        let body = body.into();
        Ok(ClientRequestTbs {
            client_id: client_id.into_bytes().into(),
            created_at_ms,
            request_id,
            operation: body.operation(),
            body: body.encode()?.into(),
        })
    }

    /// Decodes exactly one `ClientRequestTbs` (of any operation, so at most
    /// [`MAX_ANY_CLIENT_REQUEST_LEN`] bytes). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<ClientRequestTbs, WireError> {
        decode_with(bytes, MAX_ANY_CLIENT_REQUEST_LEN, Self::NAME, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<ClientRequestTbs, WireError> {
        let client_id = r.opaque(Self::CLIENT_ID, 1, MAX_ID_LEN)?;
        let created_at_ms = r.u64()?;
        let request_id = r.array()?;
        let value = r.u8()?;
        let operation = ClientOperation::from_value(value).ok_or(WireError::UnknownValue {
            field: "ClientRequestTbs.operation",
            value: value.into(),
        })?;
        let body = r.vector("ClientRequestTbs.body", operation.max_body_len())?;
        // Checked here, so that a request is refused before its signature is
        // looked at if its body is not one valid structure of its operation.
        ClientRequestBody::decode(operation, body)?;
        Ok(ClientRequestTbs {
            client_id,
            created_at_ms,
            request_id,
            operation,
            body: VLBytes::new(body.to_vec()),
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a TBS that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let bytes = self.encode_unchecked()?;
        Self::decode(&bytes).map_err(|reason| WireError::Unencodable {
            what: Self::NAME,
            reason: Box::new(reason),
        })?;
        Ok(bytes)
    }

    fn encode_unchecked(&self) -> Result<Vec<u8>, WireError> {
        let mut out =
            Vec::with_capacity(self.client_id.as_slice().len() + self.body.as_slice().len() + 40);
        let enc = |e| WireError::encoding(Self::NAME, e);
        self.client_id.tls_serialize(&mut out).map_err(enc)?;
        self.created_at_ms.tls_serialize(&mut out).map_err(enc)?;
        self.request_id.tls_serialize(&mut out).map_err(enc)?;
        self.operation
            .value()
            .tls_serialize(&mut out)
            .map_err(enc)?;
        self.body.tls_serialize(&mut out).map_err(enc)?;
        Ok(out)
    }

    /// The exact bytes the client's signature covers:
    /// `SignContent { label = "MIMI 1.0 ClientRequest", content = encode() }`
    /// ([`labels::CLIENT_REQUEST`]). The client signs them with its MLS signature
    /// key (the key of its device certificate), the provider verifies them with it.
    pub fn signed_content(&self) -> Result<Vec<u8>, WireError> {
        sign_content(labels::CLIENT_REQUEST, &self.encode()?)
    }

    /// `client_id` as a [`DeviceId`], if it is a canonical
    /// `mimi://<domain>/d/<user>/<device>` URI.
    pub fn client_id(&self) -> Result<DeviceId, WireError> {
        ids::device(Self::CLIENT_ID, self.client_id.as_slice())
    }

    /// `client_id` as sent, unchecked.
    pub fn client_id_bytes(&self) -> &[u8] {
        self.client_id.as_slice()
    }

    /// Creation time, Unix milliseconds, as the client claims it.
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    pub fn request_id(&self) -> &[u8; REQUEST_ID_LEN] {
        &self.request_id
    }

    pub fn operation(&self) -> ClientOperation {
        self.operation
    }

    /// The operation's request structure, TLS-encoded (valid: decoding checked
    /// it); decode it with the structure's `decode`, or use
    /// [`decode_body`](Self::decode_body).
    pub fn body(&self) -> &[u8] {
        self.body.as_slice()
    }

    /// The body as the request structure of [`operation`](Self::operation).
    pub fn decode_body(&self) -> Result<ClientRequestBody, WireError> {
        ClientRequestBody::decode(self.operation, self.body.as_slice())
    }

    /// Refuses a request for another operation than `expected` (the endpoint it
    /// arrived at) with [`WireError::WrongOperation`].
    pub fn expect_operation(&self, expected: ClientOperation) -> Result<(), WireError> {
        let found = self.operation();
        if found != expected {
            return Err(WireError::WrongOperation {
                expected: expected.as_str(),
                found: found.as_str(),
            });
        }
        Ok(())
    }
}

/// ```text
/// struct {
///     ClientRequestTbs tbs;
///     opaque signature<V>;   // SignWithLabel(key, "MIMI 1.0 ClientRequest", tbs)
/// } ClientRequest;
/// ```
///
/// Unverified: the provider verifies `signature` over
/// [`ClientRequestTbs::signed_content`] with the client's key (from the
/// registration's certificate chain) before it trusts anything in `tbs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientRequest {
    tbs: ClientRequestTbs,
    signature: VLBytes,
}

impl ClientRequest {
    const NAME: &'static str = "ClientRequest";

    /// The signed request. `signature` is what the client's MLS signature key made
    /// over `tbs.signed_content()`: 64 bytes for Ed25519, a DER `ECDSA-Sig-Value`
    /// for ECDSA (RFC 9420 §5.1.2); decoders refuse one outside 1 to
    /// [`MAX_SIGNATURE_LEN`] bytes.
    pub fn new(tbs: ClientRequestTbs, signature: Vec<u8>) -> ClientRequest {
        ClientRequest {
            tbs,
            signature: signature.into(),
        }
    }

    /// Decodes exactly one request of any operation, at most
    /// [`ClientOperation::max_request_len`] bytes for its operation. Never panics.
    /// A server should rather use [`decode_for`](Self::decode_for), which bounds
    /// the input by the endpoint's operation first.
    pub fn decode(bytes: &[u8]) -> Result<ClientRequest, WireError> {
        let request = decode_with(bytes, MAX_ANY_CLIENT_REQUEST_LEN, Self::NAME, |r| {
            let tbs = ClientRequestTbs::read(r)?;
            let signature = r.opaque("ClientRequest.signature", 1, MAX_SIGNATURE_LEN)?;
            Ok(ClientRequest { tbs, signature })
        })?;
        let max = request.tbs.operation().max_request_len();
        if bytes.len() > max {
            return Err(WireError::TooLong {
                what: Self::NAME,
                len: bytes.len(),
                max,
            });
        }
        Ok(request)
    }

    /// Decodes a request that arrived at the endpoint of `operation`: refuses
    /// input longer than `operation.max_request_len()` before reading it, and a
    /// request for another operation ([`WireError::WrongOperation`]).
    pub fn decode_for(
        operation: ClientOperation,
        bytes: &[u8],
    ) -> Result<ClientRequest, WireError> {
        let max = operation.max_request_len();
        if bytes.len() > max {
            return Err(WireError::TooLong {
                what: Self::NAME,
                len: bytes.len(),
                max,
            });
        }
        let request = Self::decode(bytes)?;
        request.tbs.expect_operation(operation)?;
        Ok(request)
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a request that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut out = self.tbs.encode_unchecked()?;
        self.signature
            .tls_serialize(&mut out)
            .map_err(|e| WireError::encoding(Self::NAME, e))?;
        Self::decode(&out).map_err(|reason| WireError::Unencodable {
            what: Self::NAME,
            reason: Box::new(reason),
        })?;
        Ok(out)
    }

    pub fn tbs(&self) -> &ClientRequestTbs {
        &self.tbs
    }

    pub fn signature(&self) -> &[u8] {
        self.signature.as_slice()
    }

    /// The bytes to verify [`signature`](Self::signature) over.
    pub fn signed_content(&self) -> Result<Vec<u8>, WireError> {
        self.tbs.signed_content()
    }

    pub fn into_parts(self) -> (ClientRequestTbs, Vec<u8>) {
        (self.tbs, self.signature.into())
    }

    /// The value of the [`LISTEN_HEADER`](super::LISTEN_HEADER) header: the
    /// encoding in base64url without padding (RFC 4648 §5).
    pub fn to_header_value(&self) -> Result<String, WireError> {
        Ok(URL_SAFE_NO_PAD.encode(self.encode()?))
    }

    /// Reads a `listen` request from the [`LISTEN_HEADER`](super::LISTEN_HEADER)
    /// header of a WebSocket upgrade: at most [`MAX_LISTEN_HEADER_LEN`] characters
    /// of unpadded base64url, holding a `listen` request. Never panics.
    pub fn from_header_value(value: &str) -> Result<ClientRequest, WireError> {
        const WHAT: &str = "MIMI-Client-Request header";
        if value.len() > MAX_LISTEN_HEADER_LEN {
            return Err(WireError::TooLong {
                what: WHAT,
                len: value.len(),
                max: MAX_LISTEN_HEADER_LEN,
            });
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|e| WireError::Malformed {
                what: WHAT,
                detail: format!("not unpadded base64url: {e}"),
            })?;
        Self::decode_for(ClientOperation::Listen, &bytes)
    }
}
