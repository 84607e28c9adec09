//! The `mimi_queue_reference` leaf-node extension and MIMI's capabilities.

use mimi_mls::{
    QUEUE_REFERENCE_EXTENSION_TYPE, QueueIdError, QueueKeyPair, capabilities, leaf_queue_reference,
    queue_reference_extension, queue_reference_extension_type, seal_queue_reference,
};
use mimi_wire::{QueueReference, WireError};
use openmls::prelude::{CredentialType, Extension, ExtensionType};

use crate::{DOMAIN, build, ed25519, sealed};

fn domain(s: &str) -> mimi_identifiers::Domain {
    s.parse().unwrap()
}

#[test]
fn extension_type_is_private_use_and_not_grease() {
    assert_eq!(QUEUE_REFERENCE_EXTENSION_TYPE, 0xF0A1);
    assert!((0xF000..=0xFFFF).contains(&QUEUE_REFERENCE_EXTENSION_TYPE));
    assert_eq!(
        queue_reference_extension_type(),
        ExtensionType::Unknown(0xF0A1)
    );
}

#[test]
fn extension_data_is_the_encoded_reference() {
    let s = sealed();
    let ext = queue_reference_extension(&s.reference).unwrap();
    assert_eq!(ext.extension_type(), ExtensionType::Unknown(0xF0A1));
    let Extension::Unknown(t, data) = ext else {
        panic!("not an unknown extension: {ext:?}");
    };
    assert_eq!(t, 0xF0A1);
    assert_eq!(data.0, s.reference.encode().unwrap());
    // The domain first, in the clear: a hub routes without any key.
    assert_eq!(&data.0[..10], b"\x09b.example");
}

#[test]
fn a_sealed_reference_names_the_domain_it_is_bound_to() {
    let key = QueueKeyPair::generate().unwrap();
    let queue_id = [9; 16];
    let reference = seal_queue_reference(key.public(), &domain(DOMAIN), &queue_id).unwrap();
    assert_eq!(reference.provider_domain(), &domain(DOMAIN));
    assert_eq!(
        key.open_queue_id(DOMAIN, reference.encrypted_queue_id())
            .unwrap(),
        queue_id
    );
    // Fresh for every KeyPackage: the same ID seals differently each time.
    let again = seal_queue_reference(key.public(), &domain(DOMAIN), &queue_id).unwrap();
    assert_ne!(again.encrypted_queue_id(), reference.encrypted_queue_id());
}

#[test]
fn a_reference_re_pointed_at_another_provider_does_not_open_there() {
    let key = QueueKeyPair::generate().unwrap();
    let reference = seal_queue_reference(key.public(), &domain(DOMAIN), &[9; 16]).unwrap();
    let (_, sealed) = reference.into_parts();
    let re_pointed = QueueReference::new(domain("c.example"), sealed);
    // Even under the very key it was sealed to: the domain is in the HPKE info.
    let err = key
        .open_queue_id(
            re_pointed.provider_domain().as_str(),
            re_pointed.encrypted_queue_id(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        QueueIdError::Undecryptable {
            provider_domain: "c.example".into()
        }
    );
}

#[test]
fn capabilities_list_the_queue_reference_room_policy_last_resort_and_x509_only() {
    let caps = capabilities();
    assert_eq!(
        caps.extensions(),
        &[
            ExtensionType::Unknown(0xF0A1),
            ExtensionType::Unknown(0xF0A2),
            ExtensionType::LastResort
        ]
    );
    assert_eq!(caps.credentials(), &[CredentialType::X509]);
    let suites: Vec<u16> = caps.ciphersuites().iter().map(|s| s.value()).collect();
    assert_eq!(suites, [1, 2, 3]);
}

#[test]
fn leaf_queue_reference_reads_the_extension_of_a_real_key_package() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.reference, |_| {});
    let found = leaf_queue_reference(kp.key_package().leaf_node())
        .unwrap()
        .unwrap();
    assert_eq!(found, s.reference);
    assert_eq!(found.provider_domain(), &domain(DOMAIN));
    assert_eq!(
        s.key
            .open_queue_id(DOMAIN, found.encrypted_queue_id())
            .unwrap(),
        s.queue_id
    );
}

#[test]
fn leaf_queue_reference_is_none_without_the_extension() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.reference, |p| p.queue_reference = None);
    assert_eq!(leaf_queue_reference(kp.key_package().leaf_node()), Ok(None));
}

#[test]
fn leaf_queue_reference_refuses_a_malformed_extension() {
    let s = sealed();
    let signer = ed25519();
    // A bare HPKECiphertext (the extension's former content) is not a reference:
    // its kem_output is read as the domain.
    let bare = s.sealed.encode().unwrap();
    let kp = build(&signer, &s.reference, |p| {
        p.queue_reference = None;
        p.extra_leaf_extensions = vec![(0xF0A1, bare.clone())];
    });
    let err = leaf_queue_reference(kp.key_package().leaf_node()).unwrap_err();
    assert_eq!(
        err,
        QueueIdError::MalformedExtension {
            detail: QueueReference::decode(&bare).unwrap_err().to_string()
        }
    );
    assert!(
        err.to_string()
            .starts_with("mimi_queue_reference extension is malformed: "),
        "{err}"
    );
}

#[test]
fn leaf_queue_reference_refuses_a_domain_not_in_canonical_form() {
    let s = sealed();
    let signer = ed25519();
    let mut data = vec![9];
    data.extend_from_slice(b"B.example");
    data.extend_from_slice(&s.sealed.encode().unwrap());
    let kp = build(&signer, &s.reference, |p| {
        p.queue_reference = None;
        p.extra_leaf_extensions = vec![(0xF0A1, data)];
    });
    let err = leaf_queue_reference(kp.key_package().leaf_node()).unwrap_err();
    assert_eq!(
        err,
        QueueIdError::MalformedExtension {
            detail: WireError::InvalidDomain {
                field: "QueueReference.provider_domain",
                value: "B.example".into(),
                reason: "not canonical; its canonical form is \"b.example\"".into(),
            }
            .to_string()
        }
    );
}
