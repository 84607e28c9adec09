//! A raw ACME client for tests: it builds and signs flattened JWS requests
//! itself (ES256 account keys, HS256 external account bindings), so that a
//! test can send anything at all — a broken header, a stale nonce, the wrong
//! Content-Type — where a real client would refuse to.

use std::sync::{Arc, Mutex};
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

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// An ES256 account key.
pub struct AccountKey(EcdsaKeyPair);

impl AccountKey {
    pub fn generate() -> AccountKey {
        AccountKey(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    /// A key and its PKCS#8 DER, for a key that is both a certificate's
    /// (in a CSR) and a JWS signer (revokeCert by the certificate key).
    pub fn generate_with_pkcs8() -> (AccountKey, Vec<u8>) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap()
                .as_ref()
                .to_vec();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
        (AccountKey(key), pkcs8)
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
    /// Every response body received, in order (to check what the server
    /// never says, such as an SMS code).
    pub seen: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawClient {
    pub fn new(authority: &Authority) -> RawClient {
        RawClient::at(authority.https(), &authority.base)
    }

    /// A client of the ACME server at `base` (`https://host:port`) over
    /// `http`.
    pub fn at(http: reqwest::Client, base: &str) -> RawClient {
        RawClient {
            http,
            base: base.to_owned(),
            seen: Arc::default(),
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
        let reply = Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        };
        self.seen.lock().unwrap().push(reply.body.clone());
        reply
    }

    /// A plain GET (the directory, newNonce, renewal information, CRLs).
    pub async fn get(&self, url: &str) -> Reply {
        self.send(&Request {
            method: reqwest::Method::GET,
            url: url.to_owned(),
            content_type: None,
            body: Vec::new(),
        })
        .await
    }

    /// The protected header of a request signed by `key` carried as `jwk`.
    pub fn jwk_header(&self, key: &AccountKey, url: &str, nonce: &str) -> Value {
        json!({"alg": "ES256", "jwk": key.jwk(), "nonce": nonce, "url": url})
    }

    /// The inner JWS of a key rollover (RFC 8555 §7.3.5) of `account` to
    /// `new_key`: no nonce, the keyChange URL, signed by the new key.
    pub fn key_change_inner(&self, account: &Account, new_key: &AccountKey) -> Value {
        let url = self.url("/acme/key-change");
        let protected = json!({"alg": "ES256", "jwk": new_key.jwk(), "url": url});
        let payload = json!({"account": account.kid, "oldKey": account.key.jwk()});
        signed(new_key, &protected, Some(&payload))
    }

    /// A whole key rollover of `account` to `new_key`.
    pub async fn key_change(&self, account: &Account, new_key: &AccountKey) -> Reply {
        let inner = self.key_change_inner(account, new_key);
        self.post_as(account, &self.url("/acme/key-change"), Some(&inner))
            .await
    }

    /// A dns order of `account` made ready and finalized with `csr`;
    /// returns the certificate chain (PEM).
    pub async fn issue(
        &self,
        authority: &Authority,
        account: &Account,
        payload: &Value,
        csr: &[u8],
    ) -> String {
        let reply = self
            .post_as(account, &self.url("/acme/new-order"), Some(payload))
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let order_url = reply.location();
        let finalize = reply.json()["finalize"].as_str().unwrap().to_owned();
        self.make_ready(authority, account, &order_url).await;
        let reply = self
            .post_as(account, &finalize, Some(&json!({"csr": b64(csr)})))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let order = self.wait_for(account, &order_url, "valid").await;
        let reply = self
            .post_as(account, order["certificate"].as_str().unwrap(), None)
            .await;
        assert_eq!(reply.status, 200);
        String::from_utf8(reply.body).unwrap()
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

    /// The http-01 challenge of each `dns` authorization of an order:
    /// (challenge URL, token).
    pub async fn http01_challenges(
        &self,
        account: &Account,
        order: &Value,
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for authz_url in order["authorizations"].as_array().unwrap() {
            let authz = self.fetch(account, authz_url.as_str().unwrap()).await;
            if authz["identifier"]["type"] != "dns" {
                continue;
            }
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

    /// A phone-ca order for `number` (`+…`) and the domain `domain`;
    /// returns the order URL and object.
    pub async fn phone_order(
        &self,
        account: &Account,
        number: &str,
        domain: &str,
    ) -> (String, Value) {
        let reply = self
            .post_as(
                account,
                &self.url("/acme/new-order"),
                Some(&phone_order_payload(&tn_value(number), domain)),
            )
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        (reply.location(), reply.json())
    }

    /// The sms-link-00 challenge of a phone-ca order: (challenge URL, token).
    pub async fn sms_challenge(&self, account: &Account, order: &Value) -> (String, String) {
        for authz_url in order["authorizations"].as_array().unwrap() {
            let authz = self.fetch(account, authz_url.as_str().unwrap()).await;
            if authz["identifier"]["type"] != "TNAuthList" {
                continue;
            }
            let challenges = authz["challenges"].as_array().unwrap();
            assert_eq!(challenges.len(), 1, "sms-link-00 is the only challenge");
            assert_eq!(challenges[0]["type"], "sms-link-00");
            return (
                challenges[0]["url"].as_str().unwrap().to_owned(),
                challenges[0]["token"].as_str().unwrap().to_owned(),
            );
        }
        panic!("the order has no TNAuthList authorization: {order}")
    }

    /// Asks for the code of an sms-link-00 challenge (`{}`); the challenge
    /// must be processing afterwards.
    pub async fn send_code(&self, account: &Account, challenge_url: &str) {
        let reply = self.post_as(account, challenge_url, Some(&json!({}))).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["status"], "processing");
    }

    /// Completes an sms-link-00 challenge with `code`; returns the reply.
    pub async fn complete(
        &self,
        account: &Account,
        challenge_url: &str,
        token: &str,
        code: &str,
    ) -> Reply {
        let payload = json!({"keyAuthorization": sms_key_authorization(code, token, &account.key)});
        self.post_as(account, challenge_url, Some(&payload)).await
    }

    /// Makes a phone-ca order ready: http-01 for the domain, sms-link-00
    /// for `number` with the code read from the outbox.
    pub async fn make_phone_ready(
        &self,
        authority: &Authority,
        account: &Account,
        order_url: &str,
        number: &str,
    ) {
        let order = self.fetch(account, order_url).await;
        let (url, token) = self.sms_challenge(account, &order).await;
        self.send_code(account, &url).await;
        let reply = self
            .complete(account, &url, &token, &authority.latest_code(number))
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["status"], "valid");
        self.make_ready(authority, account, order_url).await;
    }

    /// Serves the right key authorizations and answers every http-01
    /// challenge; waits until the order is ready.
    pub async fn make_ready(&self, authority: &Authority, account: &Account, order_url: &str) {
        self.answer_http01(authority, account, order_url).await;
        self.wait_for(account, order_url, "ready").await;
    }

    /// Serves the right key authorizations and answers every http-01
    /// challenge of an order, without waiting for the outcome.
    pub async fn answer_http01(&self, authority: &Authority, account: &Account, order_url: &str) {
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

/// The DER of the first certificate of a PEM chain.
pub fn leaf_der(chain_pem: &str) -> Vec<u8> {
    mimi_credentials::Certificate::from_pem_chain(chain_pem).unwrap()[0]
        .der()
        .to_vec()
}

/// The ARI certID (RFC 9773 §4.1) of a certificate.
pub fn cert_id(der: &[u8]) -> String {
    let cert = mimi_credentials::Certificate::from_der(der).unwrap();
    let aki = mimi_acme::ca::authority_key_id(der).expect("an authority key identifier");
    mimi_acme::ca::cert_id(&aki, cert.serial())
}

pub fn order_payload(names: &[&str]) -> Value {
    let identifiers: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    json!({ "identifiers": identifiers })
}

/// The value of a TNAuthList identifier for one number (`+…`).
pub fn tn_value(number: &str) -> String {
    let phone = mimi_identifiers::PhoneNumber::parse(number).unwrap();
    b64(&mimi_credentials::TnAuthList::one(&phone).to_der())
}

/// A phone-ca newOrder payload: the TNAuthList identifier `tn` and `domain`.
pub fn phone_order_payload(tn: &str, domain: &str) -> Value {
    json!({
        "identifiers": [
            {"type": "TNAuthList", "value": tn},
            {"type": "dns", "value": domain},
        ],
        "profile": "phone-ca",
    })
}

/// The keyAuthorization completing an sms-link-00 challenge:
/// base64url(SHA-256(code || token || "." || thumbprint)).
pub fn sms_key_authorization(code: &str, token: &str, key: &AccountKey) -> String {
    let input = format!("{code}{token}.{}", key.thumbprint());
    b64(digest::digest(&digest::SHA256, input.as_bytes()).as_ref())
}

/// A CSR (DER) for the DNS names `names` with the TNAuthList extension of
/// DER `tn_der`, if given, under a fresh Ed25519 key.
pub fn csr_with_tn(names: &[&str], tn_der: Option<&[u8]>) -> Vec<u8> {
    csr_and_key_with_tn(names, tn_der).0
}

/// [`csr_with_tn`], also returning the key (PKCS#8 DER).
pub fn csr_and_key_with_tn(names: &[&str], tn_der: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    if let Some(der) = tn_der {
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                der.to_vec(),
            ));
    }
    let csr = params.serialize_request(&key).unwrap().der().to_vec();
    (csr, key.serialize_der())
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
