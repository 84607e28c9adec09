//! The `mimi_queue_id` leaf-node extension and MIMI's capabilities.

use mimi_mls::{
    QUEUE_ID_EXTENSION_TYPE, QueueIdError, capabilities, leaf_queue_id, queue_id_extension,
    queue_id_extension_type,
};
use openmls::prelude::{CredentialType, Extension, ExtensionType};

use crate::{DOMAIN, build, ed25519, sealed};

#[test]
fn extension_type_is_private_use_and_not_grease() {
    assert_eq!(QUEUE_ID_EXTENSION_TYPE, 0xF0A1);
    assert!((0xF000..=0xFFFF).contains(&QUEUE_ID_EXTENSION_TYPE));
    assert_eq!(queue_id_extension_type(), ExtensionType::Unknown(0xF0A1));
}

#[test]
fn extension_data_is_the_encoded_ciphertext() {
    let s = sealed();
    let ext = queue_id_extension(&s.sealed).unwrap();
    assert_eq!(ext.extension_type(), ExtensionType::Unknown(0xF0A1));
    let Extension::Unknown(t, data) = ext else {
        panic!("not an unknown extension: {ext:?}");
    };
    assert_eq!(t, 0xF0A1);
    assert_eq!(data.0, s.sealed.encode().unwrap());
}

#[test]
fn capabilities_list_the_queue_id_last_resort_and_x509_only() {
    let caps = capabilities();
    assert_eq!(
        caps.extensions(),
        &[ExtensionType::Unknown(0xF0A1), ExtensionType::LastResort]
    );
    assert_eq!(caps.credentials(), &[CredentialType::X509]);
    let suites: Vec<u16> = caps.ciphersuites().iter().map(|s| s.value()).collect();
    assert_eq!(suites, [1, 2, 3]);
}

#[test]
fn leaf_queue_id_reads_the_extension_of_a_real_key_package() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.sealed, |_| {});
    let found = leaf_queue_id(kp.key_package().leaf_node()).unwrap();
    assert_eq!(found.as_ref(), Some(&s.sealed));
    assert_eq!(
        s.key.open_queue_id(DOMAIN, &found.unwrap()).unwrap(),
        s.queue_id
    );
}

#[test]
fn leaf_queue_id_is_none_without_the_extension() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.sealed, |p| p.queue_id = None);
    assert_eq!(leaf_queue_id(kp.key_package().leaf_node()), Ok(None));
}

#[test]
fn leaf_queue_id_refuses_a_malformed_extension() {
    let s = sealed();
    let signer = ed25519();
    let kp = build(&signer, &s.sealed, |p| {
        p.queue_id = None;
        p.extra_leaf_extensions = vec![(0xF0A1, b"junk".to_vec())];
    });
    let err = leaf_queue_id(kp.key_package().leaf_node()).unwrap_err();
    assert!(
        matches!(err, QueueIdError::MalformedExtension { .. }),
        "{err:?}"
    );
}
