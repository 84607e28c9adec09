//! Enrollment at a real MIMI domain CA (docs/enrollment.md): the
//! registrar asks for an EAB key, the client makes its own account with
//! it, orders its device certificate pre-authorized, renews and is
//! revoked.

use std::process::Command;
use std::time::{Duration, SystemTime};

use mimi_acme::{AcmeStore, DomainCa, EabKind, Lifetimes, Limits, SqliteStore};
use mimi_acme_client::{
    Account, AccountKey, AcmeClient, ExternalAccountBinding, Identifier, KeyAlg, NewAccount, Order,
    RevocationReason, Status,
};
use mimi_credentials::{Certificate, CertificateAuthority, KeyPair, SignatureScheme, Subject};
use mimi_identifiers::Domain;
use tokio::net::TcpListener;

use crate::authority::fast_polling;
use crate::tls;

const CA_NAME: &str = "ca.a.example";
const REGISTRAR_MAC: &[u8] = &[0x42; 32];
const DEVICE: &str = "mimi://a.example/d/alice/phone";
const USER: &str = "mimi://a.example/u/alice";

struct DomainCaServer {
    directory: String,
    addr: std::net::SocketAddr,
    tls_root: Certificate,
    identity_root: Certificate,
    domain_ca: Certificate,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl DomainCaServer {
    async fn start() -> DomainCaServer {
        let identity_root = CertificateAuthority::new_root(
            "Test identity root",
            SignatureScheme::Ed25519,
            tls::validity(),
        )
        .unwrap();
        let domain = Domain::parse("a.example").unwrap();
        let ca_key = KeyPair::generate(SignatureScheme::Ed25519).unwrap();
        let ca_cert = identity_root
            .issue(
                &Subject::DomainCa {
                    domain: domain.clone(),
                    organization: None,
                },
                &ca_key.public_key(),
                tls::validity(),
            )
            .unwrap();
        let ca =
            DomainCa::new(domain, vec![ca_cert.clone()], ca_key, Lifetimes::default()).unwrap();

        let store = SqliteStore::in_memory().await.unwrap();
        store
            .add_eab(&mimi_acme::NewEab {
                kid: "registrar".to_owned(),
                hmac_key: REGISTRAR_MAC.to_vec(),
                kind: EabKind::Registrar,
                identifiers: Vec::new(),
                expires: None,
                created_by: None,
                created_at: mimi_acme::ca::unix_seconds(SystemTime::now()),
            })
            .await
            .unwrap();

        let tls_root = tls::tls_root();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("https://{CA_NAME}:{}", addr.port());
        let app = mimi_acme::domain_ca_router(store, ca, &base, Limits::default()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mimi_transport::https::serve_tls(
            listener,
            tls::server_config(&tls_root, CA_NAME),
            app,
            async {
                let _ = stopped.await;
            },
        ));
        DomainCaServer {
            directory: format!("{base}/acme/directory"),
            addr,
            tls_root: tls_root.certificate().clone(),
            identity_root: identity_root.certificate().clone(),
            domain_ca: ca_cert,
            _stop: stop,
        }
    }

    async fn client(&self) -> AcmeClient {
        AcmeClient::builder(&self.directory)
            .root(tls::der(&self.tls_root))
            .resolve(CA_NAME, self.addr)
            .poll_policy(fast_polling())
            .build()
            .await
            .unwrap()
    }

    async fn registrar(&self) -> Account {
        let client = self.client().await;
        let eab = ExternalAccountBinding::new("registrar", REGISTRAR_MAC);
        let new = NewAccount {
            external_account_binding: Some(&eab),
            terms_of_service_agreed: true,
            ..NewAccount::default()
        };
        let key = AccountKey::generate(KeyAlg::Es256).unwrap();
        Account::create(&client, key, &new).await.unwrap().0
    }
}

fn id(type_: &str, value: &str) -> Identifier {
    Identifier {
        type_: type_.to_owned(),
        value: value.to_owned(),
    }
}

/// A CSR (DER) naming `uris` under a fresh Ed25519 key (the device's MLS
/// signature key).
fn csr(uris: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = uris
        .iter()
        .map(|u| rcgen::SanType::URI((*u).try_into().unwrap()))
        .collect();
    params.serialize_request(&key).unwrap().der().to_vec()
}

/// Finalizes a pre-authorized order; returns the chain (DER, leaf first).
async fn complete(order: &mut Order, uris: &[&str]) -> Vec<Vec<u8>> {
    assert_eq!(order.poll_ready().await.unwrap().status, Status::Ready);
    for authz in order.authorizations().await.unwrap() {
        assert_eq!(authz.status, Status::Valid, "pre-authorized");
    }
    order.finalize(&csr(uris)).await.unwrap();
    order.poll_valid().await.unwrap();
    order.certificate_chain().await.unwrap()
}

#[tokio::test]
async fn a_device_enrolls_with_an_eab_from_the_registrar_renews_and_is_revoked() {
    let server = DomainCaServer::start().await;
    let registrar = server.registrar().await;

    let device = id("mimi-device", DEVICE);
    let expires = SystemTime::now() + Duration::from_secs(600);
    let issued = registrar
        .request_eab(std::slice::from_ref(&device), Some(expires))
        .await
        .unwrap();
    assert_eq!(issued.identifiers, std::slice::from_ref(&device));
    // RFC 3339 has whole seconds here.
    assert!(expires.duration_since(issued.expires).unwrap() < Duration::from_secs(1));
    assert_eq!(issued.binding.hmac_key.len(), 32);

    // The client: its own account with the binding.
    let client = server.client().await;
    let new = NewAccount {
        external_account_binding: Some(&issued.binding),
        terms_of_service_agreed: true,
        ..NewAccount::default()
    };
    let key = AccountKey::generate(KeyAlg::EdDsa).unwrap();
    let (account, _) = Account::create(&client, key, &new).await.unwrap();

    // Anything beyond the binding's identifiers is refused.
    let err = account
        .new_order(&[id("mimi-user", USER)], Some("user"), None)
        .await
        .unwrap_err();
    let problem = err.problem().unwrap();
    assert!(problem.is("rejectedIdentifier"), "{err}");
    let detail = problem.detail.as_deref().unwrap();
    assert!(
        detail.starts_with(&format!(
            "this account is not authorized for mimi-user \"{USER}\""
        )),
        "{detail}"
    );

    let mut order = account
        .new_order(std::slice::from_ref(&device), Some("device"), None)
        .await
        .unwrap();
    let chain = complete(&mut order, &[DEVICE]).await;
    let leaf = Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(leaf.uris(), [DEVICE]);
    assert_eq!(chain[1], server.domain_ca.der());
    openssl_verify(&server.identity_root, &chain);

    // Renewal: ARI, then an order replacing the certificate.
    let info = client.renewal_info(&chain[0]).await.unwrap();
    assert!(!info.should_renew(SystemTime::now()));
    let replaces = mimi_acme_client::cert_id(&chain[0]).unwrap();
    let mut renewal = account
        .new_order(
            std::slice::from_ref(&device),
            Some("device"),
            Some(&replaces),
        )
        .await
        .unwrap();
    let renewed = complete(&mut renewal, &[DEVICE]).await;

    // The registrar may revoke any certificate of its CA.
    registrar
        .revoke(&renewed[0], RevocationReason::CessationOfOperation)
        .await
        .unwrap();
    let info = client.renewal_info(&renewed[0]).await.unwrap();
    assert!(info.should_renew(SystemTime::now()));
}

#[tokio::test]
async fn only_the_registrar_may_ask_for_eab_keys() {
    let server = DomainCaServer::start().await;
    let registrar = server.registrar().await;
    let device = id("mimi-device", DEVICE);
    let issued = registrar
        .request_eab(std::slice::from_ref(&device), None)
        .await
        .unwrap();
    let client = server.client().await;
    let new = NewAccount {
        external_account_binding: Some(&issued.binding),
        ..NewAccount::default()
    };
    let (account, _) = Account::create(&client, AccountKey::generate(KeyAlg::Es256).unwrap(), &new)
        .await
        .unwrap();
    let err = account.request_eab(&[device], None).await.unwrap_err();
    let problem = err.problem().unwrap();
    assert!(problem.is("unauthorized"), "{err}");
    assert_eq!(
        problem.detail.as_deref(),
        Some(
            "only the registrar account (created with a registrar EAB key from the domain CA's operator) may create EAB keys"
        )
    );
}

/// `openssl verify` of a chain (leaf first, up to the identity root).
fn openssl_verify(root: &Certificate, chain: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    let pem = |der: &[u8]| Certificate::from_der(der).unwrap().pem();
    let root_file = dir.path().join("root.pem");
    let leaf_file = dir.path().join("leaf.pem");
    let untrusted = dir.path().join("untrusted.pem");
    std::fs::write(&root_file, root.pem()).unwrap();
    std::fs::write(&leaf_file, pem(&chain[0])).unwrap();
    std::fs::write(
        &untrusted,
        chain[1..].iter().map(|c| pem(c)).collect::<String>(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root_file)
        .arg("-untrusted")
        .arg(&untrusted)
        .arg(&leaf_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
