//! Scale-out (DESIGN.md, "PostgreSQL (several stateless provider processes
//! behind a load balancer share it …)"): two instances of b.example, each
//! with its own TLS listener, caches, rate limiters and storage handle (its
//! own PostgreSQL pool and LISTEN connection), on one database and with the
//! same key files, behave as one provider. What one instance committed, the
//! other serves; a delivery to one is pushed on a WebSocket of the other
//! (through PostgreSQL NOTIFY: the instances share no memory); a replay is
//! refused whichever instance saw the first copy; concurrent claims never
//! hand out one KeyPackage twice.
//!
//! PostgreSQL only: SQLite is one process's database. Without
//! `MIMI_TEST_POSTGRES_URL` these tests fail; they never skip.

use std::collections::BTreeSet;

use mimi_provider::testing::{
    Backend, FederationBuilder, Pushed, TestClient, TestError, TestFederation, TestProvider,
};
use mimi_transport::OCTET_STREAM;
use mimi_wire::{
    ClientOperation, DeliverMessageRequest, EventKind, FetchResponse, GroupKeyPackageRequest,
    GroupKeyPackageResponse, QueueingServiceRequest, QueueingServiceResponse, RecipientStatus,
    UploadKeyPackagesRequest,
};

use crate::harness::{PUSH_WAIT, assert_problem, postgres};

const A: &str = "a.example";
const B: &str = "b.example";

/// a.example, and b.example as two instances on one database.
fn two_instances_of_b() -> FederationBuilder {
    TestFederation::builder(&[A, B], postgres()).replicas(B, 2)
}

/// The first and the second instance of b.example.
fn instances(fed: &TestFederation) -> (&TestProvider, &TestProvider) {
    (fed.replica(B, 0), fed.replica(B, 1))
}

/// `message` for `client` as a `/deliver_message` event signed by a.example,
/// its queue ID sealed to b.example's queue key (both instances have it).
fn delivery(fed: &TestFederation, client: &TestClient, message: &[u8]) -> Vec<u8> {
    let b = fed.provider(B);
    let sealed = mimi_mls::seal_queue_id(&b.queue_key(), B, &client.queue_id().unwrap()).unwrap();
    let body = QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
        message.to_vec(),
        vec![sealed],
    ))
    .encode()
    .unwrap();
    fed.provider(A)
        .sign_event(b.domain(), EventKind::DeliverMessage, body)
        .unwrap()
        .bytes
}

/// Posts a signed `/deliver_message` event to `instance`; its statuses.
async fn deliver_at(instance: &TestProvider, event: Vec<u8>) -> Vec<RecipientStatus> {
    let reply = instance
        .post_raw("/deliver_message", OCTET_STREAM, event)
        .await
        .unwrap();
    let QueueingServiceResponse::DeliverMessage(response) =
        QueueingServiceResponse::decode(&reply.success().unwrap()).unwrap();
    response.statuses().to_vec()
}

