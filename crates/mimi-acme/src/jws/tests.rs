use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::json;

use super::*;

const URL: &str = "https://ca.example/acme/new-order";
const NONCE: &str = "oFvnlFP1wIhRlYS2jTaXbA";

/// A test signing key of one of the three account key types.
enum TestKey {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(&'static RsaKeyPair),
}

impl TestKey {
    fn ec() -> TestKey {
        TestKey::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    fn ed() -> TestKey {
        TestKey::Ed(Ed25519KeyPair::generate().unwrap())
    }

    /// RSA generation is slow, so all tests share one key.
    fn rsa() -> TestKey {
        static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
        TestKey::Rsa(KEY.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap()))
    }

    fn jwk(&self) -> Jwk {
        match self {
            TestKey::Ec(kp) => {
                let point = kp.public_key().as_ref();
                assert_eq!(point.len(), 65);
                Jwk::EcP256 {
                    x: point[1..33].to_vec(),
                    y: point[33..].to_vec(),
                }
            }
            TestKey::Ed(kp) => Jwk::Ed25519 {
                x: kp.public_key().as_ref().to_vec(),
            },
            TestKey::Rsa(kp) => {
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                Jwk::Rsa {
                    n: components.n,
                    e: components.e,
                }
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::Ec(kp) => kp.sign(&rng, message).unwrap().as_ref().to_vec(),
            TestKey::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            TestKey::Rsa(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
                sig
            }
        }
    }
}

fn enc(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A flattened JWS body from already encoded parts.
fn body(protected_b64: &str, payload_b64: &str, signature_b64: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "protected": protected_b64,
        "payload": payload_b64,
        "signature": signature_b64,
    }))
    .unwrap()
}

/// Signs `payload` under the protected header given as raw JSON text (raw so that
/// tests can send duplicate members), with `sign` producing the signature.
fn signed_with(header: &str, payload: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let protected_b64 = enc(header.as_bytes());
    let payload_b64 = enc(payload);
    let signature = sign(format!("{protected_b64}.{payload_b64}").as_bytes());
    body(&protected_b64, &payload_b64, &enc(&signature))
}

fn signed(key: &TestKey, header: &Value, payload: &[u8]) -> Vec<u8> {
    signed_with(&header.to_string(), payload, |m| key.sign(m))
}

/// The protected header of a newAccount-style request naming `key` by JWK.
fn jwk_header(key: &Jwk) -> Value {
    json!({"alg": key.alg().as_str(), "nonce": NONCE, "url": URL, "jwk": key.to_json()})
}

fn kid_header(alg: Alg) -> Value {
    json!({"alg": alg.as_str(), "nonce": NONCE, "url": URL, "kid": "https://ca.example/acme/acct/1"})
}

/// Parses and verifies with the key the header carries, as the server does for
/// newAccount.
fn parse_and_verify_embedded(body: &[u8]) -> Result<Jws, JwsError> {
    let jws = parse(body)?;
    let KeyRef::Jwk(key) = &jws.protected.key else {
        panic!("test bodies in this table carry a jwk");
    };
    jws.verify(key)?;
    Ok(jws)
}

#[test]
fn signatures_of_every_account_key_type_verify() {
    for key in [TestKey::ec(), TestKey::ed(), TestKey::rsa()] {
        let jwk = key.jwk();
        let payload = br#"{"termsOfServiceAgreed":true}"#;
        let jws = parse(&signed(&key, &jwk_header(&jwk), payload)).unwrap();
        assert_eq!(jws.protected.alg, jwk.alg());
        assert_eq!(jws.protected.nonce.as_deref(), Some(NONCE));
        assert_eq!(jws.protected.url, URL);
        assert_eq!(jws.protected.key, KeyRef::Jwk(jwk.clone()));
        assert_eq!(jws.payload, payload);
        assert!(!jws.is_post_as_get());
        jws.verify(&jwk).unwrap();
        let v: Value = jws.payload_json().unwrap();
        assert_eq!(v, json!({"termsOfServiceAgreed": true}));
    }
}

