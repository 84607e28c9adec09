//! Fuzzing inside the normal test suite: random and mutated certificates,
//! CRLs and TNAuthLists never make the parsers or the verifier panic.
//! (`fuzz/` holds the cargo-fuzz targets.)

use std::sync::OnceLock;
use std::time::SystemTime;

use mimi_credentials::{Certificate, Crl, SignatureScheme, TnAuthList, TrustAnchors, verify_chain};
use mimi_identifiers::PhoneNumber;
use proptest::prelude::*;

use crate::pki::{Pki, device_subject};

/// A valid leaf, domain CA, root and CRL to mutate.
fn seeds() -> &'static (Vec<Vec<u8>>, Vec<u8>) {
    static SEEDS: OnceLock<(Vec<Vec<u8>>, Vec<u8>)> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let pki = Pki::new(SignatureScheme::Ed25519);
        let ca = pki.domain_ca("a.example");
        let leaf = ca
            .issue(
                &device_subject("alice", "phone", "a.example", true),
                &pki.key().public_key(),
                pki.validity(),
            )
            .unwrap();
        let crl = pki.crl(&ca, &[&leaf]);
        let certs = vec![
            leaf.der().to_vec(),
            ca.certificate().der().to_vec(),
            pki.root.certificate().der().to_vec(),
        ];
        (certs, crl.der().to_vec())
    })
}

fn mutate(seed: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(at, value, kind) in edits {
        let n = bytes.len();
        match kind % 3 {
            0 if n > 0 => bytes[at % n] = value,
            1 if n > 0 => {
                bytes.remove(at % n);
            }
            _ => bytes.insert(at % (n + 1), value),
        }
    }
    bytes
}

fn exercise(bytes: &[u8]) {
    if let Ok(cert) = Certificate::from_der(bytes) {
        let _ = (
            cert.subject_text(),
            cert.uris(),
            cert.ca(),
            cert.tn_auth_list(),
            cert.key_scheme(),
        );
        let (certs, crl) = seeds();
        let root = Certificate::from_der(&certs[2]).unwrap();
        let crls: Vec<Crl> = Crl::from_der(crl).into_iter().collect();
        let anchors = TrustAnchors::new(vec![root]);
        let _ = verify_chain(
            &[cert, Certificate::from_der(&certs[1]).unwrap()],
            &anchors,
            &crls,
            SystemTime::now(),
        );
    }
    if let Ok(crl) = Crl::from_der(bytes) {
        let _ = (crl.revoked_count(), crl.lists(&[0x42]), crl.next_update());
    }
    if let Ok(tn) = TnAuthList::from_der(bytes) {
        assert_eq!(TnAuthList::from_der(&tn.to_der()).unwrap(), tn);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_certificates_and_crls_never_panic(
        which in 0usize..4,
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let (certs, crl) = seeds();
        let seed = if which < 3 { &certs[which] } else { crl };
        exercise(&mutate(seed, &edits));
    }

    #[test]
    fn mutated_tnauthlists_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let tn = TnAuthList::one(&PhoneNumber::parse("+12015550123").unwrap()).to_der();
        exercise(&mutate(&tn, &edits));
    }
}
