//! Errors of MIMI content encoding and decoding. A decoding error means the
//! received message is not valid draft-ietf-mimi-content-08: show it as
//! unreadable (naming the sender), never guess at its content.

/// What was wrong with a MIMI content message, naming the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    /// Longer than [`super::Limits::max_message_bytes`].
    #[error(
        "MIMI content message of {len} bytes exceeds the limit of {max} bytes: refuse it (bulky content belongs in an external part)"
    )]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The field is not the CBOR item the draft defines there.
    #[error("MIMI content field {field} is malformed ({detail}): refuse the message")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What the decoder found.
        detail: String,
    },
    /// Bytes follow the `mimiContent` array.
    #[error(
        "{count} bytes follow the MIMI content message: refuse it (one message is one CBOR array)"
    )]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// An array of the wrong length.
    #[error(
        "MIMI content field {field} is an array of {found} items, expected {expected}: refuse the message"
    )]
    ArrayLength {
        /// The field.
        field: &'static str,
        /// The length the draft defines.
        expected: u64,
        /// The length found.
        found: u64,
    },
    /// An indefinite-length item (§6.1 forbids them).
    #[error(
        "MIMI content field {field} uses indefinite-length encoding, which draft-ietf-mimi-content §6.1 forbids: refuse the message"
    )]
    Indefinite {
        /// The field.
        field: &'static str,
    },
    /// A fixed-size byte string of the wrong size.
    #[error("MIMI content field {field} is {found} bytes, expected {expected}: refuse the message")]
    Size {
        /// The field.
        field: &'static str,
        /// The size the draft defines.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// A number larger than its field allows.
    #[error("MIMI content field {field} is {value}, above its maximum {max}: refuse the message")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A part cardinality the draft does not define (§4.4).
    #[error(
        "MIMI content field cardinality is {found}; only 0 (null), 1 (single), 2 (external) and 3 (multi) exist: refuse the message"
    )]
    UnknownCardinality {
        /// The value found.
        found: u64,
    },
    /// A multipart semantics the draft does not define (§4.4).
    #[error(
        "MIMI content field partSemantics is {found}; only 0 (chooseOne), 1 (singleUnit) and 2 (processAll) exist: refuse the message"
    )]
    UnknownPartSemantics {
        /// The value found.
        found: u64,
    },
    /// A multipart with fewer than two parts (`parts: [2* NestedPart]`).
    #[error(
        "MIMI content field parts holds {found} parts; a multipart needs at least 2 (send a single part instead)"
    )]
    TooFewParts {
        /// The number found.
        found: usize,
    },
    /// More parts than [`super::Limits::max_parts`].
    #[error("MIMI content message has more than {max} body parts: refuse it")]
    TooManyParts {
        /// The limit.
        max: usize,
    },
    /// Nesting deeper than the limit (§6.3: 4 levels).
    #[error(
        "MIMI content field {field} nests deeper than {max} levels (draft-ietf-mimi-content §6.3): refuse the message"
    )]
    TooDeep {
        /// The field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// An extension key that is neither a small-enough integer nor a text
    /// string of 1 to 255 octets (§4.3, §6.2).
    #[error("MIMI content extension key is invalid: {detail}: refuse the message")]
    InvalidExtensionKey {
        /// What is wrong with it.
        detail: String,
    },
    /// The same extension key twice (§4.3 MUST NOT).
    #[error("MIMI content extension key {key} appears twice: refuse the message")]
    DuplicateExtensionKey {
        /// The key.
        key: String,
    },
    /// An extension value larger than `any .size (0..4095)`.
    #[error(
        "MIMI content extension {key} has a value of {len} bytes, above the 4095 the draft allows: refuse the message"
    )]
    ExtensionValueTooLarge {
        /// The key.
        key: String,
        /// The value's encoded length.
        len: usize,
    },
    /// A CBOR item the draft's data model excludes or we refuse (§6.2).
    #[error(
        "MIMI content field {field} holds {item}, which MIMI content does not allow here: refuse the message"
    )]
    Unsupported {
        /// The field.
        field: &'static str,
        /// What was found.
        item: &'static str,
    },
    /// Valid CBOR, but not the deterministic encoding §6.1 requires (e.g. a
    /// length not in its shortest form, or map keys out of order).
    #[error(
        "MIMI content field {field} is not in deterministic CBOR (RFC 8949 §4.2.1), which draft-ietf-mimi-content §6.1 requires: refuse the message"
    )]
    NotDeterministic {
        /// The field.
        field: &'static str,
    },
    /// A sender or room URI longer than the 16-bit length of §3.3.
    #[error(
        "{field} is {len} bytes; a message ID covers URIs of at most 65535 bytes: use a shorter URI"
    )]
    UriTooLong {
        /// Which URI.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The system's random generator failed.
    #[error(
        "the system random generator failed to produce a message salt: retry, and check the OS entropy source"
    )]
    Random,
    /// The CBOR encoder failed (it writes to memory, so this means a bug).
    #[error("the CBOR encoder failed writing {field}: {detail} (a bug: report it)")]
    Encoder {
        /// The field being written.
        field: &'static str,
        /// The encoder's message.
        detail: String,
    },
}
