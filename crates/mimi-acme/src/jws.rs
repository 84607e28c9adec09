//! JSON Web Signatures as ACME uses them (RFC 8555 §6.2): the flattened JSON
//! serialization of RFC 7515 §7.2.2, with every header parameter in the protected
//! header, public keys as JWKs (RFC 7517/7518, Ed25519 per RFC 8037) and account
//! key thumbprints per RFC 7638.
//!
//! [`parse`] checks the shape of a request body and its protected header but no
//! signature; [`Jws::verify`] (account keys) and [`Jws::verify_hmac`] (external
//! account binding, RFC 8555 §7.3.4) check signatures. Which key to verify with,
//! whether the nonce is fresh and whether the URL is the one requested are for
//! the caller to decide.
//!
//! Everything here runs on untrusted network input: it is bounded by
//! [`MAX_JWS_LEN`] and never panics.

use std::cell::RefCell;
use std::fmt;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The largest request body [`parse`] accepts, in bytes. Callers should stop
/// reading a body at this size rather than buffer more and have it refused.
pub const MAX_JWS_LEN: usize = 64 * 1024;

/// The smallest RSA modulus accepted, in bits (the floor of
/// `RSA_PKCS1_2048_8192_SHA256`, and of the CA/Browser Forum).
const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits: beyond this, verification gets
/// expensive enough to be a denial-of-service lever.
const MAX_RSA_BITS: usize = 8192;
/// RSA public exponents longer than this are refused: real ones are 65537, and
/// huge exponents only make verification slow.
const MAX_RSA_EXPONENT_LEN: usize = 4;
/// Length of a P-256 field element and of an Ed25519 public key.
const COORDINATE_LEN: usize = 32;

/// JWK members that carry private or symmetric key material (RFC 7518 §6.2.2,
/// §6.3.2, §6.4; RFC 8037 §2). A client that sends one has leaked its key.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a request body is not an acceptable JWS. Every variant is the client's
/// fault; the messages say what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    #[error("the JWS is larger than {max} bytes; send a smaller request", max = MAX_JWS_LEN)]
    TooLarge,
    #[error(
        "the request body is not JSON; send a JWS in the flattened JSON serialization (RFC 7515 §7.2.2)"
    )]
    NotJson,
    #[error("{0}")]
    WrongShape(&'static str),
    #[error(
        "the JWS {0} is not base64url without padding (RFC 7515 §2); drop any '=' and use only A-Z, a-z, 0-9, '-' and '_'"
    )]
    BadBase64(&'static str),
    #[error("the {0}; send each JSON member once")]
    DuplicateMember(String),
    #[error("protected header: {0}")]
    BadHeader(String),
    #[error("signature algorithm {0:?} is not supported; sign with ES256, EdDSA or RS256")]
    UnsupportedAlg(String),
    #[error(
        "the protected header marks {0} as critical (\"crit\"), but this server implements no JWS extensions; do not send \"crit\""
    )]
    UnknownCritical(String),
    #[error(
        "the protected header has both \"jwk\" and \"kid\"; send \"jwk\" only for newAccount and for revokeCert signed by the certificate key, \"kid\" (the account URL) otherwise"
    )]
    BothJwkAndKid,
    #[error(
        "the protected header has neither \"jwk\" nor \"kid\"; send \"jwk\" for newAccount and \"kid\" (the account URL) otherwise"
    )]
    NeitherJwkNorKid,
    #[error("the JWK is not an acceptable public key: {0}")]
    BadKey(String),
    #[error("the RSA key has {0} bits; use a key of at least 2048 bits")]
    KeyTooSmall(usize),
    #[error("the RSA key has {0} bits; use a key of at most 8192 bits")]
    KeyTooLarge(usize),
    #[error(
        "the \"alg\" does not fit the key: ES256 goes with P-256 keys, EdDSA with Ed25519 keys, RS256 with RSA keys, and HS256 only with an external account binding MAC key"
    )]
    AlgKeyMismatch,
    #[error(
        "the JWS signature does not verify; sign ASCII(protected || '.' || payload) with the key the header names (for ES256, the 64-byte R||S form of RFC 7518 §3.4, not DER)"
    )]
    BadSignature,
    #[error("the JWS payload is not the JSON expected here: {0}")]
    PayloadNotJson(String),
}

/// A JWS signature algorithm this server accepts (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// HMAC with SHA-256: valid only for the inner JWS of an external account
    /// binding (RFC 8555 §7.3.4), never for a request itself.
    Hs256,
}

