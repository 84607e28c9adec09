//! A raw ACME client for tests: it builds and signs flattened JWS requests
//! itself (ES256 account keys, HS256 external account bindings), so that a
//! test can send anything at all — a broken header, a stale nonce, the wrong
//! Content-Type — where a real client would refuse to.

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use aws_lc_rs::{digest, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};

use crate::harness::Authority;

pub const JOSE_JSON: &str = "application/jose+json";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 account key.
pub struct AccountKey(EcdsaKeyPair);

impl AccountKey {
    pub fn generate() -> AccountKey {
        AccountKey(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    /// The public JWK (RFC 7518 §6.2.1).
    pub fn jwk(&self) -> Value {
        let point = self.0.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    /// The RFC 7638 thumbprint, for key authorizations.
    pub fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// An ES256 signature in the fixed R||S form JWS uses.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0
            .sign(&SystemRandom::new(), message)
            .unwrap()
            .as_ref()
            .to_vec()
    }
}

/// An HS256 MAC, for external account bindings.
pub fn hs256(key: &[u8], message: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), message)
        .as_ref()
        .to_vec()
}

/// A flattened JWS from its protected header as JSON text (text, so that
/// tests can send anything) and its payload bytes (empty for POST-as-GET).
pub fn jws_with(protected: &str, payload: &[u8], sign: impl Fn(&[u8]) -> Vec<u8>) -> Value {
    let protected_b64 = b64(protected.as_bytes());
    let payload_b64 = b64(payload);
    let signature = sign(format!("{protected_b64}.{payload_b64}").as_bytes());
    json!({"protected": protected_b64, "payload": payload_b64, "signature": b64(&signature)})
}

/// The payload bytes of a JSON payload, or none for POST-as-GET.
pub fn payload_bytes(payload: Option<&Value>) -> Vec<u8> {
    payload.map_or_else(Vec::new, |p| serde_json::to_vec(p).unwrap())
}

/// A JWS signed by `key` under `protected`.
pub fn signed(key: &AccountKey, protected: &Value, payload: Option<&Value>) -> Value {
    jws_with(&protected.to_string(), &payload_bytes(payload), |m| {
        key.sign(m)
    })
}

/// An external account binding (RFC 8555 §7.3.4) of `jwk` under the MAC key
/// `mac_key` named `kid`.
pub fn eab(kid: &str, mac_key: &[u8], jwk: &Value, url: &str) -> Value {
    let protected = json!({"alg": "HS256", "kid": kid, "url": url});
    jws_with(
        &protected.to_string(),
        &serde_json::to_vec(jwk).unwrap(),
        |m| hs256(mac_key, m),
    )
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{e}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> String {
        self.header("location").expect("a Location").to_owned()
    }
}

/// A request: method, URL, Content-Type (none to send none) and body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    pub url: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    /// A JWS POSTed the way ACME wants it.
    pub fn jose(url: &str, jws: &Value) -> Request {
        Request {
            method: reqwest::Method::POST,
            url: url.to_owned(),
            content_type: Some(JOSE_JSON.to_owned()),
            body: serde_json::to_vec(jws).unwrap(),
        }
    }
}

/// An account the client created: its key and URL (`kid`).
pub struct Account {
    pub key: AccountKey,
    pub kid: String,
}

pub struct RawClient {
    pub http: reqwest::Client,
    pub base: String,
}

impl RawClient {
    pub fn new(authority: &Authority) -> RawClient {
        RawClient {
            http: authority.https(),
            base: authority.base.clone(),
        }
    }

