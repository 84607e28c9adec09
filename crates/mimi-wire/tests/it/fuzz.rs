//! Property tests: encode/decode round trips for arbitrary messages, and no panic
//! (and no acceptance) for random or mutated bytes. The cargo-fuzz target
//! `fuzz/fuzz_targets/s2s_message.rs` runs the same checks unbounded.

use mimi_identifiers::Domain;
use mimi_wire::{
    EventEnvelope, EventKind, S2SMessage, ServerVerificationKey, SignatureScheme, check_incoming,
};
use proptest::prelude::*;

use crate::{MAX_LEN, NOW_MS, Raw, SKEW_MS, domain, key_a, record, signed};

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn raw() -> impl Strategy<Value = Raw> {
    (
        prop_oneof![Just(0u16), Just(1u16)],
        bytes(80),
        bytes(80),
        bytes(80),
        // Long enough to need two-byte lengths.
        bytes(300),
        bytes(80),
    )
        .prop_map(
            |(version, sender, recipient, event_type, payload, signature)| Raw {
                version,
                sender,
                recipient,
                event_type,
                payload,
                signature,
            },
        )
}

fn lookup(d: &Domain) -> Option<ServerVerificationKey> {
    (d.as_str() == "a.example").then(|| record(&key_a()))
}

fn check(bytes: &[u8]) -> bool {
    check_incoming(
        bytes,
        &domain("b.example"),
        lookup,
        NOW_MS,
        SKEW_MS,
        MAX_LEN,
    )
    .is_ok()
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = b.len();
        match *m {
            Mutation::Set(i, v) if n > 0 => b[i % n] = v,
            Mutation::Insert(i, v) => b.insert(i % (n + 1), v),
            Mutation::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Mutation::Truncate(i) => b.truncate(i % (n + 1)),
            _ => {}
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_messages_round_trip(r in raw()) {
        let encoded = r.encode();
        let decoded = S2SMessage::decode(&encoded, MAX_LEN).unwrap();
        prop_assert_eq!(Raw::of(&decoded), r);
        prop_assert_eq!(decoded.encode().unwrap(), encoded);
    }

    #[test]
    fn signed_messages_round_trip_and_verify(
        kind in proptest::sample::select(EventKind::ALL.to_vec()),
        id in any::<[u8; 16]>(),
        created in (NOW_MS - SKEW_MS)..=(NOW_MS + SKEW_MS),
        body in bytes(2000),
    ) {
        let env = EventEnvelope::with_id(id, body, created);
        let msg = signed("a.example", "b.example", kind, &env, &key_a());
        let encoded = msg.encode().unwrap();
        prop_assert_eq!(S2SMessage::decode(&encoded, MAX_LEN).unwrap(), msg);
        let (verified, got) = check_incoming(
            &encoded, &domain("b.example"), lookup, NOW_MS, SKEW_MS, MAX_LEN,
        ).unwrap();
        prop_assert_eq!(verified.event_kind().unwrap(), kind);
        prop_assert_eq!(got, env);
    }

    #[test]
    fn envelopes_and_key_records_round_trip(
        id in any::<[u8; 16]>(), t in any::<u64>(), body in bytes(300),
        scheme in any::<u16>(), pk in bytes(100), nb in any::<u64>(), na in any::<u64>(),
    ) {
        let env = EventEnvelope::with_id(id, body, t);
        prop_assert_eq!(EventEnvelope::decode(&env.encode().unwrap(), MAX_LEN).unwrap(), env);
        let rec = ServerVerificationKey::new(SignatureScheme::new(scheme), pk, nb, na);
        prop_assert_eq!(
            ServerVerificationKey::decode(&rec.encode().unwrap(), MAX_LEN).unwrap(),
            rec
        );
    }

    #[test]
    fn random_bytes_never_panic(b in bytes(600)) {
        // Whatever happens, no panic; random bytes are never a valid signed message.
        if let Ok(m) = S2SMessage::decode(&b, MAX_LEN) {
            // What decodes re-encodes to the same bytes: the encoding is canonical.
            prop_assert_eq!(m.encode().unwrap(), b.clone());
            let _ = m.sender_domain();
            let _ = m.recipient_domain();
            let _ = m.event().event_type().kind();
        }
        let _ = EventEnvelope::decode(&b, MAX_LEN);
        let _ = ServerVerificationKey::decode(&b, MAX_LEN);
        prop_assert!(!check(&b));
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(b in bytes(300), cut in 0usize..64) {
        // Random bytes rarely get past the version; start from a real header.
        let good = signed(
            "a.example", "b.example", EventKind::GroupOperation,
            &EventEnvelope::with_id([1; 16], vec![], NOW_MS), &key_a(),
        ).encode().unwrap();
        let mut input = good[..cut.min(good.len())].to_vec();
        input.extend_from_slice(&b);
        let _ = S2SMessage::decode(&input, MAX_LEN);
        prop_assert!(input == good || !check(&input));
    }

    #[test]
    fn mutated_messages_never_panic_and_are_never_accepted(
        ms in proptest::collection::vec(mutation(), 1..4),
        body in bytes(100),
    ) {
        let good = signed(
            "a.example", "b.example", EventKind::DeliverMessage,
            &EventEnvelope::with_id([2; 16], body, NOW_MS), &key_a(),
        ).encode().unwrap();
        prop_assert!(check(&good));
        let bad = mutate(good.clone(), &ms);
        // Any change to signed bytes is refused: Ed25519 in aws-lc is strongly
        // unforgeable and the encoding is canonical, so no other bytes verify.
        prop_assert!(bad == good || !check(&bad));
    }
}
