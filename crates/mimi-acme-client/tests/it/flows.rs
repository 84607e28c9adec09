//! Whole ACME flows against the real authority.

use std::process::Command;
use std::time::SystemTime;

use mimi_acme_client::{
    Account, AccountKey, Error, ExternalAccountBinding, Identifier, KeyAlg, NewAccount, Order,
    RevocationReason, Status,
};
use serde_json::json;

use crate::authority::{Authority, PROVIDER};

const MAC_KEY: &[u8] = &[0x5a; 32];

fn dns(name: &str) -> Identifier {
    Identifier {
        type_: "dns".to_owned(),
        value: name.to_owned(),
    }
}

async fn account(authority: &Authority, alg: KeyAlg) -> Account {
    let client = authority.client().await;
    let key = AccountKey::generate(alg).unwrap();
    let contact = ["mailto:ops@a.example".to_owned()];
    let new = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        external_account_binding: None,
    };
    Account::create(&client, key, &new).await.unwrap().0
}

/// A CSR (DER) for the provider's name under `key`, so that the same key
/// can later revoke the certificate.
fn csr(key: &AccountKey) -> Vec<u8> {
    let key = rcgen::KeyPair::try_from(key.to_pkcs8().as_slice()).unwrap();
    rcgen::CertificateParams::new(vec![PROVIDER.to_owned()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .der()
        .to_vec()
}

/// Answers every http-01 challenge of `order` and waits until it is ready.
async fn prove(authority: &Authority, account: &Account, order: &mut Order) {
    for authz in order.authorizations().await.unwrap() {
        assert_eq!(authz.status, Status::Pending);
        let challenge = authz.challenge("http-01").expect("http-01 is offered");
        authority.serve(&challenge.token, account.key_authorization(challenge));
        let answered = account.respond(challenge, &json!({})).await.unwrap();
        assert_eq!(answered.url, challenge.url);
    }
    assert_eq!(order.poll_ready().await.unwrap().status, Status::Ready);
}

/// A tls-server certificate for the provider: (order, chain, certificate key).
async fn issue(
    authority: &Authority,
    account: &Account,
    replaces: Option<&str>,
) -> (Order, Vec<Vec<u8>>, AccountKey) {
    let mut order = account
        .new_order(&[dns(PROVIDER)], Some("tls-server"), replaces)
        .await
        .unwrap();
    assert_eq!(order.state().status, Status::Pending);
    assert_eq!(order.state().replaces.as_deref(), replaces);
    prove(authority, account, &mut order).await;
    let cert_key = AccountKey::generate(KeyAlg::Es256).unwrap();
    order.finalize(&csr(&cert_key)).await.unwrap();
    assert_eq!(order.poll_valid().await.unwrap().status, Status::Valid);
    let chain = order.certificate_chain().await.unwrap();
    (order, chain, cert_key)
}

fn pem(der: &[u8]) -> String {
    mimi_credentials::Certificate::from_der(der).unwrap().pem()
}

#[tokio::test]
async fn an_account_bound_by_eab_gets_a_tls_certificate_that_openssl_verifies() {
    let authority = Authority::start().await;
    authority.store_eab("vetted", MAC_KEY).await;
    let client = authority.client().await;
    assert!(client.directory().meta.profiles.contains_key("tls-server"));

    let key = AccountKey::generate(KeyAlg::EdDsa).unwrap();
    let eab = ExternalAccountBinding::new("vetted", MAC_KEY);
    let new = NewAccount {
        contact: &[],
        terms_of_service_agreed: true,
        external_account_binding: Some(&eab),
    };
    let (account, state) = Account::create(&client, key, &new).await.unwrap();
    assert_eq!(state.status, Status::Valid);
    assert!(account.url().starts_with("https://acme.authority.example:"));

    let (_, chain, cert_key) = issue(&authority, &account, None).await;
    let leaf = mimi_credentials::Certificate::from_der(&chain[0]).unwrap();
    assert_eq!(leaf.dns_names(), [PROVIDER]);
    assert_eq!(leaf.spki_der(), spki(&cert_key));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.pem");
    let leaf_file = dir.path().join("leaf.pem");
    let untrusted = dir.path().join("untrusted.pem");
    std::fs::write(&root, authority.tls_root.pem()).unwrap();
    std::fs::write(&leaf_file, pem(&chain[0])).unwrap();
    let rest: String = chain[1..].iter().map(|c| pem(c)).collect();
    let mut verify = Command::new("openssl");
    verify.arg("verify").arg("-CAfile").arg(&root);
    if !rest.is_empty() {
        std::fs::write(&untrusted, rest).unwrap();
        verify.arg("-untrusted").arg(&untrusted);
    }
    let out = verify.arg(&leaf_file).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": OK\n"));
}

