//! OpenMLS's state for one client, in memory, persisted as a write set.
//!
//! OpenMLS's `StorageProvider` is synchronous and our database access is not,
//! so [`MlsStore`] serves OpenMLS from a map it holds in memory and remembers,
//! for every key an operation changes, what the key held before (its
//! pre-image). After one MLS operation the client library either persists
//! what changed with [`MlsStore::flush`], in one SQLite transaction together
//! with whatever else that operation changes (a queue cursor, a received
//! message), so a crash leaves all of an operation or none of it; or, when the
//! operation failed or was refused, puts the map back with
//! [`MlsStore::discard`].
//!
//! Rows of `mls_kv`: the key is the storage version (big-endian `u16`), the
//! entity's label, a zero byte (labels hold none, so no key of one kind is a
//! prefix of another kind's) and the serde_json encoding of OpenMLS's key; the
//! value is the serde_json encoding of the entity, or of the list of entities
//! for the kinds OpenMLS appends to.

mod provider;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use openmls_traits::storage::CURRENT_VERSION;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr, Sqlite, Transaction};

/// The largest value stored under one key. OpenMLS's largest entity is a
/// group's ratchet tree, far below this even for thousands of members; the
/// bound keeps a hostile group (or a damaged file) from filling memory.
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;

/// The largest storage key. Keys are serialized group IDs, public keys and
/// hash references, so a few hundred bytes in practice.
pub const MAX_KEY_LEN: usize = 64 * 1024;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The kinds of entity OpenMLS stores. Each is a distinct label in the
/// storage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    JoinConfig,
    OwnLeafNodes,
    QueuedProposal,
    ProposalQueueRefs,
    Tree,
    InterimTranscriptHash,
    GroupContext,
    ConfirmationTag,
    GroupState,
    MessageSecrets,
    ResumptionPskStore,
    OwnLeafIndex,
    EpochSecrets,
    SignatureKeyPair,
    EncryptionKeyPair,
    EpochKeyPairs,
    KeyPackage,
    Psk,
}

impl Label {
    /// The label's name, in storage keys and error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Label::JoinConfig => "MlsGroupJoinConfig",
            Label::OwnLeafNodes => "OwnLeafNodes",
            Label::QueuedProposal => "QueuedProposal",
            Label::ProposalQueueRefs => "ProposalQueueRefs",
            Label::Tree => "Tree",
            Label::InterimTranscriptHash => "InterimTranscriptHash",
            Label::GroupContext => "GroupContext",
            Label::ConfirmationTag => "ConfirmationTag",
            Label::GroupState => "GroupState",
            Label::MessageSecrets => "MessageSecrets",
            Label::ResumptionPskStore => "ResumptionPskStore",
            Label::OwnLeafIndex => "OwnLeafIndex",
            Label::EpochSecrets => "EpochSecrets",
            Label::SignatureKeyPair => "SignatureKeyPair",
            Label::EncryptionKeyPair => "EncryptionKeyPair",
            Label::EpochKeyPairs => "EpochKeyPairs",
            Label::KeyPackage => "KeyPackage",
            Label::Psk => "Psk",
        }
    }
}

/// Why OpenMLS could not read or write an entry (the `StorageProvider`
/// error: OpenMLS wraps it in its own errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error(
        "a {kind} of {len} bytes is larger than the {max} bytes the client stores under one key; \
         the group or object is too large for this client"
    )]
    TooLarge {
        kind: &'static str,
        len: usize,
        max: usize,
    },
    #[error("encoding a {kind} for storage failed: {reason} (a bug: please report it)")]
    Encode { kind: &'static str, reason: String },
    #[error(
        "the stored {kind} cannot be decoded: {reason}; the client's state file is damaged or \
         was written by an incompatible version: restore it from a backup"
    )]
    Decode { kind: &'static str, reason: String },
    #[error(
        "a {kind} listed in the client's state is missing; the state file is damaged: restore \
         it from a backup"
    )]
    Missing { kind: &'static str },
}

/// Why the client's state file could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot make the client state file {path} private (mode 0600): {source}; check that the directory is the client's own"
    )]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the client state database failed: {0}; check that the file is readable, writable and not full"
    )]
    Database(#[from] sqlx::Error),
    #[error(
        "bringing the client state database up to date failed: {0}; it may have been written by a newer version of this client"
    )]
    Migrate(#[from] MigrateError),
    #[error(
        "the client state file holds {count} MLS entries above the size bounds ({MAX_KEY_LEN} bytes \
         per key, {MAX_VALUE_LEN} per value); it is damaged or not this client's: restore it from a backup"
    )]
    Oversized { count: i64 },
}

