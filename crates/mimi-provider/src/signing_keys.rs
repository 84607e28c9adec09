//! The provider's S2S signing keys and their published validity, kept in
//! records that do not depend on file times, so that a rotation can overlap
//! (draft-kohbrok-mimi-transport §2.1 and §5.1; docs/wire-spec.md §9: add the
//! next key before signing with it, remove the old one only once its
//! `not_after` has passed).
//!
//! Layout in the data directory:
//!
//! - `signing-key.p8` is key 1, `signing-key-<n>.p8` key `n` (PKCS#8
//!   Ed25519, 0600, never overwritten);
//! - `signing-keys.toml` (0600, replaced atomically) holds one `[[key]]`
//!   record per key: `id`, `not_before` and `not_after` (the published
//!   validity, Unix seconds, inclusive) and `signs_from` (when it becomes the
//!   signing key). A key's state follows from the times: pending before
//!   `signs_from`, published until `not_after`, expired after.
//!
//! The provider publishes every key not past its `not_after` and signs with
//! the newest key whose `signs_from` has come; it re-reads the records every
//! [`RELOAD_INTERVAL`]. A data directory from before the records holds only
//! `signing-key.p8`: it is adopted with the validity it was published with
//! (from the file's modification time), so peers see the same record.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::{Arc, RwLock};

use mimi_transport::{MAX_KEYS, SignatureKeys};
use mimi_wire::SigningKey;
use serde::{Deserialize, Serialize};

use crate::error::StartError;
use crate::secret_file;

/// The records of the signing keys, in the data directory.
pub const RECORDS_FILE: &str = "signing-keys.toml";

/// The file of key 1; also the only key file before the records existed.
pub const FIRST_KEY_FILE: &str = "signing-key.p8";

/// How long a new key is published (from its creation).
pub const KEY_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// The overlap `rotate-key` uses when none is given.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The longest overlap accepted: the old key must expire well within the new
/// key's validity.
pub const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// How often a running provider re-reads the records.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// A key's record is published valid this long before it was made, so that
/// peers whose clocks run a little behind ours accept it.
const CLOCK_SKEW_S: u64 = 300;

/// Largest records file read; a year of daily rotations fits many times.
const MAX_RECORDS_LEN: u64 = 64 * 1024;

/// Most records in the file (expired ones are dropped at each rotation).
const MAX_RECORDS: usize = 256;

/// One signing key's record (`[[key]]` in [`RECORDS_FILE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// 1, 2, …: key 1 is `signing-key.p8`, key `n` `signing-key-<n>.p8`.
    pub id: u32,
    /// Published valid from (Unix seconds, inclusive).
    pub not_before: u64,
    /// Published valid until (Unix seconds, inclusive); not published after.
    pub not_after: u64,
    /// When it becomes the signing key (Unix seconds).
    pub signs_from: u64,
}

impl KeyRecord {
    /// The key file's name in the data directory.
    pub fn file_name(&self) -> String {
        key_file_name(self.id)
    }
}

fn key_file_name(id: u32) -> String {
    if id == 1 {
        FIRST_KEY_FILE.to_string()
    } else {
        format!("signing-key-{id}.p8")
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsFile {
    #[serde(rename = "key", default)]
    keys: Vec<KeyRecord>,
}

/// Why the signing keys cannot be loaded or rotated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRecordError {
    #[error(
        "the signing key records {} are damaged: {detail}; restore the file (and the signing-key*.p8 files it names) from a backup; if the keys are lost, move the records file and every signing-key*.p8 aside and start the provider, which makes a new key (peers learn it on their next fetch)",
        path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "signing key {id} ({file}) is already pending: it becomes the signing key at Unix time {signs_from}, in {in_secs} s; rotate again after that"
    )]
    Pending {
        id: u32,
        file: String,
        signs_from: u64,
        in_secs: u64,
    },
    #[error(
        "no signing key in {}: start the provider once (it creates one), then rotate",
        dir.display()
    )]
    NoKey { dir: PathBuf },
    #[error(
        "no signing key in {} may sign now: {detail}; run `mimi-server provider rotate-key --config <file> --overlap 0` to make one",
        path.display()
    )]
    NoSigningKey { path: PathBuf, detail: String },
    #[error(
        "{} exists, but no record in {RECORDS_FILE} names it (an interrupted rotate-key?); delete it and rotate again",
        path.display()
    )]
    Orphan { path: PathBuf },
    #[error(
        "an overlap of {secs} s is longer than the {} s allowed; choose a shorter one",
        MAX_OVERLAP.as_secs()
    )]
    Overlap { secs: u64 },
    #[error(transparent)]
    File(#[from] StartError),
}

