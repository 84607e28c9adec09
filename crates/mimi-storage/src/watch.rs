//! Queue notifications: who is woken when a queue gets messages.
//!
//! A [`QueueWatcher`] keeps, per watched queue, one `tokio::sync::watch`
//! channel holding the newest sequence number this process has heard of.
//! The back ends feed it after commit: SQLite directly, PostgreSQL through
//! `pg_notify` in the enqueue transaction and one `LISTEN` connection per
//! storage (see `postgres.rs`). A notification is only a hint to fetch: a
//! subscriber always refetches from its own cursor, so a lost or merged
//! notification delays a message and never loses one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::{QueueId, WatchError, hex};

/// The channel name of queue notifications on PostgreSQL.
pub(crate) const NOTIFY_CHANNEL: &str = "mimi_queue";

/// The longest notification payload we parse: 32 hex digits, a colon and a
/// decimal `u64`.
const MAX_PAYLOAD_LEN: usize = 32 + 1 + 20;

/// Wakes the subscribers of a queue after a commit enqueued to it. Cheap to
/// clone; every clone shares the subscriptions of the storage it came from
/// ([`crate::QueueStore::watcher`]).
///
/// Memory is bounded by the live subscriptions: a queue is tracked only
/// while at least one [`QueueSubscription`] of it exists.
#[derive(Debug, Clone)]
pub struct QueueWatcher {
    hub: Arc<Hub>,
}

/// Waits for new messages in one queue. Subscribe *before* fetching, then
/// fetch, then wait with [`QueueSubscription::changed`]: a commit after the
/// subscription is never missed.
#[derive(Debug)]
pub struct QueueSubscription {
    queue_id: QueueId,
    // `None` only inside `drop`.
    receiver: Option<watch::Receiver<u64>>,
    hub: Arc<Hub>,
}

