//! Commits at the hub (draft-robert-mimi-delivery-service §9: add_clients,
//! remove_clients, update_client, external_join): validated and merged into a
//! copy of the group, so that the group itself changes only in
//! [`HubGroup::merge`].

use openmls::ciphersuite::signable::Verifiable;
use openmls::ciphersuite::signature::OpenMlsSignaturePublicKey;
use openmls::framing::{ContentType, ProtocolMessage, Sender};
use openmls::group::StagedCommit;
use openmls::prelude::{
    LeafNodeIndex, ProcessedMessageContent, Proposal, ProposalOrRefType, ProposalType,
};
use openmls::treesync::LeafNode;
use tls_codec::Serialize as _;

use mimi_wire::QueueReference;

use super::policy::{self, Checks, VerifiedMember};
use super::storage::PublicStore;
use super::{
    HubError, HubGroup, content_type_name, crypto, group_info_signer, map_process_error,
    parse_group_info, parse_mls_message,
};

/// The operation a commit is sent as (draft-robert-mimi-delivery-service §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitKind {
    /// add_clients: Add proposals by value only (plus queued self-removes).
    AddClients,
    /// remove_clients: Remove proposals by value only (plus queued self-removes).
    RemoveClients,
    /// update_client: an UpdatePath and no proposals by value.
    UpdateClient,
    /// external_join: an external commit (ExternalInit, optionally removing the
    /// joiner's own old leaf), if the room allows it.
    ExternalJoin,
}

/// A member the commit removed, with the queue it had before the commit, so that
/// it receives the commit too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedMember {
    pub leaf_index: u32,
    pub queue_reference: Option<QueueReference>,
}

/// What an accepted commit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    pub kind: CommitKind,
    /// The committer's leaf index in the new epoch (for an external join, the
    /// joiner's new leaf).
    pub committer: u32,
    /// The epoch the commit moves the group into.
    pub epoch: u64,
    /// New members (an external joiner among them), with their verified identity.
    pub added: Vec<VerifiedMember>,
    /// Removed members and their queues from before the commit.
    pub removed: Vec<RemovedMember>,
    /// Existing members whose leaf changed credential, key or extensions
    /// (re-verified, same identity).
    pub updated: Vec<VerifiedMember>,
    /// The ratchet tree of the new epoch (TLS), for joiners.
    pub ratchet_tree: Vec<u8>,
    /// The committer's GroupInfo for the new epoch (verified).
    pub group_info: Vec<u8>,
}

/// A commit that passed every check, merged into a copy of the group; nothing
/// has changed in the group it was staged on until [`HubGroup::merge`].
#[derive(Debug)]
pub struct StagedHubCommit {
    base_epoch: u64,
    base_proposals: Vec<(Vec<u8>, Vec<u8>)>,
    next: HubGroup,
    outcome: CommitOutcome,
}

impl StagedHubCommit {
    pub fn outcome(&self) -> &CommitOutcome {
        &self.outcome
    }

    /// The group after the commit, as bytes to store (before or instead of
    /// [`HubGroup::merge`]).
    pub fn next_snapshot(&self) -> Result<Vec<u8>, HubError> {
        self.next.to_snapshot()
    }

    /// The group after the commit, and what it did.
    pub fn into_parts(self) -> (HubGroup, CommitOutcome) {
        (self.next, self.outcome)
    }
}

/// The new and changed leaves of a staged commit, read before merging.
struct Shape {
    committer: LeafNodeIndex,
    removed: Vec<RemovedMember>,
    added_keys: Vec<Vec<u8>>,
    /// Existing leaves replaced by an Update proposal or the committer's path.
    updated: Vec<LeafNodeIndex>,
}