impl From<KeyRecordError> for StartError {
    fn from(e: KeyRecordError) -> StartError {
        match e {
            KeyRecordError::File(e) => e,
            other => StartError::Key(other.to_string()),
        }
    }
}

/// The keys as they stand at one moment: the one to sign with and the list
/// to publish.
#[derive(Debug)]
pub struct KeySet {
    signing: KeyRecord,
    signer: SigningKey,
    published: Vec<KeyRecord>,
    served: SignatureKeys,
}

impl KeySet {
    /// The record of the key to sign with.
    pub fn signing(&self) -> KeyRecord {
        self.signing
    }

    /// The records published at `/signature_key`, oldest first.
    pub fn published(&self) -> &[KeyRecord] {
        &self.published
    }

    /// The signing key's raw public key.
    pub fn signing_public_key(&self) -> &[u8] {
        self.signer.public_key()
    }

    /// The records in use, without the secret key.
    pub fn in_use(&self) -> InUse {
        InUse {
            signing: self.signing,
            published: self.published.clone(),
        }
    }

    pub(crate) fn into_parts(self) -> (KeyRecord, SigningKey, SignatureKeys) {
        (self.signing, self.signer, self.served)
    }
}

/// Which keys a provider uses at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InUse {
    /// The key it signs with.
    pub signing: KeyRecord,
    /// The keys `/signature_key` publishes, oldest first.
    pub published: Vec<KeyRecord>,
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new key's record.
    pub new: KeyRecord,
    /// Its file.
    pub file: PathBuf,
    /// The records whose `not_after` was brought forward to the switch plus
    /// the overlap.
    pub retiring: Vec<KeyRecord>,
    /// Records dropped because they had expired (their key files deleted).
    pub dropped: Vec<KeyRecord>,
}

/// Now, in Unix seconds.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The keys at `now_s`, creating key 1 if the directory has none.
pub fn load_or_create(data_dir: &Path, now_s: u64) -> Result<KeySet, KeyRecordError> {
    let records = records_or_adopt(data_dir, true)?;
    key_set(data_dir, &records, now_s)
}

/// The keys at `now_s` (a lone `signing-key.p8` is adopted); an error if
/// there is none.
pub fn load(data_dir: &Path, now_s: u64) -> Result<KeySet, KeyRecordError> {
    let records = records_or_adopt(data_dir, false)?;
    key_set(data_dir, &records, now_s)
}

/// Creates the next key, published from `now_s` and signing from `now_s +
/// overlap`; the keys published so far stay published until the switch plus
/// `overlap`. Refused while a key is pending. Records that expired before
/// `now_s` are dropped and their key files deleted.
pub fn rotate(data_dir: &Path, overlap: Duration, now_s: u64) -> Result<Rotation, KeyRecordError> {
    if overlap > MAX_OVERLAP {
        return Err(KeyRecordError::Overlap {
            secs: overlap.as_secs(),
        });
    }
    let records = records_or_adopt(data_dir, false)?;
    if let Some(pending) = records.iter().find(|r| r.signs_from > now_s) {
        return Err(KeyRecordError::Pending {
            id: pending.id,
            file: pending.file_name(),
            signs_from: pending.signs_from,
            in_secs: pending.signs_from - now_s,
        });
    }
    let id = records
        .iter()
        .map(|r| r.id)
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    let file = data_dir.join(key_file_name(id));
    if std::fs::symlink_metadata(&file).is_ok() {
        return Err(KeyRecordError::Orphan { path: file });
    }
    let switch = now_s.saturating_add(overlap.as_secs());
    let retire_at = switch.saturating_add(overlap.as_secs());
    let (dropped, kept): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.not_after < now_s);
    let mut retiring = Vec::new();
    let mut next: Vec<KeyRecord> = kept
        .into_iter()
        .map(|mut r| {
            if r.not_after > retire_at {
                r.not_after = retire_at;
                retiring.push(r);
            }
            r
        })
        .collect();
    let new = KeyRecord {
        id,
        not_before: now_s.saturating_sub(CLOCK_SKEW_S),
        not_after: now_s.saturating_add(KEY_VALIDITY.as_secs()),
        signs_from: switch,
    };
    next.push(new);
    let pkcs8 = SigningKey::generate_pkcs8().map_err(|e| StartError::Key(e.to_string()))?;
    secret_file::create(&file, &pkcs8)?;
    write_records(data_dir, &next)?;
    for old in &dropped {
        // An expired key is refused by every peer; keeping it only keeps
        // secret material at rest.
        let _ = std::fs::remove_file(data_dir.join(old.file_name()));
    }
    Ok(Rotation {
        new,
        file,
        retiring,
        dropped,
    })
}

