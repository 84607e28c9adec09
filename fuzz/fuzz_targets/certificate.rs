//! Certificates and CRLs from the network (MLS leaf nodes, providers):
//! parsing, accessors and chain verification never panic.
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use mimi_credentials::{Certificate, Crl, TrustAnchors, verify_chain};

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        let _ = (cert.subject_text(), cert.issuer_text(), cert.uris(), cert.ca());
        let _ = (cert.tn_auth_list(), cert.uri_constraints(), cert.key_scheme());
        let anchors = TrustAnchors::new(vec![cert.clone()]);
        let _ = verify_chain(&[cert.clone(), cert], &anchors, &[], SystemTime::now());
    }
    if let Ok(crl) = Crl::from_der(data) {
        let _ = (crl.issuer_text(), crl.revoked_count(), crl.lists(&[1, 2, 3]));
    }
});
