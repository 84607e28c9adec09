//! The hub (draft-kohbrok-mimi-transport §5.2-5.4, draft-robert-mimi-delivery-service)
//! end to end, with three providers: real clients (OpenMLS members whose leaf
//! keys are their device keys) create a room at a.example, add members of
//! b.example and c.example, talk, update, remove, join by external commit and
//! leave; every member's queue gets the hub's messages once, in the hub's
//! order. A request that is not acceptable is refused with its exact problem
//! type and changes nothing at the hub, and nothing is delivered. A member
//! provider that is down gets everything once it is back, in order.

use std::time::Duration;

use mimi_identifiers::Domain;
use mimi_mls::RoomPolicy;
use mimi_mls::test_utils::{TestMember, forge, sealed_queue_reference};
use mimi_provider::testing::{
    Backend, HubAccepted, TestClient, TestFederation, TestProvider, group_id_of, now_ms,
};
use mimi_storage::StoredGroup;
use mimi_transport::OCTET_STREAM;
use mimi_wire::EventKind;
use mimi_wire::client_api::HubEndpoint;
use mimi_wire::ds::{DSOperation, DSRequest, DSRequestBody, FanoutMessage, MlsGroupUpdate};

use crate::harness::{assert_problem, both_backends};

both_backends!(
    hub_endpoints_refuse_what_is_not_a_request_for_a_room,
    a_room_across_three_providers,
    refused_group_operations_change_nothing_and_deliver_nothing,
    a_provider_that_was_down_gets_every_message_once_in_order,
);

const A: &str = "a.example";
const B: &str = "b.example";
const C: &str = "c.example";

/// How long a test waits for deliveries before it fails (a guard against a
/// hanging test, not a timing assertion).
const WAIT: Duration = Duration::from_secs(60);

fn ders(crls: &[mimi_credentials::Crl]) -> Vec<Vec<u8>> {
    crls.iter().map(|c| c.der().to_vec()).collect()
}

/// A device that is a member (or about to be one) of the room, and how far
/// it has read its queue.
struct Person {
    client: TestClient,
    member: TestMember,
    /// The queue sequence number of the next message to read.
    next: u64,
}

impl Person {
    async fn new(fed: &TestFederation, at: &str, user: &str, device: &str) -> Person {
        let client = fed.client(at, user, device).unwrap();
        client.register(None).await.unwrap();
        let member = client.member().unwrap();
        Person {
            client,
            member,
            next: 1,
        }
    }

    /// Uploads a KeyPackage of this member (its private keys stay with it)
    /// and has `claimer` claim it over S2S, as the adder's provider does.
    async fn claimed_key_package(&self, claimer: &TestProvider) -> Vec<u8> {
        let kp = self.member.key_package().unwrap();
        self.client.upload(vec![kp], false).await.unwrap();
        let claimed = claimer
            .claim_key_packages(self.client.user_id(), 1)
            .await
            .unwrap();
        assert_eq!(claimed.key_packages().len(), 1);
        claimed.key_packages()[0].key_package().to_vec()
    }

    fn request(&self, room: &Room, operation: DSOperation) -> DSRequest {
        self.client
            .ds_request(&self.member, &room.group_id, operation)
            .unwrap()
    }

    /// Sends `operation` to the hub and checks it was numbered next.
    async fn send(&self, room: &mut Room, operation: DSOperation) -> HubAccepted {
        let request = self.request(room, operation);
        let accepted = self
            .client
            .group_operation(&room.hub, &request)
            .await
            .unwrap();
        room.accepted(accepted);
        accepted
    }

    /// The next hub message in the queue: checked to be the room's, from
    /// its hub, numbered `sequence`; acknowledged.
    async fn receive(&mut self, room: &Room, sequence: u64) -> FanoutMessage {
        let messages = self.client.wait_fanout(self.next, 1, WAIT).await.unwrap();
        let (seq, message) = messages.into_iter().next().unwrap();
        assert_eq!(seq, self.next, "{}: queue order", self.client.device_id());
        self.next = seq + 1;
        self.client.ack(seq).await.unwrap();
        assert_eq!(message.hub_domain(), room.hub.as_str());
        assert_eq!(message.group_id(), room.group_id);
        assert_eq!(
            message.group_sequence(),
            sequence,
            "{}: the hub's order",
            self.client.device_id()
        );
        message
    }

