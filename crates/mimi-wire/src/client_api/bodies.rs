//! The request and response structures of the client API's operations. A request
//! travels TLS-encoded in the `body` of a signed
//! [`ClientRequestTbs`](super::ClientRequestTbs); a response is the HTTP response
//! body.

use mimi_identifiers::Handle;
use tls_codec::{Serialize as _, Size, TlsSerialize, TlsSize, VLBytes};

use super::{
    MAX_CERTIFICATE_LEN, MAX_CERTIFICATES, MAX_CRLS, MAX_CRLS_LEN, MAX_FETCH_LIMIT,
    MAX_FETCH_RESPONSE_LEN, MAX_KEY_PACKAGES_PER_UPLOAD,
};
use crate::error::WireError;
use crate::ids::{self, MAX_HANDLE_LEN};
use crate::kps::{MAX_KEY_PACKAGE_LEN, check_cipher_suite};
use crate::qs::MAX_MESSAGE_LEN;
use crate::queue::{MAX_QUEUE_KEY_LEN, QUEUE_ID_LEN, QueueEncryptionKey};
use crate::reader::{Reader, decode_with, encode, encode_checked};

/// Bound for decoding fixed-size structures: a few bytes too many are reported as
/// trailing bytes, many as too long.
const SMALL_MAX_LEN: usize = 256;

/// Content bound of the certificate chain vector: [`MAX_CERTIFICATES`] DER
/// certificates of at most [`MAX_CERTIFICATE_LEN`] bytes, each with a 4-byte length.
const MAX_CHAIN_LEN: usize = MAX_CERTIFICATES * (4 + MAX_CERTIFICATE_LEN);

/// Content bound of the key package vector of an upload.
const MAX_UPLOAD_LEN: usize = MAX_KEY_PACKAGES_PER_UPLOAD * (4 + MAX_KEY_PACKAGE_LEN);

fn bytes_list(items: &[VLBytes]) -> Vec<&[u8]> {
    items.iter().map(VLBytes::as_slice).collect()
}

fn vl_list(items: Vec<Vec<u8>>) -> Vec<VLBytes> {
    items.into_iter().map(VLBytes::from).collect()
}

/// ```text
/// struct {
///     opaque certificate_chain<V>;   // opaque certificate<V> (DER), leaf first
///     opaque crls<V>;                // opaque crl<V> (DER) for the chain's CAs
///     opaque handle<V>;              // empty, or a handle such as "@alice"
/// } RegisterRequest;
/// ```
///
/// Registers the signing device: the leaf certificate names it
/// (`mimi://<domain>/d/<user>/<device>`, equal to the request's `client_id`) and
/// carries the key that signed the request. The provider verifies the chain
/// against its identity roots with these CRLs (the freshest it has may replace
/// them) before it creates the device's queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct RegisterRequest {
    certificate_chain: Vec<VLBytes>,
    crls: Vec<VLBytes>,
    handle: VLBytes,
}

impl RegisterRequest {
    const NAME: &'static str = "RegisterRequest";
    const CHAIN: &'static str = "RegisterRequest.certificate_chain";
    const CERTIFICATE: &'static str = "RegisterRequest.certificate_chain[i]";
    const CRLS: &'static str = "RegisterRequest.crls";
    const CRL: &'static str = "RegisterRequest.crls[i]";
    const HANDLE: &'static str = "RegisterRequest.handle";

    /// Longest encoding: a full chain, full CRLs and the longest handle (about
    /// 8.1 MiB).
    pub const MAX_LEN: usize = 4 + MAX_CHAIN_LEN + 4 + MAX_CRLS_LEN + 2 + MAX_HANDLE_LEN;

    /// A request with 1 to [`MAX_CERTIFICATES`] certificates of 1 to
    /// [`MAX_CERTIFICATE_LEN`] bytes, up to [`MAX_CRLS`] non-empty CRLs of at most
    /// [`MAX_CRLS_LEN`] bytes in all, and an optional handle (bounds checked by
    /// [`encode`](Self::encode)).
    pub fn new(
        certificate_chain: Vec<Vec<u8>>,
        crls: Vec<Vec<u8>>,
        handle: Option<&Handle>,
    ) -> RegisterRequest {
        let handle = handle.map(|h| h.to_string()).unwrap_or_default();
        RegisterRequest {
            certificate_chain: vl_list(certificate_chain),
            crls: vl_list(crls),
            handle: handle.into_bytes().into(),
        }
    }

