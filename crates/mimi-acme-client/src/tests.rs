use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::key::{AccountKey, ExternalAccountBinding, KeyAlg};
use crate::time::{MAX_RETRY_AFTER, parse_retry_after, parse_rfc3339};
use crate::{Error, Problem};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = at(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    let check = |value: &str, expect: Option<Duration>| {
        assert_eq!(parse_retry_after(value, now), expect, "{value:?}");
    };
    check("120", Some(Duration::from_secs(120)));
    check(" 0 ", Some(Duration::ZERO));
    check(
        "Sun, 06 Nov 1994 08:50:37 GMT",
        Some(Duration::from_secs(60)),
    );
    // A date in the past: no wait.
    check("Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO));
    // Absurd delays are capped.
    check("99999999999999999999999", Some(MAX_RETRY_AFTER));
    check("-5", None);
    check("soon", None);
    check("", None);
}

#[test]
fn rfc3339_times_parse() {
    assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(at(60)));
    assert_eq!(parse_rfc3339("1970-01-01T01:01:00+01:00"), Some(at(60)));
    assert_eq!(parse_rfc3339("yesterday"), None);
}

#[test]
fn keys_round_trip_through_pkcs8_for_both_algorithms() {
    for alg in [KeyAlg::Es256, KeyAlg::EdDsa] {
        let key = AccountKey::generate(alg).unwrap();
        let again = AccountKey::from_pkcs8(&key.to_pkcs8()).unwrap();
        assert_eq!(again.alg(), alg);
        assert_eq!(again.jwk(), key.jwk());
        assert_eq!(again.thumbprint(), key.thumbprint());
    }
}

#[test]
fn a_non_key_is_refused_with_what_to_give() {
    let err = AccountKey::from_pkcs8(b"-----BEGIN PRIVATE KEY-----").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the key is not a PKCS#8 DER P-256 or Ed25519 private key; give the bytes AccountKey::to_pkcs8 wrote (DER, not PEM)"
    );
}

#[test]
fn the_key_authorization_is_token_dot_thumbprint() {
    let key = AccountKey::generate(KeyAlg::EdDsa).unwrap();
    // RFC 7638 §3: the thumbprint is of the canonical JWK, which the
    // server's Jwk computes; cross-check against the JWK we send.
    let jwk = mimi_acme::jws::Jwk::from_json(&key.jwk()).unwrap();
    assert_eq!(
        key.key_authorization("tok"),
        format!("tok.{}", jwk.thumbprint())
    );
}

/// The JWS this client signs is what the server's parser accepts and its
/// verifier verifies, for both key types, with kid and with jwk.
#[test]
fn signed_requests_verify_under_the_servers_jws_code() {
    for alg in [KeyAlg::Es256, KeyAlg::EdDsa] {
        let key = AccountKey::generate(alg).unwrap();
        let jwk = mimi_acme::jws::Jwk::from_json(&key.jwk()).unwrap();
        let payload = serde_json::json!({"a": 1});
        let with_kid = key
            .jws(
                "https://ca.example/x",
                Some("bm9uY2U"),
                Some("https://ca.example/acct/1"),
                Some(&payload),
            )
            .unwrap();
        let parsed = mimi_acme::jws::parse(&serde_json::to_vec(&with_kid).unwrap()).unwrap();
        parsed.verify(&jwk).unwrap();
        assert_eq!(parsed.protected.url, "https://ca.example/x");
        assert_eq!(parsed.protected.nonce.as_deref(), Some("bm9uY2U"));
        assert_eq!(parsed.payload_json::<Value>().unwrap(), payload);

        let post_as_get = key
            .jws("https://ca.example/x", Some("bm9uY2U"), None, None)
            .unwrap();
        let parsed = mimi_acme::jws::parse(&serde_json::to_vec(&post_as_get).unwrap()).unwrap();
        parsed.verify(&jwk).unwrap();
        assert!(parsed.is_post_as_get());
        assert_eq!(
            parsed.protected.key,
            mimi_acme::jws::KeyRef::Jwk(jwk.clone())
        );
    }
}

#[test]
fn the_external_account_binding_macs_the_account_jwk() {
    let key = AccountKey::generate(KeyAlg::Es256).unwrap();
    let eab = ExternalAccountBinding::new("kid-1", &[7u8; 32]);
    let binding = eab.bind(&key, "https://ca.example/new-account").unwrap();
    let parsed = mimi_acme::jws::parse(&serde_json::to_vec(&binding).unwrap()).unwrap();
    parsed.verify_hmac(&[7u8; 32]).unwrap();
    assert!(parsed.verify_hmac(&[8u8; 32]).is_err());
    assert_eq!(
        parsed.protected.key,
        mimi_acme::jws::KeyRef::Kid("kid-1".into())
    );
    assert_eq!(parsed.payload_json::<Value>().unwrap(), key.jwk());
}

#[test]
fn eab_keys_are_read_as_printed() {
    let printed = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let eab = ExternalAccountBinding::from_base64url("k", &printed).unwrap();
    assert_eq!(eab.hmac_key.as_slice(), &[1u8; 32]);
    let padded = format!("{printed}=");
    assert!(ExternalAccountBinding::from_base64url("k", &padded).is_ok());
    for bad in ["", "not base64!"] {
        let err = ExternalAccountBinding::from_base64url("k", bad).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{bad:?}: {err}");
    }
    // The Debug form never shows the key.
    assert!(!format!("{eab:?}").contains("hmac_key"));
}

#[test]
fn problems_print_type_detail_and_subproblems() {
    let problem: Problem = serde_json::from_value(serde_json::json!({
        "type": "urn:ietf:params:acme:error:compound",
        "detail": "two identifiers refused",
        "status": 403,
        "subproblems": [
            {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
             "detail": "wildcards are not issued",
             "identifier": {"type": "dns", "value": "*.a.example"}},
            {"type": "urn:ietf:params:acme:error:unsupportedIdentifier"}
        ]
    }))
    .unwrap();
    assert!(problem.is("compound"));
    assert_eq!(problem.subproblems.len(), 2);
    assert_eq!(
        problem.to_string(),
        "urn:ietf:params:acme:error:compound: two identifiers refused; \
         dns \"*.a.example\": urn:ietf:params:acme:error:rejectedIdentifier: wildcards are not issued; \
         urn:ietf:params:acme:error:unsupportedIdentifier"
    );
    // RFC 7807 §4.2: no type means about:blank.
    let blank: Problem = serde_json::from_str("{}").unwrap();
    assert_eq!(blank.type_, "about:blank");
    assert_eq!(blank.acme_type(), None);
}

#[test]
fn the_renewal_time_lies_in_the_window() {
    for _ in 0..100 {
        let info = crate::ari::window_for_test(at(1000), at(2000)).unwrap();
        assert!(info.renewal_time >= at(1000) && info.renewal_time <= at(2000));
        assert!(!info.should_renew(at(999)));
        assert!(info.should_renew(at(2000)));
    }
    assert_eq!(
        crate::ari::window_for_test(at(2000), at(1000)).unwrap_err(),
        "the suggested window ends before it starts"
    );
}
