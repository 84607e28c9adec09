//! A provider's domain CA (docs/enrollment.md) over real HTTPS on loopback:
//! the registrar's mimiNewEab, client accounts pre-authorized by their EAB
//! key, the three certificate profiles of draft-mahy-mimi-identity, numbers
//! through a phone-number CA, ARI renewal, revocation and the CRLs — every
//! chain checked with `mimi_credentials::verify_chain` against the identity
//! root — and the table of bad requests, each with its exact problem and no
//! change to the database.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, SystemTime};

use mimi_acme::{AcmeStore, DomainCa, EabKind, Lifetimes, Limits, NewEab, SqliteStore};
use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, Profile, SignatureScheme, Subject,
    TelephoneNumber, TnAuthList, TnEntry, TrustAnchors, Validity, VerifiedCredential, verify_chain,
};
use mimi_identifiers::{DeviceId, Domain, PhoneNumber, UserId};
use rcgen::string::Ia5String;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::bad_requests::{Case, expect, run};
use crate::raw_client::{
    Account, AccountKey, RawClient, Reply, Request, b64, cert_id, eab, leaf_der, signed,
};

pub const CA_NAME: &str = "ca.a.example";
pub const DOMAIN: &str = "a.example";
const ALICE: &str = "mimi://a.example/u/alice";
const ALICE_PHONE: &str = "mimi://a.example/d/alice/phone";
const ALICE_LAPTOP: &str = "mimi://a.example/d/alice/laptop";
const BOB: &str = "mimi://a.example/u/bob";
const BOB_PHONE: &str = "mimi://a.example/d/bob/phone";
/// Within the phone-number CA's range.
const NUMBER: &str = "+12025550123";
/// Outside it.
const OTHER_NUMBER: &str = "+442079460123";
const REGISTRAR_KEY: &[u8] = b"registrar-mac-key-0123456789abcdef";

/// A running domain CA: the ACME server in domain-CA mode over TLS on
/// loopback, with a domain CA and one phone-number CA issued by a test
/// identity root.
pub struct DomainCaServer {
    pub base: String,
    pub tls_root: Certificate,
    pub identity_root: CertificateAuthority,
    pub domain_ca: Certificate,
    pub phone_ca: Certificate,
    pub store: SqliteStore,
    pub addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl DomainCaServer {
    pub async fn start() -> DomainCaServer {
        let now = SystemTime::now();
        let validity = Validity::new(
            now - Duration::from_secs(3600),
            now + Duration::from_secs(365 * 86400),
        )
        .unwrap();
        let tls_root = CertificateAuthority::new_tls_root(
            "Test TLS root",
            SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .unwrap();
        let identity_root = CertificateAuthority::new_root(
            "Test identity root",
            SignatureScheme::Ed25519,
            validity,
        )
        .unwrap();
        let domain = Domain::parse(DOMAIN).unwrap();
        let domain_ca = identity_root
            .issue_ca(
                &Subject::DomainCa {
                    domain: domain.clone(),
                    organization: None,
                },
                SignatureScheme::Ed25519,
                validity,
            )
            .unwrap();
        // +1 202 555 0100 to 0199.
        let numbers = TnAuthList::new(vec![TnEntry::Range {
            start: TelephoneNumber::new("12025550100").unwrap(),
            count: 100,
        }])
        .unwrap();
        let phone_ca = identity_root
            .issue_ca(
                &Subject::PhoneCa {
                    domain: domain.clone(),
                    numbers,
                },
                SignatureScheme::EcdsaP256Sha256,
                validity,
            )
            .unwrap();

        let server_key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
        let server_cert = tls_root
            .issue(
                &Subject::TlsServer {
                    dns_names: vec![Domain::parse(CA_NAME).unwrap()],
                },
                &server_key.public_key(),
                validity,
            )
            .unwrap();
        let tls = mimi_transport::https::server_config(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.to_pkcs8_der())),
        )
        .unwrap();

        let ca = DomainCa::new(
            domain,
            vec![domain_ca.certificate().clone()],
            copy_key(domain_ca.key()),
            Lifetimes::default(),
        )
        .unwrap()
        .with_phone_ca(
            vec![phone_ca.certificate().clone()],
            copy_key(phone_ca.key()),
        )
        .unwrap();
        let store = SqliteStore::in_memory().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("https://{CA_NAME}:{}", addr.port());
        let app = mimi_acme::domain_ca_router(store.clone(), ca, &base, Limits::default()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mimi_transport::https::serve_tls(
            listener,
            tls,
            app,
            async {
                let _ = stopped.await;
            },
        ));
        DomainCaServer {
            base,
            tls_root: tls_root.certificate().clone(),
            identity_root,
            domain_ca: domain_ca.certificate().clone(),
            phone_ca: phone_ca.certificate().clone(),
            store,
            addr,
            _shutdown: stop,
        }
    }

    pub fn https(&self) -> reqwest::Client {
        let mut resolve = mimi_transport::https::ResolverMap::new();
        resolve.insert(CA_NAME.to_owned(), self.addr);
        mimi_transport::https::client(
            &[CertificateDer::from(self.tls_root.der().to_vec())],
            &resolve,
        )
        .unwrap()
    }

    pub fn client(&self) -> RawClient {
        RawClient::at(self.https(), &self.base)
    }

