//! Revocation (RFC 8555 §7.6), the roots' CRLs that untrusted providers
//! relay (draft-barnes-mimi-identity-arch §4.3), and ACME renewal
//! information (RFC 9773), over HTTPS with instant-acme and the raw client,
//! checked with mimi-credentials and OpenSSL.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::{
    CertificateIdentifier, Identifier, NewOrder, RevocationReason, RevocationRequest,
};
use mimi_credentials::{
    Certificate, Crl, KeyPair, SignatureScheme, Subject, TrustAnchors, Validity, verify_chain,
};
use mimi_identifiers::{DeviceId, Domain, UserId};
use rustls_pki_types::{CertificateDer, Der};
use serde_json::json;
use sqlx::Row;

use crate::harness::{Authority, PROVIDER, PROVIDER_DOMAIN};
use crate::instant_acme_flows::{account, domain_ca_over_acme, retries, solve_http01};
use crate::raw_client::{
    AccountKey, RawClient, Request, b64, cert_id, leaf_der, order_payload, signed,
};

/// Fetches a CRL over HTTPS, as a provider would before relaying it.
async fn fetch_crl(authority: &Authority, issuer: &str) -> Crl {
    let url = format!("{}/acme/crl/{issuer}", authority.base);
    let reply = authority.https().get(&url).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{url}");
    assert_eq!(
        reply.headers()["content-type"],
        "application/pkix-crl",
        "{url}"
    );
    Crl::from_der(&reply.bytes().await.unwrap()).unwrap()
}