/// The certificate key's SubjectPublicKeyInfo, through a self-signed
/// certificate rcgen makes with it.
fn spki(key: &AccountKey) -> Vec<u8> {
    let key = rcgen::KeyPair::try_from(key.to_pkcs8().as_slice()).unwrap();
    rcgen::PublicKeyData::subject_public_key_info(&key)
}

#[tokio::test]
async fn renewal_information_and_a_replacing_order() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::Es256).await;
    let (_, chain, _) = issue(&authority, &account, None).await;
    let leaf = mimi_credentials::Certificate::from_der(&chain[0]).unwrap();

    let info = account.client().renewal_info(&chain[0]).await.unwrap();
    let (start, end) = info.suggested_window;
    assert!(leaf.not_before() < start && start < end && end < leaf.not_after());
    assert!(info.renewal_time >= start && info.renewal_time <= end);
    assert!(!info.should_renew(SystemTime::now()));
    assert!(info.should_renew(end));
    // The authority asks to be polled again in six hours.
    assert_eq!(info.retry_after.as_secs(), 6 * 3600);

    let id = mimi_acme_client::cert_id(&chain[0]).unwrap();
    let (aki, serial) = id.split_once('.').unwrap();
    assert!(!aki.is_empty() && !serial.is_empty());
    let (_, renewed, _) = issue(&authority, &account, Some(&id)).await;
    assert_ne!(renewed[0], chain[0]);

    // A certificate is replaced once.
    let err = account
        .new_order(&[dns(PROVIDER)], Some("tls-server"), Some(&id))
        .await
        .unwrap_err();
    let problem = err.problem().expect("a problem document");
    assert!(problem.is("alreadyReplaced"), "{err}");
    assert_eq!(problem.status, Some(409));
}

#[tokio::test]
async fn revocation_by_the_account_and_by_the_certificate_key() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::EdDsa).await;
    let client = account.client().clone();

    let (_, first, _) = issue(&authority, &account, None).await;
    account
        .revoke(&first[0], RevocationReason::Superseded)
        .await
        .unwrap();
    let err = account
        .revoke(&first[0], RevocationReason::Superseded)
        .await
        .unwrap_err();
    assert!(err.problem().unwrap().is("alreadyRevoked"), "{err}");
    // ARI says: renew now.
    let info = client.renewal_info(&first[0]).await.unwrap();
    assert!(info.should_renew(SystemTime::now()));

    let (_, second, cert_key) = issue(&authority, &account, None).await;
    // A key that is not the certificate's may not revoke it.
    let stranger = AccountKey::generate(KeyAlg::Es256).unwrap();
    let err = client
        .revoke_with_key(&second[0], &stranger, RevocationReason::KeyCompromise)
        .await
        .unwrap_err();
    assert!(err.problem().unwrap().is("unauthorized"), "{err}");
    client
        .revoke_with_key(&second[0], &cert_key, RevocationReason::KeyCompromise)
        .await
        .unwrap();
    let err = client
        .revoke_with_key(&second[0], &cert_key, RevocationReason::KeyCompromise)
        .await
        .unwrap_err();
    assert!(err.problem().unwrap().is("alreadyRevoked"), "{err}");
}

#[tokio::test]
async fn a_forbidden_identifier_surfaces_as_rejected_identifier() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::Es256).await;
    let err = account
        .new_order(&[dns("*.a.example")], None, None)
        .await
        .unwrap_err();
    let Error::Problem {
        url,
        problem,
        retry_after,
    } = &err
    else {
        panic!("not a problem: {err}");
    };
    assert_eq!(url, &account.client().directory().new_order);
    assert_eq!(
        problem.type_,
        "urn:ietf:params:acme:error:rejectedIdentifier"
    );
    assert_eq!(
        problem.detail.as_deref(),
        Some("\"*.a.example\": wildcard names are not issued; order each name explicitly")
    );
    assert_eq!(problem.status, Some(400));
    assert_eq!(*retry_after, None);
    assert_eq!(
        err.to_string(),
        format!(
            "the ACME server refused {url}: urn:ietf:params:acme:error:rejectedIdentifier: \"*.a.example\": wildcard names are not issued; order each name explicitly"
        )
    );
}

