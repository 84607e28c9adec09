use mimi_client::store::{MAX_KEY_LEN, MAX_VALUE_LEN, open_database};
use mimi_client::{EntryError, MlsStore, StoreError};
use openmls_traits::storage::{CURRENT_VERSION, Entity, Key, StorageProvider, traits};
use serde::{Deserialize, Serialize};

/// Stand-ins for OpenMLS's KeyPackage and its reference, to store values
/// of a chosen size.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Blob(String);
impl Entity<CURRENT_VERSION> for Blob {}
impl traits::KeyPackage<CURRENT_VERSION> for Blob {}

/// Another stored type, to read a Blob as what it is not.
#[derive(Debug, Serialize, Deserialize)]
struct Number(u32);
impl Entity<CURRENT_VERSION> for Number {}
impl traits::KeyPackage<CURRENT_VERSION> for Number {}

#[derive(Debug, Serialize)]
struct Ref(u8);
impl Key<CURRENT_VERSION> for Ref {}
impl traits::HashReference<CURRENT_VERSION> for Ref {}

/// A string whose JSON encoding (two quotes more) is `len` bytes.
fn blob(len: usize) -> Blob {
    Blob("x".repeat(len - 2))
}

#[test]
fn a_value_above_the_bound_is_refused_and_nothing_changes() {
    let store = MlsStore::default();
    let err = store
        .write_key_package(&Ref(1), &blob(MAX_VALUE_LEN + 1))
        .unwrap_err();
    assert_eq!(
        err,
        EntryError::TooLarge {
            kind: "KeyPackage",
            len: MAX_VALUE_LEN + 1,
            max: MAX_VALUE_LEN,
        }
    );
    assert!(store.is_empty());
    assert_eq!(store.pending(), 0);
    let read: Option<Blob> = store.key_package(&Ref(1)).unwrap();
    assert!(read.is_none());
}

#[test]
fn a_value_at_the_bound_is_stored() {
    let store = MlsStore::default();
    store
        .write_key_package(&Ref(1), &blob(MAX_VALUE_LEN))
        .unwrap();
    let read: Option<Blob> = store.key_package(&Ref(1)).unwrap();
    assert_eq!(read, Some(blob(MAX_VALUE_LEN)));
    assert_eq!(store.pending(), 1);
}

#[tokio::test]
async fn a_file_with_an_oversized_row_is_refused_before_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let pool = open_database(&dir.path().join("client.db")).await.unwrap();
    sqlx::query("INSERT INTO mls_kv (key, value) VALUES (?, zeroblob(?))")
        .bind(b"k".as_slice())
        .bind((MAX_VALUE_LEN + 1) as i64)
        .execute(&pool)
        .await
        .unwrap();
    let err = MlsStore::load(&pool).await.unwrap_err();
    assert!(matches!(err, StoreError::Oversized { count: 1 }), "{err}");
}

#[test]
fn a_damaged_value_is_a_decode_error() {
    let store = MlsStore::default();
    store.write_key_package(&Ref(2), &blob(10)).unwrap();
    // The same key read as another type: what a damaged file looks like to
    // OpenMLS.
    let err = StorageProvider::<CURRENT_VERSION>::key_package::<Ref, Number>(&store, &Ref(2))
        .unwrap_err();
    assert!(
        matches!(
            err,
            EntryError::Decode {
                kind: "KeyPackage",
                ..
            }
        ),
        "{err}"
    );
}

#[derive(Debug, Serialize)]
struct LongRef(String);
impl Key<CURRENT_VERSION> for LongRef {}
impl traits::HashReference<CURRENT_VERSION> for LongRef {}

#[test]
fn a_key_above_the_bound_is_refused_and_nothing_changes() {
    let store = MlsStore::default();
    let key = LongRef("k".repeat(MAX_KEY_LEN));
    let err = store.write_key_package(&key, &blob(10)).unwrap_err();
    // Version (2), label "KeyPackage" (10), separator (1), quoted key.
    let len = 2 + 10 + 1 + MAX_KEY_LEN + 2;
    assert_eq!(
        err,
        EntryError::TooLarge {
            kind: "KeyPackage",
            len,
            max: MAX_KEY_LEN,
        }
    );
    assert!(store.is_empty());
    assert_eq!(store.pending(), 0);
}
