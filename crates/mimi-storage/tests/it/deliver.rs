//! QueueStore::deliver: the replay record and the enqueues in one
//! transaction, unknown and retired queues reported, replays changing
//! nothing, bounds, a failure mid-transaction, and concurrent deliveries.

use mimi_storage::{
    DeliverOutcome, EnqueueResult, EventRecord, MAX_BATCH_LEN, MAX_MESSAGE_LEN, QueueStore,
    ReplayStore, StorageError,
};

use crate::harness::{Backend, both_backends};

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];
const RETIRED: [u8; 16] = [0xcc; 16];
const UNKNOWN: [u8; 16] = [0x01; 16];

fn event(id: u8) -> EventRecord<'static> {
    EventRecord {
        sender: "hub.example",
        message_id: [id; 16],
        expires_at_ms: 10_000,
    }
}

async fn open_with_queues<T: Backend>(backend: &T) -> T::Storage {
    let s = backend.open().await;
    for q in [A, B, RETIRED] {
        s.create_queue(q).await.unwrap();
    }
    s.retire(RETIRED).await.unwrap();
    s
}

async fn a_new_event_is_recorded_and_its_open_queues_get_their_messages<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    s.enqueue(B, b"earlier").await.unwrap();
    let batch: [([u8; 16], &[u8]); 5] = [
        (B, b"b"),
        (UNKNOWN, b"x"),
        (A, b"a1"),
        (RETIRED, b"x"),
        (A, b"a2"),
    ];
    let outcome = s.deliver(Some(event(1)), &batch).await.unwrap();
    assert_eq!(
        outcome,
        DeliverOutcome::Done(vec![
            EnqueueResult::Enqueued(2),
            EnqueueResult::UnknownQueue,
            EnqueueResult::Enqueued(1),
            EnqueueResult::QueueRetired,
            EnqueueResult::Enqueued(2),
        ])
    );
    assert_eq!(
        s.fetch(A, 0, 10).await.unwrap(),
        vec![(1, b"a1".to_vec()), (2, b"a2".to_vec())]
    );
    assert_eq!(s.fetch(B, 2, 10).await.unwrap(), vec![(2, b"b".to_vec())]);
    assert_eq!(s.fetch(RETIRED, 0, 10).await.unwrap(), vec![]);
    assert_eq!(backend.rows(&s, "queue_messages").await, 4);
    assert_eq!(backend.rows(&s, "replay_seen").await, 1);
    // Skipped entries used up no number.
    assert_eq!(s.enqueue(A, b"a3").await.unwrap(), 3);
}

