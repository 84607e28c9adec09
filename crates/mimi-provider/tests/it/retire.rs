//! `retire_queue_reference` (docs/wire-spec.md §11.5, §13.5): a client
//! retires one of its queue references, and its provider answers
//! `queue_retired` to deliveries naming it while delivering to the same
//! client's other references; a reference that is not the client's own, or
//! no reference at all, is refused and changes nothing; end to end, a room
//! member's retired reference stops the hub's fan-out to it while the other
//! members get the message.

use std::collections::HashSet;
use std::time::Duration;

use mimi_mls::RoomPolicy;
use mimi_provider::testing::{
    Backend, ProviderHandle, TestClient, TestFederation, TestProvider, group_id_of, leaf_queue_id,
};
use mimi_storage::{ReferenceDigest, ReferenceStore};
use mimi_transport::OCTET_STREAM;
use mimi_wire::client_api::{RetireQueueReferenceRequest, RetireQueueReferenceResponse};
use mimi_wire::ds::{DSOperation, MlsGroupUpdate};
use mimi_wire::{ClientOperation, DeliverMessageRequest, HpkeCiphertext, RecipientStatus};

use crate::harness::{assert_problem, both_backends};

both_backends!(
    a_retired_reference_is_refused_and_the_others_of_the_client_delivered,
    only_a_clients_own_references_can_be_retired,
    a_room_member_with_a_retired_reference_gets_no_more_fanout,
);

/// How long a test waits for deliveries before it fails (a guard against a
/// hanging test, not a timing assertion).
const WAIT: Duration = Duration::from_secs(60);

fn digest(ciphertext: &HpkeCiphertext) -> ReferenceDigest {
    mimi_provider::qs::reference_digest(ciphertext).unwrap()
}

/// Which of `ciphertexts` `provider` holds as retired, read from its storage.
async fn retired(
    provider: &TestProvider,
    ciphertexts: &[&HpkeCiphertext],
) -> HashSet<ReferenceDigest> {
    let digests: Vec<ReferenceDigest> = ciphertexts.iter().map(|c| digest(c)).collect();
    match provider.handle() {
        ProviderHandle::Sqlite(p) => p.storage().retired_among(&digests).await.unwrap(),
        ProviderHandle::Postgres(p) => p.storage().retired_among(&digests).await.unwrap(),
    }
}

/// `mimi_deliveries_total{outcome="queue_retired"}` of `provider`.
fn retired_deliveries(provider: &TestProvider) -> u64 {
    let text = match provider.handle() {
        ProviderHandle::Sqlite(p) => p.metrics().render(None),
        ProviderHandle::Postgres(p) => p.metrics().render(None),
    };
    let line = text
        .lines()
        .find(|l| l.starts_with("mimi_deliveries_total{outcome=\"queue_retired\"}"))
        .unwrap_or_else(|| panic!("no queue_retired counter in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

async fn retire(client: &TestClient, ciphertext: &HpkeCiphertext) -> mimi_provider::testing::Reply {
    let body = RetireQueueReferenceRequest::new(ciphertext.clone());
    client
        .post(
            ClientOperation::RetireQueueReference,
            client.signed(body).unwrap(),
        )
        .await
        .unwrap()
}

async fn retired_newly(client: &TestClient, ciphertext: &HpkeCiphertext) -> bool {
    let reply = retire(client, ciphertext).await;
    RetireQueueReferenceResponse::decode(&reply.success().unwrap())
        .unwrap()
        .newly_retired()
}

async fn a_retired_reference_is_refused_and_the_others_of_the_client_delivered(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            let left_room = bob.sealed_queue_reference().unwrap().into_parts().1;
            let kept = bob.sealed_queue_reference().unwrap().into_parts().1;
            assert!(retired_newly(&bob, &left_room).await);
            // Again (a new request): idempotent, nothing new.
            assert!(!retired_newly(&bob, &left_room).await);
            assert_eq!(
                retired(b, &[&left_room, &kept]).await,
                HashSet::from([digest(&left_room)])
            );

            let request =
                DeliverMessageRequest::new(b"mls".to_vec(), vec![left_room.clone(), kept.clone()]);
            let answer = a.deliver_to(b.domain(), request).await.unwrap();
            assert_eq!(
                answer.statuses(),
                [RecipientStatus::QueueRetired, RecipientStatus::Delivered]
            );
            let queue = bob.queue_id().unwrap();
            assert_eq!(b.queue_depth(queue).await.unwrap(), 1);
            assert_eq!(retired_deliveries(b), 1);
            // The queue itself is open: a reference retired is not a queue retired.
            let fresh = bob.sealed_queue_reference().unwrap().into_parts().1;
            let answer = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"m2".to_vec(), vec![fresh]),
                )
                .await
                .unwrap();
            assert_eq!(answer.statuses(), [RecipientStatus::Delivered]);
            assert_eq!(b.queue_depth(queue).await.unwrap(), 2);
        })
        .await;
}

