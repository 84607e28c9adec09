//! KeyPackageStore: one-time KeyPackages handed out at most once, the
//! last-resort one reused, duplicates and bounds refused, concurrent claims.

use std::collections::BTreeMap;

use mimi_storage::{KeyPackageStore, MAX_KEY_PACKAGE_LEN, MAX_KP_REF_LEN, StorageError};

use crate::harness::{Backend, both_backends};

const ALICE: &str = "alice@a.example";
/// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (RFC 9420 §17.1).
const SUITE: u16 = 1;
/// MLS_128_DHKEMP256_AES128GCM_SHA256_P256.
const OTHER_SUITE: u16 = 2;

async fn one_time_key_packages_go_once_then_the_last_resort_is_reused<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-p1", SUITE, b"kp-p1", false)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-plr", SUITE, b"kp-plr", true)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-p2", SUITE, b"kp-p2", false)
        .await
        .unwrap();
    s.upload(ALICE, "laptop", b"ref-l1", SUITE, b"kp-l1", false)
        .await
        .unwrap();
    s.upload("bob@a.example", "phone", b"ref-b1", SUITE, b"kp-b1", false)
        .await
        .unwrap();
    assert_eq!(s.count(ALICE, "phone", SUITE).await.unwrap(), 2);
    assert_eq!(s.count(ALICE, "laptop", SUITE).await.unwrap(), 1);

    let claim = |v: &[(&str, &[u8])]| -> Vec<(String, Vec<u8>)> {
        v.iter()
            .map(|(c, kp)| (c.to_string(), kp.to_vec()))
            .collect()
    };
    // One per client, ordered by client, oldest first.
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        claim(&[("laptop", b"kp-l1"), ("phone", b"kp-p1")])
    );
    // The laptop has nothing left and no last resort: it is left out.
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        claim(&[("phone", b"kp-p2")])
    );
    assert_eq!(s.count(ALICE, "phone", SUITE).await.unwrap(), 0);
    for _ in 0..3 {
        assert_eq!(
            s.claim(ALICE, SUITE).await.unwrap(),
            claim(&[("phone", b"kp-plr")])
        );
    }
    assert_eq!(
        backend.rows(&s, "key_packages").await,
        2,
        "the last resort and Bob's"
    );
    // Other users' KeyPackages were not touched.
    assert_eq!(s.count("bob@a.example", "phone", SUITE).await.unwrap(), 1);
    assert_eq!(s.claim("nobody@a.example", SUITE).await.unwrap(), vec![]);
}

async fn a_new_last_resort_key_package_replaces_the_old_one<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-lr1", SUITE, b"kp-lr1", true)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-lr2", SUITE, b"kp-lr2", true)
        .await
        .unwrap();
    assert_eq!(backend.rows(&s, "key_packages").await, 1);
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        vec![("phone".to_string(), b"kp-lr2".to_vec())]
    );
    assert_eq!(s.count(ALICE, "phone", SUITE).await.unwrap(), 0);
}

async fn duplicate_key_package_refs_are_refused_and_change_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-1", SUITE, b"kp-1", false)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-lr", SUITE, b"kp-lr", true)
        .await
        .unwrap();
    for (kp_ref, last_resort) in [
        (&b"ref-1"[..], false),
        (b"ref-1", true),
        (b"ref-lr", true),
        (b"ref-lr", false),
    ] {
        let refused = s
            .upload(ALICE, "phone", kp_ref, SUITE, b"other", last_resort)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StorageError::DuplicateKeyPackage { .. }),
            "{kp_ref:?} {last_resort}: {refused:?}"
        );
    }
    assert_eq!(
        s.upload(ALICE, "phone", b"ref-1", SUITE, b"other", false)
            .await
            .unwrap_err()
            .to_string(),
        "client \"phone\" of user \"alice@a.example\" already has a KeyPackage with this \
         KeyPackageRef: upload each KeyPackage once"
    );
    assert_eq!(backend.rows(&s, "key_packages").await, 2);
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        vec![("phone".to_string(), b"kp-1".to_vec())]
    );
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        vec![("phone".to_string(), b"kp-lr".to_vec())]
    );
    // Another client may use the same ref: clients cannot block each other.
    s.upload(ALICE, "laptop", b"ref-1", SUITE, b"kp-l", false)
        .await
        .unwrap();
}

async fn bad_inputs_are_refused_before_sql<T: Backend>(backend: T) {
    let s = backend.open().await;
    let long_ref = vec![0u8; MAX_KP_REF_LEN + 1];
    let big_kp = vec![0u8; MAX_KEY_PACKAGE_LEN + 1];
    // (user, client, kp_ref, key_package, the refusal's exact message)
    type Case<'a> = (&'a str, &'a str, &'a [u8], &'a [u8], &'a str);
    let cases: [Case; 5] = [
        (
            "",
            "phone",
            b"r",
            b"kp",
            "a user ID must be 1 to 2048 bytes long, not 0",
        ),
        (
            ALICE,
            "",
            b"r",
            b"kp",
            "a client ID must be 1 to 2048 bytes long, not 0",
        ),
        (
            ALICE,
            "phone",
            b"",
            b"kp",
            "a KeyPackageRef must be 1 to 64 bytes long, not 0",
        ),
        (
            ALICE,
            "phone",
            &long_ref,
            b"kp",
            "a KeyPackageRef must be 1 to 64 bytes long, not 65",
        ),
        (
            ALICE,
            "phone",
            b"r",
            &big_kp,
            "a KeyPackage must be 1 to 65536 bytes long, not 65537",
        ),
    ];
    for (user, client, kp_ref, kp, message) in cases {
        let refused = s
            .upload(user, client, kp_ref, SUITE, kp, false)
            .await
            .unwrap_err();
        assert_eq!(refused.to_string(), message);
    }
    let long_user = "u".repeat(2049);
    assert_eq!(
        s.claim(&long_user, SUITE).await.unwrap_err().to_string(),
        "a user ID must be 1 to 2048 bytes long, not 2049"
    );
    assert_eq!(backend.rows(&s, "key_packages").await, 0);
}

