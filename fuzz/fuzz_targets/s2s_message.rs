//! Any bytes as an S2SMessage request body: no panic anywhere in decoding or in
//! `check_incoming`; what decodes re-encodes to the same bytes (the encoding is
//! canonical); random bytes never pass the signature check; and a message re-signed
//! with the known key gets past the signature, so the envelope and freshness checks
//! are fuzzed too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mimi_identifiers::Domain;
use mimi_wire::{
    EventEnvelope, S2SMessage, ServerVerificationKey, SigningKey, WireError, check_incoming,
};

const MAX_LEN: usize = 64 * 1024;
const NOW_MS: u64 = 1_700_000_000_000;
const SKEW_MS: u64 = 60_000;

/// PKCS#8 v1 header for Ed25519; the 32-byte seed follows.
const PKCS8_HEADER: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The receiver's view of every sender's key. Deliberately not the RFC 8032 key
/// that signed the seed inputs: no input signed under this key can ever reach the
/// fuzzer, so none may be accepted as it is.
const SEED: [u8; 32] = [0x5a; 32];

struct Fixture {
    key: SigningKey,
    record: ServerVerificationKey,
    me: Domain,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pkcs8 = [&PKCS8_HEADER[..], &SEED[..]].concat();
        let key = SigningKey::from_pkcs8(&pkcs8).expect("valid PKCS#8");
        let record = key.verification_key(0, u64::MAX);
        Fixture {
            key,
            record,
            me: "b.example".parse().expect("domain"),
        }
    })
}

fn check(bytes: &[u8]) -> Result<(), WireError> {
    let f = fixture();
    // Every sender has the one key, so every well-formed sender reaches the
    // signature check.
    check_incoming(
        bytes,
        &f.me,
        |_| Some(f.record.clone()),
        NOW_MS,
        SKEW_MS,
        MAX_LEN,
    )
    .map(|_| ())
}

fuzz_target!(|data: &[u8]| {
    let _ = EventEnvelope::decode(data, MAX_LEN);
    let _ = ServerVerificationKey::decode(data, MAX_LEN);

    // Raw bytes carry no valid signature (the fuzzer cannot forge Ed25519).
    let res = check(data);
    assert!(
        !matches!(res, Ok(())),
        "random bytes were accepted as a signed message"
    );

    let Ok(msg) = S2SMessage::decode(data, MAX_LEN) else {
        return;
    };
    assert_eq!(msg.encode().expect("decoded messages encode"), data);
    let _ = msg.event().event_type().kind();
    let (Ok(sender), Ok(recipient)) = (msg.sender_domain(), msg.recipient_domain()) else {
        return;
    };

    // Re-sign what decoded: now only the checks after the signature can refuse it.
    let f = fixture();
    let resigned = S2SMessage::sign(
        msg.version(),
        &sender,
        &recipient,
        msg.event().clone(),
        &f.key,
    )
    .expect("a decoded event fits")
    .encode()
    .expect("encodes");
    match check(&resigned) {
        Err(WireError::BadSignature { .. }) => panic!("our own signature did not verify"),
        Ok(()) => {
            let env = EventEnvelope::decode(msg.event().event_payload(), MAX_LEN).expect("checked");
            assert_eq!(env.encode().expect("encodes"), msg.event().event_payload());
        }
        Err(_) => {}
    }
});
