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
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::migrate::{self, Dialect, Migration};
use crate::{
    KeyPackageStore, MAX_DOMAIN_LEN, MAX_ID_LEN, MessageId, QueueId, QueueStore, R, ReplayStore,
    StorageError, check_batch, check_fetch_limit, check_len, check_upload, from_db, group_by_queue,
    to_db,
};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "stores",
    sql: include_str!("../migrations/sqlite/0001_stores.sql"),
}];

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
/// connections.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    writer: SqlitePool,
    reader: SqlitePool,
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
        Ok(SqliteStorage { writer, reader })
    }

    /// Closes every connection, waiting for operations in progress.
    pub async fn close(&self) {
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

/// Why an enqueue found no open queue: it is retired, or was never created.
async fn closed_queue(conn: &mut SqliteConnection, queue_id: QueueId) -> R<StorageError> {
    let retired = sqlx::query("SELECT 1 FROM queues WHERE queue_id = $1")
        .bind(&queue_id[..])
        .fetch_optional(conn)
        .await?
        .is_some();
    Ok(if retired {
        StorageError::QueueRetired { queue_id }
    } else {
        StorageError::UnknownQueue { queue_id }
    })
}

impl QueueStore for SqliteStorage {
    async fn create_queue(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query("INSERT INTO queues (queue_id) VALUES ($1) ON CONFLICT DO NOTHING")
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
        let mut seqs = vec![0; batch.len()];
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        for (queue_id, positions) in group_by_queue(batch) {
            // Reserve this queue's next `n` sequence numbers; the
            // transaction holds the write lock, so no one else can.
            let n = positions.len() as i64;
            let reserved = sqlx::query(
                "UPDATE queues SET next_seq = next_seq + $1
                 WHERE queue_id = $2 AND NOT retired
                 RETURNING next_seq - $1",
            )
            .bind(n)
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?;
            let Some(reserved) = reserved else {
                // Dropping the transaction rolls back the whole batch.
                return Err(closed_queue(&mut tx, queue_id).await?);
            };
            let first = from_db("a sequence number", reserved.try_get(0)?)?;
            for (k, &position) in positions.iter().enumerate() {
                let seq = first + k as u64;
                sqlx::query(
                    "INSERT INTO queue_messages (queue_id, seq, message) VALUES ($1, $2, $3)",
                )
                .bind(&queue_id[..])
                .bind(to_db("a sequence number", seq)?)
                .bind(batch[position].1)
                .execute(&mut *tx)
                .await?;
                seqs[position] = seq;
            }
        }
        tx.commit().await?;
        Ok(seqs)
    }

    async fn fetch(&self, queue_id: QueueId, from_seq: u64, limit: u32) -> R<Vec<(u64, Vec<u8>)>> {
        check_fetch_limit(limit)?;
        // No stored number exceeds i64::MAX, so clamping changes nothing.
        let from_seq = i64::try_from(from_seq).unwrap_or(i64::MAX);
        // The outer join tells an empty queue (one row of NULLs) from an
        // unknown one (no row) in one statement.
        let rows = sqlx::query(
            "SELECT m.seq, m.message FROM queues q
             LEFT JOIN queue_messages m ON m.queue_id = q.queue_id AND m.seq >= $1
             WHERE q.queue_id = $2
             ORDER BY m.seq LIMIT $3",
        )
        .bind(from_seq)
        .bind(&queue_id[..])
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        if rows.is_empty() {
            return Err(StorageError::UnknownQueue { queue_id });
        }
        let mut messages = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(seq) = row.try_get::<Option<i64>, _>(0)? {
                messages.push((from_db("a sequence number", seq)?, row.try_get(1)?));
            }
        }
        Ok(messages)
    }

    async fn ack(&self, queue_id: QueueId, up_to_seq: u64) -> R<u64> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let next_seq = sqlx::query("SELECT next_seq FROM queues WHERE queue_id = $1")
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::UnknownQueue { queue_id })?;
        let last_seq = from_db("a sequence number", next_seq.try_get(0)?)? - 1;
        if up_to_seq > last_seq {
            return Err(StorageError::AckBeyondEnd {
                queue_id,
                up_to_seq,
                last_seq,
            });
        }
        let done = sqlx::query("DELETE FROM queue_messages WHERE queue_id = $1 AND seq <= $2")
            .bind(&queue_id[..])
            .bind(to_db("a sequence number", up_to_seq)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn depth(&self, queue_id: QueueId) -> R<u64> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM queue_messages m WHERE m.queue_id = q.queue_id)
             FROM queues q WHERE q.queue_id = $1",
        )
        .bind(&queue_id[..])
        .fetch_optional(&self.reader)
        .await?
        .ok_or(StorageError::UnknownQueue { queue_id })?;
        from_db("a queue depth", row.try_get(0)?)
    }

    async fn retire(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query("UPDATE queues SET retired = TRUE WHERE queue_id = $1")
            .bind(&queue_id[..])
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::UnknownQueue { queue_id });
        }
        Ok(())
    }
}

