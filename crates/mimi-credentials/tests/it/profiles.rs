//! The three credential profiles of draft-mahy-mimi-identity verify and say
//! who they are for; policy checks answer on them.

use mimi_credentials::{Policy, Profile, SignatureScheme, Subject, verify_chain};
use mimi_identifiers::Identifier;

use crate::pki::{DAY, Pki, device, device_subject, dom, user, user_subject};

fn schemes() -> [SignatureScheme; 2] {
    [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256]
}

#[test]
fn profile_1_separate_user_and_device_certificates() {
    for scheme in schemes() {
        let pki = Pki::new(scheme);
        let ca = pki.domain_ca("a.example");
        let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
        let key = pki.key();
        let dev = ca
            .issue(
                &device_subject("alice", "phone", "a.example", false),
                &key.public_key(),
                pki.validity(),
            )
            .unwrap();
        let chain = [dev, ca.certificate().clone()];
        let cred = verify_chain(&chain, &pki.anchors(), &crls, pki.now).unwrap();
        assert_eq!(cred.profile(), Profile::Separate);
        assert_eq!(cred.user(), &user("alice", "a.example"));
        assert_eq!(cred.device(), Some(&device("alice", "phone", "a.example")));
        assert_eq!(cred.issuing_domain(), &dom("a.example"));
        assert_eq!(cred.organization(), Some("a.example Messaging"));
        assert_eq!(cred.leaf_spki_der(), key.public_key().spki_der());

        let ukey = pki.key();
        let ucert = ca
            .issue(
                &user_subject("alice", "a.example", false),
                &ukey.public_key(),
                pki.validity(),
            )
            .unwrap();
        let cred = verify_chain(
            &[ucert, ca.certificate().clone()],
            &pki.anchors(),
            &crls,
            pki.now,
        )
        .unwrap();
        assert_eq!(cred.profile(), Profile::UserCertificate);
        assert_eq!(cred.device(), None);
    }
}

#[test]
fn profile_2_one_certificate_names_user_and_device() {
    for scheme in schemes() {
        let pki = Pki::new(scheme);
        let ca = pki.domain_ca("a.example");
        let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
        let dev = ca
            .issue(
                &device_subject("alice", "laptop", "a.example", true),
                &pki.key().public_key(),
                pki.validity(),
            )
            .unwrap();
        assert_eq!(
            dev.uris(),
            [
                "mimi://a.example/d/alice/laptop",
                "mimi://a.example/u/alice"
            ]
        );
        // The root may be included in the chain or left out.
        let chain = [
            dev,
            ca.certificate().clone(),
            pki.root.certificate().clone(),
        ];
        let cred = verify_chain(&chain, &pki.anchors(), &crls, pki.now).unwrap();
        assert_eq!(cred.profile(), Profile::Combined);
        assert!(cred.is(&Identifier::User(user("alice", "a.example"))));
        assert!(cred.is(&Identifier::Device(device("alice", "laptop", "a.example"))));
    }
}

#[test]
fn profile_3_user_ca_issues_its_devices_without_a_crl_of_its_own() {
    for scheme in schemes() {
        let pki = Pki::new(scheme);
        let ca = pki.domain_ca("a.example");
        let user_ca = ca
            .issue_ca(
                &user_subject("alice", "a.example", true),
                scheme,
                pki.validity(),
            )
            .unwrap();
        assert_eq!(user_ca.certificate().ca(), Some(Some(0)));
        let dev = user_ca
            .issue(
                &device_subject("alice", "phone", "a.example", false),
                &pki.key().public_key(),
                mimi_credentials::Validity::new(pki.now - DAY, pki.now + 7 * DAY).unwrap(),
            )
            .unwrap();
        let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
        let chain = [dev, user_ca.certificate().clone(), ca.certificate().clone()];
        let cred = verify_chain(&chain, &pki.anchors(), &crls, pki.now).unwrap();
        assert_eq!(cred.profile(), Profile::Cascading);
        assert_eq!(cred.user(), &user("alice", "a.example"));
        // Revoking the user CA cuts its devices off.
        let crls = [
            pki.crl(&pki.root, &[]),
            pki.crl(&ca, &[user_ca.certificate()]),
        ];
        let err = verify_chain(&chain, &pki.anchors(), &crls, pki.now).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.to_string().contains("revoked"), "{err}");
    }
}

