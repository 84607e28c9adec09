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
//! - [`RateLimiter`] (§6): token buckets per authenticated sender domain and
//!   per sender and endpoint, on the GCRA buckets of [`ratelimit`]; a
//!   request over a limit is refused with 429 and `Retry-After`.
//! - [`send`]: signs an event and POSTs it to the recipient's DS.
//! - [`TransportError`]: every failure, mapped to one HTTP status in one place.
//!
//! Encodings and statuses: docs/wire-spec.md §9 and §10.

mod cache;
mod error;
pub mod https;
mod keys;
pub mod ratelimit;
mod receive;
mod send;

pub use cache::{CacheConfig, Discovery, KeyCache};
pub use error::TransportError;
pub use keys::{
    DS_DOMAIN_PATH, MAX_KEY_LIST_LEN, MAX_KEYS, SIGNATURE_KEY_PATH, ServedKeys, SignatureKeys,
    key_routes,
};
pub use receive::{
    Authenticated, AuthenticatedPeer, Config, OCTET_STREAM, RateLimiter, RateLimits, read_body,
    receive,
};
pub use send::{send, send_bytes};
