//! The queueing service (draft-kohbrok-mimi-transport §5.7; queue IDs per
//! draft-kohbrok-mimi-metadata-minimalization §8). No HTTP here.
//!
//! A hub's `/deliver_message` names each recipient by its queue ID encrypted to
//! our queue key. We decrypt each one, and in one storage transaction record
//! the event (replay defence) and append the message to every queue that
//! exists and is open. Every recipient gets a status in the answer: nothing is
//! dropped silently, and nothing is acknowledged before it is committed.
//!
//! A client may retire one of its queue references (docs/wire-spec.md
//! §11.5, §13.5 `retire_queue_reference`): we keep a digest of the
//! reference's ciphertext, and a recipient named by a retired ciphertext
//! gets `queue_retired` and nothing is enqueued for it, while the client's
//! queue and its other references stay open.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use mimi_mls::QueueKeyPair;
use mimi_storage::{DeliverOutcome, EnqueueResult, QueueId, ReferenceDigest, Storage};
use mimi_transport::ReplayRecord;
use mimi_wire::client_api::{RetireQueueReferenceRequest, RetireQueueReferenceResponse};
use mimi_wire::{DeliverMessageRequest, DeliverMessageResponse, HpkeCiphertext, RecipientStatus};

use crate::clients::AuthenticatedClient;
use crate::error::ProviderError;
use crate::metrics::DeliveryOutcome;
use crate::state::Provider;

/// Delivers `request` from the event `event` (already authenticated by the
/// transport, not yet recorded: it is recorded in the delivery's transaction).
/// A replayed event changes nothing and is refused with the transport's
/// replay error.
pub async fn deliver_message<S: Storage>(
    provider: &Provider<S>,
    event: &ReplayRecord,
    request: &DeliverMessageRequest,
) -> Result<DeliverMessageResponse, ProviderError> {
    let opened = open_queue_ids(provider, request.recipients()).await?;
    // Read before the delivery's transaction, not in it: retirement is
    // monotonic (nothing un-retires a reference), so a reference found
    // retired here is retired at commit too, and one retired between this
    // read and the commit is a retirement that raced with the delivery:
    // indistinguishable, for the client and the hub, from one that came
    // just after it, and the next delivery sees it.
    let queue_ids = drop_retired(provider, request.recipients(), opened).await?;
    // A hub may retry a delivery with the same event ID long after the
    // freshness window (its outbox waits out our downtime): keep the ID as
    // long as it may come back, so a delivery is stored at most once.
    let event = event
        .clone()
        .kept_until(crate::state::now_ms().saturating_add(crate::ds::DELIVERY_DEDUP_MS));
    let event = &event;
    let batch: Vec<(QueueId, &[u8])> = queue_ids
        .iter()
        .filter_map(Recipient::queue)
        .map(|id| (id, request.message()))
        .collect();
    let results = match provider
        .storage
        .deliver(Some(event.event_record()), &batch)
        .await?
    {
        DeliverOutcome::Replay => return Err(event.replay_error().into()),
        DeliverOutcome::Done(results) => results,
    };
    let statuses = merge(&queue_ids, results)?;
    for status in &statuses {
        provider.metrics.count_delivery(outcome(*status));
    }
    Ok(DeliverMessageResponse::new(statuses))
}

/// Above this many recipients, queue IDs are opened on the blocking pool: an
/// HPKE open is tens of microseconds, and a fan-out of thousands would
/// otherwise hold an async worker (and every request queued behind it) for
/// a good part of a second.
const OPEN_INLINE_MAX: usize = 32;