#[test]
fn policies() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let a = pki.domain_ca("a.example");
    let b = pki.domain_ca("b.example");
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&a, &[]), pki.crl(&b, &[])];
    let cred = |ca: &mimi_credentials::CertificateAuthority, d: &str| {
        let cert = ca
            .issue(
                &device_subject("bob", "1", d, true),
                &pki.key().public_key(),
                pki.validity(),
            )
            .unwrap();
        verify_chain(
            &[cert, ca.certificate().clone()],
            &pki.anchors(),
            &crls,
            pki.now,
        )
        .unwrap()
    };
    let alice_side = cred(&a, "a.example");
    let bob_side = cred(&b, "b.example");
    let bob: Identifier = "mimi://b.example/u/bob".parse().unwrap();
    assert!(bob_side.require(&bob).is_ok());
    assert_eq!(
        alice_side.require(&bob).unwrap_err().to_string(),
        "policy: the credential is for bob/1@a.example, not bob@b.example"
    );
    let only_a = Policy::Domain(dom("a.example"));
    assert!(only_a.check(&alice_side).is_ok());
    assert_eq!(
        only_a
            .check_all([&alice_side, &bob_side])
            .unwrap_err()
            .to_string(),
        "policy: bob@b.example is not under a.example"
    );
    let org = Policy::Organization("b.example Messaging".into());
    assert!(org.check(&bob_side).is_ok());
    assert!(org.check(&alice_side).is_err());
}

#[test]
fn cas_refuse_to_issue_outside_their_authority() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let key = pki.key().public_key();
    let outside = ca.issue(
        &device_subject("bob", "1", "b.example", false),
        &key,
        pki.validity(),
    );
    assert_eq!(
        outside.unwrap_err().to_string(),
        "this CA cannot issue that: the CA for a.example cannot certify a name of b.example"
    );
    let sub_ca = ca.issue(
        &Subject::DomainCa {
            domain: dom("a.example"),
            organization: None,
        },
        &key,
        pki.validity(),
    );
    assert!(sub_ca.is_err());
    let by_root = pki.root.issue(
        &device_subject("bob", "1", "a.example", false),
        &key,
        pki.validity(),
    );
    assert!(by_root.is_err());
    let user_ca = ca
        .issue_ca(
            &user_subject("alice", "a.example", true),
            pki.scheme,
            pki.validity(),
        )
        .unwrap();
    let other = user_ca.issue(
        &device_subject("mallory", "1", "a.example", false),
        &key,
        pki.validity(),
    );
    assert_eq!(
        other.unwrap_err().to_string(),
        "this CA cannot issue that: the user CA of alice@a.example issues only its own devices"
    );
}

#[test]
fn ca_keys_round_trip_through_pkcs8_and_reload() {
    let pki = Pki::new(SignatureScheme::EcdsaP256Sha256);
    let ca = pki.domain_ca("a.example");
    let reloaded = mimi_credentials::CertificateAuthority::from_parts(
        mimi_credentials::Certificate::from_der(ca.certificate().der()).unwrap(),
        mimi_credentials::KeyPair::from_pkcs8_der(&ca.key().to_pkcs8_der(), pki.scheme).unwrap(),
    )
    .unwrap();
    assert_eq!(reloaded.role(), ca.role());
    let cert = reloaded
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&reloaded, &[])];
    verify_chain(
        &[cert, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap();
    let wrong_key =
        mimi_credentials::CertificateAuthority::from_parts(ca.certificate().clone(), pki.key());
    assert!(wrong_key.is_err());
}
