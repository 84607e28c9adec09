//! The hub's stores: [`GroupStore`], the delivery service's rooms
//! (draft-kohbrok-mimi-transport §5.2 `/group_operation`, §5.3
//! `/welcome_information`; draft-robert-mimi-delivery-service), and
//! [`OutboxStore`], the durable fan-out of what the hub accepted to each
//! member provider (§5.7 `/deliver_message`), retried with backoff.
//!
//! The hub validates an operation against the group's public state (outside
//! this crate), then hands the result to [`GroupStore::apply`], which in one
//! transaction records the request as seen, checks that the state it was
//! validated against is still current, stores the new state, numbers the
//! operation in the group's sequence, and appends its fan-out to the
//! outbox. So an operation is either wholly accepted — state, number and
//! deliveries — or not at all, and nothing is acknowledged to its sender
//! before it committed.

use std::future::Future;

use crate::{MAX_DOMAIN_LEN, MAX_SIGNATURE_KEY_LEN, R, StorageError, check_len, check_message};

/// The ID of a DS request (draft-robert-mimi-delivery-service `DSRequest`
/// `request_id`): 16 bytes chosen by its sender, the replay key together
/// with the group ID.
pub type RequestId = [u8; 16];

/// The ID of one outbox delivery: 16 random bytes chosen when the entry
/// was appended, the same on every retry, so that the receiving provider
/// can drop a delivery it already stored.
pub type EventId = [u8; 16];

/// The longest MLS group ID, in bytes (RFC 9420 `GroupContext.group_id`
/// is `opaque<V>`; the hub keeps room IDs short).
pub const MAX_GROUP_ID_LEN: usize = 255;
/// The largest stored group state (the hub's opaque snapshot of the
/// public group: tree, context, pending proposals), in bytes: 64 MiB.
pub const MAX_GROUP_STATE_LEN: usize = 64 << 20;
/// The largest stored GroupInfo (RFC 9420 §12.4.3), in bytes: 1 MiB.
pub const MAX_GROUP_INFO_LEN: usize = 1 << 20;
/// The largest ratchet tree kept for joiners (RFC 9420 §12.4.3.3), in
/// bytes: 16 MiB.
pub const MAX_RATCHET_TREE_LEN: usize = 16 << 20;
/// The most joiners one state change may record.
pub const MAX_JOINERS: usize = 10_000;
/// The most deliveries (destination providers) of one accepted operation.
pub const MAX_DELIVERIES: usize = 1_000;
/// The largest recipient list of one delivery, in bytes: 4 MiB.
pub const MAX_RECIPIENTS_LEN: usize = 4 << 20;
/// The largest total of the recipient lists of one accepted operation, in
/// bytes: 16 MiB.
pub const MAX_RECIPIENTS_TOTAL_LEN: usize = 16 << 20;
/// The most destinations [`OutboxStore::due_destinations`] and the most
/// entries [`OutboxStore::outbox_batch`] return, and the most entries one
/// [`OutboxStore::outbox_delivered`] names.
pub const MAX_OUTBOX_LIMIT: u32 = 1_000;
/// How many bytes of messages and recipient lists one
/// [`OutboxStore::outbox_batch`] returns at most (it returns at least one
/// entry when any is pending, however large): 32 MiB.
pub const MAX_OUTBOX_BATCH_BYTES: usize = 32 << 20;
/// The longest delivery error kept for operators, in bytes: 1 KiB
/// (truncate longer ones before [`OutboxStore::outbox_failed`]).
pub const MAX_OUTBOX_ERROR_LEN: usize = 1024;

