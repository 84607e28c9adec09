//! Concurrent requests that need one sender's keys share one fetch: a burst
//! of first contacts from a new peer, and a burst of events under a key the
//! receiver has not seen yet (a rotation).

use std::time::Duration;

use mimi_transport::SignatureKeys;
use tokio::task::JoinSet;

use crate::bad_input::signed;
use crate::harness::{Federation, federation, new_signing_key, post_to_b, record};

const OCTET: &str = "application/octet-stream";
const BURST: usize = 16;

/// POSTs every body at once to b's `/group_operation`; returns the
/// replies' statuses and bodies.
async fn burst(f: &Federation, bodies: Vec<Vec<u8>>) -> Vec<(u16, String)> {
    let mut tasks = JoinSet::new();
    for bytes in bodies {
        let client = f.client.clone();
        tasks.spawn(async move {
            let reply = post_to_b(&client, "/group_operation", OCTET, bytes).await;
            (reply.status, reply.body)
        });
    }
    tasks.join_all().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_contacts_from_a_new_sender_share_one_key_fetch() {
    let f = federation().await;
    let bodies = (0..BURST)
        .map(|_| signed(&f.a.signing_key, &f.a.name, &f.b.name, f.now_ms()))
        .collect();
    for (status, body) in burst(&f, bodies).await {
        assert_eq!((status, body.as_str()), (200, "a.example"));
    }
    assert_eq!(f.a.key_fetches(), 1, "one fetch for the whole burst");
    assert_eq!(f.b.replay_rows().await, BURST as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_under_a_new_key_share_one_refetch() {
    let f = federation().await;
    let (status, _) = f
        .post_to_b(
            OCTET,
            signed(&f.a.signing_key, &f.a.name, &f.b.name, f.now_ms()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.a.key_fetches(), 1);

    // a rotates after the refetch interval; b has only the old key cached.
    f.advance(Duration::from_secs(60));
    let new = new_signing_key();
    let old_record = f.a.served.keys().keys()[0].clone();
    f.a.served
        .set_keys(SignatureKeys::new(vec![old_record, record(&new, f.now_s(), 86400)]).unwrap());
    let bodies = (0..BURST)
        .map(|_| signed(&new, &f.a.name, &f.b.name, f.now_ms()))
        .collect();
    for (status, body) in burst(&f, bodies).await {
        assert_eq!((status, body.as_str()), (200, "a.example"));
    }
    assert_eq!(f.a.key_fetches(), 2, "one refetch for the whole burst");
    assert_eq!(f.b.replay_rows().await, BURST as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_contacts_from_an_unreachable_sender_fail_alike() {
    // c.example's keys cannot be fetched: every request of the burst gets
    // the fetch's own error, none a "fetched recently" one.
    let f = federation().await;
    let c = crate::harness::domain("c.example");
    let key = new_signing_key();
    let bodies = (0..BURST)
        .map(|_| signed(&key, &c, &f.b.name, f.now_ms()))
        .collect();
    for (status, body) in burst(&f, bodies).await {
        assert_eq!(status, 502, "{body}");
        assert!(
            body.starts_with("cannot get c.example's signature keys (discovery: GET https://c.example/.well-known/mimi/ds-domain failed"),
            "{body}"
        );
    }
    assert_eq!(f.b.replay_rows().await, 0);
}
