//! OutboxStore: per-destination order across groups, stable event IDs,
//! deletion of delivered entries and of messages with their last entry,
//! backoff, the batch size cap, and bounds.

use mimi_storage::{
    Accepted, ApplyOutcome, CreateOutcome, Delivery, GroupStore, MAX_OUTBOX_BATCH_BYTES,
    MAX_RECIPIENTS_LEN, OutboxDepth, OutboxEntry, OutboxStore,
};

use crate::groups::{GROUP, accepted, message, new_group, open_with_group};
use crate::harness::{Backend, both_backends};

const OTHER: &[u8] = b"room-2";

/// Applies request `id` as a message of epoch 0 in `group`.
async fn send<S: GroupStore>(s: &S, group: &[u8], id: u8, destinations: &[&str]) -> u64 {
    match s
        .apply(group, &message(0), &accepted(id, destinations))
        .await
        .unwrap()
    {
        ApplyOutcome::Applied { sequence } => sequence,
        other => panic!("{other:?}"),
    }
}

fn order(batch: &[OutboxEntry]) -> Vec<(&[u8], u64)> {
    batch
        .iter()
        .map(|e| (e.group_id.as_slice(), e.sequence))
        .collect()
}

async fn each_destination_gets_its_entries_in_order_across_groups<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    assert_eq!(
        s.create_group(&new_group(OTHER), &accepted(50, &[]))
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(send(&s, GROUP, 2, &["a.example", "b.example"]).await, 2);
    assert_eq!(send(&s, OTHER, 3, &["a.example"]).await, 2);
    assert_eq!(send(&s, GROUP, 4, &["b.example", "a.example"]).await, 3);
    assert_eq!(send(&s, OTHER, 5, &["b.example"]).await, 3);

    let a = s.outbox_batch("a.example", 10).await.unwrap();
    assert_eq!(order(&a), vec![(GROUP, 2), (OTHER, 2), (GROUP, 3)]);
    let b = s.outbox_batch("b.example", 10).await.unwrap();
    assert_eq!(order(&b), vec![(GROUP, 2), (GROUP, 3), (OTHER, 3)]);
    assert!(a.windows(2).all(|w| w[0].outbox_id < w[1].outbox_id));
    assert!(b.windows(2).all(|w| w[0].outbox_id < w[1].outbox_id));
    // Everything the receiver needs, each delivery with its own recipients.
    assert_eq!(a[1].message, b"message 3");
    assert_eq!(a[1].recipients, b"recipients 3 at a.example");
    assert_eq!(a[1].timestamp_ms, 2_003);
    assert_eq!(b[0].message, a[0].message);
    assert_eq!(b[0].recipients, b"recipients 2 at b.example");
    // Event IDs: one per delivery, all different, the same on every read.
    let mut ids: Vec<[u8; 16]> = a.iter().chain(&b).map(|e| e.event_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert_eq!(s.outbox_batch("a.example", 10).await.unwrap(), a);
    // The limit takes the oldest.
    assert_eq!(s.outbox_batch("a.example", 2).await.unwrap(), a[..2]);
    assert_eq!(s.outbox_batch("c.example", 10).await.unwrap(), vec![]);
    // Messages are stored once, whatever the number of deliveries; the
    // creations had none and stored none.
    assert_eq!(backend.rows(&s, "hub_messages").await, 4);
    assert_eq!(backend.rows(&s, "hub_outbox").await, 6);
}

async fn delivered_entries_go_and_a_message_goes_with_its_last_entry<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    send(&s, GROUP, 2, &["a.example", "b.example"]).await;
    send(&s, GROUP, 3, &["a.example"]).await;
    let a = s.outbox_batch("a.example", 10).await.unwrap();
    let b = s.outbox_batch("b.example", 10).await.unwrap();

    // Another destination's IDs are not this destination's to delete.
    assert_eq!(
        s.outbox_delivered("a.example", &[b[0].outbox_id])
            .await
            .unwrap(),
        0
    );
    // a.example's first entry: message 2 is still due at b.example.
    assert_eq!(
        s.outbox_delivered("a.example", &[a[0].outbox_id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(backend.rows(&s, "hub_messages").await, 2);
    assert_eq!(s.outbox_batch("a.example", 10).await.unwrap(), a[1..]);
    // Delivering again, or IDs never handed out, deletes nothing.
    assert_eq!(
        s.outbox_delivered("a.example", &[a[0].outbox_id, 999_999, u64::MAX])
            .await
            .unwrap(),
        0
    );
    // b.example's entry was message 2's last.
    assert_eq!(
        s.outbox_delivered("b.example", &[b[0].outbox_id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(backend.rows(&s, "hub_messages").await, 1);
    assert_eq!(
        s.outbox_delivered("a.example", &[a[1].outbox_id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(backend.rows(&s, "hub_messages").await, 0);
    assert_eq!(backend.rows(&s, "hub_outbox").await, 0);
    assert_eq!(
        s.due_destinations(0, 10).await.unwrap(),
        Vec::<String>::new()
    );
    // The group's numbering goes on.
    assert_eq!(send(&s, GROUP, 4, &["a.example"]).await, 4);
}

async fn failures_back_a_destination_off_until_its_next_attempt<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    send(&s, GROUP, 2, &["a.example", "b.example"]).await;
    send(&s, GROUP, 3, &["c.example"]).await;
    assert_eq!(
        s.due_destinations(0, 10).await.unwrap(),
        vec!["a.example", "b.example", "c.example"]
    );
    assert_eq!(
        s.due_destinations(0, 2).await.unwrap(),
        vec!["a.example", "b.example"]
    );

    assert_eq!(
        s.outbox_failed("a.example", 1_000, "connection refused")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.outbox_failed("a.example", 3_000, "timed out")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        s.due_destinations(2_999, 10).await.unwrap(),
        vec!["b.example", "c.example"]
    );
    assert_eq!(
        s.due_destinations(3_000, 10).await.unwrap(),
        vec!["a.example", "b.example", "c.example"]
    );
    // The last error is kept for operators.
    let kept = "hub_outbox_backoff WHERE destination = 'a.example' AND last_error = 'timed out'";
    assert_eq!(backend.rows(&s, kept).await, 1);
    assert_eq!(
        s.outbox_depth().await.unwrap(),
        vec![
            depth("a.example", 1, 2),
            depth("b.example", 1, 0),
            depth("c.example", 1, 0),
        ]
    );
    // A failure of a destination with nothing pending lists nothing.
    assert_eq!(s.outbox_failed("d.example", 0, "down").await.unwrap(), 1);
    assert_eq!(s.outbox_depth().await.unwrap().len(), 3);

    // A success clears the failures, even one delivering nothing.
    let a = s.outbox_batch("a.example", 10).await.unwrap();
    assert_eq!(s.outbox_delivered("a.example", &[]).await.unwrap(), 0);
    assert_eq!(
        s.due_destinations(0, 10).await.unwrap(),
        vec!["a.example", "b.example", "c.example"]
    );
    assert_eq!(s.outbox_failed("a.example", 9_000, "x").await.unwrap(), 1);
    assert_eq!(
        s.outbox_delivered("a.example", &[a[0].outbox_id])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.outbox_depth().await.unwrap(),
        vec![depth("b.example", 1, 0), depth("c.example", 1, 0)]
    );
    // New entries for a backed-off destination wait for its next attempt.
    assert_eq!(s.outbox_failed("b.example", 5_000, "x").await.unwrap(), 1);
    send(&s, GROUP, 4, &["b.example"]).await;
    assert_eq!(
        s.due_destinations(4_999, 10).await.unwrap(),
        vec!["c.example"]
    );
    assert_eq!(
        s.outbox_depth().await.unwrap(),
        vec![depth("b.example", 2, 1), depth("c.example", 1, 0)]
    );
}

fn depth(destination: &str, pending: u64, failures: u32) -> OutboxDepth {
    OutboxDepth {
        destination: destination.to_owned(),
        pending,
        failures,
    }
}

async fn a_batch_stops_at_its_byte_cap<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let large = |id: u8| Accepted {
        deliveries: vec![Delivery {
            destination: "a.example".into(),
            recipients: vec![id; MAX_RECIPIENTS_LEN],
        }],
        ..accepted(id, &[])
    };
    // 9 entries of 4 MiB and a few bytes: 7 fit in 32 MiB.
    for id in 2..11u8 {
        assert!(matches!(
            s.apply(GROUP, &message(0), &large(id)).await.unwrap(),
            ApplyOutcome::Applied { .. }
        ));
    }
    let per_entry = MAX_RECIPIENTS_LEN + b"message 2".len();
    let fit = MAX_OUTBOX_BATCH_BYTES / per_entry;
    assert_eq!(fit, 7);
    let batch = s.outbox_batch("a.example", 1000).await.unwrap();
    assert_eq!(
        batch.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (2..2 + fit as u64).collect::<Vec<_>>()
    );
    let ids: Vec<u64> = batch.iter().map(|e| e.outbox_id).collect();
    assert_eq!(s.outbox_delivered("a.example", &ids).await.unwrap(), 7);
    assert_eq!(s.outbox_batch("a.example", 1000).await.unwrap().len(), 2);
}

async fn bad_inputs_are_refused_before_sql_and_write_nothing<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    send(&s, GROUP, 2, &["a.example"]).await;
    let long = "a".repeat(254);
    let too_many = vec![1u64; 1001];
    let expect = |refused: mimi_storage::StorageError, expected: &str| {
        assert_eq!(refused.to_string(), expected);
    };
    for limit in [0, 1001] {
        expect(
            s.due_destinations(0, limit).await.unwrap_err(),
            &format!(
                "a limit of {limit} destinations is out of range: ask for 1 to 1000 at a time"
            ),
        );
        expect(
            s.outbox_batch("a.example", limit).await.unwrap_err(),
            &format!(
                "a limit of {limit} outbox entries is out of range: ask for 1 to 1000 at a time"
            ),
        );
    }
    for (destination, len) in [("", 0), (long.as_str(), 254)] {
        let expected = format!("a destination domain must be 1 to 253 bytes long, not {len}");
        expect(s.outbox_batch(destination, 1).await.unwrap_err(), &expected);
        expect(
            s.outbox_delivered(destination, &[1]).await.unwrap_err(),
            &expected,
        );
        expect(
            s.outbox_failed(destination, 0, "x").await.unwrap_err(),
            &expected,
        );
    }
    expect(
        s.outbox_delivered("a.example", &too_many)
            .await
            .unwrap_err(),
        "1001 outbox IDs given, but 0 to 1000 are allowed: split larger sets; nothing was stored",
    );
    expect(
        s.outbox_failed("a.example", 0, "").await.unwrap_err(),
        "a delivery error must be 1 to 1024 bytes long, not 0",
    );
    expect(
        s.outbox_failed("a.example", 0, &"e".repeat(1025))
            .await
            .unwrap_err(),
        "a delivery error must be 1 to 1024 bytes long, not 1025",
    );
    expect(
        s.outbox_failed("a.example", 1 << 63, "x")
            .await
            .unwrap_err(),
        "a next attempt time (ms) 9223372036854775808 is out of range: it must be at most 2^63 - 1",
    );
    assert_eq!(backend.rows(&s, "hub_outbox").await, 1);
    assert_eq!(backend.rows(&s, "hub_messages").await, 1);
    assert_eq!(backend.rows(&s, "hub_outbox_backoff").await, 0);
}

async fn concurrent_deliveries_to_two_destinations_delete_every_message<T: Backend>(backend: T) {
    // Each message's last two entries are deleted by two processes at
    // once: whichever commits second must see the other's deletion.
    let first = open_with_group(&backend).await;
    let second = backend.open().await;
    for id in 2..42u8 {
        send(&first, GROUP, id, &["a.example", "b.example"]).await;
    }
    let mut tasks = Vec::new();
    for (destination, s) in [("a.example", first.clone()), ("b.example", second.clone())] {
        tasks.push(tokio::spawn(async move {
            // One entry per call, to interleave as much as possible.
            for entry in s.outbox_batch(destination, 1000).await.unwrap() {
                assert_eq!(
                    s.outbox_delivered(destination, &[entry.outbox_id])
                        .await
                        .unwrap(),
                    1
                );
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(backend.rows(&first, "hub_outbox").await, 0);
    assert_eq!(backend.rows(&first, "hub_messages").await, 0);
    T::close(&second).await;
}

both_backends!(
    concurrent_deliveries_to_two_destinations_delete_every_message,
    each_destination_gets_its_entries_in_order_across_groups,
    delivered_entries_go_and_a_message_goes_with_its_last_entry,
    failures_back_a_destination_off_until_its_next_attempt,
    a_batch_stops_at_its_byte_cap,
    bad_inputs_are_refused_before_sql_and_write_nothing,
);
