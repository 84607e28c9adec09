//! Rotating the S2S signing key with an overlap (draft-kohbrok-mimi-transport
//! §5.1, docs/wire-spec.md §9): the next key is published before it signs,
//! a peer that cached only the old key follows by refetching, a restart keeps
//! keys and records, and bad records or a second pending rotation are refused
//! with what to do, changing nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use mimi_provider::signing_keys::{
    self, KeyRecord, KeyRecordError, RECORDS_FILE, now_s, read_records, rotate, write_records,
};
use mimi_provider::testing::{Backend, ProviderHandle, TestFederation, leaf_queue_id};
use mimi_provider::{SIGNING_KEY_FILE, StartError};
use mimi_transport::{CacheConfig, SignatureKeys};
use mimi_wire::{DeliverMessageRequest, RecipientStatus};

use crate::harness::both_backends;

const HOUR: Duration = Duration::from_secs(3600);

both_backends!(a_rotated_key_is_published_first_then_signs_and_peers_follow);

/// The keys `domain` serves at `/signature_key`, as bytes and decoded.
async fn served(fed: &TestFederation, domain: &str) -> (Vec<u8>, SignatureKeys) {
    let bytes = fed
        .get(domain, "/signature_key")
        .await
        .unwrap()
        .success()
        .unwrap();
    let keys = SignatureKeys::decode(&bytes).unwrap();
    (bytes, keys)
}

fn reload(handle: ProviderHandle) -> Result<signing_keys::InUse, KeyRecordError> {
    match handle {
        ProviderHandle::Sqlite(p) => p.reload_signing_keys(),
        ProviderHandle::Postgres(p) => p.reload_signing_keys(),
    }
}

fn ids(records: &[KeyRecord]) -> Vec<u32> {
    records.iter().map(|r| r.id).collect()
}

async fn a_rotated_key_is_published_first_then_signs_and_peers_follow(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            bob.upload_key_packages(1, false).await.unwrap();
            // a's first message to b: b fetches and caches a's only key.
            let first_contact = tokio::time::Instant::now();
            let claimed = a.claim_key_packages(bob.user_id(), 1).await.unwrap();
            let sealed = leaf_queue_id(claimed.key_packages()[0].key_package()).unwrap();
            let old_public = a.signature_public_key();
            let (_, before) = served(&fed, "a.example").await;
            assert_eq!(before.keys().len(), 1);

            // rotate-key with an hour's overlap: published now, signing later.
            let rotation = rotate(a.data_dir(), HOUR, now_s()).unwrap();
            assert_eq!(rotation.new.id, 2);
            assert_eq!(ids(&rotation.retiring), [1]);
            let in_use = reload(a.handle()).unwrap();
            assert_eq!((in_use.signing.id, ids(&in_use.published)), (1, vec![1, 2]));
            let (_, during) = served(&fed, "a.example").await;
            assert_eq!(during.keys().len(), 2);
            assert_eq!(during.keys()[0].public_key(), before.keys()[0].public_key());
            assert_eq!(during.keys()[0].not_after(), in_use.published[0].not_after);
            assert_eq!(
                a.signature_public_key(),
                old_public,
                "not signing with it yet"
            );

            // The switch time comes (moved to now in the record, as the clock
            // would bring it): a signs with key 2, and still publishes key 1.
            let mut records = read_records(a.data_dir()).unwrap().unwrap();
            records[1].signs_from = now_s();
            write_records(a.data_dir(), &records).unwrap();
            let in_use = reload(a.handle()).unwrap();
            assert_eq!((in_use.signing.id, ids(&in_use.published)), (2, vec![1, 2]));
            let (published, after) = served(&fed, "a.example").await;
            assert_eq!(after, during);
            assert_eq!(a.signature_public_key(), after.keys()[1].public_key());

            // b cached only key 1, and refetches a's keys at most once per
            // refetch interval since its first fetch: wait that out (a wait,
            // not a timing assertion), then b must refetch and accept.
            let interval = CacheConfig::default().min_refetch_interval_ms;
            tokio::time::sleep_until(first_contact + Duration::from_millis(interval + 1000)).await;
            let answer = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"new key".to_vec(), vec![sealed]),
                )
                .await
                .unwrap();
            assert_eq!(answer.statuses(), [RecipientStatus::Delivered]);
            assert_eq!(
                bob.fetch(1, 10).await.unwrap().messages()[0].message(),
                b"new key"
            );

            // A restart keeps keys and records.
            fed.restart().await.unwrap();
            assert_eq!(served(&fed, "a.example").await.0, published);
            assert_eq!(a.signature_public_key(), after.keys()[1].public_key());
            assert_eq!(read_records(a.data_dir()).unwrap().unwrap(), records);
            for file in [SIGNING_KEY_FILE, "signing-key-2.p8", RECORDS_FILE] {
                let mode = std::fs::metadata(a.data_dir().join(file))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{file}");
            }

            // Records damaged while it runs: the reload is refused and the
            // keys in use stay.
            std::fs::write(a.data_dir().join(RECORDS_FILE), "[[key]]\nid = \"one\"\n").unwrap();
            let e = reload(a.handle()).unwrap_err();
            assert!(matches!(e, KeyRecordError::Damaged { .. }), "{e}");
            assert_eq!(served(&fed, "a.example").await.0, published);
            assert_eq!(a.signature_public_key(), after.keys()[1].public_key());
        })
        .await;
}

/// A data directory holding key 1 as a provider from before the records made
/// it: only `signing-key.p8`.
fn legacy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let made = signing_keys::load_or_create(dir.path(), now_s()).unwrap();
    assert_eq!(made.signing().id, 1);
    std::fs::remove_file(dir.path().join(RECORDS_FILE)).unwrap();
    dir
}

