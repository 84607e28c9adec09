//! What the two back ends share for [`crate::GroupStore`] and
//! [`crate::OutboxStore`]: the SQL both run unchanged, the judgement of a
//! change against the locked group row, and the decoding of rows.

use crate::groups::{EventId, GroupChange, MAX_OUTBOX_BATCH_BYTES, OutboxEntry, StoredGroup};
use crate::{ApplyOutcome, GroupVersion, OutboxDepth, R, StorageError, from_db};

/// Statements both back ends run unchanged.
pub(crate) mod sql {
    /// Insert-or-nothing on the primary key: of concurrent operations with
    /// one request ID, one inserts and the others wait for its outcome
    /// (PostgreSQL) and then insert (it rolled back) or do nothing (it
    /// committed: a replay). First in the transaction, before the group's
    /// lock, so no group lock is held while waiting here.
    pub const REMEMBER_REQUEST: &str =
        "INSERT INTO hub_requests (group_id, request_id, expires_at_ms)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

    pub const ACCEPTED_REQUEST: &str =
        "SELECT 1 FROM hub_requests WHERE group_id = $1 AND request_id = $2";

    pub const INSERT_GROUP: &str =
        "INSERT INTO hub_groups (group_id, epoch, state_version, last_seq, created_at_ms)
         VALUES ($1, $2, 1, 1, $3) ON CONFLICT DO NOTHING";

    pub const INSERT_GROUP_STATE: &str =
        "INSERT INTO hub_group_states (group_id, state, group_info) VALUES ($1, $2, $3)";

    /// Takes the group's next sequence number and returns it with the
    /// group's epoch and state version. The update locks the group's row to
    /// the end of the transaction: operations on one group are serialised
    /// here, and a stale change's rollback gives the number back.
    pub const LOCK_GROUP: &str = "UPDATE hub_groups SET last_seq = last_seq + 1
         WHERE group_id = $1
         RETURNING epoch, state_version, last_seq";

    /// Takes one more sequence number of a group already locked by
    /// [`LOCK_GROUP`] in this transaction (an operation's second message).
    pub const NEXT_SEQ: &str = "UPDATE hub_groups SET last_seq = last_seq + 1
         WHERE group_id = $1
         RETURNING last_seq";

    pub const SET_VERSION: &str =
        "UPDATE hub_groups SET epoch = $2, state_version = state_version + 1 WHERE group_id = $1";

    pub const SET_STATE: &str = "UPDATE hub_group_states
         SET state = $2, group_info = COALESCE($3, group_info)
         WHERE group_id = $1";

    pub const LOAD_GROUP: &str =
        "SELECT g.epoch, g.state_version, g.last_seq, s.state, s.group_info
         FROM hub_groups g JOIN hub_group_states s ON s.group_id = g.group_id
         WHERE g.group_id = $1";

    pub const GROUP_VERSION: &str =
        "SELECT epoch, state_version FROM hub_groups WHERE group_id = $1";

    pub const INSERT_TREE: &str =
        "INSERT INTO hub_joiner_trees (group_id, epoch, ratchet_tree, expires_at_ms)
         VALUES ($1, $2, $3, $4)";

    pub const INSERT_MESSAGE: &str =
        "INSERT INTO hub_messages (group_id, seq, timestamp_ms, message) VALUES ($1, $2, $3, $4)";

    pub const JOINER_TREE: &str = "SELECT t.ratchet_tree FROM hub_joiner_trees t
         WHERE t.group_id = $1 AND t.epoch = $2 AND t.expires_at_ms > $5
           AND EXISTS (SELECT 1 FROM hub_joiners j
                       WHERE j.group_id = t.group_id AND j.epoch = t.epoch
                         AND j.signature_key = $3 AND j.provider_domain = $4)";

    pub const PURGE_REQUESTS: &str = "DELETE FROM hub_requests WHERE expires_at_ms <= $1";

    pub const PURGE_JOINERS: &str = "DELETE FROM hub_joiners WHERE (group_id, epoch) IN
         (SELECT group_id, epoch FROM hub_joiner_trees WHERE expires_at_ms <= $1)";

    pub const PURGE_TREES: &str = "DELETE FROM hub_joiner_trees WHERE expires_at_ms <= $1";

    /// A destination without a backoff row has never failed (or has
    /// succeeded since): it is due.
    pub const DUE_DESTINATIONS: &str = "SELECT o.destination FROM hub_outbox o
         LEFT JOIN hub_outbox_backoff b ON b.destination = o.destination
         WHERE b.destination IS NULL OR b.next_attempt_at_ms <= $1
         GROUP BY o.destination
         ORDER BY MIN(o.outbox_id)
         LIMIT $2";

    /// The sizes of the destination's oldest entries, without reading
    /// them: where [`super::batch_end`] cuts the batch.
    pub const BATCH_SIZES: &str =
        "SELECT o.outbox_id, CAST(length(m.message) + length(o.recipients) AS BIGINT)
         FROM hub_outbox o JOIN hub_messages m ON m.group_id = o.group_id AND m.seq = o.seq
         WHERE o.destination = $1
         ORDER BY o.outbox_id LIMIT $2";

    pub const BATCH: &str =
        "SELECT o.outbox_id, o.group_id, o.seq, m.timestamp_ms, m.message, o.recipients, o.event_id
         FROM hub_outbox o JOIN hub_messages m ON m.group_id = o.group_id AND m.seq = o.seq
         WHERE o.destination = $1 AND o.outbox_id <= $2
         ORDER BY o.outbox_id LIMIT $3";

    pub const RESET_BACKOFF: &str = "DELETE FROM hub_outbox_backoff WHERE destination = $1";

