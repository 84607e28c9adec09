//! `QueueReference`: the provider domain and encrypted queue ID a client puts in
//! its leaf (docs/wire-spec.md §11.5): round trip, known-answer bytes, and every
//! refusal with its exact error.

use mimi_wire::tls_codec::{Serialize, Size, VLBytes};
use mimi_wire::{
    HpkeCiphertext, MAX_HPKE_CIPHERTEXT_LEN, MAX_QUEUE_REFERENCE_LEN, QueueReference, WireError,
};
use proptest::prelude::*;

use crate::domain;

const FIELD: &str = "QueueReference.provider_domain";

/// The reference of wire-spec §11.5: b.example, `kem_output` 01 02, `ciphertext`
/// 03 04 05.
fn reference() -> QueueReference {
    QueueReference::new(
        domain("b.example"),
        HpkeCiphertext::new(vec![1, 2], vec![3, 4, 5]),
    )
}

const REFERENCE_BYTES: [u8; 17] = [
    0x09, b'b', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e', // provider_domain<V>
    0x02, 0x01, 0x02, // kem_output<V>
    0x03, 0x03, 0x04, 0x05, // ciphertext<V>
];

/// A reference with `domain` as raw bytes, encoded without any checks.
fn raw(domain: &[u8], kem_output: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [domain, kem_output, ciphertext] {
        VLBytes::new(v.to_vec()).tls_serialize(&mut out).unwrap();
    }
    out
}

#[test]
fn known_answer_bytes() {
    assert_eq!(reference().encode().unwrap(), REFERENCE_BYTES);
    assert_eq!(
        QueueReference::decode(&REFERENCE_BYTES).unwrap(),
        reference()
    );
    assert_eq!(raw(b"b.example", &[1, 2], &[3, 4, 5]), REFERENCE_BYTES);
}

#[test]
fn accessors_give_the_parts() {
    let r = reference();
    assert_eq!(r.provider_domain(), &domain("b.example"));
    assert_eq!(
        r.encrypted_queue_id(),
        &HpkeCiphertext::new(vec![1, 2], vec![3, 4, 5])
    );
    let (d, c) = r.into_parts();
    assert_eq!(
        (d, c),
        (
            domain("b.example"),
            HpkeCiphertext::new(vec![1, 2], vec![3, 4, 5])
        )
    );
}

#[test]
fn the_longest_reference_round_trips() {
    // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes: the longest domain.
    let longest = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
    assert_eq!(longest.len(), 253);
    // The largest ciphertext: 4-byte lengths, 2048 bytes in all.
    let c = HpkeCiphertext::new(vec![1; 1000], vec![2; 1044]);
    assert_eq!(c.encode().unwrap().len(), MAX_HPKE_CIPHERTEXT_LEN);
    let r = QueueReference::new(domain(&longest), c);
    let bytes = r.encode().unwrap();
    assert_eq!(bytes.len(), MAX_QUEUE_REFERENCE_LEN);
    assert_eq!(QueueReference::decode(&bytes).unwrap(), r);
}

#[test]
fn a_domain_not_in_canonical_form_is_refused() {
    let err = QueueReference::decode(&raw(b"B.Example", &[1], &[2])).unwrap_err();
    assert_eq!(
        err,
        WireError::InvalidDomain {
            field: FIELD,
            value: "B.Example".into(),
            reason: "not canonical; its canonical form is \"b.example\"".into(),
        }
    );
    let err = QueueReference::decode(&raw(b"b.example.", &[1], &[2])).unwrap_err();
    assert!(
        matches!(&err, WireError::InvalidDomain { field: FIELD, .. }),
        "{err:?}"
    );
}

#[test]
fn a_domain_that_is_no_domain_is_refused() {
    for bad in [
        &b"not a domain"[..],
        b"localhost",
        b"local.invalid",
        b"a..b",
    ] {
        let err = QueueReference::decode(&raw(bad, &[1], &[2])).unwrap_err();
        assert!(
            matches!(&err, WireError::InvalidDomain { field: FIELD, value, .. }
                if value.as_bytes() == bad),
            "{bad:?}: {err:?}"
        );
    }
    let err = QueueReference::decode(&raw(b"b.ex\xffample", &[1], &[2])).unwrap_err();
    assert_eq!(
        err,
        WireError::InvalidDomain {
            field: FIELD,
            value: "b.ex\\xffample".into(),
            reason: "not UTF-8".into(),
        }
    );
}

