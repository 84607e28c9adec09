use super::*;

#[test]
fn a_bundle_round_trips_with_its_exact_bytes() {
    let bundle = CrlBundle::new(vec![vec![0x30, 0x01, 0x00], vec![0x30; 70]]);
    let bytes = bundle.encode().unwrap();
    // crls<V> of 76 bytes (a 2-byte varint), then each crl<V>: 1 + 3 and
    // 2 + 70 bytes.
    let mut expected = vec![0x40, 76];
    expected.extend([0x03, 0x30, 0x01, 0x00]);
    expected.extend([0x40, 70]);
    expected.extend([0x30; 70]);
    assert_eq!(bytes, expected);
    assert_eq!(CrlBundle::decode(&bytes).unwrap(), bundle);
    assert_eq!(
        bundle.crls(),
        vec![&[0x30, 0x01, 0x00][..], &[0x30; 70][..]]
    );
    // An empty bundle is one zero byte.
    assert_eq!(CrlBundle::new(vec![]).encode().unwrap(), vec![0x00]);
    assert_eq!(CrlBundle::decode(&[0x00]).unwrap().crls().len(), 0);
}

fn refusal(bytes: &[u8]) -> String {
    CrlBundle::decode(bytes).unwrap_err().to_string()
}

#[test]
fn garbage_is_refused_naming_what_is_wrong() {
    let too_many: Vec<u8> = {
        let mut content = Vec::new();
        for _ in 0..=MAX_BUNDLE_CRLS {
            content.extend([0x01, 0x30]);
        }
        let mut v = vec![u8::try_from(content.len()).unwrap()];
        v.extend(content);
        v
    };
    let long_crl = {
        // crls<V> of 4 + 8 MiB + 1 bytes holding one crl<V> of 8 MiB + 1.
        let crl_len = MAX_CRL_LEN + 1;
        let outer = 4 + crl_len;
        let mut v = vec![
            0x80 | (outer >> 24) as u8,
            (outer >> 16) as u8,
            (outer >> 8) as u8,
            outer as u8,
        ];
        v.extend([
            0x80 | (crl_len >> 24) as u8,
            (crl_len >> 16) as u8,
            (crl_len >> 8) as u8,
            crl_len as u8,
        ]);
        v.resize(4 + outer, 0x30);
        v
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty input", vec![], "truncated"),
        (
            "a CRL running past its vector",
            vec![0x02, 0x05, 0x30],
            "runs past the end",
        ),
        ("a bundle cut short", vec![0x03, 0x02, 0x30], "truncated"),
        ("an empty CRL", vec![0x01, 0x00], "CrlBundle.crls[i]"),
        (
            "a byte after the bundle",
            vec![0x00, 0x00],
            "followed by 1 more",
        ),
        (
            "a non-minimal length",
            vec![0x40, 0x00],
            "minimally encoded",
        ),
        ("HTML instead of a bundle", b"<html>".to_vec(), "CrlBundle"),
        ("too many CRLs", too_many, "CrlBundle.crls"),
        ("a CRL too long", long_crl, "CrlBundle.crls[i]"),
    ];
    for (name, bytes, message) in cases {
        let e = refusal(&bytes);
        assert!(e.contains(message), "{name}: {e}");
    }
    let too_long = vec![0u8; CrlBundle::MAX_LEN + 1];
    assert!(refusal(&too_long).contains("CrlBundle"), "too long");
}

#[test]
fn a_bundle_the_decoder_would_refuse_is_not_encoded() {
    let e = CrlBundle::new(vec![vec![]]).encode().unwrap_err();
    assert!(matches!(e, WireError::Unencodable { .. }), "{e}");
    let e = CrlBundle::new(vec![vec![0x30]; MAX_BUNDLE_CRLS + 1])
        .encode()
        .unwrap_err();
    assert!(matches!(e, WireError::Unencodable { .. }), "{e}");
}
