//! Revocation by the registrar (EnrollmentStore::revoke_client, migration
//! 0007): the client row, its KeyPackages, its pending enrollment and its
//! queue's messages go in one transaction, the queue is retired, and the
//! record stays; a second revocation and bad inputs change nothing. Invites
//! carry phone numbers.

use mimi_storage::{
    ClientRecord, ClientStore, EnrollmentStore, Invite, KeyPackageStore, MAX_INVITE_PHONE_NUMBERS,
    PendingEnrollment, QueueStore, RevokedClient, StorageError,
};

use crate::harness::{Backend, both_backends};

const ALICE: &str = "mimi://a.example/u/alice";
const ALICE_PHONE: &str = "mimi://a.example/d/alice/phone";
const ALICE_LAPTOP: &str = "mimi://a.example/d/alice/laptop";
const NOW: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;
const QUEUE: [u8; 16] = [7; 16];
const LAPTOP_QUEUE: [u8; 16] = [8; 16];

fn client(device: &str, queue: [u8; 16]) -> ClientRecord {
    ClientRecord {
        client_id: device.to_owned(),
        user_id: ALICE.to_owned(),
        handle: None,
        signature_key: vec![queue[0]; 44],
        certificate_chain: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n".into(),
        queue_id: queue,
        registered_at_ms: NOW,
    }
}

fn revocation(device: &str, reason: u8) -> RevokedClient {
    RevokedClient {
        client_id: device.to_owned(),
        user_id: ALICE.to_owned(),
        serial: vec![0x5a; 16],
        reason,
        revoked_at_ms: NOW,
    }
}

fn invite(tag: u8, phone_numbers: &[&str]) -> Invite {
    Invite {
        code_hash: [tag; 32],
        user_id: ALICE.to_owned(),
        created_at_ms: NOW - u64::from(tag),
        expires_at_ms: NOW + HOUR,
        used_at_ms: None,
        phone_numbers: phone_numbers.iter().map(|n| (*n).to_owned()).collect(),
    }
}

async fn a_revoked_client_is_removed_with_its_queue_and_key_packages<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.register_client(&client(ALICE_PHONE, QUEUE))
        .await
        .unwrap();
    s.register_client(&client(ALICE_LAPTOP, LAPTOP_QUEUE))
        .await
        .unwrap();
    s.enqueue(QUEUE, b"one").await.unwrap();
    s.enqueue(LAPTOP_QUEUE, b"two").await.unwrap();
    s.upload(ALICE, ALICE_PHONE, b"ref-1", 1, b"kp-1", false)
        .await
        .unwrap();
    s.upload(ALICE, ALICE_LAPTOP, b"ref-2", 1, b"kp-2", false)
        .await
        .unwrap();
    assert_eq!(s.latest_revocation_ms().await.unwrap(), None);

    let removed = s.revoke_client(&revocation(ALICE_PHONE, 1)).await.unwrap();
    assert_eq!(removed, Some(client(ALICE_PHONE, QUEUE)));
    assert_eq!(s.client(ALICE_PHONE).await.unwrap(), None);
    assert_eq!(
        s.client_revocation(ALICE_PHONE).await.unwrap(),
        Some(revocation(ALICE_PHONE, 1))
    );
    assert_eq!(s.latest_revocation_ms().await.unwrap(), Some(NOW));
    assert_eq!(s.fetch(QUEUE, 0, 10).await.unwrap(), vec![]);
    assert!(matches!(
        s.enqueue(QUEUE, b"late").await,
        Err(StorageError::QueueRetired { .. })
    ));
    assert_eq!(s.count(ALICE, ALICE_PHONE, 1).await.unwrap(), 0);
    // The user's other device is untouched.
    assert_eq!(
        s.clients_of_user(ALICE).await.unwrap(),
        vec![client(ALICE_LAPTOP, LAPTOP_QUEUE)]
    );
    assert_eq!(s.fetch(LAPTOP_QUEUE, 0, 10).await.unwrap().len(), 1);
    assert_eq!(s.count(ALICE, ALICE_LAPTOP, 1).await.unwrap(), 1);

    // Twice: refused, nothing changes.
    let rows = backend.rows(&s, "revoked_clients").await;
    assert!(matches!(
        s.revoke_client(&RevokedClient {
            revoked_at_ms: NOW + HOUR,
            ..revocation(ALICE_PHONE, 0)
        })
        .await,
        Err(StorageError::ClientRevoked { client_id }) if client_id == ALICE_PHONE
    ));
    assert_eq!(backend.rows(&s, "revoked_clients").await, rows);
    assert_eq!(s.latest_revocation_ms().await.unwrap(), Some(NOW));
}

