//! Sign/verify round trips, the event-type table, labels, and key handling.

use std::collections::HashSet;

use mimi_wire::{
    Event, EventEnvelope, EventKind, EventType, Fault, ProtocolVersion, ReplayKey, S2SMessage,
    SignatureScheme, SigningKey, WireError, check_freshness, labels,
};

use crate::{
    MAX_LEN, NOW_MS, RFC8032_PKCS8, SKEW_MS, domain, envelope_at, fresh_key, key_a, record, signed,
};

#[test]
fn sign_then_verify() {
    let key = fresh_key();
    for kind in EventKind::ALL {
        let msg = signed("a.example", "b.example", kind, &envelope_at(NOW_MS), &key);
        let bytes = msg.encode().unwrap();
        let decoded = S2SMessage::decode(&bytes, MAX_LEN).unwrap();
        assert_eq!(decoded, msg);
        let verified = decoded.verify(&record(&key), NOW_MS / 1000).unwrap();
        assert_eq!(verified.version(), ProtocolVersion::Mimi10);
        assert_eq!(verified.sender(), &domain("a.example"));
        assert_eq!(verified.recipient(), &domain("b.example"));
        assert_eq!(verified.event_kind().unwrap(), kind);
        let env = EventEnvelope::decode(verified.event().event_payload(), MAX_LEN).unwrap();
        assert_eq!(env, envelope_at(NOW_MS));
    }
}

#[test]
fn verify_refuses_another_key() {
    let msg = signed(
        "a.example",
        "b.example",
        EventKind::DeliverMessage,
        &envelope_at(NOW_MS),
        &key_a(),
    );
    let err = msg
        .verify(&record(&fresh_key()), NOW_MS / 1000)
        .unwrap_err();
    assert_eq!(
        err,
        WireError::BadSignature {
            sender: domain("a.example")
        }
    );
}

#[test]
fn signature_covers_the_version() {
    // check_incoming refuses a non-mimi10 version before it verifies anything; the
    // signature must cover the version all the same.
    let msg = signed(
        "a.example",
        "b.example",
        EventKind::GroupOperation,
        &envelope_at(NOW_MS),
        &key_a(),
    );
    let mut raw = crate::Raw::of(&msg);
    raw.version = 0;
    let tampered = S2SMessage::decode(&raw.encode(), MAX_LEN).unwrap();
    assert_eq!(tampered.version(), ProtocolVersion::Reserved);
    assert!(matches!(
        tampered.verify(&record(&key_a()), NOW_MS / 1000),
        Err(WireError::BadSignature { .. })
    ));
}

#[test]
fn key_validity_bounds_are_inclusive() {
    let key = key_a();
    let msg = signed(
        "a.example",
        "b.example",
        EventKind::GroupOperation,
        &envelope_at(NOW_MS),
        &key,
    );
    let rec = key.verification_key(100, 200);
    assert!(msg.verify(&rec, 100).is_ok());
    assert!(msg.verify(&rec, 200).is_ok());
    assert_eq!(
        msg.verify(&rec, 99).unwrap_err(),
        WireError::KeyNotYetValid {
            not_before: 100,
            now: 99
        }
    );
    assert_eq!(
        msg.verify(&rec, 201).unwrap_err(),
        WireError::KeyExpired {
            not_after: 200,
            now: 201
        }
    );
}

#[test]
fn freshness_window_bounds_are_inclusive() {
    assert!(check_freshness(NOW_MS - SKEW_MS, NOW_MS, SKEW_MS).is_ok());
    assert!(check_freshness(NOW_MS + SKEW_MS, NOW_MS, SKEW_MS).is_ok());
    assert!(check_freshness(NOW_MS, NOW_MS, 0).is_ok());
    assert!(matches!(
        check_freshness(NOW_MS - SKEW_MS - 1, NOW_MS, SKEW_MS),
        Err(WireError::StaleEvent { .. })
    ));
    assert!(matches!(
        check_freshness(NOW_MS + SKEW_MS + 1, NOW_MS, SKEW_MS),
        Err(WireError::FutureEvent { .. })
    ));
    // Extremes do not overflow.
    assert!(check_freshness(u64::MAX, 0, u64::MAX).is_ok());
    assert!(matches!(
        check_freshness(0, u64::MAX, 0),
        Err(WireError::StaleEvent { .. })
    ));
    assert!(matches!(
        check_freshness(u64::MAX, 0, 0),
        Err(WireError::FutureEvent { .. })
    ));
}

