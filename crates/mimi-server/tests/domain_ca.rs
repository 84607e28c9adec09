//! `mimi-server domain-ca` as an operator runs it: keys and certificates
//! made by the test with mimi-credentials (as the identity authority and the
//! TLS root would issue them), a registrar key from the `registrar-eab`
//! subcommand, one device enrolled over HTTPS by a small ACME client, and a
//! key file others can read refused at start.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use aws_lc_rs::{hmac, rand::SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, Profile, SignatureScheme, Subject,
    TrustAnchors, Validity, verify_chain,
};
use mimi_identifiers::Domain;
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};

const DOMAIN: &str = "a.example";
const NAME: &str = "ca.a.example";
const DEVICE: &str = "mimi://a.example/d/alice/phone";
const USER: &str = "mimi://a.example/u/alice";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCS#8 DER as a PEM "PRIVATE KEY" block.
fn pem_key(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

fn write_secret(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// What the identity authority and the TLS root issued, on disk, and the
/// config naming it.
struct Setup {
    _dir: tempfile::TempDir,
    config: PathBuf,
    ca_key: PathBuf,
    identity_root: CertificateAuthority,
    tls_root: Certificate,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let validity = Validity::new(
        now - Duration::from_secs(3600),
        now + Duration::from_secs(30 * 86400),
    )
    .unwrap();
    let identity_root =
        CertificateAuthority::new_root("Test identity root", SignatureScheme::Ed25519, validity)
            .unwrap();
    let domain_ca = identity_root
        .issue_ca(
            &Subject::DomainCa {
                domain: Domain::parse(DOMAIN).unwrap(),
                organization: None,
            },
            SignatureScheme::Ed25519,
            validity,
        )
        .unwrap();
    let tls_root = CertificateAuthority::new_tls_root(
        "Test TLS root",
        SignatureScheme::EcdsaP256Sha256,
        validity,
    )
    .unwrap();
    let tls_key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
    let tls_cert = tls_root
        .issue(
            &Subject::TlsServer {
                dns_names: vec![Domain::parse(NAME).unwrap()],
            },
            &tls_key.public_key(),
            validity,
        )
        .unwrap();

    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("domain-ca.pem"), domain_ca.certificate().pem()).unwrap();
    // The CA key as PEM, the TLS key as DER: both forms are read.
    write_secret(
        &path("domain-ca.key"),
        pem_key(&domain_ca.key().to_pkcs8_der()).as_bytes(),
    );
    std::fs::write(path("tls.pem"), tls_cert.pem()).unwrap();
    write_secret(&path("tls.key"), &tls_key.to_pkcs8_der());
    let config = path("domain-ca.toml");
    std::fs::write(
        &config,
        format!(
            "domain = \"{DOMAIN}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nname = \"{NAME}\"\n\
             ca_chain = \"domain-ca.pem\"\nca_key = \"domain-ca.key\"\n\
             tls_cert = \"tls.pem\"\ntls_key = \"tls.key\"\n\
             [lifetimes]\ndevice_days = 2\n"
        ),
    )
    .unwrap();
    Setup {
        ca_key: path("domain-ca.key"),
        _dir: dir,
        config,
        identity_root,
        tls_root: tls_root.certificate().clone(),
    }
}

fn domain_ca(args: &[&str], config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mimi-server"));
    command
        .arg("domain-ca")
        .args(args)
        .arg("--config")
        .arg(config);
    command
}

/// A running domain CA process, killed when dropped.
struct Running {
    child: Child,
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(config: &Path) -> Running {
        let mut child = domain_ca(&[], config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut banner = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while !banner
            .iter()
            .any(|l: &String| l.trim_start().starts_with("CRL"))
        {
            match lines.next() {
                Some(Ok(line)) => banner.push(line),
                _ => panic!("the domain CA stopped before its banner ended: {banner:?}"),
            }
        }
        Running { child, banner }
    }

    fn line(&self, label: &str) -> &str {
        self.banner
            .iter()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {:?}", self.banner))
    }

    fn port(&self) -> u16 {
        self.line("listening on")
            .rsplit(':')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

/// A minimal ACME client: EdDSA account keys, flattened JWS, HS256 EAB.
struct Acme {
    http: reqwest::Client,
    base: String,
}

struct Account {
    key: Ed25519KeyPair,
    kid: String,
}

fn jwk(key: &Ed25519KeyPair) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref())})
}

