//! ClientStore: registration with its queue in one transaction, retries,
//! conflicting keys, handles held by one user, bounds, lookups, and
//! concurrent registrations.

use mimi_storage::{
    ClientRecord, ClientStore, MAX_CERTIFICATE_CHAIN_LEN, MAX_HANDLE_LEN, MAX_ID_LEN,
    MAX_SIGNATURE_KEY_LEN, QueueStore, StorageError,
};

use crate::harness::{Backend, both_backends};

const ALICE: &str = "mimi://a.example/u/alice";
const BOB: &str = "mimi://a.example/u/bob";

fn record(user: &str, device: &str, handle: Option<&str>, queue: u8) -> ClientRecord {
    let user_part = user.rsplit('/').next().unwrap_or(user);
    ClientRecord {
        client_id: format!("mimi://a.example/d/{user_part}/{device}"),
        user_id: user.to_string(),
        handle: handle.map(str::to_string),
        signature_key: vec![queue; 44],
        certificate_chain: format!(
            "-----BEGIN CERTIFICATE-----\n{device}\n-----END CERTIFICATE-----\n"
        ),
        queue_id: [queue; 16],
        registered_at_ms: 1_700_000_000_000,
    }
}

/// The rows that a registration writes, for "nothing changed" checks.
async fn rows<T: Backend>(backend: &T, s: &T::Storage) -> [i64; 3] {
    [
        backend.rows(s, "clients").await,
        backend.rows(s, "handles").await,
        backend.rows(s, "queues").await,
    ]
}

async fn a_client_is_registered_with_its_queue<T: Backend>(backend: T) {
    let s = backend.open().await;
    let phone = record(ALICE, "phone", Some("alice"), 1);
    assert_eq!(s.register_client(&phone).await.unwrap(), phone);
    assert_eq!(
        s.client(&phone.client_id).await.unwrap(),
        Some(phone.clone())
    );
    // The queue exists and takes messages.
    assert_eq!(s.enqueue(phone.queue_id, b"hello").await.unwrap(), 1);
    assert_eq!(
        s.user_by_handle("alice").await.unwrap().as_deref(),
        Some(ALICE)
    );

    // A second client of Alice shares the handle; one without a handle
    // leaves it alone.
    let laptop = record(ALICE, "laptop", Some("alice"), 2);
    let watch = record(ALICE, "watch", None, 3);
    s.register_client(&laptop).await.unwrap();
    s.register_client(&watch).await.unwrap();
    let bob = record(BOB, "phone", Some("bob"), 4);
    s.register_client(&bob).await.unwrap();
    assert_eq!(
        s.clients_of_user(ALICE).await.unwrap(),
        vec![laptop, phone, watch],
        "ordered by client ID"
    );
    assert_eq!(s.clients_of_user(BOB).await.unwrap(), vec![bob]);
    assert_eq!(rows(&backend, &s).await, [4, 2, 4]);

    // Unknown names are absent, not errors.
    assert_eq!(s.client("mimi://a.example/d/carol/x").await.unwrap(), None);
    assert_eq!(
        s.clients_of_user("mimi://a.example/u/carol").await.unwrap(),
        vec![]
    );
    assert_eq!(s.user_by_handle("carol").await.unwrap(), None);
}

async fn registering_again_with_the_same_key_returns_the_stored_record<T: Backend>(backend: T) {
    let s = backend.open().await;
    let phone = record(ALICE, "phone", Some("alice"), 1);
    s.register_client(&phone).await.unwrap();
    s.enqueue(phone.queue_id, b"kept").await.unwrap();
    // A retry, even one that picked a new queue ID and time: the first
    // registration stands, and nothing is written.
    let retry = ClientRecord {
        queue_id: [9; 16],
        registered_at_ms: phone.registered_at_ms + 5_000,
        handle: None,
        ..phone.clone()
    };
    assert_eq!(s.register_client(&retry).await.unwrap(), phone);
    assert_eq!(rows(&backend, &s).await, [1, 1, 1]);
    assert_eq!(s.depth(phone.queue_id).await.unwrap(), 1);
}

async fn another_key_for_a_registered_client_is_refused<T: Backend>(backend: T) {
    let s = backend.open().await;
    let phone = record(ALICE, "phone", Some("alice"), 1);
    s.register_client(&phone).await.unwrap();
    let other_key = ClientRecord {
        signature_key: vec![0xee; 44],
        queue_id: [2; 16],
        ..phone.clone()
    };
    let refused = s.register_client(&other_key).await.unwrap_err();
    assert!(
        matches!(&refused, StorageError::ClientExists { client_id } if *client_id == phone.client_id),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "client \"mimi://a.example/d/alice/phone\" is already registered with another \
         signature key: a client ID is registered once; register the new key under a new \
         client ID"
    );
    assert_eq!(rows(&backend, &s).await, [1, 1, 1]);
    assert_eq!(s.client(&phone.client_id).await.unwrap(), Some(phone));
}