/// `openssl crl -text` of a DER CRL, after OpenSSL has checked its
/// signature under `issuer` (PEM).
fn openssl_crl_text(crl: &Crl, issuer: &Certificate) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (crl_path, ca_path) = (dir.path().join("crl.der"), dir.path().join("ca.pem"));
    std::fs::write(&crl_path, crl.der()).unwrap();
    std::fs::write(&ca_path, issuer.pem()).unwrap();
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-text", "-noout", "-in"])
        .arg(&crl_path)
        .arg("-CAfile")
        .arg(&ca_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("verify OK"), "OpenSSL: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// A serial as `openssl crl -text` prints it: uppercase hex of the
/// integer, without the leading zero byte DER may need.
fn openssl_serial(serial: &[u8]) -> String {
    let start = serial.iter().position(|&b| b != 0).unwrap_or(0);
    serial[start..].iter().map(|b| format!("{b:02X}")).collect()
}

/// The CRL number in `openssl crl -text` output.
fn crl_number(text: &str) -> u64 {
    let mut lines = text.lines();
    lines
        .find(|l| l.contains("X509v3 CRL Number"))
        .expect("a CRL number");
    lines.next().unwrap().trim().parse().unwrap()
}

/// Unix seconds of an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ" (days from
/// civil, Howard Hinnant's algorithm: the inverse of what the server does).
fn unix_of(rfc3339: &str) -> i64 {
    assert!(rfc3339.len() == 20 && rfc3339.ends_with('Z'), "{rfc3339}");
    let n = |r: std::ops::Range<usize>| rfc3339[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The revocation columns of the certificate with serial `serial`.
async fn revocation_of(authority: &Authority, serial: &[u8]) -> (Option<i64>, Option<i64>) {
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    let row =
        sqlx::query("SELECT revoked_at, revocation_reason FROM certificates WHERE serial = ?")
            .bind(hex)
            .fetch_one(authority.store.pool())
            .await
            .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_revoked_domain_ca_is_listed_in_the_identity_root_crl_and_its_devices_stop_verifying() {
    let authority = Authority::start().await;
    // The provider gets its domain CA over ACME ...
    let (account, chain, domain_ca) = domain_ca_over_acme(&authority, "provider-a").await;

    // ... and certifies Alice's phone with it.
    let now = SystemTime::now();
    let validity = Validity::new(
        now - Duration::from_secs(60),
        now + Duration::from_secs(86400),
    )
    .unwrap();
    let alice = UserId::new("alice", Some(Domain::parse(PROVIDER_DOMAIN).unwrap())).unwrap();
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
    let device_chain = [device, chain[0].clone()];
    // The domain CA's own CRL (it revokes nothing here); the provider
    // relays it with the root's.
    let domain_crl = domain_ca
        .crl(
            &[],
            now - Duration::from_secs(60),
            now + Duration::from_secs(3600),
            1,
        )
        .unwrap();
    let anchors = TrustAnchors::new(vec![authority.identity_root.certificate().clone()]);
    let root = authority.identity_root.certificate();

    // Before: the root's CRL, fetched over HTTPS, lists nothing, and the
    // device verifies.
    let before = fetch_crl(&authority, "identity-root").await;
    assert_eq!(before.revoked_count(), 0);
    let check_time = SystemTime::now();
    verify_chain(
        &device_chain,
        &anchors,
        &[before.clone(), domain_crl.clone()],
        check_time,
    )
    .unwrap();
    let before_text = openssl_crl_text(&before, root);
    // Fetched again within the hour, it is the same CRL (cached, not re-signed).
    assert_eq!(
        fetch_crl(&authority, "identity-root").await.der(),
        before.der()
    );

    // The provider's account revokes its domain CA (key compromise).
    let ca_der = CertificateDer::from(chain[0].der().to_vec());
    account
        .revoke(&RevocationRequest {
            certificate: &ca_der,
            reason: Some(RevocationReason::KeyCompromise),
        })
        .await
        .unwrap();
    let (revoked_at, reason) = revocation_of(&authority, chain[0].serial()).await;
    assert!(revoked_at.is_some_and(|t| (t - unix(SystemTime::now())).abs() < 60));
    assert_eq!(reason, Some(1));

    // After: the re-signed CRL lists the domain CA, and the device no longer
    // verifies — the chain fails as revoked.
    let after = fetch_crl(&authority, "identity-root").await;
    assert!(after.lists(chain[0].serial()));
    assert_eq!(after.revoked_count(), 1);
    let fetched = SystemTime::now();
    assert!(after.this_update() <= fetched);
    let next_update = after.next_update().expect("a nextUpdate");
    assert!(fetched < next_update);
    assert!(next_update.duration_since(after.this_update()).unwrap() <= Duration::from_secs(86400));
    let err = verify_chain(
        &device_chain,
        &anchors,
        &[after.clone(), domain_crl],
        fetched,
    )
    .expect_err("a revoked domain CA's device must not verify");
    assert!(err.to_string().contains("revoked"), "{err}");

    // OpenSSL reads the same: signed by the identity root, the serial
    // listed, a larger CRL number.
    let after_text = openssl_crl_text(&after, root);
    assert!(
        after_text.contains(&format!(
            "Serial Number: {}",
            openssl_serial(chain[0].serial())
        )),
        "{after_text}"
    );
    assert!(!before_text.contains("Serial Number"), "{before_text}");
    assert!(crl_number(&after_text) > crl_number(&before_text));

    // A second revocation: alreadyRevoked, and the CRL stays as it is.
    let err = account
        .revoke(&RevocationRequest {
            certificate: &ca_der,
            reason: None,
        })
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("alreadyRevoked"), "{err}");
    assert_eq!(
        fetch_crl(&authority, "identity-root").await.der(),
        after.der()
    );
}

#[tokio::test]
async fn the_certificate_key_revokes_and_the_tls_root_crl_lists_it() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let a = c.account(None).await;
    // The certificate's key is a P-256 key that can also sign a JWS.
    let (cert_key, pkcs8) = AccountKey::generate_with_pkcs8();
    let csr_key = rcgen::KeyPair::try_from(pkcs8.as_slice()).unwrap();
    let csr = rcgen::CertificateParams::new(vec![PROVIDER.to_owned()])
        .unwrap()
        .serialize_request(&csr_key)
        .unwrap()
        .der()
        .to_vec();
    let der = leaf_der(
        &c.issue(&authority, &a, &order_payload(&[PROVIDER]), &csr)
            .await,
    );
    let cert = Certificate::from_der(&der).unwrap();

    let url = c.url("/acme/revoke-cert");
    let header = c.jwk_header(&cert_key, &url, &c.nonce().await);
    let payload = json!({"certificate": b64(&der), "reason": 4});
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
    assert!(reply.header("replay-nonce").is_some());
    assert_eq!(revocation_of(&authority, cert.serial()).await.1, Some(4));

    // The TLS root's CRL lists it; the identity root's does not.
    let tls = fetch_crl(&authority, "tls-root").await;
    assert!(tls.lists(cert.serial()));
    let text = openssl_crl_text(&tls, &authority.tls_root);
    assert!(
        text.contains(&format!("Serial Number: {}", openssl_serial(cert.serial()))),
        "{text}"
    );
    let identity = fetch_crl(&authority, "identity-root").await;
    assert!(!identity.lists(cert.serial()));
    assert_eq!(identity.revoked_count(), 0);
}

#[tokio::test]
async fn renewal_info_suggests_the_middle_third_and_at_once_after_revocation() {
    let authority = Authority::start().await;
    let account = account(&authority, None).await;
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    solve_http01(&authority, &mut order).await;
    order.poll_ready(&retries()).await.unwrap();
    order.finalize().await.unwrap();
    let der = leaf_der(&order.poll_certificate(&retries()).await.unwrap());
    let cert = Certificate::from_der(&der).unwrap();

    // The certID, from OpenSSL's reading of the authority key identifier,
    // as instant-acme builds it.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("cert.pem");
    std::fs::write(&pem, cert.pem()).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "authorityKeyIdentifier", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let aki_hex: String = text
        .lines()
        .nth(1)
        .expect("the AKI line")
        .trim()
        .trim_start_matches("keyid:")
        .split(':')
        .collect();
    let aki: Vec<u8> = (0..aki_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&aki_hex[i..i + 2], 16).unwrap())
        .collect();
    let id = CertificateIdentifier::new(Der::from_slice(&aki), Der::from_slice(cert.serial()));
    assert_eq!(id.to_string(), cert_id(&der));
    assert_eq!(
        id.to_string(),
        format!("{}.{}", b64(&aki), b64(cert.serial()))
    );

    // The window: the middle third of the certificate's lifetime, and a
    // Retry-After of six hours.
    let c = RawClient::new(&authority);
    let ari_url = c.url(&format!("/acme/renewal-info/{id}"));
    let reply = c.get(&ari_url).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.header("retry-after"), Some("21600"));
    let window = reply.json()["suggestedWindow"].clone();
    let (start, end) = (
        unix_of(window["start"].as_str().unwrap()),
        unix_of(window["end"].as_str().unwrap()),
    );
    let (not_before, not_after) = (unix(cert.not_before()), unix(cert.not_after()));
    let third = (not_after - not_before) / 3;
    assert_eq!((start, end), (not_before + third, not_before + 2 * third));

    // A renewal that names the certificate it replaces (instant-acme checks
    // that the order echoes `replaces`).
    let mut renewal = account
        .new_order(&NewOrder::new(&ids).replaces(id.clone()))
        .await
        .unwrap();
    assert_eq!(renewal.state().replaces.as_ref(), Some(&id));
    solve_http01(&authority, &mut renewal).await;
    renewal.poll_ready(&retries()).await.unwrap();
    renewal.finalize().await.unwrap();
    let renewed = leaf_der(&renewal.poll_certificate(&retries()).await.unwrap());
    assert_ne!(renewed, der);
    // Once replaced, it cannot be replaced again.
    let err = account
        .new_order(&NewOrder::new(&ids).replaces(id.clone()))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("alreadyReplaced"), "{err}");

    // Revoked: the window lies in the past, so renew now.
    account
        .revoke(&RevocationRequest {
            certificate: &CertificateDer::from(der.clone()),
            reason: Some(RevocationReason::Superseded),
        })
        .await
        .unwrap();
    let reply = c.get(&ari_url).await;
    assert_eq!(reply.status, 200);
    let window = reply.json()["suggestedWindow"].clone();
    let (start, end) = (
        unix_of(window["start"].as_str().unwrap()),
        unix_of(window["end"].as_str().unwrap()),
    );
    let now = unix(SystemTime::now());
    assert!(start < end && end <= now && now - end < 60, "{window}");
}

