use crate::{QueueId, hex};

/// Why a store refused or failed an operation. Every variant but
/// [`StorageError::Database`] means nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    // --- The caller's input or request is wrong. ------------------------------
    /// The queue was never created.
    #[error("no queue {}: create it with create_queue first, or check the queue ID", hex(.queue_id))]
    UnknownQueue { queue_id: QueueId },

    /// The queue was retired and takes no new messages.
    #[error(
        "queue {} is retired and accepts no new messages: deliver to the client's current queue instead",
        hex(.queue_id)
    )]
    QueueRetired { queue_id: QueueId },

    /// The queue ID is already taken (queue IDs are never reused).
    #[error(
        "queue {} already exists (queue IDs are never reused, even after retire): pick a fresh random ID",
        hex(.queue_id)
    )]
    QueueExists { queue_id: QueueId },

    /// A message above [`crate::MAX_MESSAGE_LEN`].
    #[error(
        "a message of {len} bytes exceeds the queue limit of {max} bytes: refuse it to its sender, nothing was stored"
    )]
    MessageTooLarge { len: usize, max: usize },

    /// A fan-out batch above [`crate::MAX_BATCH_LEN`] entries.
    #[error(
        "a batch of {len} messages exceeds the limit of {max}: split the fan-out into several batches"
    )]
    BatchTooLarge { len: usize, max: usize },

    /// A fetch limit of 0 or above [`crate::MAX_FETCH_LIMIT`].
    #[error("a fetch limit of {limit} is out of range: ask for 1 to {max} messages at a time")]
    FetchLimit { limit: u32, max: u32 },

    /// An acknowledgement of a sequence number never handed out.
    #[error(
        "cannot acknowledge queue {} up to sequence number {up_to_seq}: the last message ever enqueued there is number {last_seq}; acknowledge only sequence numbers that fetch returned",
        hex(.queue_id)
    )]
    AckBeyondEnd {
        queue_id: QueueId,
        up_to_seq: u64,
        last_seq: u64,
    },

    /// An empty or overlong identifier, KeyPackageRef or KeyPackage, or an
    /// empty message.
    #[error("{what} must be 1 to {max} bytes long, not {len}")]
    InvalidLength {
        what: &'static str,
        len: usize,
        max: usize,
    },

    /// A sequence number or time the databases cannot store (above 2^63 - 1).
    #[error("{what} {value} is out of range: it must be at most 2^63 - 1")]
    OutOfRange { what: &'static str, value: u64 },

    /// The client already has a KeyPackage with this KeyPackageRef.
    #[error(
        "client {client:?} of user {user:?} already has a KeyPackage with this KeyPackageRef: upload each KeyPackage once"
    )]
    DuplicateKeyPackage { user: String, client: String },

    /// The client ID is registered with another signature key.
    #[error(
        "client {client_id:?} is already registered with another signature key: a client ID \
         is registered once; register the new key under a new client ID"
    )]
    ClientExists { client_id: String },

    /// The handle belongs to another user (whose ID is not disclosed).
    #[error("the handle {handle:?} belongs to another user: pick another handle")]
    HandleTaken { handle: String },

    // --- Enrollment (EnrollmentStore). ----------------------------------------
    /// An invite with this code hash exists already.
    #[error("an invite with this code exists already: draw a new random code")]
    InviteExists,

    /// The invite spent is not one of the user's, or used, or expired.
    #[error(
        "no unused, unexpired invite with this code for {user_id:?}: ask the provider's operator for a new invite"
    )]
    InviteUnusable { user_id: String },

    /// A first device of a user who has a device, or a first-device
    /// enrollment of another device in progress.
    #[error(
        "the user {user_id:?} is taken: it has a registered device or another first device is enrolling; pick another user name, or enroll this device from a registered device of the user"
    )]
    UserTaken { user_id: String },

    /// No client is registered under this ID.
    #[error("no client {client_id:?} is registered: register it first")]
    UnknownClient { client_id: String },

    /// An invite's phone number that is not E.164 (`+` and 1 to 15
    /// digits).
    #[error("{number:?} is not an E.164 number: write + and 1 to 15 digits, e.g. +12025550123")]
    InvalidPhoneNumber { number: String },

    /// An invite with more phone numbers than a binding can carry.
    #[error(
        "an invite carries at most {max} phone numbers, not {count}: the binding names the user and the device besides them"
    )]
    TooManyPhoneNumbers { count: usize, max: usize },

    /// A CRLReason code above 10 (RFC 5280 §5.3.1).
    #[error("{reason} is not a CRLReason code: use 0 to 10 (RFC 5280 §5.3.1)")]
    InvalidRevocationReason { reason: u8 },

    /// The client was revoked before.
    #[error("the client {client_id:?} was revoked already: nothing to do")]
    ClientRevoked { client_id: String },

    /// The client's key changed since it was read (a concurrent renewal).
    #[error(
        "the key of client {client_id:?} changed meanwhile (another renewal won): read the client again"
    )]
    ClientKeyChanged { client_id: String },

    // --- Retired queue references (ReferenceStore). ---------------------------
    /// A reference digest retired for another queue than the one given.
    #[error(
        "the queue reference {digest} was retired for another queue: retire only references that open to the queue given; nothing was stored"
    )]
    ReferenceOfAnotherQueue { digest: String },

    // --- The hub's stores (GroupStore, OutboxStore). ---------------------------
    /// The group was never created.
    #[error("no group {}: create it with create_group first, or check the group ID", hex(.group_id))]
    UnknownGroup { group_id: Vec<u8> },

    /// The group ID is taken (by another request: a retried creation is
    /// [`crate::CreateOutcome::Replay`]).
    #[error(
        "group {} already exists: refuse the creation to its sender, who must pick another group ID",
        hex(.group_id)
    )]
    GroupExists { group_id: Vec<u8> },

    /// A state change that moves the group's epoch back, or keeps it while
    /// recording joiners (an epoch's joiners come with the commit that
    /// starts it).
    #[error(
        "group {} is at epoch {epoch} and a state change cannot take it to epoch {new_epoch}{}: \
         validate the change against the current state again",
        hex(.group_id),
        joiners_note(*.with_joiners)
    )]
    EpochNotAdvanced {
        group_id: Vec<u8>,
        epoch: u64,
        new_epoch: u64,
        with_joiners: bool,
    },

    /// One operation names a destination twice.
    #[error(
        "the destination {destination:?} appears twice in one operation: merge its recipient lists into one delivery"
    )]
    DuplicateDestination { destination: String },

    /// A limit of 0 or above its maximum.
    #[error("a limit of {limit} {what} is out of range: ask for 1 to {max} at a time")]
    LimitOutOfRange {
        what: &'static str,
        limit: u32,
        max: u32,
    },

    /// Too many (or too few) items of one kind in one call.
    #[error(
        "{len} {what} given, but {min} to {max} are allowed: split larger sets; nothing was stored"
    )]
    CountOutOfRange {
        what: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },

    /// The operating system's random number generator failed.
    #[error(
        "the system random number generator failed, so no outbox event ID could be drawn: check the \
         operating system's entropy source, then retry; nothing was stored"
    )]
    Randomness,

    // --- The database. --------------------------------------------------------
    /// The database failed or could not be reached. The transaction was
    /// rolled back — unless the commit itself failed, whose outcome only
    /// the database knows — so treat the operation as not done.
    #[error("database error (check that the database is reachable and writable, then retry): {0}")]
    Database(#[from] sqlx::Error),

    /// A schema migration failed; the database stays at the previous
    /// version.
    #[error(
        "schema migration {version} ({name}) failed and was rolled back: {source}; fix the database and open it again"
    )]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },

    /// The database was migrated by a newer build than this one.
    #[error(
        "the database has schema version {found}, newer than the {known} this build knows: run the newer mimi build or restore a backup"
    )]
    SchemaTooNew { found: i64, known: i64 },

    /// A stored value that no version of this crate writes.
    #[error("stored data is corrupt: {0}; restore the database from a backup")]
    Corrupt(String),
}

/// Why a [`crate::QueueSubscription`] will not be woken again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The storage was closed or dropped.
    #[error(
        "the storage was closed, so no more queue notifications will come: open the storage \
         again and subscribe anew"
    )]
    Closed,
}

/// Why an [`StorageError::EpochNotAdvanced`] epoch was refused, if joiners
/// were the reason.
fn joiners_note(with_joiners: bool) -> &'static str {
    if with_joiners {
        " while adding joiners (joiners need a new epoch)"
    } else {
        ""
    }
}