#[test]
fn an_empty_domain_is_refused() {
    assert_eq!(
        QueueReference::decode(&raw(b"", &[1], &[2])),
        Err(WireError::EmptyField { field: FIELD })
    );
}

#[test]
fn a_domain_over_253_bytes_is_refused_before_it_is_read() {
    let long = format!("{}.example", "a".repeat(246));
    assert_eq!(long.len(), 254);
    assert_eq!(
        QueueReference::decode(&raw(long.as_bytes(), &[1], &[2])),
        Err(WireError::FieldTooLong {
            field: FIELD,
            len: 254,
            max: 253,
        })
    );
}

#[test]
fn a_ciphertext_over_its_bound_is_refused_both_ways() {
    let big = HpkeCiphertext::new(vec![1; 1000], vec![2; 1045]);
    assert_eq!(big.tls_serialized_len(), MAX_HPKE_CIPHERTEXT_LEN + 1);
    let field = "QueueReference.encrypted_queue_id";
    let expected = WireError::FieldTooLong {
        field,
        len: MAX_HPKE_CIPHERTEXT_LEN + 1,
        max: MAX_HPKE_CIPHERTEXT_LEN,
    };
    let r = QueueReference::new(domain("b.example"), big);
    assert_eq!(
        r.encode(),
        Err(WireError::Unencodable {
            what: "QueueReference",
            reason: Box::new(expected.clone()),
        })
    );
    let bytes = raw(b"b.example", &[1; 1000], &[2; 1045]);
    assert_eq!(QueueReference::decode(&bytes), Err(expected));
}

#[test]
fn truncated_trailing_and_oversized_input_is_refused() {
    for cut in 0..REFERENCE_BYTES.len() {
        assert_eq!(
            QueueReference::decode(&REFERENCE_BYTES[..cut]),
            Err(WireError::Truncated {
                what: "QueueReference"
            }),
            "cut at {cut}"
        );
    }
    let mut trailing = REFERENCE_BYTES.to_vec();
    trailing.push(0);
    assert_eq!(
        QueueReference::decode(&trailing),
        Err(WireError::TrailingBytes {
            what: "QueueReference",
            extra: 1
        })
    );
    let huge = vec![0; MAX_QUEUE_REFERENCE_LEN + 1];
    assert_eq!(
        QueueReference::decode(&huge),
        Err(WireError::TooLong {
            what: "QueueReference",
            len: MAX_QUEUE_REFERENCE_LEN + 1,
            max: MAX_QUEUE_REFERENCE_LEN,
        })
    );
}

#[test]
fn a_length_not_minimally_encoded_is_refused() {
    // The domain's length 9 in the two-byte form.
    let mut bytes = vec![0x40, 0x09];
    bytes.extend_from_slice(&REFERENCE_BYTES[1..]);
    let err = QueueReference::decode(&bytes).unwrap_err();
    assert!(
        matches!(&err, WireError::Malformed { what: "QueueReference", detail }
            if detail.contains("QueueReference.provider_domain")),
        "{err:?}"
    );
}

proptest! {
    #[test]
    fn references_round_trip(
        label in "[a-z]{1,20}(-[a-z0-9]{1,9})?",
        kem_output in proptest::collection::vec(any::<u8>(), 0..80),
        ciphertext in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let r = QueueReference::new(
            domain(&format!("{label}.example")),
            HpkeCiphertext::new(kem_output, ciphertext),
        );
        let bytes = r.encode().unwrap();
        prop_assert_eq!(QueueReference::decode(&bytes).unwrap(), r);
    }

    #[test]
    fn random_bytes_never_panic_and_what_decodes_re_encodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        if let Ok(r) = QueueReference::decode(&bytes) {
            prop_assert_eq!(r.encode().unwrap(), bytes);
        }
    }
}
