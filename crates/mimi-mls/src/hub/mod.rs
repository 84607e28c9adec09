//! What the hub of a room checks: the MLS delivery service of
//! draft-robert-mimi-delivery-service §7-9 (operations create_group, add_clients,
//! remove_clients, self_remove_client, update_client, external_join,
//! send_message) and draft-kohbrok-mimi-transport §5.2-5.4, on OpenMLS's public
//! group API. No I/O: the provider loads a [`HubGroup`] from its snapshot, asks it,
//! and stores the new snapshot.
//!
//! What the hub checks, for each operation:
//! - **create** ([`HubGroup::create`]): the GroupInfo's signature and the tree
//!   (OpenMLS), exactly one member, required capabilities demanding X.509 and the
//!   MIMI extensions, the room policy, the creator's credential.
//! - **commits** ([`HubGroup::stage_commit`]): framing, group, epoch, OpenMLS's
//!   validation (signature over the framed content, proposals, UpdatePath, parent
//!   hashes), the operation's shape (draft-robert §9), that every queued proposal
//!   is committed, the credential policy on every new or changed leaf
//!   ([`Checks`]), the room policy for external joins, and the committer's
//!   GroupInfo against the new epoch (signer, signature, contents).
//! - **self-remove proposals** ([`HubGroup::self_remove`]), **application
//!   messages** ([`HubGroup::check_application`]) and **request signatures**
//!   ([`HubGroup::verify_member_signature`]).
//!
//! What it cannot check: confirmation and membership tags and the contents of
//! PrivateMessages need epoch secrets, which only members hold.
//!
//! **Invariant:** a refused input leaves the group exactly as it was: commits are
//! staged on a copy ([`StagedHubCommit`]) and only [`HubGroup::merge`] replaces
//! the state; [`HubGroup::self_remove`] changes nothing before its last step.

mod commit;
mod error;
mod policy;
mod storage;

use openmls::ciphersuite::signable::Verifiable;
use openmls::framing::{ContentType, MlsMessageBodyIn, MlsMessageIn, ProtocolMessage, Sender};
use openmls::group::{PublicGroup, PublicProcessMessageError, StageCommitError, ValidationError};
use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::{
    CredentialType, LeafNodeIndex, ProcessedMessageContent, Proposal, ProposalStore,
    PublicMessageIn, RatchetTreeIn,
};
use openmls::treesync::LeafNode;
use openmls::treesync::errors::ApplyUpdatePathError;
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::types::SignatureScheme;
use serde::{Deserialize, Serialize};
use tls_codec::{Serialize as _, VLByteSlice};

use mimi_wire::QueueReference;

use crate::codec_detail;
use crate::credential::certificate_chain;
use crate::extension::{leaf_queue_reference, queue_reference_extension_type};
use crate::room_policy::{ROOM_POLICY_EXTENSION_TYPE, RoomPolicy, room_policy_extension_type};

pub use commit::{CommitKind, CommitOutcome, RemovedMember, StagedHubCommit};
pub use error::{CredentialRefusal, HubError};
pub use policy::{Checks, VerifiedMember};

use storage::{PublicState, PublicStore};

/// First byte of every snapshot: the format version.
pub const SNAPSHOT_VERSION: u8 = 1;
/// Largest snapshot accepted: a thousand members with 8 KiB credentials fit
/// many times over.
pub const MAX_SNAPSHOT_LEN: usize = 64 * 1024 * 1024;
/// Largest commit, proposal or application message accepted (a commit adding
/// a hundred members with their KeyPackages stays below it).
pub const MAX_MESSAGE_LEN: usize = 4 * 1024 * 1024;
/// Largest GroupInfo accepted (without a ratchet_tree extension: the tree travels
/// apart).
pub const MAX_GROUP_INFO_LEN: usize = 256 * 1024;
/// Largest ratchet tree accepted.
pub const MAX_RATCHET_TREE_LEN: usize = 32 * 1024 * 1024;

/// One group's public state at the hub: OpenMLS's `PublicGroup`, the state
/// OpenMLS stored for it (what [`HubGroup::to_snapshot`] writes) and the latest
/// verified GroupInfo, which the hub hands to external joiners.
#[derive(Debug)]
pub struct HubGroup {
    public: PublicGroup,
    state: PublicState,
    group_info: Vec<u8>,
    policy: RoomPolicy,
}

