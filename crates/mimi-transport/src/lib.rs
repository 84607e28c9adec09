//! HTTPS between MIMI servers (draft-kohbrok-mimi-transport).
//!
//! - [`https`]: rustls with TLS 1.3 only, certificates checked against configured
//!   TLS roots (never the identity roots), and a resolver map so that several
//!   servers can run on loopback, each under its own domain name.
//! - [`key_routes`] (§4, §5.1): serves our DS domain at
//!   `/.well-known/mimi/ds-domain` and our signature keys at `/signature_key`
//!   (a [`SignatureKeys`] list: current key, plus the next during a rotation).
//! - [`Discovery`] and [`KeyCache`]: a peer's DS domain and keys, fetched over
//!   HTTPS, cached, refetched at most once per interval per domain.
//! - [`receive`] (§2.2, §3): every check on an incoming signed event plus the
//!   replay table; the only producer of an [`AuthenticatedPeer`].
//!   [`receive_unrecorded`] runs the same checks but leaves the replay record
//!   to the caller, who stores it with the event's effect in one transaction
//!   (`/deliver_message`). [`spawn_replay_purger`] forgets expired records.
//! - [`RateLimiter`] (§6): token buckets per authenticated sender domain and
//!   per sender and endpoint, on the GCRA buckets of [`ratelimit`]; a
//!   request over a limit is refused with 429 and `Retry-After`.
//! - [`send`]: signs an event and POSTs it to the recipient's DS.
//! - [`TransportError`]: every failure, mapped to one HTTP status and an RFC 9457
//!   problem document in one place; [`problem_response`] makes the same
//!   documents for a provider's own errors.
//!
//! Encodings and statuses: docs/wire-spec.md §9 and §10.

mod cache;
mod error;
pub mod https;
mod keys;
mod purge;
pub mod ratelimit;
mod receive;
mod send;

pub use cache::{CacheConfig, Discovery, KeyCache};
pub use error::{PROBLEM_JSON, PROBLEM_TYPE_PREFIX, TransportError, problem_response};
pub use keys::{
    DS_DOMAIN_PATH, MAX_KEY_LIST_LEN, MAX_KEYS, SIGNATURE_KEY_PATH, ServedKeys, SignatureKeys,
    VERIFICATION_KEY_PATH, key_routes,
};
pub use purge::{run_replay_purger, spawn_replay_purger};
pub use receive::{
    Authenticated, AuthenticatedPeer, Checked, Config, OCTET_STREAM, RateLimiter, RateLimits,
    ReplayRecord, Unrecorded, read_body, receive, receive_unrecorded,
};
pub use send::{send, send_bytes};