fn new_key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

impl Acme {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn nonce(&self) -> String {
        let reply = self
            .http
            .head(self.url("/acme/new-nonce"))
            .send()
            .await
            .unwrap();
        reply.headers()["replay-nonce"].to_str().unwrap().to_owned()
    }

    /// POSTs a JWS under `protected` (nonce and url added) signed by `key`.
    async fn post(
        &self,
        key: &Ed25519KeyPair,
        mut protected: Value,
        url: &str,
        payload: Option<&Value>,
    ) -> (u16, Option<String>, Vec<u8>) {
        protected["alg"] = json!("EdDSA");
        protected["nonce"] = json!(self.nonce().await);
        protected["url"] = json!(url);
        let protected = b64(protected.to_string().as_bytes());
        let payload = payload.map_or_else(String::new, |p| b64(p.to_string().as_bytes()));
        let signature = key.sign(format!("{protected}.{payload}").as_bytes());
        let body = json!({"protected": protected, "payload": payload, "signature": b64(signature.as_ref())});
        let reply = self
            .http
            .post(url)
            .header("content-type", "application/jose+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let location = reply
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, reply.bytes().await.unwrap().to_vec())
    }

    async fn post_as(&self, account: &Account, url: &str, payload: Option<&Value>) -> Value {
        let (status, _, body) = self
            .post(&account.key, json!({"kid": account.kid}), url, payload)
            .await;
        assert!(
            (200..300).contains(&status),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    }

    /// A new account bound with the EAB key (`kid`, `mac`).
    async fn account(&self, kid: &str, mac: &[u8]) -> Account {
        let key = new_key();
        let url = self.url("/acme/new-account");
        let eab_protected = b64(json!({"alg": "HS256", "kid": kid, "url": url})
            .to_string()
            .as_bytes());
        let eab_payload = b64(jwk(&key).to_string().as_bytes());
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, mac),
            format!("{eab_protected}.{eab_payload}").as_bytes(),
        );
        let payload = json!({"termsOfServiceAgreed": true, "externalAccountBinding": {
            "protected": eab_protected, "payload": eab_payload, "signature": b64(mac.as_ref())}});
        let (status, location, body) = self
            .post(&key, json!({"jwk": jwk(&key)}), &url, Some(&payload))
            .await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        Account {
            key,
            kid: location.unwrap(),
        }
    }
}

