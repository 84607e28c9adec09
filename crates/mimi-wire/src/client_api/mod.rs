//! The client API: how a device talks to its own provider (ours; no draft defines
//! it, see docs/draft-divergences.md, "Provider endpoints").
//!
//! Every request is a POST to `/client/v1/<operation>` ([`ClientOperation`]) whose
//! body is one TLS-encoded [`ClientRequest`]: a [`ClientRequestTbs`] naming the
//! device, a creation time, a random request ID, the operation and its request
//! structure, signed with the device's MLS signature key (the key of its device
//! certificate) under the label `"MIMI 1.0 ClientRequest"`. The `listen` operation
//! is a WebSocket upgrade instead, the signed request travelling in the
//! [`LISTEN_HEADER`] header. docs/wire-spec.md §13 has the exact bytes, the checks
//! a provider makes and its status codes.
//!
//! mimi-wire does not verify these signatures: device keys may be Ed25519 or ECDSA
//! P-256 and belong to X.509 credentials, which the provider checks with
//! mimi-credentials. This module gives the exact bytes to sign and verify
//! ([`ClientRequestTbs::signed_content`]).

mod bodies;
mod enrollment;
mod operation;
mod request;
mod retire;

pub use bodies::{
    AckRequest, AckResponse, FetchRequest, FetchResponse, HubEndpoint, HubRequest,
    KeyPackageCountRequest, KeyPackageCountResponse, ListenRequest, QueuedMessage, RegisterRequest,
    RegisterResponse, UploadKeyPackagesRequest, UploadKeyPackagesResponse,
};
pub use enrollment::{
    EnrollDeviceRequest, EnrollUserRequest, EnrollmentResponse, MAX_DIRECTORY_URL_LEN,
    MAX_EAB_KEY_LEN, MAX_EAB_KID_LEN, MAX_ENROLL_KEY_LEN, MAX_IDENTIFIER_TYPE_LEN,
    MAX_IDENTIFIER_VALUE_LEN, MAX_INVITE_CODE_LEN, MAX_PREAUTHORIZED, PreauthorizedIdentifier,
};
pub use operation::ClientOperation;
pub use request::{ClientRequest, ClientRequestBody, ClientRequestTbs};
pub use retire::{RetireQueueReferenceRequest, RetireQueueReferenceResponse};

use crate::ids::MAX_ID_LEN;

/// Length of a request ID: 128 random bits, so that IDs never collide by chance.
pub const REQUEST_ID_LEN: usize = 16;

/// Longest signature accepted: an Ed25519 signature is 64 bytes, a DER ECDSA
/// P-256 one at most 72 (P-521: 139).
pub const MAX_SIGNATURE_LEN: usize = 256;

/// Most certificates in a registration's chain (as mimi-credentials verifies).
pub const MAX_CERTIFICATES: usize = 6;

/// Largest certificate (DER), as mimi-credentials accepts.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// Most CRLs in a registration: the identity root's, a domain CA's, a
/// phone-number CA's, with room for sharded CRLs.
pub const MAX_CRLS: usize = 8;

/// Largest `crls` vector in bytes (its content, length prefixes included): 8 MiB.
/// A CRL costs 35 bytes per revoked serial, so a domain CA's CRL of 100,000
/// revocations is 3.5 MB (BENCHMARKS.md); 8 MiB holds two of those besides the
/// small ones, and is the largest CRL mimi-credentials reads.
pub const MAX_CRLS_LEN: usize = 8 << 20;

/// Most KeyPackages in one upload.
pub const MAX_KEY_PACKAGES_PER_UPLOAD: usize = 100;

/// Largest `limit` of a fetch, and most messages in a [`FetchResponse`].
pub const MAX_FETCH_LIMIT: u32 = 1000;

/// Largest encoded [`FetchResponse`] (and WebSocket frame): 4 MiB. A server stops
/// adding messages before the next would cross it; one message (at most
/// 1 MiB + 12 bytes) always fits.
pub const MAX_FETCH_RESPONSE_LEN: usize = 4 << 20;

/// What a [`ClientRequest`] adds to its body at most: `client_id` (2 +
/// [`MAX_ID_LEN`]), `created_at_ms` (8), `request_id` (16), `operation` (1), the
/// body's length (4) and the signature (2 + [`MAX_SIGNATURE_LEN`]).
pub const CLIENT_REQUEST_OVERHEAD: usize =
    2 + MAX_ID_LEN + 8 + REQUEST_ID_LEN + 1 + 4 + 2 + MAX_SIGNATURE_LEN;

/// Largest [`ClientRequest`] of any operation but `register` and `hub`: 7 MiB. The largest
/// such request is a full KeyPackage upload (100 × 64 KiB, 6.25 MiB); the rest is
/// headroom for an operation carrying a 1 MiB MLS message beside its metadata.
/// Each operation has its own tighter bound, [`ClientOperation::max_request_len`],
/// which is what a server should apply.
pub const MAX_CLIENT_REQUEST_LEN: usize = 7 << 20;

/// Largest [`ClientRequest`] of `register`, the only operation carrying CRLs
/// (about 8.1 MiB).
pub const MAX_REGISTER_REQUEST_LEN: usize = RegisterRequest::MAX_LEN + CLIENT_REQUEST_OVERHEAD;

/// Largest [`ClientRequest`] of `hub`, the only operation carrying a group
/// operation with its CRLs (about 10.4 MiB).
pub const MAX_HUB_REQUEST_LEN: usize = HubRequest::MAX_LEN + CLIENT_REQUEST_OVERHEAD;

/// Largest [`ClientRequest`] of any operation: what a decoder that does not yet
/// know the operation bounds the input by. A server bounds each endpoint's body
/// by [`ClientOperation::max_request_len`] first.
pub const MAX_ANY_CLIENT_REQUEST_LEN: usize = if MAX_HUB_REQUEST_LEN > MAX_REGISTER_REQUEST_LEN {
    MAX_HUB_REQUEST_LEN
} else {
    MAX_REGISTER_REQUEST_LEN
};

/// The header of the WebSocket upgrade `GET /client/v1/listen` that carries the
/// signed `listen` request, base64url without padding.
pub const LISTEN_HEADER: &str = "MIMI-Client-Request";

/// Longest [`LISTEN_HEADER`] value accepted: the base64url length of the largest
/// `listen` request (under 2 KiB, within every HTTP server's header limits).
pub const MAX_LISTEN_HEADER_LEN: usize =
    (ListenRequest::LEN + CLIENT_REQUEST_OVERHEAD).div_ceil(3) * 4;
