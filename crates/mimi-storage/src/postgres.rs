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

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};

use crate::migrate::{self, Dialect, Migration};
use crate::{
    KeyPackageStore, MAX_DOMAIN_LEN, MAX_ID_LEN, MessageId, QueueId, QueueStore, R, ReplayStore,
    StorageError, check_batch, check_fetch_limit, check_len, check_upload, from_db, group_by_queue,
    to_db,
};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "stores",
    sql: include_str!("../migrations/postgres/0001_stores.sql"),
}];

pub(crate) const DIALECT: Dialect = Dialect {
    begin: "BEGIN",
    // Held to the end of each migration transaction: processes starting
    // together migrate one after the other.
    lock: "SELECT pg_advisory_xact_lock(hashtext('mimi-storage schema migrations'))",
    migrations: MIGRATIONS,
};

/// Connections per process.
const POOL_SIZE: u32 = 10;

/// One INSERT of a batch carries at most this many messages, or this many
/// bytes (a single message may be larger), well below PostgreSQL's 1 GiB
/// limit on one protocol message.
const INSERT_CHUNK_ROWS: usize = 1000;
const INSERT_CHUNK_BYTES: usize = 16 << 20;

/// The stores on a PostgreSQL database, which several provider processes
/// may share. Cloning is cheap and shares the connections.
#[derive(Debug, Clone)]
pub struct PostgresStorage {
    pool: PgPool,
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user@host:port/db`;
    /// the database must exist) and brings its schema up to date.
    pub async fn connect(url: &str) -> R<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect(url)
            .await?;
        migrate::run(&pool, &DIALECT).await?;
        Ok(PostgresStorage { pool })
    }

    /// Closes every connection, waiting for operations in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool, for tests that assert on the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Why an enqueue found no open queue: it is retired, or was never created.
async fn closed_queue(conn: &mut PgConnection, queue_id: QueueId) -> R<StorageError> {
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

impl QueueStore for PostgresStorage {
    async fn create_queue(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query("INSERT INTO queues (queue_id) VALUES ($1) ON CONFLICT DO NOTHING")
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
        let mut seqs = vec![0i64; batch.len()];
        let mut tx = self.pool.begin().await?;
        for (queue_id, positions) in group_by_queue(batch) {
            // Reserve this queue's next `n` sequence numbers. The update
            // locks the queue's row until commit: a concurrent enqueue
            // waits here, then continues from our counter, and a rollback
            // gives the numbers back, so the queue never has a gap.
            let n = positions.len() as i64;
            let first: Option<i64> = sqlx::query_scalar(
                "UPDATE queues SET next_seq = next_seq + $1
                 WHERE queue_id = $2 AND NOT retired
                 RETURNING next_seq - $1",
            )
            .bind(n)
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?;
            let Some(first) = first else {
                // Dropping the transaction rolls back the whole batch.
                return Err(closed_queue(&mut tx, queue_id).await?);
            };
            for (k, &position) in positions.iter().enumerate() {
                seqs[position] = first + k as i64;
            }
        }
        // Store the messages with a few multi-row INSERTs rather than one
        // round trip each: a fan-out batch may be thousands long.
        let mut start = 0;
        while start < batch.len() {
            let (mut end, mut bytes) = (start, 0);
            while end < batch.len()
                && end - start < INSERT_CHUNK_ROWS
                && (end == start || bytes + batch[end].1.len() <= INSERT_CHUNK_BYTES)
            {
                bytes += batch[end].1.len();
                end += 1;
            }
            let chunk = &batch[start..end];
            sqlx::query(
                "INSERT INTO queue_messages (queue_id, seq, message)
                 SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::bytea[])",
            )
            .bind(chunk.iter().map(|(q, _)| &q[..]).collect::<Vec<&[u8]>>())
            .bind(&seqs[start..end])
            .bind(chunk.iter().map(|(_, m)| *m).collect::<Vec<&[u8]>>())
            .execute(&mut *tx)
            .await?;
            start = end;
        }
        tx.commit().await?;
        seqs.into_iter()
            .map(|seq| from_db("a sequence number", seq))
            .collect()
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
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // A concurrent enqueue can only raise next_seq, so reading it
        // without a lock can refuse nothing that fetch has returned.
        let next_seq: i64 = sqlx::query_scalar("SELECT next_seq FROM queues WHERE queue_id = $1")
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::UnknownQueue { queue_id })?;
        let last_seq = from_db("a sequence number", next_seq)? - 1;
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
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::UnknownQueue { queue_id })?;
        from_db("a queue depth", row.try_get(0)?)
    }

    async fn retire(&self, queue_id: QueueId) -> R<()> {
        let done = sqlx::query("UPDATE queues SET retired = TRUE WHERE queue_id = $1")
            .bind(&queue_id[..])
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::UnknownQueue { queue_id });
        }
        Ok(())
    }
}

impl KeyPackageStore for PostgresStorage {
    async fn upload(
        &self,
        user: &str,
        client: &str,
        kp_ref: &[u8],
        key_package: &[u8],
        last_resort: bool,
    ) -> R<()> {
        check_upload(user, client, kp_ref, key_package)?;
        let mut tx = self.pool.begin().await?;
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
        // DO NOTHING covers both unique keys: the same KeyPackageRef, and
        // (rarely) a last-resort KeyPackage that a concurrent upload of
        // this client committed after our DELETE looked; that upload wins
        // and this one is refused, to be retried.
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
        let mut tx = self.pool.begin().await?;
        let clients: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT client_id FROM key_packages WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(user)
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
                     WHERE user_id = $1 AND client_id = $2 AND NOT last_resort
                     ORDER BY id LIMIT 1
                     FOR UPDATE SKIP LOCKED)
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
        .fetch_one(&self.pool)
        .await?;
        from_db("a KeyPackage count", n)
    }
}

impl ReplayStore for PostgresStorage {
    async fn remember(&self, sender: &str, message_id: MessageId, expires_at_ms: u64) -> R<bool> {
        check_len("a sender domain", sender.len(), MAX_DOMAIN_LEN)?;
        let expires_at_ms = to_db("an expiry time (ms)", expires_at_ms)?;
        // Insert-or-nothing against the primary key: of concurrent
        // inserts of one event, one inserts and the others wait for it
        // and then do nothing.
        let done = sqlx::query(
            "INSERT INTO replay_seen (sender_domain, message_id, expires_at_ms)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
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
        let done = sqlx::query("DELETE FROM replay_seen WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
