//! QueueStore: sequence numbers, fetch and ack, fan-out batches, retire,
//! unknown queues, bounds, and concurrent enqueues.

use std::collections::BTreeMap;

use mimi_storage::{MAX_BATCH_LEN, MAX_FETCH_LIMIT, MAX_MESSAGE_LEN, QueueStore, StorageError};

use crate::harness::{Backend, both_backends};

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];
const UNKNOWN: [u8; 16] = [0x01; 16];

async fn sequence_numbers_start_at_one_and_increase_per_queue<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();
    assert_eq!(s.enqueue(A, b"a1").await.unwrap(), 1);
    assert_eq!(s.enqueue(A, b"a2").await.unwrap(), 2);
    assert_eq!(s.enqueue(B, b"b1").await.unwrap(), 1);
    assert_eq!(s.enqueue(A, b"a3").await.unwrap(), 3);
    assert_eq!(s.enqueue(B, b"b2").await.unwrap(), 2);
    // Acknowledged numbers are never handed out again.
    s.ack(A, 3).await.unwrap();
    assert_eq!(s.enqueue(A, b"a4").await.unwrap(), 4);
}

async fn fetch_deletes_nothing_until_ack<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    assert_eq!(s.fetch(A, 0, 10).await.unwrap(), vec![]);
    for m in [&b"m1"[..], b"m2", b"m3"] {
        s.enqueue(A, m).await.unwrap();
    }
    let all = vec![
        (1, b"m1".to_vec()),
        (2, b"m2".to_vec()),
        (3, b"m3".to_vec()),
    ];
    assert_eq!(s.fetch(A, 1, 10).await.unwrap(), all);
    // A client that crashed before acknowledging gets the same again.
    assert_eq!(s.fetch(A, 0, 10).await.unwrap(), all);
    assert_eq!(s.depth(A).await.unwrap(), 3);
    assert_eq!(s.depth_from(A, 2).await.unwrap(), 2);
    assert_eq!(s.depth_from(A, 4).await.unwrap(), 0);
    assert_eq!(s.depth_from(A, u64::MAX).await.unwrap(), 0);
    assert_eq!(s.fetch(A, 2, 1).await.unwrap(), vec![(2, b"m2".to_vec())]);
    assert_eq!(s.fetch(A, 4, 10).await.unwrap(), vec![]);
    assert_eq!(s.fetch(A, u64::MAX, 10).await.unwrap(), vec![]);

    assert_eq!(s.ack(A, 2).await.unwrap(), 2);
    assert_eq!(s.depth(A).await.unwrap(), 1);
    assert_eq!(s.fetch(A, 0, 10).await.unwrap(), vec![(3, b"m3".to_vec())]);
    // Acknowledging again, or nothing, deletes nothing and is fine.
    assert_eq!(s.ack(A, 2).await.unwrap(), 0);
    assert_eq!(s.ack(A, 0).await.unwrap(), 0);
    assert_eq!(s.ack(A, 3).await.unwrap(), 1);
    assert_eq!(s.depth(A).await.unwrap(), 0);
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);
}

async fn ack_beyond_the_last_message_is_refused_and_deletes_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    let refused = s.ack(A, 1).await.unwrap_err();
    assert!(
        matches!(
            refused,
            StorageError::AckBeyondEnd {
                queue_id: A,
                up_to_seq: 1,
                last_seq: 0
            }
        ),
        "{refused:?}"
    );
    s.enqueue(A, b"m1").await.unwrap();
    s.enqueue(A, b"m2").await.unwrap();
    for beyond in [3, u64::MAX] {
        let refused = s.ack(A, beyond).await.unwrap_err();
        assert!(
            matches!(refused, StorageError::AckBeyondEnd { last_seq: 2, .. }),
            "{refused:?}"
        );
    }
    assert_eq!(s.depth(A).await.unwrap(), 2);
    assert_eq!(
        s.ack(A, 3).await.unwrap_err().to_string(),
        "cannot acknowledge queue aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa up to sequence number 3: \
         the last message ever enqueued there is number 2; \
         acknowledge only sequence numbers that fetch returned"
    );
}