    pub const FAILED: &str =
        "INSERT INTO hub_outbox_backoff (destination, failures, next_attempt_at_ms, last_error)
         VALUES ($1, 1, $2, $3)
         ON CONFLICT (destination) DO UPDATE
         SET failures = hub_outbox_backoff.failures + 1,
             next_attempt_at_ms = excluded.next_attempt_at_ms,
             last_error = excluded.last_error
         RETURNING failures";

    pub const DEPTH: &str =
        "SELECT o.destination, COUNT(*), CAST(COALESCE(MAX(b.failures), 0) AS BIGINT)
         FROM hub_outbox o LEFT JOIN hub_outbox_backoff b ON b.destination = o.destination
         GROUP BY o.destination ORDER BY o.destination";
}

/// The group row as [`sql::LOCK_GROUP`] returns it: epoch, state version,
/// and the sequence number just taken.
pub(crate) type LockedGroup = (i64, i64, i64);

/// What to do with a change, judged against the locked group row.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Apply it under this sequence number.
    Apply { sequence: i64 },
    /// Roll back and answer [`ApplyOutcome::Stale`] with this.
    Stale(ApplyOutcome),
}

/// Whether `change` still applies to the group as locked: a message needs
/// the epoch it was validated in, a state change the state version it was
/// validated against, and may not move the epoch back (or keep it while
/// adding joiners, whose tree belongs to the commit's new epoch).
pub(crate) fn judge(group_id: &[u8], change: &GroupChange, locked: LockedGroup) -> R<Verdict> {
    let (epoch, state_version, sequence) = locked;
    let epoch = from_db("an epoch", epoch)?;
    let state_version = from_db("a state version", state_version)?;
    let stale = Verdict::Stale(ApplyOutcome::Stale {
        epoch,
        state_version,
    });
    match change {
        GroupChange::Message { epoch: expected } => {
            if *expected != epoch {
                return Ok(stale);
            }
        }
        GroupChange::State {
            expected_state_version,
            new_epoch,
            joiners,
            ..
        } => {
            if *expected_state_version != state_version {
                return Ok(stale);
            }
            let with_joiners = joiners.is_some();
            if *new_epoch < epoch || (with_joiners && *new_epoch == epoch) {
                return Err(StorageError::EpochNotAdvanced {
                    group_id: group_id.to_vec(),
                    epoch,
                    new_epoch: *new_epoch,
                    with_joiners,
                });
            }
        }
    }
    Ok(Verdict::Apply { sequence })
}

/// A [`sql::LOAD_GROUP`] row.
pub(crate) type GroupRow = (i64, i64, i64, Vec<u8>, Vec<u8>);

pub(crate) fn stored_group(row: GroupRow) -> R<StoredGroup> {
    let (epoch, state_version, sequence, state, group_info) = row;
    Ok(StoredGroup {
        epoch: from_db("an epoch", epoch)?,
        state_version: from_db("a state version", state_version)?,
        sequence: from_db("a sequence number", sequence)?,
        state,
        group_info,
    })
}

pub(crate) fn group_version((epoch, state_version): (i64, i64)) -> R<GroupVersion> {
    Ok(GroupVersion {
        epoch: from_db("an epoch", epoch)?,
        state_version: from_db("a state version", state_version)?,
    })
}

/// Where a batch ends, from the [`sql::BATCH_SIZES`] of the destination's
/// oldest entries: the last outbox ID and the number of entries that fit
/// in [`MAX_OUTBOX_BATCH_BYTES`] (at least one), or `None` if none waits.
pub(crate) fn batch_end(sizes: &[(i64, i64)]) -> Option<(i64, usize)> {
    let mut total = 0u64;
    let mut end = None;
    for (count, &(outbox_id, size)) in sizes.iter().enumerate() {
        total = total.saturating_add(u64::try_from(size).unwrap_or(u64::MAX));
        if count > 0 && total > MAX_OUTBOX_BATCH_BYTES as u64 {
            break;
        }
        end = Some((outbox_id, count + 1));
    }
    end
}

/// A [`sql::BATCH`] row.
pub(crate) type OutboxRow = (i64, Vec<u8>, i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);

pub(crate) fn outbox_entry(row: OutboxRow) -> R<OutboxEntry> {
    let (outbox_id, group_id, sequence, timestamp_ms, message, recipients, event_id) = row;
    let event_id = EventId::try_from(event_id.as_slice()).map_err(|_| {
        StorageError::Corrupt(format!(
            "outbox entry {outbox_id} has an event ID of {} bytes, not 16",
            event_id.len()
        ))
    })?;
    Ok(OutboxEntry {
        outbox_id: from_db("an outbox ID", outbox_id)?,
        group_id,
        sequence: from_db("a sequence number", sequence)?,
        timestamp_ms: from_db("a timestamp", timestamp_ms)?,
        message,
        recipients,
        event_id,
    })
}

pub(crate) fn outbox_depth(row: (String, i64, i64)) -> R<OutboxDepth> {
    let (destination, pending, failures) = row;
    Ok(OutboxDepth {
        destination,
        pending: from_db("an outbox depth", pending)?,
        failures: consecutive_failures(failures)?,
    })
}

/// A failure count read back (saturating: it only informs backoff).
pub(crate) fn consecutive_failures(failures: i64) -> R<u32> {
    Ok(u32::try_from(from_db("a failure count", failures)?).unwrap_or(u32::MAX))
}

/// The distinct messages of deleted outbox entries, sorted: the order in
/// which their rows are locked, so that concurrent deliveries cannot
/// deadlock.
pub(crate) fn distinct_messages(mut deleted: Vec<(Vec<u8>, i64)>) -> Vec<(Vec<u8>, i64)> {
    deleted.sort();
    deleted.dedup();
    deleted
}