/// The map OpenMLS reads and writes, and what each changed key held at the
/// last flush (`None`: it was absent).
#[derive(Debug, Default)]
struct State {
    values: HashMap<Vec<u8>, Vec<u8>>,
    pre_images: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl State {
    fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let old = match value {
            Some(value) => self.values.insert(key.clone(), value),
            None => self.values.remove(&key),
        };
        // Only the first change since the flush matters: that is what the
        // file still holds.
        self.pre_images.entry(key).or_insert(old);
    }
}

/// OpenMLS's storage for one client: see the module documentation.
///
/// One MLS operation at a time: run it, then [`flush`](Self::flush) or
/// [`discard`](Self::discard) before the next.
#[derive(Debug, Default)]
pub struct MlsStore {
    state: Mutex<State>,
}

/// Opens (creating it if missing) the client's SQLite state file, private to
/// its owner (0600), and brings its schema up to date.
pub async fn open_database(path: &Path) -> Result<SqlitePool, StoreError> {
    make_private(path).await?;
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: once a flush returns, the operation survives power loss,
        // so the client may acknowledge the message that caused it.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT);
    // One connection: a client is one writer, and its operations are serial.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    migrator().run(&pool).await?;
    Ok(pool)
}

/// Creates the file 0600 before SQLite does (SQLite would use the umask), and
/// tightens an existing one; SQLite gives its WAL and shared-memory files the
/// database file's mode.
async fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |source| StoreError::Permissions {
        path: path.to_owned(),
        source,
    };
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(failed)?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .await
        .map_err(failed)
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "mls_kv".into(),
        MigrationType::Simple,
        include_str!("../migrations/0001_mls_kv.sql").into_sql_str(),
        false,
    )])
}