async fn a_handle_belongs_to_one_user<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.register_client(&record(ALICE, "phone", Some("alice"), 1))
        .await
        .unwrap();
    let bobs = record(BOB, "phone", Some("alice"), 2);
    let refused = s.register_client(&bobs).await.unwrap_err();
    assert!(
        matches!(&refused, StorageError::HandleTaken { handle } if handle == "alice"),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "the handle \"alice\" belongs to another user: pick another handle"
    );
    // Nothing of Bob's registration was kept: no client, no queue.
    assert_eq!(rows(&backend, &s).await, [1, 1, 1]);
    assert_eq!(s.client(&bobs.client_id).await.unwrap(), None);
    assert!(matches!(
        s.depth(bobs.queue_id).await,
        Err(StorageError::UnknownQueue { .. })
    ));
    // Bob registers under his own handle, with the same queue ID.
    let bobs = ClientRecord {
        handle: Some("bob".into()),
        ..bobs
    };
    s.register_client(&bobs).await.unwrap();
    assert_eq!(
        s.user_by_handle("alice").await.unwrap().as_deref(),
        Some(ALICE)
    );
    assert_eq!(s.user_by_handle("bob").await.unwrap().as_deref(), Some(BOB));
}

async fn a_taken_queue_id_is_refused_and_writes_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue([7; 16]).await.unwrap();
    let phone = record(ALICE, "phone", Some("alice"), 7);
    let refused = s.register_client(&phone).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueExists { queue_id } if queue_id == [7; 16]),
        "{refused:?}"
    );
    assert_eq!(rows(&backend, &s).await, [0, 0, 1], "no client, no handle");

    // A queue ID another client holds: likewise.
    let laptop = record(ALICE, "laptop", Some("alice"), 8);
    s.register_client(&laptop).await.unwrap();
    let watch = ClientRecord {
        queue_id: laptop.queue_id,
        ..record(ALICE, "watch", None, 9)
    };
    let refused = s.register_client(&watch).await.unwrap_err();
    assert!(
        matches!(refused, StorageError::QueueExists { queue_id } if queue_id == [8; 16]),
        "{refused:?}"
    );
    assert_eq!(rows(&backend, &s).await, [1, 1, 2]);
}

async fn bad_inputs_are_refused_before_sql<T: Backend>(backend: T) {
    let s = backend.open().await;
    let good = record(ALICE, "phone", Some("alice"), 1);
    let long_id = "i".repeat(MAX_ID_LEN + 1);
    let cases: Vec<(ClientRecord, &str)> = vec![
        (
            ClientRecord {
                client_id: String::new(),
                ..good.clone()
            },
            "a client ID must be 1 to 2048 bytes long, not 0",
        ),
        (
            ClientRecord {
                client_id: long_id.clone(),
                ..good.clone()
            },
            "a client ID must be 1 to 2048 bytes long, not 2049",
        ),
        (
            ClientRecord {
                user_id: String::new(),
                ..good.clone()
            },
            "a user ID must be 1 to 2048 bytes long, not 0",
        ),
        (
            ClientRecord {
                user_id: long_id.clone(),
                ..good.clone()
            },
            "a user ID must be 1 to 2048 bytes long, not 2049",
        ),
        (
            ClientRecord {
                handle: Some(String::new()),
                ..good.clone()
            },
            "a handle must be 1 to 256 bytes long, not 0",
        ),
        (
            ClientRecord {
                handle: Some("h".repeat(MAX_HANDLE_LEN + 1)),
                ..good.clone()
            },
            "a handle must be 1 to 256 bytes long, not 257",
        ),
        (
            ClientRecord {
                signature_key: vec![],
                ..good.clone()
            },
            "a signature key must be 1 to 1024 bytes long, not 0",
        ),
        (
            ClientRecord {
                signature_key: vec![1; MAX_SIGNATURE_KEY_LEN + 1],
                ..good.clone()
            },
            "a signature key must be 1 to 1024 bytes long, not 1025",
        ),
        (
            ClientRecord {
                certificate_chain: String::new(),
                ..good.clone()
            },
            "a certificate chain must be 1 to 65536 bytes long, not 0",
        ),
        (
            ClientRecord {
                certificate_chain: "c".repeat(MAX_CERTIFICATE_CHAIN_LEN + 1),
                ..good.clone()
            },
            "a certificate chain must be 1 to 65536 bytes long, not 65537",
        ),
        (
            ClientRecord {
                registered_at_ms: u64::MAX,
                ..good.clone()
            },
            "a registration time (ms) 18446744073709551615 is out of range: \
             it must be at most 2^63 - 1",
        ),
    ];
    for (bad, message) in cases {
        let refused = s.register_client(&bad).await.unwrap_err();
        assert_eq!(refused.to_string(), message);
    }
    assert_eq!(rows(&backend, &s).await, [0, 0, 0]);

    // The limits themselves are fine.
    let largest = ClientRecord {
        client_id: "c".repeat(MAX_ID_LEN),
        user_id: "u".repeat(MAX_ID_LEN),
        handle: Some("h".repeat(MAX_HANDLE_LEN)),
        signature_key: vec![1; MAX_SIGNATURE_KEY_LEN],
        certificate_chain: "c".repeat(MAX_CERTIFICATE_CHAIN_LEN),
        ..good
    };
    assert_eq!(s.register_client(&largest).await.unwrap(), largest);
    assert_eq!(s.client(&largest.client_id).await.unwrap(), Some(largest));

    for (refused, message) in [
        (
            s.client("").await.map(drop),
            "a client ID must be 1 to 2048 bytes long, not 0",
        ),
        (
            s.clients_of_user(&long_id).await.map(drop),
            "a user ID must be 1 to 2048 bytes long, not 2049",
        ),
        (
            s.user_by_handle(&"h".repeat(257)).await.map(drop),
            "a handle must be 1 to 256 bytes long, not 257",
        ),
    ] {
        assert_eq!(refused.unwrap_err().to_string(), message);
    }
}

