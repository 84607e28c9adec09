//! Every way `check_incoming` refuses a message: a table of inputs with the exact
//! message and fault of each, plus the ordering of the checks.

use std::cell::Cell;

use mimi_identifiers::Domain;
use mimi_wire::{
    Event, EventKind, Fault, ProtocolVersion, S2SMessage, ServerVerificationKey, SignatureScheme,
    WireError, check_incoming,
};

use crate::{MAX_LEN, NOW_MS, Raw, SKEW_MS, domain, envelope_at, fresh_key, key_a, record, signed};

const NOW_S: u64 = NOW_MS / 1000;

/// b.example's view of the federation. c.example deliberately shares a.example's
/// key, so that a changed sender field fails on the signature and not merely on
/// the key.
fn lookup(d: &Domain) -> Option<ServerVerificationKey> {
    let key = key_a();
    match d.as_str() {
        "a.example" | "c.example" => Some(record(&key)),
        "expired.example" => Some(key.verification_key(NOW_S - 200, NOW_S - 100)),
        "early.example" => Some(key.verification_key(NOW_S + 100, NOW_S + 200)),
        "p256.example" => Some(ServerVerificationKey::new(
            SignatureScheme::new(0x0403),
            key.public_key().to_vec(),
            0,
            u64::MAX,
        )),
        "short.example" => Some(ServerVerificationKey::new(
            SignatureScheme::ED25519,
            key.public_key()[..31].to_vec(),
            0,
            u64::MAX,
        )),
        _ => None,
    }
}

fn check(bytes: &[u8], max_len: usize) -> Result<(), WireError> {
    check_incoming(
        bytes,
        &domain("b.example"),
        lookup,
        NOW_MS,
        SKEW_MS,
        max_len,
    )
    .map(|_| ())
}

/// A good message from `from` (signed with a.example's key) to b.example.
fn good_from(from: &str) -> S2SMessage {
    signed(
        from,
        "b.example",
        EventKind::GroupOperation,
        &envelope_at(NOW_MS),
        &key_a(),
    )
}

fn good() -> S2SMessage {
    good_from("a.example")
}

fn enc(m: &S2SMessage) -> Vec<u8> {
    m.encode().unwrap()
}

/// `good()` with one field changed after signing.
fn tampered(f: impl FnOnce(&mut Raw)) -> Vec<u8> {
    let mut raw = Raw::of(&good());
    f(&mut raw);
    raw.encode()
}

/// A message from a.example to b.example, correctly signed, with this payload.
fn signed_payload(payload: Vec<u8>) -> Vec<u8> {
    let event = Event::new(EventKind::GroupOperation.into(), payload);
    let m = S2SMessage::sign(
        ProtocolVersion::Mimi10,
        &domain("a.example"),
        &domain("b.example"),
        event,
        &key_a(),
    )
    .unwrap();
    enc(&m)
}

const FORWARDED: &str = "the message is addressed to \"c.example\", not to b.example: a message \
     signed for another provider is refused (it was forwarded or misrouted); send it to its \
     recipient_domain only";
const BAD_SIG_A: &str = "the signature does not verify under a.example's key: the message was \
     altered or signed with another key; refetch a.example's /signature_key once, and refuse \
     the message if it still fails";
const VERSION_0: &str = "protocol version 0 is not supported: this server speaks mimi10 (1) \
     only; send a mimi10 S2SMessage";

#[test]
fn the_good_message_is_accepted() {
    let (verified, envelope) = check_incoming(
        &enc(&good()),
        &domain("b.example"),
        lookup,
        NOW_MS,
        SKEW_MS,
        MAX_LEN,
    )
    .unwrap();
    assert_eq!(verified.sender(), &domain("a.example"));
    assert_eq!(envelope, envelope_at(NOW_MS));
}

