//! Tests of mimi-mls through its public API, on real OpenMLS KeyPackages.

mod extension;
mod fuzz;
mod hub;
mod key_package;
mod queue_id;

use mimi_mls::test_utils::{KeyPackageParams, TestKeyPackage, TestSigner, key_package};
use mimi_mls::{QueueKeyPair, SignatureScheme};
use mimi_wire::{HpkeCiphertext, QUEUE_ID_LEN, QueueReference};

/// The provider whose queue key the tests seal to.
pub const DOMAIN: &str = "b.example";

/// Stand-ins for DER certificates: mimi-mls never parses them, only frames them.
pub fn fake_chain() -> Vec<Vec<u8>> {
    vec![
        b"leaf certificate".to_vec(),
        b"domain CA certificate".to_vec(),
    ]
}

/// A provider key, a queue ID, and a reference to it at [`DOMAIN`].
#[derive(Debug)]
pub struct Sealed {
    pub key: QueueKeyPair,
    pub queue_id: [u8; QUEUE_ID_LEN],
    pub reference: QueueReference,
    /// The reference's encrypted queue ID.
    pub sealed: HpkeCiphertext,
}

pub fn sealed() -> Sealed {
    let (key, queue_id, reference) = mimi_mls::test_utils::sealed_queue_reference(DOMAIN).unwrap();
    Sealed {
        key,
        queue_id,
        sealed: reference.encrypted_queue_id().clone(),
        reference,
    }
}

pub fn ed25519() -> TestSigner {
    TestSigner::generate(SignatureScheme::ED25519).unwrap()
}

/// An acceptable KeyPackage, after `change` has edited its parameters.
pub fn build(
    signer: &TestSigner,
    reference: &QueueReference,
    change: impl FnOnce(&mut KeyPackageParams<'_>),
) -> TestKeyPackage {
    let mut params = KeyPackageParams::new(signer, fake_chain(), reference.clone());
    change(&mut params);
    key_package(&params).unwrap()
}