#[test]
fn kid_requests_verify_against_the_account_key() {
    let key = TestKey::ed();
    let jws = parse(&signed(&key, &kid_header(Alg::EdDsa), b"{}")).unwrap();
    assert_eq!(
        jws.protected.key,
        KeyRef::Kid("https://ca.example/acme/acct/1".to_owned())
    );
    jws.verify(&key.jwk()).unwrap();
}

#[test]
fn empty_payload_is_post_as_get_and_empty_object_is_not() {
    let key = TestKey::ec();
    let get = parse(&signed(&key, &kid_header(Alg::Es256), b"")).unwrap();
    assert!(get.is_post_as_get());
    get.verify(&key.jwk()).unwrap();
    assert_eq!(
        get.payload_json::<Value>().unwrap_err(),
        JwsError::PayloadNotJson(
            "the payload is empty (a POST-as-GET); send a JSON object".to_owned()
        )
    );

    let post = parse(&signed(&key, &kid_header(Alg::Es256), b"{}")).unwrap();
    assert!(!post.is_post_as_get());
}

#[test]
fn payload_of_the_wrong_shape_is_payload_not_json() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Order {
        identifiers: Vec<Value>,
    }
    let key = TestKey::ec();
    let jws = parse(&signed(&key, &kid_header(Alg::Es256), b"{\"x\":1}")).unwrap();
    assert!(matches!(
        jws.payload_json::<Order>(),
        Err(JwsError::PayloadNotJson(_))
    ));
}

/// The inner JWS of an external account binding (RFC 8555 §7.3.4): HS256, a
/// "kid" naming the MAC key, no nonce, the account key as payload.
#[test]
fn external_account_binding_mac_verifies() {
    let mac_key = b"0123456789abcdef0123456789abcdef";
    let account = TestKey::ec().jwk();
    let header =
        json!({"alg": "HS256", "kid": "eab-1", "url": "https://ca.example/acme/new-account"});
    let body = signed_with(
        &header.to_string(),
        account.to_json().to_string().as_bytes(),
        |m| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, mac_key), m)
                .as_ref()
                .to_vec()
        },
    );
    let jws = parse(&body).unwrap();
    assert_eq!(jws.protected.alg, Alg::Hs256);
    assert_eq!(jws.protected.nonce, None);
    jws.verify_hmac(mac_key).unwrap();
    let payload_key = Jwk::from_json(&jws.payload_json::<Value>().unwrap()).unwrap();
    assert_eq!(payload_key, account);

    assert_eq!(
        jws.verify_hmac(b"another key, also thirty-two b!!"),
        Err(JwsError::BadSignature)
    );
    // An HS256 JWS never verifies as an account-key signature.
    assert_eq!(jws.verify(&account), Err(JwsError::AlgKeyMismatch));
}

#[test]
fn verify_hmac_refuses_asymmetric_algs() {
    let key = TestKey::ec();
    let jws = parse(&signed(&key, &kid_header(Alg::Es256), b"{}")).unwrap();
    assert_eq!(jws.verify_hmac(b"k"), Err(JwsError::AlgKeyMismatch));
}

#[test]
fn alg_must_be_the_one_the_key_type_allows() {
    let ed = TestKey::ed();
    // An EdDSA signature, but the header claims ES256.
    let jws = parse(&signed(&ed, &kid_header(Alg::Es256), b"{}")).unwrap();
    assert_eq!(jws.verify(&ed.jwk()), Err(JwsError::AlgKeyMismatch));
    assert_eq!(
        jws.verify(&TestKey::ec().jwk()),
        Err(JwsError::BadSignature)
    );
}

