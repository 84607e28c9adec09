//! KeyPackage validation: good KeyPackages of both suites, agreement with OpenMLS,
//! and a table of refused KeyPackages, each a real OpenMLS KeyPackage changed in
//! one way, each with its exact error.

use std::time::Duration;

use mimi_mls::test_utils::{
    KeyPackageParams, TestCredential, TestSigner, key_package, now_unix_secs,
};
use mimi_mls::{
    Ciphersuite, CredentialError, KeyPackageError, KeyPackagePolicy, MAX_KEY_PACKAGE_LEN,
    SignatureScheme, ValidatedKeyPackage, capabilities, certificate_chain, validate_key_package,
    x509_credential,
};
use mimi_wire::{HpkeCiphertext, QueueReference, WireError};
use openmls::prelude::{
    Capabilities, CredentialType, ExtensionType, KeyPackageIn, MlsMessageOut, ProtocolVersion,
};
use openmls_rust_crypto::RustCrypto;
use tls_codec::{Deserialize, Serialize};

use crate::{DOMAIN, build, ed25519, fake_chain, sealed};

const DAY: u64 = 24 * 60 * 60;

fn validate(bytes: &[u8]) -> Result<ValidatedKeyPackage, KeyPackageError> {
    validate_key_package(bytes, &KeyPackagePolicy::default(), now_unix_secs())
}

/// The bytes of a KeyPackage built with `change` applied to acceptable parameters.
fn bytes_with(change: impl FnOnce(&mut KeyPackageParams<'_>)) -> Vec<u8> {
    let signer = ed25519();
    build(&signer, &sealed().reference, change).bytes
}

const ACCEPTED: &str = "0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519), 0x0002 \
                        (MLS_128_DHKEMP256_AES128GCM_SHA256_P256)";

#[test]
fn a_good_ed25519_key_package_is_accepted_with_all_its_parts() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.reference, |_| {});
    let v = validate(&kp.bytes).unwrap();
    assert_eq!(v.cipher_suite(), 0x0001);
    assert_eq!(v.signature_scheme(), SignatureScheme::ED25519);
    assert_eq!(v.signature_key(), signer.public_key());
    assert_eq!(v.signature_key().len(), 32);
    assert_eq!(v.certificate_chain(), fake_chain().as_slice());
    assert_eq!(v.queue_reference(), Some(&s.reference));
    assert_eq!(
        v.queue_reference().unwrap().provider_domain().as_str(),
        DOMAIN
    );
    assert_eq!(
        s.key
            .open_queue_id(DOMAIN, v.queue_reference().unwrap().encrypted_queue_id())
            .unwrap(),
        s.queue_id
    );
    assert!(!v.is_last_resort());
    assert_eq!(v.bytes(), kp.bytes.as_slice());
    assert_eq!(v.not_after(), kp.key_package().life_time().not_after());
    assert_eq!(v.not_before(), kp.key_package().life_time().not_before());
    assert_eq!(v.key_package(), kp.key_package());
}

#[test]
fn a_good_p256_key_package_is_accepted() {
    let s = sealed();
    let signer = TestSigner::generate(SignatureScheme::ECDSA_SECP256R1_SHA256).unwrap();
    let kp = build(&signer, &s.reference, |_| {});
    let v = validate(&kp.bytes).unwrap();
    assert_eq!(v.cipher_suite(), 0x0002);
    assert_eq!(
        v.signature_scheme(),
        SignatureScheme::ECDSA_SECP256R1_SHA256
    );
    // Uncompressed SEC1 point.
    assert_eq!(v.signature_key().len(), 65);
    assert_eq!(v.signature_key()[0], 0x04);
    assert_eq!(v.signature_key(), signer.public_key());
}

#[test]
fn a_last_resort_key_package_says_so() {
    let v = validate(&bytes_with(|p| p.last_resort = true)).unwrap();
    assert!(v.is_last_resort());
}

#[test]
fn key_package_ref_is_what_openmls_computes() {
    let crypto = RustCrypto::default();
    for scheme in [
        SignatureScheme::ED25519,
        SignatureScheme::ECDSA_SECP256R1_SHA256,
    ] {
        let signer = TestSigner::generate(scheme).unwrap();
        let kp = build(&signer, &sealed().reference, |_| {});
        let v = validate(&kp.bytes).unwrap();
        let theirs = kp.key_package().hash_ref(&crypto).unwrap();
        assert_eq!(v.key_package_ref(), theirs.as_slice());
        // SHA-256 for both suites.
        assert_eq!(v.key_package_ref().len(), 32);
    }
}