impl HubGroup {
    /// Validates `commit` (an `MLSMessage` with a PublicMessage commit) as an
    /// operation of `kind`, with the committer's `group_info` (an `MLSMessage`
    /// GroupInfo for the new epoch), and stages it on a copy of the group.
    ///
    /// Checks, in order: size and encoding; a PublicMessage
    /// ([`HubError::EncryptedHandshake`] otherwise); this group; the current
    /// epoch ([`HubError::StaleEpoch`]); a commit; a sender fitting `kind` that
    /// is a member (or a new member for an external join); OpenMLS's validation
    /// (framed-content signature, proposals, UpdatePath with parent hashes,
    /// leaf nodes); the operation's shape; that every queued proposal is
    /// committed; for external joins the room policy; the credential policy on
    /// every new or changed leaf; and the GroupInfo: signed by the committer's
    /// leaf in the new tree, and exactly the new epoch's group context, its own
    /// extensions, the commit's confirmation tag and the signer.
    ///
    /// The group itself is never changed: on error drop nothing, on success
    /// [`HubGroup::merge`] the result (or store
    /// [`StagedHubCommit::next_snapshot`]).
    pub fn stage_commit(
        &self,
        kind: CommitKind,
        commit: &[u8],
        group_info: &[u8],
        checks: &Checks<'_>,
    ) -> Result<StagedHubCommit, HubError> {
        let message = parse_mls_message(commit, "commit")?;
        let public_message = self.current_public_message(message)?;
        if public_message.content_type() != ContentType::Commit {
            return Err(HubError::WrongMessageType {
                expected: "a commit",
                found: content_type_name(public_message.content_type()).into(),
            });
        }
        let sender = public_message.sender().clone();
        self.check_sender(kind, &sender)?;
        let processed = self
            .public
            .process_message(&crypto(), ProtocolMessage::from(public_message))
            .map_err(map_process_error)?;
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            return Err(HubError::internal("a commit was not staged as one"));
        };
        check_kind(kind, &staged)?;
        self.check_coverage(&staged)?;
        if kind == CommitKind::ExternalJoin && !self.policy.external_joins {
            return Err(HubError::ExternalJoinRefused);
        }
        let shape = self.shape(&sender, &staged)?;

        let mut next = self.duplicate()?;
        let store = PublicStore::new(next.state.clone());
        next.public
            .merge_commit(&store, *staged)
            .map_err(HubError::internal)?;
        next.state = store.into_state();

