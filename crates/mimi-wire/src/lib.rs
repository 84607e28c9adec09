//! The wire format between MIMI providers.
//!
//! - [`S2SMessage`], [`Event`], [`EventType`] and [`ProtocolVersion`]: the framing of
//!   draft-kohbrok-mimi-transport §3, field for field, encoded with RFC 9420
//!   variable-length vectors so that peers built to the draft can read it.
//! - [`EventKind`]: the event-type strings we send and accept (one per endpoint of
//!   draft-kohbrok-mimi-transport §5.2-5.9).
//! - [`SigningKey`], [`ServerVerificationKey`], [`S2SMessage::sign`] and
//!   [`S2SMessage::verify`]: Ed25519 signatures over a labelled input (RFC 9420
//!   §5.1.2 `SignWithLabel` as the model; labels in [`labels`]). Only `verify`
//!   produces a [`VerifiedS2SMessage`].
//! - [`EventEnvelope`], [`check_freshness`] and [`ReplayKey`]: replay defence inside
//!   `event_payload`, leaving `S2SMessage` as the draft has it.
//! - [`check_incoming`]: every check a receiver makes, in order, each failure its
//!   own [`WireError`].
//! - [`qs`], [`kps`]: the bodies of the provider-to-provider endpoints
//!   (`/deliver_message`, `/connection_request`, `/group_key_packages`,
//!   `/connection_key_packages`), carried in an [`EventEnvelope`].
//! - [`HpkeCiphertext`], [`QueueEncryptionKey`], [`QueueReference`]: a client's
//!   queue ID sealed to its provider's key, and the reference (provider domain and
//!   that ciphertext) a client puts in its MLS leaf for hubs to route by.
//! - [`ds`]: the hub's requests (`/group_operation`, `/welcome_information`,
//!   `/external_commit_information`), signed by group members, its responses, and
//!   the [`FanoutMessage`](ds::FanoutMessage) it puts in members' queues.
//! - [`client_api`]: the signed requests a device sends its own provider
//!   (`/client/v1/<operation>`), and the responses.
//!
//! Every structure of [`qs`], [`kps`] and [`client_api`] (re-exported here) has a
//! `decode` that takes exactly one structure within its bounds, naming the field
//! it refuses, and an `encode` that refuses ([`WireError::Unencodable`]) what
//! `decode` would refuse, so that nothing is sent that a receiver must refuse.
//!
//! The exact bytes are specified in `docs/wire-spec.md`; decisions where the draft
//! is silent are in `docs/draft-divergences.md`.
//!
//! **Invariant:** pure (no I/O, no async); every decoder takes a length bound and
//! never panics, whatever the bytes.
//!
//! ```
//! use mimi_identifiers::Domain;
//! use mimi_wire::{
//!     check_incoming, Event, EventEnvelope, EventKind, ProtocolVersion, S2SMessage, SigningKey,
//! };
//!
//! let a: Domain = "a.example".parse()?;
//! let b: Domain = "b.example".parse()?;
//! let key = SigningKey::from_pkcs8(&SigningKey::generate_pkcs8()?)?;
//! let now_ms = 1_700_000_000_000;
//!
//! // a.example sends.
//! let envelope = EventEnvelope::new(b"an MLS message".to_vec(), now_ms)?;
//! let event = Event::with_envelope(EventKind::GroupOperation, &envelope)?;
//! let bytes = S2SMessage::sign(ProtocolVersion::Mimi10, &a, &b, event, &key)?.encode()?;
//!
//! // b.example receives, knowing a.example's key.
//! let a_key = key.verification_key(0, u64::MAX);
//! let lookup = |d: &Domain| (d == &a).then(|| a_key.clone());
//! let (msg, env) = check_incoming(&bytes, &b, lookup, now_ms, 60_000, 1 << 20)?;
//! assert_eq!(msg.sender(), &a);
//! assert_eq!(msg.event_kind()?, EventKind::GroupOperation);
//! assert_eq!(env.body(), b"an MLS message");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client_api;
pub mod crls;
pub mod ds;
mod envelope;
mod error;
mod event_kind;
mod framing;
mod ids;
mod incoming;
pub mod kps;
pub mod labels;
pub mod qs;
mod queue;
mod reader;
mod signature;

pub use client_api::{
    AckRequest, AckResponse, CLIENT_REQUEST_OVERHEAD, ClientOperation, ClientRequest,
    ClientRequestBody, ClientRequestTbs, FetchRequest, FetchResponse, HubEndpoint, HubRequest,
    KeyPackageCountRequest, KeyPackageCountResponse, LISTEN_HEADER, ListenRequest,
    MAX_ANY_CLIENT_REQUEST_LEN, MAX_CERTIFICATE_LEN, MAX_CERTIFICATES, MAX_CLIENT_REQUEST_LEN,
    MAX_CRLS, MAX_CRLS_LEN, MAX_FETCH_LIMIT, MAX_FETCH_RESPONSE_LEN, MAX_HUB_REQUEST_LEN,
    MAX_KEY_PACKAGES_PER_UPLOAD, MAX_LISTEN_HEADER_LEN, MAX_REGISTER_REQUEST_LEN,
    MAX_SIGNATURE_LEN, QueuedMessage, REQUEST_ID_LEN, RegisterRequest, RegisterResponse,
    UploadKeyPackagesRequest, UploadKeyPackagesResponse,
};
pub use envelope::{
    DEFAULT_FRESHNESS_WINDOW_MS, EventEnvelope, MESSAGE_ID_LEN, ReplayKey, check_freshness,
};
pub use error::{Fault, WireError};
pub use event_kind::EventKind;
pub use framing::{
    DEFAULT_MAX_MESSAGE_LEN, Event, EventType, MAX_EVENT_TYPE_LEN, ProtocolVersion, S2SMessage,
};
pub use ids::{MAX_HANDLE_LEN, MAX_ID_LEN};
pub use incoming::check_incoming;
pub use kps::{
    ClientKeyPackage, ConnectionKeyPackageRequest, GroupKeyPackageRequest, GroupKeyPackageResponse,
    MAX_CLIENT_KEY_PACKAGES, MAX_CONNECTION_TOKEN_LEN, MAX_KEY_PACKAGE_LEN,
};
pub use qs::{
    DeliverMessageRequest, DeliverMessageResponse, MAX_RECIPIENTS, QueueingServiceRequest,
    QueueingServiceRequestType, QueueingServiceResponse, RecipientStatus,
};
pub use queue::{
    HpkeCiphertext, MAX_HPKE_CIPHERTEXT_LEN, MAX_QUEUE_KEY_LEN, MAX_QUEUE_REFERENCE_LEN,
    QUEUE_ID_LEN, QueueEncryptionKey, QueueReference,
};
pub use signature::{ServerVerificationKey, SignatureScheme, SigningKey, VerifiedS2SMessage};

/// The codec crate, re-exported so that users (and tests building raw inputs) encode
/// with the same version and features (`mls`) as this crate.
pub use tls_codec;