    /// The next hub message, processed by the member: a commit is merged,
    /// a proposal stored, an application message's plaintext returned.
    async fn process(&mut self, room: &Room, sequence: u64) -> Option<Vec<u8>> {
        let message = self.receive(room, sequence).await;
        self.member.process(message.message()).unwrap()
    }

    /// Nothing waits in the queue (call once the hub's outbox is empty).
    async fn has_nothing_more(&self) {
        let left = self.client.fanout(self.next).await.unwrap();
        assert!(
            left.is_empty(),
            "{} got {} more message(s): {:?}",
            self.client.device_id(),
            left.len(),
            left.iter()
                .map(|(_, m)| m.group_sequence())
                .collect::<Vec<_>>()
        );
    }

    fn leaf(&self) -> u32 {
        self.member.leaf_index().unwrap()
    }
}

/// The room as the test follows it: its hub, its ID, and the last group
/// sequence number the hub gave out.
struct Room {
    hub: Domain,
    group_id: Vec<u8>,
    last: u64,
}

impl Room {
    /// Alice creates the room with `policy` at her own provider's hub.
    async fn create(alice: &mut Person, fed: &TestFederation, policy: &RoomPolicy) -> Room {
        let (info, tree) = alice.member.create_group(Some(policy)).unwrap();
        let mut room = Room {
            hub: alice.client.domain().clone(),
            group_id: group_id_of(&info).unwrap(),
            last: 0,
        };
        let crls = ders(&fed.pki().crls(alice.client.domain().as_str()).unwrap());
        let accepted = alice
            .send(&mut room, DSOperation::create_group(info, tree, crls))
            .await;
        assert_eq!((accepted.epoch, accepted.group_sequence), (0, 1));
        room
    }

    /// Records what the hub accepted: the next number (an add's Welcome
    /// takes the one after).
    fn accepted(&mut self, accepted: HubAccepted) {
        self.accepted_sequence(accepted.group_sequence);
    }

    fn accepted_sequence(&mut self, sequence: u64) {
        assert_eq!(sequence, self.last + 1, "group sequences are gap-free");
        self.last = sequence;
    }

    /// The add's Welcome, numbered right after its commit.
    fn welcome_sequence(&mut self) -> u64 {
        self.last += 1;
        self.last
    }
}

/// Alice adds `joiners` (their KeyPackages claimed by her provider); each
/// gets the Welcome in its queue, fetches the tree through its own
/// provider and joins. Returns the new epoch.
async fn add(
    fed: &TestFederation,
    room: &mut Room,
    alice: &mut Person,
    others: &mut [&mut Person],
    joiners: &mut [&mut Person],
) -> u64 {
    let a = fed.provider(alice.client.domain().as_str());
    let mut key_packages = Vec::new();
    let mut domains = Vec::new();
    for joiner in joiners.iter() {
        key_packages.push(joiner.claimed_key_package(a).await);
        domains.push(joiner.client.domain().as_str().to_string());
    }
    domains.sort();
    domains.dedup();
    let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
    let out = alice.member.add(&key_packages).unwrap();
    let crls = ders(&fed.pki().crls_for(&domains).unwrap());
    let accepted = alice
        .send(
            room,
            DSOperation::add_clients(
                MlsGroupUpdate::new(out.commit.clone(), out.group_info),
                out.welcome.clone().unwrap(),
                crls,
            ),
        )
        .await;
    alice.member.merge_pending().unwrap();
    let commit_sequence = accepted.group_sequence;
    let welcome_sequence = room.welcome_sequence();
    for other in others.iter_mut() {
        other.process(room, commit_sequence).await;
    }
    for joiner in joiners.iter_mut() {
        let welcome = joiner.receive(room, welcome_sequence).await;
        assert_eq!(welcome.message(), out.welcome.as_deref().unwrap());
        let tree = joiner
            .client
            .welcome_information(&room.hub, &joiner.member, &room.group_id, accepted.epoch)
            .await
            .unwrap();
        joiner
            .member
            .join_by_welcome(welcome.message(), &tree)
            .unwrap();
        assert_eq!(joiner.member.epoch().unwrap(), accepted.epoch);
    }
    accepted.epoch
}