fn seqs_and_messages(response: &FetchResponse) -> Vec<(u64, Vec<u8>)> {
    response
        .messages()
        .iter()
        .map(|m| (m.seq(), m.message().to_vec()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_to_one_instance_is_pushed_on_the_others_websocket() {
    two_instances_of_b()
        .run(|fed| async move {
            let (first, second) = instances(&fed);
            let via_first = fed
                .client(B, "bob", "phone")
                .unwrap()
                .through(first)
                .unwrap();
            via_first.register(Some("@bob")).await.unwrap();
            let via_second = via_first.through(second).unwrap();

            // The backlog frame shows that the push has subscribed (it
            // subscribes before its first fetch): what comes next can only
            // be a wake-up, which crosses instances through PostgreSQL.
            let backlog = delivery(&fed, &via_first, b"backlog");
            assert_eq!(
                deliver_at(first, backlog).await,
                [RecipientStatus::Delivered]
            );
            let mut on_first = via_first.listen(1).await.unwrap();
            let frame = on_first.next_frame(PUSH_WAIT).await.unwrap();
            assert_eq!(seqs_and_messages(&frame), [(1, b"backlog".to_vec())]);
            // Listening on the first instance, delivered at the second.
            let event = delivery(&fed, &via_first, b"to the second");
            assert_eq!(
                deliver_at(second, event).await,
                [RecipientStatus::Delivered]
            );
            let frame = on_first.next_frame(PUSH_WAIT).await.unwrap();
            assert_eq!(seqs_and_messages(&frame), [(2, b"to the second".to_vec())]);
            on_first.close().await;

            // And the other way round: listening on the second, delivered
            // by a.example's own client at the name's address (the first).
            let mut on_second = via_second.listen(2).await.unwrap();
            let frame = on_second.next_frame(PUSH_WAIT).await.unwrap();
            assert_eq!(seqs_and_messages(&frame), [(2, b"to the second".to_vec())]);
            let sealed =
                mimi_mls::seal_queue_id(&first.queue_key(), B, &via_second.queue_id().unwrap())
                    .unwrap();
            let response = fed
                .provider(A)
                .deliver_to(
                    first.domain(),
                    DeliverMessageRequest::new(b"to the first".to_vec(), vec![sealed]),
                )
                .await
                .unwrap();
            assert_eq!(response.statuses(), [RecipientStatus::Delivered]);
            let frame = on_second.next_frame(PUSH_WAIT).await.unwrap();
            assert_eq!(seqs_and_messages(&frame), [(3, b"to the first".to_vec())]);
            on_second.close().await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_ack_through_one_instance_see_what_the_other_stored() {
    two_instances_of_b()
        .run(|fed| async move {
            let (first, second) = instances(&fed);
            // One provider to its peers and clients: the same signature key
            // record, the same queue key.
            let signature_key = first.get("/signature_key").await.unwrap();
            assert_eq!(
                second
                    .get("/signature_key")
                    .await
                    .unwrap()
                    .success()
                    .unwrap(),
                signature_key.success().unwrap()
            );
            let queue_key = first.get("/client/v1/queue_key").await.unwrap();
            assert_eq!(
                second
                    .get("/client/v1/queue_key")
                    .await
                    .unwrap()
                    .success()
                    .unwrap(),
                queue_key.success().unwrap()
            );

            let phone = fed
                .client(B, "bob", "phone")
                .unwrap()
                .through(first)
                .unwrap();
            phone.register(Some("@bob")).await.unwrap();
            phone.upload_key_packages(2, false).await.unwrap();
            let phone_at_second = phone.through(second).unwrap();
            assert_eq!(phone_at_second.key_package_count(1).await.unwrap(), 2);
            // A device registered at the second is known to the first.
            let tablet = fed
                .client(B, "bob", "tablet")
                .unwrap()
                .through(second)
                .unwrap();
            tablet.register(None).await.unwrap();
            let record = first.client_record(&tablet.client_uri()).await.unwrap();
            assert_eq!(record.map(|r| r.queue_id), tablet.queue_id());

            for message in [b"one".as_slice(), b"two"] {
                let event = delivery(&fed, &phone, message);
                assert_eq!(deliver_at(first, event).await, [RecipientStatus::Delivered]);
            }
            let queue = phone.queue_id().unwrap();
            let fetched = phone_at_second.fetch(1, 10).await.unwrap();
            assert_eq!(
                seqs_and_messages(&fetched),
                [(1, b"one".to_vec()), (2, b"two".to_vec())]
            );
            assert_eq!(phone_at_second.ack(1).await.unwrap().deleted(), 1);
            assert_eq!(first.queue_depth(queue).await.unwrap(), 1);
            let rest = phone.fetch(1, 10).await.unwrap();
            assert_eq!(seqs_and_messages(&rest), [(2, b"two".to_vec())]);
            assert_eq!(phone.ack(2).await.unwrap().deleted(), 1);
            assert_eq!(second.queue_depth(queue).await.unwrap(), 0);
            assert!(
                phone_at_second
                    .fetch(1, 10)
                    .await
                    .unwrap()
                    .messages()
                    .is_empty()
            );
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_at_the_other_instance_is_refused_and_changes_nothing() {
    two_instances_of_b()
        .run(|fed| async move {
            let (first, second) = instances(&fed);
            let bob = fed
                .client(B, "bob", "phone")
                .unwrap()
                .through(first)
                .unwrap();
            bob.register(None).await.unwrap();
            let event = delivery(&fed, &bob, b"once");
            assert_eq!(
                deliver_at(first, event.clone()).await,
                [RecipientStatus::Delivered]
            );
            let before = first.row_counts().await.unwrap();

            let replayed = second
                .post_raw("/deliver_message", OCTET_STREAM, event)
                .await
                .unwrap();
            assert_problem(&replayed, 409, "replay");
            assert_eq!(first.row_counts().await.unwrap(), before);
            assert_eq!(second.row_counts().await.unwrap(), before);
            let fetched = bob.through(second).unwrap().fetch(1, 10).await.unwrap();
            assert_eq!(seqs_and_messages(&fetched), [(1, b"once".to_vec())]);

            // A client's signed request, too, is taken once.
            let upload = bob
                .signed(UploadKeyPackagesRequest::new(
                    vec![bob.key_package(|_| {}).unwrap().bytes],
                    false,
                ))
                .unwrap();
            let taken = bob
                .post(ClientOperation::UploadKeyPackages, upload.clone())
                .await
                .unwrap();
            assert_eq!(taken.status, 200, "{taken}");
            let before = second.row_counts().await.unwrap();
            let replayed = bob
                .through(second)
                .unwrap()
                .post(ClientOperation::UploadKeyPackages, upload)
                .await
                .unwrap();
            assert_problem(&replayed, 409, "replay");
            assert_eq!(second.row_counts().await.unwrap(), before);
        })
        .await;
}

/// KeyPackages per device; more claims than that run at once.
const KEY_PACKAGES: usize = 5;
/// Claims through each instance (within the per-user claim limit of each).
const CLAIMS_PER_INSTANCE: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_through_both_instances_never_hand_out_a_key_package_twice() {
    two_instances_of_b()
        .run(|fed| async move {
            let (first, second) = instances(&fed);
            let phone = fed
                .client(B, "bob", "phone")
                .unwrap()
                .through(first)
                .unwrap();
            let laptop = fed
                .client(B, "bob", "laptop")
                .unwrap()
                .through(second)
                .unwrap();
            let mut uploaded = BTreeSet::new();
            for device in [&phone, &laptop] {
                device.register(None).await.unwrap();
                let mut key_packages = Vec::new();
                for _ in 0..KEY_PACKAGES {
                    key_packages.push(device.key_package(|_| {}).unwrap().bytes);
                }
                uploaded.extend(key_packages.iter().cloned());
                let stored = device.upload(key_packages, false).await.unwrap();
                assert_eq!(stored.stored() as usize, KEY_PACKAGES);
            }

            let mut claims = tokio::task::JoinSet::new();
            for index in 0..2 * CLAIMS_PER_INSTANCE {
                let (fed, user) = (fed.clone(), phone.user_id().clone());
                claims.spawn(async move {
                    let request = GroupKeyPackageRequest::for_user(&user, 1).unwrap();
                    let instance = fed.replica(B, index % 2);
                    let event = fed
                        .provider(A)
                        .sign_event(
                            instance.domain(),
                            EventKind::GroupKeyPackages,
                            request.encode().unwrap(),
                        )
                        .unwrap();
                    let reply = instance
                        .post_raw("/group_key_packages", OCTET_STREAM, event.bytes)
                        .await
                        .unwrap();
                    GroupKeyPackageResponse::decode(&reply.success().unwrap()).unwrap()
                });
            }
            let mut handed_out = Vec::new();
            while let Some(claim) = claims.join_next().await {
                let response = claim.unwrap();
                let mut devices = BTreeSet::new();
                for entry in response.key_packages() {
                    // At most one per device in each answer.
                    assert!(devices.insert(entry.client_of(phone.user_id()).unwrap()));
                    handed_out.push(entry.key_package().to_vec());
                }
            }
            let distinct: BTreeSet<Vec<u8>> = handed_out.iter().cloned().collect();
            assert_eq!(
                distinct.len(),
                handed_out.len(),
                "a KeyPackage was handed out twice"
            );
            // Every one uploaded was handed out, once; none is left.
            assert_eq!(distinct, uploaded);
            for instance in [first, second] {
                for device in [&phone, &laptop] {
                    assert_eq!(instance.stored_key_packages(device, 1).await.unwrap(), 0);
                }
            }
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_cuts_off_its_listeners_and_the_other_serves_them() {
    two_instances_of_b()
        .run(|fed| async move {
            let (first, second) = instances(&fed);
            let bob = fed
                .client(B, "bob", "phone")
                .unwrap()
                .through(second)
                .unwrap();
            bob.register(None).await.unwrap();
            let mut on_second = bob.listen(1).await.unwrap();

            second.stop().await;
            assert_eq!(
                on_second.next(PUSH_WAIT).await.unwrap(),
                Pushed::Closed(None)
            );
            let refused = bob.fetch(1, 10).await;
            assert!(matches!(refused, Err(TestError::Http(_))), "{refused:?}");

            // The client comes back through the first instance.
            let event = delivery(&fed, &bob, b"while the second was down");
            assert_eq!(deliver_at(first, event).await, [RecipientStatus::Delivered]);
            let via_first = bob.through(first).unwrap();
            let mut on_first = via_first.listen(1).await.unwrap();
            let frame = on_first.next_frame(PUSH_WAIT).await.unwrap();
            assert_eq!(
                seqs_and_messages(&frame),
                [(1, b"while the second was down".to_vec())]
            );
            on_first.close().await;

            // Started again, the second serves the same queue.
            second.start_again().await.unwrap();
            let fetched = bob.fetch(1, 10).await.unwrap();
            assert_eq!(seqs_and_messages(&fetched), seqs_and_messages(&frame));
        })
        .await;
}

#[tokio::test]
async fn replicas_the_kit_cannot_run_are_refused() {
    for (builder, expected) in [
        (
            TestFederation::builder(&[B], Backend::Sqlite).replicas(B, 2),
            "2 instances of b.example on SQLite: SQLite is one process's database and wakes listeners in that process only; run replicas on Backend::Postgres",
        ),
        (
            TestFederation::builder(&[B], Backend::Sqlite).replicas(A, 2),
            "replicas of a.example, which is not among the federation's domains [\"b.example\"]: add it to them",
        ),
        (
            TestFederation::builder(&[B], Backend::Sqlite).replicas(B, 0),
            "0 instances of b.example: a domain runs at least one",
        ),
    ] {
        match builder.start().await {
            Err(TestError::Setup(message)) => assert_eq!(message, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
}
