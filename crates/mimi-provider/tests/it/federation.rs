//! Three providers, each its own domain with real TLS and real HTTP: a.example
//! claims KeyPackages of users at b.example and c.example, reads their queue
//! references from the leaves as a hub does, and delivers to the provider each
//! reference names
//! (draft-kohbrok-mimi-transport §5.7, §5.9; docs/wire-spec.md §11-12).

use mimi_provider::testing::{
    Backend, TestClient, TestFederation, TestProvider, leaf_queue_reference,
};
use mimi_wire::{DeliverMessageRequest, HpkeCiphertext, QueueReference, RecipientStatus};

use crate::harness::{PUSH_WAIT, assert_refused, both_backends};

both_backends!(
    claims_and_delivers_across_three_providers,
    statuses_of_a_mixed_request_are_in_order,
    a_large_fan_out_keeps_every_status_in_order,
    pushes_to_a_listener_subscribed_before_delivery,
    push_sends_the_backlog_then_new_messages,
    a_listener_that_sends_data_is_closed_with_1008,
);

const DOMAINS: [&str; 3] = ["a.example", "b.example", "c.example"];

fn d(name: &str) -> mimi_identifiers::Domain {
    name.parse().unwrap()
}

fn seal(key: &mimi_wire::QueueEncryptionKey, domain: &str, queue_id: &[u8; 16]) -> HpkeCiphertext {
    mimi_mls::seal_queue_id(key, domain, queue_id).unwrap()
}

/// A registered client with `n` KeyPackages of suite 1.
async fn client_with_key_packages(
    fed: &TestFederation,
    domain: &str,
    user: &str,
    device: &str,
    n: usize,
) -> TestClient {
    let client = fed.client(domain, user, device).unwrap();
    client.register(Some(&format!("@{user}"))).await.unwrap();
    let uploaded = client.upload_key_packages(n, false).await.unwrap();
    assert_eq!(
        (uploaded.stored(), uploaded.remaining()),
        (n as u32, n as u64)
    );
    client
}

/// What a hub does to reach `user`'s one client: claim a KeyPackage as `hub`
/// and read the queue reference from its leaf. It names the client's provider.
async fn claim_queue_reference(hub: &TestProvider, client: &TestClient) -> QueueReference {
    let claimed = hub.claim_key_packages(client.user_id(), 1).await.unwrap();
    assert_eq!(claimed.key_packages().len(), 1);
    let entry = &claimed.key_packages()[0];
    assert_eq!(
        &entry.client_of(client.user_id()).unwrap(),
        client.device_id()
    );
    let reference = leaf_queue_reference(entry.key_package()).unwrap();
    assert_eq!(reference.provider_domain(), client.domain());
    reference
}

/// The encrypted queue ID of [`claim_queue_reference`], for tests that
/// deliver to a provider they name themselves.
async fn claim_queue_id(hub: &TestProvider, client: &TestClient) -> HpkeCiphertext {
    claim_queue_reference(hub, client).await.into_parts().1
}

async fn claims_and_delivers_across_three_providers(backend: Backend) {
    TestFederation::builder(&DOMAINS, backend)
        .run(|fed| async move {
            let bob = client_with_key_packages(&fed, "b.example", "bob", "phone", 2).await;
            let carol = client_with_key_packages(&fed, "c.example", "carol", "laptop", 2).await;
            let a = fed.provider("a.example");
            let to_bob = claim_queue_reference(a, &bob).await;
            let to_carol = claim_queue_reference(a, &carol).await;
            // One KeyPackage of each was handed out.
            assert_eq!(bob.key_package_count(1).await.unwrap(), 1);
            assert_eq!(carol.key_package_count(1).await.unwrap(), 1);

            // As a hub fans out: to the provider each leaf's reference names,
            // with the reference's ciphertext as the recipient.
            for (reference, message) in [
                (to_bob, b"for bob".as_slice()),
                (to_carol, b"for carol".as_slice()),
            ] {
                let (provider, sealed) = reference.into_parts();
                let response = a
                    .deliver_to(
                        &provider,
                        DeliverMessageRequest::new(message.to_vec(), vec![sealed]),
                    )
                    .await
                    .unwrap();
                assert_eq!(response.statuses(), [RecipientStatus::Delivered]);
            }

            for (client, message) in [(&bob, b"for bob".as_slice()), (&carol, b"for carol")] {
                let provider = fed.provider(client.domain().as_str());
                let queue = client.queue_id().unwrap();
                let first = client.fetch(1, 10).await.unwrap();
                assert_eq!(first.depth(), 1);
                let got: Vec<_> = first
                    .messages()
                    .iter()
                    .map(|m| (m.seq(), m.message()))
                    .collect();
                assert_eq!(got, [(1, message)]);
                // Fetching deletes nothing: the same again before the ack.
                assert_eq!(client.fetch(1, 10).await.unwrap(), first);
                assert_eq!(provider.queue_depth(queue).await.unwrap(), 1);

                assert_eq!(client.ack(1).await.unwrap().deleted(), 1);
                assert_eq!(provider.queue_depth(queue).await.unwrap(), 0);
                let after = client.fetch(1, 10).await.unwrap();
                assert!(after.messages().is_empty());
                assert_eq!(after.depth(), 0);
                // Acks are idempotent.
                assert_eq!(client.ack(1).await.unwrap().deleted(), 0);
            }
            // a.example stored nothing for anyone.
            assert_eq!(a.row_counts().await.unwrap().queue_messages, 0);
        })
        .await;
}