/// Version 1 of the snapshot, after the version byte, postcard-encoded.
#[derive(Serialize, Deserialize)]
struct SnapshotV1 {
    state: PublicState,
    group_info: Vec<u8>,
}

/// A member as the hub sees it in the current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub leaf_index: u32,
    /// The MLS signature key (raw Ed25519 key or SEC1 P-256 point).
    pub signature_key: Vec<u8>,
    /// The X.509 credential's DER certificates, leaf first.
    pub certificate_chain: Vec<Vec<u8>>,
    /// Where the hub delivers to this member.
    pub queue_reference: Option<QueueReference>,
}

pub(crate) fn crypto() -> RustCrypto {
    RustCrypto::default()
}

impl HubGroup {
    /// Starts tracking a new group (draft-robert-mimi-delivery-service §7.1,
    /// create_group): `group_info` is an `MLSMessage` carrying the creator's
    /// GroupInfo, `ratchet_tree` the TLS-encoded tree (RFC 9420 §12.4.3.3).
    ///
    /// Checks: OpenMLS's verification of the tree and of the GroupInfo's
    /// signature under the signer's leaf; exactly one member; a
    /// required_capabilities extension demanding x509 credentials and the
    /// extensions `mimi_queue_reference` (and `mimi_room_policy` if the group has
    /// one); a well-formed room policy; the creator's credential ([`Checks`]).
    pub fn create(
        group_info: &[u8],
        ratchet_tree: &[u8],
        checks: &Checks<'_>,
    ) -> Result<HubGroup, HubError> {
        let verifiable = parse_group_info(group_info)?;
        let tree = parse_ratchet_tree(ratchet_tree)?;
        let store = PublicStore::default();
        let (public, _) =
            PublicGroup::from_external(&crypto(), &store, tree, verifiable, ProposalStore::new())
                .map_err(|e| HubError::InvalidGroup {
                detail: e.to_string(),
            })?;
        let members: Vec<_> = public.members().collect();
        let [creator] = members.as_slice() else {
            return Err(HubError::NotOneMember {
                members: members.len(),
            });
        };
        check_required_capabilities(&public)?;
        let policy =
            RoomPolicy::from_group_context(public.group_context()).map_err(HubError::RoomPolicy)?;
        let leaf = public
            .leaf(creator.index)
            .ok_or_else(|| HubError::internal("the creator's leaf is missing"))?;
        policy::check_leaf(leaf, creator.index.u32(), checks, &policy)?;
        Ok(HubGroup {
            public,
            state: store.into_state(),
            group_info: group_info.to_vec(),
            policy,
        })
    }

    /// The group as [`HubGroup::to_snapshot`] wrote it. Snapshots are the hub's
    /// own storage, not peer input, but decoding is bounded and never panics.
    pub fn from_snapshot(bytes: &[u8]) -> Result<HubGroup, HubError> {
        let snapshot_error = |detail: String| HubError::Snapshot { detail };
        if bytes.len() > MAX_SNAPSHOT_LEN {
            return Err(snapshot_error(format!(
                "it is {} bytes; at most {MAX_SNAPSHOT_LEN} are accepted",
                bytes.len()
            )));
        }
        let (&version, body) = bytes
            .split_first()
            .ok_or_else(|| snapshot_error("it is empty".into()))?;
        if version != SNAPSHOT_VERSION {
            return Err(snapshot_error(format!(
                "format version {version} is unknown; this build reads version {SNAPSHOT_VERSION}"
            )));
        }
        let (snapshot, rest): (SnapshotV1, _) = postcard::take_from_bytes(body)
            .map_err(|e| snapshot_error(format!("it does not decode: {e}")))?;
        if !rest.is_empty() {
            return Err(snapshot_error(format!("{} bytes follow it", rest.len())));
        }
        Self::from_state(snapshot.state, snapshot.group_info)
    }

