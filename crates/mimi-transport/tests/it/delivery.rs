//! a.example delivers a signed event to b.example over TLS.

use mimi_transport::send;
use mimi_wire::EventKind;

use crate::harness::federation;

#[tokio::test]
async fn a_delivers_a_signed_event_to_b() {
    let f = federation().await;
    let response = send(
        &f.client,
        &f.a.discovery,
        &f.a.name,
        &f.b.name,
        EventKind::GroupOperation,
        b"an MLS message".to_vec(),
        &f.a.signing_key,
        f.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "a.example");
    assert_eq!(f.b.replay_rows().await, 1);
    assert_eq!(f.a.key_fetches(), 1, "b fetched a's keys once");

    // A second event uses the cached key.
    let response = send(
        &f.client,
        &f.a.discovery,
        &f.a.name,
        &f.b.name,
        EventKind::GroupOperation,
        b"another".to_vec(),
        &f.a.signing_key,
        f.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(f.b.replay_rows().await, 2);
    assert_eq!(f.a.key_fetches(), 1, "the key was cached");
}

#[tokio::test]
async fn an_event_posted_to_the_wrong_endpoint_is_refused_and_not_recorded() {
    let f = federation().await;
    // b serves no /connection_request at all.
    let response = mimi_transport::send(
        &f.client,
        &f.a.discovery,
        &f.a.name,
        &f.b.name,
        EventKind::ConnectionRequest,
        b"x".to_vec(),
        &f.a.signing_key,
        f.now_ms(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 404);

    // Posted by hand to the other endpoint, the type mismatch is caught,
    // by receive and by receive_unrecorded alike.
    for (kind, path) in [
        (EventKind::DeliverMessage, "/group_operation"),
        (EventKind::GroupOperation, "/deliver_message"),
    ] {
        let mut body = crate::harness::QUEUE.to_vec();
        body.extend_from_slice(b"x");
        let envelope = mimi_wire::EventEnvelope::new(body, f.now_ms()).unwrap();
        let event = mimi_wire::Event::with_envelope(kind, &envelope).unwrap();
        let bytes = mimi_wire::S2SMessage::sign(
            mimi_wire::ProtocolVersion::Mimi10,
            &f.a.name,
            &f.b.name,
            event,
            &f.a.signing_key,
        )
        .unwrap()
        .encode()
        .unwrap();
        let reply = f
            .post_to_b_at(path, "application/octet-stream", bytes)
            .await;
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.kind.as_deref(), Some("wrong-endpoint"));
        assert!(reply.body.contains("this endpoint handles"), "{reply:?}");
    }
    assert_eq!(f.b.replay_rows().await, 0);
}

#[tokio::test]
async fn sending_to_a_provider_without_discovery_fails_with_the_reason() {
    let f = federation().await;
    let c = crate::harness::domain("c.example");
    let e = send(
        &f.client,
        &f.a.discovery,
        &f.a.name,
        &c,
        EventKind::GroupOperation,
        b"x".to_vec(),
        &f.a.signing_key,
        f.now_ms(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, mimi_transport::TransportError::DiscoveryFailed { .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("cannot discover c.example's DS domain"),
        "{e}"
    );
    assert_eq!(e.status(), 502);
}