async fn enqueue_many_is_all_or_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();

    // One unknown queue in the batch: nothing stored, no number used. Its
    // ID sorts after A and B, so their numbers were already reserved when
    // it failed: the rollback must give them back.
    let late = [0xff; 16];
    let batch: [([u8; 16], &[u8]); 4] = [(A, b"x"), (B, b"x"), (late, b"x"), (A, b"x")];
    let refused = s.enqueue_many(&batch).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::UnknownQueue { queue_id } if queue_id == late),
        "{refused:?}"
    );
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);

    // Likewise one retired queue.
    let retired = [0xcc; 16];
    s.create_queue(retired).await.unwrap();
    s.retire(retired).await.unwrap();
    let batch: [([u8; 16], &[u8]); 3] = [(A, b"x"), (retired, b"x"), (B, b"x")];
    let refused = s.enqueue_many(&batch).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueRetired { queue_id } if queue_id == retired),
        "{refused:?}"
    );
    // Likewise one oversized message, refused before any SQL.
    let big = vec![0u8; MAX_MESSAGE_LEN + 1];
    let batch: [([u8; 16], &[u8]); 2] = [(A, b"x"), (B, &big)];
    let refused = s.enqueue_many(&batch).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::MessageTooLarge { .. }),
        "{refused:?}"
    );
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);

    // A batch that succeeds: numbers in batch order, per queue.
    let batch: [([u8; 16], &[u8]); 4] = [(B, b"b1"), (A, b"a1"), (B, b"b2"), (B, b"b3")];
    assert_eq!(s.enqueue_many(&batch).await.unwrap(), vec![1, 1, 2, 3]);
    assert_eq!(
        s.fetch(B, 0, 10).await.unwrap(),
        vec![
            (1, b"b1".to_vec()),
            (2, b"b2".to_vec()),
            (3, b"b3".to_vec())
        ]
    );
    assert_eq!(s.fetch(A, 0, 10).await.unwrap(), vec![(1, b"a1".to_vec())]);
    assert_eq!(s.enqueue_many(&[]).await.unwrap(), Vec::<u64>::new());
}

async fn a_large_fan_out_is_stored_whole<T: Backend>(backend: T) {
    // More entries and bytes than PostgreSQL's back end puts in one INSERT.
    let s = backend.open().await;
    let queues: Vec<[u8; 16]> = (0..50u8).map(|i| [i; 16]).collect();
    for &q in &queues {
        s.create_queue(q).await.unwrap();
    }
    let message = vec![7u8; 8 * 1024];
    let batch: Vec<([u8; 16], &[u8])> = (0..2500)
        .map(|i| (queues[i % queues.len()], &message[..]))
        .collect();
    let seqs = s.enqueue_many(&batch).await.unwrap();
    for (i, seq) in seqs.iter().enumerate() {
        assert_eq!(*seq, (i / queues.len()) as u64 + 1);
    }
    assert_eq!(backend.rows(&s, "queue_messages").await, 2500);
    assert_eq!(s.depth(queues[49]).await.unwrap(), 50);
}

async fn retired_queues_refuse_new_messages_but_can_be_drained<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.enqueue(A, b"before").await.unwrap();
    s.retire(A).await.unwrap();
    let refused = s.enqueue(A, b"after").await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueRetired { queue_id: A }),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "queue aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is retired and accepts no new messages: \
         deliver to the client's current queue instead"
    );
    assert_eq!(
        s.fetch(A, 0, 10).await.unwrap(),
        vec![(1, b"before".to_vec())]
    );
    assert_eq!(s.ack(A, 1).await.unwrap(), 1);
    s.retire(A).await.unwrap();
    // The ID stays taken.
    let refused = s.create_queue(A).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueExists { queue_id: A }),
        "{refused:?}"
    );
}

async fn unknown_queues_are_errors_never_silent_drops<T: Backend>(backend: T) {
    let s = backend.open().await;
    let unknown = |r: Result<_, StorageError>| match r {
        Err(StorageError::UnknownQueue { queue_id: UNKNOWN }) => {}
        other => panic!("expected UnknownQueue, got {other:?}"),
    };
    unknown(s.enqueue(UNKNOWN, b"m").await.map(drop));
    unknown(s.fetch(UNKNOWN, 0, 10).await.map(drop));
    unknown(s.ack(UNKNOWN, 0).await.map(drop));
    unknown(s.depth(UNKNOWN).await.map(drop));
    unknown(s.retire(UNKNOWN).await);
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);
    assert_eq!(backend.rows(&s, "queues").await, 0);
    assert_eq!(
        s.enqueue(UNKNOWN, b"m").await.unwrap_err().to_string(),
        "no queue 01010101010101010101010101010101: \
         create it with create_queue first, or check the queue ID"
    );

    s.create_queue(A).await.unwrap();
    let refused = s.create_queue(A).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueExists { queue_id: A }),
        "{refused:?}"
    );
}

