//! Encrypted queue IDs: round trips, every refusal, the key file, and the exact
//! HPKE `info` bytes.

use mimi_mls::{QueueIdError, QueueKeyPair, labels, queue_id_hpke_info, seal_queue_id};
use mimi_wire::{HpkeCiphertext, QueueEncryptionKey};
use openmls_rust_crypto::RustCrypto;
use openmls_traits::crypto::OpenMlsCrypto;
use openmls_traits::types::{HpkeAeadType, HpkeConfig, HpkeKdfType, HpkeKemType};

use crate::{DOMAIN, sealed};

fn undecryptable(domain: &str) -> QueueIdError {
    QueueIdError::Undecryptable {
        provider_domain: domain.to_owned(),
    }
}

#[test]
fn seal_then_open_returns_the_queue_id() {
    let s = sealed();
    assert_eq!(s.key.open_queue_id(DOMAIN, &s.sealed).unwrap(), s.queue_id);
    // DHKEM(X25519) output and a 16-byte ID under AES-128-GCM (plus its tag).
    assert_eq!(s.sealed.kem_output.as_slice().len(), 32);
    assert_eq!(s.sealed.ciphertext.as_slice().len(), 32);
}

#[test]
fn two_seals_of_one_id_differ() {
    let s = sealed();
    let again = seal_queue_id(s.key.public(), DOMAIN, &s.queue_id).unwrap();
    assert_ne!(again.kem_output, s.sealed.kem_output);
    assert_ne!(again.ciphertext, s.sealed.ciphertext);
    assert_eq!(s.key.open_queue_id(DOMAIN, &again).unwrap(), s.queue_id);
}

#[test]
fn another_domain_does_not_open() {
    let s = sealed();
    assert_eq!(
        s.key.open_queue_id("c.example", &s.sealed),
        Err(undecryptable("c.example"))
    );
}

#[test]
fn tampered_ciphertext_does_not_open() {
    let s = sealed();
    let mut ct = s.sealed.ciphertext.as_slice().to_vec();
    ct[0] ^= 1;
    let tampered = HpkeCiphertext::new(s.sealed.kem_output.as_slice().to_vec(), ct);
    assert_eq!(
        s.key.open_queue_id(DOMAIN, &tampered),
        Err(undecryptable(DOMAIN))
    );
}

#[test]
fn tampered_kem_output_does_not_open() {
    let s = sealed();
    let mut kem = s.sealed.kem_output.as_slice().to_vec();
    kem[5] ^= 0x80;
    let tampered = HpkeCiphertext::new(kem, s.sealed.ciphertext.as_slice().to_vec());
    assert_eq!(
        s.key.open_queue_id(DOMAIN, &tampered),
        Err(undecryptable(DOMAIN))
    );
}

#[test]
fn another_key_does_not_open() {
    let s = sealed();
    let other = QueueKeyPair::generate().unwrap();
    assert_eq!(
        other.open_queue_id(DOMAIN, &s.sealed),
        Err(undecryptable(DOMAIN))
    );
}

#[test]
fn garbage_of_the_right_shape_does_not_open() {
    let s = sealed();
    let garbage = HpkeCiphertext::new(vec![9; 32], vec![9; 32]);
    assert_eq!(
        s.key.open_queue_id(DOMAIN, &garbage),
        Err(undecryptable(DOMAIN))
    );
}

#[test]
fn wrong_shapes_are_malformed() {
    let s = sealed();
    let cases = [
        (
            HpkeCiphertext::new(vec![1; 31], vec![1; 32]),
            "kem_output is 31 bytes; DHKEM(X25519) outputs 32",
        ),
        (
            HpkeCiphertext::new(vec![], vec![1; 32]),
            "kem_output is 0 bytes; DHKEM(X25519) outputs 32",
        ),
        (
            HpkeCiphertext::new(s.sealed.kem_output.as_slice().to_vec(), vec![1; 15]),
            "ciphertext is 15 bytes, shorter than the 16-byte AES-GCM tag",
        ),
    ];
    for (input, detail) in cases {
        assert_eq!(
            s.key.open_queue_id(DOMAIN, &input),
            Err(QueueIdError::Malformed {
                detail: detail.into()
            })
        );
    }
}

