//! Queue notifications: subscribers are woken after commits that enqueued
//! to their queue (and not by rolled-back ones), subscriptions are cleaned
//! up and ended on close; on PostgreSQL across storages (processes), and
//! after the listener lost its connection.

use std::time::Duration;

use mimi_storage::{
    DeliverOutcome, EventRecord, PostgresStorage, QueueStore, QueueSubscription, StorageError,
    WatchError,
};

use crate::harness::{Backend, Postgres, both_backends, with_postgres};

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];
const RETIRED: [u8; 16] = [0xcc; 16];

/// A guard against a hang, not a timing assertion: a notification that
/// never comes fails the test instead of blocking it forever.
const PATIENCE: Duration = Duration::from_secs(60);

async fn next(sub: &mut QueueSubscription) -> u64 {
    tokio::time::timeout(PATIENCE, sub.changed())
        .await
        .unwrap_or_else(|_| panic!("no notification for queue {:02x?}", sub.queue_id()))
        .unwrap()
}

async fn commits_wake_the_subscribers_of_their_queues<T: Backend>(backend: T) {
    let s = backend.open().await;
    for q in [A, B, RETIRED] {
        s.create_queue(q).await.unwrap();
    }
    s.retire(RETIRED).await.unwrap();
    let watcher = s.watcher();
    let (mut a, mut b) = (watcher.subscribe(A), watcher.subscribe(B));

    s.enqueue(A, b"1").await.unwrap();
    assert_eq!(next(&mut a).await, 1);

    let batch: [([u8; 16], &[u8]); 3] = [(B, b"1"), (A, b"2"), (B, b"2")];
    s.enqueue_many(&batch).await.unwrap();
    assert_eq!(next(&mut a).await, 2);
    assert_eq!(next(&mut b).await, 2, "the newest number of the batch");

    let event = EventRecord {
        sender: "hub.example",
        message_id: [1; 16],
        expires_at_ms: 10_000,
    };
    let batch: [([u8; 16], &[u8]); 2] = [(A, b"3"), (RETIRED, b"x")];
    assert!(matches!(
        s.deliver(Some(event), &batch).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
    assert_eq!(next(&mut a).await, 3);

    // Refused and replayed batches commit nothing and notify no one. B is
    // notified last: notifications arrive in commit order, so once B's is
    // in, anything A was sent before would be too.
    let refused: [([u8; 16], &[u8]); 2] = [(A, b"x"), (RETIRED, b"x")];
    assert!(matches!(
        s.enqueue_many(&refused).await,
        Err(StorageError::QueueRetired { .. })
    ));
    assert_eq!(
        s.deliver(Some(event), &[(A, b"x")]).await.unwrap(),
        DeliverOutcome::Replay
    );
    s.enqueue(B, b"3").await.unwrap();
    assert_eq!(next(&mut b).await, 3);
    assert!(!a.has_changed().unwrap(), "a rolled-back enqueue woke A");
    assert_eq!(s.fetch(A, 0, 10).await.unwrap().len(), 3);
}

async fn a_subscriber_that_fetches_after_subscribing_misses_nothing<T: Backend>(backend: T) {
    // The pattern a long-poll follows: subscribe, fetch, wait, fetch.
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.enqueue(A, b"before").await.unwrap();
    let mut sub = s.watcher().subscribe(A);
    let mut cursor = 1;
    let mut seen = Vec::new();
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for i in 0..20u32 {
                s.enqueue(A, i.to_string().as_bytes()).await.unwrap();
            }
        })
    };
    while seen.len() < 21 {
        for (seq, message) in s.fetch(A, cursor, 100).await.unwrap() {
            cursor = seq + 1;
            seen.push(message);
        }
        if seen.len() < 21 {
            next(&mut sub).await;
        }
    }
    writer.await.unwrap();
    assert_eq!(seen[0], b"before");
    assert_eq!(seen[20], b"19");
}

async fn dropped_subscriptions_are_forgotten<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    let watcher = s.watcher();
    let subs: Vec<_> = (0..50u8).map(|i| watcher.subscribe([i; 16])).collect();
    assert_eq!(watcher.watched_queues(), 50);
    drop(subs);
    assert_eq!(watcher.watched_queues(), 0);
    // Enqueues to unwatched queues track nothing either.
    s.enqueue(A, b"m").await.unwrap();
    let mut sub = watcher.subscribe(A);
    s.enqueue(A, b"m").await.unwrap();
    // On PostgreSQL the first commit's notification may arrive after the
    // subscription: an extra wake-up, which is harmless.
    while next(&mut sub).await < 2 {}
    assert_eq!(
        s.watcher().watched_queues(),
        1,
        "clones share subscriptions"
    );
}

