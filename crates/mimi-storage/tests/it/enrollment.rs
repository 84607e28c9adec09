//! EnrollmentStore: invites spent once, before their expiry, by their own
//! user; first devices of free users only; pending enrollments replaced and
//! finished; a renewed client key (compare-and-set, queue kept); purging;
//! bounds — every refusal with its exact error and no row changed.

use mimi_storage::{
    ClientRecord, ClientStore, EnrollmentStore, Invite, MAX_ID_LEN, PendingEnrollment, QueueStore,
    StorageError,
};

use crate::harness::{Backend, both_backends};

const ALICE: &str = "mimi://a.example/u/alice";
const ALICE_PHONE: &str = "mimi://a.example/d/alice/phone";
const ALICE_LAPTOP: &str = "mimi://a.example/d/alice/laptop";
const BOB: &str = "mimi://a.example/u/bob";
const NOW: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;

fn invite(user: &str, tag: u8, expires_at_ms: u64) -> Invite {
    Invite {
        code_hash: [tag; 32],
        user_id: user.to_owned(),
        created_at_ms: NOW - HOUR + u64::from(tag),
        expires_at_ms,
        used_at_ms: None,
        phone_numbers: Vec::new(),
    }
}

fn pending(device: &str, user: &str, key: u8, first_device: bool) -> PendingEnrollment {
    PendingEnrollment {
        device_id: device.to_owned(),
        user_id: user.to_owned(),
        signature_key: vec![key; 44],
        first_device,
        created_at_ms: NOW,
        expires_at_ms: NOW + HOUR,
    }
}

fn client(device: &str, user: &str, key: u8, queue: u8) -> ClientRecord {
    ClientRecord {
        client_id: device.to_owned(),
        user_id: user.to_owned(),
        handle: None,
        signature_key: vec![key; 44],
        certificate_chain: "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n".into(),
        queue_id: [queue; 16],
        registered_at_ms: NOW,
    }
}

/// Every row enrollment touches, for "nothing changed" checks: the rows
/// themselves, so that a changed column shows too.
async fn snapshot<T: Backend>(s: &T::Storage) -> (Vec<Invite>, Vec<Option<PendingEnrollment>>) {
    let mut invites = s.invites_of_user(ALICE).await.unwrap();
    invites.extend(s.invites_of_user(BOB).await.unwrap());
    let mut pendings = Vec::new();
    for device in [ALICE_PHONE, ALICE_LAPTOP, "mimi://a.example/d/bob/phone"] {
        pendings.push(s.pending_enrollment(device).await.unwrap());
    }
    (invites, pendings)
}

async fn an_invite_is_spent_once_by_its_user_before_it_expires<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.add_invite(&invite(ALICE, 1, NOW + HOUR)).await.unwrap();
    s.add_invite(&invite(ALICE, 2, NOW)).await.unwrap(); // expires now
    s.add_invite(&invite(BOB, 3, NOW + HOUR)).await.unwrap();
    assert!(matches!(
        s.add_invite(&invite(BOB, 1, NOW + HOUR)).await,
        Err(StorageError::InviteExists)
    ));
    let listed = s.invites_of_user(ALICE).await.unwrap();
    assert_eq!(
        listed,
        vec![invite(ALICE, 2, NOW), invite(ALICE, 1, NOW + HOUR)],
        "newest first"
    );

    // Refused, and nothing changes: the expired invite, Bob's invite, an
    // unknown one.
    for hash in [[2u8; 32], [3; 32], [9; 32]] {
        let before = snapshot::<T>(&s).await;
        let e = s
            .begin_enrollment(&pending(ALICE_PHONE, ALICE, 7, true), Some(&hash), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, StorageError::InviteUnusable { user_id } if user_id == ALICE),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "no unused, unexpired invite with this code for \"mimi://a.example/u/alice\": ask the provider's operator for a new invite"
        );
        assert_eq!(snapshot::<T>(&s).await, before);
    }

    s.begin_enrollment(&pending(ALICE_PHONE, ALICE, 7, true), Some(&[1; 32]), NOW)
        .await
        .unwrap();
    let spent = s.invites_of_user(ALICE).await.unwrap();
    assert_eq!(spent[1].used_at_ms, Some(NOW));
    assert_eq!(
        s.pending_enrollment(ALICE_PHONE).await.unwrap(),
        Some(pending(ALICE_PHONE, ALICE, 7, true))
    );
    assert_eq!(
        s.pending_first_device(ALICE, NOW).await.unwrap(),
        Some(pending(ALICE_PHONE, ALICE, 7, true))
    );
    assert_eq!(
        s.pending_first_device(ALICE, NOW + HOUR).await.unwrap(),
        None
    );

    // Spent: a second use is refused and changes nothing.
    let before = snapshot::<T>(&s).await;
    assert!(matches!(
        s.begin_enrollment(&pending(ALICE_PHONE, ALICE, 8, true), Some(&[1; 32]), NOW)
            .await,
        Err(StorageError::InviteUnusable { .. })
    ));
    assert_eq!(snapshot::<T>(&s).await, before);
}