    /// A CRL of this server over HTTPS, as the provider would fetch it.
    pub async fn crl(&self, path: &str) -> Crl {
        let url = format!("{}/acme/crl/{path}", self.base);
        let reply = self.https().get(&url).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{url}");
        assert_eq!(reply.headers()["content-type"], "application/pkix-crl");
        Crl::from_der(&reply.bytes().await.unwrap()).unwrap()
    }

    /// The identity root's (empty) CRL, which covers the domain CA and the
    /// phone-number CA.
    pub fn root_crl(&self) -> Crl {
        let now = SystemTime::now();
        self.identity_root
            .crl(&[], now, now + Duration::from_secs(3600), 1)
            .unwrap()
    }

    /// Verifies a chain (leaf first) against the identity root with the
    /// CRLs a client would have: the root's, the domain CA's and the
    /// phone-number CA's.
    pub async fn verify(&self, chain: &[Certificate]) -> VerifiedCredential {
        self.try_verify(chain).await.unwrap()
    }

    pub async fn try_verify(
        &self,
        chain: &[Certificate],
    ) -> Result<VerifiedCredential, mimi_credentials::VerifyError> {
        let crls = vec![
            self.root_crl(),
            self.crl("domain-ca").await,
            self.crl("phone-ca/0").await,
        ];
        let anchors = TrustAnchors::new(vec![self.identity_root.certificate().clone()]);
        verify_chain(chain, &anchors, &crls, SystemTime::now())
    }

    /// Stores a registrar EAB key, as `mimi-server domain-ca registrar-eab`
    /// does.
    pub async fn add_registrar_key(&self, kid: &str) {
        self.store
            .add_eab(&NewEab {
                kid: kid.into(),
                hmac_key: REGISTRAR_KEY.to_vec(),
                kind: EabKind::Registrar,
                identifiers: Vec::new(),
                expires: None,
                created_by: None,
                created_at: 0,
            })
            .await
            .unwrap();
    }
}

fn copy_key(key: &KeyPair) -> KeyPair {
    KeyPair::from_pkcs8_der(&key.to_pkcs8_der(), key.scheme()).unwrap()
}

/// An identifier object.
pub fn id(type_: &str, value: &str) -> Value {
    json!({"type": type_, "value": value})
}

pub fn user(uri: &str) -> Value {
    id("mimi-user", uri)
}

pub fn device(uri: &str) -> Value {
    id("mimi-device", uri)
}

/// The TNAuthList identifier of one number (`+…`).
pub fn number(e164: &str) -> Value {
    let phone = PhoneNumber::parse(e164).unwrap();
    id("TNAuthList", &b64(&TnAuthList::one(&phone).to_der()))
}

/// An EAB key a client got through its provider's registrar.
pub struct Grant {
    pub kid: String,
    pub key: Vec<u8>,
    pub body: Value,
}

/// The registrar's account, created with a registrar EAB key.
pub async fn registrar(server: &DomainCaServer, c: &RawClient) -> Account {
    server.add_registrar_key("registrar").await;
    c.account(Some(("registrar", REGISTRAR_KEY))).await
}

/// mimiNewEab by `account` with `payload`.
pub async fn new_eab_reply(c: &RawClient, account: &Account, payload: &Value) -> Reply {
    c.post_as(account, &c.url("/acme/mimi-new-eab"), Some(payload))
        .await
}

/// mimiNewEab for `identifiers`, which must succeed.
pub async fn grant(c: &RawClient, registrar: &Account, identifiers: &[Value]) -> Grant {
    let reply = new_eab_reply(c, registrar, &json!({ "identifiers": identifiers })).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    Grant {
        kid: body["kid"].as_str().unwrap().to_owned(),
        key: crate::raw_client::unb64(body["hmacKey"].as_str().unwrap()),
        body,
    }
}

/// A client account bound with `grant`.
pub async fn client_account(c: &RawClient, grant: &Grant) -> Account {
    c.account(Some((&grant.kid, &grant.key))).await
}

/// newOrder of `profile` for `identifiers`; returns the reply.
pub async fn order_reply(
    c: &RawClient,
    account: &Account,
    profile: &str,
    identifiers: &[Value],
) -> Reply {
    let payload = json!({ "identifiers": identifiers, "profile": profile });
    c.post_as(account, &c.url("/acme/new-order"), Some(&payload))
        .await
}

/// An order that must be created ready; returns (order URL, order).
pub async fn ready_order(
    c: &RawClient,
    account: &Account,
    profile: &str,
    identifiers: &[Value],
) -> (String, Value) {
    let reply = order_reply(c, account, profile, identifiers).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let order = reply.json();
    assert_eq!(order["status"], "ready", "{order}");
    (reply.location(), order)
}

