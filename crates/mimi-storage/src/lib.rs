//! Durable storage for a MIMI provider: one trait per store, each implemented
//! on SQLite ([`SqliteStorage`], the embedded default: one file per provider,
//! WAL) and on PostgreSQL ([`PostgresStorage`], shared by several stateless
//! provider processes). Both back ends create and upgrade their own schema on
//! open, from `migrations/sqlite/*.sql` and `migrations/postgres/*.sql`.
//!
//! The stores:
//!
//! - [`QueueStore`]: the queueing service (draft-kohbrok-mimi-transport §5.7):
//!   one queue per client, holding MLS messages until the client
//!   acknowledges them.
//! - [`KeyPackageStore`]: KeyPackages uploaded by clients and claimed by
//!   other providers (§5.8-5.9).
//! - [`ReplayStore`]: the receiver's table of S2S events already seen, by
//!   sender domain and message ID, so that a replayed event is refused.
//! - [`ClientStore`]: the provider's registered clients, each with its
//!   user, optional handle, signature key and queue.
//! - [`GroupStore`]: the hub's rooms (§5.2-5.3): each group's public
//!   state, its gap-free sequence of accepted operations, the requests
//!   already accepted, and the ratchet trees kept for joiners.
//! - [`OutboxStore`]: the hub's durable fan-out to member providers
//!   (§5.7), per destination in order, retried with backoff.
//! - [`EnrollmentStore`]: invites for users' first devices and enrollments
//!   at the domain CA pending until the device registers
//!   (docs/enrollment.md, "The provider side").
//! - [`ReferenceStore`]: queue references their clients retired, to which
//!   deliveries are refused (docs/wire-spec.md §11.5).
//!
//! Queue notifications ([`QueueStore::watcher`]) wake whoever waits on a
//! queue once a commit enqueued to it: in process on SQLite, across
//! processes on PostgreSQL (`LISTEN`/`NOTIFY`).
//!
//! # What every back end guarantees
//!
//! - **Nothing is acknowledged before it is committed.** Every method is one
//!   transaction and returns `Ok` only after that transaction committed
//!   (SQLite with `synchronous = FULL`, PostgreSQL with its default
//!   `synchronous_commit = on`), so what a caller acknowledges to a sender
//!   survives a crash. An `Err` means nothing was changed, except for a
//!   [`StorageError::Database`] raised by the commit itself, whose outcome
//!   the database alone knows.
//! - **Sequence numbers are gap-free per queue.** A queue's messages get
//!   1, 2, 3, … in commit order, also under concurrent enqueues from several
//!   processes: the number is taken from a per-queue counter under that
//!   queue's row lock, in the transaction that stores the message, so a
//!   rolled-back enqueue gives its number back.
//! - **Nothing is deleted from a queue before it is acknowledged**
//!   ([`QueueStore::ack`]), and an enqueue to a queue that does not exist or
//!   is retired is an error, never a silent drop ([`QueueStore::deliver`]
//!   reports such entries one by one in its answer).
//! - **A KeyPackage is handed out at most once**, except a client's
//!   last-resort KeyPackage, which is handed out (and kept) only when the
//!   client has no other of the cipher suite asked for. A claim deletes what
//!   it hands out in the same statement that selects it.
//! - **An S2S event is accepted once.** [`ReplayStore::remember`] is a single
//!   insert-or-nothing against a unique key. [`QueueStore::deliver`] records
//!   the event in the transaction that enqueues its messages, so that a
//!   sender retrying after a crash finds them either all stored (and gets
//!   [`DeliverOutcome::Replay`]) or none (and its retry stores them once).
//! - **A notification never carries the only copy of anything.** It is
//!   sent only after the commit it announces, and is a hint to fetch: a
//!   lost one (a PostgreSQL listener that reconnected wakes everyone)
//!   delays a message, never loses it.
//! - **A client is registered with its queue, or not at all**
//!   ([`ClientStore::register_client`]), and registering it again with the
//!   same key changes nothing.
//! - **A hub operation is accepted once, whole, against the state it was
//!   validated on** ([`GroupStore::apply`]): its replay key, the new state,
//!   its number in the group's sequence (1, 2, 3, … with no gaps, also
//!   across processes: the group's row lock) and its outbox entries commit
//!   together; a replay or a change validated against a state that has
//!   moved on changes nothing.
//! - **A delivery leaves the outbox only when delivered**
//!   ([`OutboxStore::outbox_delivered`]); each destination gets its entries
//!   in outbox order, and a message is deleted with its last entry.
//! - **Inputs are bounded** ([`MAX_MESSAGE_LEN`] and the other `MAX_*`
//!   constants) and checked before any SQL runs; a refused input writes
//!   nothing.
//!
//! # Example
//!
//! ```
//! use mimi_storage::{QueueStore, SqliteStorage};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let storage = SqliteStorage::open(&dir.path().join("provider.db")).await?;
//! let queue = [7u8; 16];
//! storage.create_queue(queue).await?;
//! assert_eq!(storage.enqueue(queue, b"mls message").await?, 1);
//! let messages = storage.fetch(queue, 1, 100).await?;
//! assert_eq!(messages, vec![(1, b"mls message".to_vec())]);
//! storage.ack(queue, 1).await?; // only now is the message deleted
//! assert_eq!(storage.depth(queue).await?, 0);
//! # Ok::<(), mimi_storage::StorageError>(())
//! # }).unwrap();
//! ```