fn registrar_eab(config: &Path) -> (String, Vec<u8>) {
    let out = domain_ca(&["registrar-eab"], config).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout:?}"))
            .trim()
            .to_owned()
    };
    let key = URL_SAFE_NO_PAD.decode(field("key")).unwrap();
    assert_eq!(key.len(), 32);
    (field("kid"), key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registrar_key_then_a_device_enrolls_over_https() {
    let setup = setup();
    let (kid, mac) = registrar_eab(&setup.config);
    let running = Running::start(&setup.config);
    assert!(running.line("MIMI domain CA").contains(DOMAIN));
    let directory_url = running
        .line("directory")
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    assert_eq!(
        directory_url,
        format!("https://{NAME}:{}/acme/directory", running.port())
    );
    let domain_ca = Certificate::from_pem_chain(
        &std::fs::read_to_string(setup.config.with_file_name("domain-ca.pem")).unwrap(),
    )
    .unwrap()
    .remove(0);
    assert!(
        running
            .line("domain CA")
            .ends_with(&domain_ca.fingerprint_sha256()),
        "{:?}",
        running.banner
    );

    let mut resolve = mimi_transport::https::ResolverMap::new();
    resolve.insert(NAME.into(), ([127, 0, 0, 1], running.port()).into());
    let http = mimi_transport::https::client(
        &[CertificateDer::from(setup.tls_root.der().to_vec())],
        &resolve,
    )
    .unwrap();
    let acme = Acme {
        http: http.clone(),
        base: format!("https://{NAME}:{}", running.port()),
    };
    let directory: Value = http
        .get(&directory_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(directory["mimiNewEab"], acme.url("/acme/mimi-new-eab"));

    // The provider's registrar account, then a key for Alice's phone.
    let registrar = acme.account(&kid, &mac).await;
    let grant = acme
        .post_as(
            &registrar,
            &acme.url("/acme/mimi-new-eab"),
            Some(&json!({"identifiers": [
                {"type": "mimi-user", "value": USER},
                {"type": "mimi-device", "value": DEVICE},
            ]})),
        )
        .await;
    let client = acme
        .account(
            grant["kid"].as_str().unwrap(),
            &URL_SAFE_NO_PAD
                .decode(grant["hmacKey"].as_str().unwrap())
                .unwrap(),
        )
        .await;
    let order = acme
        .post_as(
            &client,
            &acme.url("/acme/new-order"),
            Some(&json!({"profile": "device", "identifiers": [
                {"type": "mimi-device", "value": DEVICE},
                {"type": "mimi-user", "value": USER},
            ]})),
        )
        .await;
    assert_eq!(order["status"], "ready", "{order}");

    let mls_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = [DEVICE, USER]
        .iter()
        .map(|u| rcgen::SanType::URI(rcgen::string::Ia5String::try_from(*u).unwrap()))
        .collect();
    let csr = params.serialize_request(&mls_key).unwrap();
    let order = acme
        .post_as(
            &client,
            order["finalize"].as_str().unwrap(),
            Some(&json!({"csr": b64(csr.der())})),
        )
        .await;
    assert_eq!(order["status"], "valid", "{order}");
    let (status, _, pem) = acme
        .post(
            &client.key,
            json!({"kid": client.kid}),
            order["certificate"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let chain = Certificate::from_pem_chain(&String::from_utf8(pem).unwrap()).unwrap();
    assert_eq!(chain[1].der(), domain_ca.der());
    let lifetime = chain[0]
        .not_after()
        .duration_since(chain[0].not_before())
        .unwrap();
    assert_eq!(
        lifetime,
        Duration::from_secs(2 * 86400 + 60),
        "device_days = 2"
    );

    // A client checks it with the CRLs its provider relays.
    let crl = http
        .get(acme.url("/acme/crl/domain-ca"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let now = SystemTime::now();
    let root_crl = setup
        .identity_root
        .crl(&[], now, now + Duration::from_secs(3600), 1)
        .unwrap();
    let credential = verify_chain(
        &chain,
        &TrustAnchors::new(vec![setup.identity_root.certificate().clone()]),
        &[Crl::from_der(&crl).unwrap(), root_crl],
        now,
    )
    .unwrap();
    assert_eq!(credential.profile(), Profile::Combined);
    assert_eq!(
        credential.leaf_spki_der(),
        rcgen::PublicKeyData::subject_public_key_info(&mls_key).as_slice()
    );
}

#[test]
fn a_key_file_others_can_read_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let setup = setup();
    std::fs::set_permissions(&setup.ca_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = domain_ca(&[], &setup.config)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "key file {} is readable by others (mode 644); run chmod 600 on it",
            setup.ca_key.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_config_with_another_domain_than_the_certificate_is_refused() {
    let setup = setup();
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("domain = \"a.example\"", "domain = \"b.example\"");
    std::fs::write(&setup.config, text).unwrap();
    let out = domain_ca(&[], &setup.config)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the domain CA certificate is for a.example, but this domain CA serves b.example"
        ),
        "{stderr}"
    );
}
