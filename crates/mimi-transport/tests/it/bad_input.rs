//! Requests b.example must refuse: each gets its status and a body naming the
//! problem, and none leaves a row in b's replay table.

use std::time::Duration;

use mimi_identifiers::Domain;
use mimi_wire::{Event, EventEnvelope, EventKind, ProtocolVersion, S2SMessage, SigningKey};

use crate::harness::{Federation, MAX_MESSAGE_LEN, domain, federation, new_signing_key};

const OCTET: &str = "application/octet-stream";

/// A group operation from `from` to `to`, created at `created_at_ms`.
pub fn signed(key: &SigningKey, from: &Domain, to: &Domain, created_at_ms: u64) -> Vec<u8> {
    let envelope = EventEnvelope::new(b"an MLS message".to_vec(), created_at_ms).unwrap();
    let event = Event::with_envelope(EventKind::GroupOperation, &envelope).unwrap();
    S2SMessage::sign(ProtocolVersion::Mimi10, from, to, event, key)
        .unwrap()
        .encode()
        .unwrap()
}

fn good(f: &Federation) -> Vec<u8> {
    signed(&f.a.signing_key, &f.a.name, &f.b.name, f.now_ms())
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_status_and_leave_no_row() {
    let f = federation().await;
    let c = domain("c.example");

    let mut wrong_version = good(&f);
    wrong_version[..2].copy_from_slice(&[0x00, 0x02]);
    let mut bad_signature = good(&f);
    *bad_signature.last_mut().unwrap() ^= 0x01;
    let truncated = {
        let g = good(&f);
        g[..g.len() - 10].to_vec()
    };
    let stale_at = f.now_ms() - Duration::from_secs(10 * 60).as_millis() as u64;

    // (case, Content-Type, body, status, problem type, part of the detail)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "wrong version",
            OCTET,
            wrong_version,
            400,
            "unsupported-version",
            "protocol version 2 is not supported",
        ),
        (
            "forwarded (signed for c.example)",
            OCTET,
            signed(&f.a.signing_key, &f.a.name, &c, f.now_ms()),
            403,
            "wrong-recipient",
            "addressed to \"c.example\", not to b.example",
        ),
        (
            "bad signature",
            OCTET,
            bad_signature,
            403,
            "bad-signature",
            "does not verify under a.example's key",
        ),
        (
            "unknown sender (no keys fetchable)",
            OCTET,
            signed(&new_signing_key(), &c, &f.b.name, f.now_ms()),
            502,
            "keys-unavailable",
            "cannot get c.example's signature keys",
        ),
        (
            "stale envelope",
            OCTET,
            signed(&f.a.signing_key, &f.a.name, &f.b.name, stale_at),
            403,
            "stale-event",
            "refused as too old",
        ),
        (
            "envelope from the future",
            OCTET,
            signed(
                &f.a.signing_key,
                &f.a.name,
                &f.b.name,
                f.now_ms() + 10 * 60 * 1000,
            ),
            403,
            "future-event",
            "refused as from the future",
        ),
        (
            "oversized body",
            OCTET,
            vec![0u8; MAX_MESSAGE_LEN + 1],
            413,
            "body-too-large",
            "larger than the 65536 bytes",
        ),
        (
            "wrong content type",
            "text/plain",
            good(&f),
            415,
            "wrong-content-type",
            "not application/octet-stream",
        ),
        (
            "truncated body",
            OCTET,
            truncated,
            400,
            "truncated",
            "truncated",
        ),
    ];
    for (name, content_type, bytes, status, kind, needle) in cases {
        let reply = f
            .post_to_b_at("/group_operation", content_type, bytes)
            .await;
        assert_eq!(reply.status, status, "{name}: {reply:?}");
        assert_eq!(reply.kind.as_deref(), Some(kind), "{name}: {reply:?}");
        assert!(
            reply.body.contains(needle),
            "{name}: {:?} lacks {needle:?}",
            reply.body
        );
        assert_eq!(f.b.replay_rows().await, 0, "{name} left a row");
    }
}

#[tokio::test]
async fn a_replayed_request_is_refused_and_recorded_once() {
    let f = federation().await;
    let captured = good(&f);
    let (status, body) = f.post_to_b(OCTET, captured.clone()).await;
    assert_eq!((status, body.as_str()), (200, "a.example"));
    let reply = f.post_to_b_at("/group_operation", OCTET, captured).await;
    assert_eq!(reply.status, 409, "{reply:?}");
    assert_eq!(reply.kind.as_deref(), Some("replay"));
    assert!(reply.body.contains("already accepted"), "{reply:?}");
    assert_eq!(f.b.replay_rows().await, 1);
}

#[tokio::test]
async fn bad_signatures_refetch_keys_at_most_once_per_interval() {
    let f = federation().await;
    let (status, _) = f.post_to_b(OCTET, good(&f)).await;
    assert_eq!(status, 200);
    assert_eq!(f.a.key_fetches(), 1);
    // Within the interval: no refetch, however many bad messages arrive.
    for _ in 0..3 {
        let mut bad = good(&f);
        *bad.last_mut().unwrap() ^= 0x01;
        let (status, _) = f.post_to_b(OCTET, bad).await;
        assert_eq!(status, 403);
    }
    assert_eq!(f.a.key_fetches(), 1, "no refetch within the interval");
    // After it: one refetch for the next bad message, then none again.
    f.advance(Duration::from_secs(31));
    for _ in 0..3 {
        let mut bad = good(&f);
        *bad.last_mut().unwrap() ^= 0x01;
        let (status, _) = f.post_to_b(OCTET, bad).await;
        assert_eq!(status, 403);
    }
    assert_eq!(f.a.key_fetches(), 2);
    assert_eq!(f.b.replay_rows().await, 1);
}