use std::future::Future;

mod enrollment;
mod error;
mod groups;
mod migrate;
mod postgres;
mod references;
mod shared;
mod sqlite;
#[cfg(test)]
mod tests;
mod watch;

pub use enrollment::{
    EnrollmentStore, INVITE_HASH_LEN, Invite, MAX_INVITE_PHONE_NUMBERS, MAX_INVITES_LISTED,
    PendingEnrollment, RevokedClient,
};
pub use error::{StorageError, WatchError};
pub use groups::{
    Accepted, ApplyOutcome, CreateOutcome, Delivery, EventId, FollowUp, GroupChange, GroupStore,
    GroupVersion, Joiner, MAX_DELIVERIES, MAX_GROUP_ID_LEN, MAX_GROUP_INFO_LEN,
    MAX_GROUP_STATE_LEN, MAX_JOINERS, MAX_OUTBOX_BATCH_BYTES, MAX_OUTBOX_ERROR_LEN,
    MAX_OUTBOX_LIMIT, MAX_RATCHET_TREE_LEN, MAX_RECIPIENTS_LEN, MAX_RECIPIENTS_TOTAL_LEN, NewGroup,
    NewJoiners, OutboxDepth, OutboxEntry, OutboxStore, RequestId, StoredGroup,
};
pub use postgres::PostgresStorage;
pub use references::{MAX_REFERENCE_LOOKUP, REFERENCE_DIGEST_LEN, ReferenceDigest, ReferenceStore};
pub use sqlite::SqliteStorage;
pub use watch::{QueueSubscription, QueueWatcher};

/// A queue's ID: 16 random bytes chosen by the client's provider
/// (draft-kohbrok-mimi-transport §5.7).
pub type QueueId = [u8; 16];

/// The ID of an S2S event: the `message_id` of mimi-wire's `EventEnvelope`.
pub type MessageId = [u8; 16];

/// The largest message a queue accepts: 1 MiB.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;
/// The most entries one [`QueueStore::enqueue_many`] batch may have.
pub const MAX_BATCH_LEN: usize = 10_000;
/// The most messages one [`QueueStore::fetch`] returns.
pub const MAX_FETCH_LIMIT: u32 = 1_000;
/// The longest user or client identifier, in bytes: mimi-identifiers'
/// `MAX_INPUT_LEN`, the longest identifier it parses.
pub const MAX_ID_LEN: usize = 2048;
/// The longest sender domain, in bytes (the DNS limit).
pub const MAX_DOMAIN_LEN: usize = 253;
/// The longest KeyPackageRef, in bytes: an MLS `HashReference` is one hash
/// output, at most 64 bytes for the hashes MLS cipher suites use.
pub const MAX_KP_REF_LEN: usize = 64;
/// The largest KeyPackage, in bytes (an X.509 credential chain included).
pub const MAX_KEY_PACKAGE_LEN: usize = 64 * 1024;
/// The largest client signature key, in bytes (a DER SubjectPublicKeyInfo:
/// 44 bytes for Ed25519, 91 for P-256; room for post-quantum keys is not
/// promised).
pub const MAX_SIGNATURE_KEY_LEN: usize = 1024;
/// The longest handle, in bytes.
pub const MAX_HANDLE_LEN: usize = 256;
/// The largest stored certificate chain (PEM), in bytes.
pub const MAX_CERTIFICATE_CHAIN_LEN: usize = 64 * 1024;