#[tokio::test]
async fn a_bad_nonce_is_retried_once_with_the_fresh_nonce() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::Es256).await;
    // A nonce the server never issued: the next request is refused with
    // badNonce, and the retry with the nonce of that refusal succeeds.
    account
        .client()
        .dangerous_push_nonce("bm90LWEtcmVhbC1ub25jZQ");
    let state = account.state().await.unwrap();
    assert_eq!(state.status, Status::Valid);
}

#[tokio::test]
async fn a_wrong_eab_mac_key_is_refused_and_creates_no_account() {
    let authority = Authority::start().await;
    authority.store_eab("vetted", MAC_KEY).await;
    let client = authority.client().await;
    let key = AccountKey::generate(KeyAlg::Es256).unwrap();
    let pkcs8 = key.to_pkcs8();
    let wrong = ExternalAccountBinding::new("vetted", &[0x5b; 32]);
    let new = NewAccount {
        contact: &[],
        terms_of_service_agreed: true,
        external_account_binding: Some(&wrong),
    };
    let err = Account::create(&client, key, &new).await.unwrap_err();
    let problem = err.problem().unwrap();
    assert!(problem.is("unauthorized"), "{err}");
    assert_eq!(
        problem.detail.as_deref(),
        Some(
            "externalAccountBinding: the MAC does not verify under key vetted; MAC with the HMAC key that came with that kid"
        )
    );
    // No account exists for the key.
    let key = AccountKey::from_pkcs8(&pkcs8).unwrap();
    let err = Account::find(&client, key).await.unwrap_err();
    assert!(err.problem().unwrap().is("accountDoesNotExist"), "{err}");
}

#[tokio::test]
async fn an_account_is_found_by_its_key_and_created_once() {
    let authority = Authority::start().await;
    let client = authority.client().await;
    let key = AccountKey::generate(KeyAlg::EdDsa).unwrap();
    let pkcs8 = key.to_pkcs8();
    let new = NewAccount::default();
    let (created, _) = Account::create(&client, key, &new).await.unwrap();
    let again = AccountKey::from_pkcs8(&pkcs8).unwrap();
    let (same, _) = Account::create(&client, again, &new).await.unwrap();
    assert_eq!(same.url(), created.url());
    let (found, state) = Account::find(&client, AccountKey::from_pkcs8(&pkcs8).unwrap())
        .await
        .unwrap();
    assert_eq!(found.url(), created.url());
    assert_eq!(state.status, Status::Valid);
    // Loaded from a stored URL and key, it signs as the account.
    let loaded = Account::load(
        &client,
        AccountKey::from_pkcs8(&pkcs8).unwrap(),
        created.url(),
    );
    let contact = ["mailto:new@a.example".to_owned()];
    let updated = loaded.update_contact(&contact).await.unwrap();
    assert_eq!(updated.contact, contact);
}

#[tokio::test]
async fn key_rollover_then_deactivation() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::Es256).await;
    let old = account.key().to_pkcs8();
    account
        .key_change(AccountKey::generate(KeyAlg::EdDsa).unwrap())
        .await
        .unwrap();
    assert_eq!(account.key().alg(), KeyAlg::EdDsa);
    assert_eq!(account.state().await.unwrap().status, Status::Valid);
    // The old key no longer signs for the account.
    let stale = Account::load(
        account.client(),
        AccountKey::from_pkcs8(&old).unwrap(),
        account.url(),
    );
    let err = stale.state().await.unwrap_err();
    assert!(err.problem().unwrap().is("malformed"), "{err}");

    let state = account.deactivate().await.unwrap();
    assert_eq!(state.status, Status::Deactivated);
    let err = account.state().await.unwrap_err();
    let problem = err.problem().unwrap();
    assert!(problem.is("unauthorized"), "{err}");
    assert_eq!(problem.status, Some(401));
}

#[tokio::test]
async fn request_eab_needs_a_domain_ca() {
    let authority = Authority::start().await;
    let account = account(&authority, KeyAlg::Es256).await;
    let err = account
        .request_eab(&[dns(PROVIDER)], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOffered(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "this ACME server does not offer mimiNewEab (its directory {} lists none): is it a MIMI domain CA? Use the directory URL of your domain's CA, not the identity authority's",
            authority.directory
        )
    );
}