async fn closing_the_storage_ends_subscriptions<T: Backend>(backend: T) {
    let s = backend.open().await;
    let watcher = s.watcher();
    let mut sub = watcher.subscribe(A);
    T::close(&s).await;
    assert_eq!(sub.changed().await, Err(WatchError::Closed));
    assert_eq!(
        watcher.subscribe(B).changed().await,
        Err(WatchError::Closed)
    );

    // Dropping every handle ends them too.
    let s = backend.open().await;
    let mut sub = s.watcher().subscribe(A);
    let clone = s.clone();
    drop(s);
    assert!(
        !sub.has_changed().unwrap(),
        "a clone still holds the storage"
    );
    drop(clone);
    let ended = tokio::time::timeout(PATIENCE, sub.changed()).await.unwrap();
    assert_eq!(ended, Err(WatchError::Closed));
}

both_backends!(
    commits_wake_the_subscribers_of_their_queues,
    a_subscriber_that_fetches_after_subscribing_misses_nothing,
    dropped_subscriptions_are_forgotten,
    closing_the_storage_ends_subscriptions,
);

// --- PostgreSQL only: several processes on one database. -------------------

async fn storages_on_one_database_see_each_others_commits(backend: Postgres) {
    // Two handles with their own connections and listeners: two provider
    // processes behind a load balancer.
    let (one, two) = (backend.open().await, backend.open().await);
    one.create_queue(A).await.unwrap();
    let mut on_one = one.watcher().subscribe(A);
    let mut on_two = two.watcher().subscribe(A);

    two.enqueue(A, b"from two").await.unwrap();
    assert_eq!(next(&mut on_one).await, 1);
    assert_eq!(next(&mut on_two).await, 1);

    one.enqueue(A, b"from one").await.unwrap();
    assert_eq!(next(&mut on_two).await, 2);
    assert_eq!(next(&mut on_one).await, 2);

    let event = EventRecord {
        sender: "hub.example",
        message_id: [1; 16],
        expires_at_ms: 10_000,
    };
    let outcome = two
        .deliver(Some(event), &[(A, b"delivered")])
        .await
        .unwrap();
    assert!(matches!(outcome, DeliverOutcome::Done(_)));
    assert_eq!(next(&mut on_one).await, 3);
    assert_eq!(
        one.deliver(Some(event), &[(A, b"again")]).await.unwrap(),
        DeliverOutcome::Replay,
        "the other process's record is seen"
    );
}

/// The backend process IDs of the storages' `LISTEN` connections.
async fn listener_pids(s: &PostgresStorage) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(s.pool())
    .await
    .unwrap()
}

async fn a_lost_listener_connection_wakes_everyone_and_loses_nothing(backend: Postgres) {
    let s = backend.open().await;
    let pids = listener_pids(&s).await;
    assert_eq!(pids.len(), 1, "one listener per storage: {pids:?}");
    let other = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.enqueue(A, b"first").await.unwrap();
    let mut sub = s.watcher().subscribe(A);
    let mut idle = s.watcher().subscribe(B);

    // Kill `s`'s listener connection.
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pids[0])
        .fetch_one(other.pool())
        .await
        .unwrap();
    assert!(killed);
    // Committed while `s` may not be listening: its notification may be
    // lost, but the reconnect wakes every subscriber, after which `s` is
    // listening again, so fetching then finds the message.
    other.enqueue(A, b"during the outage").await.unwrap();

    let mut cursor = 2;
    let mut found = Vec::new();
    while found.is_empty() {
        next(&mut sub).await;
        for (seq, message) in s.fetch(A, cursor, 10).await.unwrap() {
            cursor = seq + 1;
            found.push(message);
        }
    }
    assert_eq!(found, vec![b"during the outage".to_vec()]);
    // A subscriber of a queue that got nothing was woken too.
    assert_eq!(next(&mut idle).await, 0);

    // The new connection listens: later commits are heard as before.
    other.enqueue(A, b"after").await.unwrap();
    while next(&mut sub).await < 3 {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_storages_on_one_database_see_each_others_commits() {
    with_postgres(storages_on_one_database_see_each_others_commits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lost_listener_connection_wakes_everyone_and_loses_nothing() {
    with_postgres(a_lost_listener_connection_wakes_everyone_and_loses_nothing).await;
}