    fn from_state(state: PublicState, group_info: Vec<u8>) -> Result<HubGroup, HubError> {
        let store = PublicStore::new(state);
        // The store holds one group, so the id it is asked for does not matter.
        let any_id = openmls::group::GroupId::from_slice(&[]);
        let public = PublicGroup::load(&store, &any_id)
            .map_err(|e| HubError::Snapshot {
                detail: e.to_string(),
            })?
            .ok_or_else(|| HubError::Snapshot {
                detail: "it lacks part of the public group state".into(),
            })?;
        let policy = RoomPolicy::from_group_context(public.group_context()).map_err(|e| {
            HubError::Snapshot {
                detail: format!("its room policy: {e}"),
            }
        })?;
        Ok(HubGroup {
            public,
            state: store.into_state(),
            group_info,
            policy,
        })
    }

    /// The group as bytes to store: [`SNAPSHOT_VERSION`], then the state
    /// postcard-encoded. Equal states give equal bytes.
    pub fn to_snapshot(&self) -> Result<Vec<u8>, HubError> {
        let snapshot = SnapshotV1 {
            state: self.state.clone(),
            group_info: self.group_info.clone(),
        };
        let mut out = vec![SNAPSHOT_VERSION];
        postcard::to_io(&snapshot, &mut out).map_err(HubError::internal)?;
        Ok(out)
    }

    /// A second, independent copy of this group (what commits are staged on).
    fn duplicate(&self) -> Result<HubGroup, HubError> {
        Self::from_state(self.state.clone(), self.group_info.clone())
    }

    pub fn group_id(&self) -> &[u8] {
        self.public.group_id().as_slice()
    }

    pub fn epoch(&self) -> u64 {
        self.public.group_context().epoch().as_u64()
    }

    /// The latest verified GroupInfo (an `MLSMessage`), for external joiners.
    pub fn group_info(&self) -> &[u8] {
        &self.group_info
    }

    /// The ratchet tree of the current epoch, TLS-encoded, for joiners.
    pub fn export_ratchet_tree(&self) -> Result<Vec<u8>, HubError> {
        self.public
            .export_ratchet_tree()
            .tls_serialize_detached()
            .map_err(HubError::internal)
    }

    /// The room's policy (the default if the group has no `mimi_room_policy`).
    pub fn room_policy(&self) -> &RoomPolicy {
        &self.policy
    }

    /// The member at `leaf_index`, if that leaf is occupied.
    pub fn member(&self, leaf_index: u32) -> Option<MemberInfo> {
        let leaf = self.public.leaf(LeafNodeIndex::new(leaf_index))?;
        Some(member_info(leaf_index, leaf))
    }

    /// Every member, by leaf index.
    pub fn members(&self) -> Vec<MemberInfo> {
        self.public
            .members()
            .filter_map(|m| self.member(m.index.u32()))
            .collect()
    }

    /// Where to deliver to each member: (leaf index, queue reference).
    pub fn queue_references(&self) -> Vec<(u32, QueueReference)> {
        self.members()
            .into_iter()
            .filter_map(|m| Some((m.leaf_index, m.queue_reference?)))
            .collect()
    }

    /// How many proposals wait for a commit.
    pub fn queued_proposals(&self) -> usize {
        self.state.proposals.len()
    }

    /// Queues a self-remove proposal (draft-robert-mimi-delivery-service §9,
    /// self_remove_client): a PublicMessage `Remove` proposal of this group and
    /// epoch whose sender is a member removing its own leaf. The next commit must
    /// cover it. Returns its ProposalRef (RFC 9420 §5.2).
    ///
    /// On any error the group is unchanged.
    /// `signer` is the leaf that signed the request carrying the proposal: a
    /// member may only hand in its own leave request (otherwise one member
    /// could replay another's proposal at a time of its choosing).
    pub fn self_remove(&mut self, proposal: &[u8], signer: u32) -> Result<Vec<u8>, HubError> {
        let message = parse_mls_message(proposal, "proposal")?;
        let public_message = self.current_public_message(message)?;
        if public_message.content_type() != ContentType::Proposal {
            return Err(HubError::WrongMessageType {
                expected: "a proposal",
                found: content_type_name(public_message.content_type()).into(),
            });
        }
        let sender = match public_message.sender() {
            Sender::Member(index) => *index,
            other => {
                return Err(HubError::NotSelfRemove {
                    detail: format!("its sender is {}, not a member", sender_name(other)),
                });
            }
        };
        self.require_member(sender)?;
        if sender.u32() != signer {
            return Err(HubError::NotSelfRemove {
                detail: format!(
                    "the proposal is leaf {}'s, but the request is signed as leaf {signer}; a member hands in only its own leave request",
                    sender.u32()
                ),
            });
        }
        let processed = self
            .public
            .process_message(&crypto(), ProtocolMessage::from(public_message))
            .map_err(map_process_error)?;
        let ProcessedMessageContent::ProposalMessage(queued) = processed.into_content() else {
            return Err(HubError::internal("a proposal was not processed as one"));
        };
        match queued.proposal() {
            Proposal::Remove(remove) if remove.removed() == sender => {}
            Proposal::Remove(remove) => {
                return Err(HubError::NotSelfRemove {
                    detail: format!(
                        "leaf {} proposes to remove leaf {}; only one's own leaf may be proposed for removal here",
                        sender.u32(),
                        remove.removed().u32()
                    ),
                });
            }
            other => {
                return Err(HubError::NotSelfRemove {
                    detail: format!("it is a {:?} proposal, not Remove", other.proposal_type()),
                });
            }
        }
        let reference = queued.proposal_reference_ref().as_slice().to_vec();
        let store = PublicStore::new(self.state.clone());
        self.public
            .add_proposal(&store, *queued)
            .map_err(HubError::internal)?;
        self.state = store.into_state();
        Ok(reference)
    }