#[test]
fn refusals() {
    let good_bytes = enc(&good());
    let mut trailing = good_bytes.clone();
    trailing.push(0);
    let long_sender = format!(
        "sender_domain \"{}...\" is refused (300 bytes; at most 253 are allowed): send the \
         domain in canonical form (lowercase, A-labels, no trailing dot)",
        "a".repeat(64)
    );
    let oversized = format!(
        "S2SMessage is {} bytes; at most {} are accepted: send smaller events (or raise the \
         receiver's limit if this size is legitimate)",
        good_bytes.len(),
        good_bytes.len() - 1
    );
    let cases: Vec<(&str, Vec<u8>, usize, &str, Fault)> = vec![
        (
            "empty input",
            vec![],
            MAX_LEN,
            "S2SMessage ends early (truncated): send its complete TLS serialization",
            Fault::Peer,
        ),
        (
            "oversized input",
            good_bytes.clone(),
            good_bytes.len() - 1,
            &oversized,
            Fault::Peer,
        ),
        (
            "trailing bytes",
            trailing,
            MAX_LEN,
            "S2SMessage is followed by 1 more bytes: send exactly one TLS-serialized \
             S2SMessage and nothing after it",
            Fault::Peer,
        ),
        (
            "non-minimal vector length",
            {
                // sender_domain's length 9 written in two bytes (0x40 0x09).
                let mut b = good_bytes[..2].to_vec();
                b.extend_from_slice(&[0x40, 0x09]);
                b.extend_from_slice(&good_bytes[3..]);
                b
            },
            MAX_LEN,
            "S2SMessage is not a valid TLS serialization (a vector length is not minimally \
             encoded or exceeds 2^30 - 1): encode it as docs/wire-spec.md specifies, with \
             minimal-length RFC 9420 vector lengths",
            Fault::Peer,
        ),
        (
            "unknown version 2",
            tampered(|r| r.version = 2),
            MAX_LEN,
            "protocol version 2 is not supported: this server speaks mimi10 (1) only; send a \
             mimi10 S2SMessage",
            Fault::Incompatible,
        ),
        (
            "unknown version 0xffff and nothing else: the version is read first",
            vec![0xff, 0xff],
            MAX_LEN,
            "protocol version 65535 is not supported: this server speaks mimi10 (1) only; \
             send a mimi10 S2SMessage",
            Fault::Incompatible,
        ),
        (
            "signed as reserved(0)",
            enc(&S2SMessage::sign(
                ProtocolVersion::Reserved,
                &domain("a.example"),
                &domain("b.example"),
                Event::with_envelope(EventKind::GroupOperation, &envelope_at(NOW_MS)).unwrap(),
                &key_a(),
            )
            .unwrap()),
            MAX_LEN,
            VERSION_0,
            Fault::Incompatible,
        ),
        (
            "version tampered to reserved(0)",
            tampered(|r| r.version = 0),
            MAX_LEN,
            VERSION_0,
            Fault::Incompatible,
        ),
        (
            "forwarded: signed for c.example",
            enc(&signed(
                "a.example",
                "c.example",
                EventKind::GroupOperation,
                &envelope_at(NOW_MS),
                &key_a(),
            )),
            MAX_LEN,
            FORWARDED,
            Fault::Peer,
        ),
        (
            "recipient not canonical",
            tampered(|r| r.recipient = b"B.example".to_vec()),
            MAX_LEN,
            "the message is addressed to \"B.example\", not to b.example: a message signed \
             for another provider is refused (it was forwarded or misrouted); send it to its \
             recipient_domain only",
            Fault::Peer,
        ),
        (
            "sender not a domain",
            tampered(|r| r.sender = b"not a domain\x00".to_vec()),
            MAX_LEN,
            "sender_domain \"not a domain\\x00\" is refused (invalid domain label at byte 3: \
             contains ' ', which is not allowed; use letters, digits and '-' \
             (internationalized names are converted to xn-- labels)): send the domain in \
             canonical form (lowercase, A-labels, no trailing dot)",
            Fault::Peer,
        ),
        (
            "sender not canonical",
            tampered(|r| r.sender = b"A.example".to_vec()),
            MAX_LEN,
            "sender_domain \"A.example\" is refused (not canonical; its canonical form is \
             \"a.example\"): send the domain in canonical form (lowercase, A-labels, no \
             trailing dot)",
            Fault::Peer,
        ),
        (
            "sender longer than any domain",
            tampered(|r| r.sender = vec![b'a'; 300]),
            MAX_LEN,
            &long_sender,
            Fault::Peer,
        ),
        (
            "unknown sender key",
            enc(&good_from("unknown.example")),
            MAX_LEN,
            "no signature key is known for unknown.example: fetch it from unknown.example's \
             /signature_key endpoint, then retry (or refuse: unknown.example is not a \
             federation peer)",
            Fault::Local,
        ),
        (
            "signed with another key",
            enc(&signed(
                "a.example",
                "b.example",
                EventKind::GroupOperation,
                &envelope_at(NOW_MS),
                &fresh_key(),
            )),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "sender tampered (c.example has the same key)",
            tampered(|r| r.sender = b"c.example".to_vec()),
            MAX_LEN,
            "the signature does not verify under c.example's key: the message was altered or \
             signed with another key; refetch c.example's /signature_key once, and refuse the \
             message if it still fails",
            Fault::Peer,
        ),
        (
            "recipient tampered: signed for c.example, redirected to b.example",
            {
                let m = signed(
                    "a.example",
                    "c.example",
                    EventKind::GroupOperation,
                    &envelope_at(NOW_MS),
                    &key_a(),
                );
                let mut raw = Raw::of(&m);
                raw.recipient = b"b.example".to_vec();
                raw.encode()
            },
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "event type tampered",
            tampered(|r| r.event_type = EventKind::DeliverMessage.as_str().into()),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "payload tampered",
            tampered(|r| *r.payload.last_mut().unwrap() ^= 1),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "signature tampered",
            tampered(|r| r.signature[10] ^= 0x80),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "signature cut short",
            tampered(|r| r.signature.truncate(63)),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "signature empty",
            tampered(|r| r.signature.clear()),
            MAX_LEN,
            BAD_SIG_A,
            Fault::Peer,
        ),
        (
            "expired key",
            enc(&good_from("expired.example")),
            MAX_LEN,
            "the sender's signature key expired at 1699999900 (now 1700000000, Unix seconds): \
             refetch the sender's /signature_key; if it is still expired, the sender must \
             rotate its key",
            Fault::Peer,
        ),
        (
            "key not yet valid",
            enc(&good_from("early.example")),
            MAX_LEN,
            "the sender's signature key is not valid before 1700000100 (now 1700000000, Unix \
             seconds): the sender must sign with its current key; check both clocks",
            Fault::Peer,
        ),
        (
            "key of an unsupported scheme",
            enc(&good_from("p256.example")),
            MAX_LEN,
            "signature scheme 0x0403 is not supported: only ed25519 (0x0807) is; publish an \
             Ed25519 server signing key",
            Fault::Incompatible,
        ),
        (
            "key record with a 31-byte key",
            enc(&good_from("short.example")),
            MAX_LEN,
            "the public key in the verification key record is 31 bytes; an Ed25519 key is 32: \
             publish the raw 32-byte public key",
            Fault::Peer,
        ),
        (
            "payload not an envelope",
            signed_payload(b"hi".to_vec()),
            MAX_LEN,
            "EventEnvelope ends early (truncated): send its complete TLS serialization",
            Fault::Peer,
        ),
        (
            "envelope with trailing bytes",
            signed_payload({
                let mut p = envelope_at(NOW_MS).encode().unwrap();
                p.extend_from_slice(b"xy");
                p
            }),
            MAX_LEN,
            "EventEnvelope is followed by 2 more bytes: send exactly one TLS-serialized \
             EventEnvelope and nothing after it",
            Fault::Peer,
        ),
        (
            "stale envelope",
            enc(&signed(
                "a.example",
                "b.example",
                EventKind::GroupOperation,
                &envelope_at(NOW_MS - SKEW_MS - 1),
                &key_a(),
            )),
            MAX_LEN,
            "the event was created at 1699999939999 ms, more than 60000 ms before now \
             (1700000000000 ms, Unix): refused as too old (a delayed copy or a replay); send \
             new events promptly and check the sender's clock",
            Fault::Peer,
        ),
        (
            "envelope from the future",
            enc(&signed(
                "a.example",
                "b.example",
                EventKind::GroupOperation,
                &envelope_at(NOW_MS + SKEW_MS + 1),
                &key_a(),
            )),
            MAX_LEN,
            "the event was created at 1700000060001 ms, more than 60000 ms after now \
             (1700000000000 ms, Unix): refused as from the future; check the sender's clock",
            Fault::Peer,
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, max_len, message, fault) in cases {
        match check(&bytes, max_len) {
            Ok(()) => failures.push(format!("{name}: accepted")),
            Err(e) => {
                if e.to_string() != message || e.fault() != fault {
                    failures.push(format!(
                        "{name}:\n  got  {:?} {e}\n  want {fault:?} {message}",
                        e.fault()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let bytes = enc(&good());
    for cut in 0..bytes.len() {
        let err = check(&bytes[..cut], MAX_LEN).unwrap_err();
        assert_eq!(
            err,
            WireError::Truncated { what: "S2SMessage" },
            "cut at {cut}"
        );
    }
}

#[test]
fn max_len_is_inclusive() {
    let bytes = enc(&good());
    assert!(check(&bytes, bytes.len()).is_ok());
    assert!(matches!(
        check(&bytes, bytes.len() - 1),
        Err(WireError::TooLong { .. })
    ));
    // The length is checked before anything is read, the version included.
    let unknown_version = tampered(|r| r.version = 9);
    assert!(matches!(
        check(&unknown_version, unknown_version.len() - 1),
        Err(WireError::TooLong { .. })
    ));
}

#[test]
fn no_key_is_looked_up_before_the_cheap_checks_pass() {
    let calls = Cell::new(0);
    let counting = |d: &Domain| {
        calls.set(calls.get() + 1);
        lookup(d)
    };
    let forwarded = enc(&signed(
        "a.example",
        "c.example",
        EventKind::GroupOperation,
        &envelope_at(NOW_MS),
        &key_a(),
    ));
    let reserved = tampered(|r| r.version = 0);
    let bad_sender = tampered(|r| r.sender = b"-".to_vec());
    for bytes in [forwarded, reserved, bad_sender] {
        let res = check_incoming(
            &bytes,
            &domain("b.example"),
            counting,
            NOW_MS,
            SKEW_MS,
            MAX_LEN,
        );
        assert!(res.is_err());
    }
    assert_eq!(calls.get(), 0);
}

#[test]
fn stale_is_checked_only_after_the_signature() {
    // A stale message with a bad signature is reported as a bad signature: nothing
    // in an unauthenticated payload is read.
    let m = signed(
        "a.example",
        "b.example",
        EventKind::GroupOperation,
        &envelope_at(0),
        &fresh_key(),
    );
    assert!(matches!(
        check(&enc(&m), MAX_LEN),
        Err(WireError::BadSignature { .. })
    ));
}
