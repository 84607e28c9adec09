//! The hub's durable fan-out: every accepted operation's deliveries wait in the
//! storage outbox (appended in the operation's own transaction), and this
//! worker hands them to each member provider's queueing service
//! (`/deliver_message`, draft-kohbrok-mimi-transport §5.7) in outbox order,
//! one destination at a time, retrying a destination that fails with
//! exponential backoff.
//!
//! Why this gives "every accepted message reaches every member once, in the
//! hub's order":
//! - an entry is deleted only after the destination answered 200 (it then
//!   holds the message in its queues, committed) or 409 replay (an earlier
//!   attempt was committed and its answer lost);
//! - the entries of a destination go out one by one in outbox order, and a
//!   failure stops that destination until its next attempt, so no later entry
//!   overtakes an earlier one;
//! - every attempt of an entry carries the entry's fixed event ID (a fresh
//!   signature and creation time each time), and queueing services keep the
//!   IDs of delivered events for [`DELIVERY_DEDUP_MS`], longer than the
//!   backoff ever waits: a retry of something delivered is recognised.
//!
//! Several provider processes on one PostgreSQL database may run this worker
//! at once; they may send an entry twice, which its event ID de-duplicates, and
//! each sends in order, so the order holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mimi_identifiers::Domain;
use mimi_storage::{OutboxEntry, Storage};
use mimi_transport::ReplayRecord;
use mimi_wire::ds::FanoutMessage;
use mimi_wire::{DeliverMessageRequest, RecipientStatus};
use tokio::sync::{Notify, watch};

use crate::outbound::SendError;
use crate::state::{Provider, now_ms};

/// How long a queueing service remembers the event IDs of deliveries, and so
/// how long a hub may retry one: 7 days. The hub's backoff never waits longer
/// than [`OutboxSettings::retry_max`] between attempts.
pub const DELIVERY_DEDUP_MS: u64 = 7 * 24 * 3600 * 1000;

/// Most destinations served in one round, and most entries read at once.
const DESTINATIONS_PER_ROUND: u32 = 64;
const ENTRIES_PER_BATCH: u32 = 100;
/// Most deliveries made before they are marked done in storage.
const MARK_EVERY: usize = 16;

/// How the outbox retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxSettings {
    /// The wait after a destination's first failure; doubled after each
    /// further one.
    pub retry_min: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
    /// How often the worker looks for due entries when nothing woke it (new
    /// entries of this process wake it at once; other processes' and retries
    /// are found by this poll).
    pub poll: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        }
    }
}

impl OutboxSettings {
    /// The wait before the next attempt after `failures` failures in a row.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.retry_min
            .saturating_mul(1u32 << doublings)
            .min(self.retry_max)
    }
}

/// This process's side of the outbox: the signal that wakes its worker when
/// an operation was accepted, and the failures in a row per destination
/// (which set the backoff; the storage keeps its own count for operators).
#[derive(Debug, Default)]
pub struct OutboxState {
    wake: Notify,
    failures: Mutex<HashMap<String, u32>>,
}

impl OutboxState {
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a failure at `destination` and returns how many in a row.
    fn failed(&self, destination: &str) -> u32 {
        let mut failures = self.failures();
        let n = failures.entry(destination.to_string()).or_default();
        *n = n.saturating_add(1);
        *n
    }

    fn succeeded(&self, destination: &str) {
        self.failures().remove(destination);
    }
}

