//! The shared back end: PostgreSQL, for several stateless provider processes
//! behind a load balancer.
//!
//! Transactions run at PostgreSQL's default READ COMMITTED. What makes the
//! guarantees hold under concurrent writers is row locks, not isolation:
//! an enqueue takes its sequence numbers by updating the queue's row (which
//! locks it until commit), a batch locks its queues in queue ID order (so
//! two batches cannot deadlock), and a claim selects the KeyPackage it
//! deletes `FOR UPDATE SKIP LOCKED` (so concurrent claims take different
//! ones without waiting for each other).
//!
//! Queue notifications cross processes: an enqueue transaction calls
//! `pg_notify('mimi_queue', '<hex queue id>:<newest seq>')`, which
//! PostgreSQL delivers at commit (and never for a rolled-back one), and each
//! storage runs one task holding a `LISTEN mimi_queue` connection that
//! feeds its [`QueueWatcher`]. When that connection is lost, the task
//! reconnects, listens again and then wakes every subscriber, since what
//! was notified in between is lost: they refetch.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use tokio::sync::oneshot;

mod enrollment;
mod hub;
mod references;

use crate::migrate::{self, Dialect, Migration};
use crate::shared::{
    ClientRow, Enqueued, OnClosed, already_registered, check_ack, check_handle_owner,
    client_record, fetched, sql,
};
use crate::watch::{NOTIFY_CHANNEL, WatchOwner, payload};
use crate::{
    ClientRecord, ClientStore, DeliverOutcome, EventRecord, KeyPackageStore, MAX_DOMAIN_LEN,
    MAX_HANDLE_LEN, MAX_ID_LEN, MessageId, QueueId, QueueStore, QueueWatcher, R, ReplayStore,
    StorageError, check_batch, check_client, check_event, check_fetch_limit, check_len,
    check_upload, from_db, group_by_queue, to_db,
};

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "stores",
        sql: include_str!("../migrations/postgres/0001_stores.sql"),
    },
    Migration {
        version: 2,
        name: "clients",
        sql: include_str!("../migrations/postgres/0002_clients.sql"),
    },
    Migration {
        version: 3,
        name: "key_package_suites",
        sql: include_str!("../migrations/postgres/0003_key_package_suites.sql"),
    },
    Migration {
        version: 4,
        name: "hub",
        sql: include_str!("../migrations/postgres/0004_hub.sql"),
    },
    Migration {
        version: 5,
        name: "enrollment",
        sql: include_str!("../migrations/postgres/0005_enrollment.sql"),
    },
    Migration {
        version: 6,
        name: "retired_references",
        sql: include_str!("../migrations/postgres/0006_retired_references.sql"),
    },
    Migration {
        version: 7,
        name: "revocation",
        sql: include_str!("../migrations/postgres/0007_revocation.sql"),
    },
];

pub(crate) const DIALECT: Dialect = Dialect {
    begin: "BEGIN",
    // Held to the end of each migration transaction: processes starting
    // together migrate one after the other.
    lock: "SELECT pg_advisory_xact_lock(hashtext('mimi-storage schema migrations'))",
    migrations: MIGRATIONS,
};

/// Connections per process (plus one for the listener).
const POOL_SIZE: u32 = 10;

/// One INSERT of a batch carries at most this many messages, or this many
/// bytes (a single message may be larger), well below PostgreSQL's 1 GiB
/// limit on one protocol message.
const INSERT_CHUNK_ROWS: usize = 1000;
const INSERT_CHUNK_BYTES: usize = 16 << 20;

/// Waits between attempts to reconnect the listener: doubling from the
/// first to the last.
const RECONNECT_DELAY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(30));