/// A group as [`GroupStore::create_group`] stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// The MLS group ID, 1 to [`MAX_GROUP_ID_LEN`] bytes.
    pub group_id: Vec<u8>,
    /// The group's epoch (RFC 9420 §8.1; 0 for a new group).
    pub epoch: u64,
    /// The hub's snapshot of the public group state, 1 to
    /// [`MAX_GROUP_STATE_LEN`] bytes, opaque to the store.
    pub state: Vec<u8>,
    /// The group's GroupInfo, 1 to [`MAX_GROUP_INFO_LEN`] bytes.
    pub group_info: Vec<u8>,
    /// When the group was created (Unix milliseconds).
    pub created_at_ms: u64,
}

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGroup {
    /// The group's epoch.
    pub epoch: u64,
    /// The version of `state`: 1 when created, one more for each state
    /// change applied. What [`GroupChange::State`] names to say which state
    /// it was validated against.
    pub state_version: u64,
    /// The last sequence number assigned in the group (the creation is 1).
    pub sequence: u64,
    /// The stored state snapshot.
    pub state: Vec<u8>,
    /// The current GroupInfo.
    pub group_info: Vec<u8>,
}

/// A group's epoch and state version without its state: enough to tell
/// whether a parsed copy of the state is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupVersion {
    /// The group's epoch.
    pub epoch: u64,
    /// The version of the stored state (see [`StoredGroup::state_version`]).
    pub state_version: u64,
}

/// What an accepted operation changes in its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// An application message (`send_message`): the state is untouched;
    /// refused as stale unless the group is at `epoch`, the epoch the
    /// message was validated in.
    Message {
        /// The epoch the sender's membership was checked in.
        epoch: u64,
    },
    /// A new state (a commit, or a proposal kept as pending): refused as
    /// stale unless the stored state is still at `expected_state_version`,
    /// the state it was validated against.
    State {
        /// The state version the change was validated against.
        expected_state_version: u64,
        /// The group's epoch after the change: never below the current
        /// one, and above it when `joiners` is given.
        new_epoch: u64,
        /// The new snapshot, 1 to [`MAX_GROUP_STATE_LEN`] bytes.
        state: Vec<u8>,
        /// The new GroupInfo (1 to [`MAX_GROUP_INFO_LEN`] bytes), or `None`
        /// to keep the stored one.
        group_info: Option<Vec<u8>>,
        /// The members this change adds by Welcome, who may fetch the new
        /// epoch's ratchet tree (§5.3 `/welcome_information`).
        joiners: Option<NewJoiners>,
    },
}

/// The joiners of a new epoch and the ratchet tree they may fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJoiners {
    /// The new epoch's ratchet tree (RFC 9420 §12.4.3.3), 1 to
    /// [`MAX_RATCHET_TREE_LEN`] bytes.
    pub ratchet_tree: Vec<u8>,
    /// Who may fetch it: 1 to [`MAX_JOINERS`] entries.
    pub members: Vec<Joiner>,
    /// Unix milliseconds until which the tree is handed out.
    pub expires_at_ms: u64,
}

/// A client added to a group, as the hub recognises it when it asks for
/// the ratchet tree: its leaf's signature key and its provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joiner {
    /// The joiner's leaf signature key (1 to [`MAX_SIGNATURE_KEY_LEN`]
    /// bytes).
    pub signature_key: Vec<u8>,
    /// The domain of the joiner's provider, which asks on its behalf (1 to
    /// [`MAX_DOMAIN_LEN`] bytes, compared as bytes).
    pub provider_domain: String,
}

/// What the hub accepted: the request (for replay detection) and the
/// message to fan out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The DS request's ID: with the group ID, the replay key.
    pub request_id: RequestId,
    /// Unix milliseconds until which the replay key is kept: at least the
    /// request's creation time plus the freshness window.
    pub request_expires_at_ms: u64,
    /// The hub's timestamp for the operation (Unix milliseconds), sent
    /// with it (`FanoutMessage.hub_timestamp_ms`).
    pub timestamp_ms: u64,
    /// The MLS message to fan out, at most [`crate::MAX_MESSAGE_LEN`]
    /// bytes and not empty when there are deliveries. Stored once
    /// whatever the number of deliveries, and not at all without any.
    pub message: Vec<u8>,
    /// One per destination provider (each at most once): up to
    /// [`MAX_DELIVERIES`].
    pub deliveries: Vec<Delivery>,
}

