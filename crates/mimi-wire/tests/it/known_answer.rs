//! Known-answer bytes, computed by hand from the RFC 9420 rules (§2.1.2: a vector's
//! length is a QUIC varint, 1 byte `00xxxxxx` up to 63, 2 bytes `01xxxxxx xxxxxxxx`
//! up to 16383, always the shortest form; integers are big-endian) and, for the
//! signature, by OpenSSL:
//!
//! ```text
//! openssl pkeyutl -sign -inkey rfc8032-test1.pem -rawin -in signcontent.bin
//! ```
//!
//! over the `SignContent` bytes below. Ed25519 is deterministic, so `sign` must
//! reproduce OpenSSL's signature byte for byte.

use mimi_wire::{
    EventEnvelope, EventKind, ProtocolVersion, S2SMessage, ServerVerificationKey, SignatureScheme,
    check_incoming,
};

use crate::{MAX_LEN, NOW_MS, SKEW_MS, domain, key_a};

const EVENT_TYPE: &[u8] = b"mimi.delivery-service.group-operation";

/// RFC 8032 §7.1 test 1 public key.
const PUBLIC_KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

/// OpenSSL's Ed25519 signature over `sign_content()` with the RFC 8032 test 1 key.
const SIGNATURE: [u8; 64] = [
    0x31, 0x2d, 0xaa, 0xd7, 0xbf, 0x7e, 0x1c, 0x1d, 0x4b, 0x1b, 0xf5, 0x54, 0xc5, 0x62, 0x05, 0xc8,
    0x66, 0x7e, 0xad, 0xa9, 0x27, 0xae, 0xe0, 0xd8, 0xe4, 0xc1, 0x01, 0xb4, 0x32, 0x52, 0x43, 0x14,
    0x57, 0x5b, 0x2b, 0xc6, 0x4e, 0x2c, 0x39, 0x53, 0x29, 0x6d, 0x5d, 0x56, 0x73, 0xa2, 0x5d, 0xff,
    0xba, 0xb4, 0x14, 0x20, 0xad, 0xd7, 0xb3, 0x78, 0x28, 0xde, 0xe0, 0xda, 0x80, 0x85, 0x15, 0x01,
];

/// `EventEnvelope { message_id = 00..0f, created_at_ms = NOW_MS, body = "hi" }`:
/// 27 bytes.
fn envelope_bytes() -> Vec<u8> {
    let mut b = Vec::new();
    // message_id[16]: fixed length, no length prefix.
    b.extend_from_slice(&[
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ]);
    // created_at_ms: uint64 1_700_000_000_000 = 0x0000_018b_cfe5_6800.
    b.extend_from_slice(&[0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00]);
    // body<V> = "hi": 2 bytes ≤ 63, one length byte 0x02.
    b.extend_from_slice(&[0x02, b'h', b'i']);
    assert_eq!(b.len(), 27);
    b
}

/// Every field of the S2SMessage but `signature`: 88 bytes.
fn to_be_signed() -> Vec<u8> {
    let mut b = Vec::new();
    // version: uint16 mimi10 = 1.
    b.extend_from_slice(&[0x00, 0x01]);
    // sender_domain<V> = "a.example": 9 bytes, length byte 0x09.
    b.push(0x09);
    b.extend_from_slice(b"a.example");
    // recipient_domain<V> = "b.example": 9 bytes, length byte 0x09.
    b.push(0x09);
    b.extend_from_slice(b"b.example");
    // event.event_type<V>: 37 bytes ≤ 63, length byte 0x25.
    b.push(0x25);
    b.extend_from_slice(EVENT_TYPE);
    // event.event_payload<V>: the 27-byte envelope, length byte 0x1b.
    b.push(0x1b);
    b.extend_from_slice(&envelope_bytes());
    assert_eq!(b.len(), 88);
    b
}

/// `SignContent { label<V>, content<V> }`, the exact input of Ed25519.
fn sign_content() -> Vec<u8> {
    let mut b = Vec::new();
    // label<V> = "MIMI 1.0 S2SMessage": 19 bytes, length byte 0x13.
    b.push(0x13);
    b.extend_from_slice(b"MIMI 1.0 S2SMessage");
    // content<V>: 88 bytes > 63, so two bytes: 0b01 prefix | 88 = 0x4058.
    b.extend_from_slice(&[0x40, 0x58]);
    b.extend_from_slice(&to_be_signed());
    b
}

/// The whole S2SMessage: 154 bytes.
fn message_bytes() -> Vec<u8> {
    let mut b = to_be_signed();
    // signature<V>: 64 bytes > 63, so two bytes: 0b01 prefix | 64 = 0x4040.
    b.extend_from_slice(&[0x40, 0x40]);
    b.extend_from_slice(&SIGNATURE);
    assert_eq!(b.len(), 154);
    b
}

