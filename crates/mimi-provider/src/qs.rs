//! The queueing service (draft-kohbrok-mimi-transport §5.7; queue IDs per
//! draft-kohbrok-mimi-metadata-minimalization §8). No HTTP here.
//!
//! A hub's `/deliver_message` names each recipient by its queue ID encrypted to
//! our queue key. We decrypt each one, and in one storage transaction record
//! the event (replay defence) and append the message to every queue that
//! exists and is open. Every recipient gets a status in the answer: nothing is
//! dropped silently, and nothing is acknowledged before it is committed.

use std::sync::Arc;

use mimi_mls::QueueKeyPair;
use mimi_storage::{DeliverOutcome, EnqueueResult, QueueId, Storage};
use mimi_transport::ReplayRecord;
use mimi_wire::{DeliverMessageRequest, DeliverMessageResponse, HpkeCiphertext, RecipientStatus};

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
    let queue_ids = open_queue_ids(provider, request.recipients()).await?;
    // A hub may retry a delivery with the same event ID long after the
    // freshness window (its outbox waits out our downtime): keep the ID as
    // long as it may come back, so a delivery is stored at most once.
    let event = event
        .clone()
        .kept_until(crate::state::now_ms().saturating_add(crate::ds::DELIVERY_DEDUP_MS));
    let event = &event;
    let batch: Vec<(QueueId, &[u8])> = queue_ids
        .iter()
        .flatten()
        .map(|id| (*id, request.message()))
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
/// under our queue key.
async fn open_queue_ids<S>(
    provider: &Provider<S>,
    recipients: &[HpkeCiphertext],
) -> Result<Vec<Option<QueueId>>, ProviderError> {
    let open = |key: &QueueKeyPair, domain: &str, cts: &[HpkeCiphertext]| {
        cts.iter()
            .map(|ct| key.open_queue_id(domain, ct).ok())
            .collect::<Vec<_>>()
    };
    let domain = provider.settings.domain.as_str();
    if recipients.len() <= OPEN_INLINE_MAX {
        return Ok(open(&provider.queue_key, domain, recipients));
    }
    let (key, domain, cts) = (
        Arc::clone(&provider.queue_key),
        domain.to_string(),
        recipients.to_vec(),
    );
    tokio::task::spawn_blocking(move || open(&key, &domain, &cts))
        .await
        .map_err(|e| ProviderError::Internal(format!("opening queue IDs failed: {e}")))
}

/// One status per recipient, in request order: undecryptable ones from
/// `queue_ids`, the others from storage's results (in batch order).
fn merge(
    queue_ids: &[Option<QueueId>],
    results: Vec<EnqueueResult>,
) -> Result<Vec<RecipientStatus>, ProviderError> {
    let mut results = results.into_iter();
    queue_ids
        .iter()
        .map(|id| match id {
            None => Ok(RecipientStatus::UndecryptableQueueId),
            Some(_) => match results.next() {
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