    /// Checks an application message before fan-out
    /// (draft-robert-mimi-delivery-service §9, send_message): a PrivateMessage of
    /// content type application, for this group and the current epoch. Its sender
    /// is encrypted, so which member sent it is for the request signature to say.
    pub fn check_application(&self, message: &[u8]) -> Result<(), HubError> {
        let message = parse_mls_message(message, "application message")?;
        let private = match message.extract() {
            MlsMessageBodyIn::PrivateMessage(private) => private,
            MlsMessageBodyIn::PublicMessage(_) => {
                return Err(HubError::WrongMessageType {
                    expected: "an application message (PrivateMessage)",
                    found: "a PublicMessage".into(),
                });
            }
            other => {
                return Err(HubError::WrongMessageType {
                    expected: "an application message (PrivateMessage)",
                    found: body_name(&other).into(),
                });
            }
        };
        self.check_group_and_epoch(private.group_id().as_slice(), private.epoch().as_u64())?;
        if private.content_type() != ContentType::Application {
            return Err(HubError::WrongMessageType {
                expected: "an application message (PrivateMessage)",
                found: format!("an encrypted {}", content_type_name(private.content_type())),
            });
        }
        Ok(())
    }

    /// Verifies a member's signature on a request to the hub: `signature` over
    /// `SignContent { opaque label<V> = label; opaque content<V> = content; }`
    /// under the signature key of the leaf at `leaf_index` (RFC 9420 §5.1.2
    /// `SignWithLabel`, but with `label` used verbatim, as mimi-wire's labels are,
    /// without the "MLS 1.0 " prefix).
    pub fn verify_member_signature(
        &self,
        leaf_index: u32,
        label: &str,
        content: &[u8],
        signature: &[u8],
    ) -> Result<(), HubError> {
        let leaf = self
            .public
            .leaf(LeafNodeIndex::new(leaf_index))
            .ok_or(HubError::UnknownLeaf { leaf_index })?;
        verify_labeled_signature(
            self.public.ciphersuite().signature_algorithm(),
            leaf.signature_key().as_slice(),
            label,
            content,
            signature,
        )
    }

    /// Like [`HubGroup::verify_member_signature`] with a key given explicitly: an
    /// external joiner's new leaf key from the staged commit
    /// ([`CommitOutcome::added`]), under this group's signature scheme.
    pub fn verify_signature_with_key(
        &self,
        signature_key: &[u8],
        label: &str,
        content: &[u8],
        signature: &[u8],
    ) -> Result<(), HubError> {
        verify_labeled_signature(
            self.public.ciphersuite().signature_algorithm(),
            signature_key,
            label,
            content,
            signature,
        )
    }

    fn require_member(&self, leaf: LeafNodeIndex) -> Result<(), HubError> {
        match self.public.leaf(leaf) {
            Some(_) => Ok(()),
            None => Err(HubError::NotAMember {
                leaf_index: leaf.u32(),
            }),
        }
    }

