//! ReplayStore: an event is new once, replays are recognised, expired
//! entries are purged, and concurrent deliveries of one event admit one.

use mimi_storage::{ReplayStore, StorageError};

use crate::harness::{Backend, both_backends};

const ID: [u8; 16] = [0x42; 16];

async fn an_event_is_new_once_and_a_replay_after<T: Backend>(backend: T) {
    let s = backend.open().await;
    assert!(s.remember("a.example", ID, 1_000).await.unwrap());
    assert!(!s.remember("a.example", ID, 1_000).await.unwrap());
    // A later expiry does not make a replay new.
    assert!(!s.remember("a.example", ID, 9_000).await.unwrap());
    // The key is sender and ID together.
    assert!(s.remember("b.example", ID, 1_000).await.unwrap());
    assert!(s.remember("a.example", [0x43; 16], 1_000).await.unwrap());
    assert_eq!(backend.rows(&s, "replay_seen").await, 3);
}

async fn expired_entries_are_purged<T: Backend>(backend: T) {
    let s = backend.open().await;
    assert!(s.remember("a.example", [1; 16], 100).await.unwrap());
    assert!(s.remember("a.example", [2; 16], 200).await.unwrap());
    assert_eq!(s.purge_expired(99).await.unwrap(), 0);
    assert_eq!(
        s.purge_expired(100).await.unwrap(),
        1,
        "expired at its expiry time"
    );
    assert!(!s.remember("a.example", [2; 16], 200).await.unwrap());
    assert!(s.remember("a.example", [1; 16], 100).await.unwrap());
    assert_eq!(s.purge_expired(u64::MAX).await.unwrap(), 2);
    assert_eq!(backend.rows(&s, "replay_seen").await, 0);
}

async fn concurrent_deliveries_of_one_event_admit_exactly_one<T: Backend>(backend: T) {
    let s = backend.open().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.remember("a.example", ID, 1_000).await.unwrap()
        }));
    }
    let mut new = 0;
    for task in tasks {
        new += usize::from(task.await.unwrap());
    }
    assert_eq!(new, 1);
}

async fn bad_inputs_are_refused_before_sql<T: Backend>(backend: T) {
    let s = backend.open().await;
    let long = "a".repeat(254);
    assert_eq!(
        s.remember("", ID, 1).await.unwrap_err().to_string(),
        "a sender domain must be 1 to 253 bytes long, not 0"
    );
    assert_eq!(
        s.remember(&long, ID, 1).await.unwrap_err().to_string(),
        "a sender domain must be 1 to 253 bytes long, not 254"
    );
    let refused = s.remember("a.example", ID, u64::MAX).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::OutOfRange { .. }),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "an expiry time (ms) 18446744073709551615 is out of range: it must be at most 2^63 - 1"
    );
    assert_eq!(backend.rows(&s, "replay_seen").await, 0);
}

both_backends!(
    an_event_is_new_once_and_a_replay_after,
    expired_entries_are_purged,
    concurrent_deliveries_of_one_event_admit_exactly_one,
    bad_inputs_are_refused_before_sql,
);