type R<T> = Result<T, StorageError>;

/// The queueing service: one queue per client, each an ordered list of
/// messages numbered 1, 2, 3, … with no gaps, kept until acknowledged.
///
/// Every method is one transaction; an unknown queue ID is
/// [`StorageError::UnknownQueue`] everywhere.
pub trait QueueStore: Send + Sync + 'static {
    /// Creates an empty queue. A queue ID is never reused: creating one that
    /// exists, or existed and was retired, is [`StorageError::QueueExists`].
    fn create_queue(&self, queue_id: QueueId) -> impl Future<Output = R<()>> + Send;

    /// Appends a message (1 to [`MAX_MESSAGE_LEN`] bytes) and returns its
    /// sequence number, one more than the previous message's in this queue
    /// (the first is 1). Returns only after the message is committed.
    fn enqueue(&self, queue_id: QueueId, message: &[u8]) -> impl Future<Output = R<u64>> + Send;

    /// Appends every `(queue, message)` of a fan-out batch in one
    /// transaction — all of them or, on any error (an unknown or retired
    /// queue, an oversized message), none — and returns their sequence
    /// numbers in batch order. A queue may appear more than once; its
    /// messages are numbered in batch order. At most [`MAX_BATCH_LEN`]
    /// entries.
    fn enqueue_many(&self, batch: &[(QueueId, &[u8])]) -> impl Future<Output = R<Vec<u64>>> + Send;

    /// Up to `limit` (1 to [`MAX_FETCH_LIMIT`]) unacknowledged messages with
    /// sequence numbers `from_seq` and above, in order, as `(seq, message)`.
    /// Fetching deletes nothing: a client that crashes before acknowledging
    /// gets the same messages again. Works on retired queues too, so that
    /// a client can drain one.
    fn fetch(
        &self,
        queue_id: QueueId,
        from_seq: u64,
        limit: u32,
    ) -> impl Future<Output = R<Vec<(u64, Vec<u8>)>>> + Send;

    /// Deletes every message with a sequence number up to `up_to_seq` and
    /// returns how many it deleted (acknowledging again deletes nothing and
    /// is not an error). Acknowledging a sequence number that was never
    /// handed out is refused with [`StorageError::AckBeyondEnd`] and
    /// deletes nothing: a client acknowledges only what it fetched.
    fn ack(&self, queue_id: QueueId, up_to_seq: u64) -> impl Future<Output = R<u64>> + Send;

    /// How many messages wait unacknowledged in the queue.
    fn depth(&self, queue_id: QueueId) -> impl Future<Output = R<u64>> + Send {
        self.depth_from(queue_id, 0)
    }

    /// How many messages wait unacknowledged in the queue with sequence
    /// numbers `from_seq` and above: what a fetch from `from_seq` could
    /// still return.
    fn depth_from(&self, queue_id: QueueId, from_seq: u64) -> impl Future<Output = R<u64>> + Send;

    /// Closes the queue to new messages: from now on an enqueue to it is
    /// [`StorageError::QueueRetired`]. Messages already in it stay fetchable
    /// and acknowledgeable (they were acknowledged to their senders).
    /// Retiring a retired queue is not an error.
    fn retire(&self, queue_id: QueueId) -> impl Future<Output = R<()>> + Send;

    /// Delivers a fan-out batch from the S2S event `event`
    /// (draft-kohbrok-mimi-transport §5.7, `/deliver_message`) in one
    /// transaction, so that nothing is acknowledged before it is committed
    /// and a retry after a crash is neither lost nor enqueued twice:
    ///
    /// - if `event` was recorded before (by this method or by
    ///   [`ReplayStore::remember`]: one table), nothing changes and the
    ///   answer is [`DeliverOutcome::Replay`];
    /// - otherwise the event is recorded, and each entry whose queue exists
    ///   and is not retired is enqueued, as by
    ///   [`QueueStore::enqueue_many`] (same numbering, same queue locking
    ///   order, same bounds); an entry for an unknown or retired queue is
    ///   skipped and reported, not an error. The answer is
    ///   [`DeliverOutcome::Done`] with one [`EnqueueResult`] per entry, in
    ///   batch order.
    ///
    /// `None` delivers without a replay record (a local delivery). A bound
    /// violated ([`MAX_BATCH_LEN`], [`MAX_MESSAGE_LEN`], the sender's
    /// length, an expiry above 2^63 - 1) is an error and records nothing.
    fn deliver(
        &self,
        event: Option<EventRecord<'_>>,
        batch: &[(QueueId, &[u8])],
    ) -> impl Future<Output = R<DeliverOutcome>> + Send;

    /// How many messages wait unacknowledged in all queues together (for a
    /// metrics gauge; one `COUNT`).
    fn total_depth(&self) -> impl Future<Output = R<u64>> + Send;

    /// The notifications of this storage's queues: a subscriber of a queue
    /// is woken after every commit that enqueued to it (by
    /// [`QueueStore::enqueue`], [`QueueStore::enqueue_many`] or
    /// [`QueueStore::deliver`]). On SQLite, commits of this handle and its
    /// clones; on PostgreSQL, commits of every process on the database.
    fn watcher(&self) -> QueueWatcher;
}

