//! A MIMI provider (DESIGN.md, "Actors"): for its domain, the queueing service
//! (one durable queue per client), the KeyPackage store, the client registry
//! with a signed client API and WebSocket push, and the S2S endpoints of
//! draft-kohbrok-mimi-transport §5 through which other providers reach them.
//!
//! - [`config`]: `provider.toml` → [`Settings`].
//! - [`server`]: [`start`]/[`run`]: keys (0600, created on first start),
//!   storage (SQLite or PostgreSQL), TLS listeners, `/metrics`, replay purge.
//! - [`signing_keys`]: the S2S signing keys' records and their rotation.
//! - [`qs`], [`kps`], [`clients`], [`discovery`]: the services, without HTTP.
//! - [`enrollment`]: users' devices enrolled at the domain CA over ACME, the
//!   provider acting as registrar (`enroll_user` with an invite or open
//!   registration, `enroll_device` by a registered device of the user).
//! - [`revocation`]: the CRLs the provider relays at
//!   `/.well-known/mimi/crls`, and the revocation of a device at the
//!   domain CA (`mimi-server provider revoke-device`).
//! - [`ds`]: the hub (delivery service) for the rooms this provider owns:
//!   member-signed group operations validated against OpenMLS public group
//!   state, stored with their fan-out in one transaction, and the outbox
//!   worker that delivers to every member's provider in order.
//! - [`api`]: the routes and the one place errors become problem documents.
//! - `testing` (feature `test-utils`): a test PKI, loopback federations of
//!   real providers and test clients, for tests and benchmarks;
//!   `testing_ca`: a real domain CA on loopback and a provider enrolling at
//!   it.
//!
//! **Invariant:** nothing is read from a request body before its sender is
//! authenticated: S2S bodies by `mimi_transport` (signature under the
//! sender's fetched key), client bodies by [`clients`] (signature under the
//! key the client registered with a verified credential).
//!
//! **Invariant:** nothing is acknowledged before it is committed; a delivery
//! and its replay record commit together.

pub mod api;
pub mod clients;
pub mod config;
pub mod discovery;
pub mod ds;
pub mod enrollment;
mod error;
pub mod kps;
pub mod metrics;
pub mod outbound;
pub mod qs;
pub mod revocation;
pub mod secret_file;
pub mod server;
pub mod signing_keys;
mod state;
#[cfg(feature = "test-utils")]
pub mod testing;
#[cfg(feature = "test-utils")]
pub mod testing_ca;

pub use config::{ProviderConfig, Settings};
pub use error::{ConfigError, ProviderError, StartError};
pub use server::{QUEUE_KEY_FILE, Running, SIGNING_KEY_FILE, run, start, start_on};
pub use state::Provider;
