use std::os::unix::fs::PermissionsExt;

use mimi_client::MlsStore;
use openmls::prelude::GroupEpoch;

use crate::harness::{Client, alice_and_bob};

#[tokio::test]
async fn a_client_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob, id) = alice_and_bob(dir.path()).await;

    let hello = alice.send("hello Bob");
    alice.flush().await;
    assert_eq!(bob.receive(&hello), "hello Bob");
    bob.flush().await;
    let hi = bob.send("hi Alice");
    bob.flush().await;
    assert_eq!(alice.receive(&hi), "hi Alice");
    assert!(alice.flush().await > 0);
    assert_eq!(alice.provider.store().pending(), 0);
    let epoch = alice.group().epoch();
    assert_eq!(epoch, GroupEpoch::from(1));

    // Everything in memory is gone; only the file and the signer remain.
    let path = alice.path.clone();
    let signer = alice.close().await;
    let mut alice = Client::open(&path, "alice", signer).await;
    assert!(alice.group.is_none());
    alice.load_group(&id);
    assert_eq!(alice.group().epoch(), epoch);

    let after = bob.send("still there?");
    bob.flush().await;
    assert_eq!(alice.receive(&after), "still there?");
    alice.flush().await;
    let reply = alice.send("yes, after a restart");
    alice.flush().await;
    assert_eq!(bob.receive(&reply), "yes, after a restart");
}

#[tokio::test]
async fn a_reloaded_store_holds_exactly_what_was_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, _bob, _id) = alice_and_bob(dir.path()).await;
    let in_memory = alice.provider.store().len();
    let reloaded = MlsStore::load(&alice.pool).await.unwrap();
    assert_eq!(reloaded.len(), in_memory);
    assert_eq!(reloaded.pending(), 0);
}

#[tokio::test]
async fn the_state_file_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, _bob, _id) = alice_and_bob(dir.path()).await;
    let mode = std::fs::metadata(&alice.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // SQLite gives its write-ahead log the database file's mode.
    let wal = alice.path.with_extension("db-wal");
    let mode = std::fs::metadata(&wal).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn an_existing_state_file_is_made_private_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pool = mimi_client::store::open_database(&path).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(MlsStore::load(&pool).await.unwrap().is_empty());
}