        let (added, updated) = self.check_leaves(kind, &shape, &next, checks)?;
        check_group_info(&next, shape.committer, group_info)?;
        next.group_info = group_info.to_vec();
        let outcome = CommitOutcome {
            kind,
            committer: shape.committer.u32(),
            epoch: next.epoch(),
            added,
            removed: shape.removed,
            updated,
            ratchet_tree: next.export_ratchet_tree()?,
            group_info: group_info.to_vec(),
        };
        Ok(StagedHubCommit {
            base_epoch: self.epoch(),
            base_proposals: self.state.proposals.clone(),
            next,
            outcome,
        })
    }

    /// Makes a staged commit the group's state. Refuses
    /// ([`HubError::StaleStagedCommit`]) one staged on another state of the group
    /// (another epoch, or other queued proposals), leaving the group unchanged.
    pub fn merge(&mut self, staged: StagedHubCommit) -> Result<CommitOutcome, HubError> {
        if staged.base_epoch != self.epoch()
            || staged.base_proposals != self.state.proposals
            || staged.next.group_id() != self.group_id()
        {
            return Err(HubError::StaleStagedCommit);
        }
        *self = staged.next;
        Ok(staged.outcome)
    }

    /// [`HubGroup::stage_commit`] then [`HubGroup::merge`]: on error the group
    /// is unchanged.
    pub fn commit(
        &mut self,
        kind: CommitKind,
        commit: &[u8],
        group_info: &[u8],
        checks: &Checks<'_>,
    ) -> Result<CommitOutcome, HubError> {
        let staged = self.stage_commit(kind, commit, group_info, checks)?;
        self.merge(staged)
    }

    fn check_sender(&self, kind: CommitKind, sender: &Sender) -> Result<(), HubError> {
        match (sender, kind) {
            (Sender::NewMemberCommit, CommitKind::ExternalJoin) => Ok(()),
            (Sender::Member(leaf), kind) if kind != CommitKind::ExternalJoin => {
                self.require_member(*leaf)
            }
            (other, kind) => Err(HubError::WrongOperation {
                expected: kind,
                detail: format!("its sender is {}", super::sender_name(other)),
            }),
        }
    }

    /// RFC 9420 §12.4: a commit that leaves a queued proposal behind would drop
    /// it at the merge, and the member who proposed leaving would stay.
    fn check_coverage(&self, staged: &StagedCommit) -> Result<(), HubError> {
        let committed: Vec<&[u8]> = staged
            .queued_proposals()
            .filter(|p| p.proposal_or_ref_type() == ProposalOrRefType::Reference)
            .map(|p| p.proposal_reference_ref().as_slice())
            .collect();
        let store = PublicStore::new(self.state.clone());
        let queued = self
            .public
            .queued_proposals(&store)
            .map_err(HubError::internal)?;
        let uncovered = queued
            .iter()
            .filter(|(reference, _)| !committed.contains(&reference.as_slice()))
            .count();
        if uncovered > 0 {
            return Err(HubError::UncoveredProposals { uncovered });
        }
        Ok(())
    }

    fn shape(&self, sender: &Sender, staged: &StagedCommit) -> Result<Shape, HubError> {
        let committer = match sender {
            Sender::Member(leaf) => *leaf,
            _ => self
                .public
                .ext_commit_sender_index(staged)
                .map_err(HubError::internal)?,
        };
        let removed = staged
            .remove_proposals()
            .map(|r| {
                let leaf_index = r.remove_proposal().removed();
                RemovedMember {
                    leaf_index: leaf_index.u32(),
                    queue_reference: self
                        .member(leaf_index.u32())
                        .and_then(|m| m.queue_reference),
                }
            })
            .collect();
        let added_keys = staged
            .add_proposals()
            .map(|a| {
                a.add_proposal()
                    .key_package()
                    .leaf_node()
                    .signature_key()
                    .as_slice()
                    .to_vec()
            })
            .collect();
        let mut updated: Vec<LeafNodeIndex> = staged
            .update_proposals()
            .filter_map(|u| match u.sender() {
                Sender::Member(leaf) => Some(*leaf),
                _ => None,
            })
            .collect();
        if matches!(sender, Sender::Member(_)) && staged.update_path_leaf_node().is_some() {
            updated.push(committer);
        }
        Ok(Shape {
            committer,
            removed,
            added_keys,
            updated,
        })
    }

    /// The credential policy on the new tree: every added leaf, the external
    /// joiner, and every existing leaf whose credential, key or extensions
    /// changed (which also keeps its identity). A leaf only re-keyed for the
    /// path keeps its verified credential: remove_clients carries no CRLs.
    fn check_leaves(
        &self,
        kind: CommitKind,
        shape: &Shape,
        next: &HubGroup,
        checks: &Checks<'_>,
    ) -> Result<(Vec<VerifiedMember>, Vec<VerifiedMember>), HubError> {
        let policy = &next.policy;
        let mut added = Vec::new();
        for key in &shape.added_keys {
            let member = next
                .public
                .members()
                .find(|m| m.signature_key == *key)
                .ok_or_else(|| HubError::internal("an added member is not in the new tree"))?;
            let leaf = next_leaf(next, member.index)?;
            added.push(policy::check_leaf(
                leaf,
                member.index.u32(),
                checks,
                policy,
            )?);
        }
        if kind == CommitKind::ExternalJoin {
            let leaf = next_leaf(next, shape.committer)?;
            let joiner = policy::check_leaf(leaf, shape.committer.u32(), checks, policy)?;
            self.check_resync(&joiner, shape)?;
            added.push(joiner);
        }
        let mut updated = Vec::new();
        for &index in &shape.updated {
            let before = self.public.leaf(index).ok_or(HubError::NotAMember {
                leaf_index: index.u32(),
            })?;
            let after = next_leaf(next, index)?;
            if same_credential(before, after) {
                continue;
            }
            let member = policy::check_leaf(after, index.u32(), checks, policy)?;
            policy::check_same_identity(before, &member)?;
            updated.push(member);
        }
        Ok((added, updated))
    }

    /// An external join may remove only the joiner's own old leaf (a resync).
    fn check_resync(&self, joiner: &VerifiedMember, shape: &Shape) -> Result<(), HubError> {
        for removed in &shape.removed {
            let leaf = self
                .public
                .leaf(LeafNodeIndex::new(removed.leaf_index))
                .ok_or(HubError::NotAMember {
                    leaf_index: removed.leaf_index,
                })?;
            let own = policy::leaf_identity(leaf)
                .is_some_and(|(_, device)| device == policy::device_uri(&joiner.device));
            if !own {
                return Err(HubError::WrongOperation {
                    expected: CommitKind::ExternalJoin,
                    detail: format!(
                        "it removes leaf {}, which is not the joiner's own device",
                        removed.leaf_index
                    ),
                });
            }
        }
        Ok(())
    }
}