/// The algorithms a request (as opposed to an external account binding) may
/// be signed with, as listed in badSignatureAlgorithm problems.
pub const REQUEST_ALGS: [Alg; 3] = [Alg::Es256, Alg::EdDsa, Alg::Rs256];

impl Alg {
    /// The "alg" header value naming this algorithm.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
            Alg::Hs256 => "HS256",
        }
    }

    /// The algorithm an "alg" header value names, or why it is refused.
    fn from_header(name: &str) -> Result<Alg, JwsError> {
        match name {
            "ES256" => Ok(Alg::Es256),
            "EdDSA" => Ok(Alg::EdDsa),
            "RS256" => Ok(Alg::Rs256),
            "HS256" => Ok(Alg::Hs256),
            // "none" (RFC 7518 §3.6) and the other MACs land here too: RFC 8555
            // §6.2 forbids both on requests.
            other => Err(JwsError::UnsupportedAlg(other.to_owned())),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key in JWK form. The byte fields are the decoded base64url members:
/// EC coordinates are exactly 32 bytes, RSA integers have no leading zero byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    /// `{"kty":"EC","crv":"P-256","x","y"}` (RFC 7518 §6.2.1).
    EcP256 { x: Vec<u8>, y: Vec<u8> },
    /// `{"kty":"OKP","crv":"Ed25519","x"}` (RFC 8037 §2).
    Ed25519 { x: Vec<u8> },
    /// `{"kty":"RSA","n","e"}` (RFC 7518 §6.3.1), 2048 to 8192 bits.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl Jwk {
    /// Reads a public JWK. Members other than the key type's required ones (such
    /// as "kid", "use" or "alg") are ignored, except private key members, which
    /// are refused.
    pub fn from_json(v: &Value) -> Result<Jwk, JwsError> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad_key("\"jwk\" must be a JSON object"))?;
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(bad_key(format!(
                "it contains the private member {member:?}; send only the public key, and replace this key, which is no longer secret"
            )));
        }
        match jwk_str(obj, "kty")? {
            "EC" => ec_p256_from_json(obj),
            "OKP" => ed25519_from_json(obj),
            "RSA" => rsa_from_json(obj),
            other => Err(bad_key(format!(
                "key type {other:?} is not supported; use \"EC\" (P-256), \"OKP\" (Ed25519) or \"RSA\""
            ))),
        }
    }

    /// The public JWK, with only the members the key type requires.
    pub fn to_json(&self) -> Value {
        match self {
            Jwk::EcP256 { x, y } => serde_json::json!({
                "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y),
            }),
            Jwk::Ed25519 { x } => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(x),
            }),
            Jwk::Rsa { n, e } => serde_json::json!({
                "kty": "RSA", "n": b64(n), "e": b64(e),
            }),
        }
    }

    /// The RFC 7638 thumbprint: base64url (no padding) of the SHA-256 of the
    /// required members, in lexicographic order, without whitespace. ACME uses
    /// it in key authorizations (RFC 8555 §8.1).
    pub fn thumbprint(&self) -> String {
        // Built by hand rather than with serde_json: RFC 7638 §3.3 fixes the
        // member order and the absence of whitespace, and base64url values
        // never need escaping.
        let canonical = match self {
            Jwk::EcP256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            ),
            Jwk::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x)),
            Jwk::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64(e), b64(n)),
        };
        b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// The only algorithm this key may sign with. Pinning one algorithm per key
    /// type keeps a key from being used under an algorithm it was not made for.
    pub fn alg(&self) -> Alg {
        match self {
            Jwk::EcP256 { .. } => Alg::Es256,
            Jwk::Ed25519 { .. } => Alg::EdDsa,
            Jwk::Rsa { .. } => Alg::Rs256,
        }
    }

    /// Checks `signature` over `message` with this key under its own algorithm.
    fn verify_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), JwsError> {
        let verified = match self {
            Jwk::EcP256 { x, y } => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec_point(x, y))
                    .verify(message, signature)
            }
            Jwk::Ed25519 { x } => UnparsedPublicKey::new(&ED25519, x).verify(message, signature),
            Jwk::Rsa { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
        };
        verified.map_err(|_| JwsError::BadSignature)
    }
}

/// How the protected header names the signing key (RFC 8555 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// The key itself: newAccount, and revokeCert signed by the certificate key.
    Jwk(Jwk),
    /// An account URL (for requests) or an EAB key identifier (RFC 8555 §7.3.4).
    Kid(String),
}

/// The protected header parameters ACME uses.
#[derive(Debug, Clone)]
pub struct Protected {
    pub alg: Alg,
    /// Absent only in the inner JWS of an external account binding; callers
    /// require it on requests.
    pub nonce: Option<String>,
    pub url: String,
    pub key: KeyRef,
}

