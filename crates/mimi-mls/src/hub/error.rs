//! Why the hub refused something. Every variant is the sender's fault except
//! [`HubError::Snapshot`] (our storage) and [`HubError::Internal`] (our bug).

use mimi_credentials::{CertificateError, VerifyError};

use crate::credential::CredentialError;
use crate::room_policy::RoomPolicyError;

use super::CommitKind;

/// Why a leaf's credential was refused (draft-robert-mimi-delivery-service §9:
/// the hub checks every new or changed leaf's credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialRefusal {
    #[error("its credential is unusable: {0}")]
    Unusable(CredentialError),
    #[error("certificate {index} of its chain cannot be read: {error}")]
    Unreadable {
        index: usize,
        error: CertificateError,
    },
    #[error("its certificate chain does not verify: {0}")]
    Chain(VerifyError),
    #[error(
        "its leaf certificate's key is not the leaf node's signature key; the device certificate must certify the MLS signature key"
    )]
    KeyMismatch,
    #[error(
        "its certificate names no device; a group member's credential must carry a device URI (mimi://<domain>/d/<user>/<device>)"
    )]
    NoDevice,
    #[error("it has no mimi_queue_reference extension (0xF0A1); the hub cannot deliver to it")]
    MissingQueueReference,
    #[error("its mimi_queue_reference extension is malformed: {detail}")]
    MalformedQueueReference { detail: String },
    #[error(
        "its queue is at {queue_domain} but its credential is of {user_domain}; an X.509 member's queue is at its own provider"
    )]
    QueueDomainMismatch {
        queue_domain: String,
        user_domain: String,
    },
    #[error("the room's policy does not allow members of {domain}")]
    DomainNotAllowed { domain: String },
    #[error(
        "it changes the member's identity from {before} to {after}; an update keeps the same user and device, so join as a new member instead"
    )]
    IdentityChanged { before: String, after: String },
}

/// Why the hub refused a group creation, a commit, a proposal, an application
/// message or a request signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    #[error("the {what} is {len} bytes; at most {max} are accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the {what} is malformed: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("expected {expected}, got {found}")]
    WrongMessageType {
        expected: &'static str,
        found: String,
    },
    #[error(
        "the handshake message is a PrivateMessage; the hub must see handshakes, so send them as PublicMessage"
    )]
    EncryptedHandshake,
    #[error("the message is for another group than this one")]
    WrongGroup,
    #[error(
        "the message is for epoch {got} but the group is at epoch {current}; process the group's messages up to epoch {current} and retry"
    )]
    StaleEpoch { current: u64, got: u64 },
    #[error("the sender (leaf {leaf_index}) is not a member of the group")]
    NotAMember { leaf_index: u32 },
    #[error("the {what} signature does not verify")]
    BadSignature { what: &'static str },
    #[error(
        "the commit's UpdatePath does not match the tree: a parent hash is wrong; rebuild the commit on the group's current tree"
    )]
    ParentHashMismatch,
    #[error("a proposal is invalid: {detail}")]
    InvalidProposal { detail: String },
    #[error("the commit is invalid: {detail}")]
    InvalidCommit { detail: String },
    #[error("not a valid {expected:?} commit: {detail}")]
    WrongOperation {
        expected: CommitKind,
        detail: String,
    },
    #[error(
        "the commit leaves {uncovered} queued proposal(s) uncommitted; commit every proposal the hub holds (by reference)"
    )]
    UncoveredProposals { uncovered: usize },
    #[error("the room does not allow external joins")]
    ExternalJoinRefused,
    #[error("the leaf at index {leaf_index} is refused: {reason}")]
    Credential {
        leaf_index: u32,
        reason: CredentialRefusal,
    },
    #[error("the GroupInfo is signed by leaf {signer}, not by the committer (leaf {committer})")]
    GroupInfoSigner { signer: u32, committer: u32 },
    #[error(
        "the GroupInfo does not describe the new epoch: {detail}; send the GroupInfo the commit produced"
    )]
    GroupInfoMismatch { detail: String },
    #[error("the new group must have exactly one member, its creator; it has {members}")]
    NotOneMember { members: usize },
    #[error(
        "the group's required_capabilities must demand {missing}; add it to the required capabilities extension"
    )]
    RequiredCapabilities { missing: String },
    #[error("the room policy extension is unusable: {0}")]
    RoomPolicy(RoomPolicyError),
    #[error("the group is invalid: {detail}")]
    InvalidGroup { detail: String },
    #[error("not a self-remove proposal: {detail}")]
    NotSelfRemove { detail: String },
    #[error("leaf {leaf_index} is not a member of the group")]
    UnknownLeaf { leaf_index: u32 },
    #[error(
        "the staged commit was made on another state of the group (epoch or queued proposals changed since); stage it again"
    )]
    StaleStagedCommit,
    #[error("the stored group state is unusable: {detail}")]
    Snapshot { detail: String },
    #[error("internal error in the hub: {detail}; this is a bug")]
    Internal { detail: String },
}

impl HubError {
    pub(crate) fn internal(detail: impl std::fmt::Display) -> HubError {
        HubError::Internal {
            detail: detail.to_string(),
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> HubError {
        HubError::Malformed {
            what,
            detail: detail.into(),
        }
    }
}
