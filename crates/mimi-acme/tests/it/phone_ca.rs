//! The phone-ca profile end to end with the raw client: an EAB account
//! orders a telephone number (TNAuthList, sms-link-00) together with its
//! domain (dns, http-01), reads the code "as the phone" from the outbox,
//! completes, finalizes and gets a phone-number CA that issues user
//! certificates a client verifies against the identity root.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_acme::{AcmeStore, Limits};
use mimi_credentials::{
    CaRole, Certificate, CertificateAuthority, Crl, KeyPair, SignatureScheme, Subject,
    TelephoneNumber, TnAuthList, TrustAnchors, Validity, verify_chain,
};
use mimi_identifiers::{Domain, PhoneNumber, UserId};
use serde_json::json;

use crate::harness::{Authority, PROVIDER_DOMAIN};
use crate::raw_client::{RawClient, b64, csr_and_key_with_tn, tn_value};

pub const MAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+12015550123";

/// Checks that `chain_pem` is a phone-number CA for `number` at `domain`
/// from the authority's identity root, whose key is `key_pkcs8`: its shape,
/// its role, and that a user certificate it issues for that number verifies
/// against the identity root (with both CRLs) and names the number.
pub fn check_phone_ca(
    authority: &Authority,
    chain_pem: &str,
    key_pkcs8: &[u8],
    scheme: SignatureScheme,
    number: &str,
    domain: &str,
) {
    let chain = Certificate::from_pem_chain(chain_pem).unwrap();
    assert_eq!(
        chain.len(),
        2,
        "the phone-number CA, then the identity root"
    );
    let root = authority.identity_root.certificate();
    assert_eq!(chain[1].der(), root.der());
    let ca_cert = &chain[0];
    assert_eq!(ca_cert.issuer_text(), root.subject_text());
    let lifetime = ca_cert
        .not_after()
        .duration_since(ca_cert.not_before())
        .unwrap();
    assert!(
        lifetime <= Duration::from_secs(30 * 86400),
        "lifetime {lifetime:?}"
    );
    assert_eq!(ca_cert.ca(), Some(Some(1)), "a CA with path length 1");
    assert_eq!(
        ca_cert.uri_constraints().unwrap().permitted,
        vec![domain.to_owned()]
    );
    let phone = PhoneNumber::parse(number).unwrap();
    let numbers = TnAuthList::one(&phone);
    assert_eq!(ca_cert.tn_auth_list(), Some(&numbers));

    let key = KeyPair::from_pkcs8_der(key_pkcs8, scheme).unwrap();
    let ca = CertificateAuthority::from_parts(ca_cert.clone(), key).unwrap();
    let domain = Domain::parse(domain).unwrap();
    assert_eq!(
        ca.role(),
        &CaRole::Phone {
            domain: domain.clone(),
            numbers: numbers.clone()
        }
    );

    // The provider binds the number to one of its users; a client verifies
    // the user's certificate against the identity root, with both CRLs.
    let now = SystemTime::now();
    let validity = Validity::new(
        now - Duration::from_secs(60),
        now + Duration::from_secs(86400),
    )
    .unwrap();
    let alice = UserId::new("alice", Some(domain.clone())).unwrap();
    let user_key = KeyPair::generate(SignatureScheme::Ed25519)
        .unwrap()
        .public_key();
    let user = |numbers: TnAuthList| Subject::User {
        user: alice.clone(),
        issues_devices: false,
        numbers: Some(numbers),
        organization: None,
    };
    let alice_cert = ca
        .issue(&user(numbers.clone()), &user_key, validity)
        .unwrap();
    let hour = Duration::from_secs(3600);
    let crls: Vec<Crl> = vec![
        authority
            .identity_root
            .crl(&[], now - Duration::from_secs(60), now + hour, 1)
            .unwrap(),
        ca.crl(&[], now - Duration::from_secs(60), now + hour, 1)
            .unwrap(),
    ];
    let anchors = TrustAnchors::new(vec![root.clone()]);
    let cred = verify_chain(&[alice_cert, ca_cert.clone()], &anchors, &crls, now).unwrap();
    assert_eq!(cred.user(), &alice);
    assert_eq!(
        cred.phone_numbers(),
        &[TelephoneNumber::new(phone.digits()).unwrap()]
    );
    assert_eq!(cred.issuing_domain(), &domain);

    // The number proved is all it can certify, and only in its domain.
    let other = TnAuthList::one(&PhoneNumber::parse("+12015550199").unwrap());
    assert!(ca.issue(&user(other), &user_key, validity).is_err());
    let bob = UserId::new("bob", Some(Domain::parse("b.example").unwrap())).unwrap();
    let elsewhere = Subject::User {
        user: bob,
        issues_devices: false,
        numbers: Some(numbers),
        organization: None,
    };
    assert!(ca.issue(&elsewhere, &user_key, validity).is_err());
}