async fn a_device_revoked_while_enrolling_loses_its_enrollment<T: Backend>(backend: T) {
    let s = backend.open().await;
    let pending = PendingEnrollment {
        device_id: ALICE_PHONE.to_owned(),
        user_id: ALICE.to_owned(),
        signature_key: vec![1; 44],
        first_device: true,
        created_at_ms: NOW,
        expires_at_ms: NOW + HOUR,
    };
    s.begin_enrollment(&pending, None, NOW).await.unwrap();
    assert_eq!(
        s.revoke_client(&revocation(ALICE_PHONE, 0)).await.unwrap(),
        None,
        "not registered"
    );
    assert_eq!(s.pending_enrollment(ALICE_PHONE).await.unwrap(), None);
    assert_eq!(backend.rows(&s, "revoked_clients").await, 1);
}

async fn revocation_inputs_are_checked<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.register_client(&client(ALICE_PHONE, QUEUE))
        .await
        .unwrap();
    let refusals = [
        (revocation(ALICE_PHONE, 11), "11 is not a CRLReason code"),
        (
            RevokedClient {
                serial: vec![],
                ..revocation(ALICE_PHONE, 0)
            },
            "a certificate serial must be 1 to 20 bytes long, not 0",
        ),
        (
            RevokedClient {
                serial: vec![1; 21],
                ..revocation(ALICE_PHONE, 0)
            },
            "a certificate serial must be 1 to 20 bytes long, not 21",
        ),
        (
            RevokedClient {
                client_id: String::new(),
                ..revocation(ALICE_PHONE, 0)
            },
            "a client ID must be 1 to",
        ),
        (
            RevokedClient {
                revoked_at_ms: u64::MAX,
                ..revocation(ALICE_PHONE, 0)
            },
            "is out of range",
        ),
    ];
    for (bad, message) in refusals {
        let e = s.revoke_client(&bad).await.unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
    }
    assert_eq!(backend.rows(&s, "revoked_clients").await, 0);
    assert_eq!(
        s.client(ALICE_PHONE).await.unwrap(),
        Some(client(ALICE_PHONE, QUEUE))
    );
    assert_eq!(s.client_revocation(ALICE_PHONE).await.unwrap(), None);
}

async fn invites_carry_their_phone_numbers<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.add_invite(&invite(1, &["+12025550123", "+447700900123"]))
        .await
        .unwrap();
    s.add_invite(&invite(2, &[])).await.unwrap();
    assert_eq!(
        s.invites_of_user(ALICE).await.unwrap(),
        vec![
            invite(1, &["+12025550123", "+447700900123"]),
            invite(2, &[])
        ]
    );
    let seven = ["+12025550100"; MAX_INVITE_PHONE_NUMBERS + 1];
    let refusals: [(&[&str], &str); 5] = [
        (&["12025550123"], "\"12025550123\" is not an E.164 number"),
        (&["+1 202"], "\"+1 202\" is not an E.164 number"),
        (&["+"], "\"+\" is not an E.164 number"),
        (&["+1234567890123456"], "is not an E.164 number"),
        (&seven, "an invite carries at most 6 phone numbers, not 7"),
    ];
    for (tag, (numbers, message)) in (10u8..).zip(refusals) {
        let e = s.add_invite(&invite(tag, numbers)).await.unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
    }
    assert_eq!(backend.rows(&s, "invites").await, 2);
}

both_backends!(
    a_revoked_client_is_removed_with_its_queue_and_key_packages,
    a_device_revoked_while_enrolling_loses_its_enrollment,
    revocation_inputs_are_checked,
    invites_carry_their_phone_numbers,
);
