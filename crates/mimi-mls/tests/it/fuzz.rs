//! Property tests: no panic, whatever the bytes, for KeyPackage validation, the
//! key-file decoder and queue-ID decryption; and no mutated KeyPackage accepted
//! unless it is byte-for-byte the original.

use std::sync::LazyLock;

use mimi_mls::test_utils::now_unix_secs;
use mimi_mls::{KeyPackagePolicy, QueueKeyPair, validate_key_package};
use mimi_wire::HpkeCiphertext;
use proptest::prelude::*;

use crate::{DOMAIN, Sealed, build, ed25519, sealed};

/// One valid KeyPackage (and its queue key) shared by all cases: building one
/// per case would spend the time on key generation instead of validation.
static GOOD: LazyLock<(Vec<u8>, Sealed)> = LazyLock::new(|| {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.reference, |_| {});
    (kp.bytes, s)
});

fn good() -> &'static [u8] {
    &GOOD.0
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Xor(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Xor(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Set(i, b) => bytes[i % len] = b,
        Mutation::Xor(i, b) => bytes[i % len] ^= b,
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_key_packages_never_panic_and_never_pass_changed(
        mutations in proptest::collection::vec(mutation(), 1..4)
    ) {
        let mut bytes = good().to_vec();
        for m in &mutations {
            if bytes.is_empty() {
                break;
            }
            apply(&mut bytes, m);
        }
        let result = validate_key_package(&bytes, &KeyPackagePolicy::default(), now_unix_secs());
        if let Ok(v) = result {
            prop_assert_eq!(v.bytes(), good());
            prop_assert_eq!(bytes.as_slice(), good());
        }
    }

    #[test]
    fn random_bytes_are_refused_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        header in prop_oneof![
            Just(vec![]),
            Just(vec![0, 1, 0, 1]),
            Just(vec![0, 1, 0, 2]),
            Just(vec![0, 1, 0, 5, 0, 1, 0, 1]),
        ],
    ) {
        let input = [header, bytes].concat();
        let result = validate_key_package(&input, &KeyPackagePolicy::default(), now_unix_secs());
        prop_assert!(result.is_err());
    }

    #[test]
    fn key_file_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(QueueKeyPair::from_bytes(&bytes).is_err());
    }

    #[test]
    fn opening_random_ciphertexts_never_panics_nor_succeeds(
        kem in proptest::collection::vec(any::<u8>(), 0..40),
        ct in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let key = &GOOD.1.key;
        let input = HpkeCiphertext::new(kem, ct);
        prop_assert!(key.open_queue_id(DOMAIN, &input).is_err());
    }
}
