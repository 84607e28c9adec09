//! Replays: the same signed bytes a second time are refused with 409 `replay`
//! and change nothing (docs/wire-spec.md §6, §10, §13.4).

use mimi_provider::testing::{Backend, TestFederation};
use mimi_transport::OCTET_STREAM;
use mimi_wire::{
    ClientOperation, DeliverMessageRequest, EventKind, GroupKeyPackageRequest,
    QueueingServiceRequest, QueueingServiceResponse, RecipientStatus,
};

use crate::harness::{assert_problem, both_backends};

both_backends!(
    a_replayed_delivery_is_refused_and_stores_nothing,
    a_replayed_claim_hands_out_nothing,
    a_replayed_client_request_is_refused,
);

async fn a_replayed_delivery_is_refused_and_stores_nothing(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let sealed =
                mimi_mls::seal_queue_id(&b.queue_key(), "b.example", &bob.queue_id().unwrap())
                    .unwrap();
            let body = QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
                b"once".to_vec(),
                vec![sealed],
            ))
            .encode()
            .unwrap();
            let event = a
                .sign_event(b.domain(), EventKind::DeliverMessage, body)
                .unwrap();

            let initially = b.row_counts().await.unwrap();
            let first = fed
                .post_raw(
                    "b.example",
                    "/deliver_message",
                    OCTET_STREAM,
                    event.bytes.clone(),
                )
                .await
                .unwrap();
            let QueueingServiceResponse::DeliverMessage(response) =
                QueueingServiceResponse::decode(&first.success().unwrap()).unwrap();
            assert_eq!(response.statuses(), [RecipientStatus::Delivered]);
            let before = b.row_counts().await.unwrap();
            assert_eq!(
                (before.queue_messages, before.replay_seen),
                (1, initially.replay_seen + 1)
            );

            let second = fed
                .post_raw("b.example", "/deliver_message", OCTET_STREAM, event.bytes)
                .await
                .unwrap();
            assert_problem(&second, 409, "replay");
            assert_eq!(b.row_counts().await.unwrap(), before);
            assert_eq!(bob.fetch(1, 10).await.unwrap().messages().len(), 1);
        })
        .await;
}

async fn a_replayed_claim_hands_out_nothing(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            bob.upload_key_packages(3, false).await.unwrap();
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let request = GroupKeyPackageRequest::for_user(bob.user_id(), 1).unwrap();
            let event = a
                .sign_event(
                    b.domain(),
                    EventKind::GroupKeyPackages,
                    request.encode().unwrap(),
                )
                .unwrap();
            let first = fed
                .post_raw(
                    "b.example",
                    "/group_key_packages",
                    OCTET_STREAM,
                    event.bytes.clone(),
                )
                .await
                .unwrap();
            assert_eq!(first.status, 200, "{first}");
            assert_eq!(bob.key_package_count(1).await.unwrap(), 2);
            let before = b.row_counts().await.unwrap();

            let second = fed
                .post_raw(
                    "b.example",
                    "/group_key_packages",
                    OCTET_STREAM,
                    event.bytes,
                )
                .await
                .unwrap();
            assert_problem(&second, 409, "replay");
            assert_eq!(b.row_counts().await.unwrap(), before);
            assert_eq!(b.stored_key_packages(&bob, 1).await.unwrap(), 2);
        })
        .await;
}

async fn a_replayed_client_request_is_refused(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .run(|fed| async move {
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            let b = fed.provider("b.example");
            let upload = bob
                .signed(mimi_wire::UploadKeyPackagesRequest::new(
                    vec![bob.key_package(|_| {}).unwrap().bytes],
                    false,
                ))
                .unwrap();
            let first = bob
                .post(ClientOperation::UploadKeyPackages, upload.clone())
                .await
                .unwrap();
            assert_eq!(first.status, 200, "{first}");
            let before = b.row_counts().await.unwrap();
            let second = bob
                .post(ClientOperation::UploadKeyPackages, upload)
                .await
                .unwrap();
            assert_problem(&second, 409, "replay");
            assert_eq!(b.row_counts().await.unwrap(), before);
        })
        .await;
}