async fn key_packages_are_claimed_by_cipher_suite<T: Backend>(backend: T) {
    let s = backend.open().await;
    let up = |client: &'static str, kp: &'static str, suite: u16, last_resort: bool| {
        let s = s.clone();
        async move {
            s.upload(
                ALICE,
                client,
                kp.as_bytes(),
                suite,
                kp.as_bytes(),
                last_resort,
            )
            .await
            .unwrap()
        }
    };
    up("phone", "phone-1", SUITE, false).await;
    up("phone", "phone-lr-1", SUITE, true).await;
    up("phone", "phone-2", OTHER_SUITE, false).await;
    up("phone", "phone-lr-2", OTHER_SUITE, true).await;
    up("laptop", "laptop-2", OTHER_SUITE, false).await;
    assert_eq!(s.count(ALICE, "phone", SUITE).await.unwrap(), 1);
    assert_eq!(s.count(ALICE, "phone", OTHER_SUITE).await.unwrap(), 1);
    assert_eq!(s.count(ALICE, "laptop", SUITE).await.unwrap(), 0);

    let claim = |v: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
        v.iter()
            .map(|(c, kp)| (c.to_string(), kp.as_bytes().to_vec()))
            .collect()
    };
    // The laptop has nothing of suite 1: it is left out of suite-1 claims.
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        claim(&[("phone", "phone-1")])
    );
    assert_eq!(
        s.claim(ALICE, OTHER_SUITE).await.unwrap(),
        claim(&[("laptop", "laptop-2"), ("phone", "phone-2")])
    );
    // Each suite falls back on its own last resort.
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        claim(&[("phone", "phone-lr-1")])
    );
    assert_eq!(
        s.claim(ALICE, OTHER_SUITE).await.unwrap(),
        claim(&[("phone", "phone-lr-2")])
    );
    // A new last resort replaces only the one of its own suite.
    up("phone", "phone-lr-1b", SUITE, true).await;
    assert_eq!(
        s.claim(ALICE, SUITE).await.unwrap(),
        claim(&[("phone", "phone-lr-1b")])
    );
    assert_eq!(
        s.claim(ALICE, OTHER_SUITE).await.unwrap(),
        claim(&[("phone", "phone-lr-2")])
    );
    assert_eq!(
        s.claim(ALICE, 3).await.unwrap(),
        vec![],
        "a suite nobody has"
    );
    assert_eq!(
        backend.rows(&s, "key_packages").await,
        2,
        "the two last resorts"
    );
}

async fn concurrent_claims_never_hand_out_a_key_package_twice<T: Backend>(backend: T) {
    // "phone": 50 one-time KeyPackages and a last resort; "watch": 10
    // one-time ones and no last resort; and 10 of another suite, which no
    // claim may touch. 16 tasks claim 4 times each.
    let s = backend.open().await;
    for i in 0..10 {
        let kp = format!("other-suite-{i}");
        s.upload(
            ALICE,
            "phone",
            kp.as_bytes(),
            OTHER_SUITE,
            kp.as_bytes(),
            false,
        )
        .await
        .unwrap();
    }
    for i in 0..50 {
        let kp = format!("phone-{i}");
        s.upload(ALICE, "phone", kp.as_bytes(), SUITE, kp.as_bytes(), false)
            .await
            .unwrap();
    }
    s.upload(ALICE, "phone", b"phone-lr", SUITE, b"phone-lr", true)
        .await
        .unwrap();
    for i in 0..10 {
        let kp = format!("watch-{i}");
        s.upload(ALICE, "watch", kp.as_bytes(), SUITE, kp.as_bytes(), false)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..4 {
                got.extend(s.claim(ALICE, SUITE).await.unwrap());
            }
            got
        }));
    }
    let mut handed_out = BTreeMap::<String, usize>::new();
    for task in tasks {
        for (client, kp) in task.await.unwrap() {
            let kp = String::from_utf8(kp).unwrap();
            assert!(kp.starts_with(&client), "{client} got {kp}");
            *handed_out.entry(kp).or_default() += 1;
        }
    }
    let last_resort = handed_out.remove("phone-lr").unwrap_or(0);
    assert!(last_resort >= 1, "the last resort was never handed out");
    for (kp, times) in &handed_out {
        assert_eq!(*times, 1, "{kp} handed out {times} times");
    }
    // Whatever was not handed out is still there: none lost, none twice.
    let phone = handed_out
        .keys()
        .filter(|k| k.starts_with("phone-"))
        .count() as u64;
    let watch = handed_out
        .keys()
        .filter(|k| k.starts_with("watch-"))
        .count() as u64;
    assert_eq!(phone + s.count(ALICE, "phone", SUITE).await.unwrap(), 50);
    assert_eq!(watch + s.count(ALICE, "watch", SUITE).await.unwrap(), 10);
    assert_eq!(s.count(ALICE, "phone", OTHER_SUITE).await.unwrap(), 10);
    // 64 claims found the phone every time: each got a one-time
    // KeyPackage or the last resort.
    assert_eq!(phone as usize + last_resort, 64);
}

both_backends!(
    one_time_key_packages_go_once_then_the_last_resort_is_reused,
    a_new_last_resort_key_package_replaces_the_old_one,
    key_packages_are_claimed_by_cipher_suite,
    duplicate_key_package_refs_are_refused_and_change_nothing,
    bad_inputs_are_refused_before_sql,
    concurrent_claims_never_hand_out_a_key_package_twice,
);
