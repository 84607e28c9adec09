//! [`ReferenceStore`]: queue references a client retired
//! (draft-kohbrok-mimi-metadata-minimalization §8; docs/wire-spec.md §11.5).
//!
//! A client seals its queue ID afresh for every KeyPackage, so it has many
//! references to one queue. Retiring one makes the provider refuse
//! deliveries addressed with exactly that ciphertext, while the queue and
//! the client's other references stay open. The store keeps a digest of
//! the ciphertext (the caller's SHA-256 over its TLS encoding), never the
//! ciphertext, bound to the queue it opens to.

use std::collections::HashSet;
use std::future::Future;

use crate::{MAX_BATCH_LEN, QueueId, R, StorageError};

/// The length of a reference digest: SHA-256.
pub const REFERENCE_DIGEST_LEN: usize = 32;

/// A retired reference, as the store knows it: SHA-256 over the TLS
/// encoding of its `HPKECiphertext`.
pub type ReferenceDigest = [u8; REFERENCE_DIGEST_LEN];

/// The most digests one [`ReferenceStore::retired_among`] looks up: a
/// delivery batch's bound, [`MAX_BATCH_LEN`] (a `/deliver_message` has at
/// most 5,000 recipients).
pub const MAX_REFERENCE_LOOKUP: usize = MAX_BATCH_LEN;

/// Retired queue references. Every method is one transaction (or one
/// statement). Retirement is monotonic: nothing un-retires a reference.
pub trait ReferenceStore: Send + Sync + 'static {
    /// Retires the reference with `digest`, bound to `queue_id` (the queue
    /// the caller found it opens to). Returns `true` if this call retired
    /// it and `false` if it was retired for this queue before (idempotent).
    /// A queue that was never created is
    /// [`StorageError::UnknownQueue`]; a digest already retired for another
    /// queue is [`StorageError::ReferenceOfAnotherQueue`] (no ciphertext
    /// opens to two queues, so only a caller that did not open it can
    /// cause that). A retired queue's references may still be retired. On
    /// an error nothing is written.
    fn retire_reference(
        &self,
        queue_id: QueueId,
        digest: &ReferenceDigest,
    ) -> impl Future<Output = R<bool>> + Send;

    /// Which of `digests` (0 to [`MAX_REFERENCE_LOOKUP`]; repeats allowed)
    /// are retired, whatever their queue: one statement, so that a
    /// fan-out of thousands costs one round trip. More digests are
    /// [`StorageError::CountOutOfRange`] and read nothing.
    fn retired_among(
        &self,
        digests: &[ReferenceDigest],
    ) -> impl Future<Output = R<HashSet<ReferenceDigest>>> + Send;
}

pub(crate) fn check_lookup(digests: &[ReferenceDigest]) -> R<()> {
    if digests.len() > MAX_REFERENCE_LOOKUP {
        return Err(StorageError::CountOutOfRange {
            what: "reference digests to look up",
            len: digests.len(),
            min: 0,
            max: MAX_REFERENCE_LOOKUP,
        });
    }
    Ok(())
}