/// A second message of an accepted operation ([`GroupStore::apply_with_follow_up`]),
/// with the same bounds as [`Accepted::message`] and [`Accepted::deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub message: Vec<u8>,
    pub deliveries: Vec<Delivery>,
}

impl FollowUp {
    /// The follow-up as an [`Accepted`] of the same request, for checking
    /// and storing it with the same code.
    pub(crate) fn as_accepted(&self, first: &Accepted) -> Accepted {
        Accepted {
            request_id: first.request_id,
            request_expires_at_ms: first.request_expires_at_ms,
            timestamp_ms: first.timestamp_ms,
            message: self.message.clone(),
            deliveries: self.deliveries.clone(),
        }
    }
}

/// The message of an [`Accepted`] operation goes to these recipients at
/// this provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The destination provider's domain (1 to [`MAX_DOMAIN_LEN`] bytes).
    pub destination: String,
    /// The encoded recipient list, opaque to the store (1 to
    /// [`MAX_RECIPIENTS_LEN`] bytes; all of an operation's together at most
    /// [`MAX_RECIPIENTS_TOTAL_LEN`]).
    pub recipients: Vec<u8>,
}

/// What [`GroupStore::create_group`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum CreateOutcome {
    /// The group was created; its creation has sequence number 1.
    Created,
    /// This request created the group before: nothing was changed.
    Replay,
}

/// What [`GroupStore::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ApplyOutcome {
    /// Applied and numbered.
    Applied {
        /// The operation's sequence number in its group.
        sequence: u64,
    },
    /// The request was applied before: nothing was changed.
    Replay,
    /// The group moved on since the change was validated: nothing was
    /// changed (not even the replay key: the sender may retry). These are
    /// the group's current values; validate again against them.
    Stale {
        /// The group's epoch.
        epoch: u64,
        /// The group's state version.
        state_version: u64,
    },
}

