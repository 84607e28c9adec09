//! KeyPackageStore: one-time KeyPackages handed out at most once, the
//! last-resort one reused, duplicates and bounds refused, concurrent claims.

use std::collections::BTreeMap;

use mimi_storage::{KeyPackageStore, MAX_KEY_PACKAGE_LEN, MAX_KP_REF_LEN, StorageError};

use crate::harness::{Backend, both_backends};

const ALICE: &str = "alice@a.example";

async fn one_time_key_packages_go_once_then_the_last_resort_is_reused<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-p1", b"kp-p1", false)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-plr", b"kp-plr", true)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-p2", b"kp-p2", false)
        .await
        .unwrap();
    s.upload(ALICE, "laptop", b"ref-l1", b"kp-l1", false)
        .await
        .unwrap();
    s.upload("bob@a.example", "phone", b"ref-b1", b"kp-b1", false)
        .await
        .unwrap();
    assert_eq!(s.count(ALICE, "phone").await.unwrap(), 2);
    assert_eq!(s.count(ALICE, "laptop").await.unwrap(), 1);

    let claim = |v: &[(&str, &[u8])]| -> Vec<(String, Vec<u8>)> {
        v.iter()
            .map(|(c, kp)| (c.to_string(), kp.to_vec()))
            .collect()
    };
    // One per client, ordered by client, oldest first.
    assert_eq!(
        s.claim(ALICE).await.unwrap(),
        claim(&[("laptop", b"kp-l1"), ("phone", b"kp-p1")])
    );
    // The laptop has nothing left and no last resort: it is left out.
    assert_eq!(s.claim(ALICE).await.unwrap(), claim(&[("phone", b"kp-p2")]));
    assert_eq!(s.count(ALICE, "phone").await.unwrap(), 0);
    for _ in 0..3 {
        assert_eq!(
            s.claim(ALICE).await.unwrap(),
            claim(&[("phone", b"kp-plr")])
        );
    }
    assert_eq!(
        backend.rows(&s, "key_packages").await,
        2,
        "the last resort and Bob's"
    );
    // Other users' KeyPackages were not touched.
    assert_eq!(s.count("bob@a.example", "phone").await.unwrap(), 1);
    assert_eq!(s.claim("nobody@a.example").await.unwrap(), vec![]);
}

async fn a_new_last_resort_key_package_replaces_the_old_one<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-lr1", b"kp-lr1", true)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-lr2", b"kp-lr2", true)
        .await
        .unwrap();
    assert_eq!(backend.rows(&s, "key_packages").await, 1);
    assert_eq!(
        s.claim(ALICE).await.unwrap(),
        vec![("phone".to_string(), b"kp-lr2".to_vec())]
    );
    assert_eq!(s.count(ALICE, "phone").await.unwrap(), 0);
}

async fn duplicate_key_package_refs_are_refused_and_change_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.upload(ALICE, "phone", b"ref-1", b"kp-1", false)
        .await
        .unwrap();
    s.upload(ALICE, "phone", b"ref-lr", b"kp-lr", true)
        .await
        .unwrap();
    for (kp_ref, last_resort) in [
        (&b"ref-1"[..], false),
        (b"ref-1", true),
        (b"ref-lr", true),
        (b"ref-lr", false),
    ] {
        let refused = s
            .upload(ALICE, "phone", kp_ref, b"other", last_resort)
            .await
            .unwrap_err();
        assert!(
            matches!(refused, StorageError::DuplicateKeyPackage { .. }),
            "{kp_ref:?} {last_resort}: {refused:?}"
        );
    }
    assert_eq!(
        s.upload(ALICE, "phone", b"ref-1", b"other", false)
            .await
            .unwrap_err()
            .to_string(),
        "client \"phone\" of user \"alice@a.example\" already has a KeyPackage with this \
         KeyPackageRef: upload each KeyPackage once"
    );
    assert_eq!(backend.rows(&s, "key_packages").await, 2);
    assert_eq!(
        s.claim(ALICE).await.unwrap(),
        vec![("phone".to_string(), b"kp-1".to_vec())]
    );
    assert_eq!(
        s.claim(ALICE).await.unwrap(),
        vec![("phone".to_string(), b"kp-lr".to_vec())]
    );
    // Another client may use the same ref: clients cannot block each other.
    s.upload(ALICE, "laptop", b"ref-1", b"kp-l", false)
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
        let refused = s.upload(user, client, kp_ref, kp, false).await.unwrap_err();
        assert_eq!(refused.to_string(), message);
    }
    let long_user = "u".repeat(2049);
    assert_eq!(
        s.claim(&long_user).await.unwrap_err().to_string(),
        "a user ID must be 1 to 2048 bytes long, not 2049"
    );
    assert_eq!(backend.rows(&s, "key_packages").await, 0);
}

async fn concurrent_claims_never_hand_out_a_key_package_twice<T: Backend>(backend: T) {
    // "phone": 50 one-time KeyPackages and a last resort; "watch": 10
    // one-time ones and no last resort. 16 tasks claim 4 times each.
    let s = backend.open().await;
    for i in 0..50 {
        let kp = format!("phone-{i}");
        s.upload(ALICE, "phone", kp.as_bytes(), kp.as_bytes(), false)
            .await
            .unwrap();
    }
    s.upload(ALICE, "phone", b"phone-lr", b"phone-lr", true)
        .await
        .unwrap();
    for i in 0..10 {
        let kp = format!("watch-{i}");
        s.upload(ALICE, "watch", kp.as_bytes(), kp.as_bytes(), false)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..4 {
                got.extend(s.claim(ALICE).await.unwrap());
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
    assert_eq!(phone + s.count(ALICE, "phone").await.unwrap(), 50);
    assert_eq!(watch + s.count(ALICE, "watch").await.unwrap(), 10);
    // 64 claims found the phone every time: each got a one-time
    // KeyPackage or the last resort.
    assert_eq!(phone as usize + last_resort, 64);
}

both_backends!(
    one_time_key_packages_go_once_then_the_last_resort_is_reused,
    a_new_last_resort_key_package_replaces_the_old_one,
    duplicate_key_package_refs_are_refused_and_change_nothing,
    bad_inputs_are_refused_before_sql,
    concurrent_claims_never_hand_out_a_key_package_twice,
);