/// Finalizes a ready order with `csr`; returns the chain (PEM).
pub async fn finalize(c: &RawClient, account: &Account, order: &Value, csr: &[u8]) -> String {
    let reply = c
        .post_as(
            account,
            order["finalize"].as_str().unwrap(),
            Some(&json!({"csr": b64(csr)})),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let order = reply.json();
    assert_eq!(order["status"], "valid", "{order}");
    let reply = c
        .post_as(account, order["certificate"].as_str().unwrap(), None)
        .await;
    assert_eq!(reply.status, 200);
    String::from_utf8(reply.body).unwrap()
}

/// A CSR (DER) naming `uris`, with the TNAuthList of `numbers` if any, under
/// `key`.
pub fn csr_for(key: &rcgen::KeyPair, uris: &[&str], numbers: &[&str]) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = uris
        .iter()
        .map(|u| rcgen::SanType::URI(Ia5String::try_from(*u).unwrap()))
        .collect();
    if !numbers.is_empty() {
        let entries = numbers
            .iter()
            .map(|n| TnEntry::One((&PhoneNumber::parse(n).unwrap()).into()))
            .collect();
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                TnAuthList::new(entries).unwrap().to_der(),
            ));
    }
    params.serialize_request(key).unwrap().der().to_vec()
}

/// A client's MLS signature key (Ed25519, as MLS cipher suite 1 uses).
pub fn mls_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap()
}

fn chain_of(pem: &str) -> Vec<Certificate> {
    Certificate::from_pem_chain(pem).unwrap()
}

#[tokio::test]
async fn a_device_enrolls_with_its_user_and_the_chain_verifies() {
    let server = DomainCaServer::start().await;
    let c = server.client();

    // The directory says what a domain CA is.
    let directory = c.get(&c.url("/acme/directory")).await.json();
    assert_eq!(directory["mimiNewEab"], c.url("/acme/mimi-new-eab"));
    assert_eq!(directory["meta"]["externalAccountRequired"], true);
    let profiles: Vec<&String> = directory["meta"]["profiles"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(profiles, ["device", "user", "user-ca"]);

    let registrar = registrar(&server, &c).await;
    // The registrar names the user and device, not in canonical form: the
    // host in capitals.
    let grant = grant(
        &c,
        &registrar,
        &[
            user("mimi://A.EXAMPLE/u/alice"),
            device("mimi://a.example/d/alice/phone"),
        ],
    )
    .await;
    assert_eq!(grant.kid.len(), 22, "16 bytes, base64url");
    assert_eq!(grant.key.len(), 32);
    assert_eq!(
        grant.body["identifiers"],
        json!([user(ALICE), device(ALICE_PHONE)])
    );
    let expires =
        mimi_acme::objects::parse_rfc3339(grant.body["expires"].as_str().unwrap()).unwrap();
    let now = mimi_acme::ca::unix_seconds(SystemTime::now());
    assert!((now + 3590..=now + 3610).contains(&expires), "one hour");

    // The client's own account: its key is not its MLS key.
    let client = client_account(&c, &grant).await;
    let (_, order) = ready_order(&c, &client, "device", &[device(ALICE_PHONE), user(ALICE)]).await;
    for authz in order["authorizations"].as_array().unwrap() {
        let authz = c.fetch(&client, authz.as_str().unwrap()).await;
        assert_eq!(authz["status"], "valid", "{authz}");
        assert_eq!(authz["challenges"], json!([]), "no challenge to answer");
    }

    let key = mls_key();
    let chain_pem = finalize(
        &c,
        &client,
        &order,
        &csr_for(&key, &[ALICE_PHONE, ALICE], &[]),
    )
    .await;
    let chain = chain_of(&chain_pem);
    assert_eq!(chain.len(), 2, "the leaf and the domain CA, not the root");
    assert_eq!(chain[1].der(), server.domain_ca.der());
    let credential = server.verify(&chain).await;
    assert_eq!(credential.profile(), Profile::Combined);
    assert_eq!(
        credential.user(),
        &UserId::new("alice", Some(Domain::parse(DOMAIN).unwrap())).unwrap()
    );
    assert_eq!(
        credential.device(),
        Some(&DeviceId::new(credential.user(), "phone").unwrap())
    );
    assert_eq!(credential.leaf_spki_der(), spki(&key).as_slice());
    let lifetime = chain[0]
        .not_after()
        .duration_since(chain[0].not_before())
        .unwrap();
    assert_eq!(lifetime, Duration::from_secs(7 * 86400 + 60), "7 days");

    // The key binds one account only.
    let again = new_account_request(&c, &AccountKey::generate(), &grant.kid, &grant.key).await;
    let again = c.send(&again).await;
    assert_eq!(
        again.status,
        403,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
}

#[tokio::test]
async fn profile_1_gives_separate_user_and_device_certificates() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[user(ALICE), device(ALICE_LAPTOP)]).await;
    let client = client_account(&c, &grant).await;

    let (_, order) = ready_order(&c, &client, "user", &[user(ALICE)]).await;
    let user_key = mls_key();
    let chain = chain_of(&finalize(&c, &client, &order, &csr_for(&user_key, &[ALICE], &[])).await);
    let credential = server.verify(&chain).await;
    assert_eq!(credential.profile(), Profile::UserCertificate);
    assert_eq!(credential.device(), None);
    assert_eq!(chain[0].ca(), None, "not a CA");
    let lifetime = chain[0]
        .not_after()
        .duration_since(chain[0].not_before())
        .unwrap();
    assert_eq!(lifetime, Duration::from_secs(30 * 86400 + 60), "30 days");

    let (_, order) = ready_order(&c, &client, "device", &[device(ALICE_LAPTOP)]).await;
    let device_key = mls_key();
    let chain = chain_of(
        &finalize(
            &c,
            &client,
            &order,
            &csr_for(&device_key, &[ALICE_LAPTOP], &[]),
        )
        .await,
    );
    let credential = server.verify(&chain).await;
    assert_eq!(credential.profile(), Profile::Separate);
    assert_eq!(chain[0].uris(), [ALICE_LAPTOP]);
    assert_eq!(credential.leaf_spki_der(), spki(&device_key).as_slice());
}