/// The delivery service's rooms: each group's public state, its sequence
/// of accepted operations, the requests already accepted, and the ratchet
/// trees kept for joiners.
///
/// Every method is one transaction and returns `Ok` only after it
/// committed; an unknown group is [`StorageError::UnknownGroup`].
/// Operations on one group are serialised (its row lock on PostgreSQL,
/// the write lock on SQLite), also across processes: its sequence numbers
/// are 1, 2, 3, … in commit order with no gaps, and of two changes
/// validated against one state version, one applies and the other is
/// [`ApplyOutcome::Stale`].
pub trait GroupStore: Send + Sync + 'static {
    /// Creates a group at state version 1; the creation is its operation
    /// number 1, recorded under `accepted` like any other (its message is
    /// appended to the outbox for its deliveries). A request ID recorded
    /// for this group before is [`CreateOutcome::Replay`]; a group ID that
    /// exists otherwise is [`StorageError::GroupExists`].
    fn create_group(
        &self,
        group: &NewGroup,
        accepted: &Accepted,
    ) -> impl Future<Output = R<CreateOutcome>> + Send;

    /// The group with its state, if it exists.
    fn load_group(&self, group_id: &[u8]) -> impl Future<Output = R<Option<StoredGroup>>> + Send;

    /// The group's epoch and state version, without reading its state: a
    /// process checks with it whether its cached parsed state is current.
    fn group_version(
        &self,
        group_id: &[u8],
    ) -> impl Future<Output = R<Option<GroupVersion>>> + Send;

    /// Applies an accepted operation in one transaction:
    ///
    /// 1. records `(group_id, accepted.request_id)`; if it was recorded
    ///    before, nothing changes and the answer is
    ///    [`ApplyOutcome::Replay`];
    /// 2. checks `change` against the group (see [`GroupChange`]); a stale
    ///    one changes nothing, the replay key included, and the answer is
    ///    [`ApplyOutcome::Stale`] with the current values;
    /// 3. applies it: a [`GroupChange::State`] stores the state, the epoch,
    ///    the next state version, the GroupInfo if given, and the joiners
    ///    with the new epoch's tree;
    /// 4. assigns the group's next sequence number, stores the message once
    ///    and appends one outbox entry per delivery;
    ///
    /// and answers [`ApplyOutcome::Applied`] with the sequence number.
    /// Inputs out of bounds are refused before any SQL, and a state change
    /// that moves the epoch back (or keeps it while adding joiners) is
    /// [`StorageError::EpochNotAdvanced`], both changing nothing.
    fn apply(
        &self,
        group_id: &[u8],
        change: &GroupChange,
        accepted: &Accepted,
    ) -> impl Future<Output = R<ApplyOutcome>> + Send {
        self.apply_with_follow_up(group_id, change, accepted, None)
    }

    /// [`GroupStore::apply`] with a second message of the same operation
    /// (an add's Welcome, for the members it adds), numbered right after the
    /// first and stored with it in the same transaction: both or neither.
    /// [`ApplyOutcome::Applied`] carries the first message's number.
    fn apply_with_follow_up(
        &self,
        group_id: &[u8],
        change: &GroupChange,
        accepted: &Accepted,
        follow_up: Option<&FollowUp>,
    ) -> impl Future<Output = R<ApplyOutcome>> + Send;

    /// Whether the request `request_id` was accepted in the group (and its
    /// replay key not yet purged): how a hub tells a resent request whose
    /// answer was lost (a replay) from one that lost a race (stale). Reads
    /// only.
    fn accepted_request(
        &self,
        group_id: &[u8],
        request_id: &RequestId,
    ) -> impl Future<Output = R<bool>> + Send;

    /// The ratchet tree of `epoch` (§5.3 `/welcome_information`), if
    /// `signature_key` at `provider_domain` was recorded as a joiner of that
    /// epoch and the tree has not expired at `now_ms`; otherwise `None`
    /// (who is not authorised learns nothing more).
    fn joiner_tree(
        &self,
        group_id: &[u8],
        epoch: u64,
        signature_key: &[u8],
        provider_domain: &str,
        now_ms: u64,
    ) -> impl Future<Output = R<Option<Vec<u8>>>> + Send;

    /// Deletes the replay keys and the joiner trees (with their joiners)
    /// whose expiry is at or before `now_ms`, and returns how many replay
    /// keys and trees it deleted.
    fn purge_expired_group_records(&self, now_ms: u64) -> impl Future<Output = R<u64>> + Send;
}

/// One pending delivery of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The entry's position in the outbox: entries of one group were
    /// appended in the group's sequence order.
    pub outbox_id: u64,
    /// The group the message belongs to.
    pub group_id: Vec<u8>,
    /// The message's sequence number in the group.
    pub sequence: u64,
    /// The hub's timestamp of the operation.
    pub timestamp_ms: u64,
    /// The MLS message.
    pub message: Vec<u8>,
    /// The encoded recipients at the destination.
    pub recipients: Vec<u8>,
    /// Random, fixed when appended: the receiver's de-duplication key.
    pub event_id: EventId,
}

/// A destination's pending entries and delivery failures, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDepth {
    /// The destination provider's domain.
    pub destination: String,
    /// How many entries wait for it.
    pub pending: u64,
    /// How many attempts in a row failed (0 once one succeeds).
    pub failures: u32,
}