/// `sender` says `text`; every one of `readers` decrypts it, numbered as
/// the hub answered.
async fn say(room: &mut Room, sender: &mut Person, readers: &mut [&mut Person], text: &str) {
    let message = sender.member.send(text.as_bytes()).unwrap();
    let accepted = sender.send(room, DSOperation::send_message(message)).await;
    for reader in readers.iter_mut() {
        let plaintext = reader.process(room, accepted.group_sequence).await;
        assert_eq!(plaintext.as_deref(), Some(text.as_bytes()));
    }
}

async fn hub_endpoints_refuse_what_is_not_a_request_for_a_room(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let no_room = DSRequest::new(
                DSRequestBody::new(
                    b"no such room".to_vec(),
                    now,
                    DSOperation::send_message(vec![1]),
                )
                .unwrap(),
                0,
                vec![7; 64],
            )
            .encode()
            .unwrap();
            for (path, kind, body, status, problem_kind) in [
                (
                    "/group_operation",
                    EventKind::GroupOperation,
                    b"an MLS message".to_vec(),
                    400,
                    "malformed",
                ),
                (
                    "/group_operation",
                    EventKind::GroupOperation,
                    no_room,
                    404,
                    "not-found",
                ),
                (
                    "/welcome_information",
                    EventKind::WelcomeInformation,
                    Vec::new(),
                    400,
                    "malformed",
                ),
                (
                    "/external_commit_information",
                    EventKind::ExternalCommitInformation,
                    Vec::new(),
                    400,
                    "malformed",
                ),
            ] {
                let signed = a.sign_event(b.domain(), kind, body).unwrap();
                let before = b.row_counts().await.unwrap();
                let reply = fed
                    .post_raw("b.example", path, OCTET_STREAM, signed.bytes)
                    .await
                    .unwrap();
                assert_problem(&reply, status, problem_kind);
                assert_eq!(b.row_counts().await.unwrap(), before, "{path}");
            }
        })
        .await;
}