/// A parsed, not yet verified, flattened JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    pub protected: Protected,
    /// The decoded payload; empty for a POST-as-GET (RFC 8555 §6.3).
    pub payload: Vec<u8>,
    /// The protected header and payload exactly as received: the signature is
    /// over these strings, not over any re-encoding of what they decode to.
    protected_b64: String,
    payload_b64: String,
    signature: Vec<u8>,
}

/// Parses a request body as a flattened JWS with an ACME protected header.
/// Nothing is verified yet: call [`Jws::verify`] or [`Jws::verify_hmac`].
pub fn parse(body: &[u8]) -> Result<Jws, JwsError> {
    if body.len() > MAX_JWS_LEN {
        return Err(JwsError::TooLarge);
    }
    let outer = strict_json(body, "JWS body").map_err(|e| match e {
        StrictJsonError::Syntax => JwsError::NotJson,
        StrictJsonError::Duplicate(err) => err,
    })?;
    let [protected_b64, payload_b64, signature_b64] = flattened_members(&outer)?;

    let protected_json = b64_decode(protected_b64, "protected header")?;
    let payload = b64_decode(payload_b64, "payload")?;
    let signature = b64_decode(signature_b64, "signature")?;
    let protected = parse_protected(&protected_json)?;

    Ok(Jws {
        protected,
        payload,
        protected_b64: protected_b64.to_owned(),
        payload_b64: payload_b64.to_owned(),
        signature,
    })
}

impl Jws {
    /// Checks the signature with an account or certificate key. The header's
    /// "alg" must be the one the key type allows (see [`Jwk::alg`]), so this
    /// never accepts HS256.
    pub fn verify(&self, key: &Jwk) -> Result<(), JwsError> {
        if self.protected.alg != key.alg() {
            return Err(JwsError::AlgKeyMismatch);
        }
        key.verify_signature(&self.signing_input(), &self.signature)
    }

    /// Checks an HS256 MAC, for the inner JWS of an external account binding
    /// (RFC 8555 §7.3.4). The comparison is constant-time. `mac_key` is the
    /// CA-issued EAB key; RFC 7518 §3.2 asks for at least 32 bytes.
    pub fn verify_hmac(&self, mac_key: &[u8]) -> Result<(), JwsError> {
        if self.protected.alg != Alg::Hs256 {
            return Err(JwsError::AlgKeyMismatch);
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, mac_key);
        hmac::verify(&key, &self.signing_input(), &self.signature)
            .map_err(|_| JwsError::BadSignature)
    }

    /// Whether this is a POST-as-GET (RFC 8555 §6.3): the payload is the empty
    /// string, which is distinct from an empty JSON object.
    pub fn is_post_as_get(&self) -> bool {
        self.payload_b64.is_empty()
    }

    /// Deserializes the payload as JSON.
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JwsError> {
        if self.is_post_as_get() {
            return Err(JwsError::PayloadNotJson(
                "the payload is empty (a POST-as-GET); send a JSON object".to_owned(),
            ));
        }
        serde_json::from_slice(&self.payload).map_err(|e| JwsError::PayloadNotJson(e.to_string()))
    }

    /// The JWS signing input, ASCII(BASE64URL(protected) || '.' ||
    /// BASE64URL(payload)) (RFC 7515 §5.2), from the strings as received.
    fn signing_input(&self) -> Vec<u8> {
        let mut input = Vec::with_capacity(self.protected_b64.len() + 1 + self.payload_b64.len());
        input.extend_from_slice(self.protected_b64.as_bytes());
        input.push(b'.');
        input.extend_from_slice(self.payload_b64.as_bytes());
        input
    }
}

/// The three members of a flattened JWS, in the order protected, payload,
/// signature, after checking that nothing else is there.
fn flattened_members(outer: &Value) -> Result<[&str; 3], JwsError> {
    let obj = outer.as_object().ok_or(JwsError::WrongShape(
        "the JWS must be a JSON object with the members \"protected\", \"payload\" and \"signature\"",
    ))?;
    if obj.contains_key("signatures") {
        return Err(JwsError::WrongShape(
            "the JWS uses the general serialization (\"signatures\"); ACME requires the flattened serialization with a single signature (RFC 8555 §6.2)",
        ));
    }
    if obj.contains_key("header") {
        return Err(JwsError::WrongShape(
            "the JWS has an unprotected \"header\"; RFC 8555 §6.2 forbids it: put every header parameter in \"protected\"",
        ));
    }
    let member = |name: &str| -> Result<&str, JwsError> {
        match obj.get(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(JwsError::WrongShape(
                "the JWS members \"protected\", \"payload\" and \"signature\" must be strings",
            )),
            None => Err(JwsError::WrongShape(
                "the JWS must have the members \"protected\", \"payload\" and \"signature\"",
            )),
        }
    };
    let members = [
        member("protected")?,
        member("payload")?,
        member("signature")?,
    ];
    if obj.len() != members.len() {
        return Err(JwsError::WrongShape(
            "the JWS has members other than \"protected\", \"payload\" and \"signature\"; remove them",
        ));
    }
    Ok(members)
}