/// A ciphertext made exactly as `seal_queue_id` makes one, but of `plaintext`.
fn seal_raw(key: &QueueEncryptionKey, plaintext: &[u8]) -> HpkeCiphertext {
    let config = HpkeConfig(
        HpkeKemType::DhKem25519,
        HpkeKdfType::HkdfSha256,
        HpkeAeadType::AesGcm128,
    );
    let info = queue_id_hpke_info(DOMAIN).unwrap();
    let ct = RustCrypto::default()
        .hpke_seal(config, key.public_key.as_slice(), &info, &[], plaintext)
        .unwrap();
    HpkeCiphertext::new(ct.kem_output.into(), ct.ciphertext.into())
}

#[test]
fn a_plaintext_of_the_wrong_length_is_refused() {
    let s = sealed();
    for len in [0, 15, 17, 32] {
        let input = seal_raw(s.key.public(), &vec![3; len]);
        assert_eq!(
            s.key.open_queue_id(DOMAIN, &input),
            Err(QueueIdError::WrongPlaintextLength { len })
        );
    }
    // The same construction with 16 bytes is a queue ID: the raw seal above is
    // the one the crate uses.
    let input = seal_raw(s.key.public(), &[4; 16]);
    assert_eq!(s.key.open_queue_id(DOMAIN, &input).unwrap(), [4; 16]);
}

#[test]
fn unsupported_suites_are_refused_by_id() {
    let good = QueueKeyPair::generate().unwrap().public().clone();
    let cases = [(0x0010, 1, 1), (0x0020, 2, 1), (0x0020, 1, 3), (0, 0, 0)];
    for (kem_id, kdf_id, aead_id) in cases {
        let key = QueueEncryptionKey {
            kem_id,
            kdf_id,
            aead_id,
            ..good.clone()
        };
        let err = seal_queue_id(&key, DOMAIN, &[0; 16]).unwrap_err();
        assert_eq!(
            err,
            QueueIdError::UnsupportedSuite {
                kem_id,
                kdf_id,
                aead_id
            }
        );
    }
    let err = seal_queue_id(
        &QueueEncryptionKey {
            kem_id: 0x10,
            ..good
        },
        DOMAIN,
        &[0; 16],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "queue key uses HPKE kem 0x0010, kdf 0x0001, aead 0x0001; only DHKEM(X25519, \
         HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), AES-128-GCM (0x0001) is supported: \
         publish a key of that suite"
    );
}

#[test]
fn a_public_key_of_the_wrong_length_is_refused() {
    let good = QueueKeyPair::generate().unwrap().public().clone();
    for len in [0, 31, 33, 65] {
        let key = QueueEncryptionKey {
            public_key: vec![9; len].into(),
            ..good.clone()
        };
        assert_eq!(
            seal_queue_id(&key, DOMAIN, &[0; 16]),
            Err(QueueIdError::InvalidPublicKey { len })
        );
    }
}

#[test]
fn provider_domain_is_bounded() {
    let s = sealed();
    let long = "a".repeat(256);
    for domain in ["", long.as_str()] {
        let want = QueueIdError::InvalidProviderDomain { len: domain.len() };
        assert_eq!(
            seal_queue_id(s.key.public(), domain, &[0; 16]),
            Err(want.clone())
        );
        assert_eq!(s.key.open_queue_id(domain, &s.sealed), Err(want));
    }
    assert!(seal_queue_id(s.key.public(), &"a".repeat(255), &[0; 16]).is_ok());
}

