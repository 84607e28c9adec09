//! The `mimi_room_policy` GroupContext extension: what the hub of a room enforces
//! beyond MLS (draft-robert-mimi-delivery-service §9: the hub checks external joins
//! against the room's policy).
//!
//! ```text
//! extension_type = 0xF0A2 (mimi_room_policy), in the GroupContext
//! struct {
//!     uint8 external_joins;        /* 0 refused, 1 allowed */
//!     opaque allowed_domains<V>;   /* TLS vector of Domain; empty = any domain */
//! } RoomPolicy;
//! struct { opaque domain<V>; } Domain;   /* canonical ASCII form */
//! ```
//!
//! 0xF0A2 is private use (RFC 9420 §17.3) until registered, like
//! `mimi_queue_reference` (0xF0A1). It lives in the GroupContext so that every
//! member signs off on it (a change needs a GroupContextExtensions proposal, which
//! no hub operation allows yet) and the hub reads it from public state. A group
//! without it has the default policy: external joins refused, any domain.

use mimi_identifiers::Domain;
use openmls::extensions::{Extension, ExtensionType, Extensions, UnknownExtension};
use openmls::group::GroupContext;
use tls_codec::{Deserialize, Serialize, VLByteSlice, VLBytes};

use crate::codec_detail;

/// Extension type of `mimi_room_policy` (private use, RFC 9420 §17.3).
pub const ROOM_POLICY_EXTENSION_TYPE: u16 = 0xF0A2;

/// Most domains a room policy may list.
pub const MAX_ALLOWED_DOMAINS: usize = 256;

/// Largest encoded room policy: 256 domains of at most 253 bytes, with headers.
pub const MAX_ROOM_POLICY_LEN: usize = 1 + 4 + MAX_ALLOWED_DOMAINS * (2 + 253);

/// [`ROOM_POLICY_EXTENSION_TYPE`] as OpenMLS names it.
pub fn room_policy_extension_type() -> ExtensionType {
    ExtensionType::from(ROOM_POLICY_EXTENSION_TYPE)
}

/// Why a room policy is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomPolicyError {
    #[error("the room policy is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the room policy is malformed: {detail}")]
    Malformed { detail: String },
    #[error("the room policy's external_joins is {found}; it must be 0 (refused) or 1 (allowed)")]
    BadExternalJoins { found: u8 },
    #[error("the room policy lists more than {max} domains; list at most {max}")]
    TooManyDomains { max: usize },
    #[error(
        "allowed domain {index} of the room policy is not a canonical domain name: {detail}; send the lowercase ASCII (A-label) form"
    )]
    BadDomain { index: usize, detail: String },
    #[error("the room policy lists {domain} twice; list each domain once")]
    DuplicateDomain { domain: String },
}

/// A room's policy (the `mimi_room_policy` GroupContext extension).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomPolicy {
    /// Whether clients may join by external commit.
    pub external_joins: bool,
    /// The domains whose users may be members; empty means any domain.
    pub allowed_domains: Vec<Domain>,
}

impl RoomPolicy {
    /// Whether users of `domain` may be members.
    pub fn allows_domain(&self, domain: &Domain) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.contains(domain)
    }

    /// The TLS encoding; refuses what [`RoomPolicy::decode`] would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, RoomPolicyError> {
        let mut domains = Vec::new();
        for domain in &self.allowed_domains {
            VLByteSlice(domain.as_str().as_bytes())
                .tls_serialize(&mut domains)
                .map_err(|e| malformed(&e))?;
        }
        let mut out = vec![u8::from(self.external_joins)];
        VLByteSlice(&domains)
            .tls_serialize(&mut out)
            .map_err(|e| malformed(&e))?;
        Self::decode(&out)?;
        Ok(out)
    }

    /// Decodes exactly one policy of at most [`MAX_ROOM_POLICY_LEN`] bytes: at most
    /// [`MAX_ALLOWED_DOMAINS`] distinct canonical domains. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<RoomPolicy, RoomPolicyError> {
        if bytes.len() > MAX_ROOM_POLICY_LEN {
            return Err(RoomPolicyError::TooLarge {
                len: bytes.len(),
                max: MAX_ROOM_POLICY_LEN,
            });
        }
        let (&flag, mut rest) = bytes
            .split_first()
            .ok_or_else(|| RoomPolicyError::Malformed {
                detail: "it is empty".into(),
            })?;
        let external_joins = match flag {
            0 => false,
            1 => true,
            found => return Err(RoomPolicyError::BadExternalJoins { found }),
        };
        let list = VLBytes::tls_deserialize(&mut rest).map_err(|e| malformed(&e))?;
        if !rest.is_empty() {
            return Err(RoomPolicyError::Malformed {
                detail: format!("{} bytes follow it", rest.len()),
            });
        }
        let mut list = list.as_slice();
        let mut allowed_domains: Vec<Domain> = Vec::new();
        while !list.is_empty() {
            if allowed_domains.len() == MAX_ALLOWED_DOMAINS {
                return Err(RoomPolicyError::TooManyDomains {
                    max: MAX_ALLOWED_DOMAINS,
                });
            }
            let index = allowed_domains.len();
            let raw = VLBytes::tls_deserialize(&mut list).map_err(|e| malformed(&e))?;
            let domain = canonical_domain(index, raw.as_slice())?;
            if allowed_domains.contains(&domain) {
                return Err(RoomPolicyError::DuplicateDomain {
                    domain: domain.as_str().to_owned(),
                });
            }
            allowed_domains.push(domain);
        }
        Ok(RoomPolicy {
            external_joins,
            allowed_domains,
        })
    }

    /// The `mimi_room_policy` GroupContext extension carrying this policy.
    pub fn to_extension(&self) -> Result<Extension, RoomPolicyError> {
        Ok(Extension::Unknown(
            ROOM_POLICY_EXTENSION_TYPE,
            UnknownExtension(self.encode()?),
        ))
    }

    /// The policy in a group context: the extension's, or the default if it has none.
    pub fn from_group_context(context: &GroupContext) -> Result<RoomPolicy, RoomPolicyError> {
        Self::from_extensions(context.extensions())
    }

    /// The policy among GroupContext extensions, or the default if there is none.
    pub fn from_extensions<T>(extensions: &Extensions<T>) -> Result<RoomPolicy, RoomPolicyError> {
        match extensions.unknown(ROOM_POLICY_EXTENSION_TYPE) {
            Some(ext) => Self::decode(&ext.0),
            None => Ok(RoomPolicy::default()),
        }
    }
}

fn malformed(e: &tls_codec::Error) -> RoomPolicyError {
    RoomPolicyError::Malformed {
        detail: codec_detail(e),
    }
}

fn canonical_domain(index: usize, raw: &[u8]) -> Result<Domain, RoomPolicyError> {
    let bad = |detail: String| RoomPolicyError::BadDomain { index, detail };
    let text = std::str::from_utf8(raw).map_err(|_| bad("it is not UTF-8".into()))?;
    let domain = Domain::parse(text).map_err(|e| bad(e.to_string()))?;
    if domain.as_str() != text {
        return Err(bad(format!("its canonical form is {}", domain.as_str())));
    }
    Ok(domain)
}
