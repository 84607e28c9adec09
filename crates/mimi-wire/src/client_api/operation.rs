//! The operations of the client API and their endpoints: one table, like
//! [`EventKind`](crate::EventKind)'s.

use std::fmt;

use super::CLIENT_REQUEST_OVERHEAD;
use super::bodies::{
    AckRequest, FetchRequest, HubRequest, KeyPackageCountRequest, ListenRequest, RegisterRequest,
    UploadKeyPackagesRequest,
};
use super::enrollment::{EnrollDeviceRequest, EnrollUserRequest};
use super::retire::RetireQueueReferenceRequest;

/// ```text
/// enum {
///     reserved(0), register(1), fetch(2), ack(3), upload_key_packages(4),
///     key_package_count(5), listen(6), hub(7), enroll_user(8),
///     enroll_device(9), retire_queue_reference(10), (255)
/// } ClientOperation;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ClientOperation {
    /// Register a device and get its queue: [`RegisterRequest`].
    Register = 1,
    /// Read the queue: [`FetchRequest`].
    Fetch = 2,
    /// Delete what was read: [`AckRequest`].
    Ack = 3,
    /// Store KeyPackages for others to claim: [`UploadKeyPackagesRequest`].
    UploadKeyPackages = 4,
    /// How many KeyPackages are left: [`KeyPackageCountRequest`].
    KeyPackageCount = 5,
    /// Push over a WebSocket: [`ListenRequest`].
    Listen = 6,
    /// A request for a room's hub, served or forwarded by the provider:
    /// [`HubRequest`].
    Hub = 7,
    /// Enroll the first device of a user at the domain CA:
    /// [`EnrollUserRequest`].
    EnrollUser = 8,
    /// Enroll another device of the signing device's user:
    /// [`EnrollDeviceRequest`].
    EnrollDevice = 9,
    /// Refuse deliveries addressed with one of the device's queue
    /// references: [`RetireQueueReferenceRequest`].
    RetireQueueReference = 10,
}

/// (operation, name, endpoint path, largest body): the single table. The body
/// bounds are those of each request structure.
const TABLE: [(ClientOperation, &str, &str, usize); 10] = [
    (
        ClientOperation::Register,
        "register",
        "/client/v1/register",
        RegisterRequest::MAX_LEN,
    ),
    (
        ClientOperation::Fetch,
        "fetch",
        "/client/v1/fetch",
        FetchRequest::LEN,
    ),
    (
        ClientOperation::Ack,
        "ack",
        "/client/v1/ack",
        AckRequest::LEN,
    ),
    (
        ClientOperation::UploadKeyPackages,
        "upload_key_packages",
        "/client/v1/upload_key_packages",
        UploadKeyPackagesRequest::MAX_LEN,
    ),
    (
        ClientOperation::KeyPackageCount,
        "key_package_count",
        "/client/v1/key_package_count",
        KeyPackageCountRequest::LEN,
    ),
    (
        ClientOperation::Listen,
        "listen",
        "/client/v1/listen",
        ListenRequest::LEN,
    ),
    (
        ClientOperation::Hub,
        "hub",
        "/client/v1/hub",
        HubRequest::MAX_LEN,
    ),
    (
        ClientOperation::EnrollUser,
        "enroll_user",
        "/client/v1/enroll_user",
        EnrollUserRequest::MAX_LEN,
    ),
    (
        ClientOperation::EnrollDevice,
        "enroll_device",
        "/client/v1/enroll_device",
        EnrollDeviceRequest::MAX_LEN,
    ),
    (
        ClientOperation::RetireQueueReference,
        "retire_queue_reference",
        "/client/v1/retire_queue_reference",
        RetireQueueReferenceRequest::MAX_LEN,
    ),
];

impl ClientOperation {
    /// Every operation, in wire-value order.
    pub const ALL: [ClientOperation; 10] = [
        ClientOperation::Register,
        ClientOperation::Fetch,
        ClientOperation::Ack,
        ClientOperation::UploadKeyPackages,
        ClientOperation::KeyPackageCount,
        ClientOperation::Listen,
        ClientOperation::Hub,
        ClientOperation::EnrollUser,
        ClientOperation::EnrollDevice,
        ClientOperation::RetireQueueReference,
    ];

    fn row(self) -> &'static (ClientOperation, &'static str, &'static str, usize) {
        // TABLE lists every operation once, in wire-value order from 1 (a test
        // checks it).
        &TABLE[self as usize - 1]
    }

    /// The value on the wire.
    pub fn value(self) -> u8 {
        self as u8
    }

    /// The operation with this wire value; reserved(0) and unknown values are
    /// `None`.
    pub fn from_value(value: u8) -> Option<ClientOperation> {
        TABLE
            .iter()
            .find(|row| row.0 as u8 == value)
            .map(|row| row.0)
    }

    /// The name, e.g. `"upload_key_packages"`: the last segment of the path.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The endpoint, e.g. `"/client/v1/register"` (POST, except `listen`, a
    /// WebSocket upgrade GET).
    pub fn endpoint_path(self) -> &'static str {
        self.row().2
    }

    /// The operation served at `path`, if any.
    pub fn from_endpoint_path(path: &str) -> Option<ClientOperation> {
        TABLE.iter().find(|row| row.2 == path).map(|row| row.0)
    }

    /// Largest encoded request body of this operation.
    pub fn max_body_len(self) -> usize {
        self.row().3
    }

    /// Largest encoded [`ClientRequest`](super::ClientRequest) of this operation:
    /// the bound a server applies to the HTTP body before reading it.
    pub fn max_request_len(self) -> usize {
        self.max_body_len() + CLIENT_REQUEST_OVERHEAD
    }
}

impl fmt::Display for ClientOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