/// An S2S event whose effect is being stored, to be recorded in the same
/// transaction (the replay table of [`ReplayStore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// The authenticated sender domain.
    pub sender: &'a str,
    /// The event's `message_id` (mimi-wire's `EventEnvelope`).
    pub message_id: MessageId,
    /// Unix milliseconds until which the record is kept: at least the
    /// event's creation time plus the freshness window.
    pub expires_at_ms: u64,
}

/// What [`QueueStore::deliver`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DeliverOutcome {
    /// The event was recorded before: nothing was changed.
    Replay,
    /// The event is new: one result per batch entry, in batch order.
    Done(Vec<EnqueueResult>),
}

/// What happened to one entry of a [`QueueStore::deliver`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueResult {
    /// Stored under this sequence number.
    Enqueued(u64),
    /// No queue has this ID: nothing was stored for this entry.
    UnknownQueue,
    /// The queue is retired: nothing was stored for this entry.
    QueueRetired,
}

/// KeyPackages of a provider's clients (draft-kohbrok-mimi-transport
/// §5.8-5.9), handed out to providers that add the user to a group.
///
/// KeyPackages are kept per MLS cipher suite (RFC 9420 §17.1, the
/// `cipher_suite` of the KeyPackage): a claim names the room's suite and
/// gets only KeyPackages of it. For each suite, each client has any number
/// of one-time KeyPackages, each handed out at most once, and at most one
/// last-resort KeyPackage, handed out (and kept) only when the client has
/// no one-time KeyPackage of that suite left.
pub trait KeyPackageStore: Send + Sync + 'static {
    /// Stores a KeyPackage of `client` (a client of `user`) of the cipher
    /// suite `cipher_suite` under its KeyPackageRef. A last-resort
    /// KeyPackage replaces the client's previous one of the same suite. A
    /// `kp_ref` the client already has stored is
    /// [`StorageError::DuplicateKeyPackage`]. The suite is not checked
    /// against the KeyPackage's bytes: the caller parsed them.
    fn upload(
        &self,
        user: &str,
        client: &str,
        kp_ref: &[u8],
        cipher_suite: u16,
        key_package: &[u8],
        last_resort: bool,
    ) -> impl Future<Output = R<()>> + Send;

    /// Hands out one KeyPackage of `cipher_suite` for each client of `user`
    /// that has one, as `(client, key_package)` ordered by client: its
    /// oldest one-time KeyPackage of that suite, deleted in the same
    /// statement, or else its last-resort KeyPackage of that suite, which is
    /// kept. Concurrent claims never receive the same one-time KeyPackage.
    /// A user with no KeyPackages of the suite gets an empty list.
    fn claim(
        &self,
        user: &str,
        cipher_suite: u16,
    ) -> impl Future<Output = R<Vec<(String, Vec<u8>)>>> + Send;

    /// How many one-time KeyPackages of `cipher_suite` `client` has left
    /// (the last-resort one is not counted): what a client checks to decide
    /// whether to upload more.
    fn count(
        &self,
        user: &str,
        client: &str,
        cipher_suite: u16,
    ) -> impl Future<Output = R<u64>> + Send;
}