async fn statuses_of_a_mixed_request_are_in_order(backend: Backend) {
    TestFederation::builder(&DOMAINS, backend)
        .run(|fed| async move {
            let bob = client_with_key_packages(&fed, "b.example", "bob", "phone", 1).await;
            let tablet = fed.client("b.example", "bob", "tablet").unwrap();
            tablet.register(None).await.unwrap();
            let gone = fed.client("b.example", "dave", "phone").unwrap();
            gone.register(None).await.unwrap();
            let (a, b, c) = (
                fed.provider("a.example"),
                fed.provider("b.example"),
                fed.provider("c.example"),
            );
            b.retire_queue(gone.queue_id().unwrap()).await.unwrap();

            let to_bob = claim_queue_id(a, &bob).await;
            let b_key = b.queue_key();
            let to_tablet = seal(&b_key, "b.example", &tablet.queue_id().unwrap());
            let unknown = seal(&b_key, "b.example", &[0x42; 16]);
            let garbage = HpkeCiphertext::new(vec![7; 32], vec![9; 32]);
            let other_key = seal(&c.queue_key(), "b.example", &bob.queue_id().unwrap());
            let other_domain = seal(&b_key, "c.example", &bob.queue_id().unwrap());
            let retired = seal(&b_key, "b.example", &gone.queue_id().unwrap());

            let response = a
                .deliver_to(
                    &d("b.example"),
                    DeliverMessageRequest::new(
                        b"mixed".to_vec(),
                        vec![
                            to_bob,
                            unknown,
                            garbage,
                            other_key,
                            other_domain,
                            retired,
                            to_tablet,
                        ],
                    ),
                )
                .await
                .unwrap();
            use RecipientStatus::*;
            assert_eq!(
                response.statuses(),
                [
                    Delivered,
                    UnknownQueue,
                    UndecryptableQueueId,
                    UndecryptableQueueId,
                    UndecryptableQueueId,
                    QueueRetired,
                    Delivered
                ]
            );
            // The good ones were delivered, nothing else was stored.
            for client in [&bob, &tablet] {
                let fetched = client.fetch(1, 10).await.unwrap();
                assert_eq!(fetched.messages().len(), 1);
                assert_eq!(fetched.messages()[0].message(), b"mixed");
            }
            assert_eq!(b.total_depth().await.unwrap(), 2);
            assert_eq!(b.queue_depth(gone.queue_id().unwrap()).await.unwrap(), 0);
        })
        .await;
}

/// Past 32 recipients the provider opens queue IDs on the blocking pool;
/// the answer must be the same: one status per recipient, in order.
async fn a_large_fan_out_keeps_every_status_in_order(backend: Backend) {
    TestFederation::builder(&DOMAINS[..2], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let mut clients = Vec::new();
            for i in 0..5 {
                let client = fed
                    .client("b.example", &format!("user{i}"), "phone")
                    .unwrap();
                client.register(None).await.unwrap();
                clients.push(client);
            }
            let key = b.queue_key();
            let garbage = HpkeCiphertext::new(vec![7; 32], vec![9; 32]);
            let mut recipients = Vec::new();
            let mut expected = Vec::new();
            for i in 0..200 {
                if i % 3 == 0 {
                    recipients.push(garbage.clone());
                    expected.push(RecipientStatus::UndecryptableQueueId);
                } else {
                    let client = &clients[i % clients.len()];
                    recipients.push(seal(&key, "b.example", &client.queue_id().unwrap()));
                    expected.push(RecipientStatus::Delivered);
                }
            }
            let response = a
                .deliver_to(
                    &d("b.example"),
                    DeliverMessageRequest::new(b"fan-out".to_vec(), recipients),
                )
                .await
                .unwrap();
            assert_eq!(response.statuses(), expected.as_slice());
            let delivered = expected
                .iter()
                .filter(|s| **s == RecipientStatus::Delivered)
                .count();
            assert_eq!(b.total_depth().await.unwrap(), delivered as u64);
        })
        .await;
}

