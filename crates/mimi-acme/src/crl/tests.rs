//! The CRL cache: when it re-signs, what it lists, and that CRL numbers only
//! ever grow, across restarts too.

use std::time::{Duration, SystemTime};

use mimi_credentials::{
    CertificateAuthority, Crl, KeyPair, SignatureScheme, Subject, TrustAnchors, Validity,
};
use mimi_identifiers::Domain;

use super::{CRL_LIFETIME, CRL_RESIGN_AFTER, CrlPublisher};
use crate::ca::{Issuers, hex, unix_seconds};
use crate::objects::{DNS, Identifier};
use crate::sa::{AcmeStore, CrlIssuer, NewCertificate, NewOrderRecord, SqliteStore};

const HOUR: Duration = Duration::from_secs(3600);

fn issuers() -> Issuers {
    let validity = Validity::starting_now(Duration::from_secs(365 * 86400));
    Issuers {
        tls_root: CertificateAuthority::new_tls_root(
            "CRL test TLS root",
            SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .unwrap(),
        identity_root: CertificateAuthority::new_root(
            "CRL test identity root",
            SignatureScheme::Ed25519,
            validity,
        )
        .unwrap(),
    }
}

/// Stores a domain CA for `domain` issued by the identity root, valid for
/// `lifetime`; returns its row id and certificate.
async fn store_domain_ca(
    store: &SqliteStore,
    issuers: &Issuers,
    domain: &str,
    lifetime: Duration,
) -> (i64, mimi_credentials::Certificate) {
    let account = store
        .create_account(
            &format!("thumb-{domain}"),
            &serde_json::json!({}),
            &[],
            None,
            0,
        )
        .await
        .unwrap();
    let identifier = Identifier {
        type_: DNS.into(),
        value: domain.into(),
    };
    let order = store
        .create_order(&NewOrderRecord {
            account_id: account,
            profile: "domain-ca".into(),
            expires: i64::MAX,
            authorizations: vec![(identifier, vec![])],
            replaces: None,
            authorized: false,
        })
        .await
        .unwrap();
    let now = SystemTime::now();
    let cert = issuers
        .identity_root
        .issue(
            &Subject::DomainCa {
                domain: Domain::parse(domain).unwrap(),
                organization: None,
            },
            &KeyPair::generate(SignatureScheme::Ed25519)
                .unwrap()
                .public_key(),
            Validity::new(now - Duration::from_secs(60), now + lifetime).unwrap(),
        )
        .unwrap();
    let id = store
        .store_certificate(&NewCertificate {
            order_id: order,
            account_id: account,
            serial: hex(cert.serial()),
            chain_pem: cert.pem(),
            not_after: unix_seconds(cert.not_after()),
            issued_at: unix_seconds(now),
            issuer: CrlIssuer::IdentityRoot,
        })
        .await
        .unwrap();
    (id, cert)
}

#[tokio::test]
async fn a_crl_is_cached_for_an_hour_and_re_signed_after_a_revocation() {
    let store = SqliteStore::in_memory().await.unwrap();
    let issuers = issuers();
    let crls = CrlPublisher::new();
    let t0 = SystemTime::now();
    let id = CrlIssuer::IdentityRoot;

    let first = crls.current(&store, &issuers, id, t0).await.unwrap();
    let crl = Crl::from_der(&first).unwrap();
    assert_eq!(crl.revoked_count(), 0);
    // thisUpdate is the signing time (whole seconds), nextUpdate 24 h on.
    let this_update = crl.this_update();
    assert!(this_update <= t0 && t0 - Duration::from_secs(1) < this_update);
    assert_eq!(crl.next_update(), Some(this_update + CRL_LIFETIME));

    // Within the hour: the same CRL, not re-signed.
    let later = t0 + CRL_RESIGN_AFTER - Duration::from_secs(1);
    assert_eq!(
        crls.current(&store, &issuers, id, later).await.unwrap(),
        first
    );
    // An hour on: re-signed from then, with the next number (the CRL
    // numbers themselves are read with OpenSSL in tests/it/revocation.rs).
    let resigned = crls
        .current(&store, &issuers, id, t0 + CRL_RESIGN_AFTER)
        .await
        .unwrap();
    assert_ne!(resigned, first);
    assert_eq!(
        Crl::from_der(&resigned).unwrap().this_update(),
        this_update + CRL_RESIGN_AFTER
    );
    assert_eq!(store.next_crl_number(id).await.unwrap(), 3, "1 and 2 used");

    // A revocation re-signs at once, with the serial listed.
    let (cert_id, cert) = store_domain_ca(&store, &issuers, "a.example", 14 * 24 * HOUR).await;
    let at = unix_seconds(t0);
    assert!(store.revoke_certificate(cert_id, at, 0).await.unwrap());
    crls.revoked(id);
    let after = crls
        .current(&store, &issuers, id, t0 + CRL_RESIGN_AFTER)
        .await
        .unwrap();
    let listed = Crl::from_der(&after).unwrap();
    assert!(listed.lists(cert.serial()));
    assert_eq!(listed.revoked_count(), 1);
    // The TLS root's CRL is another list, untouched by it.
    let tls = crls
        .current(&store, &issuers, CrlIssuer::TlsRoot, t0)
        .await
        .unwrap();
    assert_eq!(Crl::from_der(&tls).unwrap().revoked_count(), 0);

    // The CRL verifies under the identity root: a chain through the revoked
    // CA fails as revoked.
    let anchors = TrustAnchors::new(vec![issuers.identity_root.certificate().clone()]);
    let err = mimi_credentials::verify_chain(&[cert], &anchors, &[listed], t0 + HOUR)
        .expect_err("revoked");
    assert!(err.to_string().contains("revoked"), "{err}");
}

#[tokio::test]
async fn expired_certificates_leave_the_crl_and_numbers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acme.db");
    let issuers = issuers();
    let id = CrlIssuer::IdentityRoot;
    let t0 = SystemTime::now();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let (short, short_cert) = store_domain_ca(&store, &issuers, "a.example", HOUR).await;
        let (long, long_cert) = store_domain_ca(&store, &issuers, "b.example", 48 * HOUR).await;
        for cert in [short, long] {
            assert!(
                store
                    .revoke_certificate(cert, unix_seconds(t0), 1)
                    .await
                    .unwrap()
            );
        }
        let crls = CrlPublisher::new();
        let now = Crl::from_der(&crls.current(&store, &issuers, id, t0).await.unwrap()).unwrap();
        assert!(now.lists(short_cert.serial()) && now.lists(long_cert.serial()));
        // Two hours on the short one has expired and is no longer listed.
        let later = crls
            .current(&store, &issuers, id, t0 + 2 * HOUR)
            .await
            .unwrap();
        let later = Crl::from_der(&later).unwrap();
        assert!(!later.lists(short_cert.serial()));
        assert!(later.lists(long_cert.serial()));
    }
    // A restart: a new cache over the same database goes on from number 3.
    let store = SqliteStore::open(&path).await.unwrap();
    let crls = CrlPublisher::new();
    crls.current(&store, &issuers, id, t0).await.unwrap();
    assert_eq!(store.next_crl_number(id).await.unwrap(), 4);
}
