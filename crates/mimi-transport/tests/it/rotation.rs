//! Key rotation: b refetches once to learn a's new key, and refuses a key that
//! a stopped serving after the overlap.

use std::time::Duration;

use mimi_transport::SignatureKeys;

use crate::bad_input::signed;
use crate::harness::{federation, new_signing_key, record};

const OCTET: &str = "application/octet-stream";

#[tokio::test]
async fn b_follows_a_key_rotation_and_refuses_the_retired_key() {
    let f = federation().await;
    let old = &f.a.signing_key;
    // The first event makes b cache a's current key.
    let (status, _) = f
        .post_to_b(OCTET, signed(old, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.a.key_fetches(), 1);

    // a rotates: the old key stays valid for the overlap (until its not_after,
    // an hour from the start), the new one for a day.
    f.advance(Duration::from_secs(60));
    let new = new_signing_key();
    let old_record = f.a.served.keys().keys()[0].clone();
    let new_record = record(&new, f.now_s(), 86400);
    f.a.served
        .set_keys(SignatureKeys::new(vec![old_record.clone(), new_record.clone()]).unwrap());

    // Signed with the new key: b's cached key fails, b refetches once, accepts.
    let (status, body) = f
        .post_to_b(OCTET, signed(&new, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!((status, body.as_str()), (200, "a.example"));
    assert_eq!(f.a.key_fetches(), 2, "exactly one refetch");
    // During the overlap both keys are accepted, without more fetches.
    let (status, _) = f
        .post_to_b(OCTET, signed(old, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!(status, 200);
    let (status, _) = f
        .post_to_b(OCTET, signed(&new, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.a.key_fetches(), 2);

    // The overlap ends: a serves only the new key, and the old one has expired.
    f.a.served
        .set_keys(SignatureKeys::new(vec![new_record]).unwrap());
    f.advance(Duration::from_secs(2 * 3600));
    assert!(f.now_s() > old_record.not_after());
    let (status, body) = f
        .post_to_b(OCTET, signed(old, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("does not verify"), "{body}");
    assert_eq!(f.a.key_fetches(), 3, "one refetch, then refused");
    // The new key still works.
    let (status, _) = f
        .post_to_b(OCTET, signed(&new, &f.a.name, &f.b.name, f.now_ms()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.b.replay_rows().await, 5, "every accepted event, once");
}
