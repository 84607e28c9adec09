//! Account keys (RFC 8555 §6.2) and the JWS this client signs with them:
//! the flattened JSON serialization (RFC 7515 §7.2.2) with every header
//! parameter protected.
//!
//! An account key is not an MLS key: it only authenticates ACME requests.
//! The same type also loads a certificate's own key, for revocation by
//! that key (RFC 8555 §7.6).

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_acme::jws::Jwk;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A JWS signature algorithm for account keys (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlg {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl KeyAlg {
    /// The JWS "alg" value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }
}

enum Inner {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

/// A private key that signs ACME requests.
pub struct AccountKey {
    inner: Inner,
    pkcs8: Zeroizing<Vec<u8>>,
    jwk: Jwk,
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The thumbprint names the key without revealing it.
        f.debug_struct("AccountKey")
            .field("alg", &self.alg())
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl AccountKey {
    /// A fresh random key.
    pub fn generate(alg: KeyAlg) -> Result<AccountKey> {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            KeyAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map(|d| d.as_ref().to_vec()),
            KeyAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| Error::Key("the system random generator failed; try again".to_owned()))?;
        AccountKey::from_pkcs8(&pkcs8)
    }

    /// Loads a PKCS#8 DER key (P-256 or Ed25519, either PKCS#8 version),
    /// as written by [`AccountKey::to_pkcs8`].
    pub fn from_pkcs8(der: &[u8]) -> Result<AccountKey> {
        let pkcs8 = Zeroizing::new(der.to_vec());
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            // Uncompressed SEC1: 0x04 || x || y.
            let point = key.public_key().as_ref();
            let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else {
                return Err(Error::Key(
                    "the P-256 public key is not in uncompressed form; generate a new key"
                        .to_owned(),
                ));
            };
            let jwk = Jwk::EcP256 {
                x: x.to_vec(),
                y: y.to_vec(),
            };
            return Ok(AccountKey {
                inner: Inner::Es256(key),
                pkcs8,
                jwk,
            });
        }
        if let Ok(key) = Ed25519KeyPair::from_pkcs8(der) {
            let jwk = Jwk::Ed25519 {
                x: key.public_key().as_ref().to_vec(),
            };
            return Ok(AccountKey {
                inner: Inner::EdDsa(key),
                pkcs8,
                jwk,
            });
        }
        Err(Error::Key(
            "the key is not a PKCS#8 DER P-256 or Ed25519 private key; give the bytes AccountKey::to_pkcs8 wrote (DER, not PEM)".to_owned(),
        ))
    }

    /// The key as PKCS#8 DER. It is secret: store it readable by its owner
    /// only (mode 0600).
    pub fn to_pkcs8(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    pub fn alg(&self) -> KeyAlg {
        match self.inner {
            Inner::Es256(_) => KeyAlg::Es256,
            Inner::EdDsa(_) => KeyAlg::EdDsa,
        }
    }

    /// The public key as a JWK (RFC 7517; RFC 8037 for Ed25519).
    pub fn jwk(&self) -> Value {
        self.jwk.to_json()
    }

    /// The RFC 7638 thumbprint (base64url), as key authorizations use it.
    pub fn thumbprint(&self) -> String {
        self.jwk.thumbprint()
    }

    /// The key authorization of a challenge token (RFC 8555 §8.1):
    /// `token "." base64url(thumbprint)`. For http-01, serve it at
    /// `http://<domain>/.well-known/acme-challenge/<token>`.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint())
    }

    /// The keyAuthorization that completes an `sms-link-00` challenge
    /// (draft-peterson-mimi-idprover §4, docs/sms-link-00.md):
    /// base64url(SHA-256(code || token || "." || thumbprint)), proving both
    /// the code the phone received and this account key.
    pub fn sms_link_key_authorization(&self, code: &str, token: &str) -> String {
        let input = format!("{code}{token}.{}", self.thumbprint());
        b64(digest::digest(&digest::SHA256, input.as_bytes()).as_ref())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            // The fixed R||S form RFC 7518 §3.4 wants, not DER.
            Inner::Es256(key) => key
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Key("signing with the P-256 account key failed".to_owned())),
            Inner::EdDsa(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }

    /// A flattened JWS by this key. `kid` names the account (None: carry the
    /// key itself as `jwk`, for newAccount and revocation by certificate
    /// key); `nonce` is absent only in a key rollover's inner JWS; `payload`
    /// None is a POST-as-GET (RFC 8555 §6.3).
    pub(crate) fn jws(
        &self,
        url: &str,
        nonce: Option<&str>,
        kid: Option<&str>,
        payload: Option<&Value>,
    ) -> Result<Value> {
        let mut protected = json!({"alg": self.alg().as_str(), "url": url});
        if let Some(nonce) = nonce {
            protected["nonce"] = json!(nonce);
        }
        match kid {
            Some(kid) => protected["kid"] = json!(kid),
            None => protected["jwk"] = self.jwk(),
        }
        let payload = match payload {
            Some(p) => serde_json::to_vec(p).map_err(|e| {
                Error::InvalidInput(format!("the payload cannot be encoded as JSON: {e}"))
            })?,
            None => Vec::new(),
        };
        signed(&protected, &payload, |m| self.sign(m))
    }
}

/// An external account binding key (RFC 8555 §7.3.4): the key identifier
/// and MAC key the CA gave out of band (or, at a MIMI domain CA, through
/// `mimiNewEab`).
#[derive(Clone)]
pub struct ExternalAccountBinding {
    pub kid: String,
    pub hmac_key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ExternalAccountBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountBinding")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ExternalAccountBinding {
    pub fn new(kid: impl Into<String>, hmac_key: &[u8]) -> ExternalAccountBinding {
        ExternalAccountBinding {
            kid: kid.into(),
            hmac_key: Zeroizing::new(hmac_key.to_vec()),
        }
    }

    /// From the base64url MAC key CAs print (padding tolerated).
    pub fn from_base64url(kid: impl Into<String>, hmac_key: &str) -> Result<Self> {
        let key = URL_SAFE_NO_PAD
            .decode(hmac_key.trim_end_matches('='))
            .map(Zeroizing::new)
            .map_err(|_| {
                Error::InvalidInput(
                    "the EAB HMAC key is not base64url; copy it exactly as the CA printed it"
                        .to_owned(),
                )
            })?;
        if key.is_empty() {
            return Err(Error::InvalidInput(
                "the EAB HMAC key is empty; copy it exactly as the CA printed it".to_owned(),
            ));
        }
        Ok(ExternalAccountBinding {
            kid: kid.into(),
            hmac_key: key,
        })
    }

    /// The binding JWS: the account's public JWK, MACed with HS256 under
    /// the EAB key, for the newAccount URL.
    pub(crate) fn bind(&self, account_key: &AccountKey, new_account_url: &str) -> Result<Value> {
        let protected = json!({"alg": "HS256", "kid": self.kid, "url": new_account_url});
        let payload = serde_json::to_vec(&account_key.jwk())
            .map_err(|e| Error::Key(format!("the account JWK cannot be encoded: {e}")))?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.hmac_key);
        signed(&protected, &payload, |m| {
            Ok(hmac::sign(&key, m).as_ref().to_vec())
        })
    }
}

fn signed(
    protected: &Value,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<Value> {
    let protected_b64 = b64(protected.to_string().as_bytes());
    let payload_b64 = b64(payload);
    let signature = sign(format!("{protected_b64}.{payload_b64}").as_bytes())?;
    Ok(json!({
        "protected": protected_b64,
        "payload": payload_b64,
        "signature": b64(&signature),
    }))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