/// The hub's durable fan-out: each accepted operation's deliveries wait
/// here, per destination provider, until delivered; a destination that
/// failed is retried no earlier than its next attempt time.
///
/// Entries of one destination are handed out in outbox ID order. IDs grow
/// with every append, and one group's appends are serialised under its
/// lock, so one group's entries come in its sequence order (on PostgreSQL
/// entries of different groups may become visible out of ID order, which
/// no receiver can tell: each orders per group).
pub trait OutboxStore: Send + Sync + 'static {
    /// Up to `limit` (1 to [`MAX_OUTBOX_LIMIT`]) destinations with pending
    /// entries whose next attempt is due at `now_ms` (never failed, or
    /// `next_attempt_at_ms <= now_ms`), the longest-waiting first.
    fn due_destinations(
        &self,
        now_ms: u64,
        limit: u32,
    ) -> impl Future<Output = R<Vec<String>>> + Send;

    /// The destination's oldest pending entries, in outbox ID order: up to
    /// `limit` (1 to [`MAX_OUTBOX_LIMIT`]) of them and at most
    /// [`MAX_OUTBOX_BATCH_BYTES`] of messages and recipients (but at least
    /// one). Reading removes nothing.
    fn outbox_batch(
        &self,
        destination: &str,
        limit: u32,
    ) -> impl Future<Output = R<Vec<OutboxEntry>>> + Send;

    /// Deletes the destination's entries `outbox_ids` (at most
    /// [`MAX_OUTBOX_LIMIT`]; IDs no longer pending, or of another
    /// destination, are ignored), deletes each message no entry refers to
    /// any more, and clears the destination's failures. Returns how many
    /// entries it deleted.
    fn outbox_delivered(
        &self,
        destination: &str,
        outbox_ids: &[u64],
    ) -> impl Future<Output = R<u64>> + Send;

    /// Records a failed attempt at the destination: no attempt before
    /// `next_attempt_at_ms`, and `error` (1 to [`MAX_OUTBOX_ERROR_LEN`]
    /// bytes) kept for operators. Returns how many attempts in a row have
    /// now failed.
    fn outbox_failed(
        &self,
        destination: &str,
        next_attempt_at_ms: u64,
        error: &str,
    ) -> impl Future<Output = R<u32>> + Send;

    /// Every destination with pending entries, by domain, with their
    /// number and the destination's failures in a row.
    fn outbox_depth(&self) -> impl Future<Output = R<Vec<OutboxDepth>>> + Send;
}

// --- Input checks, run before any SQL. ---------------------------------------

pub(crate) fn check_group_id(group_id: &[u8]) -> R<()> {
    check_len("a group ID", group_id.len(), MAX_GROUP_ID_LEN)
}

pub(crate) fn check_new_group(group: &NewGroup) -> R<()> {
    check_group_id(&group.group_id)?;
    crate::to_db("an epoch", group.epoch)?;
    check_len("a group state", group.state.len(), MAX_GROUP_STATE_LEN)?;
    check_len("a GroupInfo", group.group_info.len(), MAX_GROUP_INFO_LEN)?;
    crate::to_db("a creation time (ms)", group.created_at_ms)?;
    Ok(())
}

