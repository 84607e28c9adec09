//! One group's public MLS state in memory, as OpenMLS's `PublicStorageProvider`
//! writes it: each value postcard-encoded when written, so that a snapshot is the
//! concatenation of what OpenMLS stored and two snapshots of one state are equal
//! byte for byte.

use std::cell::RefCell;

use openmls_traits::public_storage::PublicStorageProvider;
use openmls_traits::storage::{CURRENT_VERSION, traits};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What OpenMLS stores for one public group, each entry postcard-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PublicState {
    pub(crate) tree: Option<Vec<u8>>,
    pub(crate) context: Option<Vec<u8>>,
    pub(crate) interim_transcript_hash: Option<Vec<u8>>,
    pub(crate) confirmation_tag: Option<Vec<u8>>,
    /// (proposal reference, queued proposal), in the order they were queued.
    pub(crate) proposals: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A storage or encoding failure inside the in-memory store: always our bug or
/// a corrupt snapshot, never the peer's doing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("public group state: {0}")]
pub(crate) struct StoreError(pub(crate) String);

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError(format!("encoding failed: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    let (value, rest) = postcard::take_from_bytes(bytes)
        .map_err(|e| StoreError(format!("decoding failed: {e}")))?;
    if !rest.is_empty() {
        return Err(StoreError(format!(
            "{} bytes follow a stored value",
            rest.len()
        )));
    }
    Ok(value)
}

fn decode_opt<T: DeserializeOwned>(bytes: &Option<Vec<u8>>) -> Result<Option<T>, StoreError> {
    bytes.as_deref().map(decode).transpose()
}

/// The `PublicStorageProvider` OpenMLS writes through, around a [`PublicState`].
/// Used only for the length of one OpenMLS call, so that `HubGroup` itself holds
/// plain data (no `RefCell`) and stays `Sync`.
#[derive(Debug, Default)]
pub(crate) struct PublicStore {
    state: RefCell<PublicState>,
}

impl PublicStore {
    pub(crate) fn new(state: PublicState) -> PublicStore {
        PublicStore {
            state: RefCell::new(state),
        }
    }

    pub(crate) fn into_state(self) -> PublicState {
        self.state.into_inner()
    }
}

impl PublicStorageProvider<CURRENT_VERSION> for PublicStore {
    type PublicError = StoreError;

    fn write_tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        tree: &TreeSync,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().tree = Some(encode(tree)?);
        Ok(())
    }

    fn write_interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        hash: &InterimTranscriptHash,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().interim_transcript_hash = Some(encode(hash)?);
        Ok(())
    }

    fn write_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        context: &GroupContext,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().context = Some(encode(context)?);
        Ok(())
    }

    fn write_confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        tag: &ConfirmationTag,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().confirmation_tag = Some(encode(tag)?);
        Ok(())
    }

    fn queue_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        proposal_ref: &ProposalRef,
        proposal: &QueuedProposal,
    ) -> Result<(), StoreError> {
        let key = encode(proposal_ref)?;
        let value = encode(proposal)?;
        let mut state = self.state.borrow_mut();
        match state.proposals.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => state.proposals.push((key, value)),
        }
        Ok(())
    }

    fn queued_proposals<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
        QueuedProposal: traits::QueuedProposal<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<Vec<(ProposalRef, QueuedProposal)>, StoreError> {
        self.state
            .borrow()
            .proposals
            .iter()
            .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
            .collect()
    }

    fn tree<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        TreeSync: traits::TreeSync<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<Option<TreeSync>, StoreError> {
        decode_opt(&self.state.borrow().tree)
    }

    fn group_context<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        GroupContext: traits::GroupContext<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<Option<GroupContext>, StoreError> {
        decode_opt(&self.state.borrow().context)
    }

    fn interim_transcript_hash<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        InterimTranscriptHash: traits::InterimTranscriptHash<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<Option<InterimTranscriptHash>, StoreError> {
        decode_opt(&self.state.borrow().interim_transcript_hash)
    }

    fn confirmation_tag<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ConfirmationTag: traits::ConfirmationTag<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<Option<ConfirmationTag>, StoreError> {
        decode_opt(&self.state.borrow().confirmation_tag)
    }

    fn delete_tree<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        _group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().tree = None;
        Ok(())
    }

    fn delete_confirmation_tag<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        _group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().confirmation_tag = None;
        Ok(())
    }

    fn delete_context<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        _group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().context = None;
        Ok(())
    }

    fn delete_interim_transcript_hash<GroupId: traits::GroupId<CURRENT_VERSION>>(
        &self,
        _group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().interim_transcript_hash = None;
        Ok(())
    }

    fn remove_proposal<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
        proposal_ref: &ProposalRef,
    ) -> Result<(), StoreError> {
        let key = encode(proposal_ref)?;
        self.state.borrow_mut().proposals.retain(|(k, _)| *k != key);
        Ok(())
    }

    fn clear_proposal_queue<
        GroupId: traits::GroupId<CURRENT_VERSION>,
        ProposalRef: traits::ProposalRef<CURRENT_VERSION>,
    >(
        &self,
        _group_id: &GroupId,
    ) -> Result<(), StoreError> {
        self.state.borrow_mut().proposals.clear();
        Ok(())
    }
}
