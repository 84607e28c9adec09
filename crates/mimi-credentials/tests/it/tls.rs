//! The separate TLS PKI: a TLS root that signs only TLS server certificates,
//! identity CAs that never do, and chains that never cross between them.

use std::process::Command;

use crate::pki::{DAY, Pki, device_subject, dom, user_subject};
use mimi_credentials::rcgen::{
    self, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair as RcgenKeyPair, SanType,
};
use mimi_credentials::{
    CaRole, Certificate, CertificateAuthority, IssueError, KeyPair, Rejection, SignatureScheme,
    Subject, TrustAnchors, Validity, verify_chain,
};

const SCHEMES: [SignatureScheme; 2] = [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256];

fn tls_root(pki: &Pki) -> CertificateAuthority {
    CertificateAuthority::new_tls_root(
        "MIMI test TLS root",
        pki.scheme,
        Validity::new(pki.now - DAY, pki.now + 3650 * DAY).unwrap(),
    )
    .unwrap()
}

fn tls_server(names: &[&str]) -> Subject {
    Subject::TlsServer {
        dns_names: names.iter().map(|n| dom(n)).collect(),
    }
}

fn not_allowed(result: Result<Certificate, IssueError>) -> String {
    match result {
        Err(IssueError::NotAllowed(why)) => why,
        other => panic!("expected NotAllowed, got {other:?}"),
    }
}

