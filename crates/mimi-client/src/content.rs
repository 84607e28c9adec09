//! MIMI content messages (draft-ietf-mimi-content-08): the CBOR payload of
//! every MLS application message a MIMI client sends, so that other MIMI
//! clients can read ours and we theirs.
//!
//! [`MimiContent`] is the `mimiContent` array of §4.1 (salt, replaces,
//! topicId, expires, inReplyTo, extensions, body); [`NestedPart`] the body of
//! §4.4 with null, single, external (§4.5) and multi parts. [`MimiContent::encode`]
//! writes the deterministic CBOR §6.1 requires; [`MimiContent::decode`] reads
//! only that (a message that is not byte-for-byte deterministic is refused,
//! so every message has exactly one encoding and one message ID), bounded by
//! [`Limits`]. [`MessageId`] is the §3.3 hash over sender URI, room URI,
//! message and salt. What we do not implement, and why: docs/content.md.

mod cbor;
mod decode;
mod encode;
mod error;
mod message_id;
mod types;

pub use error::ContentError;
pub use message_id::MessageId;
pub use types::{
    Disposition, Expiration, Extension, ExtensionKey, Extensions, ExternalPart, Limits,
    MimiContent, NestedPart, Part, PartSemantics, SALT_LEN, TEXT_MARKDOWN, TEXT_PLAIN,
};