/// RFC 7638 §3.1.
#[test]
fn rfc7638_thumbprint_known_answer() {
    let jwk = Jwk::from_json(&json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(jwk.alg(), Alg::Rs256);
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

/// The thumbprint hashes exactly the canonical form RFC 7638 §3.2 gives for
/// each key type (and RFC 8037 §2 for OKP).
#[test]
fn thumbprints_hash_the_canonical_members() {
    for key in [TestKey::ec(), TestKey::ed(), TestKey::rsa()] {
        let jwk = key.jwk();
        let canonical = match &jwk {
            Jwk::EcP256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                enc(x),
                enc(y)
            ),
            Jwk::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, enc(x)),
            Jwk::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, enc(e), enc(n)),
        };
        // serde_json without preserve_order sorts members, so it agrees.
        assert_eq!(canonical, jwk.to_json().to_string());
        let expected = enc(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref());
        assert_eq!(jwk.thumbprint(), expected);
    }
}

#[test]
fn jwks_round_trip_through_json() {
    for key in [TestKey::ec(), TestKey::ed(), TestKey::rsa()] {
        let jwk = key.jwk();
        assert_eq!(Jwk::from_json(&jwk.to_json()).unwrap(), jwk);
    }
}

#[test]
fn bad_jwks_are_refused() {
    let ec = TestKey::ec().jwk().to_json();
    let with = |name: &str, value: Value| {
        let mut v = ec.clone();
        v[name] = value;
        v
    };
    let x = ec["x"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, Value, JwsError)> = vec![
        (
            "not an object",
            json!("EC"),
            bad_key("\"jwk\" must be a JSON object"),
        ),
        (
            "unknown kty",
            with("kty", json!("oct")),
            bad_key(
                "key type \"oct\" is not supported; use \"EC\" (P-256), \"OKP\" (Ed25519) or \"RSA\"",
            ),
        ),
        (
            "P-384",
            with("crv", json!("P-384")),
            bad_key("EC curve \"P-384\" is not supported; use \"P-256\""),
        ),
        (
            "short coordinate",
            with("x", json!(enc(&[7; 31]))),
            bad_key("member \"x\" is 31 bytes; it must be exactly 32, leading zeros included"),
        ),
        (
            "padded coordinate",
            with("x", json!(format!("{x}="))),
            bad_key("member \"x\" is not base64url without padding"),
        ),
        (
            "point off the curve",
            with("y", json!(enc(&[1; 32]))),
            bad_key("(x, y) is not a point on P-256"),
        ),
        (
            "missing y",
            {
                let mut v = ec.clone();
                v.as_object_mut().unwrap().remove("y");
                v
            },
            bad_key("member \"y\" is missing"),
        ),
        (
            "Ed448",
            json!({"kty": "OKP", "crv": "Ed448", "x": enc(&[1; 57])}),
            bad_key("OKP curve \"Ed448\" is not supported; use \"Ed25519\""),
        ),
        (
            "RSA leading zero",
            json!({"kty": "RSA", "n": enc(&rsa_modulus(2048, true)), "e": "AQAB"}),
            bad_key(
                "member \"n\" has a leading zero byte; encode the integer in the fewest bytes (RFC 7518 §2)",
            ),
        ),
        (
            "RSA 8200 bits",
            json!({"kty": "RSA", "n": enc(&rsa_modulus(8200, false)), "e": "AQAB"}),
            JwsError::KeyTooLarge(8200),
        ),
        (
            "RSA even exponent",
            json!({"kty": "RSA", "n": enc(&rsa_modulus(2048, false)), "e": enc(&[2])}),
            bad_key(
                "the RSA exponent \"e\" must be odd, at least 3 and at most 32 bits; use 65537 (\"AQAB\")",
            ),
        ),
        (
            "RSA exponent 1",
            json!({"kty": "RSA", "n": enc(&rsa_modulus(2048, false)), "e": enc(&[1])}),
            bad_key(
                "the RSA exponent \"e\" must be odd, at least 3 and at most 32 bits; use 65537 (\"AQAB\")",
            ),
        ),
        (
            "RSA private exponent",
            json!({"kty": "RSA", "n": enc(&rsa_modulus(2048, false)), "e": "AQAB", "d": "AQAB"}),
            bad_key(
                "it contains the private member \"d\"; send only the public key, and replace this key, which is no longer secret",
            ),
        ),
    ];
    for (name, jwk, expected) in cases {
        assert_eq!(Jwk::from_json(&jwk), Err(expected), "case {name}");
    }
}