#[tokio::test]
async fn profile_3_gives_a_user_ca_that_certifies_its_own_devices() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[user(ALICE)]).await;
    let client = client_account(&c, &grant).await;
    let (_, order) = ready_order(&c, &client, "user-ca", &[user(ALICE)]).await;

    // A P-256 key this time (MLS cipher suite 2).
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let chain = chain_of(&finalize(&c, &client, &order, &csr_for(&key, &[ALICE], &[])).await);
    assert_eq!(chain[0].ca(), Some(Some(0)), "a CA with path length 0");
    assert_eq!(
        chain[0].uri_constraints().unwrap().permitted,
        vec![DOMAIN.to_owned()]
    );

    // The client issues its device certificate itself.
    let user_ca = CertificateAuthority::from_parts(
        chain[0].clone(),
        KeyPair::from_pkcs8_der(&key.serialize_der(), SignatureScheme::EcdsaP256Sha256).unwrap(),
    )
    .unwrap();
    let alice = UserId::new("alice", Some(Domain::parse(DOMAIN).unwrap())).unwrap();
    let device_key = KeyPair::generate(SignatureScheme::Ed25519).unwrap();
    let device_cert = user_ca
        .issue(
            &Subject::Device {
                device: DeviceId::new(&alice, "tablet").unwrap(),
                // The user CA names the user.
                with_user_uri: false,
                numbers: None,
                organization: None,
            },
            &device_key.public_key(),
            Validity::starting_now(Duration::from_secs(86400)),
        )
        .unwrap();
    let credential = server
        .verify(&[device_cert, chain[0].clone(), chain[1].clone()])
        .await;
    assert_eq!(credential.profile(), Profile::Cascading);
    assert_eq!(credential.user(), &alice);
}

#[tokio::test]
async fn a_number_is_certified_by_the_phone_number_ca() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(
        &c,
        &registrar,
        &[device(ALICE_PHONE), user(ALICE), number(NUMBER)],
    )
    .await;
    let client = client_account(&c, &grant).await;
    let (_, order) = ready_order(
        &c,
        &client,
        "device",
        &[device(ALICE_PHONE), user(ALICE), number(NUMBER)],
    )
    .await;
    let key = mls_key();
    let chain = chain_of(
        &finalize(
            &c,
            &client,
            &order,
            &csr_for(&key, &[ALICE_PHONE, ALICE], &[NUMBER]),
        )
        .await,
    );
    assert_eq!(
        chain[1].der(),
        server.phone_ca.der(),
        "issued by the phone-number CA"
    );
    let credential = server.verify(&chain).await;
    assert_eq!(credential.profile(), Profile::Combined);
    let numbers: Vec<&str> = credential
        .phone_numbers()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(numbers, ["12025550123"]);

    // The phone-number CA's CRL is its own, signed by it.
    let crl = server.crl("phone-ca/0").await;
    assert_eq!(crl.issuer_text(), server.phone_ca.subject_text());
    let reply = c.get(&c.url("/acme/crl/phone-ca/1")).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn ari_suggests_a_window_and_a_replacement_order_renews() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[user(ALICE), device(ALICE_PHONE)]).await;
    let client = client_account(&c, &grant).await;
    let ids = [device(ALICE_PHONE), user(ALICE)];
    let (_, order) = ready_order(&c, &client, "device", &ids).await;
    let key = mls_key();
    let first = finalize(
        &c,
        &client,
        &order,
        &csr_for(&key, &[ALICE_PHONE, ALICE], &[]),
    )
    .await;
    let leaf = chain_of(&first).remove(0);
    let cert_id = cert_id(&leaf_der(&first));

    let reply = c
        .get(&c.url(&format!("/acme/renewal-info/{cert_id}")))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("retry-after"), Some("21600"));
    let window = &reply.json()["suggestedWindow"];
    let start = mimi_acme::objects::parse_rfc3339(window["start"].as_str().unwrap()).unwrap();
    let end = mimi_acme::objects::parse_rfc3339(window["end"].as_str().unwrap()).unwrap();
    let not_before = mimi_acme::ca::unix_seconds(leaf.not_before());
    let third = (mimi_acme::ca::unix_seconds(leaf.not_after()) - not_before) / 3;
    assert_eq!((start, end), (not_before + third, not_before + 2 * third));

    // The renewal: same account, same names, a new MLS key.
    let payload = json!({"identifiers": ids, "profile": "device", "replaces": cert_id});
    let reply = c
        .post_as(&client, &c.url("/acme/new-order"), Some(&payload))
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let order = reply.json();
    assert_eq!(order["replaces"], cert_id);
    assert_eq!(order["status"], "ready");
    let new_key = mls_key();
    let renewed = chain_of(
        &finalize(
            &c,
            &client,
            &order,
            &csr_for(&new_key, &[ALICE_PHONE, ALICE], &[]),
        )
        .await,
    );
    let credential = server.verify(&renewed).await;
    assert_eq!(credential.leaf_spki_der(), spki(&new_key).as_slice());

    // Replaced once is replaced.
    let reply = c
        .post_as(&client, &c.url("/acme/new-order"), Some(&payload))
        .await;
    assert_eq!(
        reply.status,
        409,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json()["type"],
        "urn:ietf:params:acme:error:alreadyReplaced"
    );
}