#[test]
fn envelopes_get_distinct_random_ids() {
    let ids: HashSet<[u8; 16]> = (0..100)
        .map(|_| *EventEnvelope::new(vec![], NOW_MS).unwrap().message_id())
        .collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn replay_key_is_sender_and_message_id() {
    let key = key_a();
    let env = envelope_at(NOW_MS);
    let msg = signed(
        "a.example",
        "b.example",
        EventKind::GroupOperation,
        &env,
        &key,
    );
    let verified = msg.verify(&record(&key), NOW_MS / 1000).unwrap();
    let rk = ReplayKey::of(&verified, &env);
    assert_eq!(rk, ReplayKey::new(domain("a.example"), [7; 16]));
    assert_eq!(rk.sender(), &domain("a.example"));
    assert_eq!(rk.message_id(), &[7; 16]);
    // The same ID from another sender is another key.
    assert_ne!(rk, ReplayKey::new(domain("c.example"), [7; 16]));
}

/// The registry strings, exactly as docs/wire-spec.md lists them.
const EVENT_TYPES: [(EventKind, &str, &str); 8] = [
    (
        EventKind::GroupOperation,
        "mimi.delivery-service.group-operation",
        "/group_operation",
    ),
    (
        EventKind::WelcomeInformation,
        "mimi.delivery-service.welcome-information",
        "/welcome_information",
    ),
    (
        EventKind::ExternalCommitInformation,
        "mimi.delivery-service.external-commit-information",
        "/external_commit_information",
    ),
    (
        EventKind::ConnectionRequest,
        "mimi.queueing-service.connection-request",
        "/connection_request",
    ),
    (
        EventKind::DeliverMessage,
        "mimi.queueing-service.deliver-message",
        "/deliver_message",
    ),
    (
        EventKind::ConnectionKeyPackages,
        "mimi.delivery-service.connection-key-packages",
        "/connection_key_packages",
    ),
    (
        EventKind::GroupKeyPackages,
        "mimi.delivery-service.group-key-packages",
        "/group_key_packages",
    ),
    (
        EventKind::KeyQuery,
        "mimi.discovery.key-query",
        "/.well-known/mimi/keys",
    ),
];

#[test]
fn event_type_strings() {
    assert_eq!(EventKind::ALL.len(), EVENT_TYPES.len());
    for (i, (kind, s, path)) in EVENT_TYPES.into_iter().enumerate() {
        assert_eq!(EventKind::ALL[i], kind);
        assert_eq!(kind.as_str(), s);
        assert_eq!(kind.to_string(), s);
        assert_eq!(kind.endpoint_path(), path);
        assert_eq!(s.parse::<EventKind>().unwrap(), kind);
        assert_eq!(EventType::from(kind).as_bytes(), s.as_bytes());
        assert_eq!(EventType::new(s).unwrap().kind().unwrap(), kind);
        // The name of a §5 endpoint's event is its path with '_' written '-'.
        let name = s.rsplit('.').next().unwrap();
        if kind == EventKind::KeyQuery {
            assert_eq!((name, path), ("key-query", "/.well-known/mimi/keys"));
        } else {
            assert_eq!(name, path[1..].replace('_', "-"));
        }
    }
}

#[test]
fn unknown_event_types_are_errors() {
    for s in [
        "",
        "mimi.delivery-service.add",
        "MIMI.delivery-service.group-operation",
        "mimi.delivery-service.group-operation ",
        "mimi.delivery-service.group_operation",
    ] {
        let err = s.parse::<EventKind>().unwrap_err();
        assert!(matches!(err, WireError::UnknownEventType { .. }), "{s:?}");
        assert_eq!(err.fault(), Fault::Incompatible);
    }
    assert_eq!(
        EventKind::from_bytes(b"mimi.x\n\xff")
            .unwrap_err()
            .to_string(),
        "event type \"mimi.x\\n\\xff\" is not one this server handles: send one of the types \
         listed in docs/wire-spec.md (e.g. \"mimi.delivery-service.group-operation\")"
    );
}

#[test]
fn event_type_new_accepts_only_printable_ascii() {
    assert!(EventType::new("mimi.delivery-service.add").is_ok());
    assert!(EventType::new(&"x".repeat(255)).is_ok());
    for bad in ["", "with space", "tab\t", "caf\u{e9}", &"x".repeat(256)] {
        assert!(
            matches!(EventType::new(bad), Err(WireError::InvalidEventType { .. })),
            "{bad:?}"
        );
    }
    // A custom event type travels, and is reported as unknown by kind().
    let event = Event::new(EventType::new("mimi.example.other").unwrap(), vec![1]);
    assert!(event.event_type().kind().is_err());
}

#[test]
fn labels_are_distinct_and_ascii() {
    let set: HashSet<&str> = labels::ALL.iter().copied().collect();
    assert_eq!(set.len(), labels::ALL.len());
    assert!(labels::ALL.contains(&labels::S2S_MESSAGE));
    assert_eq!(labels::S2S_MESSAGE, "MIMI 1.0 S2SMessage");
    for l in labels::ALL {
        assert!(l.starts_with("MIMI 1.0 ") && l.is_ascii());
    }
}

#[test]
fn signing_key_debug_shows_no_secret() {
    let key = key_a();
    let debug = format!("{key:?}");
    assert!(debug.contains("d75a980182b10ab7"), "{debug}");
    // The secret seed starts 9d61b19d.
    assert!(!debug.contains("9d61b19d"), "{debug}");
    assert!(!debug.contains("157, 97, 177"), "{debug}");
}

#[test]
fn signing_key_reads_pkcs8_v1_and_v2_and_refuses_garbage() {
    assert_eq!(key_a().scheme(), SignatureScheme::ED25519);
    assert_eq!(key_a().public_key().len(), 32);
    let v2 = SigningKey::generate_pkcs8().unwrap();
    assert!(SigningKey::from_pkcs8(&v2).is_ok());
    let mut bad = RFC8032_PKCS8;
    bad[9] ^= 1; // the algorithm OID
    let err = SigningKey::from_pkcs8(&bad).unwrap_err();
    assert!(matches!(err, WireError::InvalidSigningKey { .. }));
    assert_eq!(err.fault(), Fault::Local);
    assert!(SigningKey::from_pkcs8(b"").is_err());
}
