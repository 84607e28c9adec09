//! Finalize CSRs: parsing and signature checking never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(csr) = mimi_credentials::verify_csr(data) {
        assert!(csr.dns_names.iter().all(|n| n.to_ascii_lowercase() == *n));
    }
});