/// Parses the decoded protected header.
fn parse_protected(json: &[u8]) -> Result<Protected, JwsError> {
    let header = strict_json(json, "protected header").map_err(|e| match e {
        StrictJsonError::Syntax => bad_header("it is not JSON"),
        StrictJsonError::Duplicate(err) => err,
    })?;
    let header = header
        .as_object()
        .ok_or_else(|| bad_header("it must be a JSON object"))?;

    let alg = Alg::from_header(header_str(header, "alg")?)?;
    // RFC 7515 §4.1.11: a recipient must refuse extensions it does not
    // implement, and this server implements none.
    if let Some(crit) = header.get("crit") {
        return Err(JwsError::UnknownCritical(crit.to_string()));
    }
    let url = header_str(header, "url")?.to_owned();
    if url.is_empty() {
        return Err(bad_header(
            "\"url\" is empty; send the URL this request is POSTed to",
        ));
    }
    let nonce = match header.get("nonce") {
        None => None,
        Some(v) => Some(parse_nonce(v)?),
    };
    let key = match (header.get("jwk"), header.get("kid")) {
        (Some(_), Some(_)) => return Err(JwsError::BothJwkAndKid),
        (None, None) => return Err(JwsError::NeitherJwkNorKid),
        (Some(jwk), None) => KeyRef::Jwk(Jwk::from_json(jwk)?),
        (None, Some(_)) => {
            let kid = header_str(header, "kid")?;
            if kid.is_empty() {
                return Err(bad_header("\"kid\" is empty; send your account URL"));
            }
            KeyRef::Kid(kid.to_owned())
        }
    };
    Ok(Protected {
        alg,
        nonce,
        url,
        key,
    })
}

/// A nonce must be base64url without padding (RFC 8555 §6.5.1); anything else
/// makes the JWS malformed, before the nonce is ever looked up.
fn parse_nonce(v: &Value) -> Result<String, JwsError> {
    let nonce = v
        .as_str()
        .ok_or_else(|| bad_header("\"nonce\" must be a string"))?;
    if nonce.is_empty() || URL_SAFE_NO_PAD.decode(nonce).is_err() {
        return Err(bad_header(
            "\"nonce\" is not base64url without padding; send a nonce this server issued in Replay-Nonce",
        ));
    }
    Ok(nonce.to_owned())
}

fn ec_p256_from_json(obj: &Map<String, Value>) -> Result<Jwk, JwsError> {
    let crv = jwk_str(obj, "crv")?;
    if crv != "P-256" {
        return Err(bad_key(format!(
            "EC curve {crv:?} is not supported; use \"P-256\""
        )));
    }
    let x = jwk_coordinate(obj, "x")?;
    let y = jwk_coordinate(obj, "y")?;
    // Refuse points off the curve now, so a broken key fails at registration
    // rather than on every later request.
    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, ec_point(&x, &y))
        .map_err(|_| bad_key("(x, y) is not a point on P-256"))?;
    Ok(Jwk::EcP256 { x, y })
}

fn ed25519_from_json(obj: &Map<String, Value>) -> Result<Jwk, JwsError> {
    let crv = jwk_str(obj, "crv")?;
    if crv != "Ed25519" {
        return Err(bad_key(format!(
            "OKP curve {crv:?} is not supported; use \"Ed25519\""
        )));
    }
    let x = jwk_coordinate(obj, "x")?;
    ParsedPublicKey::new(&ED25519, &x)
        .map_err(|_| bad_key("\"x\" is not an Ed25519 public key"))?;
    Ok(Jwk::Ed25519 { x })
}

