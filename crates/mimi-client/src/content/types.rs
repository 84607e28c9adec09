//! The data model of draft-ietf-mimi-content-08 §4 (CDDL in Appendix A.1).

use super::{ContentError, MessageId};

/// Length of the per-message random salt (§4.1: `salt: bstr .size 16`).
pub const SALT_LEN: usize = 16;

/// The plain-text media type every MIMI client must accept (§7.1).
pub const TEXT_PLAIN: &str = "text/plain;charset=utf-8";

/// The Markdown variant every MIMI client must accept (§7.1, §7.1.1).
pub const TEXT_MARKDOWN: &str = "text/markdown;variant=GFM-MIMI";

/// One MIMI content message: the `mimiContent` array of §4.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimiContent {
    /// Per-message random salt; part of the message ID (§3.3, §9.2).
    pub salt: [u8; SALT_LEN],
    /// The message this one edits, deletes or unlikes {1}.
    pub replaces: Option<MessageId>,
    /// Opaque topic (thread) identifier; empty for none {2}.
    pub topic_id: Vec<u8>,
    /// When receivers should delete the message {3}.
    pub expires: Option<Expiration>,
    /// The message this one replies or reacts to {4}.
    pub in_reply_to: Option<MessageId>,
    /// The extensions map {6}.
    pub extensions: Extensions,
    /// The body {7}.
    pub body: NestedPart,
}

impl MimiContent {
    /// A message with `body` and this salt, and every other field empty.
    #[must_use]
    pub fn new(salt: [u8; SALT_LEN], body: NestedPart) -> Self {
        Self {
            salt,
            replaces: None,
            topic_id: Vec::new(),
            expires: None,
            in_reply_to: None,
            extensions: Extensions::default(),
            body,
        }
    }

    /// A message with `body` and a fresh salt from the system's CSPRNG
    /// (§9.2: the salt MUST be cryptographically random).
    pub fn with_random_salt(body: NestedPart) -> Result<Self, ContentError> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| ContentError::Random)?;
        Ok(Self::new(salt, body))
    }

    /// Decodes a received message with the default [`Limits`].
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        Self::decode_with(bytes, &Limits::default())
    }

    /// Decodes a received message; refuses anything that is not the
    /// deterministic encoding of a valid message within `limits`.
    pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Self, ContentError> {
        super::decode::decode(bytes, limits)
    }

    /// Encodes the message in deterministic CBOR (§6.1), refusing what the
    /// draft forbids a sender to write (e.g. a multipart of fewer than two
    /// parts, or more than four levels of nesting).
    pub fn encode(&self) -> Result<Vec<u8>, ContentError> {
        super::encode::encode(self)
    }

    /// This message's ID as sent by `sender_uri` into `room_uri` (§3.3).
    pub fn message_id(&self, sender_uri: &str, room_uri: &str) -> Result<MessageId, ContentError> {
        let bytes = self.encode()?;
        MessageId::compute(sender_uri, room_uri, &bytes, &self.salt)
    }
}

/// The `Expiration` array of §4.1: seconds after reading, or an absolute
/// time in seconds since the UNIX epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    /// `[true, seconds]`: delete this long after the user read it.
    Relative(u32),
    /// `[false, seconds since epoch]`: delete at this time.
    Absolute(u32),
}

/// The extensions map of §4.3, with the two registered keys (§8.2.1) parsed
/// and every other extension kept as its encoded CBOR value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Key 1, `senderUri`.
    pub sender_uri: Option<String>,
    /// Key 2, `roomUri`.
    pub room_uri: Option<String>,
    /// Every other extension, kept so that a forwarded or quoted message
    /// loses nothing; in any order (encoding sorts them).
    pub other: Vec<Extension>,
}

/// One extension we do not interpret (§4.3: `unknownExtension`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// The map key.
    pub key: ExtensionKey,
    /// The value: exactly one deterministic CBOR data item (§6), at most
    /// 4,095 bytes.
    pub value: Vec<u8>,
}

/// An extension map key (§4.3: `name = int / tstr .size (1..255)`; §6.2:
/// integers within ±(2^53 − 1)).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExtensionKey {
    /// An integer key (positive: IANA registry; negative: private use).
    Int(i64),
    /// A text key of 1 to 255 octets (private use).
    Text(String),
}