async fn oversized_and_empty_messages_are_refused_with_no_row_written<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    let big = vec![1u8; MAX_MESSAGE_LEN + 1];
    let refused = s.enqueue(A, &big).await.unwrap_err();
    assert!(
        matches!(
            refused,
            StorageError::MessageTooLarge { len, max: MAX_MESSAGE_LEN } if len == MAX_MESSAGE_LEN + 1
        ),
        "{refused:?}"
    );
    let refused = s.enqueue(A, b"").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "a queued message must be 1 to 1048576 bytes long, not 0"
    );
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);

    // The limit itself is fine, and the first number was not used up.
    let largest = vec![2u8; MAX_MESSAGE_LEN];
    assert_eq!(s.enqueue(A, &largest).await.unwrap(), 1);
    assert_eq!(s.fetch(A, 1, 1).await.unwrap(), vec![(1, largest)]);
}

async fn limits_are_checked_before_sql<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    for limit in [0, MAX_FETCH_LIMIT + 1] {
        let refused = s.fetch(A, 0, limit).await.unwrap_err();
        assert!(
            matches!(refused, StorageError::FetchLimit { .. }),
            "{refused:?}"
        );
    }
    assert_eq!(
        s.fetch(A, 0, 0).await.unwrap_err().to_string(),
        "a fetch limit of 0 is out of range: ask for 1 to 1000 messages at a time"
    );
    let batch: Vec<([u8; 16], &[u8])> = vec![(A, b"m"); MAX_BATCH_LEN + 1];
    assert_eq!(
        s.enqueue_many(&batch).await.unwrap_err().to_string(),
        "a batch of 10001 messages exceeds the limit of 10000: \
         split the fan-out into several batches"
    );
    assert_eq!(backend.rows(&s, "queue_messages").await, 0);
    assert_eq!(s.fetch(A, 0, MAX_FETCH_LIMIT).await.unwrap(), vec![]);
}

async fn concurrent_enqueues_get_gap_free_unique_sequence_numbers<T: Backend>(backend: T) {
    const TASKS: usize = 8;
    const EACH: usize = 50;
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..EACH {
                let message = format!("{task}/{i}").into_bytes();
                got.push((s.enqueue(A, &message).await.unwrap(), message));
            }
            got
        }));
    }
    let mut by_seq = BTreeMap::new();
    for task in tasks {
        for (seq, message) in task.await.unwrap() {
            assert!(
                by_seq.insert(seq, message).is_none(),
                "sequence number {seq} twice"
            );
        }
    }
    let expected: Vec<u64> = (1..=(TASKS * EACH) as u64).collect();
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), expected, "gaps");
    // Each number is stored with the message it was returned for.
    let stored = s.fetch(A, 0, MAX_FETCH_LIMIT).await.unwrap();
    assert_eq!(stored, by_seq.into_iter().collect::<Vec<_>>());
}

async fn concurrent_batches_over_shared_queues_neither_deadlock_nor_gap<T: Backend>(backend: T) {
    // Batches naming A and B in opposite orders: the back ends lock queues
    // in ID order, so none waits for another in a cycle.
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let batch: [([u8; 16], &[u8]); 2] = if task % 2 == 0 {
                    [(A, b"m"), (B, b"m")]
                } else {
                    [(B, b"m"), (A, b"m")]
                };
                s.enqueue_many(&batch).await.unwrap();
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
}

async fn total_depth_counts_every_unacknowledged_message<T: Backend>(backend: T) {
    let s = backend.open().await;
    assert_eq!(s.total_depth().await.unwrap(), 0);
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();
    let batch: [([u8; 16], &[u8]); 3] = [(A, b"a1"), (B, b"b1"), (A, b"a2")];
    s.enqueue_many(&batch).await.unwrap();
    s.enqueue(B, b"b2").await.unwrap();
    assert_eq!(s.total_depth().await.unwrap(), 4);
    s.ack(A, 1).await.unwrap();
    assert_eq!(s.total_depth().await.unwrap(), 3);
    // Retiring keeps the messages: they still wait for their client.
    s.retire(B).await.unwrap();
    assert_eq!(s.total_depth().await.unwrap(), 3);
    s.ack(B, 2).await.unwrap();
    assert_eq!(s.total_depth().await.unwrap(), 1);
}

both_backends!(
    total_depth_counts_every_unacknowledged_message,
    sequence_numbers_start_at_one_and_increase_per_queue,
    fetch_deletes_nothing_until_ack,
    ack_beyond_the_last_message_is_refused_and_deletes_nothing,
    enqueue_many_is_all_or_nothing,
    a_large_fan_out_is_stored_whole,
    retired_queues_refuse_new_messages_but_can_be_drained,
    unknown_queues_are_errors_never_silent_drops,
    oversized_and_empty_messages_are_refused_with_no_row_written,
    limits_are_checked_before_sql,
    concurrent_enqueues_get_gap_free_unique_sequence_numbers,
    concurrent_batches_over_shared_queues_neither_deadlock_nor_gap,
);