async fn concurrent_registrations_of_one_client_store_it_once<T: Backend>(backend: T) {
    // 8 retries of one registration race, and 8 others with their own key
    // race for the same client ID: the first to commit wins; the rest
    // either get the stored record (same key) or ClientExists.
    let s = backend.open().await;
    let phone = record(ALICE, "phone", Some("alice"), 1);
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = s.clone();
        let attempt = if i % 2 == 0 {
            phone.clone()
        } else {
            ClientRecord {
                signature_key: vec![0x80 + i; 44],
                queue_id: [0x80 + i; 16],
                ..phone.clone()
            }
        };
        tasks.push(tokio::spawn(async move {
            (attempt.clone(), s.register_client(&attempt).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (attempt, outcome) = task.await.unwrap();
        match outcome {
            Ok(stored) => winners.push((attempt, stored)),
            Err(StorageError::ClientExists { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let stored = s.client(&phone.client_id).await.unwrap().unwrap();
    assert!(!winners.is_empty());
    for (attempt, got) in &winners {
        assert_eq!(got, &stored, "every success returns the one stored record");
        assert_eq!(attempt.signature_key, stored.signature_key);
    }
    assert_eq!(rows(&backend, &s).await, [1, 1, 1]);
    assert_eq!(s.enqueue(stored.queue_id, b"m").await.unwrap(), 1);
}

async fn concurrent_claims_of_one_handle_give_it_to_one_user<T: Backend>(backend: T) {
    let s = backend.open().await;
    let mut tasks = Vec::new();
    for i in 0..12u8 {
        let s = s.clone();
        let user = format!("mimi://a.example/u/user{i}");
        tasks.push(tokio::spawn(async move {
            let attempt = record(&user, "phone", Some("popular"), i + 1);
            (user, s.register_client(&attempt).await)
        }));
    }
    let mut owners = Vec::new();
    for task in tasks {
        let (user, outcome) = task.await.unwrap();
        match outcome {
            Ok(_) => owners.push(user),
            Err(StorageError::HandleTaken { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(
        s.user_by_handle("popular").await.unwrap().as_ref(),
        Some(&owners[0])
    );
    assert_eq!(rows(&backend, &s).await, [1, 1, 1]);
}

both_backends!(
    a_client_is_registered_with_its_queue,
    registering_again_with_the_same_key_returns_the_stored_record,
    another_key_for_a_registered_client_is_refused,
    a_handle_belongs_to_one_user,
    a_taken_queue_id_is_refused_and_writes_nothing,
    bad_inputs_are_refused_before_sql,
    concurrent_registrations_of_one_client_store_it_once,
    concurrent_claims_of_one_handle_give_it_to_one_user,
);