impl std::fmt::Display for ExtensionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A body part with its disposition and language (§4.4 `NestedPart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedPart {
    /// How the part is meant to be presented {10}.
    pub disposition: Disposition,
    /// Empty, or a comma-separated list of RFC 5646 language tags {11}.
    pub language: String,
    /// The part itself.
    pub part: Part,
}

impl NestedPart {
    /// A rendered `text/plain;charset=utf-8` part.
    #[must_use]
    pub fn text(text: &str) -> Self {
        Self::single(TEXT_PLAIN, text.as_bytes().to_vec())
    }

    /// A rendered GFM-MIMI Markdown part.
    #[must_use]
    pub fn markdown(text: &str) -> Self {
        Self::single(TEXT_MARKDOWN, text.as_bytes().to_vec())
    }

    /// A rendered single part of any media type.
    #[must_use]
    pub fn single(content_type: &str, content: Vec<u8>) -> Self {
        Self {
            disposition: Disposition::RENDER,
            language: String::new(),
            part: Part::Single {
                content_type: content_type.to_owned(),
                content,
            },
        }
    }

    /// An empty body, as deletes and unlikes carry (§5.6, §5.7).
    #[must_use]
    pub fn null(disposition: Disposition) -> Self {
        Self {
            disposition,
            language: String::new(),
            part: Part::Null,
        }
    }

    /// The text of a single plain-text or GFM-MIMI Markdown part, if this is
    /// one and its content is UTF-8 (Markdown may be shown as plain text,
    /// §7.1).
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match &self.part {
            Part::Single {
                content_type,
                content,
            } if content_type == TEXT_PLAIN || content_type == TEXT_MARKDOWN => {
                std::str::from_utf8(content).ok()
            }
            _ => None,
        }
    }
}

/// The four part shapes of §4.4 (`cardinality` 0 to 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// No content (`nullpart = 0`).
    Null,
    /// Inline content (`single = 1`).
    Single {
        /// Media type with parameters {8}.
        content_type: String,
        /// The content.
        content: Vec<u8>,
    },
    /// Content referenced by URL (`external = 2`, §4.5).
    External(Box<ExternalPart>),
    /// Two or more parts (`multi = 3`).
    Multi {
        /// How the parts relate {9}.
        semantics: PartSemantics,
        /// The parts (at least two).
        parts: Vec<NestedPart>,
    },
}

/// An `ExternalPart` (§4.5): content fetched from a URL, usually encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPart {
    /// Media type of the content.
    pub content_type: String,
    /// Where to fetch it.
    pub url: String,
    /// Seconds since the epoch after which the URL is invalid; 0: never.
    pub expires: u32,
    /// Size in octets; 0: not given.
    pub size: u64,
    /// IANA AEAD algorithm number; 0: not encrypted.
    pub enc_alg: u16,
    /// AEAD key.
    pub key: Vec<u8>,
    /// AEAD nonce.
    pub nonce: Vec<u8>,
    /// AEAD additional authenticated data.
    pub aad: Vec<u8>,
    /// IANA Named Information hash algorithm of `content_hash`; 0: none.
    pub hash_alg: u8,
    /// Hash of the content at the URL.
    pub content_hash: Vec<u8>,
    /// Optional description.
    pub description: String,
    /// Optional suggested file name.
    pub filename: String,
}

/// How the parts of a multipart relate (§4.4 part semantics {9}).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartSemantics {
    /// `chooseOne = 0`: like multipart/alternative.
    ChooseOne,
    /// `singleUnit = 1`: like multipart/related.
    SingleUnit,
    /// `processAll = 2`: like multipart/mixed.
    ProcessAll,
}

impl PartSemantics {
    pub(super) fn code(self) -> u8 {
        match self {
            Self::ChooseOne => 0,
            Self::SingleUnit => 1,
            Self::ProcessAll => 2,
        }
    }

    pub(super) fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::ChooseOne),
            1 => Some(Self::SingleUnit),
            2 => Some(Self::ProcessAll),
            _ => None,
        }
    }
}

/// A part's disposition (§4.4, registry §8.2.2): 0 to 8 are defined, 9 to
/// 255 are kept as they are (`unknownDispos`), so it is a number, not an
/// enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Disposition(pub u8);

impl Disposition {
    /// No hint.
    pub const UNSPECIFIED: Self = Self(0);
    /// Render according to local policy.
    pub const RENDER: Self = Self(1);
    /// A single reaction to another message.
    pub const REACTION: Self = Self(2);
    /// A profile of a participant or room.
    pub const PROFILE: Self = Self(3);
    /// Render inline in the chat.
    pub const INLINE: Self = Self(4);
    /// An icon such as an avatar.
    pub const ICON: Self = Self(5);
    /// To be downloaded rather than rendered.
    pub const ATTACHMENT: Self = Self(6);
    /// A multimedia session or a URI to join one.
    pub const SESSION: Self = Self(7);
    /// A sender-generated preview.
    pub const PREVIEW: Self = Self(8);
}

/// Bounds on what [`MimiContent::decode_with`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest encoded message.
    pub max_message_bytes: usize,
    /// Most `NestedPart`s in one message, counting every level.
    pub max_parts: usize,
    /// Deepest `NestedPart` nesting; the draft's limit (§6.3) is 4, and a
    /// larger value here is capped at 4.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 1 MiB (an MLS application message carries inline parts; bulky content
    /// goes external, §4.5), 64 parts, depth 4.
    fn default() -> Self {
        Self {
            max_message_bytes: 1 << 20,
            max_parts: 64,
            max_depth: MAX_DRAFT_DEPTH,
        }
    }
}

/// §6.3: neither parts nor extension values nest more than four levels.
pub(super) const MAX_DRAFT_DEPTH: usize = 4;