/// The receiver's record of S2S events already accepted, by sender domain
/// and message ID, so that a replayed event is refused
/// (draft-kohbrok-mimi-transport; mimi-wire's `EventEnvelope`).
pub trait ReplayStore: Send + Sync + 'static {
    /// Records that `sender` sent the event `message_id`, to be remembered
    /// until `expires_at_ms` (Unix milliseconds; pick at least the
    /// event's creation time plus the freshness window, after which the
    /// freshness check refuses it anyway). Returns `true` if the event is
    /// new and `false` if it was already recorded: a replay. Atomic: of
    /// concurrent calls with the same event exactly one gets `true`.
    fn remember(
        &self,
        sender: &str,
        message_id: MessageId,
        expires_at_ms: u64,
    ) -> impl Future<Output = R<bool>> + Send;

    /// Forgets every event whose `expires_at_ms` is at or before `now_ms`
    /// and returns how many it forgot.
    fn purge_expired(&self, now_ms: u64) -> impl Future<Output = R<u64>> + Send;
}

/// A client registered with this provider, with the queue its messages go
/// to (draft-kohbrok-mimi-transport §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client's `mimi://<domain>/d/<user>/<device>` URI, in the
    /// canonical form of mimi-identifiers (the store compares bytes).
    pub client_id: String,
    /// The `mimi://<domain>/u/<user>` URI of the user the client belongs to.
    pub user_id: String,
    /// The user's handle, if the client registered one (canonical form:
    /// the store compares bytes).
    pub handle: Option<String>,
    /// The client's signature public key, a DER SubjectPublicKeyInfo: what
    /// its requests to the provider are verified with.
    pub signature_key: Vec<u8>,
    /// The client's credential, PEM certificates leaf first, as it
    /// registered with it: what key discovery hands out (clients verify it
    /// themselves; the store keeps it as text).
    pub certificate_chain: String,
    /// The client's queue, created with the registration.
    pub queue_id: QueueId,
    /// When the client registered (Unix milliseconds).
    pub registered_at_ms: u64,
}

/// The provider's registered clients.
pub trait ClientStore: Send + Sync + 'static {
    /// Registers a client and creates its queue, in one transaction, and
    /// returns the stored record.
    ///
    /// A client ID registered before with the same signature key returns
    /// the stored record unchanged (a retried registration); with another
    /// key it is [`StorageError::ClientExists`]. A handle is held by one
    /// user: another user's clients get [`StorageError::HandleTaken`], the
    /// same user's clients may share it. A queue ID that exists is
    /// [`StorageError::QueueExists`]. Bounds: IDs up to [`MAX_ID_LEN`], the
    /// key up to [`MAX_SIGNATURE_KEY_LEN`], the handle up to
    /// [`MAX_HANDLE_LEN`], the chain up to [`MAX_CERTIFICATE_CHAIN_LEN`]
    /// bytes, none empty.
    fn register_client(
        &self,
        record: &ClientRecord,
    ) -> impl Future<Output = R<ClientRecord>> + Send;

    /// The client registered under `client_id`, if any.
    fn client(&self, client_id: &str) -> impl Future<Output = R<Option<ClientRecord>>> + Send;

    /// Every client of `user_id`, ordered by client ID.
    fn clients_of_user(&self, user_id: &str) -> impl Future<Output = R<Vec<ClientRecord>>> + Send;

    /// The user holding `handle`, if any.
    fn user_by_handle(&self, handle: &str) -> impl Future<Output = R<Option<String>>> + Send;
}

