//! What the two back ends share: the SQL they run alike (sqlx binds `$1`,
//! `$2`, … on both) and the bookkeeping around it, so that `sqlite.rs` and
//! `postgres.rs` differ only where the databases do (transactions and
//! locking, PostgreSQL's batched INSERT and `SKIP LOCKED`, notifications).

use crate::{ClientRecord, EnqueueResult, QueueId, R, StorageError, from_db, hex};

pub(crate) mod enrollment;
pub(crate) mod hub;
pub(crate) mod references;

/// Statements both back ends run unchanged.
pub(crate) mod sql {
    pub const CREATE_QUEUE: &str =
        "INSERT INTO queues (queue_id) VALUES ($1) ON CONFLICT DO NOTHING";

    /// Reserves a queue's next `$1` sequence numbers and returns the first.
    /// The update locks the queue's row to the end of the transaction: that
    /// is what keeps numbers gap-free under concurrent enqueues.
    pub const RESERVE: &str = "UPDATE queues SET next_seq = next_seq + $1
         WHERE queue_id = $2 AND NOT retired
         RETURNING next_seq - $1";

    pub const QUEUE_EXISTS: &str = "SELECT 1 FROM queues WHERE queue_id = $1";

    /// The outer join tells an empty queue (one row of NULLs) from an
    /// unknown one (no row) in one statement.
    pub const FETCH: &str = "SELECT m.seq, m.message FROM queues q
         LEFT JOIN queue_messages m ON m.queue_id = q.queue_id AND m.seq >= $1
         WHERE q.queue_id = $2
         ORDER BY m.seq LIMIT $3";

    pub const NEXT_SEQ: &str = "SELECT next_seq FROM queues WHERE queue_id = $1";

    pub const ACK: &str = "DELETE FROM queue_messages WHERE queue_id = $1 AND seq <= $2";

    pub const DEPTH_FROM: &str =
        "SELECT (SELECT COUNT(*) FROM queue_messages m WHERE m.queue_id = q.queue_id AND m.seq >= $2)
         FROM queues q WHERE q.queue_id = $1";

    pub const TOTAL_DEPTH: &str = "SELECT COUNT(*) FROM queue_messages";

    pub const RETIRE: &str = "UPDATE queues SET retired = TRUE WHERE queue_id = $1";

    /// A new last-resort KeyPackage replaces the client's old one of the
    /// suite (the same one uploaded again is a duplicate, as for one-time
    /// ones).
    pub const DROP_OLD_LAST_RESORT: &str = "DELETE FROM key_packages
         WHERE user_id = $1 AND client_id = $2 AND cipher_suite = $3 AND last_resort
           AND kp_ref <> $4";

    pub const INSERT_KEY_PACKAGE: &str = "INSERT INTO key_packages
         (user_id, client_id, cipher_suite, kp_ref, key_package, last_resort)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

    pub const CLAIMABLE_CLIENTS: &str = "SELECT DISTINCT client_id FROM key_packages
         WHERE user_id = $1 AND cipher_suite = $2 ORDER BY client_id";

    pub const LAST_RESORT: &str = "SELECT key_package FROM key_packages
         WHERE user_id = $1 AND client_id = $2 AND cipher_suite = $3 AND last_resort";

    pub const COUNT_KEY_PACKAGES: &str = "SELECT COUNT(*) FROM key_packages
         WHERE user_id = $1 AND client_id = $2 AND cipher_suite = $3 AND NOT last_resort";

    /// Insert-or-nothing against the primary key: atomic on its own.
    pub const REMEMBER: &str = "INSERT INTO replay_seen (sender_domain, message_id, expires_at_ms)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

    pub const PURGE: &str = "DELETE FROM replay_seen WHERE expires_at_ms <= $1";

    /// Insert-or-nothing on the client ID first: of concurrent registrations
    /// of one client, one inserts and the others wait for it (PostgreSQL)
    /// and then find its row.
    pub const INSERT_CLIENT: &str = "INSERT INTO clients
         (client_id, user_id, handle, signature_key, certificate_chain, queue_id,
          registered_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";

    pub const CLAIM_HANDLE: &str =
        "INSERT INTO handles (handle, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

    pub const HANDLE_OWNER: &str = "SELECT user_id FROM handles WHERE handle = $1";

    /// The columns of a [`super::ClientRow`], in its order.
    macro_rules! client_columns {
        () => {
            "client_id, user_id, handle, signature_key, certificate_chain, queue_id, \
             registered_at_ms"
        };
    }

    pub const CLIENT: &str = concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE client_id = $1"
    );

    pub const CLIENTS_OF_USER: &str = concat!(
        "SELECT ",
        client_columns!(),
        " FROM clients WHERE user_id = $1 ORDER BY client_id"
    );
}

/// The messages of a [`sql::FETCH`] answer, or [`StorageError::UnknownQueue`]
/// if it has no row at all.
pub(crate) fn fetched(
    queue_id: QueueId,
    rows: Vec<(Option<i64>, Option<Vec<u8>>)>,
) -> R<Vec<(u64, Vec<u8>)>> {
    if rows.is_empty() {
        return Err(StorageError::UnknownQueue { queue_id });
    }
    let mut messages = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            (Some(seq), Some(message)) => {
                messages.push((from_db("a sequence number", seq)?, message));
            }
            // The row of NULLs of an empty queue.
            (None, _) => {}
            (Some(seq), None) => {
                return Err(StorageError::Corrupt(format!(
                    "message {seq} of queue {} is NULL",
                    hex(&queue_id)
                )));
            }
        }
    }
    Ok(messages)
}