#[tokio::test]
async fn the_registrar_revokes_and_the_domain_ca_crl_lists_it() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[user(ALICE), device(ALICE_PHONE)]).await;
    let client = client_account(&c, &grant).await;
    let (_, order) = ready_order(&c, &client, "device", &[device(ALICE_PHONE)]).await;
    let chain_pem = finalize(
        &c,
        &client,
        &order,
        &csr_for(&mls_key(), &[ALICE_PHONE], &[]),
    )
    .await;
    let chain = chain_of(&chain_pem);
    server.verify(&chain).await;
    let before = server.crl("domain-ca").await;
    assert!(!before.lists(chain[0].serial()));

    // Another client's account may not revoke it.
    let other_grant = grant_for_bob(&c, &registrar).await;
    let other = client_account(&c, &other_grant).await;
    let revoke = json!({"certificate": b64(&leaf_der(&chain_pem)), "reason": 4});
    let reply = c
        .post_as(&other, &c.url("/acme/revoke-cert"), Some(&revoke))
        .await;
    assert_eq!(
        reply.status,
        403,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    // The registrar may, although it did not order it.
    let reply = c
        .post_as(&registrar, &c.url("/acme/revoke-cert"), Some(&revoke))
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let after = server.crl("domain-ca").await;
    assert!(after.lists(chain[0].serial()), "listed at once");
    assert_eq!(after.issuer_text(), server.domain_ca.subject_text());
    let refused = server.try_verify(&chain).await.unwrap_err();
    assert!(refused.to_string().contains("revoked"), "{refused}");

    // ARI says: renew now.
    let cert_id = cert_id(&leaf_der(&chain_pem));
    let reply = c
        .get(&c.url(&format!("/acme/renewal-info/{cert_id}")))
        .await;
    assert_eq!(reply.status, 200);

    // The certificate's own key revokes too (a P-256 key, so that the raw
    // client can sign with it).
    let (cert_key, pkcs8) = AccountKey::generate_with_pkcs8();
    let rcgen_key = rcgen::KeyPair::try_from(pkcs8.as_slice()).unwrap();
    let (_, order) = ready_order(&c, &client, "device", &[device(ALICE_PHONE), user(ALICE)]).await;
    let pem = finalize(
        &c,
        &client,
        &order,
        &csr_for(&rcgen_key, &[ALICE_PHONE, ALICE], &[]),
    )
    .await;
    let url = c.url("/acme/revoke-cert");
    let header = c.jwk_header(&cert_key, &url, &c.nonce().await);
    let payload = json!({"certificate": b64(&leaf_der(&pem))});
    let reply = c
        .send(&Request::jose(
            &url,
            &signed(&cert_key, &header, Some(&payload)),
        ))
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(
        server
            .crl("domain-ca")
            .await
            .lists(chain_of(&pem)[0].serial())
    );
}

async fn grant_for_bob(c: &RawClient, registrar: &Account) -> Grant {
    grant(c, registrar, &[user(BOB), device(BOB_PHONE)]).await
}

/// A newAccount for `key` whose binding is `grant`'s, with a fresh nonce.
async fn new_account_request(c: &RawClient, key: &AccountKey, kid: &str, mac: &[u8]) -> Request {
    let url = c.url("/acme/new-account");
    let payload = json!({"externalAccountBinding": eab(kid, mac, &key.jwk(), &url)});
    let header = c.jwk_header(key, &url, &c.nonce().await);
    Request::jose(&url, &signed(key, &header, Some(&payload)))
}

/// A request by `account` to `url`, with a fresh nonce.
async fn by(c: &RawClient, account: &Account, url: &str, payload: &Value) -> Request {
    let header = c.kid_header(account, url, &c.nonce().await);
    Request::jose(url, &signed(&account.key, &header, Some(payload)))
}