fn envelope() -> EventEnvelope {
    EventEnvelope::with_id(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        b"hi".to_vec(),
        NOW_MS,
    )
}

#[test]
fn envelope_encodes_to_known_bytes() {
    assert_eq!(envelope().encode().unwrap(), envelope_bytes());
    assert_eq!(
        EventEnvelope::decode(&envelope_bytes(), MAX_LEN).unwrap(),
        envelope()
    );
}

#[test]
fn sign_reproduces_the_known_message() {
    let msg = crate::signed(
        "a.example",
        "b.example",
        EventKind::GroupOperation,
        &envelope(),
        &key_a(),
    );
    assert_eq!(msg.encode().unwrap(), message_bytes());
}

#[test]
fn known_message_decodes_to_its_fields() {
    let msg = S2SMessage::decode(&message_bytes(), MAX_LEN).unwrap();
    assert_eq!(msg.version(), ProtocolVersion::Mimi10);
    assert_eq!(msg.sender_domain().unwrap(), domain("a.example"));
    assert_eq!(msg.recipient_domain().unwrap(), domain("b.example"));
    assert_eq!(msg.event().event_type().as_bytes(), EVENT_TYPE);
    assert_eq!(
        msg.event().event_type().kind().unwrap(),
        EventKind::GroupOperation
    );
    assert_eq!(msg.event().event_payload(), envelope_bytes());
    assert_eq!(msg.signature(), SIGNATURE);
}

#[test]
fn known_message_passes_check_incoming() {
    let record = key_a().verification_key(0, u64::MAX);
    let (verified, env) = check_incoming(
        &message_bytes(),
        &domain("b.example"),
        |d| (d.as_str() == "a.example").then(|| record.clone()),
        NOW_MS,
        SKEW_MS,
        MAX_LEN,
    )
    .unwrap();
    assert_eq!(verified.sender(), &domain("a.example"));
    assert_eq!(verified.recipient(), &domain("b.example"));
    assert_eq!(verified.event_kind().unwrap(), EventKind::GroupOperation);
    assert_eq!(env, envelope());
}

#[test]
fn sign_content_is_what_openssl_signed() {
    // The signature above was made by OpenSSL over exactly these bytes; that our
    // signer reproduces it (previous tests) shows it signs this input.
    let sc = sign_content();
    assert_eq!(sc.len(), 1 + 19 + 2 + 88);
    assert_eq!(&sc[..20], b"\x13MIMI 1.0 S2SMessage");
    assert_eq!(mimi_wire::labels::S2S_MESSAGE.as_bytes(), &sc[1..20]);
}

#[test]
fn verification_key_record_encodes_to_known_bytes() {
    let mut b = Vec::new();
    // scheme: uint16 ed25519 = 0x0807.
    b.extend_from_slice(&[0x08, 0x07]);
    // public_key<V>: 32 bytes, length byte 0x20.
    b.push(0x20);
    b.extend_from_slice(&PUBLIC_KEY);
    // not_before: uint64 1_700_000_000 = 0x6553_f100.
    b.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x65, 0x53, 0xf1, 0x00]);
    // not_after: uint64 1_800_000_000 = 0x6b49_d200.
    b.extend_from_slice(&[0x00, 0x00, 0x00, 0x00, 0x6b, 0x49, 0xd2, 0x00]);

    let record = key_a().verification_key(1_700_000_000, 1_800_000_000);
    assert_eq!(record.encode().unwrap(), b);
    let decoded = ServerVerificationKey::decode(&b, MAX_LEN).unwrap();
    assert_eq!(decoded, record);
    assert_eq!(decoded.scheme(), SignatureScheme::ED25519);
    assert_eq!(decoded.public_key(), PUBLIC_KEY);
}

#[test]
fn lengths_switch_to_two_bytes_above_63() {
    // 63 bytes: one length byte 0x3f; 64 bytes: 0x40 0x40; 16383: 0x7f 0xff;
    // 16384: four bytes 0x80 0x00 0x40 0x00.
    for (len, prefix) in [
        (63usize, &[0x3f][..]),
        (64, &[0x40, 0x40]),
        (16383, &[0x7f, 0xff]),
        (16384, &[0x80, 0x00, 0x40, 0x00]),
    ] {
        let env = EventEnvelope::with_id([0; 16], vec![b'x'; len], 0);
        let bytes = env.encode().unwrap();
        assert_eq!(&bytes[24..24 + prefix.len()], prefix, "body of {len} bytes");
        assert_eq!(bytes.len(), 24 + prefix.len() + len);
    }
}