fn rsa_from_json(obj: &Map<String, Value>) -> Result<Jwk, JwsError> {
    let n = jwk_uint(obj, "n")?;
    let e = jwk_uint(obj, "e")?;
    let bits = bit_length(&n);
    if bits < MIN_RSA_BITS {
        return Err(JwsError::KeyTooSmall(bits));
    }
    if bits > MAX_RSA_BITS {
        return Err(JwsError::KeyTooLarge(bits));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err(bad_key(
            "the RSA modulus \"n\" is even, so it is not an RSA modulus",
        ));
    }
    let e_is_odd = e.last().is_some_and(|b| b & 1 == 1);
    if e.len() > MAX_RSA_EXPONENT_LEN || !e_is_odd || e.as_slice() == [1] {
        return Err(bad_key(
            "the RSA exponent \"e\" must be odd, at least 3 and at most 32 bits; use 65537 (\"AQAB\")",
        ));
    }
    RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|_| bad_key("\"n\" and \"e\" do not form an RSA public key"))?;
    Ok(Jwk::Rsa { n, e })
}

/// A required string member of a JWK.
fn jwk_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwsError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad_key(format!("member {name:?} must be a string"))),
        None => Err(bad_key(format!("member {name:?} is missing"))),
    }
}

/// A required base64url member of a JWK.
fn jwk_bytes(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(jwk_str(obj, name)?)
        .map_err(|_| bad_key(format!("member {name:?} is not base64url without padding")))
}

/// A curve coordinate or Ed25519 key: RFC 7518 §6.2.1.2 and RFC 8037 §2 want
/// the full 32 bytes, leading zeros included.
fn jwk_coordinate(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwsError> {
    let bytes = jwk_bytes(obj, name)?;
    if bytes.len() != COORDINATE_LEN {
        return Err(bad_key(format!(
            "member {name:?} is {} bytes; it must be exactly {COORDINATE_LEN}, leading zeros included",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// A Base64urlUInt (RFC 7518 §2): non-empty, and without leading zero bytes, so
/// that every key has exactly one encoding and hence one thumbprint.
fn jwk_uint(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JwsError> {
    let bytes = jwk_bytes(obj, name)?;
    match bytes.first() {
        None => Err(bad_key(format!("member {name:?} is empty"))),
        Some(0) => Err(bad_key(format!(
            "member {name:?} has a leading zero byte; encode the integer in the fewest bytes (RFC 7518 §2)"
        ))),
        Some(_) => Ok(bytes),
    }
}

/// A required string member of the protected header.
fn header_str<'a>(header: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwsError> {
    match header.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad_header(format!("{name:?} must be a string"))),
        None => Err(bad_header(format!(
            "{name:?} is missing; RFC 8555 §6.2 requires it"
        ))),
    }
}

/// The number of significant bits of a big-endian integer.
fn bit_length(be: &[u8]) -> usize {
    let Some(pos) = be.iter().position(|&b| b != 0) else {
        return 0;
    };
    (be.len() - pos) * 8 - be[pos].leading_zeros() as usize
}

/// The uncompressed SEC1 encoding aws-lc-rs takes for P-256 public keys.
fn ec_point(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    point
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes one of the three JWS parts. The engine refuses padding, characters
/// outside the base64url alphabet and non-zero trailing bits.
fn b64_decode(s: &str, part: &'static str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwsError::BadBase64(part))
}

fn bad_header(msg: impl Into<String>) -> JwsError {
    JwsError::BadHeader(msg.into())
}

fn bad_key(msg: impl Into<String>) -> JwsError {
    JwsError::BadKey(msg.into())
}

/// Why [`strict_json`] refused its input.
enum StrictJsonError {
    Syntax,
    Duplicate(JwsError),
}

/// Parses JSON like `serde_json::from_slice::<Value>`, but refuses an object
/// with the same member twice at any depth. serde_json would silently keep the
/// last one, and a JWS whose header means different things to different
/// parsers is an attack surface (RFC 7515 §4 allows either behaviour; refusing
/// is the safe one). Nesting is bounded by serde_json's recursion limit.
fn strict_json(bytes: &[u8], what: &'static str) -> Result<Value, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate.into_inner()) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(name)) => Err(StrictJsonError::Duplicate(JwsError::DuplicateMember(
            format!("{what} has the member {name:?} more than once"),
        ))),
        (Err(_), None) => Err(StrictJsonError::Syntax),
    }
}

/// A serde seed and visitor that builds a [`Value`], recording the first
/// duplicated member name it meets in `duplicate` and then failing.
struct StrictValue<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue {
            duplicate: self.duplicate,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                let message = format!("duplicate member {key:?}");
                *self.duplicate.borrow_mut() = Some(key);
                return Err(A::Error::custom(message));
            }
            let value = map.next_value_seed(StrictValue {
                duplicate: self.duplicate,
            })?;
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

#[cfg(test)]
mod tests;
