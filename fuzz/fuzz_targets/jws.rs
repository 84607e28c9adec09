//! ACME request bodies: the JWS parser and JWK handling never panic, and an
//! accepted JWS's key (if any) has a stable thumbprint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_acme::jws::{self, KeyRef};

fuzz_target!(|data: &[u8]| {
    let Ok(jws) = jws::parse(data) else {
        return;
    };
    if let KeyRef::Jwk(jwk) = &jws.protected.key {
        let again = jws::Jwk::from_json(&jwk.to_json()).expect("a parsed JWK re-parses");
        assert_eq!(again.thumbprint(), jwk.thumbprint());
        let _ = jws.verify(jwk);
    }
    let _ = jws.verify_hmac(b"0123456789abcdef0123456789abcdef");
    let _ = jws.payload_json::<serde_json::Value>();
});