/// Each recipient's queue ID, or `None` where the ciphertext does not open
/// under our queue key. A hub sends the same sealed queue IDs with every
/// message of a room, so opened ones are remembered ([`OpenedQueueIds`]) and
/// only new ciphertexts cost an HPKE open.
async fn open_queue_ids<S>(
    provider: &Provider<S>,
    recipients: &[HpkeCiphertext],
) -> Result<Vec<Option<QueueId>>, ProviderError> {
    let digests = recipients
        .iter()
        .map(reference_digest)
        .collect::<Result<Vec<_>, _>>()?;
    let mut opened = provider.opened_queue_ids.lookup(&digests);
    let missing: Vec<usize> = (0..recipients.len())
        .filter(|&i| opened[i].is_none())
        .collect();
    if missing.is_empty() {
        return Ok(opened);
    }
    let to_open: Vec<HpkeCiphertext> = missing.iter().map(|&i| recipients[i].clone()).collect();
    let open = |key: &QueueKeyPair, domain: &str, cts: &[HpkeCiphertext]| {
        cts.iter()
            .map(|ct| key.open_queue_id(domain, ct).ok())
            .collect::<Vec<_>>()
    };
    let domain = provider.settings.domain.as_str();
    let fresh = if to_open.len() <= OPEN_INLINE_MAX {
        open(&provider.queue_key, domain, &to_open)
    } else {
        let (key, domain) = (Arc::clone(&provider.queue_key), domain.to_string());
        tokio::task::spawn_blocking(move || open(&key, &domain, &to_open))
            .await
            .map_err(|e| ProviderError::Internal(format!("opening queue IDs failed: {e}")))?
    };
    let mut learned = Vec::new();
    for (&i, queue) in missing.iter().zip(fresh) {
        if let Some(queue) = queue {
            learned.push((digests[i], queue));
        }
        opened[i] = queue;
    }
    provider.opened_queue_ids.remember(learned);
    Ok(opened)
}

/// Queue IDs this process opened, by the digest of the sealed ciphertext
/// (SHA-256 over its encoding: a different ciphertext has a different
/// digest). HPKE opening is deterministic under one queue key, and the key
/// does not change while the process runs, so a remembered answer is the
/// answer. Only successful opens are kept, at most [`Self::CAPACITY`]; when
/// full it starts over, which costs one open per reference again.
#[derive(Debug, Default)]
pub struct OpenedQueueIds(Mutex<HashMap<ReferenceDigest, QueueId>>);

impl OpenedQueueIds {
    pub const CAPACITY: usize = 200_000;

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<ReferenceDigest, QueueId>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, digests: &[ReferenceDigest]) -> Vec<Option<QueueId>> {
        let map = self.map();
        digests.iter().map(|d| map.get(d).copied()).collect()
    }

    fn remember(&self, learned: Vec<(ReferenceDigest, QueueId)>) {
        if learned.is_empty() {
            return;
        }
        let mut map = self.map();
        if map.len() + learned.len() > Self::CAPACITY {
            map.clear();
        }
        map.extend(learned);
    }
}

/// What became of one recipient before storage was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipient {
    /// The ciphertext does not open under our queue key.
    Undecryptable,
    /// The ciphertext opens, but its client retired this reference.
    Retired,
    /// To be enqueued to this queue.
    Queue(QueueId),
}

impl Recipient {
    fn queue(&self) -> Option<QueueId> {
        match self {
            Recipient::Queue(id) => Some(*id),
            _ => None,
        }
    }
}

/// The reference digest of `ciphertext`: SHA-256 over its TLS encoding,
/// exactly as the hub sent it. A ciphertext cannot be changed and still
/// open (HPKE binds `kem_output` into the key schedule, and the AEAD tag
/// the rest), so no other bytes reach the same queue through a retired
/// reference without the queue ID, which only the client and we know.
pub fn reference_digest(ciphertext: &HpkeCiphertext) -> Result<ReferenceDigest, ProviderError> {
    let encoded = ciphertext.encode()?;
    let hash = digest::digest(&digest::SHA256, &encoded);
    ReferenceDigest::try_from(hash.as_ref())
        .map_err(|_| ProviderError::Internal("SHA-256 gave other than 32 bytes".into()))
}

/// `opened` with each recipient whose (opened) ciphertext is a retired
/// reference marked [`Recipient::Retired`]: one storage lookup for all.
async fn drop_retired<S: Storage>(
    provider: &Provider<S>,
    recipients: &[HpkeCiphertext],
    opened: Vec<Option<QueueId>>,
) -> Result<Vec<Recipient>, ProviderError> {
    let mut digests = Vec::with_capacity(recipients.len());
    for (ciphertext, id) in recipients.iter().zip(&opened) {
        digests.push(match id {
            Some(_) => Some(reference_digest(ciphertext)?),
            None => None,
        });
    }
    let wanted: Vec<ReferenceDigest> = digests.iter().flatten().copied().collect();
    let retired: HashSet<ReferenceDigest> = provider.storage.retired_among(&wanted).await?;
    Ok(opened
        .into_iter()
        .zip(digests)
        .map(|(id, digest)| match (id, digest) {
            (Some(_), Some(d)) if retired.contains(&d) => Recipient::Retired,
            (Some(id), _) => Recipient::Queue(id),
            (None, _) => Recipient::Undecryptable,
        })
        .collect())
}