/// Everything the server logs, at every level, while the guard lives (this
/// thread only: `#[tokio::test]` runs the server on the test's thread).
struct LogCapture {
    text: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    fn start() -> LogCapture {
        use tracing_subscriber::util::SubscriberInitExt;
        let text: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = text.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        LogCapture {
            text,
            _guard: subscriber.set_default(),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_provider_proves_a_number_and_its_domain_and_gets_a_phone_number_ca() {
    let logs = LogCapture::start();
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    authority
        .store
        .add_eab_key("provider-a", MAC_KEY)
        .await
        .unwrap();

    // The directory offers the profile.
    let directory: serde_json::Value = c
        .http
        .get(&authority.directory)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        directory["meta"]["profiles"]["phone-ca"]
            .as_str()
            .unwrap()
            .contains("sms-link-00"),
        "{directory}"
    );

    let account = c.account(Some(("provider-a", MAC_KEY))).await;
    let (order_url, order) = c.phone_order(&account, NUMBER, PROVIDER_DOMAIN).await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["profile"], "phone-ca");
    assert_eq!(
        order["identifiers"],
        json!([
            {"type": "TNAuthList", "value": tn_value(NUMBER)},
            {"type": "dns", "value": PROVIDER_DOMAIN},
        ])
    );

    // Each authorization offers exactly one challenge: sms-link-00 for the
    // number, http-01 for the domain.
    let authz_urls: Vec<String> = order["authorizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(authz_urls.len(), 2);
    let tn_authz = c.fetch(&account, &authz_urls[0]).await;
    assert_eq!(tn_authz["identifier"]["type"], "TNAuthList");
    let dns_authz = c.fetch(&account, &authz_urls[1]).await;
    assert_eq!(dns_authz["identifier"]["value"], PROVIDER_DOMAIN);
    let types = |authz: &serde_json::Value| -> Vec<String> {
        authz["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(types(&tn_authz), ["sms-link-00"]);
    assert_eq!(types(&dns_authz), ["http-01"]);
    let (sms_url, token) = c.sms_challenge(&account, &order).await;
    let challenge = &tn_authz["challenges"][0];
    assert_eq!(challenge["status"], "pending");
    assert_eq!(challenge["url"], sms_url.as_str());
    // The token: at least 128 bits, base64url without padding.
    let token_bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
    assert!(token_bytes.len() >= 16 && !token.contains('='));
    let members: Vec<&String> = challenge.as_object().unwrap().keys().collect();
    assert_eq!(members, ["status", "token", "type", "url"]);

    // The domain, with http-01.
    c.answer_http01(&authority, &account, &order_url).await;
    c.wait_for(&account, &authz_urls[1], "valid").await;
    assert_eq!(c.fetch(&account, &order_url).await["status"], "pending");

    // The SMS gateway is down at first: the challenge goes back to pending,
    // and asking again sends a code.
    authority
        .sms_failures
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let reply = c.post_as(&account, &sms_url, Some(&json!({}))).await;
    assert_eq!(
        reply.status,
        500,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.json()["type"],
        "urn:ietf:params:acme:error:serverInternal"
    );
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("POST {} to it again")
    );
    assert_eq!(c.fetch(&account, &sms_url).await["status"], "pending");
    assert!(authority.texts_to(NUMBER).is_empty());

    c.send_code(&account, &sms_url).await;
    let texts = authority.texts_to(NUMBER);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains(PROVIDER_DOMAIN),
        "the text names the provider: {}",
        texts[0]
    );
    let code = authority.latest_code(NUMBER);
    let processing = c.fetch(&account, &sms_url).await;
    assert_eq!(processing["status"], "processing");
    let members: Vec<&String> = processing.as_object().unwrap().keys().collect();
    assert_eq!(members, ["status", "token", "type", "url"]);

    let reply = c.complete(&account, &sms_url, &token, &code).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let valid = reply.json();
    assert_eq!(valid["status"], "valid");
    assert!(valid["validated"].is_string());
    assert!(
        reply.headers.get_all("link").iter().any(|l| l
            .to_str()
            .unwrap()
            .contains(&format!("<{}>;rel=\"up\"", authz_urls[0]))),
        "the challenge links up to its authorization"
    );
    assert_eq!(c.fetch(&account, &authz_urls[0]).await["status"], "valid");
    let ready = c.wait_for(&account, &order_url, "ready").await;

    // Finalize with a CSR naming the domain and carrying the TNAuthList.
    let phone = PhoneNumber::parse(NUMBER).unwrap();
    let (csr, key) =
        csr_and_key_with_tn(&[PROVIDER_DOMAIN], Some(&TnAuthList::one(&phone).to_der()));
    let reply = c
        .post_as(
            &account,
            ready["finalize"].as_str().unwrap(),
            Some(&json!({"csr": b64(&csr)})),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let valid = c.wait_for(&account, &order_url, "valid").await;
    let reply = c
        .post_as(&account, valid["certificate"].as_str().unwrap(), None)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/pem-certificate-chain")
    );
    let chain_pem = String::from_utf8(reply.body.clone()).unwrap();
    check_phone_ca(
        &authority,
        &chain_pem,
        &key,
        SignatureScheme::Ed25519,
        NUMBER,
        PROVIDER_DOMAIN,
    );

    // The code was never in a response, nor in a log line; the gateway's
    // failure was (so the capture works).
    let seen = c.seen.lock().unwrap();
    assert!(seen.len() > 10);
    for body in seen.iter() {
        assert!(
            !String::from_utf8_lossy(body).contains(&code),
            "a response shows the code: {}",
            String::from_utf8_lossy(body)
        );
    }
    let logged = logs.text();
    assert!(
        logged.contains("sending an sms-link-00 code failed"),
        "{logged}"
    );
    assert!(!logged.contains(&code), "a log line shows the code");
}

/// The worked examples of docs/sms-link-00.md, verbatim.
#[test]
fn the_examples_of_the_sms_link_00_spec_hold() {
    assert_eq!(tn_value("+12015550123"), "MA-iDRYLMTIwMTU1NTAxMjM");
    let digest = mimi_acme::ra::sms_key_authorization_digest(
        "123456",
        "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    );
    assert_eq!(b64(&digest), "KQB8deSDcbCQJy2uk2CqVuvsoVSzMVQNc3JYTVEzAAQ");
    assert_eq!(
        mimi_acme::sms::message_text("a.example", "123456"),
        "123456 is your code to link this number to your account at a.example (MIMI). \
         Give it only to a.example; if you did not ask, ignore this message."
    );
}

/// The code's lifetime and the wrong answers allowed come from `Limits`:
/// here one second and two answers.
#[tokio::test]
async fn codes_expire_and_wrong_answers_run_out_as_configured() {
    let authority = Authority::start_with(Limits {
        sms_code_lifetime: Duration::from_secs(1),
        sms_max_attempts: 2,
        ..Limits::default()
    })
    .await;
    let c = RawClient::new(&authority);
    authority.store.add_eab_key("p", MAC_KEY).await.unwrap();
    let account = c.account(Some(("p", MAC_KEY))).await;
    let problem_type = |reply: &crate::raw_client::Reply| {
        reply.json()["type"]
            .as_str()
            .unwrap()
            .trim_start_matches("urn:ietf:params:acme:error:")
            .to_owned()
    };

    // Two wrong answers: the first leaves one, the second ends it.
    let (order_url, order) = c.phone_order(&account, NUMBER, PROVIDER_DOMAIN).await;
    let (url, token) = c.sms_challenge(&account, &order).await;
    c.send_code(&account, &url).await;
    let code = authority.latest_code(NUMBER);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let reply = c.complete(&account, &url, &token, wrong).await;
    assert_eq!(
        (reply.status, problem_type(&reply).as_str()),
        (400, "incorrectResponse")
    );
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("1 attempt(s) left")
    );
    assert_eq!(c.fetch(&account, &url).await["status"], "processing");
    let reply = c.complete(&account, &url, &token, wrong).await;
    assert_eq!(
        (reply.status, problem_type(&reply).as_str()),
        (400, "incorrectResponse")
    );
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("last of 2 attempts")
    );
    let challenge = c.fetch(&account, &url).await;
    assert_eq!(challenge["status"], "invalid");
    assert_eq!(
        challenge["error"]["type"],
        "urn:ietf:params:acme:error:incorrectResponse"
    );
    let order = c.fetch(&account, &order_url).await;
    assert_eq!(order["status"], "invalid");
    assert_eq!(
        c.fetch(&account, order["authorizations"][0].as_str().unwrap())
            .await["status"],
        "invalid"
    );
    // Even the right code is too late now.
    let reply = c.complete(&account, &url, &token, &code).await;
    assert_eq!(
        (reply.status, problem_type(&reply).as_str()),
        (400, "malformed")
    );

    // The right code, after the lifetime: unauthorized, and all invalid.
    let (order_url, order) = c.phone_order(&account, NUMBER, PROVIDER_DOMAIN).await;
    let (url, token) = c.sms_challenge(&account, &order).await;
    c.send_code(&account, &url).await;
    let code = authority.latest_code(NUMBER);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let reply = c.complete(&account, &url, &token, &code).await;
    assert_eq!(
        (reply.status, problem_type(&reply).as_str()),
        (403, "unauthorized")
    );
    assert!(reply.json()["detail"].as_str().unwrap().contains("expired"));
    let challenge = c.fetch(&account, &url).await;
    assert_eq!(challenge["status"], "invalid");
    assert_eq!(
        challenge["error"]["type"],
        "urn:ietf:params:acme:error:unauthorized"
    );
    assert_eq!(c.fetch(&account, &order_url).await["status"], "invalid");
}
