use mimi_client::{MlsStore, StoreError};
use openmls::prelude::{GroupEpoch, LeafNodeParameters};

use crate::harness::alice_and_bob;

#[tokio::test]
async fn discard_after_an_abandoned_commit_restores_the_old_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, id) = alice_and_bob(dir.path()).await;
    let before = alice.provider.store().len();

    // A commit the hub refused, say: OpenMLS stored it as pending.
    let provider = &alice.provider;
    let signer = alice.signer.clone();
    alice
        .group
        .as_mut()
        .unwrap()
        .self_update(provider, &signer, LeafNodeParameters::default())
        .unwrap();
    assert!(alice.provider.store().pending() > 0);

    alice.provider.store().discard();
    assert_eq!(alice.provider.store().pending(), 0);
    assert_eq!(alice.provider.store().len(), before);
    alice.load_group(&id);
    assert_eq!(alice.group().epoch(), GroupEpoch::from(1));
    assert!(alice.group().pending_commit().is_none());
    assert_eq!(alice.flush().await, 0);

    // The group still works at the old epoch.
    let message = bob.send("after the refused commit");
    bob.flush().await;
    assert_eq!(alice.receive(&message), "after the refused commit");
}

#[tokio::test]
async fn discard_keeps_what_was_flushed_before() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, id) = alice_and_bob(dir.path()).await;
    let first = bob.send("one");
    assert_eq!(alice.receive(&first), "one");
    alice.flush().await;
    let flushed = MlsStore::load(&alice.pool).await.unwrap();

    let second = bob.send("two");
    assert_eq!(alice.receive(&second), "two");
    alice.provider.store().discard();

    // Alice is back to just after "one": the reloaded file agrees, and "two"
    // (its key already used in the discarded state) can be decrypted again.
    assert_eq!(alice.provider.store().len(), flushed.len());
    alice.load_group(&id);
    assert_eq!(alice.receive(&second), "two");
}

#[tokio::test]
async fn a_failed_flush_persists_nothing_and_keeps_the_changes_pending() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, _id) = alice_and_bob(dir.path()).await;
    let message = bob.send("hello");
    assert_eq!(alice.receive(&message), "hello");
    let pending = alice.provider.store().pending();
    assert!(pending > 0);
    let rows_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mls_kv")
        .fetch_one(&alice.pool)
        .await
        .unwrap();

    // Something the caller wrote in the same transaction breaks it.
    let mut tx = alice.pool.begin().await.unwrap();
    sqlx::query("DROP TABLE mls_kv")
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = alice.provider.store().flush(tx).await.unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");

    assert_eq!(alice.provider.store().pending(), pending);
    let rows_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mls_kv")
        .fetch_one(&alice.pool)
        .await
        .unwrap();
    assert_eq!(rows_after, rows_before);
    // A retry persists the operation.
    assert_eq!(alice.flush().await, pending);
    assert_eq!(alice.provider.store().pending(), 0);
}

#[tokio::test]
async fn flush_commits_the_callers_writes_with_the_mls_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, _id) = alice_and_bob(dir.path()).await;
    sqlx::query("CREATE TABLE cursor (seq INTEGER NOT NULL)")
        .execute(&alice.pool)
        .await
        .unwrap();
    let message = bob.send("hello");
    assert_eq!(alice.receive(&message), "hello");

    let mut tx = alice.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO cursor (seq) VALUES (7)")
        .execute(&mut *tx)
        .await
        .unwrap();
    alice.provider.store().flush(tx).await.unwrap();

    let seq: i64 = sqlx::query_scalar("SELECT seq FROM cursor")
        .fetch_one(&alice.pool)
        .await
        .unwrap();
    assert_eq!(seq, 7);
    assert_eq!(alice.provider.store().pending(), 0);
}