    /// Decodes exactly one request. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<RegisterRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<RegisterRequest, WireError> {
        let certificate_chain = r.list(Self::CHAIN, MAX_CERTIFICATES, MAX_CHAIN_LEN, |r| {
            r.opaque(Self::CERTIFICATE, 1, MAX_CERTIFICATE_LEN)
        })?;
        if certificate_chain.is_empty() {
            return Err(WireError::EmptyField { field: Self::CHAIN });
        }
        let crls = r.list(Self::CRLS, MAX_CRLS, MAX_CRLS_LEN, |r| {
            r.opaque(Self::CRL, 1, MAX_CRLS_LEN)
        })?;
        let handle = r.opaque(Self::HANDLE, 0, MAX_HANDLE_LEN)?;
        Ok(RegisterRequest {
            certificate_chain,
            crls,
            handle,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The certificates (DER), leaf first, unparsed.
    pub fn certificate_chain(&self) -> Vec<&[u8]> {
        bytes_list(&self.certificate_chain)
    }

    /// The CRLs (DER), unparsed and unverified.
    pub fn crls(&self) -> Vec<&[u8]> {
        bytes_list(&self.crls)
    }

    /// The handle the device asks for, if any, in canonical text form
    /// ([`WireError::InvalidIdentifier`] otherwise).
    pub fn handle(&self) -> Result<Option<Handle>, WireError> {
        if self.handle.as_slice().is_empty() {
            return Ok(None);
        }
        ids::handle(Self::HANDLE, self.handle.as_slice()).map(Some)
    }

    /// `handle` as sent, unchecked (empty for none).
    pub fn handle_bytes(&self) -> &[u8] {
        self.handle.as_slice()
    }
}

/// ```text
/// struct {
///     opaque queue_id[16];
///     QueueEncryptionKey queue_key;
/// } RegisterResponse;
/// ```
///
/// The device's queue and the provider's current queue key: the client seals
/// `queue_id` to `queue_key` for each KeyPackage it uploads
/// (draft-kohbrok-mimi-metadata-minimalization §8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct RegisterResponse {
    queue_id: [u8; QUEUE_ID_LEN],
    queue_key: QueueEncryptionKey,
}

impl RegisterResponse {
    const NAME: &'static str = "RegisterResponse";

    pub const MAX_LEN: usize = QUEUE_ID_LEN + MAX_QUEUE_KEY_LEN;

    /// The device's queue and the provider's queue key (its public key 1 to
    /// [`MAX_QUEUE_KEY_LEN`](crate::MAX_QUEUE_KEY_LEN) bytes encoded, checked by
    /// [`encode`](Self::encode)).
    pub fn new(queue_id: [u8; QUEUE_ID_LEN], queue_key: &QueueEncryptionKey) -> RegisterResponse {
        RegisterResponse {
            queue_id,
            queue_key: queue_key.clone(),
        }
    }

    /// Decodes exactly one response. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<RegisterResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            Ok(RegisterResponse {
                queue_id: r.array()?,
                queue_key: QueueEncryptionKey::read(r, "RegisterResponse.queue_key")?,
            })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn queue_id(&self) -> &[u8; QUEUE_ID_LEN] {
        &self.queue_id
    }

    pub fn queue_key(&self) -> &QueueEncryptionKey {
        &self.queue_key
    }
}

/// `struct { uint64 from_seq; uint32 limit; } FetchRequest;`
///
/// The messages of the device's queue with sequence number `from_seq` or above,
/// oldest first, at most `limit` (1 to [`MAX_FETCH_LIMIT`]) of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct FetchRequest {
    from_seq: u64,
    limit: u32,
}

impl FetchRequest {
    const NAME: &'static str = "FetchRequest";
    const LIMIT: &'static str = "FetchRequest.limit";

    /// The encoding's length.
    pub const LEN: usize = 8 + 4;

    /// A request for at most `limit` (1 to [`MAX_FETCH_LIMIT`], checked by
    /// [`encode`](Self::encode)) messages from `from_seq` on.
    pub fn new(from_seq: u64, limit: u32) -> FetchRequest {
        FetchRequest { from_seq, limit }
    }

