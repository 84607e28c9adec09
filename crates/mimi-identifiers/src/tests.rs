//! Unit tests of the crate's internals; behaviour through the public API is
//! tested in tests/it.

use crate::domain::Domain;
use crate::error::{Part, Reason};
use crate::percent;

#[test]
fn percent_decoding_remembers_origins() {
    let d = percent::decode("a%40b%23c", Part::Input).unwrap();
    assert_eq!(d.text(), "a@b#c");
    let origins: Vec<usize> = (0..=d.text().len()).map(|i| d.origin(i)).collect();
    assert_eq!(origins, vec![0, 1, 4, 5, 8, 9]);
}

#[test]
fn percent_decoding_rejects_truncated_and_non_hex_escapes() {
    for (input, at) in [("abc%", 3), ("abc%4", 3), ("%zz", 0), ("a%4g", 1)] {
        let e = percent::decode(input, Part::Input).unwrap_err();
        assert_eq!(
            (e.offset, e.reason),
            (at, Reason::BadPercentEncoding),
            "{input}"
        );
    }
}

#[test]
fn percent_decoding_rejects_invalid_utf8_at_the_escape() {
    let e = percent::decode("ab%C3%28", Part::Input).unwrap_err();
    assert_eq!((e.offset, e.reason), (2, Reason::NotUtf8));
}

#[test]
fn percent_encoding_uses_uppercase_hex() {
    let mut out = String::new();
    percent::encode_into(&mut out, "a#[b]", |b| b.is_ascii_alphanumeric());
    assert_eq!(out, "a%23%5Bb%5D");
}

#[test]
fn subdomains_are_within_their_parent_and_lookalikes_are_not() {
    let d = |s: &str| Domain::parse(s).unwrap();
    assert!(d("example.com").is_within(&d("example.com")));
    assert!(d("eng.example.com").is_within(&d("example.com")));
    assert!(!d("badexample.com").is_within(&d("example.com")));
    assert!(!d("example.com").is_within(&d("eng.example.com")));
}

#[test]
fn u_labels_become_a_labels_and_a_labels_are_checked() {
    assert_eq!(
        Domain::parse("Bücher.Example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    assert_eq!(
        Domain::parse("XN--BCHER-KVA.example").unwrap().as_str(),
        "xn--bcher-kva.example"
    );
    for bad in [
        "xn--abc.example",
        "xn--a.example",
        "xn--.example",
        "xn--zz-.example",
    ] {
        let e = Domain::parse(bad).unwrap_err();
        assert!(
            matches!(e.reason, Reason::BadALabel { .. } | Reason::HyphenAtEdge),
            "{bad}: {e}"
        );
    }
}