/// One status per recipient, in request order: undecryptable and retired
/// ones from `recipients`, the others from storage's results (in batch
/// order).
fn merge(
    recipients: &[Recipient],
    results: Vec<EnqueueResult>,
) -> Result<Vec<RecipientStatus>, ProviderError> {
    let mut results = results.into_iter();
    recipients
        .iter()
        .map(|recipient| match recipient {
            Recipient::Undecryptable => Ok(RecipientStatus::UndecryptableQueueId),
            Recipient::Retired => Ok(RecipientStatus::QueueRetired),
            Recipient::Queue(_) => match results.next() {
                Some(EnqueueResult::Enqueued(_)) => Ok(RecipientStatus::Delivered),
                Some(EnqueueResult::UnknownQueue) => Ok(RecipientStatus::UnknownQueue),
                Some(EnqueueResult::QueueRetired) => Ok(RecipientStatus::QueueRetired),
                None => Err(ProviderError::Internal(
                    "storage returned fewer results than it was given entries".into(),
                )),
            },
        })
        .collect()
}

fn outcome(status: RecipientStatus) -> DeliveryOutcome {
    match status {
        RecipientStatus::Delivered => DeliveryOutcome::Delivered,
        RecipientStatus::UnknownQueue => DeliveryOutcome::UnknownQueue,
        RecipientStatus::UndecryptableQueueId => DeliveryOutcome::UndecryptableQueueId,
        RecipientStatus::QueueRetired => DeliveryOutcome::QueueRetired,
    }
}

/// `retire_queue_reference` (docs/wire-spec.md §13.5): from now on a
/// delivery naming exactly this ciphertext is refused (`queue_retired`).
/// The ciphertext must open under our queue key to `client`'s own queue:
/// a client retires only its own references, never another's.
pub async fn retire_reference<S: Storage>(
    provider: &Provider<S>,
    client: &AuthenticatedClient,
    request: &RetireQueueReferenceRequest,
) -> Result<RetireQueueReferenceResponse, ProviderError> {
    let ciphertext = request.encrypted_queue_id();
    let queue_id = provider
        .queue_key
        .open_queue_id(provider.settings.domain.as_str(), ciphertext)
        .map_err(|e| {
            ProviderError::Invalid(format!(
                "encrypted_queue_id does not open under this provider's queue key ({e}); \
                 send the encrypted_queue_id of one of your own queue references, byte for byte \
                 as your leaf node carries it"
            ))
        })?;
    // Queue IDs are secret between a client and us: compared in constant time.
    if verify_slices_are_equal(&queue_id, &client.queue_id()).is_err() {
        return Err(ProviderError::Forbidden(
            "encrypted_queue_id names another client's queue: a client can retire only its own \
             queue references"
                .into(),
        ));
    }
    let digest = reference_digest(ciphertext)?;
    let newly_retired = provider
        .storage
        .retire_reference(client.queue_id(), &digest)
        .await?;
    if newly_retired {
        tracing::info!(client = %client.record().client_id, "a client retired a queue reference");
    }
    Ok(RetireQueueReferenceResponse::new(newly_retired))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opened_queue_ids_are_remembered_and_start_over_when_full() {
        let cache = OpenedQueueIds::default();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(cache.lookup(&[a, b]), vec![None, None]);
        cache.remember(vec![(a, [7; 16])]);
        assert_eq!(cache.lookup(&[a, b]), vec![Some([7; 16]), None]);
        let many: Vec<_> = (0..OpenedQueueIds::CAPACITY as u32)
            .map(|i| {
                let mut d = [0u8; 32];
                d[..4].copy_from_slice(&i.to_be_bytes());
                d[31] = 9;
                (d, [3; 16])
            })
            .collect();
        cache.remember(many);
        // Full: started over with the new ones only.
        assert_eq!(cache.lookup(&[a]), vec![None]);
        assert_eq!(cache.map().len(), OpenedQueueIds::CAPACITY);
    }
}
