//! The HPKE labels of this crate, all in one place so that no two uses can share one.
//!
//! As in RFC 9420 §5.1.3 (`EncryptWithLabel`), an HPKE `info` is
//! `struct { opaque label<V>; opaque context<V>; }` with `label` one of these
//! strings (ASCII, no terminator). Unlike MLS, the whole label is spelled out here
//! (MLS prefixes "MLS 1.0 "), so each constant is exactly the bytes encoded, and the
//! "MIMI 1.0 " prefix keeps them apart from every MLS label.

/// Label of the HPKE encryption of a queue ID to its provider's queue key
/// (draft-kohbrok-mimi-metadata-minimalization §8); the context is the provider's
/// domain. See [`queue_id_hpke_info`](crate::queue_id_hpke_info).
pub const QUEUE_ID: &str = "MIMI 1.0 QueueId";

/// Every label defined here; tests check that they are distinct.
pub const ALL: &[&str] = &[QUEUE_ID];