#[test]
fn openmls_reads_back_what_the_helper_builds() {
    let signer = ed25519();
    let kp = build(&signer, &sealed().reference, |p| p.last_resort = true);
    let parsed = KeyPackageIn::tls_deserialize_exact(&kp.bytes).unwrap();
    let checked = parsed
        .validate(&RustCrypto::default(), ProtocolVersion::Mls10)
        .unwrap();
    assert_eq!(&checked, kp.key_package());
    assert_eq!(checked.tls_serialize_detached().unwrap(), kp.bytes);
    assert!(checked.last_resort());
    assert_eq!(
        checked.leaf_node().credential().credential_type(),
        CredentialType::X509
    );
    assert_eq!(
        certificate_chain(checked.leaf_node().credential()).unwrap(),
        fake_chain()
    );
}

#[test]
fn an_mls_message_carrying_a_key_package_is_accepted_and_unwrapped() {
    let signer = ed25519();
    let kp = build(&signer, &sealed().reference, |_| {});
    let wrapped = MlsMessageOut::from(kp.key_package().clone())
        .tls_serialize_detached()
        .unwrap();
    assert_eq!(&wrapped[..4], &[0, 1, 0, 5]);
    let v = validate(&wrapped).unwrap();
    assert_eq!(v.bytes(), kp.bytes.as_slice());
    assert_eq!(
        v.key_package_ref(),
        validate(&kp.bytes).unwrap().key_package_ref()
    );
}

