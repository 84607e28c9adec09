//! [`ReferenceStore`] on PostgreSQL. A retirement's insert-or-nothing on
//! the digest makes concurrent retirements from several processes safe at
//! READ COMMITTED: the loser waits for the winner's commit, inserts
//! nothing, and its next statement sees the winner's row.

use std::collections::HashSet;

use super::PostgresStorage;
use crate::references::{ReferenceDigest, check_lookup};
use crate::shared::references::{already_retired, digests, sql};
use crate::shared::sql as queue_sql;
use crate::{QueueId, R, ReferenceStore, StorageError};

impl ReferenceStore for PostgresStorage {
    async fn retire_reference(&self, queue_id: QueueId, digest: &ReferenceDigest) -> R<bool> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i32> = sqlx::query_scalar(queue_sql::QUEUE_EXISTS)
            .bind(&queue_id[..])
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StorageError::UnknownQueue { queue_id });
        }
        let inserted = sqlx::query(sql::RETIRE)
            .bind(&digest[..])
            .bind(&queue_id[..])
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(true);
        }
        let stored: Option<Vec<u8>> = sqlx::query_scalar(sql::QUEUE_OF)
            .bind(&digest[..])
            .fetch_optional(&mut *tx)
            .await?;
        already_retired(queue_id, digest, stored)
    }

    async fn retired_among(&self, wanted: &[ReferenceDigest]) -> R<HashSet<ReferenceDigest>> {
        check_lookup(wanted)?;
        if wanted.is_empty() {
            return Ok(HashSet::new());
        }
        let list: Vec<&[u8]> = wanted.iter().map(|d| &d[..]).collect();
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT digest FROM retired_references WHERE digest = ANY($1)")
                .bind(list)
                .fetch_all(&self.pool)
                .await?;
        digests(rows)
    }
}