/// Every file of `dir` with its bytes, to show that a refusal changed nothing.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_key_file_without_records_is_adopted_from_its_modification_time() {
    let dir = legacy_dir();
    let modified = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let keys = signing_keys::load(dir.path(), now_s()).unwrap();
    let record = keys.signing();
    assert_eq!(record.id, 1);
    assert_eq!(
        record.not_before,
        modified - 300,
        "valid as published before the records"
    );
    assert_eq!(
        record.not_after,
        record.not_before + signing_keys::KEY_VALIDITY.as_secs()
    );
    // The record is written once; later loads read it, not the file's time.
    assert_eq!(read_records(dir.path()).unwrap().unwrap(), [record]);
    let mode = std::fs::metadata(dir.path().join(RECORDS_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_rotation_while_one_is_pending_is_refused_and_changes_nothing() {
    let dir = legacy_dir();
    let now = now_s();
    let first = rotate(dir.path(), HOUR, now).unwrap();
    assert_eq!(first.new.signs_from, now + 3600);
    assert_eq!(first.retiring[0].not_after, now + 7200, "switch + overlap");
    let before = snapshot(dir.path());
    let e = rotate(dir.path(), HOUR, now + 60).unwrap_err();
    assert!(
        matches!(
            e,
            KeyRecordError::Pending {
                id: 2,
                in_secs: 3540,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("already pending"), "{e}");
    assert!(e.to_string().contains("rotate again after that"), "{e}");
    assert_eq!(snapshot(dir.path()), before);
    // After the switch, the next rotation is accepted.
    let second = rotate(dir.path(), Duration::ZERO, now + 3600).unwrap();
    assert_eq!(second.new.id, 3);
}

#[test]
fn expired_keys_are_not_published_and_are_dropped_at_the_next_rotation() {
    let dir = legacy_dir();
    let now = now_s();
    rotate(dir.path(), Duration::ZERO, now).unwrap();
    // With no overlap key 1 expires at once: one second later only key 2 is
    // published and signs.
    let keys = signing_keys::load(dir.path(), now + 1).unwrap();
    assert_eq!((keys.signing().id, ids(keys.published())), (2, vec![2]));
    let rotation = rotate(dir.path(), HOUR, now + 2).unwrap();
    assert_eq!(ids(&rotation.dropped), [1]);
    assert!(!dir.path().join(SIGNING_KEY_FILE).exists());
    assert_eq!(ids(&read_records(dir.path()).unwrap().unwrap()), [2, 3]);
}

#[test]
fn bad_records_and_states_are_refused_with_what_to_do() {
    // No key at all: rotate-key says to start the provider first.
    let empty = tempfile::tempdir().unwrap();
    let e = rotate(empty.path(), HOUR, now_s()).unwrap_err();
    assert!(e.to_string().contains("start the provider once"), "{e}");
    assert!(snapshot(empty.path()).is_empty());

    let dir = legacy_dir();
    signing_keys::load(dir.path(), now_s()).unwrap();
    let good = std::fs::read_to_string(dir.path().join(RECORDS_FILE)).unwrap();
    for (damage, says) in [
        ("not toml [", "not valid records"),
        ("", "no [[key]] record"),
        (
            "[[key]]\nid = 1\nnot_before = 10\nnot_after = 5\nsigns_from = 7\n",
            "does not hold",
        ),
        (
            "[[key]]\nid = 1\nnot_before = 1\nnot_after = 5\nsigns_from = 1\nstate = \"x\"\n",
            "unknown field",
        ),
        (&good.replace("id = 1", "id = 7"), "which is missing"),
    ] {
        std::fs::write(dir.path().join(RECORDS_FILE), damage).unwrap();
        let e = signing_keys::load(dir.path(), now_s()).unwrap_err();
        assert!(matches!(e, KeyRecordError::Damaged { .. }), "{damage}: {e}");
        assert!(e.to_string().contains(says), "{damage}: {e}");
        assert!(e.to_string().contains("restore the file"), "{e}");
        // Start refuses the same way.
        let start: StartError = e.into();
        assert!(start.to_string().contains(says), "{start}");
    }
    std::fs::write(dir.path().join(RECORDS_FILE), &good).unwrap();

    // A key file others may read is refused, with the fix.
    let key = dir.path().join(SIGNING_KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = signing_keys::load(dir.path(), now_s()).unwrap_err();
    assert!(e.to_string().contains("chmod 600"), "{e}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A key file left by an interrupted rotation is not overwritten.
    std::fs::write(dir.path().join("signing-key-2.p8"), b"left over").unwrap();
    let before = snapshot(dir.path());
    let e = rotate(dir.path(), HOUR, now_s()).unwrap_err();
    assert!(matches!(e, KeyRecordError::Orphan { .. }), "{e}");
    assert!(e.to_string().contains("delete it and rotate again"), "{e}");
    assert_eq!(snapshot(dir.path()), before);

    // All keys expired: start says to rotate with no overlap.
    let e = signing_keys::load(
        dir.path(),
        now_s() + 2 * signing_keys::KEY_VALIDITY.as_secs(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("rotate-key --config <file> --overlap 0"),
        "{e}"
    );

    // An overlap beyond the limit.
    let e = rotate(dir.path(), signing_keys::MAX_OVERLAP + HOUR, now_s()).unwrap_err();
    assert!(matches!(e, KeyRecordError::Overlap { .. }), "{e}");
    assert_eq!(snapshot(dir.path()), before);
}
