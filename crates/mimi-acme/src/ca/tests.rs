//! The DER walk that finds a certificate's authority key identifier, and
//! ARI certificate identifiers.

use std::time::Duration;

use mimi_credentials::{CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity};
use mimi_identifiers::Domain;

use super::{authority_key_id, cert_id, hex, parse_cert_id, tlv, unhex};

#[test]
fn the_authority_key_identifier_names_the_issuer_key_and_roots_have_none() {
    let validity = Validity::starting_now(Duration::from_secs(86400));
    let root =
        CertificateAuthority::new_root("AKI root", SignatureScheme::Ed25519, validity).unwrap();
    let other =
        CertificateAuthority::new_root("AKI other", SignatureScheme::Ed25519, validity).unwrap();
    let key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256)
        .unwrap()
        .public_key();
    let subject = Subject::DomainCa {
        domain: Domain::parse("a.example").unwrap(),
        organization: None,
    };
    let a = root.issue(&subject, &key, validity).unwrap();
    let b = root.issue(&subject, &key, validity).unwrap();
    let c = other.issue(&subject, &key, validity).unwrap();
    let aki = authority_key_id(a.der()).expect("an AKI");
    // rcgen's key identifiers are 20 bytes of SHA-256.
    assert_eq!(aki.len(), 20);
    assert_eq!(authority_key_id(b.der()), Some(aki.clone()), "same issuer");
    assert_ne!(authority_key_id(c.der()), Some(aki), "another issuer");
    // A self-signed root carries no AKI here.
    assert_eq!(authority_key_id(root.certificate().der()), None);
}

#[test]
fn broken_der_finds_nothing_and_never_panics() {
    let validity = Validity::starting_now(Duration::from_secs(86400));
    let root =
        CertificateAuthority::new_root("AKI root", SignatureScheme::Ed25519, validity).unwrap();
    let der = root
        .issue(
            &Subject::DomainCa {
                domain: Domain::parse("a.example").unwrap(),
                organization: None,
            },
            &KeyPair::generate(SignatureScheme::Ed25519)
                .unwrap()
                .public_key(),
            validity,
        )
        .unwrap()
        .der()
        .to_vec();
    for len in 0..der.len() {
        let _ = authority_key_id(&der[..len]);
    }
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0xff;
        let _ = authority_key_id(&bad);
    }
    assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None, "5-byte length");
    assert_eq!(tlv(&[0x30, 0x02, 0x00]), None, "short content");
    assert_eq!(tlv(&[0x1f, 0x01, 0x00]), None, "multi-byte tag");
}

#[test]
fn cert_ids_round_trip_and_refuse_other_shapes() {
    let id = cert_id(&[0xab; 20], &[0x00, 0x87, 0x65]);
    assert_eq!(id, "q6urq6urq6urq6urq6urq6urq6s.AIdl");
    assert_eq!(
        parse_cert_id(&id),
        Some((vec![0xab; 20], vec![0x00, 0x87, 0x65]))
    );
    for bad in [
        "",
        ".",
        "abc",
        "q6s.",
        ".AIdl",
        "q6s.AId=",
        "q6s.AI.dl",
        "q6s+.AIdl",
    ] {
        assert_eq!(parse_cert_id(bad), None, "{bad:?}");
    }
    assert_eq!(unhex(&hex(&[0, 1, 0xfe])), Some(vec![0, 1, 0xfe]));
    assert_eq!(unhex("0"), None);
    assert_eq!(unhex("zz"), None);
    assert_eq!(unhex("é1"), None);
}
