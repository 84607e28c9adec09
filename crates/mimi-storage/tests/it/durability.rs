//! What is committed survives the handle that wrote it: a provider that
//! restarts (or another process on the same database) finds it all.

use mimi_storage::{KeyPackageStore, QueueStore, ReplayStore, StorageError};

use crate::harness::{Backend, both_backends};

const Q: [u8; 16] = [0x51; 16];

async fn committed_data_survives_reopening<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(Q).await.unwrap();
    s.enqueue(Q, b"m1").await.unwrap();
    s.enqueue(Q, b"m2").await.unwrap();
    s.ack(Q, 1).await.unwrap();
    s.upload("alice@a.example", "phone", b"r1", b"kp1", false)
        .await
        .unwrap();
    s.upload("alice@a.example", "phone", b"r2", b"kp2", true)
        .await
        .unwrap();
    assert!(s.remember("b.example", [9; 16], 5_000).await.unwrap());
    // Dropped, not closed: as when the process dies.
    drop(s);

    let s = backend.open().await;
    assert_eq!(s.fetch(Q, 0, 10).await.unwrap(), vec![(2, b"m2".to_vec())]);
    assert_eq!(
        s.enqueue(Q, b"m3").await.unwrap(),
        3,
        "the counter survived"
    );
    assert_eq!(s.count("alice@a.example", "phone").await.unwrap(), 1);
    assert!(
        !s.remember("b.example", [9; 16], 5_000).await.unwrap(),
        "replay forgotten"
    );
    // Opening again ran no migration twice.
    assert_eq!(backend.rows(&s, "schema_migrations").await, 1);
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
    assert_eq!(backend.rows(&handles[1], "schema_migrations").await, 1);
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
                known: 1
            }
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "the database has schema version 999, newer than the 1 this build knows: \
         run the newer mimi build or restore a backup"
    );
}

both_backends!(
    committed_data_survives_reopening,
    handles_opened_together_migrate_once,
    a_schema_from_a_newer_build_is_refused,
);