/// The stores on a PostgreSQL database, which several provider processes
/// may share. Cloning is cheap and shares the connections and the queue
/// notifications; each [`PostgresStorage::connect`] has its own listener
/// connection, which stops when the last clone is closed or dropped.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
    watch: Arc<WatchOwner>,
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user@host:port/db`;
    /// the database must exist), brings its schema up to date and starts
    /// listening for queue notifications. Call it inside a Tokio runtime:
    /// the listener is a task of its own.
    pub async fn connect(url: &str) -> R<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect(url)
            .await?;
        migrate::run(&pool, &DIALECT).await?;
        // Listening before we return: a subscriber can only exist after
        // that, so no commit it could wait for goes unheard.
        let options = pool.connect_options();
        let listener = listen(&options).await?;
        let watcher = QueueWatcher::new();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(run_listener(listener, options, watcher.clone(), stopped));
        Ok(PostgresStorage {
            pool,
            watch: Arc::new(WatchOwner::new(watcher, Some(stop))),
        })
    }

    /// Closes every connection, waiting for operations in progress, stops
    /// the listener and ends every queue subscription.
    pub async fn close(&self) {
        self.watch.close();
        self.pool.close().await;
    }

    /// The pool, for tests that assert on the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A `LISTEN mimi_queue` connection, on a pool of its own (the listener
/// holds its connection for good).
async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}

/// Feeds `watcher` from `listener` until `stop` fires (or its sender is
/// dropped: the last storage handle is gone).
async fn run_listener(
    mut listener: PgListener,
    options: Arc<PgConnectOptions>,
    watcher: QueueWatcher,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => watcher.notify_payload(notification.payload()),
                // The connection was lost and sqlx has reconnected and
                // listens again (its eager reconnect): what was notified
                // in between is lost, so everyone refetches.
                Ok(None) => {
                    tracing::warn!("queue notification listener reconnected; waking every subscriber");
                    watcher.wake_all();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "queue notification listener failed; reconnecting");
                    // A fresh listener rather than sqlx's own reconnect:
                    // some errors leave its dead connection in place.
                    match reconnect(&options, &mut stop).await {
                        Some(fresh) => listener = fresh,
                        None => return,
                    }
                    tracing::info!("queue notification listener reconnected; waking every subscriber");
                    watcher.wake_all();
                }
            },
        }
    }
}

/// A new listener, retried with a growing delay; `None` if stopped first.
async fn reconnect(
    options: &PgConnectOptions,
    stop: &mut oneshot::Receiver<()>,
) -> Option<PgListener> {
    let (mut delay, max_delay) = RECONNECT_DELAY;
    loop {
        tokio::select! {
            _ = &mut *stop => return None,
            () = tokio::time::sleep(delay) => {}
        }
        match listen(options).await {
            Ok(listener) => return Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "cannot reconnect the queue notification listener");
                delay = (delay * 2).min(max_delay);
            }
        }
    }
}

/// Enqueues `batch` in the transaction `conn`, queue by queue in ID order
/// (the locking order that keeps concurrent batches from deadlocking), and
/// queues the notifications PostgreSQL sends at commit.
async fn enqueue_in(
    conn: &mut PgConnection,
    batch: &[(QueueId, &[u8])],
    on_closed: OnClosed,
) -> R<Enqueued> {
    let mut done = Enqueued::new(batch.len());
    for (queue_id, positions) in group_by_queue(batch) {
        // A concurrent enqueue to this queue waits here for our commit,
        // then continues from our counter; a rollback gives the numbers
        // back, so the queue never has a gap.
        let first: Option<i64> = sqlx::query_scalar(sql::RESERVE)
            .bind(positions.len() as i64)
            .bind(&queue_id[..])
            .fetch_optional(&mut *conn)
            .await?;
        match first {
            Some(first) => {
                done.reserved(queue_id, &positions, from_db("a sequence number", first)?);
            }
            None => {
                let retired = queue_exists(conn, queue_id).await?;
                done.closed(on_closed, queue_id, &positions, retired)?;
            }
        }
    }
    insert_messages(conn, batch, &done).await?;
    if !done.latest.is_empty() {
        let payloads: Vec<String> = done
            .latest
            .iter()
            .map(|(queue_id, latest)| payload(queue_id, *latest))
            .collect();
        sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::text[]) AS p")
            .bind(NOTIFY_CHANNEL)
            .bind(payloads)
            .execute(&mut *conn)
            .await?;
    }
    Ok(done)
}

/// Stores the enqueued entries with a few multi-row INSERTs rather than one
/// round trip each: a fan-out batch may be thousands long.
async fn insert_messages(
    conn: &mut PgConnection,
    batch: &[(QueueId, &[u8])],
    done: &Enqueued,
) -> R<()> {
    let stored: Vec<(usize, i64)> = done
        .stored()
        .map(|(position, seq)| Ok((position, to_db("a sequence number", seq)?)))
        .collect::<R<_>>()?;
    let mut start = 0;
    while start < stored.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < stored.len()
            && end - start < INSERT_CHUNK_ROWS
            && (end == start || bytes + batch[stored[end].0].1.len() <= INSERT_CHUNK_BYTES)
        {
            bytes += batch[stored[end].0].1.len();
            end += 1;
        }
        let chunk = &stored[start..end];
        sqlx::query(
            "INSERT INTO queue_messages (queue_id, seq, message)
             SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::bytea[])",
        )
        .bind(
            chunk
                .iter()
                .map(|&(p, _)| &batch[p].0[..])
                .collect::<Vec<&[u8]>>(),
        )
        .bind(chunk.iter().map(|&(_, seq)| seq).collect::<Vec<i64>>())
        .bind(
            chunk
                .iter()
                .map(|&(p, _)| batch[p].1)
                .collect::<Vec<&[u8]>>(),
        )
        .execute(&mut *conn)
        .await?;
        start = end;
    }
    Ok(())
}

/// Whether `queue_id` exists (an enqueue that found no open queue: it is
/// retired if it exists).
async fn queue_exists(conn: &mut PgConnection, queue_id: QueueId) -> R<bool> {
    Ok(sqlx::query(sql::QUEUE_EXISTS)
        .bind(&queue_id[..])
        .fetch_optional(conn)
        .await?
        .is_some())
}

impl QueueStore for PostgresStorage {
    async fn create_queue(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query(sql::CREATE_QUEUE)
            .bind(&queue_id[..])
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::QueueExists { queue_id });
        }
        Ok(())
    }

    async fn enqueue(&self, queue_id: QueueId, message: &[u8]) -> R<u64> {
        let seqs = self.enqueue_many(&[(queue_id, message)]).await?;
        Ok(seqs[0])
    }

    async fn enqueue_many(&self, batch: &[(QueueId, &[u8])]) -> R<Vec<u64>> {
        check_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Dropping the transaction on an error rolls back the whole batch.
        let mut tx = self.pool.begin().await?;
        let done = enqueue_in(&mut tx, batch, OnClosed::Refuse).await?;
        tx.commit().await?;
        Ok(done.seqs())
    }

    async fn deliver(
        &self,
        event: Option<EventRecord<'_>>,
        batch: &[(QueueId, &[u8])],
    ) -> R<DeliverOutcome> {
        check_batch(batch)?;
        let expires_at_ms = event.as_ref().map(check_event).transpose()?;
        let mut tx = self.pool.begin().await?;
        if let (Some(event), Some(expires_at_ms)) = (event, expires_at_ms) {
            // First, before any queue lock: a concurrent delivery of the
            // same event waits here for our commit and then finds the row,
            // and no queue lock is held while waiting.
            let recorded = sqlx::query(sql::REMEMBER)
                .bind(event.sender)
                .bind(&event.message_id[..])
                .bind(expires_at_ms)
                .execute(&mut *tx)
                .await?;
            if recorded.rows_affected() == 0 {
                return Ok(DeliverOutcome::Replay);
            }
        }
        let done = enqueue_in(&mut tx, batch, OnClosed::Skip).await?;
        tx.commit().await?;
        Ok(DeliverOutcome::Done(done.results))
    }

    async fn fetch(&self, queue_id: QueueId, from_seq: u64, limit: u32) -> R<Vec<(u64, Vec<u8>)>> {
        check_fetch_limit(limit)?;
        // No stored number exceeds i64::MAX, so clamping changes nothing.
        let from_seq = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let rows: Vec<(Option<i64>, Option<Vec<u8>>)> = sqlx::query_as(sql::FETCH)
            .bind(from_seq)
            .bind(&queue_id[..])
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        fetched(queue_id, rows)
    }

    async fn ack(&self, queue_id: QueueId, up_to_seq: u64) -> R<u64> {
        let mut tx = self.pool.begin().await?;
        // A concurrent enqueue can only raise next_seq, so reading it
        // without a lock can refuse nothing that fetch has returned.
        let next_seq: i64 = sqlx::query_scalar(sql::NEXT_SEQ)
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::UnknownQueue { queue_id })?;
        check_ack(queue_id, up_to_seq, next_seq)?;
        let done = sqlx::query(sql::ACK)
            .bind(&queue_id[..])
            .bind(to_db("a sequence number", up_to_seq)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn depth_from(&self, queue_id: QueueId, from_seq: u64) -> R<u64> {
        let depth: i64 = sqlx::query_scalar(sql::DEPTH_FROM)
            .bind(&queue_id[..])
            // Nothing is numbered beyond i64::MAX: a larger bound counts nothing.
            .bind(i64::try_from(from_seq).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::UnknownQueue { queue_id })?;
        from_db("a queue depth", depth)
    }

    async fn total_depth(&self) -> R<u64> {
        let depth: i64 = sqlx::query_scalar(sql::TOTAL_DEPTH)
            .fetch_one(&self.pool)
            .await?;
        from_db("a queue depth", depth)
    }

    async fn retire(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query(sql::RETIRE)
            .bind(&queue_id[..])
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::UnknownQueue { queue_id });
        }
        Ok(())
    }

    fn watcher(&self) -> QueueWatcher {
        self.watch.watcher().clone()
    }
}

impl KeyPackageStore for PostgresStorage {
    async fn upload(
        &self,
        user: &str,
        client: &str,
        kp_ref: &[u8],
        cipher_suite: u16,
        key_package: &[u8],
        last_resort: bool,
    ) -> R<()> {
        check_upload(user, client, kp_ref, key_package)?;
        let mut tx = self.pool.begin().await?;
        if last_resort {
            sqlx::query(sql::DROP_OLD_LAST_RESORT)
                .bind(user)
                .bind(client)
                .bind(i32::from(cipher_suite))
                .bind(kp_ref)
                .execute(&mut *tx)
                .await?;
        }
        // DO NOTHING covers both unique keys: the same KeyPackageRef, and
        // (rarely) a last-resort KeyPackage of the suite that a concurrent
        // upload of this client committed after our DELETE looked; that
        // upload wins and this one is refused, to be retried.
        let done = sqlx::query(sql::INSERT_KEY_PACKAGE)
            .bind(user)
            .bind(client)
            .bind(i32::from(cipher_suite))
            .bind(kp_ref)
            .bind(key_package)
            .bind(last_resort)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::DuplicateKeyPackage {
                user: user.to_owned(),
                client: client.to_owned(),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim(&self, user: &str, cipher_suite: u16) -> R<Vec<(String, Vec<u8>)>> {
        check_len("a user ID", user.len(), MAX_ID_LEN)?;
        let suite = i32::from(cipher_suite);
        let mut tx = self.pool.begin().await?;
        let clients: Vec<String> = sqlx::query_scalar(sql::CLAIMABLE_CLIENTS)
            .bind(user)
            .bind(suite)
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(clients.len());
        for client in clients {
            // The row lock makes the KeyPackage ours; SKIP LOCKED passes
            // over those that concurrent claims hold, so each one-time
            // KeyPackage goes to exactly one claim.
            let one_time: Option<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM key_packages WHERE id = (
                     SELECT id FROM key_packages
                     WHERE user_id = $1 AND client_id = $2 AND cipher_suite = $3
                       AND NOT last_resort
                     ORDER BY id LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                 RETURNING key_package",
            )
            .bind(user)
            .bind(&client)
            .bind(suite)
            .fetch_optional(&mut *tx)
            .await?;
            let key_package = match one_time {
                Some(kp) => Some(kp),
                None => {
                    sqlx::query_scalar(sql::LAST_RESORT)
                        .bind(user)
                        .bind(&client)
                        .bind(suite)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            if let Some(key_package) = key_package {
                claimed.push((client, key_package));
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn count(&self, user: &str, client: &str, cipher_suite: u16) -> R<u64> {
        check_len("a user ID", user.len(), MAX_ID_LEN)?;
        check_len("a client ID", client.len(), MAX_ID_LEN)?;
        let n: i64 = sqlx::query_scalar(sql::COUNT_KEY_PACKAGES)
            .bind(user)
            .bind(client)
            .bind(i32::from(cipher_suite))
            .fetch_one(&self.pool)
            .await?;
        from_db("a KeyPackage count", n)
    }
}

impl ReplayStore for PostgresStorage {
    async fn remember(&self, sender: &str, message_id: MessageId, expires_at_ms: u64) -> R<bool> {
        check_len("a sender domain", sender.len(), MAX_DOMAIN_LEN)?;
        let expires_at_ms = to_db("an expiry time (ms)", expires_at_ms)?;
        // Of concurrent inserts of one event, one inserts and the others
        // wait for it and then do nothing.
        let done = sqlx::query(sql::REMEMBER)
            .bind(sender)
            .bind(&message_id[..])
            .bind(expires_at_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now_ms: u64) -> R<u64> {
        // No stored time exceeds i64::MAX, so clamping changes nothing.
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let done = sqlx::query(sql::PURGE)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

impl ClientStore for PostgresStorage {
    async fn register_client(&self, record: &ClientRecord) -> R<ClientRecord> {
        let registered_at_ms = check_client(record)?;
        // Rows are locked in one order (client, handle, queue), so
        // concurrent registrations wait for each other but never in a
        // cycle; the foreign keys of handle and queue are checked at
        // commit, which is what lets the client row come first.
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(sql::INSERT_CLIENT)
            .bind(&record.client_id)
            .bind(&record.user_id)
            .bind(&record.handle)
            .bind(&record.signature_key)
            .bind(&record.certificate_chain)
            .bind(&record.queue_id[..])
            .bind(registered_at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !inserted {
            let stored: Option<ClientRow> = sqlx::query_as(sql::CLIENT)
                .bind(&record.client_id)
                .fetch_optional(&mut *tx)
                .await?;
            return already_registered(record, stored);
        }
        if let Some(handle) = &record.handle {
            // A concurrent registration of the handle makes this insert
            // wait for its commit; the next statement then sees its row.
            sqlx::query(sql::CLAIM_HANDLE)
                .bind(handle)
                .bind(&record.user_id)
                .execute(&mut *tx)
                .await?;
            let owner: String = sqlx::query_scalar(sql::HANDLE_OWNER)
                .bind(handle)
                .fetch_one(&mut *tx)
                .await?;
            check_handle_owner(record, handle, &owner)?;
        }
        let queue = sqlx::query(sql::CREATE_QUEUE)
            .bind(&record.queue_id[..])
            .execute(&mut *tx)
            .await?;
        if queue.rows_affected() == 0 {
            return Err(StorageError::QueueExists {
                queue_id: record.queue_id,
            });
        }
        tx.commit().await?;
        Ok(record.clone())
    }

    async fn client(&self, client_id: &str) -> R<Option<ClientRecord>> {
        check_len("a client ID", client_id.len(), MAX_ID_LEN)?;
        let row: Option<ClientRow> = sqlx::query_as(sql::CLIENT)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(client_record).transpose()
    }

    async fn clients_of_user(&self, user_id: &str) -> R<Vec<ClientRecord>> {
        check_len("a user ID", user_id.len(), MAX_ID_LEN)?;
        let rows: Vec<ClientRow> = sqlx::query_as(sql::CLIENTS_OF_USER)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(client_record).collect()
    }

    async fn user_by_handle(&self, handle: &str) -> R<Option<String>> {
        check_len("a handle", handle.len(), MAX_HANDLE_LEN)?;
        Ok(sqlx::query_scalar(sql::HANDLE_OWNER)
            .bind(handle)
            .fetch_optional(&self.pool)
            .await?)
    }
}