#[test]
fn a_tls_server_certificate_verifies_with_openssl_as_sslserver() {
    for scheme in SCHEMES {
        let pki = Pki::new(scheme);
        let root = tls_root(&pki);
        assert_eq!(root.role(), &CaRole::TlsRoot);
        assert!(root.certificate().is_tls_ca());
        assert!(!pki.root.certificate().is_tls_ca());
        let leaf = root
            .issue(
                &tls_server(&["provider.a.example", "a.example"]),
                &pki.key().public_key(),
                pki.validity(),
            )
            .unwrap();
        assert_eq!(leaf.dns_names(), ["provider.a.example", "a.example"]);
        assert!(leaf.uris().is_empty());
        assert_eq!(leaf.ca(), None);
        assert_eq!(leaf.common_name().as_deref(), Some("provider.a.example"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tlsroot.pem"), root.certificate().pem()).unwrap();
        std::fs::write(dir.path().join("leaf.pem"), leaf.pem()).unwrap();
        let verify = Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                "sslserver",
                "-CAfile",
                "tlsroot.pem",
                "leaf.pem",
            ])
            .current_dir(dir.path())
            .output()
            .expect("openssl is installed (scripts/test installs it)");
        assert!(
            verify.status.success(),
            "{scheme:?}: {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
        // Hostname checking as a TLS client would do it.
        let host = Command::new("openssl")
            .args([
                "verify",
                "-purpose",
                "sslserver",
                "-verify_hostname",
                "a.example",
                "-CAfile",
                "tlsroot.pem",
                "leaf.pem",
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(host.status.success(), "{scheme:?}: hostname a.example");

        let text = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in", "leaf.pem"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        for expected in [
            "DNS:provider.a.example, DNS:a.example",
            "TLS Web Server Authentication",
            "CA:FALSE",
            "Digital Signature",
            "X509v3 Authority Key Identifier",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        assert!(!text.contains("URI:"), "{text}");
        assert!(!text.contains("TLS Web Client Authentication"), "{text}");

        let root_text = Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in", "tlsroot.pem"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let root_text = String::from_utf8(root_text.stdout).unwrap();
        for expected in ["CA:TRUE, pathlen:0", "TLS Web Server Authentication"] {
            assert!(
                root_text.contains(expected),
                "missing {expected:?} in\n{root_text}"
            );
        }
    }
}

#[test]
fn openssl_refuses_the_tls_root_for_anything_but_tls_servers() {
    // The marker is extendedKeyUsage serverAuth on the root, which OpenSSL
    // honours too: a clientAuth certificate under it (forced out with the
    // test-only escape hatch) does not verify as a TLS client.
    let pki = Pki::new(SignatureScheme::Ed25519);
    let root = tls_root(&pki);
    let client = root
        .dangerous_issue_unchecked(
            &tls_server(&["a.example"]),
            &pki.key().public_key(),
            pki.validity(),
            |p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tlsroot.pem"), root.certificate().pem()).unwrap();
    std::fs::write(dir.path().join("client.pem"), client.pem()).unwrap();
    let out = Command::new("openssl")
        .args([
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            "tlsroot.pem",
            "client.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    // Depth 1 is the root: it is the root's purpose that fails, not the leaf's.
    assert!(
        text.contains("error 26 at 1 depth lookup: unsuitable certificate purpose"),
        "{text}"
    );
}

#[test]
fn identity_cas_refuse_tls_server_certificates() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let key = pki.key().public_key();
    let subject = tls_server(&["a.example"]);
    let why = not_allowed(pki.root.issue(&subject, &key, pki.validity()));
    assert!(why.contains("only the TLS root"), "{why}");
    let domain_ca = pki.domain_ca("a.example");
    let why = not_allowed(domain_ca.issue(&subject, &key, pki.validity()));
    assert!(why.contains("only the TLS root"), "{why}");
    let user_ca = domain_ca
        .issue_ca(
            &user_subject("alice", "a.example", true),
            pki.scheme,
            pki.validity(),
        )
        .unwrap();
    not_allowed(user_ca.issue(&subject, &key, pki.validity()));
}

#[test]
fn the_tls_root_refuses_mimi_subjects() {
    let pki = Pki::new(SignatureScheme::EcdsaP256Sha256);
    let root = tls_root(&pki);
    let key = pki.key().public_key();
    for subject in [
        Subject::DomainCa {
            domain: dom("a.example"),
            organization: None,
        },
        Subject::PhoneCa {
            domain: dom("a.example"),
            numbers: mimi_credentials::TnAuthList::one(
                &mimi_identifiers::PhoneNumber::parse("+12015550123").unwrap(),
            ),
        },
        user_subject("alice", "a.example", false),
        user_subject("alice", "a.example", true),
        device_subject("alice", "phone", "a.example", true),
    ] {
        let why = not_allowed(root.issue(&subject, &key, pki.validity()));
        assert!(
            why.contains("a TLS root issues only TLS server certificates"),
            "{why}"
        );
    }
}

#[test]
fn a_tls_server_certificate_names_at_least_one_name_each_once() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let root = tls_root(&pki);
    let key = pki.key().public_key();
    let why = not_allowed(root.issue(
        &Subject::TlsServer { dns_names: vec![] },
        &key,
        pki.validity(),
    ));
    assert!(why.contains("at least one DNS name"), "{why}");
    let why = not_allowed(root.issue(
        &tls_server(&["a.example", "b.example", "a.example"]),
        &key,
        pki.validity(),
    ));
    assert!(why.contains("a.example is listed twice"), "{why}");
    // A TLS leaf is not a CA.
    assert!(matches!(
        root.issue_ca(&tls_server(&["a.example"]), pki.scheme, pki.validity()),
        Err(IssueError::BadCa(_))
    ));
}

#[test]
fn verify_chain_refuses_a_tls_root_as_anchor() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let root = tls_root(&pki);
    let leaf = root
        .issue(
            &tls_server(&["a.example"]),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let anchors = TrustAnchors::new(vec![root.certificate().clone()]);
    let crls = [pki.crl(&root, &[])];
    for chain in [
        vec![leaf.clone()],
        vec![leaf.clone(), root.certificate().clone()],
    ] {
        let err = verify_chain(&chain, &anchors, &crls, pki.now).unwrap_err();
        assert_eq!(err.reason, Rejection::TlsCa, "{err}");
        assert_eq!(err.index, 1);
        assert!(
            err.to_string().contains("never MIMI identity anchors"),
            "{err}"
        );
    }
    // The TLS root given as the whole chain.
    let err = verify_chain(&[root.certificate().clone()], &anchors, &crls, pki.now).unwrap_err();
    assert_eq!(err.reason, Rejection::TlsCa);

    // Even a MIMI-shaped chain is refused when a TLS root signed it.
    let ca_key = pki.key();
    let rogue_ca_cert = root
        .dangerous_issue_unchecked(
            &Subject::DomainCa {
                domain: dom("a.example"),
                organization: None,
            },
            &ca_key.public_key(),
            pki.validity(),
            |_| {},
        )
        .unwrap();
    let rogue_ca = CertificateAuthority::dangerous_from_parts_unchecked(
        rogue_ca_cert,
        ca_key,
        CaRole::Domain(dom("a.example")),
    )
    .unwrap();
    let device = rogue_ca
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let crls = [pki.crl(&root, &[]), pki.crl(&rogue_ca, &[])];
    let err = verify_chain(
        &[device, rogue_ca.certificate().clone()],
        &anchors,
        &crls,
        pki.now,
    )
    .unwrap_err();
    assert_eq!((err.index, err.reason), (2, Rejection::TlsCa));
}

#[test]
fn verify_chain_refuses_a_serverauth_ca_inside_an_identity_chain() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca_key = pki.key();
    let tls_flavoured = pki
        .root
        .dangerous_issue_unchecked(
            &Subject::DomainCa {
                domain: dom("a.example"),
                organization: None,
            },
            &ca_key.public_key(),
            pki.validity(),
            |p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth],
        )
        .unwrap();
    // from_parts will not take it as a MIMI CA either.
    assert!(matches!(
        CertificateAuthority::from_parts(
            tls_flavoured.clone(),
            KeyPair::from_pkcs8_der(&ca_key.to_pkcs8_der(), pki.scheme).unwrap()
        ),
        Err(IssueError::BadCa(_))
    ));
    let ca = CertificateAuthority::dangerous_from_parts_unchecked(
        tls_flavoured,
        ca_key,
        CaRole::Domain(dom("a.example")),
    )
    .unwrap();
    let device = ca
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    let err = verify_chain(
        &[device, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap_err();
    assert_eq!((err.index, err.reason), (1, Rejection::TlsCa));
}

#[test]
fn a_tls_root_among_the_anchors_does_not_disturb_identity_chains() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let tls = tls_root(&pki);
    let ca = pki.domain_ca("a.example");
    let device = ca
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let anchors = TrustAnchors::new(vec![
        tls.certificate().clone(),
        pki.root.certificate().clone(),
    ]);
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    verify_chain(
        &[device, ca.certificate().clone()],
        &anchors,
        &crls,
        pki.now,
    )
    .unwrap();
}

fn reload(ca: &CertificateAuthority) -> Result<CertificateAuthority, IssueError> {
    let key = KeyPair::from_pkcs8_der(&ca.key().to_pkcs8_der(), ca.key().scheme()).unwrap();
    CertificateAuthority::from_parts(ca.certificate().clone(), key)
}

#[test]
fn from_parts_round_trips_the_roles_of_both_roots() {
    for scheme in SCHEMES {
        let pki = Pki::new(scheme);
        let tls = reload(&tls_root(&pki)).unwrap();
        assert_eq!(tls.role(), &CaRole::TlsRoot);
        let identity = reload(&pki.root).unwrap();
        assert_eq!(identity.role(), &CaRole::Root);

        // Each still issues what it may, and only that.
        let key = pki.key().public_key();
        tls.issue(&tls_server(&["a.example"]), &key, pki.validity())
            .unwrap();
        not_allowed(tls.issue(
            &user_subject("alice", "a.example", false),
            &key,
            pki.validity(),
        ));
        not_allowed(identity.issue(&tls_server(&["a.example"]), &key, pki.validity()));
        identity
            .issue_ca(
                &Subject::DomainCa {
                    domain: dom("a.example"),
                    organization: None,
                },
                scheme,
                pki.validity(),
            )
            .unwrap();
    }
}

/// An edit of certificate parameters.
type Tweak = fn(&mut CertificateParams);

/// A self-signed CA made directly with rcgen, edited by `tweak`.
fn rcgen_root(tweak: Tweak) -> CertificateAuthority {
    let key = RcgenKeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "ambiguous root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    tweak(&mut params);
    let cert = params.self_signed(&key).unwrap();
    let certificate = Certificate::from_der(cert.der()).unwrap();
    let key = KeyPair::from_pkcs8_der(&key.serialize_der(), SignatureScheme::Ed25519).unwrap();
    CertificateAuthority::dangerous_from_parts_unchecked(certificate, key, CaRole::Root).unwrap()
}

#[test]
fn from_parts_refuses_a_root_that_could_be_either() {
    let cases: [(&str, Tweak); 3] = [
        ("serverAuth and clientAuth", |p| {
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ]
        }),
        ("clientAuth only", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]
        }),
        ("serverAuth with a MIMI URI", |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            p.subject_alt_names = vec![SanType::URI("mimi://a.example".try_into().unwrap())];
        }),
    ];
    for (name, tweak) in cases {
        let err = reload(&rcgen_root(tweak)).unwrap_err();
        assert!(matches!(err, IssueError::BadCa(_)), "{name}: {err:?}");
    }
    // Without extendedKeyUsage it is an identity root, as before.
    assert_eq!(reload(&rcgen_root(|_| {})).unwrap().role(), &CaRole::Root);
}
