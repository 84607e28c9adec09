//! The event types we send and accept, as the strings of the draft's "MIMI Event
//! Types" registry (draft-kohbrok-mimi-transport §7.1).
//!
//! The draft registers no strings itself; it only gives the pattern
//! `mimi.<document>.<event>` and the example `mimi.delivery-service.add`. We name one
//! event per server-to-server endpoint of §5.2-5.9, the event name being the
//! endpoint's path with `_` written `-`, under the service that serves it: the
//! delivery service for `DSRequest`s and KeyPackage retrieval, the queueing service
//! for `QueueingServiceRequest`s. One more, `mimi.discovery.key-query`, carries a
//! signed key-discovery query (docs/key-discovery.md). This table is the only
//! place the strings exist.

use std::fmt;
use std::str::FromStr;

use crate::error::{WireError, quote};

/// One kind of event carried by an [`S2SMessage`](crate::S2SMessage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventKind {
    /// §5.2 Process Group Message (`POST /group_operation`): an MLS message for a
    /// group the receiving hub owns.
    GroupOperation,
    /// §5.3 Welcome Information (`GET /welcome_information`): ratchet tree and member
    /// authentication data for a client that holds a Welcome.
    WelcomeInformation,
    /// §5.4 External Commit Information (`GET /external_commit_information`): what a
    /// client needs to join by external commit.
    ExternalCommitInformation,
    /// §5.6 Deliver Connection Request (`POST /connection_request`).
    ConnectionRequest,
    /// §5.7 Deliver Message (`POST /deliver_message`): fan-out from a hub to a
    /// member's provider.
    DeliverMessage,
    /// §5.8 Connection KeyPackage Retrieval (`POST /connection_key_packages`).
    ConnectionKeyPackages,
    /// §5.9 Group KeyPackage Retrieval (`POST /group_key_packages`).
    GroupKeyPackages,
    /// Key-material discovery by a searcher that proves its domain
    /// (`POST /.well-known/mimi/keys`, draft-mahy-mimi-identity "Discovery of
    /// Keying Material"; docs/key-discovery.md). The body is the query string.
    KeyQuery,
}

/// (kind, registry string, endpoint path): the single table.
const TABLE: [(EventKind, &str, &str); 8] = [
    (
        EventKind::GroupOperation,
        "mimi.delivery-service.group-operation",
        "/group_operation",
    ),
    (
        EventKind::WelcomeInformation,
        "mimi.delivery-service.welcome-information",
        "/welcome_information",
    ),
    (
        EventKind::ExternalCommitInformation,
        "mimi.delivery-service.external-commit-information",
        "/external_commit_information",
    ),
    (
        EventKind::ConnectionRequest,
        "mimi.queueing-service.connection-request",
        "/connection_request",
    ),
    (
        EventKind::DeliverMessage,
        "mimi.queueing-service.deliver-message",
        "/deliver_message",
    ),
    (
        EventKind::ConnectionKeyPackages,
        "mimi.delivery-service.connection-key-packages",
        "/connection_key_packages",
    ),
    (
        EventKind::GroupKeyPackages,
        "mimi.delivery-service.group-key-packages",
        "/group_key_packages",
    ),
    (
        EventKind::KeyQuery,
        "mimi.discovery.key-query",
        "/.well-known/mimi/keys",
    ),
];

impl EventKind {
    /// Every kind, in the draft's section order.
    pub const ALL: [EventKind; 8] = [
        EventKind::GroupOperation,
        EventKind::WelcomeInformation,
        EventKind::ExternalCommitInformation,
        EventKind::ConnectionRequest,
        EventKind::DeliverMessage,
        EventKind::ConnectionKeyPackages,
        EventKind::GroupKeyPackages,
        EventKind::KeyQuery,
    ];

    fn row(self) -> &'static (EventKind, &'static str, &'static str) {
        // TABLE lists every variant once, in declaration order (a test checks it).
        &TABLE[self as usize]
    }

    /// The registry string, e.g. `"mimi.delivery-service.group-operation"`.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The path of the draft's endpoint, e.g. `"/group_operation"`.
    pub fn endpoint_path(self) -> &'static str {
        self.row().2
    }

    /// The kind served at `path` (exactly one of the draft's endpoint paths).
    pub fn from_endpoint_path(path: &str) -> Option<EventKind> {
        TABLE.iter().find(|row| row.2 == path).map(|row| row.0)
    }

    /// The kind whose registry string is exactly `bytes` (case-sensitive).
    pub fn from_bytes(bytes: &[u8]) -> Result<EventKind, WireError> {
        TABLE
            .iter()
            .find(|row| row.1.as_bytes() == bytes)
            .map(|row| row.0)
            .ok_or_else(|| WireError::UnknownEventType {
                event_type: quote(bytes),
            })
    }
}

impl FromStr for EventKind {
    type Err = WireError;
    fn from_str(s: &str) -> Result<EventKind, WireError> {
        EventKind::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