async fn only_a_clients_own_references_can_be_retired(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            let mallory = fed.client("b.example", "mallory", "laptop").unwrap();
            let alice = fed.client("a.example", "alice", "laptop").unwrap();
            for client in [&bob, &mallory, &alice] {
                client.register(None).await.unwrap();
            }
            let bobs = bob.sealed_queue_reference().unwrap().into_parts().1;
            // Bob's queue ID sealed for b.example, but to a.example's key.
            let wrong_key =
                mimi_mls::seal_queue_id(&a.queue_key(), "b.example", &bob.queue_id().unwrap())
                    .unwrap();
            // Bob's queue ID sealed to b's key, but for another domain's info.
            let wrong_domain =
                mimi_mls::seal_queue_id(&b.queue_key(), "a.example", &bob.queue_id().unwrap())
                    .unwrap();
            let garbage = HpkeCiphertext::new(vec![1; 32], vec![2; 40]);
            let empty = HpkeCiphertext::new(Vec::new(), Vec::new());
            let cases = [
                ("another client's reference", &bobs, 403, "forbidden"),
                (
                    "sealed to another provider's key",
                    &wrong_key,
                    400,
                    "invalid",
                ),
                ("sealed for another domain", &wrong_domain, 400, "invalid"),
                ("not a sealed queue ID", &garbage, 400, "invalid"),
                ("empty", &empty, 400, "invalid"),
            ];
            for (name, ciphertext, status, kind) in cases {
                let before = b.row_counts().await.unwrap();
                let reply = retire(&mallory, ciphertext).await;
                let problem = assert_problem(&reply, status, kind);
                assert!(!problem.detail.is_empty(), "{name}");
                let after = b.row_counts().await.unwrap();
                // Only the request ID is recorded (every authenticated client
                // request's is, whatever the operation answers).
                assert_eq!(after.replay_seen, before.replay_seen + 1, "{name}");
                assert_eq!(
                    mimi_provider::testing::RowCounts {
                        replay_seen: before.replay_seen,
                        ..after
                    },
                    before,
                    "{name}"
                );
                assert!(retired(b, &[ciphertext]).await.is_empty(), "{name}");
            }
            // Bob's reference was not retired by Mallory's attempt.
            let answer = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"mls".to_vec(), vec![bobs]),
                )
                .await
                .unwrap();
            assert_eq!(answer.statuses(), [RecipientStatus::Delivered]);
            // A device of another provider, sending to b.example, is refused
            // before its body is read.
            let alices = alice.sealed_queue_reference().unwrap().into_parts().1;
            let body = RetireQueueReferenceRequest::new(alices.clone());
            let before = b.row_counts().await.unwrap();
            let reply = fed
                .post_raw(
                    "b.example",
                    ClientOperation::RetireQueueReference.endpoint_path(),
                    OCTET_STREAM,
                    alice.signed(body).unwrap(),
                )
                .await
                .unwrap();
            assert_problem(&reply, 400, "invalid");
            assert_eq!(b.row_counts().await.unwrap(), before);
            assert!(retired(a, &[&alices]).await.is_empty());
        })
        .await;
}

/// Alice's room at a.example with Bob and Erin of b.example: Bob retires
/// the reference in his leaf (he is leaving); Alice's next message reaches
/// Erin, and b.example answers the hub `queue_retired` for Bob.
async fn a_room_member_with_a_retired_reference_gets_no_more_fanout(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let alice = fed.client("a.example", "alice", "laptop").unwrap();
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            let erin = fed.client("b.example", "erin", "tablet").unwrap();
            for client in [&alice, &bob, &erin] {
                client.register(None).await.unwrap();
            }
            let mut alice_member = alice.member().unwrap();
            let (bob_member, erin_member) = (bob.member().unwrap(), erin.member().unwrap());

            let policy = RoomPolicy {
                external_joins: false,
                allowed_domains: vec![],
            };
            let (info, tree) = alice_member.create_group(Some(&policy)).unwrap();
            let group_id = group_id_of(&info).unwrap();
            let hub = alice.domain().clone();
            let crls = |domains: &[&str]| -> Vec<Vec<u8>> {
                fed.pki()
                    .crls_for(domains)
                    .unwrap()
                    .iter()
                    .map(|c| c.der().to_vec())
                    .collect()
            };
            let create = DSOperation::create_group(info, tree, crls(&["a.example"]));
            let request = alice.ds_request(&alice_member, &group_id, create).unwrap();
            alice.group_operation(&hub, &request).await.unwrap();

            let mut key_packages = Vec::new();
            for (client, member) in [(&bob, &bob_member), (&erin, &erin_member)] {
                client
                    .upload(vec![member.key_package().unwrap()], false)
                    .await
                    .unwrap();
                let claimed = a.claim_key_packages(client.user_id(), 1).await.unwrap();
                key_packages.push(claimed.key_packages()[0].key_package().to_vec());
            }
            let bobs_leaf_reference = leaf_queue_id(&key_packages[0]).unwrap();
            let out = alice_member.add(&key_packages).unwrap();
            let add = DSOperation::add_clients(
                MlsGroupUpdate::new(out.commit.clone(), out.group_info),
                out.welcome.clone().unwrap(),
                crls(&["b.example"]),
            );
            let request = alice.ds_request(&alice_member, &group_id, add).unwrap();
            alice.group_operation(&hub, &request).await.unwrap();
            alice_member.merge_pending().unwrap();
            // Both got the Welcome through their references.
            for client in [&bob, &erin] {
                let welcome = client.wait_fanout(1, 1, WAIT).await.unwrap();
                assert_eq!(welcome[0].1.message(), out.welcome.as_deref().unwrap());
            }

            assert!(retired_newly(&bob, &bobs_leaf_reference).await);
            let message = alice_member.send(b"bob has left").unwrap();
            let send = DSOperation::send_message(message.clone());
            let request = alice.ds_request(&alice_member, &group_id, send).unwrap();
            alice.group_operation(&hub, &request).await.unwrap();

            let got = erin.wait_fanout(2, 1, WAIT).await.unwrap();
            assert_eq!(got[0].1.message(), message);
            a.outbox_drained(WAIT).await.unwrap();
            assert!(bob.fanout(2).await.unwrap().is_empty());
            assert_eq!(b.queue_depth(bob.queue_id().unwrap()).await.unwrap(), 1);
            assert_eq!(retired_deliveries(b), 1);
        })
        .await;
}
