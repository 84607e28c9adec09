//! `PublicKey::verify`: what the provider uses to authenticate client requests.

use mimi_credentials::{KeyPair, PublicKey, SignatureScheme};

#[test]
fn signatures_verify_under_their_key_only() {
    for scheme in [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256] {
        let key = KeyPair::generate(scheme).unwrap();
        let other = KeyPair::generate(scheme).unwrap();
        let signature = key.sign(b"request").unwrap();
        let public = PublicKey::from_spki_der(key.public_key().spki_der()).unwrap();
        assert_eq!(public.verify(b"request", &signature), Ok(()), "{scheme:?}");
        assert!(public.verify(b"requesT", &signature).is_err(), "{scheme:?}");
        assert!(other.public_key().verify(b"request", &signature).is_err());
        let mut flipped = signature.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(public.verify(b"request", &flipped).is_err(), "{scheme:?}");
        assert!(public.verify(b"request", &[]).is_err(), "{scheme:?}");
    }
}

#[test]
fn raw_ed25519_keys_match_their_spki() {
    let key = KeyPair::generate(SignatureScheme::Ed25519).unwrap();
    let public = key.public_key();
    assert_eq!(public.raw().len(), 32);
    let from_raw = PublicKey::from_ed25519_raw(public.raw()).unwrap();
    assert_eq!(from_raw.spki_der(), public.spki_der());
}