async fn a_first_device_needs_a_free_user<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.begin_enrollment(&pending(ALICE_PHONE, ALICE, 7, true), None, NOW)
        .await
        .unwrap();
    // Another first device of Alice while the first is pending: taken.
    s.add_invite(&invite(ALICE, 1, NOW + 2 * HOUR))
        .await
        .unwrap();
    let before = snapshot::<T>(&s).await;
    let e = s
        .begin_enrollment(&pending(ALICE_LAPTOP, ALICE, 8, true), Some(&[1; 32]), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::UserTaken { user_id } if user_id == ALICE),
        "{e:?}"
    );
    assert_eq!(snapshot::<T>(&s).await, before, "the invite is not spent");
    // The same device again replaces its pending enrollment (a new key).
    s.begin_enrollment(&pending(ALICE_PHONE, ALICE, 9, true), None, NOW)
        .await
        .unwrap();
    assert_eq!(
        s.pending_enrollment(ALICE_PHONE)
            .await
            .unwrap()
            .unwrap()
            .signature_key,
        vec![9; 44]
    );
    // Once that enrollment expired, the user is free again.
    s.begin_enrollment(&pending(ALICE_LAPTOP, ALICE, 8, true), None, NOW + HOUR)
        .await
        .unwrap();

    // A registered device makes the user taken for first devices, but not
    // for devices its devices enroll; a registered device cannot enroll.
    s.register_client(&client(ALICE_PHONE, ALICE, 9, 1))
        .await
        .unwrap();
    assert!(s.finish_enrollment(ALICE_PHONE).await.unwrap());
    assert!(!s.finish_enrollment(ALICE_PHONE).await.unwrap());
    let before = snapshot::<T>(&s).await;
    assert!(matches!(
        s.begin_enrollment(
            &pending("mimi://a.example/d/alice/tablet", ALICE, 5, true),
            None,
            NOW + 3 * HOUR
        )
        .await,
        Err(StorageError::UserTaken { .. })
    ));
    let e = s
        .begin_enrollment(&pending(ALICE_PHONE, ALICE, 5, false), None, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::ClientExists { client_id } if client_id == ALICE_PHONE),
        "{e:?}"
    );
    assert_eq!(snapshot::<T>(&s).await, before);
    s.begin_enrollment(&pending(ALICE_LAPTOP, ALICE, 5, false), None, NOW)
        .await
        .unwrap();
    assert!(
        !s.pending_enrollment(ALICE_LAPTOP)
            .await
            .unwrap()
            .unwrap()
            .first_device
    );
}

