//! The hub's checks on real OpenMLS clients and a real test PKI. Every refusal
//! asserts the exact error and that the group's snapshot is byte-identical
//! before and after.

use std::time::SystemTime;

use mimi_credentials::{
    Crl, KeyPair, Rejection, SignatureScheme as CertScheme, Subject, TrustAnchors, Validity,
};
use mimi_identifiers::Domain;
use mimi_mls::hub::{Checks, CommitKind, CredentialRefusal, HubError, HubGroup};
use mimi_mls::test_utils::{TestMember, TestPki, device_id, forge, sealed_queue_reference};
use mimi_mls::{RoomPolicy, RoomPolicyError};
use proptest::prelude::*;

const A: &str = "a.example";
const B: &str = "b.example";
const C: &str = "c.example";

struct World {
    pki: TestPki,
    roots: TrustAnchors,
    crls: Vec<Crl>,
}

impl World {
    fn new() -> World {
        let pki = TestPki::new(&[A, B, C]).unwrap();
        let roots = pki.trust_anchors();
        let crls = pki.crls().unwrap();
        World { pki, roots, crls }
    }

    fn checks(&self) -> Checks<'_> {
        Checks {
            roots: &self.roots,
            crls: &self.crls,
            now: SystemTime::now(),
        }
    }

    fn refresh_crls(&mut self) {
        self.crls = self.pki.crls().unwrap();
    }

    fn member(&self, domain: &str, user: &str, device: &str) -> TestMember {
        let id = self.pki.device(domain, user, device).unwrap();
        let (_, _, reference) = sealed_queue_reference(domain).unwrap();
        TestMember::new(id.chain_der(), id.signer().unwrap(), reference).unwrap()
    }

    /// Alice at a.example creates a room with `policy`.
    fn room(&self, policy: Option<&RoomPolicy>) -> (HubGroup, TestMember) {
        let mut alice = self.member(A, "alice", "laptop");
        let (info, tree) = alice.create_group(policy).unwrap();
        let hub = HubGroup::create(&info, &tree, &self.checks()).unwrap();
        (hub, alice)
    }

    /// Alice adds `joiner`; the hub accepts; the joiner joins by Welcome.
    fn add(&self, hub: &mut HubGroup, alice: &mut TestMember, joiner: &mut TestMember) {
        let kp = joiner.key_package().unwrap();
        let out = alice.add(&[kp]).unwrap();
        let outcome = hub
            .commit(
                CommitKind::AddClients,
                &out.commit,
                &out.group_info,
                &self.checks(),
            )
            .unwrap();
        alice.merge_pending().unwrap();
        joiner
            .join_by_welcome(out.welcome.as_ref().unwrap(), &outcome.ratchet_tree)
            .unwrap();
    }
}

/// Runs `f` on the hub, expects `expected`, and checks that nothing changed.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    hub: &mut HubGroup,
    expected: HubError,
    f: impl FnOnce(&mut HubGroup) -> Result<T, HubError>,
) {
    let before = hub.to_snapshot().unwrap();
    let got = f(hub).unwrap_err();
    assert_eq!(got, expected);
    assert_eq!(
        hub.to_snapshot().unwrap(),
        before,
        "a refusal changed the group"
    );
}

fn credential(leaf_index: u32, reason: CredentialRefusal) -> HubError {
    HubError::Credential { leaf_index, reason }
}

fn domain(name: &str) -> Domain {
    Domain::parse(name).unwrap()
}

#[test]
fn create_tracks_the_creator_and_round_trips_through_a_snapshot() {
    let w = World::new();
    let policy = RoomPolicy {
        external_joins: true,
        allowed_domains: vec![domain(A), domain(B)],
    };
    let (hub, alice) = w.room(Some(&policy));
    assert_eq!(hub.epoch(), 0);
    assert_eq!(hub.room_policy(), &policy);
    let members = hub.members();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].signature_key, alice.signer().public_key());
    let refs = hub.queue_references();
    assert_eq!(refs[0].1.provider_domain().as_str(), A);
    let snapshot = hub.to_snapshot().unwrap();
    assert_eq!(snapshot[0], mimi_mls::hub::SNAPSHOT_VERSION);
    let again = HubGroup::from_snapshot(&snapshot).unwrap();
    assert_eq!(again.to_snapshot().unwrap(), snapshot);
    assert_eq!(again.group_id(), hub.group_id());
    assert_eq!(
        again.export_ratchet_tree().unwrap(),
        hub.export_ratchet_tree().unwrap()
    );
}