/// instant-acme's `Account::renewal_info` (code nobody here wrote) reads the
/// window and turns Retry-After into a delay.
#[tokio::test]
async fn instant_acme_reads_the_renewal_window() {
    let authority = Authority::start().await;
    let account = account(&authority, None).await;
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    solve_http01(&authority, &mut order).await;
    order.poll_ready(&retries()).await.unwrap();
    order.finalize().await.unwrap();
    let der = leaf_der(&order.poll_certificate(&retries()).await.unwrap());
    let cert = Certificate::from_der(&der).unwrap();
    let aki = mimi_acme::ca::authority_key_id(&der).unwrap();
    let id = CertificateIdentifier::new(Der::from_slice(&aki), Der::from_slice(cert.serial()));

    let (info, retry) = account.renewal_info(&id).await.unwrap();
    let (not_before, not_after) = (unix(cert.not_before()), unix(cert.not_after()));
    let third = (not_after - not_before) / 3;
    let window = &info.suggested_window;
    assert_eq!(window.start.unix_timestamp(), not_before + third);
    assert_eq!(window.end.unix_timestamp(), not_before + 2 * third);
    assert!(
        Duration::from_secs(21_500) < retry && retry <= Duration::from_secs(21_600),
        "{retry:?}"
    );

    // Revoked: the window has passed, renew now.
    account
        .revoke(&RevocationRequest {
            certificate: &CertificateDer::from(der),
            reason: None,
        })
        .await
        .unwrap();
    let (info, _) = account.renewal_info(&id).await.unwrap();
    let now = unix(SystemTime::now());
    assert!(info.suggested_window.end.unix_timestamp() <= now);

    // A certificate never issued here: an error, not a window (instant-acme
    // looks for Retry-After before it reads the 404's problem document, so
    // its error names the missing header rather than the problem).
    let unknown = CertificateIdentifier::new(Der::from_slice(&aki), Der::from_slice(&[1; 16]));
    assert!(account.renewal_info(&unknown).await.is_err());
}