#[tokio::test]
async fn bad_enrollment_requests_get_precise_problems_and_change_nothing() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let store = &server.store;
    let registrar = registrar(&server, &c).await;
    let new_eab = c.url("/acme/mimi-new-eab");
    let new_order = c.url("/acme/new-order");

    // Setup: a client with a used key, an unused key, an expired key, and
    // a ready order.
    let used = grant(&c, &registrar, &[user(ALICE), device(ALICE_PHONE)]).await;
    let client = client_account(&c, &used).await;
    let unused = grant_for_bob(&c, &registrar).await;
    store
        .add_eab(&NewEab {
            kid: "expired".into(),
            hmac_key: REGISTRAR_KEY.to_vec(),
            kind: EabKind::Client,
            identifiers: serde_json::from_value(json!([user(BOB)])).unwrap(),
            expires: Some(mimi_acme::ca::unix_seconds(SystemTime::now()) - 1),
            created_by: None,
            created_at: 0,
        })
        .await
        .unwrap();
    let (_, ready) = ready_order(&c, &client, "device", &[device(ALICE_PHONE), user(ALICE)]).await;
    let finalize_url = ready["finalize"].as_str().unwrap().to_owned();
    let csr =
        |uris: &[&str], numbers: &[&str]| json!({"csr": b64(&csr_for(&mls_key(), uris, numbers))});
    let eab_of = |ids: Value| json!({ "identifiers": ids });
    let in_two_days = mimi_acme::objects::format_rfc3339(
        mimi_acme::ca::unix_seconds(SystemTime::now()) + 2 * 86400,
    );
    let order_of = |profile: &str, ids: Value| json!({"identifiers": ids, "profile": profile});
    let rsa_csr = {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        json!({"csr": b64(&csr_for(&key, &[ALICE_PHONE, ALICE], &[]))})
    };

    let cases = vec![
        // --- mimiNewEab
        Case {
            name: "mimiNewEab by a client account",
            request: by(&c, &client, &new_eab, &eab_of(json!([user(BOB)]))).await,
            expect: expect(403, "unauthorized", &["only the registrar account"]),
        },
        Case {
            name: "mimiNewEab for a user of another domain",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([user("mimi://b.example/u/bob")])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["is a name of b.example", "names of a.example only"],
            ),
        },
        Case {
            name: "mimiNewEab for two users",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([user(ALICE), user(BOB)])),
            )
            .await,
            expect: expect(
                400,
                "malformed",
                &["two users are named", "at most one user"],
            ),
        },
        Case {
            name: "mimiNewEab for a device of another user",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([user(ALICE), device(BOB_PHONE)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["bob/phone@a.example is not a device of alice@a.example"],
            ),
        },
        Case {
            name: "mimiNewEab for devices of two users",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([device(ALICE_PHONE), device(BOB_PHONE)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["not a device of alice@a.example"],
            ),
        },
        Case {
            name: "mimiNewEab for a number no phone-number CA covers",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([device(ALICE_PHONE), number(OTHER_NUMBER)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["holds no phone-number CA for +442079460123"],
            ),
        },
        Case {
            name: "mimiNewEab for a number only",
            request: by(&c, &registrar, &new_eab, &eab_of(json!([number(NUMBER)]))).await,
            expect: expect(400, "malformed", &["name no user or device"]),
        },
        Case {
            name: "mimiNewEab for no identifiers",
            request: by(&c, &registrar, &new_eab, &eab_of(json!([]))).await,
            expect: expect(400, "malformed", &["0 identifiers given; send 1 to 8"]),
        },
        Case {
            name: "mimiNewEab for nine identifiers",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!(
                    (1..=9)
                        .map(|i| device(&format!("mimi://a.example/d/alice/d{i}")))
                        .collect::<Vec<_>>()
                )),
            )
            .await,
            expect: expect(400, "malformed", &["9 identifiers given; send 1 to 8"]),
        },
        Case {
            name: "mimiNewEab for a dns name",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([id("dns", DOMAIN)])),
            )
            .await,
            expect: expect(
                400,
                "unsupportedIdentifier",
                &["\"dns\" is not offered by a domain CA"],
            ),
        },
        Case {
            name: "mimiNewEab for a user that is not a mimi URI",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([user("alice@a.example")])),
            )
            .await,
            expect: expect(
                400,
                "malformed",
                &[
                    "is not written as a mimi:// URI",
                    "mimi://<domain>/u/<user>",
                ],
            ),
        },
        Case {
            name: "mimiNewEab for a device URI typed as a user",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([user(ALICE_PHONE)])),
            )
            .await,
            expect: expect(400, "malformed", &["names a device, not a user"]),
        },
        Case {
            name: "mimiNewEab for a device without its user",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &eab_of(json!([device("mimi://a.example/d/phone")])),
            )
            .await,
            expect: expect(400, "rejectedIdentifier", &["does not name its user"]),
        },
        Case {
            name: "mimiNewEab expiring in two days",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &json!({"identifiers": [user(ALICE)], "expires": in_two_days}),
            )
            .await,
            expect: expect(400, "malformed", &["not within the next 24 hours"]),
        },
        Case {
            name: "mimiNewEab expiring in the past",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &json!({"identifiers": [user(ALICE)], "expires": "2020-01-01T00:00:00Z"}),
            )
            .await,
            expect: expect(400, "malformed", &["not within the next 24 hours"]),
        },
        Case {
            name: "mimiNewEab with an expiry that is not a time",
            request: by(
                &c,
                &registrar,
                &new_eab,
                &json!({"identifiers": [user(ALICE)], "expires": "tomorrow"}),
            )
            .await,
            expect: expect(400, "malformed", &["\"tomorrow\" is not an RFC 3339 time"]),
        },
        // --- newAccount
        Case {
            name: "newAccount without external account binding",
            request: {
                let key = AccountKey::generate();
                let url = c.url("/acme/new-account");
                let header = c.jwk_header(&key, &url, &c.nonce().await);
                Request::jose(
                    &url,
                    &signed(&key, &header, Some(&json!({"termsOfServiceAgreed": true}))),
                )
            },
            expect: expect(
                403,
                "externalAccountRequired",
                &["only with external account binding"],
            ),
        },
        Case {
            name: "newAccount with an EAB key used for another account",
            request: new_account_request(&c, &AccountKey::generate(), &used.kid, &used.key).await,
            expect: expect(403, "unauthorized", &["is unknown or already used"]),
        },
        Case {
            name: "newAccount with an expired EAB key",
            request: new_account_request(&c, &AccountKey::generate(), "expired", REGISTRAR_KEY)
                .await,
            expect: expect(403, "unauthorized", &["key expired has expired unused"]),
        },
        Case {
            name: "newAccount with the wrong MAC for a client key",
            request: new_account_request(&c, &AccountKey::generate(), &unused.kid, REGISTRAR_KEY)
                .await,
            expect: expect(403, "unauthorized", &["the MAC does not verify"]),
        },
        // --- newOrder
        Case {
            name: "newOrder for an identifier outside the EAB key",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("device", json!([device(ALICE_LAPTOP)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["not authorized for mimi-device \"mimi://a.example/d/alice/laptop\""],
            ),
        },
        Case {
            name: "newOrder for another user's device",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("device", json!([device(BOB_PHONE)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["not authorized for mimi-device"],
            ),
        },
        Case {
            name: "newOrder by the registrar",
            request: by(
                &c,
                &registrar,
                &new_order,
                &order_of("device", json!([device(ALICE_PHONE)])),
            )
            .await,
            expect: expect(
                403,
                "unauthorized",
                &["the registrar account does not order certificates"],
            ),
        },
        Case {
            name: "newOrder of a user certificate naming a device",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("user", json!([user(ALICE), device(ALICE_PHONE)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["a user order names only the user"],
            ),
        },
        Case {
            name: "newOrder of a user CA naming a device",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("user-ca", json!([device(ALICE_PHONE)])),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["a user-ca order names only the user"],
            ),
        },
        Case {
            name: "newOrder of a device certificate naming only the user",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("device", json!([user(ALICE)])),
            )
            .await,
            expect: expect(
                400,
                "malformed",
                &[
                    "a device order names exactly one mimi-device identifier",
                    "this one names 0",
                ],
            ),
        },
        Case {
            name: "newOrder of the authority's tls-server profile",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("tls-server", json!([device(ALICE_PHONE)])),
            )
            .await,
            expect: expect(400, "invalidProfile", &["unknown profile \"tls-server\""]),
        },
        Case {
            name: "newOrder for a dns name",
            request: by(
                &c,
                &client,
                &new_order,
                &order_of("device", json!([id("dns", DOMAIN)])),
            )
            .await,
            expect: expect(
                400,
                "unsupportedIdentifier",
                &["\"dns\" is not offered by a domain CA"],
            ),
        },
        // --- finalize: the CSR names exactly the order's identifiers
        Case {
            name: "CSR naming one URI more",
            request: by(
                &c,
                &client,
                &finalize_url,
                &csr(&[ALICE_PHONE, ALICE, ALICE_LAPTOP], &[]),
            )
            .await,
            expect: expect(400, "badCSR", &["must name exactly the order's URIs"]),
        },
        Case {
            name: "CSR naming one URI fewer",
            request: by(&c, &client, &finalize_url, &csr(&[ALICE_PHONE], &[])).await,
            expect: expect(400, "badCSR", &["must name exactly the order's URIs"]),
        },
        Case {
            name: "CSR naming another device",
            request: by(
                &c,
                &client,
                &finalize_url,
                &csr(&[ALICE_LAPTOP, ALICE], &[]),
            )
            .await,
            expect: expect(
                400,
                "badCSR",
                &[
                    "mimi://a.example/d/alice/laptop",
                    "must name exactly the order's URIs",
                ],
            ),
        },
        Case {
            name: "CSR naming a URI twice",
            request: by(
                &c,
                &client,
                &finalize_url,
                &csr(&[ALICE_PHONE, ALICE, ALICE], &[]),
            )
            .await,
            expect: expect(400, "badCSR", &["each once"]),
        },
        Case {
            name: "CSR naming a non-mimi URI",
            request: by(
                &c,
                &client,
                &finalize_url,
                &csr(&[ALICE_PHONE, "https://a.example/u/alice"], &[]),
            )
            .await,
            expect: expect(400, "badCSR", &["is not a mimi:// URI"]),
        },
        Case {
            name: "CSR carrying numbers the order does not name",
            request: by(
                &c,
                &client,
                &finalize_url,
                &csr(&[ALICE_PHONE, ALICE], &[NUMBER]),
            )
            .await,
            expect: expect(400, "badCSR", &["the order names no numbers"]),
        },
        Case {
            name: "CSR with a DNS name",
            request: {
                let mut params = rcgen::CertificateParams::new(vec![DOMAIN.to_owned()]).unwrap();
                params.subject_alt_names.push(rcgen::SanType::URI(
                    Ia5String::try_from(ALICE_PHONE).unwrap(),
                ));
                let der = params.serialize_request(&mls_key()).unwrap().der().to_vec();
                by(&c, &client, &finalize_url, &json!({"csr": b64(&der)})).await
            },
            expect: expect(400, "badCSR", &["names DNS names"]),
        },
        Case {
            name: "CSR with an RSA key",
            request: by(&c, &client, &finalize_url, &rsa_csr).await,
            expect: expect(
                400,
                "badCSR",
                &["the CSR's key is RSA", "use an ECDSA P-256 or Ed25519 key"],
            ),
        },
        // --- revocation and CRLs
        Case {
            name: "GET the identity root's CRL at a domain CA",
            request: Request {
                method: reqwest::Method::GET,
                url: c.url("/acme/crl/identity-root"),
                content_type: None,
                body: Vec::new(),
            },
            expect: expect(
                404,
                "malformed",
                &[
                    "there is no CRL \"identity-root\"",
                    "/acme/crl/domain-ca",
                    "/acme/crl/phone-ca/0",
                ],
            ),
        },
    ];
    run(&c, store, cases).await;

    // The unused key still works afterwards, for its own identifiers only.
    let bob = client_account(&c, &unused).await;
    ready_order(&c, &bob, "device", &[device(BOB_PHONE), user(BOB)]).await;
}

#[tokio::test]
async fn a_numbered_order_needs_the_numbers_in_the_csr() {
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[device(ALICE_PHONE), number(NUMBER)]).await;
    let client = client_account(&c, &grant).await;
    let (_, order) = ready_order(
        &c,
        &client,
        "device",
        &[device(ALICE_PHONE), number(NUMBER)],
    )
    .await;
    let finalize_url = order["finalize"].as_str().unwrap().to_owned();
    let csr = |numbers: &[&str]| json!({"csr": b64(&csr_for(&mls_key(), &[ALICE_PHONE], numbers))});
    let cases = vec![
        Case {
            name: "CSR without the order's number",
            request: by(&c, &client, &finalize_url, &csr(&[])).await,
            expect: expect(400, "badCSR", &["carries no TNAuthList extension"]),
        },
        Case {
            name: "CSR with another number",
            request: by(&c, &client, &finalize_url, &csr(&["+12025550124"])).await,
            expect: expect(
                400,
                "badCSR",
                &["is not the order's numbers (+12025550123)"],
            ),
        },
        Case {
            name: "newOrder of a user certificate with a number",
            request: by(
                &c,
                &client,
                &c.url("/acme/new-order"),
                &json!({"identifiers": [number(NUMBER)], "profile": "user"}),
            )
            .await,
            expect: expect(
                400,
                "rejectedIdentifier",
                &["numbers are certified only in device orders"],
            ),
        },
    ];
    run(&c, &server.store, cases).await;
    let chain = chain_of(
        &finalize(
            &c,
            &client,
            &order,
            &csr_for(&mls_key(), &[ALICE_PHONE], &[NUMBER]),
        )
        .await,
    );
    assert_eq!(server.verify(&chain).await.profile(), Profile::Separate);
}