/// Alice at a.example, Bob at b.example and Carol at c.example in a room
/// whose hub is a.example; then Bob updates, Carol is removed, Dave of
/// c.example joins by external commit and leaves by a self-remove that Bob
/// commits.
async fn a_room_across_three_providers(backend: Backend) {
    TestFederation::builder(&[A, B, C], backend)
        .run(|fed| async move {
            let mut alice = Person::new(&fed, A, "alice", "laptop").await;
            let mut bob = Person::new(&fed, B, "bob", "phone").await;
            let mut carol = Person::new(&fed, C, "carol", "tablet").await;
            let mut dave = Person::new(&fed, C, "dave", "desk").await;
            let policy = RoomPolicy {
                external_joins: true,
                allowed_domains: vec![],
            };
            let mut room = Room::create(&mut alice, &fed, &policy).await;
            let epoch = add(
                &fed,
                &mut room,
                &mut alice,
                &mut [],
                &mut [&mut bob, &mut carol],
            )
            .await;
            assert_eq!(epoch, 1);

            // Everyone talks; each message reaches the two others.
            say(
                &mut room,
                &mut alice,
                &mut [&mut bob, &mut carol],
                "hello from a",
            )
            .await;
            say(
                &mut room,
                &mut bob,
                &mut [&mut alice, &mut carol],
                "hello from b",
            )
            .await;
            say(
                &mut room,
                &mut carol,
                &mut [&mut alice, &mut bob],
                "hello from c",
            )
            .await;

            // Bob updates his leaf (same credential, fresh keys).
            let out = bob.member.update().unwrap();
            let crls = ders(&fed.pki().crls(B).unwrap());
            let accepted = bob
                .send(
                    &mut room,
                    DSOperation::update_client(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        crls,
                    ),
                )
                .await;
            bob.member.merge_pending().unwrap();
            assert_eq!(accepted.epoch, 2);
            alice.process(&room, accepted.group_sequence).await;
            carol.process(&room, accepted.group_sequence).await;
            say(
                &mut room,
                &mut carol,
                &mut [&mut alice, &mut bob],
                "after bob's update",
            )
            .await;

            // Alice removes Carol: Carol gets the commit, then nothing more.
            let out = alice.member.remove(&[carol.leaf()]).unwrap();
            let accepted = alice
                .send(
                    &mut room,
                    DSOperation::remove_clients(MlsGroupUpdate::new(out.commit, out.group_info)),
                )
                .await;
            alice.member.merge_pending().unwrap();
            assert_eq!(accepted.epoch, 3);
            bob.process(&room, accepted.group_sequence).await;
            carol.process(&room, accepted.group_sequence).await;
            assert!(!carol.member.is_active(), "carol learnt she was removed");
            say(&mut room, &mut alice, &mut [&mut bob], "without carol").await;

            // Dave of c.example joins by external commit, through his own
            // provider, from what the hub hands out.
            let (group_info, tree) = dave
                .client
                .external_commit_information(&room.hub, &room.group_id)
                .await
                .unwrap();
            let out = dave.member.join_external(&group_info, &tree).unwrap();
            let crls = ders(&fed.pki().crls(C).unwrap());
            let accepted = dave
                .send(
                    &mut room,
                    DSOperation::external_join(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        crls,
                    ),
                )
                .await;
            assert_eq!(accepted.epoch, 4);
            alice.process(&room, accepted.group_sequence).await;
            bob.process(&room, accepted.group_sequence).await;
            say(
                &mut room,
                &mut dave,
                &mut [&mut alice, &mut bob],
                "hello from d",
            )
            .await;
            say(
                &mut room,
                &mut bob,
                &mut [&mut alice, &mut dave],
                "welcome, d",
            )
            .await;

            // Dave leaves: his self-remove proposal goes to the others, and
            // Bob's next commit covers it; Dave gets that commit, then
            // nothing more.
            let proposal = dave.member.self_remove_proposal().unwrap();
            let accepted = dave
                .send(&mut room, DSOperation::self_remove_client(proposal))
                .await;
            assert_eq!(accepted.epoch, 4, "a proposal does not change the epoch");
            alice.process(&room, accepted.group_sequence).await;
            bob.process(&room, accepted.group_sequence).await;
            let out = bob.member.update().unwrap();
            let crls = ders(&fed.pki().crls(B).unwrap());
            let accepted = bob
                .send(
                    &mut room,
                    DSOperation::update_client(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        crls,
                    ),
                )
                .await;
            bob.member.merge_pending().unwrap();
            assert_eq!(accepted.epoch, 5);
            alice.process(&room, accepted.group_sequence).await;
            dave.process(&room, accepted.group_sequence).await;
            assert!(!dave.member.is_active(), "dave learnt he left");
            say(&mut room, &mut alice, &mut [&mut bob], "just us").await;

            // Everything was delivered: nobody has anything left, and the
            // hub's room is where the members are.
            let a = fed.provider(A);
            a.outbox_drained(WAIT).await.unwrap();
            for person in [&alice, &bob, &carol, &dave] {
                person.has_nothing_more().await;
            }
            let stored = a.hub_group(&room.group_id).await.unwrap().unwrap();
            assert_eq!(stored.epoch, 5);
            assert_eq!(stored.sequence, room.last);
            assert_eq!(alice.member.epoch().unwrap(), 5);
            assert_eq!(bob.member.epoch().unwrap(), 5);
        })
        .await;
}

