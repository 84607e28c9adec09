//! [`GroupStore`] and [`OutboxStore`] on SQLite. Every write runs under the
//! write lock from `BEGIN IMMEDIATE` to commit, which is what serialises
//! the operations of a group (and of every other group: SQLite has one
//! writer), so a group's sequence numbers have no gaps and two changes
//! validated against one state cannot both apply.

use sqlx::sqlite::SqliteConnection;

use super::{BEGIN_WRITE, SqliteStorage};
use crate::groups::{
    check_accepted, check_change, check_delivered, check_destination, check_failed, check_group_id,
    check_joiner_lookup, check_new_group, check_outbox_limit, event_ids,
};
use crate::shared::hub::{
    GroupRow, LockedGroup, OutboxRow, Verdict, batch_end, consecutive_failures, distinct_messages,
    group_version, judge, outbox_depth, outbox_entry, sql, stored_group,
};
use crate::{
    Accepted, ApplyOutcome, CreateOutcome, EventId, FollowUp, GroupChange, GroupStore,
    GroupVersion, NewGroup, NewJoiners, OutboxDepth, OutboxEntry, OutboxStore, R, RequestId,
    StorageError, StoredGroup, to_db,
};

/// Records the request as seen; `false` if it was recorded before.
async fn remember_request(
    conn: &mut SqliteConnection,
    group_id: &[u8],
    accepted: &Accepted,
) -> R<bool> {
    let done = sqlx::query(sql::REMEMBER_REQUEST)
        .bind(group_id)
        .bind(&accepted.request_id[..])
        .bind(to_db(
            "an expiry time (ms)",
            accepted.request_expires_at_ms,
        )?)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the message of operation `seq` once and appends one outbox entry
/// per delivery, in delivery order.
async fn fan_out(
    conn: &mut SqliteConnection,
    group_id: &[u8],
    seq: i64,
    accepted: &Accepted,
    event_ids: &[EventId],
) -> R<()> {
    if accepted.deliveries.is_empty() {
        return Ok(());
    }
    sqlx::query(sql::INSERT_MESSAGE)
        .bind(group_id)
        .bind(seq)
        .bind(to_db("a timestamp (ms)", accepted.timestamp_ms)?)
        .bind(&accepted.message)
        .execute(&mut *conn)
        .await?;
    for (delivery, event_id) in accepted.deliveries.iter().zip(event_ids) {
        sqlx::query(
            "INSERT INTO hub_outbox (destination, group_id, seq, recipients, event_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&delivery.destination)
        .bind(group_id)
        .bind(seq)
        .bind(&delivery.recipients)
        .bind(&event_id[..])
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores a state change whose version was checked.
async fn set_state(conn: &mut SqliteConnection, group_id: &[u8], change: &GroupChange) -> R<()> {
    let GroupChange::State {
        new_epoch,
        state,
        group_info,
        joiners,
        ..
    } = change
    else {
        return Ok(());
    };
    let new_epoch = to_db("an epoch", *new_epoch)?;
    sqlx::query(sql::SET_VERSION)
        .bind(group_id)
        .bind(new_epoch)
        .execute(&mut *conn)
        .await?;
    sqlx::query(sql::SET_STATE)
        .bind(group_id)
        .bind(state)
        .bind(group_info.as_deref())
        .execute(&mut *conn)
        .await?;
    if let Some(joiners) = joiners {
        record_joiners(conn, group_id, new_epoch, joiners).await?;
    }
    Ok(())
}

/// Event IDs for a follow-up's deliveries (none without one).
fn event_ids_for(follow_up: Option<&Accepted>) -> R<Vec<EventId>> {
    follow_up.map_or(Ok(Vec::new()), |f| event_ids(f.deliveries.len()))
}

async fn record_joiners(
    conn: &mut SqliteConnection,
    group_id: &[u8],
    epoch: i64,
    joiners: &NewJoiners,
) -> R<()> {
    sqlx::query(sql::INSERT_TREE)
        .bind(group_id)
        .bind(epoch)
        .bind(&joiners.ratchet_tree)
        .bind(to_db("an expiry time (ms)", joiners.expires_at_ms)?)
        .execute(&mut *conn)
        .await?;
    for joiner in &joiners.members {
        sqlx::query(
            "INSERT INTO hub_joiners (group_id, epoch, signature_key, provider_domain)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(epoch)
        .bind(&joiner.signature_key)
        .bind(&joiner.provider_domain)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl GroupStore for SqliteStorage {
    async fn create_group(&self, group: &NewGroup, accepted: &Accepted) -> R<CreateOutcome> {
        check_new_group(group)?;
        check_accepted(accepted)?;
        let event_ids = event_ids(accepted.deliveries.len())?;
        // Dropping the transaction on any early return rolls it back.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        if !remember_request(&mut tx, &group.group_id, accepted).await? {
            return Ok(CreateOutcome::Replay);
        }
        let created = sqlx::query(sql::INSERT_GROUP)
            .bind(&group.group_id)
            .bind(to_db("an epoch", group.epoch)?)
            .bind(to_db("a creation time (ms)", group.created_at_ms)?)
            .execute(&mut *tx)
            .await?;
        if created.rows_affected() == 0 {
            return Err(StorageError::GroupExists {
                group_id: group.group_id.clone(),
            });
        }
        sqlx::query(sql::INSERT_GROUP_STATE)
            .bind(&group.group_id)
            .bind(&group.state)
            .bind(&group.group_info)
            .execute(&mut *tx)
            .await?;
        fan_out(&mut tx, &group.group_id, 1, accepted, &event_ids).await?;
        tx.commit().await?;
        Ok(CreateOutcome::Created)
    }

    async fn load_group(&self, group_id: &[u8]) -> R<Option<StoredGroup>> {
        check_group_id(group_id)?;
        let row: Option<GroupRow> = sqlx::query_as(sql::LOAD_GROUP)
            .bind(group_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(stored_group).transpose()
    }

    async fn group_version(&self, group_id: &[u8]) -> R<Option<GroupVersion>> {
        check_group_id(group_id)?;
        let row: Option<(i64, i64)> = sqlx::query_as(sql::GROUP_VERSION)
            .bind(group_id)
            .fetch_optional(&self.reader)
            .await?;
        row.map(group_version).transpose()
    }

    async fn apply_with_follow_up(
        &self,
        group_id: &[u8],
        change: &GroupChange,
        accepted: &Accepted,
        follow_up: Option<&FollowUp>,
    ) -> R<ApplyOutcome> {
        check_group_id(group_id)?;
        check_change(change)?;
        check_accepted(accepted)?;
        let follow_up = follow_up.map(|f| f.as_accepted(accepted));
        if let Some(f) = &follow_up {
            check_accepted(f)?;
        }
        let event_ids = event_ids(accepted.deliveries.len())?;
        let follow_up_ids = event_ids_for(follow_up.as_ref())?;
        // Dropping the transaction on any early return (a replay, a stale
        // change, an error) rolls it back: nothing changed.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        if !remember_request(&mut tx, group_id, accepted).await? {
            return Ok(ApplyOutcome::Replay);
        }
        let locked: LockedGroup = sqlx::query_as(sql::LOCK_GROUP)
            .bind(group_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StorageError::UnknownGroup {
                group_id: group_id.to_vec(),
            })?;
        let sequence = match judge(group_id, change, locked)? {
            Verdict::Apply { sequence } => sequence,
            Verdict::Stale(outcome) => return Ok(outcome),
        };
        set_state(&mut tx, group_id, change).await?;
        fan_out(&mut tx, group_id, sequence, accepted, &event_ids).await?;
        if let Some(f) = &follow_up {
            let next: i64 = sqlx::query_scalar(sql::NEXT_SEQ)
                .bind(group_id)
                .fetch_one(&mut *tx)
                .await?;
            fan_out(&mut tx, group_id, next, f, &follow_up_ids).await?;
        }
        tx.commit().await?;
        Ok(ApplyOutcome::Applied {
            sequence: crate::from_db("a sequence number", sequence)?,
        })
    }

    async fn accepted_request(&self, group_id: &[u8], request_id: &RequestId) -> R<bool> {
        check_group_id(group_id)?;
        let found: Option<i32> = sqlx::query_scalar(sql::ACCEPTED_REQUEST)
            .bind(group_id)
            .bind(&request_id[..])
            .fetch_optional(&self.reader)
            .await?;
        Ok(found.is_some())
    }

    async fn joiner_tree(
        &self,
        group_id: &[u8],
        epoch: u64,
        signature_key: &[u8],
        provider_domain: &str,
        now_ms: u64,
    ) -> R<Option<Vec<u8>>> {
        check_joiner_lookup(group_id, signature_key, provider_domain)?;
        // Nothing is stored beyond i64::MAX: clamping changes no answer.
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(sql::JOINER_TREE)
            .bind(group_id)
            .bind(epoch)
            .bind(signature_key)
            .bind(provider_domain)
            .bind(now_ms)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn purge_expired_group_records(&self, now_ms: u64) -> R<u64> {
        // No stored time exceeds i64::MAX, so clamping changes nothing.
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let requests = sqlx::query(sql::PURGE_REQUESTS)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::PURGE_JOINERS)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let trees = sqlx::query(sql::PURGE_TREES)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(requests.rows_affected() + trees.rows_affected())
    }
}

impl OutboxStore for SqliteStorage {
    async fn due_destinations(&self, now_ms: u64, limit: u32) -> R<Vec<String>> {
        check_outbox_limit("destinations", limit)?;
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(sql::DUE_DESTINATIONS)
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?)
    }

    async fn outbox_batch(&self, destination: &str, limit: u32) -> R<Vec<OutboxEntry>> {
        check_destination(destination)?;
        check_outbox_limit("outbox entries", limit)?;
        // One read transaction: both statements see one snapshot.
        let mut tx = self.reader.begin().await?;
        let sizes: Vec<(i64, i64)> = sqlx::query_as(sql::BATCH_SIZES)
            .bind(destination)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let Some((last_id, count)) = batch_end(&sizes) else {
            return Ok(Vec::new());
        };
        let rows: Vec<OutboxRow> = sqlx::query_as(sql::BATCH)
            .bind(destination)
            .bind(last_id)
            .bind(count as i64)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.into_iter().map(outbox_entry).collect()
    }

    async fn outbox_delivered(&self, destination: &str, outbox_ids: &[u64]) -> R<u64> {
        let ids = check_delivered(destination, outbox_ids)?;
        // A JSON array: one statement for the whole list.
        let ids = format!(
            "[{}]",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        );
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let deleted: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "DELETE FROM hub_outbox
             WHERE destination = $1 AND outbox_id IN (SELECT value FROM json_each($2))
             RETURNING group_id, seq",
        )
        .bind(destination)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let count = deleted.len() as u64;
        for (group_id, seq) in distinct_messages(deleted) {
            // Under the write lock no other delivery is in between.
            sqlx::query(
                "DELETE FROM hub_messages
                 WHERE group_id = $1 AND seq = $2
                   AND NOT EXISTS (SELECT 1 FROM hub_outbox o
                                   WHERE o.group_id = hub_messages.group_id
                                     AND o.seq = hub_messages.seq)",
            )
            .bind(group_id)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(sql::RESET_BACKOFF)
            .bind(destination)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(count)
    }

    async fn outbox_failed(
        &self,
        destination: &str,
        next_attempt_at_ms: u64,
        error: &str,
    ) -> R<u32> {
        let next_attempt_at_ms = check_failed(destination, next_attempt_at_ms, error)?;
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let failures: i64 = sqlx::query_scalar(sql::FAILED)
            .bind(destination)
            .bind(next_attempt_at_ms)
            .bind(error)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        consecutive_failures(failures)
    }

    async fn outbox_depth(&self) -> R<Vec<OutboxDepth>> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as(sql::DEPTH).fetch_all(&self.reader).await?;
        rows.into_iter().map(outbox_depth).collect()
    }
}