#[test]
fn create_refuses_what_mimi_cannot_serve() {
    let w = World::new();
    // No required capabilities.
    let mut alice = w.member(A, "alice", "laptop");
    let (info, tree) = alice
        .create_group_with(openmls::prelude::Extensions::empty())
        .unwrap();
    assert_eq!(
        HubGroup::create(&info, &tree, &w.checks()).unwrap_err(),
        HubError::RequiredCapabilities {
            missing: "credential type x509 and extension mimi_queue_reference (0xF0A1)".into()
        }
    );
    // A creator whose certificate is not its key.
    let id = w.pki.device(A, "alice", "laptop").unwrap();
    let other = w.pki.device(A, "alice", "phone").unwrap();
    let (_, _, reference) = sealed_queue_reference(A).unwrap();
    let mut liar = TestMember::new(id.chain_der(), other.signer().unwrap(), reference).unwrap();
    let (info, tree) = liar.create_group(None).unwrap();
    assert_eq!(
        HubGroup::create(&info, &tree, &w.checks()).unwrap_err(),
        credential(0, CredentialRefusal::KeyMismatch)
    );
    // Garbage and oversized inputs.
    assert!(matches!(
        HubGroup::create(b"garbage", b"", &w.checks()).unwrap_err(),
        HubError::Malformed {
            what: "GroupInfo",
            ..
        }
    ));
    let huge = vec![0u8; mimi_mls::hub::MAX_GROUP_INFO_LEN + 1];
    assert_eq!(
        HubGroup::create(&huge, b"", &w.checks()).unwrap_err(),
        HubError::TooLarge {
            what: "GroupInfo",
            len: huge.len(),
            max: mimi_mls::hub::MAX_GROUP_INFO_LEN
        }
    );
}

#[test]
fn add_members_of_other_domains_then_they_talk() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    let mut carol = w.member(C, "carol", "tablet");
    let kps = vec![bob.key_package().unwrap(), carol.key_package().unwrap()];
    let out = alice.add(&kps).unwrap();
    let outcome = hub
        .commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    alice.merge_pending().unwrap();
    assert_eq!(outcome.epoch, 1);
    assert_eq!(outcome.committer, 0);
    let mut added: Vec<String> = outcome.added.iter().map(|m| m.device.to_string()).collect();
    added.sort();
    assert_eq!(added, ["bob/phone@b.example", "carol/tablet@c.example"]);
    assert_eq!(outcome.group_info, hub.group_info());
    let welcome = out.welcome.unwrap();
    bob.join_by_welcome(&welcome, &outcome.ratchet_tree)
        .unwrap();
    carol
        .join_by_welcome(&welcome, &outcome.ratchet_tree)
        .unwrap();
    assert_eq!(bob.epoch().unwrap(), hub.epoch());
    let message = bob.send(b"hello").unwrap();
    hub.check_application(&message).unwrap();
    assert_eq!(alice.process(&message).unwrap().unwrap(), b"hello");
    assert_eq!(hub.queue_references().len(), 3);
}

#[test]
fn remove_reports_the_removed_queue_from_before() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let bob_leaf = bob.leaf_index().unwrap();
    let bob_queue = hub.member(bob_leaf).unwrap().queue_reference;
    let out = alice.remove(&[bob_leaf]).unwrap();
    let outcome = hub
        .commit(
            CommitKind::RemoveClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    assert_eq!(outcome.removed.len(), 1);
    assert_eq!(outcome.removed[0].leaf_index, bob_leaf);
    assert_eq!(outcome.removed[0].queue_reference, bob_queue);
    assert!(hub.member(bob_leaf).is_none());
}

