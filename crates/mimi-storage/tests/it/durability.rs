//! What is committed survives the handle that wrote it: a provider that
//! restarts (or another process on the same database) finds it all.

use mimi_storage::{
    ClientRecord, ClientStore, DeliverOutcome, EnqueueResult, EventRecord, KeyPackageStore,
    QueueStore, ReplayStore, StorageError,
};

use crate::harness::{Backend, both_backends};

const Q: [u8; 16] = [0x51; 16];
const SUITE: u16 = 1;

async fn committed_data_survives_reopening<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(Q).await.unwrap();
    s.enqueue(Q, b"m1").await.unwrap();
    s.enqueue(Q, b"m2").await.unwrap();
    s.ack(Q, 1).await.unwrap();
    s.upload("alice@a.example", "phone", b"r1", SUITE, b"kp1", false)
        .await
        .unwrap();
    s.upload("alice@a.example", "phone", b"r2", SUITE, b"kp2", true)
        .await
        .unwrap();
    assert!(s.remember("b.example", [9; 16], 5_000).await.unwrap());
    let client = ClientRecord {
        client_id: "mimi://a.example/d/alice/phone".into(),
        user_id: "mimi://a.example/u/alice".into(),
        handle: Some("alice".into()),
        signature_key: vec![1; 44],
        certificate_chain: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n".into(),
        queue_id: [0x52; 16],
        registered_at_ms: 1_000,
    };
    s.register_client(&client).await.unwrap();
    // Dropped, not closed: as when the process dies.
    drop(s);

    let s = backend.open().await;
    assert_eq!(s.fetch(Q, 0, 10).await.unwrap(), vec![(2, b"m2".to_vec())]);
    assert_eq!(
        s.enqueue(Q, b"m3").await.unwrap(),
        3,
        "the counter survived"
    );
    assert_eq!(s.count("alice@a.example", "phone", SUITE).await.unwrap(), 1);
    assert!(
        !s.remember("b.example", [9; 16], 5_000).await.unwrap(),
        "replay forgotten"
    );
    assert_eq!(
        s.client(&client.client_id).await.unwrap().as_ref(),
        Some(&client)
    );
    assert_eq!(
        s.user_by_handle("alice").await.unwrap().as_deref(),
        Some("mimi://a.example/u/alice")
    );
    assert_eq!(s.enqueue(client.queue_id, b"m").await.unwrap(), 1);
    // Opening again ran no migration twice.
    assert_eq!(backend.rows(&s, "schema_migrations").await, 7);
}

async fn a_delivery_committed_before_a_crash_is_a_replay_after_it<T: Backend>(backend: T) {
    // The provider crashed after committing a delivery but before answering
    // the sender, who retries: the messages are there once, and the retry
    // is recognised.
    let s = backend.open().await;
    s.create_queue(Q).await.unwrap();
    let event = EventRecord {
        sender: "hub.example",
        message_id: [3; 16],
        expires_at_ms: 5_000,
    };
    let batch: [([u8; 16], &[u8]); 1] = [(Q, b"fan-out")];
    assert_eq!(
        s.deliver(Some(event), &batch).await.unwrap(),
        DeliverOutcome::Done(vec![EnqueueResult::Enqueued(1)])
    );
    drop(s);

    let s = backend.open().await;
    assert_eq!(
        s.deliver(Some(event), &batch).await.unwrap(),
        DeliverOutcome::Replay
    );
    assert_eq!(
        s.fetch(Q, 0, 10).await.unwrap(),
        vec![(1, b"fan-out".to_vec())]
    );
}

async fn handles_opened_together_migrate_once<T: Backend>(backend: T) {
    // Processes starting at the same time on a fresh database.
    let mut opening = Vec::new();
    for _ in 0..4 {
        let backend = backend.clone();
        opening.push(tokio::spawn(async move { backend.open().await }));
    }
    let mut handles = Vec::new();
    for open in opening {
        handles.push(open.await.unwrap());
    }
    handles[0].create_queue(Q).await.unwrap();
    assert_eq!(handles[3].enqueue(Q, b"m").await.unwrap(), 1);
    assert_eq!(backend.rows(&handles[1], "schema_migrations").await, 7);
}

async fn a_schema_from_a_newer_build_is_refused<T: Backend>(backend: T) {
    let s = backend.open().await;
    backend
        .execute(
            &s,
            "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')",
        )
        .await;
    drop(s);
    let refused = match backend.try_open().await {
        Err(e) => e,
        Ok(_) => panic!("opened a database with a newer schema"),
    };
    assert!(
        matches!(
            refused,
            StorageError::SchemaTooNew {
                found: 999,
                known: 7
            }
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "the database has schema version 999, newer than the 7 this build knows: \
         run the newer mimi build or restore a backup"
    );
}

both_backends!(
    committed_data_survives_reopening,
    a_delivery_committed_before_a_crash_is_a_replay_after_it,
    handles_opened_together_migrate_once,
    a_schema_from_a_newer_build_is_refused,
);