    /// A URL of the authority from its path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn nonce(&self) -> String {
        let reply = self
            .http
            .head(self.url("/acme/new-nonce"))
            .send()
            .await
            .unwrap();
        reply.headers()["replay-nonce"].to_str().unwrap().to_owned()
    }

    pub async fn send(&self, request: &Request) -> Reply {
        let mut builder = self
            .http
            .request(request.method.clone(), &request.url)
            .body(request.body.clone());
        if let Some(content_type) = &request.content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        let response = builder.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// The protected header of a request by `account` to `url`.
    pub fn kid_header(&self, account: &Account, url: &str, nonce: &str) -> Value {
        json!({"alg": "ES256", "kid": account.kid, "nonce": nonce, "url": url})
    }

    /// A well-formed request by `account`, with a fresh nonce.
    pub async fn post_as(&self, account: &Account, url: &str, payload: Option<&Value>) -> Reply {
        let header = self.kid_header(account, url, &self.nonce().await);
        self.send(&Request::jose(url, &signed(&account.key, &header, payload)))
            .await
    }

    /// newAccount for a fresh key with `payload`.
    pub async fn new_account_with(&self, key: &AccountKey, payload: &Value) -> Reply {
        let url = self.url("/acme/new-account");
        let header =
            json!({"alg": "ES256", "jwk": key.jwk(), "nonce": self.nonce().await, "url": url});
        self.send(&Request::jose(&url, &signed(key, &header, Some(payload))))
            .await
    }

    /// A new account, optionally bound with an EAB key.
    pub async fn account(&self, eab_key: Option<(&str, &[u8])>) -> Account {
        let key = AccountKey::generate();
        let mut payload =
            json!({"termsOfServiceAgreed": true, "contact": ["mailto:ops@a.example"]});
        if let Some((kid, mac)) = eab_key {
            payload["externalAccountBinding"] =
                eab(kid, mac, &key.jwk(), &self.url("/acme/new-account"));
        }
        let reply = self.new_account_with(&key, &payload).await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        Account {
            kid: reply.location(),
            key,
        }
    }

    /// newOrder for dns names; returns the order URL and object.
    pub async fn order(&self, account: &Account, names: &[&str]) -> (String, Value) {
        let payload = order_payload(names);
        let reply = self
            .post_as(account, &self.url("/acme/new-order"), Some(&payload))
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        (reply.location(), reply.json())
    }

    /// POST-as-GET of an object of `account`.
    pub async fn fetch(&self, account: &Account, url: &str) -> Value {
        let reply = self.post_as(account, url, None).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// The http-01 challenge of each authorization of an order:
    /// (challenge URL, token).
    pub async fn http01_challenges(
        &self,
        account: &Account,
        order: &Value,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for authz_url in order["authorizations"].as_array().unwrap() {
            let authz = self.fetch(account, authz_url.as_str().unwrap()).await;
            let challenge = authz["challenges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "http-01")
                .expect("http-01 offered");
            out.push((
                challenge["url"].as_str().unwrap().to_owned(),
                challenge["token"].as_str().unwrap().to_owned(),
            ));
        }
        out
    }

    /// Serves the right key authorizations and answers every challenge;
    /// waits until the order is ready.
    pub async fn make_ready(&self, authority: &Authority, account: &Account, order_url: &str) {
        let order = self.fetch(account, order_url).await;
        for (url, token) in self.http01_challenges(account, &order).await {
            let key_authorization = format!("{token}.{}", account.key.thumbprint());
            authority
                .tokens
                .lock()
                .unwrap()
                .insert(token, key_authorization);
            let reply = self.post_as(account, &url, Some(&json!({}))).await;
            assert_eq!(
                reply.status,
                200,
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
        }
        self.wait_for(account, order_url, "ready").await;
    }

    /// Polls an object until its status is `status`.
    pub async fn wait_for(&self, account: &Account, url: &str, status: &str) -> Value {
        for _ in 0..500 {
            let object = self.fetch(account, url).await;
            if object["status"] == status {
                return object;
            }
            assert!(
                matches!(
                    object["status"].as_str(),
                    Some("pending" | "processing" | "ready")
                ),
                "{url} became {object} while waiting for {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{url} did not become {status}");
    }
}

pub fn order_payload(names: &[&str]) -> Value {
    let identifiers: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    json!({ "identifiers": identifiers })
}

/// A CSR (DER) for `names` under a fresh Ed25519 key.
pub fn csr(names: &[&str]) -> Vec<u8> {
    csr_with(names, &rcgen::PKCS_ED25519)
}

pub fn csr_with(names: &[&str], alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    rcgen::CertificateParams::new(names)
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .der()
        .to_vec()
}