async fn a_replayed_event_changes_nothing<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    let batch: [([u8; 16], &[u8]); 2] = [(A, b"a"), (B, b"b")];
    assert!(matches!(
        s.deliver(Some(event(1)), &batch).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
    // The same event again, even with another batch: nothing is stored.
    let other: [([u8; 16], &[u8]); 1] = [(A, b"other")];
    for batch in [&batch[..], &other[..], &[]] {
        assert_eq!(
            s.deliver(Some(event(1)), batch).await.unwrap(),
            DeliverOutcome::Replay
        );
    }
    assert_eq!(backend.rows(&s, "queue_messages").await, 2);
    assert_eq!(backend.rows(&s, "replay_seen").await, 1);
    // One table with ReplayStore: remember sees the delivery's record, and
    // a delivery sees remember's.
    assert!(!s.remember("hub.example", [1; 16], 10_000).await.unwrap());
    assert!(s.remember("hub.example", [2; 16], 10_000).await.unwrap());
    assert_eq!(
        s.deliver(Some(event(2)), &batch).await.unwrap(),
        DeliverOutcome::Replay
    );
    // The key is sender and ID together.
    let elsewhere = EventRecord {
        sender: "other-hub.example",
        ..event(1)
    };
    assert!(matches!(
        s.deliver(Some(elsewhere), &batch).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
    assert_eq!(s.depth(A).await.unwrap(), 2);
}

async fn an_event_for_closed_queues_only_is_still_recorded<T: Backend>(backend: T) {
    // The sender learns the outcome per recipient; its retry of the same
    // event must not be taken for a new one.
    let s = open_with_queues(&backend).await;
    let batch: [([u8; 16], &[u8]); 2] = [(UNKNOWN, b"x"), (RETIRED, b"x")];
    assert_eq!(
        s.deliver(Some(event(1)), &batch).await.unwrap(),
        DeliverOutcome::Done(vec![
            EnqueueResult::UnknownQueue,
            EnqueueResult::QueueRetired
        ])
    );
    assert_eq!(
        s.deliver(Some(event(1)), &batch).await.unwrap(),
        DeliverOutcome::Replay
    );
    // Likewise an empty batch.
    assert_eq!(
        s.deliver(Some(event(2)), &[]).await.unwrap(),
        DeliverOutcome::Done(vec![])
    );
    assert_eq!(backend.rows(&s, "replay_seen").await, 2);
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);
}

async fn a_delivery_without_an_event_records_nothing<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    let batch: [([u8; 16], &[u8]); 2] = [(A, b"a"), (UNKNOWN, b"x")];
    for expected in [1, 2] {
        assert_eq!(
            s.deliver(None, &batch).await.unwrap(),
            DeliverOutcome::Done(vec![
                EnqueueResult::Enqueued(expected),
                EnqueueResult::UnknownQueue
            ])
        );
    }
    assert_eq!(backend.rows(&s, "replay_seen").await, 0);
    assert_eq!(
        s.deliver(None, &[]).await.unwrap(),
        DeliverOutcome::Done(vec![])
    );
}

async fn delivery_records_are_purged_with_the_replay_table<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    let batch: [([u8; 16], &[u8]); 1] = [(A, b"a")];
    let early = EventRecord {
        expires_at_ms: 100,
        ..event(1)
    };
    assert!(matches!(
        s.deliver(Some(early), &batch).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
    assert!(matches!(
        s.deliver(Some(event(2)), &batch).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
    assert_eq!(s.purge_expired(100).await.unwrap(), 1);
    assert_eq!(backend.rows(&s, "replay_seen").await, 1);
    // Purging forgets the record, never the messages.
    assert_eq!(s.depth(A).await.unwrap(), 2);
}

async fn bad_inputs_are_refused_before_sql_and_record_nothing<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    let ok: [([u8; 16], &[u8]); 1] = [(A, b"a")];
    let big = vec![0u8; MAX_MESSAGE_LEN + 1];
    let oversized: [([u8; 16], &[u8]); 2] = [(A, b"a"), (B, &big)];
    let too_many: Vec<([u8; 16], &[u8])> = vec![(A, b"a"); MAX_BATCH_LEN + 1];
    let long_sender = "a".repeat(254);
    // (event, batch, the refusal's exact message)
    type Case<'a> = (Option<EventRecord<'a>>, &'a [([u8; 16], &'a [u8])], &'a str);
    let cases: [Case; 6] = [
        (
            Some(event(1)),
            &oversized,
            "a message of 1048577 bytes exceeds the queue limit of 1048576 bytes: \
             refuse it to its sender, nothing was stored",
        ),
        (
            Some(event(1)),
            &[(A, b"")],
            "a queued message must be 1 to 1048576 bytes long, not 0",
        ),
        (
            Some(event(1)),
            &too_many,
            "a batch of 10001 messages exceeds the limit of 10000: \
             split the fan-out into several batches",
        ),
        (
            Some(EventRecord {
                sender: "",
                ..event(1)
            }),
            &ok,
            "a sender domain must be 1 to 253 bytes long, not 0",
        ),
        (
            Some(EventRecord {
                sender: &long_sender,
                ..event(1)
            }),
            &ok,
            "a sender domain must be 1 to 253 bytes long, not 254",
        ),
        (
            Some(EventRecord {
                expires_at_ms: u64::MAX,
                ..event(1)
            }),
            &ok,
            "an expiry time (ms) 18446744073709551615 is out of range: \
             it must be at most 2^63 - 1",
        ),
    ];
    for (event, batch, message) in cases {
        let refused = s.deliver(event, batch).await.unwrap_err();
        assert_eq!(refused.to_string(), message);
        assert_eq!(backend.rows(&s, "replay_seen").await, 0, "{message}");
        assert_eq!(backend.rows(&s, "queue_messages").await, 0, "{message}");
    }
    // Nothing was recorded, so the event is still new.
    assert!(matches!(
        s.deliver(Some(event(1)), &ok).await.unwrap(),
        DeliverOutcome::Done(_)
    ));
}

async fn a_failure_mid_transaction_records_nothing_and_the_retry_delivers<T: Backend>(backend: T) {
    // A row in B's way makes the transaction fail after the event was
    // recorded and A's number reserved: all of it must roll back.
    let s = open_with_queues(&backend).await;
    backend
        .execute(
            &s,
            T::pick(
                "INSERT INTO queue_messages (queue_id, seq, message)
                 VALUES (X'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1, X'00')",
                "INSERT INTO queue_messages (queue_id, seq, message)
                 VALUES ('\\xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'::bytea, 1, '\\x00'::bytea)",
            ),
        )
        .await;
    let batch: [([u8; 16], &[u8]); 2] = [(A, b"a"), (B, b"b")];
    let failed = s.deliver(Some(event(1)), &batch).await.unwrap_err();
    assert!(matches!(failed, StorageError::Database(_)), "{failed:?}");
    assert_eq!(backend.rows(&s, "replay_seen").await, 0);
    assert_eq!(s.depth(A).await.unwrap(), 0);

    backend.execute(&s, "DELETE FROM queue_messages").await;
    assert_eq!(
        s.deliver(Some(event(1)), &batch).await.unwrap(),
        DeliverOutcome::Done(vec![EnqueueResult::Enqueued(1), EnqueueResult::Enqueued(1)])
    );
}

async fn concurrent_deliveries_of_one_event_enqueue_once<T: Backend>(backend: T) {
    let s = open_with_queues(&backend).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let batch: [([u8; 16], &[u8]); 2] = [(A, b"a"), (B, b"b")];
            s.deliver(Some(event(1)), &batch).await.unwrap()
        }));
    }
    let mut done = Vec::new();
    for task in tasks {
        if let DeliverOutcome::Done(results) = task.await.unwrap() {
            done.push(results);
        }
    }
    assert_eq!(
        done,
        vec![vec![EnqueueResult::Enqueued(1), EnqueueResult::Enqueued(1)]]
    );
    assert_eq!(backend.rows(&s, "queue_messages").await, 2);
}