    /// Decodes exactly one request; `limit` must be 1 to [`MAX_FETCH_LIMIT`]
    /// ([`WireError::OutOfRange`]). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<FetchRequest, WireError> {
        decode_with(bytes, SMALL_MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<FetchRequest, WireError> {
        let from_seq = r.u64()?;
        let limit = r.u32()?;
        check_limit(limit)?;
        Ok(FetchRequest { from_seq, limit })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn from_seq(&self) -> u64 {
        self.from_seq
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

fn check_limit(limit: u32) -> Result<(), WireError> {
    if !(1..=MAX_FETCH_LIMIT).contains(&limit) {
        return Err(WireError::OutOfRange {
            field: FetchRequest::LIMIT,
            value: limit.into(),
            min: 1,
            max: MAX_FETCH_LIMIT.into(),
        });
    }
    Ok(())
}

/// `struct { uint64 seq; opaque message<V>; } QueuedMessage;`: one message of a
/// queue (1 to [`MAX_MESSAGE_LEN`](crate::qs::MAX_MESSAGE_LEN) bytes, as the hub
/// delivered it) with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct QueuedMessage {
    seq: u64,
    message: VLBytes,
}

impl QueuedMessage {
    const NAME: &'static str = "QueuedMessage";
    const MESSAGE: &'static str = "QueuedMessage.message";

    pub const MAX_LEN: usize = 8 + 4 + MAX_MESSAGE_LEN;

    /// Message `seq` of a queue (1 to [`MAX_MESSAGE_LEN`](crate::qs::MAX_MESSAGE_LEN)
    /// bytes, checked by [`encode`](Self::encode)).
    pub fn new(seq: u64, message: Vec<u8>) -> QueuedMessage {
        QueuedMessage {
            seq,
            message: message.into(),
        }
    }

    /// Decodes exactly one queued message. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<QueuedMessage, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    fn read(r: &mut Reader<'_>) -> Result<QueuedMessage, WireError> {
        Ok(QueuedMessage {
            seq: r.u64()?,
            message: r.opaque(Self::MESSAGE, 1, MAX_MESSAGE_LEN)?,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// Its size inside a [`FetchResponse`]: a server adds messages while the sum
    /// stays within [`MAX_FETCH_RESPONSE_LEN`].
    pub fn encoded_len(&self) -> usize {
        self.tls_serialized_len()
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn message(&self) -> &[u8] {
        self.message.as_slice()
    }

    pub fn into_message(self) -> Vec<u8> {
        self.message.into()
    }
}

/// ```text
/// struct {
///     QueuedMessage messages<V>;
///     uint64 depth;
/// } FetchResponse;
/// ```
///
/// `messages` in increasing `seq` order, at most [`MAX_FETCH_LIMIT`] and at most
/// [`MAX_FETCH_RESPONSE_LEN`] bytes encoded; `depth` counts the messages waiting
/// from the request's `from_seq` on, those returned included, so it is never
/// below their number. Also each frame a `listen` WebSocket pushes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct FetchResponse {
    messages: Vec<QueuedMessage>,
    depth: u64,
}

impl FetchResponse {
    const NAME: &'static str = "FetchResponse";
    const MESSAGES: &'static str = "FetchResponse.messages";

    pub const MAX_LEN: usize = MAX_FETCH_RESPONSE_LEN;

    /// A response of `messages` (the order, count, size and depth rules above are
    /// checked by [`encode`](Self::encode); [`filled`](Self::filled) keeps within
    /// the count and size).
    pub fn new(messages: Vec<QueuedMessage>, depth: u64) -> FetchResponse {
        FetchResponse { messages, depth }
    }

    /// A response of the longest prefix of `messages` that fits: at most
    /// [`MAX_FETCH_LIMIT`] messages and [`MAX_FETCH_RESPONSE_LEN`] bytes encoded.
    /// A server builds every page and push frame this way, so that a queue of
    /// large messages is served in several pages rather than refused.
    pub fn filled(messages: impl IntoIterator<Item = QueuedMessage>, depth: u64) -> FetchResponse {
        // The vector's length prefix (at most 4 bytes) and `depth`.
        let mut size = 4 + 8;
        let mut kept = Vec::new();
        for message in messages {
            size += message.encoded_len();
            if kept.len() == MAX_FETCH_LIMIT as usize || size > MAX_FETCH_RESPONSE_LEN {
                break;
            }
            kept.push(message);
        }
        FetchResponse {
            messages: kept,
            depth,
        }
    }

    /// Decodes exactly one response (or WebSocket frame). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<FetchResponse, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let messages = r.list(
                Self::MESSAGES,
                MAX_FETCH_LIMIT as usize,
                MAX_FETCH_RESPONSE_LEN,
                QueuedMessage::read,
            )?;
            let response = FetchResponse {
                messages,
                depth: r.u64()?,
            };
            response.check_order_and_depth()?;
            Ok(response)
        })
    }

    fn check_order_and_depth(&self) -> Result<(), WireError> {
        for pair in self.messages.windows(2) {
            if let [a, b] = pair
                && b.seq <= a.seq
            {
                return Err(WireError::OutOfRange {
                    field: "FetchResponse.messages[i].seq (increasing)",
                    value: b.seq,
                    min: a.seq.saturating_add(1),
                    max: u64::MAX,
                });
            }
        }
        let count = self.messages.len() as u64;
        if self.depth < count {
            return Err(WireError::OutOfRange {
                field: "FetchResponse.depth",
                value: self.depth,
                min: count,
                max: u64::MAX,
            });
        }
        Ok(())
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn messages(&self) -> &[QueuedMessage] {
        &self.messages
    }

    pub fn depth(&self) -> u64 {
        self.depth
    }

    pub fn into_messages(self) -> Vec<QueuedMessage> {
        self.messages
    }
}

/// Defines a request or response of fixed-size integer fields: constructor,
/// bounded decode, encode and accessors.
macro_rules! fixed_struct {
    (
        $(#[$doc:meta])*
        $name:ident { $($field:ident: $ty:ident),+ }, len = $len:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
        pub struct $name {
            $($field: $ty),+
        }

        impl $name {
            const NAME: &'static str = stringify!($name);

            /// The encoding's length.
            pub const LEN: usize = $len;

            pub fn new($($field: $ty),+) -> $name {
                $name { $($field),+ }
            }

            /// Decodes exactly one structure. Never panics.
            pub fn decode(bytes: &[u8]) -> Result<$name, WireError> {
                decode_with(bytes, SMALL_MAX_LEN, Self::NAME, Self::read)
            }

            pub(crate) fn read(r: &mut Reader<'_>) -> Result<$name, WireError> {
                Ok($name { $($field: r.$ty()?),+ })
            }

            /// The TLS serialization.
            pub fn encode(&self) -> Result<Vec<u8>, WireError> {
                encode(self, Self::NAME)
            }

            $(pub fn $field(&self) -> $ty {
                self.$field
            })+
        }
    };
}

fixed_struct!(
    /// `struct { uint64 up_to_seq; } AckRequest;`: delete every message of the
    /// device's queue with `seq` ≤ `up_to_seq` (the client has stored them).
    AckRequest { up_to_seq: u64 }, len = 8
);

fixed_struct!(
    /// `struct { uint64 deleted; } AckResponse;`: how many messages the ack deleted
    /// (0 when they were already gone: acks are idempotent).
    AckResponse { deleted: u64 }, len = 8
);

fixed_struct!(
    /// `struct { uint32 stored; uint64 remaining; } UploadKeyPackagesResponse;`:
    /// how many of the uploaded KeyPackages were stored, and how many unclaimed
    /// ones of the device are now held in all.
    UploadKeyPackagesResponse { stored: u32, remaining: u64 }, len = 12
);

fixed_struct!(
    /// `struct { uint64 count; } KeyPackageCountResponse;`: unclaimed KeyPackages of
    /// the device for the requested cipher suite (the last-resort one not counted).
    KeyPackageCountResponse { count: u64 }, len = 8
);

fixed_struct!(
    /// `struct { uint64 from_seq; } ListenRequest;`: push the device's queue from
    /// `from_seq` on over a WebSocket (docs/wire-spec.md §13).
    ListenRequest { from_seq: u64 }, len = 8
);

/// ```text
/// struct {
///     opaque key_packages<V>;   // opaque key_package<V>: bare RFC 9420 KeyPackages
///     uint8 last_resort;        // 0 or 1
/// } UploadKeyPackagesRequest;
/// ```
///
/// With `last_resort` = 1 the KeyPackages are the device's last-resort ones
/// (RFC 9420 §16.8): handed out when no other is left, and kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct UploadKeyPackagesRequest {
    key_packages: Vec<VLBytes>,
    last_resort: u8,
}

impl UploadKeyPackagesRequest {
    const NAME: &'static str = "UploadKeyPackagesRequest";
    const KEY_PACKAGES: &'static str = "UploadKeyPackagesRequest.key_packages";
    const KEY_PACKAGE: &'static str = "UploadKeyPackagesRequest.key_packages[i]";

    /// Longest encoding: [`MAX_KEY_PACKAGES_PER_UPLOAD`] KeyPackages of
    /// [`MAX_KEY_PACKAGE_LEN`](crate::kps::MAX_KEY_PACKAGE_LEN) bytes (about
    /// 6.25 MiB).
    pub const MAX_LEN: usize = 4 + MAX_UPLOAD_LEN + 1;

    /// 1 to [`MAX_KEY_PACKAGES_PER_UPLOAD`] KeyPackages of 1 to
    /// [`MAX_KEY_PACKAGE_LEN`](crate::kps::MAX_KEY_PACKAGE_LEN) bytes (checked by
    /// [`encode`](Self::encode)).
    pub fn new(key_packages: Vec<Vec<u8>>, last_resort: bool) -> UploadKeyPackagesRequest {
        UploadKeyPackagesRequest {
            key_packages: vl_list(key_packages),
            last_resort: last_resort.into(),
        }
    }

    /// Decodes exactly one request; `last_resort` must be 0 or 1
    /// ([`WireError::OutOfRange`]). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<UploadKeyPackagesRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<UploadKeyPackagesRequest, WireError> {
        let key_packages = r.list(
            Self::KEY_PACKAGES,
            MAX_KEY_PACKAGES_PER_UPLOAD,
            MAX_UPLOAD_LEN,
            |r| r.opaque(Self::KEY_PACKAGE, 1, MAX_KEY_PACKAGE_LEN),
        )?;
        if key_packages.is_empty() {
            return Err(WireError::EmptyField {
                field: Self::KEY_PACKAGES,
            });
        }
        let last_resort = r.u8()?;
        if last_resort > 1 {
            return Err(WireError::OutOfRange {
                field: "UploadKeyPackagesRequest.last_resort",
                value: last_resort.into(),
                min: 0,
                max: 1,
            });
        }
        Ok(UploadKeyPackagesRequest {
            key_packages,
            last_resort,
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The KeyPackages, unvalidated (the provider validates them with OpenMLS).
    pub fn key_packages(&self) -> Vec<&[u8]> {
        bytes_list(&self.key_packages)
    }

    pub fn last_resort(&self) -> bool {
        self.last_resort == 1
    }
}

/// `struct { uint16 cipher_suite; } KeyPackageCountRequest;`: how many KeyPackages
/// of `cipher_suite` (not 0) the device still has on the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct KeyPackageCountRequest {
    cipher_suite: u16,
}

impl KeyPackageCountRequest {
    const NAME: &'static str = "KeyPackageCountRequest";
    const CIPHER_SUITE: &'static str = "KeyPackageCountRequest.cipher_suite";

    /// The encoding's length.
    pub const LEN: usize = 2;

    /// A count for `cipher_suite` (not 0, checked by [`encode`](Self::encode)).
    pub fn new(cipher_suite: u16) -> KeyPackageCountRequest {
        KeyPackageCountRequest { cipher_suite }
    }

    /// Decodes exactly one request. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<KeyPackageCountRequest, WireError> {
        decode_with(bytes, SMALL_MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<KeyPackageCountRequest, WireError> {
        let cipher_suite = r.u16()?;
        check_cipher_suite(Self::CIPHER_SUITE, cipher_suite)?;
        Ok(KeyPackageCountRequest { cipher_suite })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a value that
    /// [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    pub fn cipher_suite(&self) -> u16 {
        self.cipher_suite
    }
}

/// ```text
/// enum {
///     reserved(0), group_operation(1), welcome_information(2),
///     external_commit_information(3), (255)
/// } HubEndpoint;
/// ```
///
/// Which hub endpoint of draft-kohbrok-mimi-transport §5.2-5.4 a [`HubRequest`]
/// is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HubEndpoint {
    /// `POST /group_operation`: a [`DSRequest`](crate::ds::DSRequest).
    GroupOperation = 1,
    /// `GET /welcome_information`: a
    /// [`WelcomeInfoRequest`](crate::ds::WelcomeInfoRequest).
    WelcomeInformation = 2,
    /// `GET /external_commit_information`: an
    /// [`ExternalCommitInfoRequest`](crate::ds::ExternalCommitInfoRequest).
    ExternalCommitInformation = 3,
}

impl HubEndpoint {
    pub const ALL: [HubEndpoint; 3] = [
        HubEndpoint::GroupOperation,
        HubEndpoint::WelcomeInformation,
        HubEndpoint::ExternalCommitInformation,
    ];

    pub fn value(self) -> u8 {
        self as u8
    }

    pub fn from_value(value: u8) -> Option<HubEndpoint> {
        Self::ALL.into_iter().find(|e| e.value() == value)
    }

    /// The S2S event that carries this request to a remote hub.
    pub fn event_kind(self) -> crate::EventKind {
        match self {
            HubEndpoint::GroupOperation => crate::EventKind::GroupOperation,
            HubEndpoint::WelcomeInformation => crate::EventKind::WelcomeInformation,
            HubEndpoint::ExternalCommitInformation => crate::EventKind::ExternalCommitInformation,
        }
    }

    /// Largest request of this endpoint.
    pub fn max_request_len(self) -> usize {
        match self {
            HubEndpoint::GroupOperation => crate::ds::DSRequest::MAX_LEN,
            HubEndpoint::WelcomeInformation => crate::ds::WelcomeInfoRequest::MAX_LEN,
            HubEndpoint::ExternalCommitInformation => crate::ds::ExternalCommitInfoRequest::MAX_LEN,
        }
    }

    /// Checks that `request` is one valid request of this endpoint.
    pub fn check_request(self, request: &[u8]) -> Result<(), WireError> {
        match self {
            HubEndpoint::GroupOperation => crate::ds::DSRequest::decode(request).map(drop),
            HubEndpoint::WelcomeInformation => {
                crate::ds::WelcomeInfoRequest::decode(request).map(drop)
            }
            HubEndpoint::ExternalCommitInformation => {
                crate::ds::ExternalCommitInfoRequest::decode(request).map(drop)
            }
        }
    }
}

/// ```text
/// struct {
///     opaque hub_domain<V>;    // the provider whose hub owns the room
///     HubEndpoint endpoint;
///     opaque request<V>;       // that endpoint's request structure
/// } HubRequest;
/// ```
///
/// A device's request for a room's hub, sent to its own provider, which serves it
/// (its own rooms) or forwards `request` unchanged in a signed S2S event (other
/// providers' rooms) and answers with the hub's [`DSResponse`](crate::ds::DSResponse).
/// The provider cannot alter what it forwards: `request` is signed by the member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HubRequest {
    hub_domain: mimi_identifiers::Domain,
    endpoint: HubEndpoint,
    request: VLBytes,
}

impl HubRequest {
    const NAME: &'static str = "HubRequest";
    const HUB_DOMAIN: &'static str = "HubRequest.hub_domain";

    /// Longest encoding: a group operation of the largest size.
    pub const MAX_LEN: usize = 2 + 253 + 1 + 4 + crate::ds::DSRequest::MAX_LEN;

    pub fn new(
        hub_domain: &mimi_identifiers::Domain,
        endpoint: HubEndpoint,
        request: Vec<u8>,
    ) -> HubRequest {
        HubRequest {
            hub_domain: hub_domain.clone(),
            endpoint,
            request: request.into(),
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<HubRequest, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, Self::read)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<HubRequest, WireError> {
        let domain = r.vector(Self::HUB_DOMAIN, 253)?;
        let hub_domain = crate::framing::canonical_domain(Self::HUB_DOMAIN, domain)?;
        let value = r.u8()?;
        let endpoint = HubEndpoint::from_value(value).ok_or(WireError::UnknownValue {
            field: "HubRequest.endpoint",
            value: value.into(),
        })?;
        let request = r.vector("HubRequest.request", endpoint.max_request_len())?;
        endpoint.check_request(request)?;
        Ok(HubRequest {
            hub_domain,
            endpoint,
            request: VLBytes::new(request.to_vec()),
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let enc = |e| WireError::encoding(Self::NAME, e);
        let mut out = Vec::with_capacity(self.request.as_slice().len() + 300);
        VLBytes::new(self.hub_domain.as_str().as_bytes().to_vec())
            .tls_serialize(&mut out)
            .map_err(enc)?;
        self.endpoint.value().tls_serialize(&mut out).map_err(enc)?;
        self.request.tls_serialize(&mut out).map_err(enc)?;
        Self::decode(&out).map_err(|reason| WireError::Unencodable {
            what: Self::NAME,
            reason: Box::new(reason),
        })?;
        Ok(out)
    }

    pub fn hub_domain(&self) -> &mimi_identifiers::Domain {
        &self.hub_domain
    }

    pub fn endpoint(&self) -> HubEndpoint {
        self.endpoint
    }

    /// The endpoint's request, valid (decoding checked it).
    pub fn request(&self) -> &[u8] {
        self.request.as_slice()
    }
}
