//! The embedded back end: one SQLite file per provider, in WAL mode.
//!
//! SQLite lets one writer in at a time. Writes go through a pool of one
//! connection, so that concurrent writers in this process queue in order
//! instead of spinning on SQLite's busy handler, and each write transaction
//! starts with `BEGIN IMMEDIATE`, so that it holds the write lock from its
//! first statement (a transaction that read first and then tried to write
//! could otherwise fail when another process wrote in between). Reads use
//! their own pool and never wait for writers (WAL).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

mod enrollment;
mod hub;
mod references;

use crate::migrate::{self, Dialect, Migration};
use crate::shared::{
    ClientRow, Enqueued, OnClosed, already_registered, check_ack, check_handle_owner,
    client_record, fetched, sql,
};
use crate::watch::WatchOwner;
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
        sql: include_str!("../migrations/sqlite/0001_stores.sql"),
    },
    Migration {
        version: 2,
        name: "clients",
        sql: include_str!("../migrations/sqlite/0002_clients.sql"),
    },
    Migration {
        version: 3,
        name: "key_package_suites",
        sql: include_str!("../migrations/sqlite/0003_key_package_suites.sql"),
    },
    Migration {
        version: 4,
        name: "hub",
        sql: include_str!("../migrations/sqlite/0004_hub.sql"),
    },
    Migration {
        version: 5,
        name: "enrollment",
        sql: include_str!("../migrations/sqlite/0005_enrollment.sql"),
    },
    Migration {
        version: 6,
        name: "retired_references",
        sql: include_str!("../migrations/sqlite/0006_retired_references.sql"),
    },
    Migration {
        version: 7,
        name: "revocation",
        sql: include_str!("../migrations/sqlite/0007_revocation.sql"),
    },
];

pub(crate) const DIALECT: Dialect = Dialect {
    begin: BEGIN_WRITE,
    lock: "",
    migrations: MIGRATIONS,
};

/// Takes the write lock at once (see the module docs).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// How long a write waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The stores on one SQLite file (WAL, `synchronous = FULL`): the embedded
/// default, one file per provider. Cloning is cheap and shares the
/// connections and the queue notifications.
///
/// Queue notifications are in process: a commit wakes the subscribers of
/// this handle and its clones, not those of another handle or process on
/// the same file (several processes share PostgreSQL instead).
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    writer: SqlitePool,
    reader: SqlitePool,
    watch: Arc<WatchOwner>,
}

impl SqliteStorage {
    /// Opens the database file, creating it if missing, and brings its
    /// schema up to date.
    pub async fn open(path: &Path) -> R<Self> {
        // Switching a new file to WAL needs an exclusive lock, and SQLite
        // answers "database is locked" at once, without its busy handler,
        // when several processes do it together: retry that, briefly.
        let mut delay = Duration::from_millis(20);
        for _ in 0..8 {
            match Self::try_open(path).await {
                Err(e) if is_busy(&e) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                done => return done,
            }
        }
        Self::try_open(path).await
    }

    async fn try_open(path: &Path) -> R<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it returns, which is what
            // lets callers acknowledge it (NORMAL could lose the last
            // commits on power loss).
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrate::run(&writer, &DIALECT).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStorage {
            writer,
            reader,
            watch: Arc::new(WatchOwner::new(QueueWatcher::new(), None)),
        })
    }

    /// Closes every connection, waiting for operations in progress, and
    /// ends every queue subscription.
    pub async fn close(&self) {
        self.watch.close();
        self.writer.close().await;
        self.reader.close().await;
    }

    /// The write pool, for tests that assert on the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), however it reached us.
fn is_busy(e: &StorageError) -> bool {
    let sqlx_error = match e {
        StorageError::Database(e) => e,
        StorageError::Migration { source, .. } => source,
        _ => return false,
    };
    matches!(sqlx_error, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("5" | "6" | "517" | "261")))
}