#[test]
fn hpke_info_is_the_documented_encoding() {
    // struct { opaque label<V>; opaque provider_domain<V>; } with one-byte
    // RFC 9420 lengths: 16 = 0x10, 9 = 0x09.
    let mut want = vec![0x10];
    want.extend_from_slice(b"MIMI 1.0 QueueId");
    want.push(0x09);
    want.extend_from_slice(b"b.example");
    assert_eq!(queue_id_hpke_info("b.example").unwrap(), want);
    assert_eq!(labels::QUEUE_ID, "MIMI 1.0 QueueId");
}

#[test]
fn labels_are_distinct() {
    let mut all = labels::ALL.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), labels::ALL.len());
}

#[test]
fn key_file_round_trips_and_still_opens() {
    let s = sealed();
    let bytes = s.key.to_bytes().unwrap();
    let loaded = QueueKeyPair::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.public(), s.key.public());
    assert_eq!(loaded.open_queue_id(DOMAIN, &s.sealed).unwrap(), s.queue_id);
    // Self-describing: the format string comes first.
    assert_eq!(&bytes[..18], b"\x11MIMI queue key v1");
}

/// Offsets in an encoded key file: format (1 + 17), three ids (6), seed (1 + 32),
/// public key (1 + 32).
const SEED_AT: usize = 18 + 6 + 1;
const PUBLIC_AT: usize = SEED_AT + 32 + 1;

fn key_file_error(bytes: &[u8]) -> String {
    match QueueKeyPair::from_bytes(bytes) {
        Err(QueueIdError::KeyFile { detail }) => detail,
        other => panic!("expected a key file error, got {other:?}"),
    }
}

#[test]
fn damaged_key_files_are_refused() {
    let good = QueueKeyPair::generate()
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    assert_eq!(good.len(), PUBLIC_AT + 32);

    let mut flipped_seed = good.clone();
    flipped_seed[SEED_AT] ^= 1;
    let mut flipped_public = good.clone();
    flipped_public[PUBLIC_AT + 3] ^= 1;
    let mut wrong_format = good.clone();
    wrong_format[17] = b'2';
    let mut wrong_kem = good.clone();
    wrong_kem[19] = 0x10;
    let mut trailing = good.clone();
    trailing.push(0);

    let corrupted = "the stored public key is not the one its seed derives (file corrupted)";
    assert_eq!(key_file_error(&flipped_seed), corrupted);
    assert_eq!(key_file_error(&flipped_public), corrupted);
    assert_eq!(
        key_file_error(&wrong_format),
        "format is \"MIMI queue key v2\", expected \"MIMI queue key v1\""
    );
    assert!(key_file_error(&wrong_kem).starts_with("queue key uses HPKE kem 0x0010"));
    assert_eq!(key_file_error(&trailing), "1 bytes after the key");
    assert!(key_file_error(&good[..40]).starts_with("not a queue key file: "));
    assert!(key_file_error(&[]).starts_with("not a queue key file: "));
    assert_eq!(
        key_file_error(&vec![0; 1025]),
        "1025 bytes; a queue key file is at most 1024"
    );
}

#[test]
fn debug_never_shows_the_secret() {
    let key = QueueKeyPair::generate().unwrap();
    let bytes = key.to_bytes().unwrap();
    let seed = &bytes[SEED_AT..SEED_AT + 32];
    let debug = format!("{key:?}");
    assert!(debug.starts_with("QueueKeyPair { public: QueueEncryptionKey {"));
    assert!(debug.ends_with(", .. }"));
    assert!(!debug.contains(&format!("{seed:?}")[1..20]));
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!debug.contains(&hex[..16]));
}

#[test]
fn error_messages_say_what_to_do() {
    let s = sealed();
    let err = s.key.open_queue_id("c.example", &s.sealed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "encrypted queue ID does not decrypt under this provider's queue key for domain \
         \"c.example\": it was sealed to another key or domain, or altered in transit"
    );
    assert_eq!(
        QueueIdError::WrongPlaintextLength { len: 3 }.to_string(),
        "encrypted queue ID decrypted to 3 bytes; a queue ID is 16 bytes: the client sealed \
         something else"
    );
}