#[derive(Debug, Default)]
struct Hub {
    /// `None` once the storage is closed: nothing will be notified again.
    queues: Mutex<Option<HashMap<QueueId, watch::Sender<u64>>>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Option<HashMap<QueueId, watch::Sender<u64>>>> {
        // Each update is a single insert, remove or send: a panic elsewhere
        // cannot leave the map half-changed, so a poisoned lock is usable.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl QueueWatcher {
    pub(crate) fn new() -> QueueWatcher {
        QueueWatcher {
            hub: Arc::new(Hub {
                queues: Mutex::new(Some(HashMap::new())),
            }),
        }
    }

    /// Starts watching `queue_id` (which need not exist yet). On a closed
    /// storage the subscription's `changed` fails at once with
    /// [`WatchError::Closed`].
    pub fn subscribe(&self, queue_id: QueueId) -> QueueSubscription {
        let receiver = match self.hub.lock().as_mut() {
            Some(queues) => queues
                .entry(queue_id)
                .or_insert_with(|| watch::channel(0).0)
                .subscribe(),
            // The sender is dropped at once: `changed` reports the close.
            None => watch::channel(0).1,
        };
        QueueSubscription {
            queue_id,
            receiver: Some(receiver),
            hub: self.hub.clone(),
        }
    }

    /// How many queues have at least one live subscription.
    pub fn watched_queues(&self) -> usize {
        self.hub.lock().as_ref().map_or(0, HashMap::len)
    }

    /// Tells the subscribers of `queue_id` that its newest message is now
    /// `latest_seq`. Numbers only go up: an older number (a notification
    /// that arrived late) wakes no one, since the newer one already did.
    pub(crate) fn notify(&self, queue_id: QueueId, latest_seq: u64) {
        let mut guard = self.hub.lock();
        let Some(queues) = guard.as_mut() else { return };
        let Some(sender) = queues.get(&queue_id) else {
            return;
        };
        if sender.receiver_count() == 0 {
            queues.remove(&queue_id);
            return;
        }
        sender.send_if_modified(|seq| {
            let newer = latest_seq > *seq;
            if newer {
                *seq = latest_seq;
            }
            newer
        });
    }

    /// Wakes every subscriber with the number it last saw: notifications
    /// may have been missed (the PostgreSQL listener reconnected), so every
    /// subscriber refetches.
    pub(crate) fn wake_all(&self) {
        if let Some(queues) = self.hub.lock().as_ref() {
            for sender in queues.values() {
                sender.send_modify(|_| {});
            }
        }
    }

    /// Ends every subscription: their `changed` returns
    /// [`WatchError::Closed`], and new ones fail at once.
    pub(crate) fn close(&self) {
        // Dropping the senders is what the receivers observe.
        self.hub.lock().take();
    }

    /// Parses a PostgreSQL notification payload, `<hex queue id>:<seq>`,
    /// and notifies. Anyone allowed to connect may `NOTIFY` on the
    /// channel, so a payload that does not parse is ignored (and logged
    /// without its content, which could be anything).
    pub(crate) fn notify_payload(&self, payload: &str) {
        match parse_payload(payload) {
            Some((queue_id, seq)) => self.notify(queue_id, seq),
            None => tracing::debug!(
                len = payload.len(),
                "ignoring a malformed queue notification"
            ),
        }
    }
}

/// Owns a storage's watcher for the storage handles (one per handle and its
/// clones): when the last handle is dropped or closed, subscriptions end
/// and the PostgreSQL listener task, if any, stops.
#[derive(Debug)]
pub(crate) struct WatchOwner {
    watcher: QueueWatcher,
    /// Dropping it stops the PostgreSQL listener task.
    stop_listener: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl WatchOwner {
    pub(crate) fn new(
        watcher: QueueWatcher,
        stop_listener: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> WatchOwner {
        WatchOwner {
            watcher,
            stop_listener: Mutex::new(stop_listener),
        }
    }

    pub(crate) fn watcher(&self) -> &QueueWatcher {
        &self.watcher
    }

    pub(crate) fn close(&self) {
        self.stop_listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.watcher.close();
    }
}

impl Drop for WatchOwner {
    fn drop(&mut self) {
        self.close();
    }
}

impl QueueSubscription {
    /// The queue this subscription watches.
    pub fn queue_id(&self) -> QueueId {
        self.queue_id
    }

    /// Whether [`QueueSubscription::changed`] would return at once (a
    /// wake-up is pending), without waiting or consuming it.
    pub fn has_changed(&self) -> Result<bool, WatchError> {
        let receiver = self.receiver.as_ref().ok_or(WatchError::Closed)?;
        receiver.has_changed().map_err(|_| WatchError::Closed)
    }

    /// Waits until the queue may have new messages and returns the newest
    /// sequence number this process has heard of (a hint: fetch from your
    /// own cursor, since after a reconnect the number may not have moved).
    /// Fails only once the storage is closed or dropped.
    pub async fn changed(&mut self) -> Result<u64, WatchError> {
        let receiver = self.receiver.as_mut().ok_or(WatchError::Closed)?;
        receiver.changed().await.map_err(|_| WatchError::Closed)?;
        Ok(*receiver.borrow_and_update())
    }
}

impl Drop for QueueSubscription {
    fn drop(&mut self) {
        // Drop our receiver first, then look under the lock: a concurrent
        // subscribe either came before (and is counted) or after (and finds
        // the entry gone, making a new one).
        drop(self.receiver.take());
        if let Some(queues) = self.hub.lock().as_mut()
            && queues
                .get(&self.queue_id)
                .is_some_and(|sender| sender.receiver_count() == 0)
        {
            queues.remove(&self.queue_id);
        }
    }
}

/// `<32 lower-case hex digits>:<decimal seq>`, as the enqueue transaction
/// formats it.
pub(crate) fn payload(queue_id: &QueueId, latest_seq: u64) -> String {
    format!("{}:{latest_seq}", hex(queue_id))
}

fn parse_payload(payload: &str) -> Option<(QueueId, u64)> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return None;
    }
    let (id, seq) = payload.split_once(':')?;
    // from_str_radix alone would accept a sign.
    if id.len() != 32
        || !id.bytes().all(|b| b.is_ascii_hexdigit())
        || seq.is_empty()
        || !seq.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut queue_id = [0u8; 16];
    for (byte, pair) in queue_id.iter_mut().zip(id.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some((queue_id, seq.parse().ok()?))
}

#[cfg(test)]
mod tests;