pub(crate) fn check_change(change: &GroupChange) -> R<()> {
    match change {
        GroupChange::Message { epoch } => {
            crate::to_db("an epoch", *epoch)?;
        }
        GroupChange::State {
            expected_state_version: _,
            new_epoch,
            state,
            group_info,
            joiners,
        } => {
            crate::to_db("an epoch", *new_epoch)?;
            check_len("a group state", state.len(), MAX_GROUP_STATE_LEN)?;
            if let Some(group_info) = group_info {
                check_len("a GroupInfo", group_info.len(), MAX_GROUP_INFO_LEN)?;
            }
            if let Some(joiners) = joiners {
                check_joiners(joiners)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn check_joiner_lookup(
    group_id: &[u8],
    signature_key: &[u8],
    provider_domain: &str,
) -> R<()> {
    check_group_id(group_id)?;
    check_joiner(signature_key, provider_domain)
}

fn check_joiner(signature_key: &[u8], provider_domain: &str) -> R<()> {
    check_len(
        "a joiner's signature key",
        signature_key.len(),
        MAX_SIGNATURE_KEY_LEN,
    )?;
    check_len(
        "a joiner's provider domain",
        provider_domain.len(),
        MAX_DOMAIN_LEN,
    )
}

fn check_joiners(joiners: &NewJoiners) -> R<()> {
    check_len(
        "a ratchet tree",
        joiners.ratchet_tree.len(),
        MAX_RATCHET_TREE_LEN,
    )?;
    check_count("joiners", joiners.members.len(), 1, MAX_JOINERS)?;
    crate::to_db("an expiry time (ms)", joiners.expires_at_ms)?;
    joiners
        .members
        .iter()
        .try_for_each(|j| check_joiner(&j.signature_key, &j.provider_domain))
}

pub(crate) fn check_accepted(accepted: &Accepted) -> R<()> {
    crate::to_db("an expiry time (ms)", accepted.request_expires_at_ms)?;
    crate::to_db("a timestamp (ms)", accepted.timestamp_ms)?;
    if accepted.deliveries.is_empty() {
        // Not stored, but still bounded.
        if accepted.message.len() > crate::MAX_MESSAGE_LEN {
            check_message(&accepted.message)?;
        }
        return Ok(());
    }
    check_message(&accepted.message)?;
    check_count("deliveries", accepted.deliveries.len(), 1, MAX_DELIVERIES)?;
    let mut total = 0usize;
    let mut destinations = std::collections::BTreeSet::new();
    for delivery in &accepted.deliveries {
        check_len(
            "a destination domain",
            delivery.destination.len(),
            MAX_DOMAIN_LEN,
        )?;
        check_len(
            "a recipient list",
            delivery.recipients.len(),
            MAX_RECIPIENTS_LEN,
        )?;
        if !destinations.insert(delivery.destination.as_str()) {
            return Err(StorageError::DuplicateDestination {
                destination: delivery.destination.clone(),
            });
        }
        total += delivery.recipients.len();
    }
    if total > MAX_RECIPIENTS_TOTAL_LEN {
        return Err(StorageError::InvalidLength {
            what: "all recipient lists of an operation together",
            len: total,
            max: MAX_RECIPIENTS_TOTAL_LEN,
        });
    }
    Ok(())
}

pub(crate) fn check_outbox_limit(what: &'static str, limit: u32) -> R<()> {
    if limit == 0 || limit > MAX_OUTBOX_LIMIT {
        return Err(StorageError::LimitOutOfRange {
            what,
            limit,
            max: MAX_OUTBOX_LIMIT,
        });
    }
    Ok(())
}

pub(crate) fn check_destination(destination: &str) -> R<()> {
    check_len("a destination domain", destination.len(), MAX_DOMAIN_LEN)
}

pub(crate) fn check_delivered(destination: &str, outbox_ids: &[u64]) -> R<Vec<i64>> {
    check_destination(destination)?;
    check_count("outbox IDs", outbox_ids.len(), 0, MAX_OUTBOX_LIMIT as usize)?;
    // An ID above i64::MAX was never handed out: it matches nothing.
    Ok(outbox_ids
        .iter()
        .filter_map(|&id| i64::try_from(id).ok())
        .collect())
}

pub(crate) fn check_failed(destination: &str, next_attempt_at_ms: u64, error: &str) -> R<i64> {
    check_destination(destination)?;
    check_len("a delivery error", error.len(), MAX_OUTBOX_ERROR_LEN)?;
    crate::to_db("a next attempt time (ms)", next_attempt_at_ms)
}

fn check_count(what: &'static str, len: usize, min: usize, max: usize) -> R<()> {
    if len < min || len > max {
        return Err(StorageError::CountOutOfRange {
            what,
            len,
            min,
            max,
        });
    }
    Ok(())
}

/// One fresh random event ID per delivery.
pub(crate) fn event_ids(n: usize) -> R<Vec<EventId>> {
    let mut ids = vec![[0u8; 16]; n];
    for id in &mut ids {
        aws_lc_rs::rand::fill(id).map_err(|_| StorageError::Randomness)?;
    }
    Ok(ids)
}