/// What must not change when the hub refuses: its tables and the room.
async fn hub_state(a: &TestProvider, room: &Room) -> ([i64; 8], StoredGroup) {
    a.outbox_drained(WAIT).await.unwrap();
    let counts = a.row_counts().await.unwrap().hub();
    let group = a.hub_group(&room.group_id).await.unwrap().unwrap();
    (counts, group)
}

/// Sends `request` as `sender` and checks the refusal and that nothing
/// changed at the hub and nothing reached `readers`.
async fn refused(
    a: &TestProvider,
    room: &Room,
    sender: &TestClient,
    request: Vec<u8>,
    readers: &[&Person],
    status: u16,
    kind: &str,
) {
    let before = hub_state(a, room).await;
    let reply = sender
        .hub_post(&room.hub, HubEndpoint::GroupOperation, request)
        .await
        .unwrap();
    assert_problem(&reply, status, kind);
    assert_eq!(
        hub_state(a, room).await,
        before,
        "a refusal changed the hub ({kind})"
    );
    for reader in readers {
        reader.has_nothing_more().await;
    }
}

/// Each refused operation answers its exact status and problem type, leaves
/// the hub's tables and the room as they were, and delivers nothing.
async fn refused_group_operations_change_nothing_and_deliver_nothing(backend: Backend) {
    TestFederation::builder(&[A, B, C], backend)
        .run(|fed| async move {
            let a = fed.provider(A);
            let mut alice = Person::new(&fed, A, "alice", "laptop").await;
            let mut bob = Person::new(&fed, B, "bob", "phone").await;
            let mut room = Room::create(&mut alice, &fed, &RoomPolicy::default()).await;
            add(&fed, &mut room, &mut alice, &mut [], &mut [&mut bob]).await;
            let bob_crls = ders(&fed.pki().crls(B).unwrap());

            // A commit whose sender is no member.
            let out = alice.member.update().unwrap();
            let stranger = forge::set_commit_sender(&out.commit, 7).unwrap();
            let body = DSRequestBody::new(
                room.group_id.clone(),
                now_ms(),
                DSOperation::update_client(
                    MlsGroupUpdate::new(stranger, out.group_info.clone()),
                    vec![],
                ),
            )
            .unwrap();
            let request = alice.client.sign_ds_request(body, 7).unwrap();
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "not-a-member",
            )
            .await;

            // A message signed as a leaf that does not exist.
            let message = alice.member.send(b"from nowhere").unwrap();
            let body = DSRequestBody::new(
                room.group_id.clone(),
                now_ms(),
                DSOperation::send_message(message),
            )
            .unwrap();
            let request = alice.client.sign_ds_request(body, 9).unwrap();
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "not-a-member",
            )
            .await;

            // A forged framed-content signature on the commit.
            let forged = forge::flip_commit_signature(&out.commit).unwrap();
            let request = alice.request(
                &room,
                DSOperation::update_client(
                    MlsGroupUpdate::new(forged, out.group_info.clone()),
                    vec![],
                ),
            );
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "bad-signature",
            )
            .await;

            // The genuine commit, but the request signed by Bob's key as
            // Alice's leaf, and by Alice's key as Bob's leaf.
            let genuine = DSOperation::update_client(
                MlsGroupUpdate::new(out.commit.clone(), out.group_info.clone()),
                vec![],
            );
            let body =
                DSRequestBody::new(room.group_id.clone(), now_ms(), genuine.clone()).unwrap();
            let request = bob.client.sign_ds_request(body, alice.leaf()).unwrap();
            refused(
                a,
                &room,
                &bob.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "bad-signature",
            )
            .await;
            let body = DSRequestBody::new(room.group_id.clone(), now_ms(), genuine).unwrap();
            let request = alice.client.sign_ds_request(body, bob.leaf()).unwrap();
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "forbidden",
            )
            .await;
            alice.member.discard_pending().unwrap();

            // Stale: Bob's commit of an epoch the hub has left.
            let late = bob.member.update().unwrap();
            let late_message = bob.member.send(b"late").unwrap();
            let out = alice.member.update().unwrap();
            let accepted = alice
                .send(
                    &mut room,
                    DSOperation::update_client(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        vec![],
                    ),
                )
                .await;
            alice.member.merge_pending().unwrap();
            let update = bob.receive(&room, accepted.group_sequence).await;
            let request = bob.request(
                &room,
                DSOperation::update_client(
                    MlsGroupUpdate::new(late.commit, late.group_info),
                    bob_crls.clone(),
                ),
            );
            refused(
                a,
                &room,
                &bob.client,
                request.encode().unwrap(),
                &[&alice],
                409,
                "stale-epoch",
            )
            .await;
            let request = bob.request(&room, DSOperation::send_message(late_message));
            refused(
                a,
                &room,
                &bob.client,
                request.encode().unwrap(),
                &[&alice],
                409,
                "stale-epoch",
            )
            .await;
            bob.member.discard_pending().unwrap();
            bob.member.process(update.message()).unwrap();

            // Added leaves that fail the credential policy: a chain to
            // another root, a revoked certificate, a certificate whose key
            // is not the leaf's.
            let elsewhere = mimi_mls::test_utils::TestPki::new(&[B]).unwrap();
            let id = elsewhere.device(B, "mallory", "phone").unwrap();
            let (_, _, reference) = sealed_queue_reference(B).unwrap();
            let mallory = TestMember::new(id.chain_der(), id.signer().unwrap(), reference).unwrap();
            let revoked = Person::new(&fed, B, "bob", "tablet").await;
            let liar_client = fed.client(B, "erin", "phone").unwrap();
            liar_client.register(None).await.unwrap();
            let other_key = fed.client(B, "erin", "watch").unwrap();
            let liar = TestMember::new(
                liar_client.chain_der(),
                other_key.signer().unwrap(),
                liar_client.sealed_queue_reference().unwrap(),
            )
            .unwrap();
            let revoking = ders(
                &fed.pki()
                    .crls_revoking(B, &[revoked.client.chain()[0].serial().to_vec()])
                    .unwrap(),
            );
            for (key_package, crls) in [
                (mallory.key_package().unwrap(), bob_crls.clone()),
                (revoked.member.key_package().unwrap(), revoking),
                (liar.key_package().unwrap(), bob_crls.clone()),
            ] {
                let out = alice.member.add(&[key_package]).unwrap();
                let request = alice.request(
                    &room,
                    DSOperation::add_clients(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        out.welcome.unwrap(),
                        crls,
                    ),
                );
                refused(
                    a,
                    &room,
                    &alice.client,
                    request.encode().unwrap(),
                    &[&bob],
                    403,
                    "bad-credential",
                )
                .await;
                alice.member.discard_pending().unwrap();
            }

            // A replayed request: accepted once, refused as a replay after,
            // delivered once.
            let message = alice.member.send(b"once").unwrap();
            let request = alice
                .request(&room, DSOperation::send_message(message))
                .encode()
                .unwrap();
            let reply = alice
                .client
                .hub_post(&room.hub, HubEndpoint::GroupOperation, request.clone())
                .await
                .unwrap();
            assert!(reply.is_success(), "{reply}");
            let sequence = room.welcome_sequence();
            assert_eq!(
                bob.process(&room, sequence).await.as_deref(),
                Some(&b"once"[..])
            );
            refused(a, &room, &alice.client, request, &[&bob], 409, "replay").await;
            // A commit sent again after the hub merged it (its answer lost):
            // the sender learns it was accepted, not that it is stale.
            let out = alice.member.update().unwrap();
            let request = alice
                .request(
                    &room,
                    DSOperation::update_client(
                        MlsGroupUpdate::new(out.commit, out.group_info),
                        vec![],
                    ),
                )
                .encode()
                .unwrap();
            let answer = alice
                .client
                .hub(&room.hub, HubEndpoint::GroupOperation, request.clone())
                .await
                .unwrap();
            let mimi_wire::ds::DSResponse::Accepted { group_sequence, .. } = answer else {
                panic!("{answer:?}");
            };
            alice.member.merge_pending().unwrap();
            room.accepted_sequence(group_sequence);
            bob.process(&room, group_sequence).await;
            refused(a, &room, &alice.client, request, &[&bob], 409, "replay").await;

            // A request older than the freshness window.
            let message = alice.member.send(b"old").unwrap();
            let body = DSRequestBody::new(
                room.group_id.clone(),
                now_ms() - mimi_wire::DEFAULT_FRESHNESS_WINDOW_MS - 60_000,
                DSOperation::send_message(message),
            )
            .unwrap();
            let request = alice.client.sign_ds_request(body, alice.leaf()).unwrap();
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                409,
                "replay",
            )
            .await;

            // create_group from another provider's client: rooms are created
            // at the creator's own hub (403, relayed by b.example).
            let mut other = bob.client.member().unwrap();
            let (info, tree) = other.create_group(None).unwrap();
            let body = DSRequestBody::new(
                group_id_of(&info).unwrap(),
                now_ms(),
                DSOperation::create_group(info, tree, bob_crls.clone()),
            )
            .unwrap();
            let request = bob
                .client
                .sign_ds_request(body, 0)
                .unwrap()
                .encode()
                .unwrap();
            refused(
                a,
                &room,
                &bob.client,
                request.clone(),
                &[&alice],
                403,
                "forbidden",
            )
            .await;
            // … and over S2S directly, signed by b.example.
            let before = hub_state(a, &room).await;
            let event = fed
                .provider(B)
                .sign_event(a.domain(), EventKind::GroupOperation, request)
                .unwrap();
            let reply = fed
                .post_raw(A, "/group_operation", OCTET_STREAM, event.bytes)
                .await
                .unwrap();
            assert_problem(&reply, 403, "forbidden");
            assert_eq!(hub_state(a, &room).await, before);

            // The hub hands out trees only to whom it recorded as joiners,
            // asking through their own provider, and no GroupInfo for an
            // external join to a room that does not allow them.
            let before = hub_state(a, &room).await;
            // Bob's own request for an epoch he was not added in, and his request
            // for the right epoch asked through another provider than his.
            for (through, epoch) in [(&bob, 2), (&alice, 1)] {
                let request = bob
                    .client
                    .welcome_info_request(&bob.member, &room.group_id, epoch)
                    .unwrap();
                let reply = through
                    .client
                    .hub_post(
                        &room.hub,
                        HubEndpoint::WelcomeInformation,
                        request.encode().unwrap(),
                    )
                    .await
                    .unwrap();
                assert_problem(&reply, 404, "not-found");
            }
            // Signed by Alice's key for Bob's.
            let request = alice
                .client
                .welcome_info_request(&bob.member, &room.group_id, 1)
                .unwrap();
            let reply = bob
                .client
                .hub_post(
                    &room.hub,
                    HubEndpoint::WelcomeInformation,
                    request.encode().unwrap(),
                )
                .await
                .unwrap();
            assert_problem(&reply, 403, "bad-signature");
            let dave = fed.client(C, "dave", "desk").unwrap();
            dave.register(None).await.unwrap();
            let refused_join = dave
                .external_commit_information(&room.hub, &room.group_id)
                .await;
            match refused_join {
                Err(mimi_provider::testing::TestError::Refused(reply)) => {
                    assert_problem(&reply, 403, "policy");
                }
                other => panic!("expected a policy refusal, got {other:?}"),
            }
            assert_eq!(hub_state(a, &room).await, before);

            // An update that changes Alice's identity to another device.
            let phone = fed.client(A, "alice", "phone").unwrap();
            let out = alice
                .member
                .update_credential(phone.chain_der(), phone.signer().unwrap())
                .unwrap();
            let body = DSRequestBody::new(
                room.group_id.clone(),
                now_ms(),
                DSOperation::update_client(
                    MlsGroupUpdate::new(out.commit, out.group_info),
                    ders(&fed.pki().crls(A).unwrap()),
                ),
            )
            .unwrap();
            // Signed with the key of her leaf before the commit.
            let request = alice.client.sign_ds_request(body, 0).unwrap();
            refused(
                a,
                &room,
                &alice.client,
                request.encode().unwrap(),
                &[&bob],
                403,
                "bad-credential",
            )
            .await;

            // An encrypted handshake.
            bob.member.encrypt_handshakes().unwrap();
            let out = bob.member.update().unwrap();
            let request = bob.request(
                &room,
                DSOperation::update_client(
                    MlsGroupUpdate::new(out.commit, out.group_info),
                    bob_crls,
                ),
            );
            refused(
                a,
                &room,
                &bob.client,
                request.encode().unwrap(),
                &[],
                422,
                "encrypted-handshake",
            )
            .await;
            alice.has_nothing_more().await;
        })
        .await;
}

