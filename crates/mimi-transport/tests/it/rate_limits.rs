//! Rate limits (draft-kohbrok-mimi-transport §6): per authenticated sender
//! domain and per sender and endpoint, answered with 429 and `Retry-After`,
//! without a replay row.

use std::time::Duration;

use mimi_transport::RateLimits;
use mimi_transport::ratelimit::Limit;

use crate::bad_input::signed;
use crate::harness::{Federation, federation_with};

const OCTET: &str = "application/octet-stream";

/// POSTs a fresh event signed by `from` (a or b) to b; returns the status,
/// the `Retry-After` header and the body (of an error: its detail).
async fn post_from(
    f: &Federation,
    from: &crate::harness::Provider,
) -> (u16, Option<String>, String) {
    let bytes = signed(&from.signing_key, &from.name, &f.b.name, f.now_ms());
    let reply = f.post_to_b_at("/group_operation", OCTET, bytes).await;
    if reply.status == 429 {
        assert_eq!(reply.kind.as_deref(), Some("rate-limited"));
    }
    (reply.status, reply.retry_after, reply.body)
}

fn limits(per_sender: u32, per_endpoint: u32) -> RateLimits {
    RateLimits {
        per_sender: Limit::new(per_sender, Duration::from_secs(1)),
        per_sender_and_endpoint: Limit::new(per_endpoint, Duration::from_secs(1)),
        max_tracked_keys: 100,
    }
}

#[tokio::test]
async fn a_sender_over_its_limit_gets_429_with_retry_after_and_leaves_no_row() {
    let f = federation_with(limits(3, 100)).await;
    for _ in 0..3 {
        let (status, _, body) = post_from(&f, &f.a).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(f.b.replay_rows().await, 3);

    let (status, retry_after, body) = post_from(&f, &f.a).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body.contains("a.example sent too many requests"), "{body}");
    assert_eq!(f.b.replay_rows().await, 3, "a refused request burns no id");

    // Another sender domain has its own budget.
    let (status, _, body) = post_from(&f, &f.b).await;
    assert_eq!((status, body.as_str()), (200, "b.example"));
    assert_eq!(f.b.replay_rows().await, 4);

    // A forged request in a's name does not spend a's budget either: once
    // the period passed, a has exactly one token, and a bad signature first
    // leaves it to a.
    f.advance(Duration::from_secs(1));
    let mut forged = signed(&f.b.signing_key, &f.a.name, &f.b.name, f.now_ms());
    *forged.last_mut().unwrap() ^= 0x01;
    let (status, body) = f.post_to_b(OCTET, forged).await;
    assert_eq!(status, 403, "{body}");
    let (status, retry_after, body) = post_from(&f, &f.a).await;
    assert_eq!((status, body.as_str()), (200, "a.example"));
    assert_eq!(retry_after, None);
    assert_eq!(f.b.replay_rows().await, 5);
    let (status, _, body) = post_from(&f, &f.a).await;
    assert_eq!(status, 429, "{body}");
}

#[tokio::test]
async fn the_per_endpoint_limit_applies_below_the_per_sender_one() {
    let f = federation_with(limits(100, 2)).await;
    for _ in 0..2 {
        let (status, _, body) = post_from(&f, &f.a).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, retry_after, body) = post_from(&f, &f.a).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(body.contains("group-operation endpoint"), "{body}");
    assert_eq!(f.b.replay_rows().await, 2);

    f.advance(Duration::from_secs(2));
    for _ in 0..2 {
        let (status, _, body) = post_from(&f, &f.a).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(f.b.replay_rows().await, 4);
}