impl MlsStore {
    /// Reads every stored entry of `pool` (opened with [`open_database`]).
    /// Refuses a file with an entry above the size bounds before reading it.
    pub async fn load(pool: &SqlitePool) -> Result<MlsStore, StoreError> {
        let oversized: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mls_kv WHERE length(key) > ? OR length(value) > ?",
        )
        .bind(MAX_KEY_LEN as i64)
        .bind(MAX_VALUE_LEN as i64)
        .fetch_one(pool)
        .await?;
        if oversized > 0 {
            return Err(StoreError::Oversized { count: oversized });
        }
        let rows = sqlx::query("SELECT key, value FROM mls_kv")
            .fetch_all(pool)
            .await?;
        let mut values = HashMap::with_capacity(rows.len());
        for row in rows {
            values.insert(row.try_get("key")?, row.try_get("value")?);
        }
        Ok(MlsStore {
            state: Mutex::new(State {
                values,
                pre_images: HashMap::new(),
            }),
        })
    }

    /// Writes every change since the last flush into `tx`, after whatever
    /// the caller already wrote there, and commits it. Only once the commit
    /// succeeded are the changes taken as persisted: if anything fails, the
    /// transaction rolls back, the changes stay pending, and the caller
    /// retries or [`discard`](Self::discard)s them. Returns how many keys
    /// were written or deleted.
    pub async fn flush(&self, mut tx: Transaction<'_, Sqlite>) -> Result<usize, StoreError> {
        let writes = self.pending_writes();
        for (key, value) in &writes {
            match value {
                Some(value) => {
                    sqlx::query(
                        "INSERT INTO mls_kv (key, value) VALUES (?, ?) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(key)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM mls_kv WHERE key = ?")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        self.mark_persisted(&writes);
        Ok(writes.len())
    }

    /// Puts every key changed since the last flush back to what it held
    /// then: after an MLS operation that failed or was refused.
    pub fn discard(&self) {
        let mut state = self.state();
        let pre_images = std::mem::take(&mut state.pre_images);
        for (key, old) in pre_images {
            match old {
                Some(old) => state.values.insert(key, old),
                None => state.values.remove(&key),
            };
        }
    }

    /// How many keys changed since the last flush.
    pub fn pending(&self) -> usize {
        self.state().pre_images.len()
    }

    /// How many entries the store holds.
    pub fn len(&self) -> usize {
        self.state().values.len()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, and every change is
        // complete when it is made, so a poisoned map is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending_writes(&self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let state = self.state();
        state
            .pre_images
            .keys()
            .map(|key| (key.clone(), state.values.get(key).cloned()))
            .collect()
    }

    /// The file now holds `writes`: a key that has not changed since is no
    /// longer pending; one that has, now differs from what was written.
    fn mark_persisted(&self, writes: &[(Vec<u8>, Option<Vec<u8>>)]) {
        let mut state = self.state();
        for (key, written) in writes {
            if state.values.get(key) == written.as_ref() {
                state.pre_images.remove(key);
            } else {
                state.pre_images.insert(key.clone(), written.clone());
            }
        }
    }

    fn write<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        label: Label,
        key: &K,
        value: &V,
    ) -> Result<(), EntryError> {
        let key = storage_key(label, key)?;
        let value = encode(label, value)?;
        self.state().set(key, Some(value));
        Ok(())
    }

    fn read<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        label: Label,
        key: &K,
    ) -> Result<Option<V>, EntryError> {
        let key = storage_key(label, key)?;
        self.state()
            .values
            .get(&key)
            .map(|bytes| decode(label, bytes))
            .transpose()
    }

    fn delete<K: Serialize + ?Sized>(&self, label: Label, key: &K) -> Result<(), EntryError> {
        let key = storage_key(label, key)?;
        let mut state = self.state();
        if state.values.contains_key(&key) {
            state.set(key, None);
        }
        Ok(())
    }

    fn read_list<K: Serialize + ?Sized, V: DeserializeOwned>(
        &self,
        label: Label,
        key: &K,
    ) -> Result<Vec<V>, EntryError> {
        Ok(self.read(label, key)?.unwrap_or_default())
    }

    /// Appends `item` to the list under `key`. Items are kept as JSON values
    /// so that lists can be changed without knowing OpenMLS's item type.
    fn append<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        label: Label,
        key: &K,
        item: &V,
    ) -> Result<(), EntryError> {
        let mut list: Vec<serde_json::Value> = self.read_list(label, key)?;
        list.push(to_json_value(label, item)?);
        self.write(label, key, &list)
    }

    /// Removes the first occurrence of `item` from the list under `key`.
    fn remove_from_list<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &self,
        label: Label,
        key: &K,
        item: &V,
    ) -> Result<(), EntryError> {
        let mut list: Vec<serde_json::Value> = self.read_list(label, key)?;
        let item = to_json_value(label, item)?;
        if let Some(position) = list.iter().position(|stored| *stored == item) {
            list.remove(position);
            if list.is_empty() {
                return self.delete(label, key);
            }
            return self.write(label, key, &list);
        }
        Ok(())
    }
}

fn storage_key<K: Serialize + ?Sized>(label: Label, key: &K) -> Result<Vec<u8>, EntryError> {
    let name = label.name().as_bytes();
    let mut out = Vec::with_capacity(2 + name.len() + 1 + 32);
    out.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
    out.extend_from_slice(name);
    out.push(0);
    serde_json::to_writer(&mut out, key).map_err(|e| encode_error(label, e))?;
    bounded(label, out, MAX_KEY_LEN)
}

fn encode<V: Serialize + ?Sized>(label: Label, value: &V) -> Result<Vec<u8>, EntryError> {
    let bytes = serde_json::to_vec(value).map_err(|e| encode_error(label, e))?;
    bounded(label, bytes, MAX_VALUE_LEN)
}

fn decode<V: DeserializeOwned>(label: Label, bytes: &[u8]) -> Result<V, EntryError> {
    serde_json::from_slice(bytes).map_err(|e| EntryError::Decode {
        kind: label.name(),
        reason: e.to_string(),
    })
}

fn to_json_value<V: Serialize + ?Sized>(
    label: Label,
    value: &V,
) -> Result<serde_json::Value, EntryError> {
    serde_json::to_value(value).map_err(|e| encode_error(label, e))
}

fn encode_error(label: Label, e: serde_json::Error) -> EntryError {
    EntryError::Encode {
        kind: label.name(),
        reason: e.to_string(),
    }
}

fn bounded(label: Label, bytes: Vec<u8>, max: usize) -> Result<Vec<u8>, EntryError> {
    if bytes.len() > max {
        return Err(EntryError::TooLarge {
            kind: label.name(),
            len: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}