/// An odd big-endian number of exactly `bits` bits, optionally with a zero byte
/// prepended.
fn rsa_modulus(bits: usize, leading_zero: bool) -> Vec<u8> {
    let mut n = vec![0x5a; bits.div_ceil(8)];
    let top_bits = bits % 8;
    n[0] = if top_bits == 0 {
        0xc3
    } else {
        1 << (top_bits - 1)
    };
    *n.last_mut().unwrap() |= 1;
    if leading_zero {
        n.insert(0, 0);
    }
    n
}

/// Every malformed request maps to one exact error.
#[test]
fn bad_requests_table() {
    let key = TestKey::ec();
    let jwk = key.jwk();
    let header = jwk_header(&jwk);
    let header_with = |name: &str, value: Value| {
        let mut h = header.clone();
        h[name] = value;
        h
    };
    let header_without = |name: &str| {
        let mut h = header.clone();
        h.as_object_mut().unwrap().remove(name);
        h
    };
    let good = signed(&key, &header, b"{}");
    let good_json: Value = serde_json::from_slice(&good).unwrap();
    let part = |name: &str| good_json[name].as_str().unwrap().to_owned();
    let (protected, payload, signature) = (part("protected"), part("payload"), part("signature"));
    let outer_with = |name: &str, value: Value| {
        let mut v = good_json.clone();
        v[name] = value;
        serde_json::to_vec(&v).unwrap()
    };

    let der_signer = {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let fixed =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let der =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        (TestKey::Ec(fixed), der)
    };
    let der_body = signed_with(&jwk_header(&der_signer.0.jwk()).to_string(), b"{}", |m| {
        der_signer
            .1
            .sign(&SystemRandom::new(), m)
            .unwrap()
            .as_ref()
            .to_vec()
    });

    let rsa_1024 = json!({"kty": "RSA", "n": enc(&rsa_modulus(1024, false)), "e": "AQAB"});
    let other_key = TestKey::ec();
    let header_json = header.to_string();

    let cases: Vec<(&str, Vec<u8>, JwsError)> = vec![
        ("not JSON", b"protected=abc".to_vec(), JwsError::NotJson),
        ("trailing garbage", [&good[..], b"x"].concat(), JwsError::NotJson),
        (
            "not an object",
            b"[]".to_vec(),
            JwsError::WrongShape(
                "the JWS must be a JSON object with the members \"protected\", \"payload\" and \"signature\"",
            ),
        ),
        (
            "unprotected header",
            outer_with("header", json!({"kid": "x"})),
            JwsError::WrongShape(
                "the JWS has an unprotected \"header\"; RFC 8555 §6.2 forbids it: put every header parameter in \"protected\"",
            ),
        ),
        (
            "general serialization",
            serde_json::to_vec(&json!({
                "payload": payload,
                "signatures": [{"protected": protected, "signature": signature}],
            }))
            .unwrap(),
            JwsError::WrongShape(
                "the JWS uses the general serialization (\"signatures\"); ACME requires the flattened serialization with a single signature (RFC 8555 §6.2)",
            ),
        ),
        (
            "extra member",
            outer_with("extra", json!(1)),
            JwsError::WrongShape(
                "the JWS has members other than \"protected\", \"payload\" and \"signature\"; remove them",
            ),
        ),
        (
            "missing signature",
            serde_json::to_vec(&json!({"protected": protected, "payload": payload})).unwrap(),
            JwsError::WrongShape(
                "the JWS must have the members \"protected\", \"payload\" and \"signature\"",
            ),
        ),
        (
            "payload not a string",
            outer_with("payload", json!({})),
            JwsError::WrongShape(
                "the JWS members \"protected\", \"payload\" and \"signature\" must be strings",
            ),
        ),
        (
            "duplicate outer member",
            format!(r#"{{"protected":"{protected}","payload":"{payload}","payload":"","signature":"{signature}"}}"#)
                .into_bytes(),
            JwsError::DuplicateMember("JWS body has the member \"payload\" more than once".to_owned()),
        ),
        (
            "padded base64 payload",
            // "{}" is "e30" unpadded, "e30=" padded.
            body(&protected, "e30=", &signature),
            JwsError::BadBase64("payload"),
        ),
        (
            "standard-alphabet signature",
            body(&protected, &payload, &format!("+{}", &signature[1..])),
            JwsError::BadBase64("signature"),
        ),
        (
            "whitespace in protected",
            body(&format!(" {protected}"), &payload, &signature),
            JwsError::BadBase64("protected header"),
        ),
        (
            "alg none",
            signed(&key, &header_with("alg", json!("none")), b"{}"),
            JwsError::UnsupportedAlg("none".to_owned()),
        ),
        (
            "alg HS512",
            signed(&key, &header_with("alg", json!("HS512")), b"{}"),
            JwsError::UnsupportedAlg("HS512".to_owned()),
        ),
        (
            "alg missing",
            signed(&key, &header_without("alg"), b"{}"),
            bad_header("\"alg\" is missing; RFC 8555 §6.2 requires it"),
        ),
        (
            "both jwk and kid",
            signed(&key, &header_with("kid", json!("https://ca.example/acme/acct/1")), b"{}"),
            JwsError::BothJwkAndKid,
        ),
        (
            "neither jwk nor kid",
            signed(&key, &header_without("jwk"), b"{}"),
            JwsError::NeitherJwkNorKid,
        ),
        (
            "private key member in jwk",
            signed(&key, &header_with("jwk", {
                let mut j = jwk.to_json();
                j["d"] = json!(enc(&[1; 32]));
                j
            }), b"{}"),
            bad_key("it contains the private member \"d\"; send only the public key, and replace this key, which is no longer secret"),
        ),
        (
            "RSA 1024-bit key",
            signed(&key, &header_with("jwk", rsa_1024), b"{}"),
            JwsError::KeyTooSmall(1024),
        ),
        ("ES256 signature in DER form", der_body, JwsError::BadSignature),
        (
            "signature by another key",
            signed(&other_key, &header, b"{}"),
            JwsError::BadSignature,
        ),
        (
            "payload tampered after signing",
            body(&protected, &enc(br#"{"status":"deactivated"}"#), &signature),
            JwsError::BadSignature,
        ),
        (
            "url missing",
            signed(&key, &header_without("url"), b"{}"),
            bad_header("\"url\" is missing; RFC 8555 §6.2 requires it"),
        ),
        (
            "url not a string",
            signed(&key, &header_with("url", json!(7)), b"{}"),
            bad_header("\"url\" must be a string"),
        ),
        (
            "nonce not base64url",
            signed(&key, &header_with("nonce", json!("a+b=")), b"{}"),
            bad_header("\"nonce\" is not base64url without padding; send a nonce this server issued in Replay-Nonce"),
        ),
        (
            "kid not a string",
            signed(&key, &{
                let mut h = header_without("jwk");
                h["kid"] = json!(1);
                h
            }, b"{}"),
            bad_header("\"kid\" must be a string"),
        ),
        (
            "protected header not JSON",
            signed_with("{\"alg\":", b"{}", |m| key.sign(m)),
            bad_header("it is not JSON"),
        ),
        (
            "protected header not an object",
            signed_with("[1]", b"{}", |m| key.sign(m)),
            bad_header("it must be a JSON object"),
        ),
        (
            "duplicate alg",
            signed_with(
                &header_json.replacen('{', r#"{"alg":"none","#, 1),
                b"{}",
                |m| key.sign(m),
            ),
            JwsError::DuplicateMember(
                "protected header has the member \"alg\" more than once".to_owned(),
            ),
        ),
        (
            "oversized body",
            {
                let mut big = outer_with("payload", json!(enc(&vec![b'a'; MAX_JWS_LEN])));
                big.truncate(MAX_JWS_LEN + 1);
                big
            },
            JwsError::TooLarge,
        ),
        (
            "unknown crit",
            signed(&key, &{
                let mut h = header_with("crit", json!(["b64"]));
                h["b64"] = json!(false);
                h
            }, b"{}"),
            JwsError::UnknownCritical("[\"b64\"]".to_owned()),
        ),
    ];
    // The baseline is good, so each failure is the mutation's doing.
    parse_and_verify_embedded(&good).unwrap();
    for (name, body, expected) in cases {
        assert_eq!(
            parse_and_verify_embedded(&body).map(|_| ()),
            Err(expected),
            "case {name}"
        );
    }
}

#[test]
fn a_body_of_exactly_max_len_is_not_too_large() {
    let mut body = vec![b' '; MAX_JWS_LEN];
    body[0] = b'{';
    body[MAX_JWS_LEN - 1] = b'}';
    assert!(matches!(parse(&body), Err(JwsError::WrongShape(_))));
}

#[test]
fn error_messages_say_what_to_do() {
    assert_eq!(
        JwsError::TooLarge.to_string(),
        "the JWS is larger than 65536 bytes; send a smaller request"
    );
    assert_eq!(
        JwsError::BadBase64("payload").to_string(),
        "the JWS payload is not base64url without padding (RFC 7515 §2); drop any '=' and use only A-Z, a-z, 0-9, '-' and '_'"
    );
    assert_eq!(
        JwsError::KeyTooSmall(1024).to_string(),
        "the RSA key has 1024 bits; use a key of at least 2048 bits"
    );
    assert_eq!(
        JwsError::UnsupportedAlg("none".to_owned()).to_string(),
        "signature algorithm \"none\" is not supported; sign with ES256, EdDSA or RS256"
    );
}

/// A xorshift64 generator: deterministic, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Parses and, where parsing succeeds, verifies; only panics matter here.
fn exercise(body: &[u8], key: &Jwk) {
    if let Ok(jws) = parse(body) {
        let _ = jws.verify(key);
        let _ = jws.verify_hmac(b"k");
        let _ = jws.payload_json::<Value>();
        if let KeyRef::Jwk(jwk) = &jws.protected.key {
            let _ = jws.verify(jwk);
            let _ = jwk.thumbprint();
        }
    }
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let key = TestKey::ec();
    let jwk = key.jwk();
    let header = jwk_header(&jwk).to_string().into_bytes();
    let good = signed(&key, &jwk_header(&jwk), b"{}");
    let alphabet = b"{}[]\":,0123456789.-eE truefalsn\\ABCxyz_=+/";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);

    for _ in 0..3000 {
        // Pure noise, mostly refused as not JSON.
        let len = rng.below(200);
        exercise(&rng.bytes(len), &jwk);

        // JSON-ish noise, to get past the first byte.
        let len = rng.below(120);
        let noise: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        exercise(&noise, &jwk);

        // A valid body with a few bytes changed.
        let mut body = good.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(body.len());
            body[at] = alphabet[rng.below(alphabet.len())];
        }
        exercise(&body, &jwk);

        // A validly framed JWS whose protected header is mutated, to reach the
        // header and key parsers.
        let mut h = header.clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(h.len());
            h[at] = alphabet[rng.below(alphabet.len())];
        }
        let body = signed_with(&String::from_utf8_lossy(&h), b"{}", |m| key.sign(m));
        exercise(&body, &jwk);
    }
}

/// serde_json's recursion limit bounds nesting, so deep input is refused
/// rather than overflowing the stack.
#[test]
fn deep_nesting_is_refused() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert_eq!(
        parse(deep(20_000).as_bytes()).unwrap_err(),
        JwsError::NotJson
    );

    let key = TestKey::ec();
    let header = format!(
        r#"{{"alg":"ES256","url":"{URL}","kid":"k","x":{}}}"#,
        deep(20_000)
    );
    let body = signed_with(&header, b"{}", |m| key.sign(m));
    assert!(body.len() <= MAX_JWS_LEN);
    assert_eq!(parse(&body).unwrap_err(), bad_header("it is not JSON"));
}
