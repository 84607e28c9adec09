//! The MIMI client library (issue 7): what a MIMI client does on behalf of one
//! device, for the `mimi` CLI, the demo and the tests alike.
//!
//! When complete, this crate will register users and devices with a provider,
//! enroll credentials at the domain CA over ACME (the MLS signature key is the
//! certificate's key, draft-barnes-mimi-identity-arch §4.2) and renew them,
//! upload KeyPackages, create rooms on its provider's hub, add, remove and
//! update members, join by external commit, send and receive
//! draft-ietf-mimi-content messages through its queue, and verify every member
//! change against its own identity roots and policy (the hub is not trusted
//! for identity).
//!
//! This first slice holds only the durable MLS state: [`store::MlsStore`],
//! OpenMLS's (synchronous) `StorageProvider` over an in-memory map whose
//! changes are persisted, one MLS operation at a time, in one transaction of
//! the client's SQLite file; and [`MlsProvider`], the `OpenMlsProvider` the
//! client runs OpenMLS with. There is no network code yet.
//!
//! [`content`] reads and writes draft-ietf-mimi-content messages (the CBOR
//! payload of every application message) and computes their message IDs.

pub mod content;
pub mod store;

mod provider;

pub use provider::MlsProvider;
pub use store::{EntryError, MlsStore, StoreError};
