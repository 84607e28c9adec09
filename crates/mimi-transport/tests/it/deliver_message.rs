//! `/deliver_message` as a provider serves it: `receive_unrecorded`, then the
//! replay record and the enqueue in one transaction (`QueueStore::deliver`).
//! A retry of a delivered event is a replay and enqueues nothing; a refused
//! or failed request records nothing, so its retry is delivered.

use mimi_storage::QueueStore;
use mimi_wire::{Event, EventEnvelope, EventKind, ProtocolVersion, S2SMessage};

use crate::harness::{Federation, QUEUE, federation};

const OCTET: &str = "application/octet-stream";

/// A `/deliver_message` event from a to b: `message` for `queue`.
fn delivery(f: &Federation, queue: [u8; 16], message: &[u8]) -> Vec<u8> {
    let mut body = queue.to_vec();
    body.extend_from_slice(message);
    let envelope = EventEnvelope::new(body, f.now_ms()).unwrap();
    let event = Event::with_envelope(EventKind::DeliverMessage, &envelope).unwrap();
    S2SMessage::sign(
        ProtocolVersion::Mimi10,
        &f.a.name,
        &f.b.name,
        event,
        &f.a.signing_key,
    )
    .unwrap()
    .encode()
    .unwrap()
}

#[tokio::test]
async fn a_delivery_is_stored_once_and_its_retry_is_a_replay() {
    let f = federation().await;
    let bytes = delivery(&f, QUEUE, b"hello");
    let reply = f
        .post_to_b_at("/deliver_message", OCTET, bytes.clone())
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "[Enqueued(1)]"));

    // The sender did not see the answer and retries the same bytes.
    let retry = f.post_to_b_at("/deliver_message", OCTET, bytes).await;
    assert_eq!(retry.status, 409, "{retry:?}");
    assert_eq!(retry.kind.as_deref(), Some("replay"));
    assert!(retry.body.contains("already accepted"), "{retry:?}");

    assert_eq!(
        f.b.storage.fetch(QUEUE, 0, 10).await.unwrap(),
        vec![(1, b"hello".to_vec())]
    );
    assert_eq!(f.b.replay_rows().await, 1);
}

#[tokio::test]
async fn a_delivery_to_an_unknown_queue_is_answered_and_recorded() {
    let f = federation().await;
    let bytes = delivery(&f, [0xee; 16], b"lost?");
    let reply = f
        .post_to_b_at("/deliver_message", OCTET, bytes.clone())
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "[UnknownQueue]"));
    assert_eq!(f.b.replay_rows().await, 1);
    let retry = f.post_to_b_at("/deliver_message", OCTET, bytes).await;
    assert_eq!(retry.status, 409, "{retry:?}");
}

#[tokio::test]
async fn a_refused_delivery_records_nothing() {
    let f = federation().await;
    let mut bytes = delivery(&f, QUEUE, b"forged");
    *bytes.last_mut().unwrap() ^= 0x01;
    let reply = f.post_to_b_at("/deliver_message", OCTET, bytes).await;
    assert_eq!(reply.status, 403, "{reply:?}");
    assert_eq!(reply.kind.as_deref(), Some("bad-signature"));
    assert_eq!(f.b.replay_rows().await, 0);
    assert_eq!(f.b.storage.depth(QUEUE).await.unwrap(), 0);
}

#[tokio::test]
async fn a_delivery_that_fails_in_storage_records_nothing_and_its_retry_is_delivered() {
    let f = federation().await;
    // A row in the way of the message's sequence number makes the
    // transaction fail after the event was recorded in it.
    sqlx::query("INSERT INTO queue_messages (queue_id, seq, message) VALUES ($1, 1, X'00')")
        .bind(&QUEUE[..])
        .execute(f.b.storage.pool())
        .await
        .unwrap();
    let bytes = delivery(&f, QUEUE, b"hello");
    let reply = f
        .post_to_b_at("/deliver_message", OCTET, bytes.clone())
        .await;
    assert_eq!(reply.status, 500, "{reply:?}");
    assert_eq!(reply.kind.as_deref(), Some("storage-failed"));
    assert_eq!(
        reply.body, "the receiver could not record the event; nothing was accepted, retry later",
        "no database detail goes to the peer"
    );
    assert_eq!(f.b.replay_rows().await, 0, "the event was not recorded");

    sqlx::query("DELETE FROM queue_messages")
        .execute(f.b.storage.pool())
        .await
        .unwrap();
    let retry = f.post_to_b_at("/deliver_message", OCTET, bytes).await;
    assert_eq!((retry.status, retry.body.as_str()), (200, "[Enqueued(1)]"));
    assert_eq!(
        f.b.storage.fetch(QUEUE, 0, 10).await.unwrap(),
        vec![(1, b"hello".to_vec())]
    );
}