/// Enqueues `batch` in the transaction `conn` (which holds the write
/// lock), queue by queue in ID order.
async fn enqueue_in(
    conn: &mut SqliteConnection,
    batch: &[(QueueId, &[u8])],
    on_closed: OnClosed,
) -> R<Enqueued> {
    let mut done = Enqueued::new(batch.len());
    for (queue_id, positions) in group_by_queue(batch) {
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
    for (position, seq) in done.stored() {
        sqlx::query("INSERT INTO queue_messages (queue_id, seq, message) VALUES ($1, $2, $3)")
            .bind(&batch[position].0[..])
            .bind(to_db("a sequence number", seq)?)
            .bind(batch[position].1)
            .execute(&mut *conn)
            .await?;
    }
    Ok(done)
}

/// Whether `queue_id` exists (an enqueue that found no open queue: it is
/// retired if it exists).
async fn queue_exists(conn: &mut SqliteConnection, queue_id: QueueId) -> R<bool> {
    Ok(sqlx::query(sql::QUEUE_EXISTS)
        .bind(&queue_id[..])
        .fetch_optional(conn)
        .await?
        .is_some())
}

impl SqliteStorage {
    /// Tells subscribers what a committed transaction enqueued.
    fn notify(&self, done: &Enqueued) {
        for &(queue_id, latest) in &done.latest {
            self.watch.watcher().notify(queue_id, latest);
        }
    }
}

impl QueueStore for SqliteStorage {
    async fn create_queue(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query(sql::CREATE_QUEUE)
            .bind(&queue_id[..])
            .execute(&self.writer)
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
        // The write lock, held from BEGIN IMMEDIATE to commit, keeps the
        // numbers ours; dropping the transaction on an error rolls back
        // the whole batch.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let done = enqueue_in(&mut tx, batch, OnClosed::Refuse).await?;
        tx.commit().await?;
        self.notify(&done);
        Ok(done.seqs())
    }

    async fn deliver(
        &self,
        event: Option<EventRecord<'_>>,
        batch: &[(QueueId, &[u8])],
    ) -> R<DeliverOutcome> {
        check_batch(batch)?;
        let expires_at_ms = event.as_ref().map(check_event).transpose()?;
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        if let (Some(event), Some(expires_at_ms)) = (event, expires_at_ms) {
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
        self.notify(&done);
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
            .fetch_all(&self.reader)
            .await?;
        fetched(queue_id, rows)
    }

    async fn ack(&self, queue_id: QueueId, up_to_seq: u64) -> R<u64> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
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
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StorageError::UnknownQueue { queue_id })?;
        from_db("a queue depth", depth)
    }

    async fn total_depth(&self) -> R<u64> {
        let depth: i64 = sqlx::query_scalar(sql::TOTAL_DEPTH)
            .fetch_one(&self.reader)
            .await?;
        from_db("a queue depth", depth)
    }

    async fn retire(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query(sql::RETIRE)
            .bind(&queue_id[..])
            .execute(&self.writer)
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

impl KeyPackageStore for SqliteStorage {
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
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        if last_resort {
            sqlx::query(sql::DROP_OLD_LAST_RESORT)
                .bind(user)
                .bind(client)
                .bind(i32::from(cipher_suite))
                .bind(kp_ref)
                .execute(&mut *tx)
                .await?;
        }
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
        // The write lock, held from BEGIN IMMEDIATE to commit, is what
        // keeps two claims from handing out one KeyPackage.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let clients: Vec<String> = sqlx::query_scalar(sql::CLAIMABLE_CLIENTS)
            .bind(user)
            .bind(suite)
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(clients.len());
        for client in clients {
            let one_time: Option<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM key_packages WHERE id = (
                     SELECT id FROM key_packages
                     WHERE user_id = $1 AND client_id = $2 AND cipher_suite = $3
                       AND NOT last_resort
                     ORDER BY id LIMIT 1)
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
            .fetch_one(&self.reader)
            .await?;
        from_db("a KeyPackage count", n)
    }
}

impl ReplayStore for SqliteStorage {
    async fn remember(&self, sender: &str, message_id: MessageId, expires_at_ms: u64) -> R<bool> {
        check_len("a sender domain", sender.len(), MAX_DOMAIN_LEN)?;
        let expires_at_ms = to_db("an expiry time (ms)", expires_at_ms)?;
        let done = sqlx::query(sql::REMEMBER)
            .bind(sender)
            .bind(&message_id[..])
            .bind(expires_at_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_expired(&self, now_ms: u64) -> R<u64> {
        // No stored time exceeds i64::MAX, so clamping changes nothing.
        let now_ms = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let done = sqlx::query(sql::PURGE)
            .bind(now_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

impl ClientStore for SqliteStorage {
    async fn register_client(&self, record: &ClientRecord) -> R<ClientRecord> {
        let registered_at_ms = check_client(record)?;
        // Under the write lock nothing changes between the checks and the
        // inserts; dropping the transaction on an error writes nothing.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
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
            .fetch_optional(&self.reader)
            .await?;
        row.map(client_record).transpose()
    }

    async fn clients_of_user(&self, user_id: &str) -> R<Vec<ClientRecord>> {
        check_len("a user ID", user_id.len(), MAX_ID_LEN)?;
        let rows: Vec<ClientRow> = sqlx::query_as(sql::CLIENTS_OF_USER)
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(client_record).collect()
    }

    async fn user_by_handle(&self, handle: &str) -> R<Option<String>> {
        check_len("a handle", handle.len(), MAX_HANDLE_LEN)?;
        Ok(sqlx::query_scalar(sql::HANDLE_OWNER)
            .bind(handle)
            .fetch_optional(&self.reader)
            .await?)
    }
}