/// Refuses to acknowledge beyond the last number handed out (`next_seq - 1`).
pub(crate) fn check_ack(queue_id: QueueId, up_to_seq: u64, next_seq: i64) -> R<()> {
    let last_seq = from_db("a sequence number", next_seq)?.saturating_sub(1);
    if up_to_seq > last_seq {
        return Err(StorageError::AckBeyondEnd {
            queue_id,
            up_to_seq,
            last_seq,
        });
    }
    Ok(())
}

/// The answer to a registration whose client ID is taken: the stored record
/// if it has the same key (a retry), else [`StorageError::ClientExists`].
/// No stored row means the insert hit the other unique key, the queue ID.
pub(crate) fn already_registered(
    record: &ClientRecord,
    stored: Option<ClientRow>,
) -> R<ClientRecord> {
    let Some(stored) = stored else {
        return Err(StorageError::QueueExists {
            queue_id: record.queue_id,
        });
    };
    let stored = client_record(stored)?;
    if stored.signature_key == record.signature_key {
        Ok(stored)
    } else {
        Err(StorageError::ClientExists {
            client_id: record.client_id.clone(),
        })
    }
}

/// A handle is held by the first user who registered it.
pub(crate) fn check_handle_owner(record: &ClientRecord, handle: &str, owner: &str) -> R<()> {
    if owner != record.user_id {
        return Err(StorageError::HandleTaken {
            handle: handle.to_owned(),
        });
    }
    Ok(())
}

/// A `clients` row as both back ends decode it (`sqlx::query_as`).
pub(crate) type ClientRow = (
    String,
    String,
    Option<String>,
    Vec<u8>,
    String,
    Vec<u8>,
    i64,
);

pub(crate) fn client_record(row: ClientRow) -> R<ClientRecord> {
    let (client_id, user_id, handle, signature_key, certificate_chain, queue_id, registered_at_ms) =
        row;
    let queue_id = QueueId::try_from(queue_id.as_slice()).map_err(|_| {
        StorageError::Corrupt(format!(
            "client {client_id:?} has a queue ID of {} bytes, not 16",
            queue_id.len()
        ))
    })?;
    Ok(ClientRecord {
        registered_at_ms: from_db("a registration time", registered_at_ms)?,
        client_id,
        user_id,
        handle,
        signature_key,
        certificate_chain,
        queue_id,
    })
}

/// What an enqueue does with an entry whose queue is unknown or retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnClosed {
    /// Refuse the whole batch (`enqueue_many`: all or nothing).
    Refuse,
    /// Skip the entry and report it (`deliver`).
    Skip,
}

/// The outcome of a batch as the back ends build it, queue by queue (in
/// queue ID order, see [`crate::group_by_queue`]).
#[derive(Debug)]
pub(crate) struct Enqueued {
    /// One per batch entry, in batch order.
    pub results: Vec<EnqueueResult>,
    /// The newest sequence number of each queue enqueued to: what
    /// subscribers are told after commit.
    pub latest: Vec<(QueueId, u64)>,
}

impl Enqueued {
    pub fn new(len: usize) -> Enqueued {
        Enqueued {
            // Every entry is overwritten: each position is in one group.
            results: vec![EnqueueResult::UnknownQueue; len],
            latest: Vec::new(),
        }
    }

    /// `queue_id` got the numbers `first..` for the entries at `positions`
    /// (in batch order).
    pub fn reserved(&mut self, queue_id: QueueId, positions: &[usize], first: u64) {
        let mut seq = first;
        for &position in positions {
            self.results[position] = EnqueueResult::Enqueued(seq);
            seq += 1;
        }
        self.latest.push((queue_id, seq - 1));
    }

    /// `queue_id` is closed (`retired`: it exists but is retired); the
    /// entries at `positions` are reported, or the batch refused.
    pub fn closed(
        &mut self,
        on_closed: OnClosed,
        queue_id: QueueId,
        positions: &[usize],
        retired: bool,
    ) -> R<()> {
        match (on_closed, retired) {
            (OnClosed::Refuse, true) => Err(StorageError::QueueRetired { queue_id }),
            (OnClosed::Refuse, false) => Err(StorageError::UnknownQueue { queue_id }),
            (OnClosed::Skip, _) => {
                let result = if retired {
                    EnqueueResult::QueueRetired
                } else {
                    EnqueueResult::UnknownQueue
                };
                for &position in positions {
                    self.results[position] = result;
                }
                Ok(())
            }
        }
    }

    /// The entries to store, as `(batch position, sequence number)`.
    pub fn stored(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.results
            .iter()
            .enumerate()
            .filter_map(|(position, result)| match result {
                EnqueueResult::Enqueued(seq) => Some((position, *seq)),
                _ => None,
            })
    }

    /// The sequence numbers of a batch enqueued whole (with
    /// [`OnClosed::Refuse`] a closed queue ended the batch, so every entry
    /// was enqueued).
    pub fn seqs(&self) -> Vec<u64> {
        let seqs: Vec<u64> = self.stored().map(|(_, seq)| seq).collect();
        debug_assert_eq!(seqs.len(), self.results.len());
        seqs
    }
}