/// The records of `data_dir`, checked; `None` if there is no records file.
pub fn read_records(data_dir: &Path) -> Result<Option<Vec<KeyRecord>>, KeyRecordError> {
    let path = data_dir.join(RECORDS_FILE);
    let damaged = |detail: String| KeyRecordError::Damaged {
        path: path.clone(),
        detail,
    };
    let len = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(damaged(format!("cannot read it: {e}"))),
    };
    if len > MAX_RECORDS_LEN {
        return Err(damaged(format!(
            "it is {len} bytes, more than the {MAX_RECORDS_LEN} accepted"
        )));
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| damaged(format!("cannot read it: {e}")))?;
    let file: RecordsFile =
        toml::from_str(&text).map_err(|e| damaged(format!("not valid records: {e}")))?;
    check_records(&file.keys).map_err(damaged)?;
    Ok(Some(file.keys))
}

/// Checks `records` and replaces the records file with them atomically
/// (a temporary file, 0600, synced, then renamed).
pub fn write_records(data_dir: &Path, records: &[KeyRecord]) -> Result<(), KeyRecordError> {
    let path = data_dir.join(RECORDS_FILE);
    check_records(records).map_err(|detail| KeyRecordError::Damaged {
        path: path.clone(),
        detail: format!("refusing to write them: {detail}"),
    })?;
    let text = toml::to_string(&RecordsFile {
        keys: records.to_vec(),
    })
    .map_err(|e| StartError::Key(format!("cannot encode the key records: {e}")))?;
    let text = format!(
        "# S2S signing keys of this provider: published from not_before to not_after,\n\
         # signing from signs_from (Unix seconds). Written by the provider and by\n\
         # `mimi-server provider rotate-key`; see crates/mimi-provider/README.md.\n{text}"
    );
    let tmp = data_dir.join(format!("{RECORDS_FILE}.tmp"));
    // A leftover from an interrupted write holds nothing the records lack.
    let _ = std::fs::remove_file(&tmp);
    secret_file::create(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, &path).map_err(|e| StartError::File {
        what: "cannot replace",
        path: path.clone(),
        detail: e.to_string(),
    })?;
    // The rename is durable once the directory is synced.
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// What every records file must satisfy; the error says which rule broke.
fn check_records(records: &[KeyRecord]) -> Result<(), String> {
    if records.is_empty() {
        return Err("it holds no [[key]] record".into());
    }
    if records.len() > MAX_RECORDS {
        return Err(format!(
            "it holds {} records, more than the {MAX_RECORDS} accepted",
            records.len()
        ));
    }
    let mut previous: Option<&KeyRecord> = None;
    for r in records {
        if r.id == 0 {
            return Err("key id 0: ids start at 1".into());
        }
        if !(r.not_before <= r.signs_from && r.signs_from <= r.not_after) {
            return Err(format!(
                "key {}: not_before ≤ signs_from ≤ not_after does not hold ({} / {} / {})",
                r.id, r.not_before, r.signs_from, r.not_after
            ));
        }
        if let Some(p) = previous {
            if r.id <= p.id {
                return Err(format!(
                    "key {} follows key {}: ids must increase",
                    r.id, p.id
                ));
            }
            if r.signs_from < p.signs_from {
                return Err(format!(
                    "key {} signs from before key {}: a newer key must sign later",
                    r.id, p.id
                ));
            }
        }
        previous = Some(r);
    }
    Ok(())
}

/// The records, adopting a lone `signing-key.p8` (and creating it first if
/// `create` and there is none).
fn records_or_adopt(data_dir: &Path, create: bool) -> Result<Vec<KeyRecord>, KeyRecordError> {
    if let Some(records) = read_records(data_dir)? {
        return Ok(records);
    }
    let first = data_dir.join(FIRST_KEY_FILE);
    match std::fs::symlink_metadata(&first) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let pkcs8 = SigningKey::generate_pkcs8().map_err(|e| StartError::Key(e.to_string()))?;
            secret_file::create(&first, &pkcs8)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyRecordError::NoKey {
                dir: data_dir.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(StartError::File {
                what: "cannot read key file",
                path: first,
                detail: e.to_string(),
            }
            .into());
        }
    }
    let records = vec![adopted(&first)?];
    write_records(data_dir, &records)?;
    Ok(records)
}

