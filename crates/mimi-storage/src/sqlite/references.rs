//! [`ReferenceStore`] on SQLite: a retirement runs under the write lock
//! (`BEGIN IMMEDIATE`), a lookup is one read.

use std::collections::HashSet;

use super::{BEGIN_WRITE, SqliteStorage};
use crate::references::{ReferenceDigest, check_lookup};
use crate::shared::references::{already_retired, digests, sql};
use crate::shared::sql as queue_sql;
use crate::{QueueId, R, ReferenceStore, StorageError, hex};

impl ReferenceStore for SqliteStorage {
    async fn retire_reference(&self, queue_id: QueueId, digest: &ReferenceDigest) -> R<bool> {
        let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
        let exists: Option<i64> = sqlx::query_scalar(queue_sql::QUEUE_EXISTS)
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
        // A JSON array of hex strings: one statement for the whole list
        // (SQLite has no array parameters).
        let list = format!(
            "[{}]",
            wanted
                .iter()
                .map(|d| format!("\"{}\"", hex(d)))
                .collect::<Vec<_>>()
                .join(",")
        );
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT digest FROM retired_references
             WHERE digest IN (SELECT unhex(value) FROM json_each($1))",
        )
        .bind(list)
        .fetch_all(&self.reader)
        .await?;
        digests(rows)
    }
}