#[test]
fn the_certificate_key_can_be_the_mls_signature_key() {
    // What a provider test does with mimi-credentials: rcgen (which
    // mimi_credentials::KeyPair wraps) makes the key and a certificate for it,
    // and the KeyPackage is signed with the same PKCS#8 key.
    for (alg, scheme) in [
        (&rcgen::PKCS_ED25519, SignatureScheme::ED25519),
        (
            &rcgen::PKCS_ECDSA_P256_SHA256,
            SignatureScheme::ECDSA_SECP256R1_SHA256,
        ),
    ] {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["device.b.example".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let signer = TestSigner::from_pkcs8(&key.serialize_der(), scheme).unwrap();
        assert_eq!(signer.public_key(), key.public_key_raw());
        let s = sealed();
        let params = KeyPackageParams::new(&signer, vec![cert.der().to_vec()], s.reference);
        let v = validate(&key_package(&params).unwrap().bytes).unwrap();
        assert_eq!(v.signature_key(), key.public_key_raw());
        assert_eq!(v.certificate_chain(), &[cert.der().to_vec()]);
    }
}

#[test]
fn an_ed25519_seed_gives_the_same_key_as_its_pkcs8() {
    let seed = [0x42; 32];
    let from_seed = TestSigner::from_ed25519_seed(&seed).unwrap();
    // PKCS#8 v1 for Ed25519: a fixed 16-byte header, then the seed.
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let from_pkcs8 = TestSigner::from_pkcs8(&pkcs8, SignatureScheme::ED25519).unwrap();
    assert_eq!(from_seed.public_key(), from_pkcs8.public_key());
}

#[test]
fn without_the_queue_reference_requirement_the_extension_is_optional() {
    let policy = KeyPackagePolicy {
        require_queue_reference: false,
        ..KeyPackagePolicy::default()
    };
    let bytes = bytes_with(|p| p.queue_reference = None);
    let v = validate_key_package(&bytes, &policy, now_unix_secs()).unwrap();
    assert_eq!(v.queue_reference(), None);
}

#[test]
fn lifetime_bounds_are_inclusive_at_both_ends() {
    let now = now_unix_secs();
    let bytes = bytes_with(|p| {
        p.not_before = now - 10;
        p.not_after = now + 10;
    });
    let policy = KeyPackagePolicy::default();
    assert!(validate_key_package(&bytes, &policy, now - 10).is_ok());
    assert!(validate_key_package(&bytes, &policy, now + 10).is_ok());
}

#[test]
fn exactly_the_maximum_lifetime_is_accepted() {
    let now = now_unix_secs();
    let bytes = bytes_with(|p| {
        p.not_before = now - DAY;
        p.not_after = now + 89 * DAY;
    });
    assert!(validate(&bytes).is_ok());
}

/// Flips one bit of the first occurrence of `needle` in `bytes`.
fn flip_inside(mut bytes: Vec<u8>, needle: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in the encoding");
    bytes[at + needle.len() / 2] ^= 1;
    bytes
}

/// Re-encodes the final vector (the KeyPackage signature) with a four-byte length,
/// which RFC 9420 forbids (lengths are minimally encoded).
fn non_minimal_signature_length(bytes: &[u8]) -> Vec<u8> {
    let at = bytes.len() - 64 - 2;
    assert_eq!(bytes[at..at + 2], [0x40, 0x40], "length 64 in two bytes");
    [&bytes[..at], &[0x80, 0, 0, 0x40], &bytes[at + 2..]].concat()
}

#[test]
fn refused_key_packages_get_their_exact_error() {
    let now = now_unix_secs();
    let s = sealed();
    let signer = ed25519();
    let good = build(&signer, &s.reference, |_| {}).bytes;
    let nb = now - 3600;

    let cases: Vec<(&str, Vec<u8>, KeyPackageError)> = vec![
        (
            "oversized",
            vec![0; MAX_KEY_PACKAGE_LEN + 1],
            KeyPackageError::TooLarge {
                len: MAX_KEY_PACKAGE_LEN + 1,
                max: MAX_KEY_PACKAGE_LEN,
            },
        ),
        (
            "empty",
            vec![],
            KeyPackageError::Malformed {
                detail: "0 bytes is too short for a KeyPackage".into(),
            },
        ),
        (
            "wrong protocol version",
            {
                let mut b = good.clone();
                b[1] = 2;
                b
            },
            KeyPackageError::Malformed {
                detail: "protocol version is 0x0002, not mls10 (0x0001)".into(),
            },
        ),
        (
            "trailing bytes",
            [good.as_slice(), &[0, 0, 0]].concat(),
            KeyPackageError::TrailingBytes { extra: 3 },
        ),
        (
            "KeyPackage signature flipped",
            {
                let mut b = good.clone();
                *b.last_mut().unwrap() ^= 1;
                b
            },
            KeyPackageError::BadSignature { what: "KeyPackage" },
        ),
        (
            "leaf node content flipped",
            flip_inside(good.clone(), s.sealed.ciphertext.as_slice()),
            KeyPackageError::BadSignature { what: "leaf node" },
        ),
        (
            "suite 3 (ChaCha20) not in the policy",
            bytes_with(|p| {
                p.cipher_suite = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519
            }),
            KeyPackageError::UnsupportedCipherSuite {
                suite: 3,
                accepted: ACCEPTED.into(),
            },
        ),
        (
            "a suite nobody defined",
            {
                let mut b = good.clone();
                b[3] = 0x77;
                b
            },
            KeyPackageError::UnsupportedCipherSuite {
                suite: 0x0077,
                accepted: ACCEPTED.into(),
            },
        ),
        (
            "lifetime of 91 days",
            bytes_with(|p| {
                p.not_before = nb;
                p.not_after = nb + 91 * DAY;
            }),
            KeyPackageError::LifetimeTooLong {
                lifetime_secs: 91 * DAY,
                max_secs: 90 * DAY,
            },
        ),
        (
            "Basic credential",
            bytes_with(|p| p.credential = TestCredential::Basic(b"alice".to_vec())),
            KeyPackageError::WrongCredentialType { found: 1 },
        ),
        (
            "empty chain",
            bytes_with(|p| p.credential = TestCredential::X509(vec![])),
            KeyPackageError::BadCertificateChain(CredentialError::EmptyChain),
        ),
        (
            "seven certificates",
            bytes_with(|p| p.credential = TestCredential::X509(vec![b"c".to_vec(); 7])),
            KeyPackageError::BadCertificateChain(CredentialError::TooManyCertificates { max: 6 }),
        ),
        (
            "a certificate over 16 KiB",
            bytes_with(|p| p.credential = TestCredential::X509(vec![vec![1; 16 * 1024 + 1]])),
            KeyPackageError::BadCertificateChain(CredentialError::CertificateTooLarge {
                index: 0,
                len: 16 * 1024 + 1,
                max: 16 * 1024,
            }),
        ),
        (
            "an empty certificate",
            bytes_with(|p| p.credential = TestCredential::X509(vec![b"leaf".to_vec(), vec![]])),
            KeyPackageError::BadCertificateChain(CredentialError::EmptyCertificate { index: 1 }),
        ),
        (
            "credential content that is not a list of certificates",
            bytes_with(|p| p.credential = TestCredential::X509Raw(vec![0x05, 1, 2])),
            KeyPackageError::BadCertificateChain(CredentialError::Malformed {
                detail: "certificate 0 could not be decoded: it ends early (truncated)".into(),
            }),
        ),
        (
            "x509 missing from the capabilities",
            bytes_with(|p| {
                p.capabilities = Capabilities::builder()
                    .extensions(vec![ExtensionType::Unknown(0xF0A1)])
                    .credentials(vec![CredentialType::Basic])
                    .build()
            }),
            KeyPackageError::CredentialNotInCapabilities,
        ),
        (
            "no queue reference",
            bytes_with(|p| p.queue_reference = None),
            KeyPackageError::MissingQueueReference,
        ),
        (
            "queue reference not in the capabilities",
            bytes_with(|p| {
                p.capabilities = Capabilities::builder()
                    .credentials(vec![CredentialType::X509])
                    .build()
            }),
            KeyPackageError::QueueReferenceNotInCapabilities,
        ),
        (
            "another leaf extension not in the capabilities",
            bytes_with(|p| p.extra_leaf_extensions = vec![(0xF0B0, b"x".to_vec())]),
            KeyPackageError::ExtensionNotInCapabilities {
                extension_type: 0xF0B0,
            },
        ),
        (
            "a malformed queue reference extension",
            bytes_with(|p| {
                p.queue_reference = None;
                p.extra_leaf_extensions = vec![(0xF0A1, b"junk".to_vec())];
            }),
            KeyPackageError::MalformedQueueReference {
                // mimi-wire's own words for the decoding error.
                detail: QueueReference::decode(b"junk").unwrap_err().to_string(),
            },
        ),
        (
            "a queue reference that is a bare ciphertext (no domain)",
            bytes_with(|p| {
                p.queue_reference = None;
                let bare = HpkeCiphertext::new(vec![0xff; 32], vec![2; 32]);
                p.extra_leaf_extensions = vec![(0xF0A1, bare.encode().unwrap())];
            }),
            KeyPackageError::MalformedQueueReference {
                detail: WireError::InvalidDomain {
                    field: "QueueReference.provider_domain",
                    value: "\\xff".repeat(32),
                    reason: "not UTF-8".into(),
                }
                .to_string(),
            },
        ),
        (
            "a queue reference whose domain is not canonical",
            bytes_with(|p| {
                p.queue_reference = None;
                let mut data = b"\x09B.EXAMPLE".to_vec();
                data.extend_from_slice(&s.sealed.encode().unwrap());
                p.extra_leaf_extensions = vec![(0xF0A1, data)];
            }),
            KeyPackageError::MalformedQueueReference {
                detail: WireError::InvalidDomain {
                    field: "QueueReference.provider_domain",
                    value: "B.EXAMPLE".into(),
                    reason: "not canonical; its canonical form is \"b.example\"".into(),
                }
                .to_string(),
            },
        ),
        (
            "last_resort not in the capabilities (OpenMLS's check)",
            bytes_with(|p| {
                p.last_resort = true;
                p.capabilities = Capabilities::builder()
                    .extensions(vec![ExtensionType::Unknown(0xF0A1)])
                    .credentials(vec![CredentialType::X509])
                    .build()
            }),
            KeyPackageError::Invalid {
                detail: "A key package extension is not supported in the leaf's capabilities."
                    .into(),
            },
        ),
    ];
    for (name, bytes, want) in cases {
        let got = validate_key_package(&bytes, &KeyPackagePolicy::default(), now);
        assert_eq!(got.map(|v| v.cipher_suite()), Err(want), "case: {name}");
    }
}

/// OpenMLS checks the lifetime against its own reading of the system clock, which
/// may be a second past ours: only its `now` is compared loosely.
#[test]
fn openmls_refuses_lifetimes_invalid_by_the_system_clock() {
    let before = now_unix_secs();
    let expired = bytes_with(|p| {
        p.not_before = before - 10 * DAY;
        p.not_after = before - DAY;
    });
    let not_yet = bytes_with(|p| {
        p.not_before = before + DAY;
        p.not_after = before + 10 * DAY;
    });
    // A `now` inside each lifetime, so that only OpenMLS's own check can refuse.
    let policy = KeyPackagePolicy::default();
    let e1 = validate_key_package(&expired, &policy, before - 2 * DAY).unwrap_err();
    let e2 = validate_key_package(&not_yet, &policy, before + 2 * DAY).unwrap_err();
    let after = now_unix_secs();
    match e1 {
        KeyPackageError::Expired { not_after, now } => {
            assert_eq!(not_after, before - DAY);
            assert!((before..=after).contains(&now));
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    match e2 {
        KeyPackageError::NotYetValid { not_before, now } => {
            assert_eq!(not_before, before + DAY);
            assert!((before..=after).contains(&now));
        }
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[test]
fn truncated_and_non_minimal_encodings_are_malformed() {
    let good = bytes_with(|_| {});
    let truncated = "it ends early (truncated)";
    let cases = [
        (good[..4].to_vec(), truncated),
        (good[..good.len() / 2].to_vec(), truncated),
        (good[..good.len() - 1].to_vec(), truncated),
        (
            [&[0, 1, 0, 5][..], &good[..good.len() - 1]].concat(),
            truncated,
        ),
        (
            non_minimal_signature_length(&good),
            "a vector length is invalid (RFC 9420 lengths are minimally encoded and below 2^30)",
        ),
    ];
    for (i, (bytes, detail)) in cases.into_iter().enumerate() {
        let want = KeyPackageError::Malformed {
            detail: detail.into(),
        };
        assert_eq!(validate(&bytes).map(|_| ()), Err(want), "input {i}");
    }
}

#[test]
fn lifetime_is_checked_at_the_given_time() {
    let now = now_unix_secs();
    let bytes = bytes_with(|p| {
        p.not_before = now - 3600;
        p.not_after = now + DAY;
    });
    let policy = KeyPackagePolicy::default();
    assert_eq!(
        validate_key_package(&bytes, &policy, now + DAY + 1).map(|_| ()),
        Err(KeyPackageError::Expired {
            not_after: now + DAY,
            now: now + DAY + 1
        })
    );
    assert_eq!(
        validate_key_package(&bytes, &policy, now - 3601).map(|_| ()),
        Err(KeyPackageError::NotYetValid {
            not_before: now - 3600,
            now: now - 3601
        })
    );
}

#[test]
fn policy_decides_suites_and_lifetime() {
    let now = now_unix_secs();
    let bytes = bytes_with(|_| {});
    let only_p256 = KeyPackagePolicy {
        cipher_suites: vec![Ciphersuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256],
        ..KeyPackagePolicy::default()
    };
    assert_eq!(
        validate_key_package(&bytes, &only_p256, now).map(|_| ()),
        Err(KeyPackageError::UnsupportedCipherSuite {
            suite: 1,
            accepted: "0x0002 (MLS_128_DHKEMP256_AES128GCM_SHA256_P256)".into()
        })
    );
    let one_day = KeyPackagePolicy {
        max_lifetime: Duration::from_secs(DAY),
        ..KeyPackagePolicy::default()
    };
    let err = validate_key_package(&bytes, &one_day, now).unwrap_err();
    assert_eq!(
        err,
        KeyPackageError::LifetimeTooLong {
            lifetime_secs: 28 * DAY + 3600,
            max_secs: DAY
        }
    );
    assert_eq!(
        err.to_string(),
        "KeyPackage lifetime is 2422800 s; at most 86400 s are accepted, so make it shorter"
    );
}

#[test]
fn x509_credential_round_trips_and_refuses_what_validation_refuses() {
    let chain = fake_chain();
    let credential = x509_credential(&chain).unwrap();
    assert_eq!(credential.credential_type(), CredentialType::X509);
    assert_eq!(certificate_chain(&credential).unwrap(), chain);
    // RFC 9420 framing: each certificate an opaque<V>.
    assert_eq!(
        credential.serialized_content(),
        [
            &[16][..],
            b"leaf certificate",
            &[21],
            b"domain CA certificate"
        ]
        .concat()
    );
    assert_eq!(x509_credential(&[]), Err(CredentialError::EmptyChain));
    assert_eq!(
        x509_credential(&vec![b"c".to_vec(); 7]),
        Err(CredentialError::TooManyCertificates { max: 6 })
    );
    assert_eq!(
        x509_credential(&[vec![]]),
        Err(CredentialError::EmptyCertificate { index: 0 })
    );
}

#[test]
fn the_helper_defaults_to_mimi_capabilities() {
    let signer = ed25519();
    let params = KeyPackageParams::new(&signer, fake_chain(), sealed().reference);
    assert_eq!(params.capabilities, capabilities());
    assert_eq!(
        params.cipher_suite,
        Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
    );
}

#[test]
fn error_messages_say_what_to_do() {
    let cases = [
        (
            KeyPackageError::WrongCredentialType { found: 1 },
            "credential type is 1; MIMI requires x509 (2) carrying the device's certificate chain",
        ),
        (
            KeyPackageError::MissingQueueReference,
            "the leaf node has no mimi_queue_reference extension (0xF0A1); seal the queue ID to \
             the provider's queue key and add it with the provider's domain",
        ),
        (
            KeyPackageError::BadCertificateChain(CredentialError::EmptyChain),
            "the KeyPackage's X.509 credential is unusable: the X.509 credential holds no \
             certificate; put the device certificate chain in it, leaf first",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}