    fn check_group_and_epoch(&self, group_id: &[u8], epoch: u64) -> Result<(), HubError> {
        if group_id != self.group_id() {
            return Err(HubError::WrongGroup);
        }
        if epoch != self.epoch() {
            return Err(HubError::StaleEpoch {
                current: self.epoch(),
                got: epoch,
            });
        }
        Ok(())
    }

    /// The PublicMessage in `message`, of this group and epoch. An encrypted
    /// handshake is refused by name: the hub must see handshakes.
    fn current_public_message(&self, message: MlsMessageIn) -> Result<PublicMessageIn, HubError> {
        match message.extract() {
            MlsMessageBodyIn::PublicMessage(public) => {
                self.check_group_and_epoch(public.group_id().as_slice(), public.epoch().as_u64())?;
                Ok(public)
            }
            MlsMessageBodyIn::PrivateMessage(private) => {
                if private.content_type() == ContentType::Application {
                    Err(HubError::WrongMessageType {
                        expected: "a handshake message (PublicMessage)",
                        found: "an application message".into(),
                    })
                } else {
                    Err(HubError::EncryptedHandshake)
                }
            }
            other => Err(HubError::WrongMessageType {
                expected: "a handshake message (PublicMessage)",
                found: body_name(&other).into(),
            }),
        }
    }
}

fn member_info(leaf_index: u32, leaf: &LeafNode) -> MemberInfo {
    MemberInfo {
        leaf_index,
        signature_key: leaf.signature_key().as_slice().to_vec(),
        // Every leaf passed the credential policy when it entered the tree.
        certificate_chain: certificate_chain(leaf.credential()).unwrap_or_default(),
        queue_reference: leaf_queue_reference(leaf).ok().flatten(),
    }
}

fn verify_labeled_signature(
    scheme: SignatureScheme,
    key: &[u8],
    label: &str,
    content: &[u8],
    signature: &[u8],
) -> Result<(), HubError> {
    let mut signed = Vec::with_capacity(label.len() + content.len() + 8);
    VLByteSlice(label.as_bytes())
        .tls_serialize(&mut signed)
        .and_then(|_| VLByteSlice(content).tls_serialize(&mut signed))
        .map_err(|e| HubError::malformed("signed content", codec_detail(&e)))?;
    crypto()
        .verify_signature(scheme, &signed, key, signature)
        .map_err(|_| HubError::BadSignature { what: "request" })
}

fn check_required_capabilities(public: &PublicGroup) -> Result<(), HubError> {
    let missing = |what: &str| HubError::RequiredCapabilities {
        missing: what.to_owned(),
    };
    let required = public.required_capabilities().ok_or_else(|| {
        missing("credential type x509 and extension mimi_queue_reference (0xF0A1)")
    })?;
    if !required.credential_types().contains(&CredentialType::X509) {
        return Err(missing("credential type x509 (2)"));
    }
    if !required
        .extension_types()
        .contains(&queue_reference_extension_type())
    {
        return Err(missing("extension mimi_queue_reference (0xF0A1)"));
    }
    let has_policy = public
        .group_context()
        .extensions()
        .unknown(ROOM_POLICY_EXTENSION_TYPE)
        .is_some();
    if has_policy
        && !required
            .extension_types()
            .contains(&room_policy_extension_type())
    {
        return Err(missing("extension mimi_room_policy (0xF0A2)"));
    }
    Ok(())
}

