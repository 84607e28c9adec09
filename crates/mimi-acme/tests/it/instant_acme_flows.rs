//! instant-acme (crates.io) runs whole flows against the authority.

use std::process::Command;
use std::time::{Duration, SystemTime};

use instant_acme::{
    Account, ChallengeType, ExternalAccountKey, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use mimi_acme::AcmeStore;
use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, SignatureScheme, Subject, TrustAnchors,
    Validity, verify_chain,
};
use mimi_identifiers::{DeviceId, Domain, UserId};

use crate::harness::{Authority, PROVIDER, PROVIDER_DOMAIN};

pub fn retries() -> RetryPolicy {
    RetryPolicy::new().timeout(Duration::from_secs(20))
}

pub async fn account(authority: &Authority, eab: Option<&ExternalAccountKey>) -> Account {
    let (account, _) = Account::builder_with_http(authority.acme_http())
        .create(
            &NewAccount {
                contact: &["mailto:ops@a.example"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            authority.directory.clone(),
            eab,
        )
        .await
        .unwrap();
    account
}

/// Answers every http-01 challenge of the order through the responder.
pub async fn solve_http01(authority: &Authority, order: &mut instant_acme::Order) {
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.unwrap();
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .expect("http-01 offered");
        let key_authorization = challenge.key_authorization().as_str().to_owned();
        authority
            .tokens
            .lock()
            .unwrap()
            .insert(challenge.token.clone(), key_authorization);
        challenge.set_ready().await.unwrap();
    }
}

pub fn openssl_verify(root_pem: &str, chain_pem: &str, purpose: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let (root, chain) = (dir.path().join("root.pem"), dir.path().join("chain.pem"));
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-purpose", purpose, "-CAfile"])
        .arg(&root)
        .arg(&chain)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn instant_acme_gets_a_tls_server_certificate_over_http01() {
    let authority = Authority::start().await;
    let account = account(&authority, None).await;
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    assert_eq!(order.state().status, OrderStatus::Pending);
    solve_http01(&authority, &mut order).await;
    assert_eq!(
        order.poll_ready(&retries()).await.unwrap(),
        OrderStatus::Ready
    );
    let _key_pem = order.finalize().await.unwrap();
    let chain_pem = order.poll_certificate(&retries()).await.unwrap();

    let chain = Certificate::from_pem_chain(&chain_pem).unwrap();
    assert_eq!(chain.len(), 2, "leaf and TLS root");
    assert_eq!(chain[0].issuer_text(), authority.tls_root.subject_text());
    // The leaf is only for the validated name, checked by OpenSSL as a TLS server.
    let leaf_only = chain[0].pem();
    let (ok, said) = openssl_verify(&authority.tls_root.pem(), &leaf_only, "sslserver");
    assert!(ok, "{said}");
    // The identity root must not accept it: the PKIs are separate.
    let anchors = TrustAnchors::new(vec![authority.identity_root.certificate().clone()]);
    assert!(verify_chain(&chain[..1], &anchors, &[], SystemTime::now()).is_err());
}

/// A vetted provider (an account with external account binding) obtains its
/// domain CA over ACME: http-01 for its domain, then a CSR with the public
/// half of a key it keeps. Returns the account, the issued chain and the CA.
pub async fn domain_ca_over_acme(
    authority: &Authority,
    kid: &str,
) -> (Account, Vec<Certificate>, CertificateAuthority) {
    let hmac_key = b"0123456789abcdef0123456789abcdef";
    authority.store.add_eab_key(kid, hmac_key).await.unwrap();
    let eab = ExternalAccountKey::new(kid.to_owned(), hmac_key);
    let account = account(authority, Some(&eab)).await;
    let ids = [Identifier::Dns(PROVIDER_DOMAIN.to_owned())];
    let mut order = account
        .new_order(&NewOrder::new(&ids).profile("domain-ca"))
        .await
        .unwrap();
    solve_http01(authority, &mut order).await;
    assert_eq!(
        order.poll_ready(&retries()).await.unwrap(),
        OrderStatus::Ready
    );
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let csr = rcgen::CertificateParams::new(vec![PROVIDER_DOMAIN.to_owned()])
        .unwrap()
        .serialize_request(&ca_key)
        .unwrap();
    order.finalize_csr(csr.der()).await.unwrap();
    let chain_pem = order.poll_certificate(&retries()).await.unwrap();
    let chain = Certificate::from_pem_chain(&chain_pem).unwrap();
    let key = KeyPair::from_pkcs8_der(&ca_key.serialize_der(), SignatureScheme::Ed25519).unwrap();
    let domain_ca = CertificateAuthority::from_parts(chain[0].clone(), key).unwrap();
    (account, chain, domain_ca)
}

#[tokio::test]
async fn an_eab_account_gets_its_domain_ca_and_issues_credentials_that_verify() {
    let authority = Authority::start().await;
    let (_account, chain, domain_ca) = domain_ca_over_acme(&authority, "provider-a").await;
    let domain = Domain::parse(PROVIDER_DOMAIN).unwrap();
    assert_eq!(
        domain_ca.role(),
        &mimi_credentials::CaRole::Domain(domain.clone())
    );

    // The provider's domain CA now certifies a device; a client verifies it
    // against the identity root, with both CRLs.
    let now = SystemTime::now();
    let validity = Validity::new(
        now - Duration::from_secs(60),
        now + Duration::from_secs(86400),
    )
    .unwrap();
    let alice = UserId::new("alice", Some(domain)).unwrap();
    let device = domain_ca
        .issue(
            &Subject::Device {
                device: DeviceId::new(&alice, "phone").unwrap(),
                with_user_uri: true,
                numbers: None,
                organization: None,
            },
            &KeyPair::generate(SignatureScheme::Ed25519)
                .unwrap()
                .public_key(),
            validity,
        )
        .unwrap();
    let crls: Vec<Crl> = vec![
        authority
            .identity_root
            .crl(
                &[],
                now - Duration::from_secs(60),
                now + Duration::from_secs(3600),
                1,
            )
            .unwrap(),
        domain_ca
            .crl(
                &[],
                now - Duration::from_secs(60),
                now + Duration::from_secs(3600),
                1,
            )
            .unwrap(),
    ];
    let anchors = TrustAnchors::new(vec![authority.identity_root.certificate().clone()]);
    let cred = verify_chain(&[device, chain[0].clone()], &anchors, &crls, now).unwrap();
    assert_eq!(cred.user(), &alice);
    assert_eq!(cred.issuing_domain().as_str(), PROVIDER_DOMAIN);
}

#[tokio::test]
async fn domain_ca_orders_need_external_account_binding_and_eab_keys_work_once() {
    let authority = Authority::start().await;
    let plain = account(&authority, None).await;
    let ids = [Identifier::Dns(PROVIDER_DOMAIN.to_owned())];
    let err = plain
        .new_order(&NewOrder::new(&ids).profile("domain-ca"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("externalAccountRequired"), "{err}");
    let err = plain
        .new_order(&NewOrder::new(&ids).profile("gold-plated"))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("invalidProfile"), "{err}");

    let hmac_key = b"0123456789abcdef0123456789abcdef";
    authority.store.add_eab_key("once", hmac_key).await.unwrap();
    let eab = ExternalAccountKey::new("once".to_owned(), hmac_key);
    let _first = account(&authority, Some(&eab)).await;
    let second = Account::builder_with_http(authority.acme_http())
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            authority.directory.clone(),
            Some(&eab),
        )
        .await;
    let err = second.err().expect("a used EAB key is refused");
    assert!(err.to_string().contains("already used"), "{err}");
    let wrong = ExternalAccountKey::new("once".to_owned(), b"another key entirely, 32 bytes!!");
    let third = Account::builder_with_http(authority.acme_http())
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            authority.directory.clone(),
            Some(&wrong),
        )
        .await;
    assert!(third.is_err());
}