/// Everything a provider stores: what both back ends implement.
pub trait Storage:
    QueueStore
    + KeyPackageStore
    + ReplayStore
    + ClientStore
    + GroupStore
    + OutboxStore
    + EnrollmentStore
    + ReferenceStore
{
}

impl<T> Storage for T where
    T: QueueStore
        + KeyPackageStore
        + ReplayStore
        + ClientStore
        + GroupStore
        + OutboxStore
        + EnrollmentStore
        + ReferenceStore
{
}

// --- Input checks, shared by both back ends and run before any SQL. --------

fn check_len(what: &'static str, len: usize, max: usize) -> R<()> {
    if len == 0 || len > max {
        return Err(StorageError::InvalidLength { what, len, max });
    }
    Ok(())
}

fn check_message(message: &[u8]) -> R<()> {
    if message.len() > MAX_MESSAGE_LEN {
        return Err(StorageError::MessageTooLarge {
            len: message.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    check_len("a queued message", message.len(), MAX_MESSAGE_LEN)
}

fn check_batch(batch: &[(QueueId, &[u8])]) -> R<()> {
    if batch.len() > MAX_BATCH_LEN {
        return Err(StorageError::BatchTooLarge {
            len: batch.len(),
            max: MAX_BATCH_LEN,
        });
    }
    batch.iter().try_for_each(|(_, m)| check_message(m))
}

fn check_fetch_limit(limit: u32) -> R<()> {
    if limit == 0 || limit > MAX_FETCH_LIMIT {
        return Err(StorageError::FetchLimit {
            limit,
            max: MAX_FETCH_LIMIT,
        });
    }
    Ok(())
}

fn check_event(event: &EventRecord<'_>) -> R<i64> {
    check_len("a sender domain", event.sender.len(), MAX_DOMAIN_LEN)?;
    to_db("an expiry time (ms)", event.expires_at_ms)
}

fn check_client(record: &ClientRecord) -> R<i64> {
    check_len("a client ID", record.client_id.len(), MAX_ID_LEN)?;
    check_len("a user ID", record.user_id.len(), MAX_ID_LEN)?;
    if let Some(handle) = &record.handle {
        check_len("a handle", handle.len(), MAX_HANDLE_LEN)?;
    }
    check_len(
        "a signature key",
        record.signature_key.len(),
        MAX_SIGNATURE_KEY_LEN,
    )?;
    check_len(
        "a certificate chain",
        record.certificate_chain.len(),
        MAX_CERTIFICATE_CHAIN_LEN,
    )?;
    to_db("a registration time (ms)", record.registered_at_ms)
}

fn check_upload(user: &str, client: &str, kp_ref: &[u8], key_package: &[u8]) -> R<()> {
    check_len("a user ID", user.len(), MAX_ID_LEN)?;
    check_len("a client ID", client.len(), MAX_ID_LEN)?;
    check_len("a KeyPackageRef", kp_ref.len(), MAX_KP_REF_LEN)?;
    check_len("a KeyPackage", key_package.len(), MAX_KEY_PACKAGE_LEN)
}

/// A sequence number or time as the databases store it (signed 64-bit).
fn to_db(what: &'static str, value: u64) -> R<i64> {
    i64::try_from(value).map_err(|_| StorageError::OutOfRange { what, value })
}

/// A sequence number or count read back from the database.
fn from_db(what: &'static str, value: i64) -> R<u64> {
    u64::try_from(value).map_err(|_| StorageError::Corrupt(format!("{what} is negative ({value})")))
}

/// A fan-out batch grouped by queue, in queue ID order: the order in which
/// both back ends lock queues, so that two concurrent batches sharing
/// queues cannot deadlock. Each entry is a queue and the batch positions
/// of its messages, in batch order.
fn group_by_queue(batch: &[(QueueId, &[u8])]) -> Vec<(QueueId, Vec<usize>)> {
    let mut groups = std::collections::BTreeMap::<QueueId, Vec<usize>>::new();
    for (position, (queue_id, _)) in batch.iter().enumerate() {
        groups.entry(*queue_id).or_default().push(position);
    }
    groups.into_iter().collect()
}

/// Lower-case hex, for queue IDs in error messages.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