async fn a_renewed_key_replaces_the_old_one_and_keeps_the_queue<T: Backend>(backend: T) {
    let s = backend.open().await;
    let phone = client(ALICE_PHONE, ALICE, 1, 1);
    s.register_client(&phone).await.unwrap();
    assert_eq!(s.enqueue(phone.queue_id, b"waiting").await.unwrap(), 1);
    let chain = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n";
    let renewed = s
        .replace_client_key(ALICE_PHONE, &[1; 44], &[2; 44], chain)
        .await
        .unwrap();
    let expected = ClientRecord {
        signature_key: vec![2; 44],
        certificate_chain: chain.to_owned(),
        ..phone.clone()
    };
    assert_eq!(renewed, expected);
    assert_eq!(s.client(ALICE_PHONE).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        s.fetch(phone.queue_id, 1, 10).await.unwrap(),
        vec![(1, b"waiting".to_vec())]
    );

    // The old key again (a lost race) and an unknown client: refused,
    // nothing changed.
    let e = s
        .replace_client_key(ALICE_PHONE, &[1; 44], &[3; 44], chain)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::ClientKeyChanged { client_id } if client_id == ALICE_PHONE),
        "{e:?}"
    );
    let e = s
        .replace_client_key(ALICE_LAPTOP, &[1; 44], &[3; 44], chain)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::UnknownClient { client_id } if client_id == ALICE_LAPTOP),
        "{e:?}"
    );
    assert_eq!(s.client(ALICE_PHONE).await.unwrap(), Some(expected));
    assert_eq!(backend.rows(&s, "clients").await, 1);
}

async fn expired_invites_and_enrollments_are_purged<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.add_invite(&invite(ALICE, 1, NOW)).await.unwrap();
    s.add_invite(&invite(ALICE, 2, NOW + HOUR)).await.unwrap();
    s.begin_enrollment(&pending(ALICE_PHONE, ALICE, 1, true), None, NOW - HOUR)
        .await
        .unwrap();
    s.begin_enrollment(
        &PendingEnrollment {
            expires_at_ms: NOW + HOUR,
            ..pending(ALICE_LAPTOP, ALICE, 2, false)
        },
        None,
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(s.purge_expired_enrollments(NOW).await.unwrap(), 1);
    assert_eq!(backend.rows(&s, "invites").await, 1);
    assert_eq!(backend.rows(&s, "pending_enrollments").await, 2);
    assert_eq!(s.purge_expired_enrollments(NOW + HOUR).await.unwrap(), 3);
    assert_eq!(backend.rows(&s, "invites").await, 0);
    assert_eq!(backend.rows(&s, "pending_enrollments").await, 0);
}

async fn enrollment_inputs_are_bounded<T: Backend>(backend: T) {
    let s = backend.open().await;
    let long = "x".repeat(MAX_ID_LEN + 1);
    let bounded = |e: StorageError, what: &str| {
        assert!(
            matches!(&e, StorageError::InvalidLength { what: w, .. } if *w == what),
            "{e:?}"
        );
    };
    bounded(
        s.add_invite(&invite(&long, 1, NOW)).await.unwrap_err(),
        "a user ID",
    );
    bounded(
        s.begin_enrollment(&pending(&long, ALICE, 1, true), None, NOW)
            .await
            .unwrap_err(),
        "a device ID",
    );
    bounded(
        s.begin_enrollment(
            &PendingEnrollment {
                signature_key: Vec::new(),
                ..pending(ALICE_PHONE, ALICE, 1, true)
            },
            None,
            NOW,
        )
        .await
        .unwrap_err(),
        "a signature key",
    );
    bounded(
        s.replace_client_key(ALICE_PHONE, &[1; 44], &[2; 44], "")
            .await
            .unwrap_err(),
        "a certificate chain",
    );
    assert!(matches!(
        s.add_invite(&Invite {
            expires_at_ms: u64::MAX,
            ..invite(ALICE, 1, NOW)
        })
        .await,
        Err(StorageError::OutOfRange { .. })
    ));
    assert_eq!(backend.rows(&s, "invites").await, 0);
    assert_eq!(backend.rows(&s, "pending_enrollments").await, 0);
}

both_backends!(
    an_invite_is_spent_once_by_its_user_before_it_expires,
    a_first_device_needs_a_free_user,
    a_renewed_key_replaces_the_old_one_and_keeps_the_queue,
    expired_invites_and_enrollments_are_purged,
    enrollment_inputs_are_bounded,
);
