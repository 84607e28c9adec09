//! [`GroupStore`] and [`OutboxStore`] on PostgreSQL, at READ COMMITTED like
//! the other stores. An operation serialises with the others of its group
//! on the group's row lock, taken by the update that assigns its sequence
//! number ([`sql::LOCK_GROUP`]) and held to commit: a concurrent operation
//! on the group (from any process) waits there and then reads the
//! committed epoch and state version, so a group's sequence numbers have no
//! gaps and two changes validated against one state cannot both apply.
//! Locks are taken in one order — the replay key, then the group — so
//! operations cannot deadlock.

use sqlx::postgres::PgConnection;

use super::PostgresStorage;
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
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
    // One statement for all deliveries; WITH ORDINALITY keeps their order
    // for the outbox IDs.
    sqlx::query(
        "INSERT INTO hub_outbox (destination, group_id, seq, recipients, event_id)
         SELECT d, $1, $2, r, e
         FROM UNNEST($3::text[], $4::bytea[], $5::bytea[]) WITH ORDINALITY AS o (d, r, e, n)
         ORDER BY n",
    )
    .bind(group_id)
    .bind(seq)
    .bind(
        accepted
            .deliveries
            .iter()
            .map(|d| d.destination.as_str())
            .collect::<Vec<&str>>(),
    )
    .bind(
        accepted
            .deliveries
            .iter()
            .map(|d| d.recipients.as_slice())
            .collect::<Vec<&[u8]>>(),
    )
    .bind(event_ids.iter().map(|e| &e[..]).collect::<Vec<&[u8]>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores a state change whose version was checked.
async fn set_state(conn: &mut PgConnection, group_id: &[u8], change: &GroupChange) -> R<()> {
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
    conn: &mut PgConnection,
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
    sqlx::query(
        "INSERT INTO hub_joiners (group_id, epoch, signature_key, provider_domain)
         SELECT $1, $2, k, d FROM UNNEST($3::bytea[], $4::text[]) AS j (k, d)
         ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(epoch)
    .bind(
        joiners
            .members
            .iter()
            .map(|j| j.signature_key.as_slice())
            .collect::<Vec<&[u8]>>(),
    )
    .bind(
        joiners
            .members
            .iter()
            .map(|j| j.provider_domain.as_str())
            .collect::<Vec<&str>>(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl GroupStore for PostgresStorage {
    async fn create_group(&self, group: &NewGroup, accepted: &Accepted) -> R<CreateOutcome> {
        check_new_group(group)?;
        check_accepted(accepted)?;
        let event_ids = event_ids(accepted.deliveries.len())?;
        // Dropping the transaction on any early return rolls it back.
        let mut tx = self.pool.begin().await?;
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
            .fetch_optional(&self.pool)
            .await?;
        row.map(stored_group).transpose()
    }

    async fn group_version(&self, group_id: &[u8]) -> R<Option<GroupVersion>> {
        check_group_id(group_id)?;
        let row: Option<(i64, i64)> = sqlx::query_as(sql::GROUP_VERSION)
            .bind(group_id)
            .fetch_optional(&self.pool)
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
        let mut tx = self.pool.begin().await?;
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
            .fetch_optional(&self.pool)
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
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn purge_expired_group_records(&self, now_ms: u64) -> R<u64> {
        // No stored time exceeds i64::MAX, so clamping changes nothing.
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
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

impl OutboxStore for PostgresStorage {
    async fn due_destinations(&self, now_ms: u64, limit: u32) -> R<Vec<String>> {
        check_outbox_limit("destinations", limit)?;
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(sql::DUE_DESTINATIONS)
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn outbox_batch(&self, destination: &str, limit: u32) -> R<Vec<OutboxEntry>> {
        check_destination(destination)?;
        check_outbox_limit("outbox entries", limit)?;
        // One snapshot for both statements.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
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
        let mut tx = self.pool.begin().await?;
        let deleted: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "DELETE FROM hub_outbox WHERE destination = $1 AND outbox_id = ANY($2)
             RETURNING group_id, seq",
        )
        .bind(destination)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let count = deleted.len() as u64;
        let (group_ids, seqs): (Vec<Vec<u8>>, Vec<i64>) =
            distinct_messages(deleted).into_iter().unzip();
        // Lock the messages (in sorted order: no deadlock), then look for
        // entries still referring to them in a statement of its own, whose
        // snapshot sees what a concurrent delivery that held a lock before
        // us committed: of two deliveries deleting a message's last two
        // entries, the second to lock deletes the message.
        sqlx::query(
            "SELECT 1 FROM hub_messages m
             JOIN UNNEST($1::bytea[], $2::int8[]) AS d (group_id, seq)
               ON m.group_id = d.group_id AND m.seq = d.seq
             ORDER BY m.group_id, m.seq
             FOR UPDATE OF m",
        )
        .bind(&group_ids)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM hub_messages m
             USING UNNEST($1::bytea[], $2::int8[]) AS d (group_id, seq)
             WHERE m.group_id = d.group_id AND m.seq = d.seq
               AND NOT EXISTS (SELECT 1 FROM hub_outbox o
                               WHERE o.group_id = m.group_id AND o.seq = m.seq)",
        )
        .bind(&group_ids)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
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
        let mut tx = self.pool.begin().await?;
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
            sqlx::query_as(sql::DEPTH).fetch_all(&self.pool).await?;
        rows.into_iter().map(outbox_depth).collect()
    }
}
