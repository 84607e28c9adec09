//! TNAuthList (RFC 8226) encoding, checked against OpenSSL's ASN.1 parser,
//! and the RFC 9060 delegation rule.

use std::process::Command;

use mimi_credentials::{TelephoneNumber, TnAuthList, TnEntry};
use mimi_identifiers::PhoneNumber;

fn one(n: &str) -> TnEntry {
    TnEntry::One(TelephoneNumber::new(n).unwrap())
}

fn range(start: &str, count: u64) -> TnEntry {
    TnEntry::Range {
        start: TelephoneNumber::new(start).unwrap(),
        count,
    }
}

fn list(entries: Vec<TnEntry>) -> TnAuthList {
    TnAuthList::new(entries).unwrap()
}

#[test]
fn one_number_encodes_with_explicit_tags() {
    let phone = PhoneNumber::parse("+1 201 555 0123").unwrap();
    let der = TnAuthList::one(&phone).to_der();
    // SEQUENCE { [2] EXPLICIT { IA5String "12015550123" } }
    let mut expected = vec![0x30, 0x0f, 0xa2, 0x0d, 0x16, 0x0b];
    expected.extend_from_slice(b"12015550123");
    assert_eq!(der, expected);
    assert_eq!(TnAuthList::from_der(&der).unwrap(), TnAuthList::one(&phone));
}

#[test]
fn openssl_parses_every_entry_kind() {
    let tn = list(vec![
        TnEntry::ServiceProviderCode("1234".into()),
        range("12015550100", 100),
        one("4420794600*#"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tn.der");
    std::fs::write(&path, tn.to_der()).unwrap();
    let out = Command::new("openssl")
        .args(["asn1parse", "-inform", "DER", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "cont [ 0 ]",
        "IA5STRING         :1234",
        "cont [ 1 ]",
        "IA5STRING         :12015550100",
        "INTEGER           :64",
        "cont [ 2 ]",
        "IA5STRING         :4420794600*#",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert_eq!(TnAuthList::from_der(&tn.to_der()).unwrap(), tn);
}

#[test]
fn delegation_table() {
    let cases = [
        // (child, parent, within)
        (vec![one("12015550123")], vec![one("12015550123")], true),
        (vec![one("12015550123")], vec![one("12015550124")], false),
        (
            vec![one("12015550150")],
            vec![range("12015550100", 100)],
            true,
        ),
        (
            vec![one("12015550200")],
            vec![range("12015550100", 100)],
            false,
        ),
        (
            vec![one("1201555015")],
            vec![range("12015550100", 100)],
            false,
        ),
        (
            vec![range("12015550110", 10)],
            vec![range("12015550100", 100)],
            true,
        ),
        (
            vec![range("12015550195", 10)],
            vec![range("12015550100", 100)],
            false,
        ),
        (
            vec![range("12015550100", 2)],
            vec![one("12015550100")],
            false,
        ),
        (
            vec![one("12015550100"), one("4420794600")],
            vec![range("12015550100", 2), one("4420794600")],
            true,
        ),
        (
            vec![one("12015550100"), one("4420794601")],
            vec![range("12015550100", 2), one("4420794600")],
            false,
        ),
        (
            vec![TnEntry::ServiceProviderCode("1234".into())],
            vec![TnEntry::ServiceProviderCode("1234".into())],
            true,
        ),
        (
            vec![TnEntry::ServiceProviderCode("1234".into())],
            vec![range("1", 9)],
            false,
        ),
        (vec![one("123#")], vec![range("1230", 10)], false),
    ];
    for (child, parent, within) in cases {
        let (c, p) = (list(child), list(parent));
        assert_eq!(c.is_within(&p), within, "{c:?} within {p:?}");
    }
}

#[test]
fn invalid_lists_and_numbers_are_refused() {
    assert!(TelephoneNumber::new("+12015550123").is_err());
    assert!(TelephoneNumber::new("1234567890123456").is_err());
    assert!(TelephoneNumber::new("").is_err());
    assert!(TnAuthList::new(vec![]).is_err());
    assert!(TnAuthList::new(vec![range("12015550100", 1)]).is_err());
    assert!(
        TnAuthList::new(vec![range("99", 5)]).is_err(),
        "overflows its length"
    );
    for bad in [
        &[0x30, 0x00][..],                           // empty list
        &[0x30, 0x05, 0xa2, 0x03, 0x16, 0x01, b'+'], // '+' in a number
        &[0x30, 0x05, 0x82, 0x03, 0x16, 0x01, b'1'], // primitive tag
        &[0x30, 0x05, 0xa3, 0x03, 0x16, 0x01, b'1'], // unknown choice
        &[0x30, 0x06, 0xa2, 0x03, 0x16, 0x01, b'1'], // length mismatch
    ] {
        assert!(TnAuthList::from_der(bad).is_err(), "{bad:02x?}");
    }
}
