//! What the two back ends share for [`crate::ReferenceStore`]: the SQL both
//! run unchanged and the decoding of rows.

use std::collections::HashSet;

use crate::references::{REFERENCE_DIGEST_LEN, ReferenceDigest};
use crate::{QueueId, R, StorageError, hex};

/// Statements both back ends run unchanged.
pub(crate) mod sql {
    /// Insert-or-nothing against the digest: of two concurrent retirements
    /// one inserts, the other (PostgreSQL: after waiting for it) inserts
    /// nothing and then reads the row.
    pub const RETIRE: &str = "INSERT INTO retired_references (digest, queue_id)
         VALUES ($1, $2) ON CONFLICT DO NOTHING";

    pub const QUEUE_OF: &str = "SELECT queue_id FROM retired_references WHERE digest = $1";
}

/// What a retirement that inserted nothing means: the digest's stored
/// queue is `queue_id` (retired before) or another one.
pub(crate) fn already_retired(
    queue_id: QueueId,
    digest: &ReferenceDigest,
    stored: Option<Vec<u8>>,
) -> R<bool> {
    match stored {
        Some(stored) if stored == queue_id => Ok(false),
        Some(_) => Err(StorageError::ReferenceOfAnotherQueue {
            digest: hex(digest),
        }),
        // The insert hit the only unique key, so the row exists.
        None => Err(StorageError::Corrupt(format!(
            "retiring reference {} inserted nothing, yet no row holds it",
            hex(digest)
        ))),
    }
}

/// The digests of `rows` (each 32 bytes, as the schema checks).
pub(crate) fn digests(rows: Vec<Vec<u8>>) -> R<HashSet<ReferenceDigest>> {
    rows.into_iter()
        .map(|row| {
            ReferenceDigest::try_from(row.as_slice()).map_err(|_| {
                StorageError::Corrupt(format!(
                    "a retired reference digest is {} bytes, not {REFERENCE_DIGEST_LEN}",
                    row.len()
                ))
            })
        })
        .collect()
}