async fn pushes_to_a_listener_subscribed_before_delivery(backend: Backend) {
    TestFederation::builder(&DOMAINS, backend)
        .run(|fed| async move {
            let bob = client_with_key_packages(&fed, "b.example", "bob", "phone", 1).await;
            let a = fed.provider("a.example");
            let sealed = claim_queue_id(a, &bob).await;
            // Subscribe first, then deliver.
            let mut listener = bob.listen(1).await.unwrap();
            let response = a
                .deliver_to(
                    &d("b.example"),
                    DeliverMessageRequest::new(b"pushed".to_vec(), vec![sealed]),
                )
                .await
                .unwrap();
            assert_eq!(response.statuses(), [RecipientStatus::Delivered]);
            let frame = listener.next_frame(PUSH_WAIT).await.unwrap();
            let got: Vec<_> = frame
                .messages()
                .iter()
                .map(|m| (m.seq(), m.message()))
                .collect();
            assert_eq!(got, [(1, b"pushed".as_slice())]);
            assert_eq!(frame.depth(), 1);
            // Pushing deletes nothing; the client acknowledges as usual.
            assert_eq!(bob.ack(1).await.unwrap().deleted(), 1);
            listener.close().await;
        })
        .await;
}

async fn push_sends_the_backlog_then_new_messages(backend: Backend) {
    TestFederation::builder(&DOMAINS, backend)
        .run(|fed| async move {
            let bob = client_with_key_packages(&fed, "b.example", "bob", "phone", 3).await;
            let c = fed.provider("c.example");
            let mut sealed = Vec::new();
            for _ in 0..3 {
                sealed.push(claim_queue_id(c, &bob).await);
            }
            let b_domain = d("b.example");
            let deliver = |n: u8, queue_id: HpkeCiphertext| {
                c.deliver_to(
                    &b_domain,
                    DeliverMessageRequest::new(vec![n], vec![queue_id]),
                )
            };
            deliver(1, sealed.remove(0)).await.unwrap();
            deliver(2, sealed.remove(0)).await.unwrap();
            // From seq 2: message 1 is not sent again.
            let mut listener = bob.listen(2).await.unwrap();
            let backlog = listener.next_frame(PUSH_WAIT).await.unwrap();
            let got: Vec<_> = backlog
                .messages()
                .iter()
                .map(|m| (m.seq(), m.message()))
                .collect();
            assert_eq!(got, [(2, [2u8].as_slice())]);
            deliver(3, sealed.remove(0)).await.unwrap();
            let next = listener.next_frame(PUSH_WAIT).await.unwrap();
            let got: Vec<_> = next
                .messages()
                .iter()
                .map(|m| (m.seq(), m.message()))
                .collect();
            assert_eq!(got, [(3, [3u8].as_slice())]);
            listener.close().await;
            assert_eq!(bob.fetch(1, 10).await.unwrap().depth(), 3);
        })
        .await;
}

async fn a_listener_that_sends_data_is_closed_with_1008(backend: Backend) {
    TestFederation::builder(&DOMAINS[..2], backend)
        .run(|fed| async move {
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            let mut listener = bob.listen(1).await.unwrap();
            listener.send_binary(b"not allowed".to_vec()).await.unwrap();
            // §13.6: the client sends no data frames; the server closes with
            // 1008 (policy violation).
            assert_eq!(
                listener.next(PUSH_WAIT).await.unwrap(),
                mimi_provider::testing::Pushed::Closed(Some(1008))
            );
            // An unregistered device cannot listen at all.
            let stranger = fed.client("b.example", "eve", "phone").unwrap();
            assert_refused(stranger.listen(1).await, 401, "unauthenticated");
        })
        .await;
}