/// c.example is down while Alice sends 100 messages: the members at
/// a.example and b.example get them at once; once c.example is back,
/// Carol's queue gets all 100, once each, in the hub's order.
async fn a_provider_that_was_down_gets_every_message_once_in_order(backend: Backend) {
    TestFederation::builder(&[A, B, C], backend)
        .run(|fed| async move {
            let mut alice = Person::new(&fed, A, "alice", "laptop").await;
            let mut ann = Person::new(&fed, A, "ann", "laptop").await;
            let mut bob = Person::new(&fed, B, "bob", "phone").await;
            let mut carol = Person::new(&fed, C, "carol", "tablet").await;
            let mut room = Room::create(&mut alice, &fed, &RoomPolicy::default()).await;
            add(
                &fed,
                &mut room,
                &mut alice,
                &mut [],
                &mut [&mut ann, &mut bob, &mut carol],
            )
            .await;

            fed.provider(C).stop().await;
            let first = room.last + 1;
            let mut texts = Vec::new();
            for i in 0..100 {
                let text = format!("message {i}");
                let message = alice.member.send(text.as_bytes()).unwrap();
                alice
                    .send(&mut room, DSOperation::send_message(message))
                    .await;
                texts.push(text);
            }
            for reader in [&mut ann, &mut bob] {
                let got = reader
                    .client
                    .wait_fanout(reader.next, 100, WAIT)
                    .await
                    .unwrap();
                check_in_order(reader, &got, first, &texts);
            }
            // Carol's deliveries wait in the hub's outbox.
            assert!(fed.provider(A).outbox_pending().await.unwrap() >= 1);

            fed.start_again(C).await.unwrap();
            let got = carol
                .client
                .wait_fanout(carol.next, 100, WAIT)
                .await
                .unwrap();
            check_in_order(&mut carol, &got, first, &texts);
            fed.provider(A).outbox_drained(WAIT).await.unwrap();
            for person in [&ann, &bob, &carol] {
                person.has_nothing_more().await;
            }
        })
        .await;
}

/// `got` is exactly the 100 messages numbered from `first`, consecutive in
/// the queue and in the group, each decrypting to its text.
fn check_in_order(reader: &mut Person, got: &[(u64, FanoutMessage)], first: u64, texts: &[String]) {
    assert_eq!(
        got.len(),
        texts.len(),
        "{}: exactly once",
        reader.client.device_id()
    );
    for (i, ((seq, message), text)) in got.iter().zip(texts).enumerate() {
        let i = i as u64;
        assert_eq!(*seq, reader.next + i, "queue sequence");
        assert_eq!(message.group_sequence(), first + i, "group sequence");
        let plaintext = reader.member.process(message.message()).unwrap();
        assert_eq!(plaintext.as_deref(), Some(text.as_bytes()));
    }
    reader.next += got.len() as u64;
}