/// Key 1's record from its file's modification time: the validity it was
/// published with before the records existed (a new key is made the same
/// way, so copies of the file made with `cp -p` publish the same record).
fn adopted(path: &Path) -> Result<KeyRecord, KeyRecordError> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| StartError::File {
            what: "cannot read the modification time of",
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let not_before = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .saturating_sub(CLOCK_SKEW_S);
    Ok(KeyRecord {
        id: 1,
        not_before,
        not_after: not_before.saturating_add(KEY_VALIDITY.as_secs()),
        signs_from: not_before,
    })
}

/// Which keys sign and are published at `now_s`, with the keys read.
fn key_set(data_dir: &Path, records: &[KeyRecord], now_s: u64) -> Result<KeySet, KeyRecordError> {
    let live: Vec<KeyRecord> = records
        .iter()
        .filter(|r| now_s <= r.not_after)
        .copied()
        .collect();
    let signing = live
        .iter()
        .rev()
        .find(|r| r.signs_from <= now_s)
        .copied()
        .ok_or_else(|| KeyRecordError::NoSigningKey {
            path: data_dir.join(RECORDS_FILE),
            detail: match records.last() {
                Some(r) if r.not_after < now_s => {
                    format!(
                        "the newest, key {}, expired at Unix time {}",
                        r.id, r.not_after
                    )
                }
                _ => format!("none is valid at Unix time {now_s}"),
            },
        })?;
    // At most one key is pending (rotate refuses a second), so the signing
    // key is among the newest MAX_KEYS.
    let published: Vec<KeyRecord> = live[live.len().saturating_sub(MAX_KEYS)..].to_vec();
    let mut served = Vec::new();
    let mut signer = None;
    for r in &published {
        let key = read_key(data_dir, r)?;
        served.push(key.verification_key(r.not_before, r.not_after));
        if r.id == signing.id {
            signer = Some(key);
        }
    }
    let damaged = |detail: &str| KeyRecordError::Damaged {
        path: data_dir.join(RECORDS_FILE),
        detail: detail.to_string(),
    };
    let signer = signer.ok_or_else(|| damaged("the signing key is not among the published"))?;
    let served = SignatureKeys::new(served).ok_or_else(|| damaged("no key to publish"))?;
    Ok(KeySet {
        signing,
        signer,
        published,
        served,
    })
}

fn read_key(data_dir: &Path, record: &KeyRecord) -> Result<SigningKey, KeyRecordError> {
    let path = data_dir.join(record.file_name());
    if std::fs::symlink_metadata(&path).is_err() {
        return Err(KeyRecordError::Damaged {
            path: data_dir.join(RECORDS_FILE),
            detail: format!(
                "key {} names {}, which is missing",
                record.id,
                path.display()
            ),
        });
    }
    let pkcs8 = secret_file::load(&path)?;
    SigningKey::from_pkcs8(&pkcs8).map_err(|e| KeyRecordError::Damaged {
        path: data_dir.join(RECORDS_FILE),
        detail: format!(
            "key {}: {} is not a PKCS#8 Ed25519 key: {e}",
            record.id,
            path.display()
        ),
    })
}

/// The key the provider signs with now: swapped by a reload while requests
/// that already took it finish signing with it.
#[derive(Debug)]
pub(crate) struct ActiveKey {
    current: RwLock<(u32, Arc<SigningKey>)>,
}

impl ActiveKey {
    pub(crate) fn new(id: u32, key: SigningKey) -> ActiveKey {
        ActiveKey {
            current: RwLock::new((id, Arc::new(key))),
        }
    }

    /// The key to sign with now.
    pub(crate) fn current(&self) -> Arc<SigningKey> {
        // A poisoned lock only means a writer panicked mid-assignment of a
        // whole value; the value itself is intact.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    /// Its record's id.
    pub(crate) fn id(&self) -> u32 {
        self.current.read().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The raw public key of the key signing now (for the test kit).
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    pub(crate) fn public_key(&self) -> Vec<u8> {
        self.current().public_key().to_vec()
    }

    pub(crate) fn set(&self, id: u32, key: SigningKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (id, Arc::new(key));
    }
}