/// The SubjectPublicKeyInfo DER of a CSR key.
fn spki(key: &rcgen::KeyPair) -> Vec<u8> {
    rcgen::PublicKeyData::subject_public_key_info(key)
}

/// The Python `acme` library (PyPI; certbot's ACME client, code nobody here
/// wrote) enrolls a device: EAB account, a mimi-device order, finalize with
/// a CSR that names the device URI under an Ed25519 key.
/// scripts/test provides MIMI_PYACME_PYTHON; without it the test fails,
/// saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_acme_library_enrolls_a_device() {
    let Some(python) = std::env::var_os("MIMI_PYACME_PYTHON") else {
        panic!(
            "MIMI_PYACME_PYTHON is not set, so the Python acme test cannot run: run scripts/test, \
             which installs the Python `acme` library into a virtual environment and sets it"
        );
    };
    let server = DomainCaServer::start().await;
    let c = server.client();
    let registrar = registrar(&server, &c).await;
    let grant = grant(&c, &registrar, &[user(ALICE), device(ALICE_PHONE)]).await;
    let dir = tempfile::tempdir().unwrap();
    let tls_root = dir.path().join("tls-root.pem");
    std::fs::write(&tls_root, server.tls_root.pem()).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/pyacme_enroll.py");
    let mut command = Command::new(&python);
    command
        .arg(script)
        .arg("--directory")
        .arg(format!("{}/acme/directory", server.base))
        .arg("--ca-name")
        .arg(CA_NAME)
        .arg("--eab-kid")
        .arg(&grant.kid)
        .arg("--eab-key")
        .arg(b64(&grant.key))
        .arg("--device")
        .arg(ALICE_PHONE)
        .arg("--user")
        .arg(ALICE)
        .env("REQUESTS_CA_BUNDLE", &tls_root)
        .env("NO_PROXY", "*")
        .env("no_proxy", "*");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {python:?}: {e}; run scripts/test"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python acme client failed ({}):\n{stderr}",
        output.status
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?}, stderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let chain = chain_of(result["chain_pem"].as_str().unwrap());
    assert_eq!(chain.len(), 2);
    let credential = server.verify(&chain).await;
    assert_eq!(credential.profile(), Profile::Combined);
    let public = crate::raw_client::unhex(result["public_key_raw_hex"].as_str().unwrap());
    assert_eq!(
        credential.leaf_spki_der(),
        mimi_credentials::PublicKey::from_ed25519_raw(&public)
            .unwrap()
            .spki_der()
    );
}