async fn concurrent_deliveries_over_shared_queues_neither_deadlock_nor_gap<T: Backend>(backend: T) {
    // Batches naming A and B in opposite orders, each its own event, mixed
    // with plain enqueue_many batches: one locking order for all.
    let s = open_with_queues(&backend).await;
    let mut tasks = Vec::new();
    for task in 0..4u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25u8 {
                let batch: [([u8; 16], &[u8]); 2] = if task % 2 == 0 {
                    [(A, b"m"), (B, b"m")]
                } else {
                    [(B, b"m"), (A, b"m")]
                };
                if task < 2 {
                    let event = EventRecord {
                        sender: "hub.example",
                        message_id: [task, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        expires_at_ms: 10_000,
                    };
                    let outcome = s.deliver(Some(event), &batch).await.unwrap();
                    assert!(matches!(outcome, DeliverOutcome::Done(_)), "{outcome:?}");
                } else {
                    s.enqueue_many(&batch).await.unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for q in [A, B] {
        let seqs: Vec<u64> = s
            .fetch(q, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
    }
    assert_eq!(backend.rows(&s, "replay_seen").await, 50);
}

both_backends!(
    a_new_event_is_recorded_and_its_open_queues_get_their_messages,
    a_replayed_event_changes_nothing,
    an_event_for_closed_queues_only_is_still_recorded,
    a_delivery_without_an_event_records_nothing,
    delivery_records_are_purged_with_the_replay_table,
    bad_inputs_are_refused_before_sql_and_record_nothing,
    a_failure_mid_transaction_records_nothing_and_the_retry_delivers,
    concurrent_deliveries_of_one_event_enqueue_once,
    concurrent_deliveries_over_shared_queues_neither_deadlock_nor_gap,
);