/// Runs the worker until `stopped` turns true.
pub(crate) async fn run<S: Storage>(
    provider: Arc<Provider<S>>,
    mut stopped: watch::Receiver<bool>,
) {
    let poll = provider.settings.outbox.poll;
    loop {
        if let Err(e) = round(&provider).await {
            tracing::warn!(error = %e, "the outbox could not be read; retrying");
        }
        tokio::select! {
            () = provider.outbox.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}

/// Serves every destination that is due, each in its own task.
async fn round<S: Storage>(provider: &Arc<Provider<S>>) -> Result<(), mimi_storage::StorageError> {
    let due = provider
        .storage
        .due_destinations(now_ms(), DESTINATIONS_PER_ROUND)
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for destination in due {
        let provider = provider.clone();
        tasks.spawn(async move { drain(&provider, &destination).await });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Delivers the destination's entries in order until none is left or one
/// fails; a failure schedules the next attempt.
async fn drain<S: Storage>(provider: &Provider<S>, destination: &str) {
    loop {
        let batch = match provider
            .storage
            .outbox_batch(destination, ENTRIES_PER_BATCH)
            .await
        {
            Ok(batch) if batch.is_empty() => return,
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(%destination, error = %e, "cannot read the outbox");
                return;
            }
        };
        let mut done = Vec::new();
        for entry in batch {
            match deliver(provider, destination, &entry).await {
                Ok(()) => {
                    done.push(entry.outbox_id);
                    provider.outbox.succeeded(destination);
                    provider.metrics.count_fanout(true);
                    if done.len() >= MARK_EVERY
                        && !mark_delivered(provider, destination, &mut done).await
                    {
                        return;
                    }
                }
                Err(reason) => {
                    provider.metrics.count_fanout(false);
                    mark_delivered(provider, destination, &mut done).await;
                    failed(provider, destination, &reason).await;
                    return;
                }
            }
        }
        if !mark_delivered(provider, destination, &mut done).await {
            return;
        }
    }
}

/// Deletes the entries delivered so far in one commit (not one per entry:
/// a busy room's fan-out spends less on its own bookkeeping). Entries
/// delivered but not yet marked when the process stops are sent again
/// later, and their event IDs make that a no-op at the destination.
async fn mark_delivered<S: Storage>(
    provider: &Provider<S>,
    destination: &str,
    done: &mut Vec<u64>,
) -> bool {
    if done.is_empty() {
        return true;
    }
    match provider.storage.outbox_delivered(destination, done).await {
        Ok(_) => {
            done.clear();
            true
        }
        Err(e) => {
            tracing::warn!(%destination, error = %e, "cannot mark deliveries done");
            false
        }
    }
}

async fn failed<S: Storage>(provider: &Provider<S>, destination: &str, reason: &str) {
    let failures = provider.outbox.failed(destination);
    let wait = provider.settings.outbox.backoff(failures);
    let mut end = reason.len().min(mimi_storage::MAX_OUTBOX_ERROR_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let error = if end == 0 {
        "delivery failed"
    } else {
        &reason[..end]
    };
    let next = now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    tracing::info!(%destination, failures, ?wait, %reason, "fan-out failed; will retry");
    if let Err(e) = provider
        .storage
        .outbox_failed(destination, next, error)
        .await
    {
        tracing::warn!(%destination, error = %e, "cannot record a failed delivery");
    }
}

/// One entry to its destination: over S2S, or straight into our own queues
/// when the member is ours.
async fn deliver<S: Storage>(
    provider: &Provider<S>,
    destination: &str,
    entry: &OutboxEntry,
) -> Result<(), String> {
    let fanout = FanoutMessage::new(
        &provider.settings.domain,
        entry.group_id.clone(),
        entry.sequence,
        entry.timestamp_ms,
        entry.message.clone(),
    )
    .encode()
    .map_err(|e| format!("cannot build the fan-out message: {e}"))?;
    let recipients = super::fanout::decode_recipients(&entry.recipients)
        .map_err(|e| format!("a stored recipient list does not decode: {e}"))?;
    let request = DeliverMessageRequest::new(fanout, recipients);
    if destination == provider.settings.domain.as_str() {
        return deliver_locally(provider, entry, &request).await;
    }
    let peer: Domain = destination
        .parse()
        .map_err(|e| format!("the destination is not a domain: {e}"))?;
    match provider
        .deliver_to_with_id(&peer, request, entry.event_id)
        .await
    {
        Ok(response) => {
            report_statuses(destination, response.statuses());
            Ok(())
        }
        Err(SendError::Refused { kind, .. }) if kind == "replay" => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Our own members' queues, through the same transaction the S2S endpoint
/// uses, de-duplicated by the entry's event ID like a peer's delivery.
async fn deliver_locally<S: Storage>(
    provider: &Provider<S>,
    entry: &OutboxEntry,
    request: &DeliverMessageRequest,
) -> Result<(), String> {
    let record = ReplayRecord::local(
        provider.settings.domain.clone(),
        entry.event_id,
        now_ms() + DELIVERY_DEDUP_MS,
    );
    match crate::qs::deliver_message(provider, &record, request).await {
        Ok(response) => {
            report_statuses(provider.settings.domain.as_str(), response.statuses());
            Ok(())
        }
        Err(crate::error::ProviderError::Transport(mimi_transport::TransportError::Replay {
            ..
        })) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// A recipient the destination did not take (an unknown or retired queue, a
/// queue ID that does not open) is a member whose client is gone: logged for
/// operators; the room's members remove it.
fn report_statuses(destination: &str, statuses: &[RecipientStatus]) {
    let refused = statuses
        .iter()
        .filter(|s| **s != RecipientStatus::Delivered)
        .count();
    if refused > 0 {
        tracing::info!(%destination, refused, "some members' queues did not take a message");
    }
}
