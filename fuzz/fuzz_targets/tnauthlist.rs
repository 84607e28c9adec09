//! The TNAuthList extension: decoding never panics and what decodes
//! re-encodes to the same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_credentials::TnAuthList;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = TnAuthList::from_der(data) {
        let der = list.to_der();
        assert_eq!(TnAuthList::from_der(&der).expect("our encoding decodes"), list);
    }
});