#[test]
fn update_with_the_same_or_a_renewed_certificate() {
    let mut w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let out = bob.update().unwrap();
    let outcome = hub
        .commit(
            CommitKind::UpdateClient,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    bob.merge_pending().unwrap();
    assert!(
        outcome.updated.is_empty(),
        "same credential: nothing to re-verify"
    );
    alice.process(&out.commit).unwrap();

    // A renewed certificate for the same device, on a new key.
    let renewed = w.pki.device(B, "bob", "phone").unwrap();
    let out = bob
        .update_credential(renewed.chain_der(), renewed.signer().unwrap())
        .unwrap();
    w.refresh_crls();
    let outcome = hub
        .commit(
            CommitKind::UpdateClient,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    bob.merge_pending().unwrap();
    assert_eq!(outcome.updated.len(), 1);
    assert_eq!(outcome.updated[0].device.to_string(), "bob/phone@b.example");
    assert_eq!(
        hub.member(outcome.committer).unwrap().signature_key,
        renewed.key.public_key().raw()
    );
}

#[test]
fn update_that_changes_identity_is_refused() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let other = w.pki.device(A, "alice", "phone").unwrap();
    let out = alice
        .update_credential(other.chain_der(), other.signer().unwrap())
        .unwrap();
    refused(
        &mut hub,
        credential(
            0,
            CredentialRefusal::IdentityChanged {
                before: "mimi://a.example/d/alice/laptop".into(),
                after: "mimi://a.example/d/alice/phone".into(),
            },
        ),
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
}

#[test]
fn self_remove_must_be_committed() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let proposal = bob.self_remove_proposal().unwrap();
    // Only bob may hand in bob's leave request.
    refused(
        &mut hub,
        HubError::NotSelfRemove {
            detail: "the proposal is leaf 1's, but the request is signed as leaf 0; a member hands in only its own leave request".into(),
        },
        |hub| hub.self_remove(&proposal, 0),
    );
    let reference = hub.self_remove(&proposal, 1).unwrap();
    assert!(!reference.is_empty());
    assert_eq!(hub.queued_proposals(), 1);
    // The queued proposal is part of the stored state.
    let reloaded = HubGroup::from_snapshot(&hub.to_snapshot().unwrap()).unwrap();
    assert_eq!(reloaded.queued_proposals(), 1);
    alice.process(&proposal).unwrap();

    let out = alice.update_consuming(false).unwrap();
    refused(
        &mut hub,
        HubError::UncoveredProposals { uncovered: 1 },
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
    alice.discard_pending().unwrap();

    let out = alice.update().unwrap();
    let outcome = hub
        .commit(
            CommitKind::UpdateClient,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    assert_eq!(outcome.removed.len(), 1);
    assert_eq!(outcome.removed[0].leaf_index, bob.leaf_index().unwrap());
    assert_eq!(hub.queued_proposals(), 0);
    assert_eq!(hub.members().len(), 1);
}

#[test]
fn self_remove_refuses_removing_someone_else() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let proposal = bob.remove_proposal(0).unwrap();
    refused(
        &mut hub,
        HubError::NotSelfRemove {
            detail: "leaf 1 proposes to remove leaf 0; only one's own leaf may be proposed for removal here".into(),
        },
        |hub| hub.self_remove(&proposal, 1),
    );
}

#[test]
fn external_join_follows_the_room_policy() {
    let w = World::new();
    let open = RoomPolicy {
        external_joins: true,
        allowed_domains: vec![],
    };
    let (mut hub, mut alice) = w.room(Some(&open));
    let mut dave = w.member(B, "dave", "desk");
    let out = dave
        .join_external(hub.group_info(), &hub.export_ratchet_tree().unwrap())
        .unwrap();
    let outcome = hub
        .commit(
            CommitKind::ExternalJoin,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    assert_eq!(outcome.added.len(), 1);
    assert_eq!(outcome.added[0].device.to_string(), "dave/desk@b.example");
    assert_eq!(outcome.committer, dave.leaf_index().unwrap());
    alice.process(&out.commit).unwrap();
    // The joiner's key signs its requests.
    let key = &outcome.added[0].signature_key;
    hub.verify_signature_with_key(key, "MIMI 1.0 DSRequest", b"body", &sign(&dave, b"body"))
        .unwrap();

    // Default policy: external joins refused.
    let (mut closed, _) = w.room(None);
    let mut erin = w.member(B, "erin", "desk");
    let out = erin
        .join_external(closed.group_info(), &closed.export_ratchet_tree().unwrap())
        .unwrap();
    refused(&mut closed, HubError::ExternalJoinRefused, |hub| {
        hub.commit(
            CommitKind::ExternalJoin,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
    });

    // Allowed, but not for b.example.
    let only_a = RoomPolicy {
        external_joins: true,
        allowed_domains: vec![domain(A)],
    };
    let (mut room, _) = w.room(Some(&only_a));
    let mut frank = w.member(B, "frank", "desk");
    let out = frank
        .join_external(room.group_info(), &room.export_ratchet_tree().unwrap())
        .unwrap();
    refused(
        &mut room,
        credential(1, CredentialRefusal::DomainNotAllowed { domain: B.into() }),
        |hub| {
            hub.commit(
                CommitKind::ExternalJoin,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
}

fn sign(member: &TestMember, content: &[u8]) -> Vec<u8> {
    use openmls_traits::signatures::Signer;
    let mut signed = Vec::new();
    use tls_codec::Serialize;
    tls_codec::VLByteSlice(b"MIMI 1.0 DSRequest")
        .tls_serialize(&mut signed)
        .unwrap();
    tls_codec::VLByteSlice(content)
        .tls_serialize(&mut signed)
        .unwrap();
    member.signer().sign(&signed).unwrap()
}

#[test]
fn member_request_signatures() {
    let w = World::new();
    let (hub, alice) = w.room(None);
    let signature = sign(&alice, b"request");
    hub.verify_member_signature(0, "MIMI 1.0 DSRequest", b"request", &signature)
        .unwrap();
    assert_eq!(
        hub.verify_member_signature(0, "MIMI 1.0 DSRequest", b"other", &signature)
            .unwrap_err(),
        HubError::BadSignature { what: "request" }
    );
    assert_eq!(
        hub.verify_member_signature(0, "MIMI 1.0 Other", b"request", &signature)
            .unwrap_err(),
        HubError::BadSignature { what: "request" }
    );
    assert_eq!(
        hub.verify_member_signature(5, "MIMI 1.0 DSRequest", b"request", &signature)
            .unwrap_err(),
        HubError::UnknownLeaf { leaf_index: 5 }
    );
}

#[test]
fn application_messages_of_the_current_epoch_only() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let early = bob.send(b"epoch 1").unwrap();
    hub.check_application(&early).unwrap();
    let out = alice.update().unwrap();
    hub.commit(
        CommitKind::UpdateClient,
        &out.commit,
        &out.group_info,
        &w.checks(),
    )
    .unwrap();
    assert_eq!(
        hub.check_application(&early).unwrap_err(),
        HubError::StaleEpoch { current: 2, got: 1 }
    );
    // A commit is not an application message.
    assert!(matches!(
        hub.check_application(&out.commit).unwrap_err(),
        HubError::WrongMessageType { .. }
    ));
}

#[test]
fn commits_that_fail_mls_checks() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let out = alice.update().unwrap();

    // Not a member: the sender leaf does not exist.
    let stranger = forge::set_commit_sender(&out.commit, 7).unwrap();
    refused(&mut hub, HubError::NotAMember { leaf_index: 7 }, |hub| {
        hub.commit(
            CommitKind::UpdateClient,
            &stranger,
            &out.group_info,
            &w.checks(),
        )
    });
    // Forged framed-content signature.
    let forged = forge::flip_commit_signature(&out.commit).unwrap();
    refused(
        &mut hub,
        HubError::BadSignature {
            what: "framed content",
        },
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &forged,
                &out.group_info,
                &w.checks(),
            )
        },
    );
    // A parent hash that does not match, everything else signed correctly.
    let context = alice.group_context().unwrap();
    let wrong = forge::wrong_parent_hash(&out.commit, alice.signer(), &context).unwrap();
    refused(&mut hub, HubError::ParentHashMismatch, |hub| {
        hub.commit(
            CommitKind::UpdateClient,
            &wrong,
            &out.group_info,
            &w.checks(),
        )
    });
    // The wrong operation.
    refused(
        &mut hub,
        HubError::WrongOperation {
            expected: CommitKind::AddClients,
            detail: "it adds no one".into(),
        },
        |hub| {
            hub.commit(
                CommitKind::AddClients,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
    // Garbage, trailing bytes, oversized.
    assert!(matches!(
        hub.stage_commit(
            CommitKind::UpdateClient,
            b"\x00\x01\x00",
            &out.group_info,
            &w.checks()
        )
        .unwrap_err(),
        HubError::Malformed { what: "commit", .. }
    ));
    let mut trailing = out.commit.clone();
    trailing.push(0);
    assert_eq!(
        hub.stage_commit(
            CommitKind::UpdateClient,
            &trailing,
            &out.group_info,
            &w.checks()
        )
        .unwrap_err(),
        HubError::Malformed {
            what: "commit",
            detail: "1 bytes follow it; send exactly one".into()
        }
    );
    let huge = vec![0u8; mimi_mls::hub::MAX_MESSAGE_LEN + 1];
    assert_eq!(
        hub.stage_commit(
            CommitKind::UpdateClient,
            &huge,
            &out.group_info,
            &w.checks()
        )
        .unwrap_err(),
        HubError::TooLarge {
            what: "commit",
            len: huge.len(),
            max: mimi_mls::hub::MAX_MESSAGE_LEN
        }
    );
    // The genuine commit still goes through.
    hub.commit(
        CommitKind::UpdateClient,
        &out.commit,
        &out.group_info,
        &w.checks(),
    )
    .unwrap();
    alice.merge_pending().unwrap();

    // Stale: bob's commit from epoch 2 after the hub moved on.
    bob.process(&out.commit).unwrap();
    let late = bob.update().unwrap();
    let next = alice.update().unwrap();
    hub.commit(
        CommitKind::UpdateClient,
        &next.commit,
        &next.group_info,
        &w.checks(),
    )
    .unwrap();
    refused(
        &mut hub,
        HubError::StaleEpoch { current: 3, got: 2 },
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &late.commit,
                &late.group_info,
                &w.checks(),
            )
        },
    );
}

#[test]
fn encrypted_handshakes_are_refused() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    alice.encrypt_handshakes().unwrap();
    let out = alice.update().unwrap();
    refused(&mut hub, HubError::EncryptedHandshake, |hub| {
        hub.commit(
            CommitKind::UpdateClient,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
    });
}

#[test]
fn group_info_must_be_the_committers_for_the_new_epoch() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let old_info = hub.group_info().to_vec();
    let out = alice.update().unwrap();

    // Bob's own GroupInfo of the new epoch: valid, but not the committer's.
    let mut bob_view = out.clone();
    bob.process(&out.commit).unwrap();
    bob_view.group_info = bob.export_group_info().unwrap();
    refused(
        &mut hub,
        HubError::GroupInfoSigner {
            signer: 1,
            committer: 0,
        },
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &out.commit,
                &bob_view.group_info,
                &w.checks(),
            )
        },
    );
    // Claims alice, signed by bob.
    let claimed = forge::resign_group_info(&out.group_info, 0, bob.signer()).unwrap();
    refused(
        &mut hub,
        HubError::BadSignature { what: "GroupInfo" },
        |hub| hub.commit(CommitKind::UpdateClient, &out.commit, &claimed, &w.checks()),
    );
    // Alice's GroupInfo of the previous epoch.
    refused(
        &mut hub,
        HubError::GroupInfoMismatch {
            detail: "its group context is not that of the new epoch 2".into(),
        },
        |hub| {
            hub.commit(
                CommitKind::UpdateClient,
                &out.commit,
                &old_info,
                &w.checks(),
            )
        },
    );
    // The right context, but another confirmation tag.
    let tag = forge::group_info_with_wrong_tag(&out.group_info, alice.signer()).unwrap();
    refused(
        &mut hub,
        HubError::GroupInfoMismatch {
            detail: "its confirmation tag is not the commit's".into(),
        },
        |hub| hub.commit(CommitKind::UpdateClient, &out.commit, &tag, &w.checks()),
    );
    hub.commit(
        CommitKind::UpdateClient,
        &out.commit,
        &out.group_info,
        &w.checks(),
    )
    .unwrap();
}

#[test]
fn added_leaves_pass_the_credential_policy() {
    let mut w = World::new();
    let (mut hub, mut alice) = w.room(None);

    // A chain from a root the hub does not trust.
    let elsewhere = TestPki::new(&[B]).unwrap();
    let id = elsewhere.device(B, "mallory", "phone").unwrap();
    let (_, _, reference) = sealed_queue_reference(B).unwrap();
    let mallory = TestMember::new(id.chain_der(), id.signer().unwrap(), reference).unwrap();
    let out = alice.add(&[mallory.key_package().unwrap()]).unwrap();
    let err = hub
        .stage_commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap_err();
    let HubError::Credential {
        leaf_index: 1,
        reason: CredentialRefusal::Chain(chain),
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(matches!(chain.reason, Rejection::UntrustedRoot { .. }));
    refused(&mut hub, err.clone(), |hub| {
        hub.commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
    });
    alice.discard_pending().unwrap();

    // Revoked by its domain CA.
    let id = w.pki.device(B, "bob", "phone").unwrap();
    w.pki.revoke(B, &id.serial());
    w.refresh_crls();
    let (_, _, reference) = sealed_queue_reference(B).unwrap();
    let bob = TestMember::new(id.chain_der(), id.signer().unwrap(), reference).unwrap();
    let out = alice.add(&[bob.key_package().unwrap()]).unwrap();
    let err = hub
        .stage_commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap_err();
    let HubError::Credential {
        reason: CredentialRefusal::Chain(chain),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        matches!(chain.reason, Rejection::Revoked { .. }),
        "{chain:?}"
    );
    refused(&mut hub, err.clone(), |hub| {
        hub.commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
    });
    alice.discard_pending().unwrap();

    // The certificate's key is not the leaf's signature key.
    let id = w.pki.device(B, "carl", "phone").unwrap();
    let other = w.pki.device(B, "carl", "tablet").unwrap();
    let (_, _, reference) = sealed_queue_reference(B).unwrap();
    let carl = TestMember::new(id.chain_der(), other.signer().unwrap(), reference).unwrap();
    let out = alice.add(&[carl.key_package().unwrap()]).unwrap();
    refused(
        &mut hub,
        credential(1, CredentialRefusal::KeyMismatch),
        |hub| {
            hub.commit(
                CommitKind::AddClients,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
    alice.discard_pending().unwrap();

    // The queue is at another provider than the credential's domain.
    let id = w.pki.device(B, "dora", "phone").unwrap();
    let (_, _, reference) = sealed_queue_reference(C).unwrap();
    let dora = TestMember::new(id.chain_der(), id.signer().unwrap(), reference).unwrap();
    let out = alice.add(&[dora.key_package().unwrap()]).unwrap();
    refused(
        &mut hub,
        credential(
            1,
            CredentialRefusal::QueueDomainMismatch {
                queue_domain: C.into(),
                user_domain: B.into(),
            },
        ),
        |hub| {
            hub.commit(
                CommitKind::AddClients,
                &out.commit,
                &out.group_info,
                &w.checks(),
            )
        },
    );
    alice.discard_pending().unwrap();

    // a.example's CA certifies a user of b.example (outside its name constraint).
    let key = KeyPair::generate(CertScheme::Ed25519).unwrap();
    let device = device_id(B, "eve", "phone").unwrap();
    let ca = w.pki.domain_ca(A).unwrap();
    let leaf = ca
        .dangerous_issue_unchecked(
            &Subject::Device {
                device,
                with_user_uri: true,
                numbers: None,
                organization: None,
            },
            &key.public_key(),
            Validity::starting_now(std::time::Duration::from_secs(3600)),
            |_| {},
        )
        .unwrap();
    let chain = vec![leaf.der().to_vec(), ca.certificate().der().to_vec()];
    let signer = mimi_mls::test_utils::TestSigner::from_pkcs8(
        &key.to_pkcs8_der(),
        mimi_mls::SignatureScheme::ED25519,
    )
    .unwrap();
    let (_, _, reference) = sealed_queue_reference(B).unwrap();
    let eve = TestMember::new(chain, signer, reference).unwrap();
    let out = alice.add(&[eve.key_package().unwrap()]).unwrap();
    let err = hub
        .stage_commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap_err();
    let HubError::Credential {
        reason: CredentialRefusal::Chain(chain),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        matches!(chain.reason, Rejection::NameConstraint { .. }),
        "{chain:?}"
    );
    refused(&mut hub, err.clone(), |hub| {
        hub.commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
    });
    alice.discard_pending().unwrap();

    // Missing CRLs refuse the chain too.
    let gina = w.member(B, "gina", "phone");
    let out = alice.add(&[gina.key_package().unwrap()]).unwrap();
    let no_crls = Checks {
        roots: &w.roots,
        crls: &[],
        now: SystemTime::now(),
    };
    let err = hub
        .stage_commit(
            CommitKind::AddClients,
            &out.commit,
            &out.group_info,
            &no_crls,
        )
        .unwrap_err();
    let HubError::Credential {
        reason: CredentialRefusal::Chain(chain),
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert!(
        matches!(chain.reason, Rejection::CrlMissing { .. }),
        "{chain:?}"
    );
}

#[test]
fn a_staged_commit_merges_only_onto_the_state_it_was_staged_on() {
    let w = World::new();
    let (mut hub, mut alice) = w.room(None);
    let mut bob = w.member(B, "bob", "phone");
    w.add(&mut hub, &mut alice, &mut bob);
    let out = alice.update().unwrap();
    let staged = hub
        .stage_commit(
            CommitKind::UpdateClient,
            &out.commit,
            &out.group_info,
            &w.checks(),
        )
        .unwrap();
    let next = staged.next_snapshot().unwrap();
    // Meanwhile bob asks to leave: the staged commit does not cover it.
    hub.self_remove(&bob.self_remove_proposal().unwrap(), 1)
        .unwrap();
    refused(&mut hub, HubError::StaleStagedCommit, |hub| {
        hub.merge(staged)
    });
    assert_eq!(HubGroup::from_snapshot(&next).unwrap().epoch(), 2);
}

#[test]
fn room_policy_codec() {
    let policy = RoomPolicy {
        external_joins: true,
        allowed_domains: vec![domain(A), domain(B)],
    };
    let bytes = policy.encode().unwrap();
    assert_eq!(RoomPolicy::decode(&bytes).unwrap(), policy);
    assert_eq!(
        RoomPolicy::decode(&[2, 0]).unwrap_err(),
        RoomPolicyError::BadExternalJoins { found: 2 }
    );
    let mut upper = vec![0, 10, 9];
    upper.extend_from_slice(b"A.example");
    assert!(matches!(
        RoomPolicy::decode(&upper).unwrap_err(),
        RoomPolicyError::BadDomain { index: 0, .. }
    ));
    let twice = RoomPolicy {
        external_joins: false,
        allowed_domains: vec![domain(A), domain(A)],
    };
    assert_eq!(
        twice.encode().unwrap_err(),
        RoomPolicyError::DuplicateDomain { domain: A.into() }
    );
    assert!(RoomPolicy::default().allows_domain(&domain(C)));
    assert!(!policy.allows_domain(&domain(C)));
}

#[test]
fn snapshot_refusals() {
    assert!(matches!(
        HubGroup::from_snapshot(&[]).unwrap_err(),
        HubError::Snapshot { .. }
    ));
    assert_eq!(
        HubGroup::from_snapshot(&[9, 0]).unwrap_err(),
        HubError::Snapshot {
            detail: "format version 9 is unknown; this build reads version 1".into()
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = RoomPolicy::decode(&bytes);
        let _ = HubGroup::from_snapshot(&bytes);
        let mut with_version = vec![mimi_mls::hub::SNAPSHOT_VERSION];
        with_version.extend_from_slice(&bytes);
        let _ = HubGroup::from_snapshot(&with_version);
        let w = fixture();
        let _ = HubGroup::create(&bytes, &bytes, &w.checks());
        let mut hub = HubGroup::from_snapshot(&w.snapshot).unwrap();
        let _ = hub.stage_commit(CommitKind::UpdateClient, &bytes, &bytes, &w.checks());
        let _ = hub.self_remove(&bytes, 0);
        let _ = hub.check_application(&bytes);
        // Random bytes after a valid MLSMessage header reach deeper decoders.
        let mut framed = vec![0, 1, 0, 1];
        framed.extend_from_slice(&bytes);
        let _ = hub.stage_commit(CommitKind::UpdateClient, &framed, &bytes, &w.checks());
        let _ = hub.self_remove(&framed, 0);
        framed[3] = 2;
        let _ = hub.check_application(&framed);
        prop_assert_eq!(hub.to_snapshot().unwrap(), w.snapshot.clone());
    }
}

struct Fixture {
    roots: TrustAnchors,
    crls: Vec<Crl>,
    snapshot: Vec<u8>,
}

impl Fixture {
    fn checks(&self) -> Checks<'_> {
        Checks {
            roots: &self.roots,
            crls: &self.crls,
            now: SystemTime::now(),
        }
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let w = World::new();
        let (hub, _) = w.room(None);
        Fixture {
            snapshot: hub.to_snapshot().unwrap(),
            roots: w.roots,
            crls: w.crls,
        }
    })
}