fn next_leaf(next: &HubGroup, index: LeafNodeIndex) -> Result<&LeafNode, HubError> {
    next.public
        .leaf(index)
        .ok_or_else(|| HubError::internal("a changed leaf is not in the new tree"))
}

fn same_credential(before: &LeafNode, after: &LeafNode) -> bool {
    before.credential() == after.credential()
        && before.signature_key() == after.signature_key()
        && before.extensions() == after.extensions()
}

/// The operation's shape (draft-robert-mimi-delivery-service §9). Proposals by
/// reference are always the hub's queued self-removes: OpenMLS refuses
/// references to anything the hub does not hold.
fn check_kind(kind: CommitKind, staged: &StagedCommit) -> Result<(), HubError> {
    let wrong = |detail: String| HubError::WrongOperation {
        expected: kind,
        detail,
    };
    let by_value: Vec<ProposalType> = staged
        .queued_proposals()
        .filter(|p| p.proposal_or_ref_type() == ProposalOrRefType::Proposal)
        .map(|p| p.proposal().proposal_type())
        .collect();
    let only = |allowed: &[ProposalType]| -> Result<(), HubError> {
        match by_value.iter().find(|t| !allowed.contains(t)) {
            Some(t) => Err(wrong(format!("it carries a {t:?} proposal by value"))),
            None => Ok(()),
        }
    };
    match kind {
        CommitKind::AddClients => {
            only(&[ProposalType::Add])?;
            if by_value.is_empty() {
                return Err(wrong("it adds no one".into()));
            }
        }
        CommitKind::RemoveClients => {
            only(&[ProposalType::Remove])?;
            if by_value.is_empty() {
                return Err(wrong("it removes no one".into()));
            }
        }
        CommitKind::UpdateClient => {
            only(&[])?;
            if staged.update_path_leaf_node().is_none() {
                return Err(wrong("it has no UpdatePath".into()));
            }
        }
        CommitKind::ExternalJoin => {
            only(&[ProposalType::ExternalInit, ProposalType::Remove])?;
        }
    }
    let updates_by_reference = staged
        .queued_proposals()
        .any(|p| matches!(p.proposal(), Proposal::Update(_)));
    if updates_by_reference {
        return Err(wrong("it commits an Update proposal".into()));
    }
    Ok(())
}

/// The committer's GroupInfo must be the new epoch's: signed by the committer's
/// leaf in the new tree, over exactly the new group context, its own extensions,
/// the commit's confirmation tag and the signer (RFC 9420 §12.4.3).
fn check_group_info(
    next: &HubGroup,
    committer: LeafNodeIndex,
    bytes: &[u8],
) -> Result<(), HubError> {
    let group_info = parse_group_info(bytes)?;
    let (tbs, signer) = group_info_signer(&group_info)?;
    if signer != committer.u32() {
        return Err(HubError::GroupInfoSigner {
            signer,
            committer: committer.u32(),
        });
    }
    let leaf = next_leaf(next, committer)?;
    let key = OpenMlsSignaturePublicKey::new(
        leaf.signature_key().as_slice().to_vec().into(),
        next.public.ciphersuite().signature_algorithm(),
    )
    .map_err(HubError::internal)?;
    group_info
        .verify_no_out(&crypto(), &key)
        .map_err(|_| HubError::BadSignature { what: "GroupInfo" })?;
    let context = next.public.group_context();
    if group_info.group_context() != context {
        return Err(HubError::GroupInfoMismatch {
            detail: format!(
                "its group context is not that of the new epoch {}",
                context.epoch().as_u64()
            ),
        });
    }
    let mut expected = context
        .tls_serialize_detached()
        .map_err(HubError::internal)?;
    group_info
        .extensions()
        .tls_serialize(&mut expected)
        .and_then(|_| next.public.confirmation_tag().tls_serialize(&mut expected))
        .and_then(|_| signer.tls_serialize(&mut expected))
        .map_err(HubError::internal)?;
    if tbs != expected {
        return Err(HubError::GroupInfoMismatch {
            detail: "its confirmation tag is not the commit's".into(),
        });
    }
    Ok(())
}