impl KeyPackageStore for SqliteStorage {
    async fn upload(
        &self,
        user: &str,
        client: &str,
        kp_ref: &[u8],
        key_package: &[u8],
        last_resort: bool,
    ) -> R<()> {
        check_upload(user, client, kp_ref, key_package)?;
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        if last_resort {
            // A new last-resort KeyPackage replaces the old one (the same
            // one uploaded again is a duplicate, as for one-time ones).
            sqlx::query(
                "DELETE FROM key_packages
                 WHERE user_id = $1 AND client_id = $2 AND last_resort AND kp_ref <> $3",
            )
            .bind(user)
            .bind(client)
            .bind(kp_ref)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query(
            "INSERT INTO key_packages (user_id, client_id, kp_ref, key_package, last_resort)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(client)
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

    async fn claim(&self, user: &str) -> R<Vec<(String, Vec<u8>)>> {
        check_len("a user ID", user.len(), MAX_ID_LEN)?;
        // The write lock, held from BEGIN IMMEDIATE to commit, is what
        // keeps two claims from handing out one KeyPackage.
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let clients: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT client_id FROM key_packages WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(clients.len());
        for client in clients {
            let one_time: Option<Vec<u8>> = sqlx::query_scalar(
                "DELETE FROM key_packages WHERE id = (
                     SELECT id FROM key_packages
                     WHERE user_id = $1 AND client_id = $2 AND NOT last_resort
                     ORDER BY id LIMIT 1)
                 RETURNING key_package",
            )
            .bind(user)
            .bind(&client)
            .fetch_optional(&mut *tx)
            .await?;
            let key_package = match one_time {
                Some(kp) => Some(kp),
                None => {
                    sqlx::query_scalar(
                        "SELECT key_package FROM key_packages
                         WHERE user_id = $1 AND client_id = $2 AND last_resort",
                    )
                    .bind(user)
                    .bind(&client)
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

    async fn count(&self, user: &str, client: &str) -> R<u64> {
        check_len("a user ID", user.len(), MAX_ID_LEN)?;
        check_len("a client ID", client.len(), MAX_ID_LEN)?;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM key_packages
             WHERE user_id = $1 AND client_id = $2 AND NOT last_resort",
        )
        .bind(user)
        .bind(client)
        .fetch_one(&self.reader)
        .await?;
        from_db("a KeyPackage count", n)
    }
}

impl ReplayStore for SqliteStorage {
    async fn remember(&self, sender: &str, message_id: MessageId, expires_at_ms: u64) -> R<bool> {
        check_len("a sender domain", sender.len(), MAX_DOMAIN_LEN)?;
        let expires_at_ms = to_db("an expiry time (ms)", expires_at_ms)?;
        // Insert-or-nothing against the primary key: atomic on its own.
        let done = sqlx::query(
            "INSERT INTO replay_seen (sender_domain, message_id, expires_at_ms)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
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
        let done = sqlx::query("DELETE FROM replay_seen WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