fn check_len(bytes: &[u8], what: &'static str, max: usize) -> Result<(), HubError> {
    if bytes.len() > max {
        return Err(HubError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    Ok(())
}

/// Exactly one `MLSMessage` (RFC 9420 §6) of at most [`MAX_MESSAGE_LEN`] bytes.
pub(crate) fn parse_mls_message(
    bytes: &[u8],
    what: &'static str,
) -> Result<MlsMessageIn, HubError> {
    check_len(bytes, what, MAX_MESSAGE_LEN)?;
    decode_exactly(bytes, what)
}

fn decode_exactly<T: tls_codec::Deserialize>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, HubError> {
    // The reader-based decoder: `tls_deserialize_bytes` has a `debug_assert` on
    // truncated vectors in tls_codec 0.5.
    let mut rest = bytes;
    let value =
        T::tls_deserialize(&mut rest).map_err(|e| HubError::malformed(what, codec_detail(&e)))?;
    if !rest.is_empty() {
        return Err(HubError::malformed(
            what,
            format!("{} bytes follow it; send exactly one", rest.len()),
        ));
    }
    Ok(value)
}

/// An `MLSMessage` carrying a GroupInfo, of at most [`MAX_GROUP_INFO_LEN`] bytes.
pub(crate) fn parse_group_info(bytes: &[u8]) -> Result<VerifiableGroupInfo, HubError> {
    check_len(bytes, "GroupInfo", MAX_GROUP_INFO_LEN)?;
    let message: MlsMessageIn = decode_exactly(bytes, "GroupInfo")?;
    match message.extract() {
        MlsMessageBodyIn::GroupInfo(group_info) => Ok(group_info),
        other => Err(HubError::WrongMessageType {
            expected: "a GroupInfo",
            found: body_name(&other).into(),
        }),
    }
}

fn parse_ratchet_tree(bytes: &[u8]) -> Result<RatchetTreeIn, HubError> {
    check_len(bytes, "ratchet tree", MAX_RATCHET_TREE_LEN)?;
    decode_exactly(bytes, "ratchet tree")
}

fn body_name(body: &MlsMessageBodyIn) -> &'static str {
    match body {
        MlsMessageBodyIn::PublicMessage(_) => "a PublicMessage",
        MlsMessageBodyIn::PrivateMessage(_) => "a PrivateMessage",
        MlsMessageBodyIn::Welcome(_) => "a Welcome",
        MlsMessageBodyIn::GroupInfo(_) => "a GroupInfo",
        MlsMessageBodyIn::KeyPackage(_) => "a KeyPackage",
    }
}

fn content_type_name(content_type: ContentType) -> &'static str {
    match content_type {
        ContentType::Application => "application message",
        ContentType::Proposal => "proposal",
        ContentType::Commit => "commit",
    }
}

fn sender_name(sender: &Sender) -> String {
    match sender {
        Sender::Member(index) => format!("member {}", index.u32()),
        Sender::External(_) => "an external sender".into(),
        Sender::NewMemberProposal => "a new member (proposal)".into(),
        Sender::NewMemberCommit => "a new member (external commit)".into(),
    }
}

/// OpenMLS's verdicts in the hub's words, precise where a client needs to know
/// what to fix.
fn map_process_error(e: PublicProcessMessageError) -> HubError {
    match e {
        PublicProcessMessageError::ValidationError(v) => match v {
            ValidationError::WrongGroupId => HubError::WrongGroup,
            ValidationError::UnknownMember => HubError::NotAMember {
                leaf_index: u32::MAX,
            },
            ValidationError::InvalidSignature => HubError::BadSignature {
                what: "framed content",
            },
            ValidationError::InvalidLeafNodeSignature => {
                HubError::BadSignature { what: "leaf node" }
            }
            ValidationError::LibraryError(e) => HubError::internal(e),
            other => HubError::InvalidCommit {
                detail: other.to_string(),
            },
        },
        PublicProcessMessageError::InvalidCommit(s) => map_stage_error(s),
        PublicProcessMessageError::LibraryError(e) => HubError::internal(e),
        other => HubError::InvalidCommit {
            detail: other.to_string(),
        },
    }
}

fn map_stage_error(e: StageCommitError) -> HubError {
    match e {
        StageCommitError::UpdatePathError(ApplyUpdatePathError::ParentHashMismatch) => {
            HubError::ParentHashMismatch
        }
        StageCommitError::ProposalValidationError(p) => HubError::InvalidProposal {
            detail: p.to_string(),
        },
        StageCommitError::LibraryError(e) => HubError::internal(e),
        other => HubError::InvalidCommit {
            detail: other.to_string(),
        },
    }
}

/// For the GroupInfo check: the TBS's last four bytes are `uint32 signer`
/// (RFC 9420 §12.4.3).
pub(crate) fn group_info_signer(
    group_info: &VerifiableGroupInfo,
) -> Result<(Vec<u8>, u32), HubError> {
    let tbs = group_info
        .unsigned_payload()
        .map_err(|e| HubError::malformed("GroupInfo", codec_detail(&e)))?;
    let signer = tbs
        .len()
        .checked_sub(4)
        .and_then(|at| tbs.get(at..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| HubError::malformed("GroupInfo", "it is too short"))?;
    Ok((tbs, signer))
}
