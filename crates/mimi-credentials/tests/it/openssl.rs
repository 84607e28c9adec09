//! Differential test against `openssl verify`: many chains, valid and broken,
//! and our verdict must equal OpenSSL's on each (OpenSSL run with
//! `-crl_check_all`, since MIMI requires revocation data for every CA).

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, SignatureScheme, Validity, rcgen, verify_chain,
};

use crate::pki::{DAY, HOUR, Pki, device_subject, user_subject};

#[derive(Debug, Clone, Copy)]
enum Shape {
    SeparateDevice,
    UserCertificate,
    Combined,
    Cascading,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Valid,
    ExpiredLeaf,
    NotYetValidLeaf,
    ExpiredIntermediate,
    BadSignature,
    WrongIssuer,
    CaBitMissing,
    PathLenExceeded,
    NameConstraintViolated,
    RevokedLeaf,
    RevokedIntermediate,
    StaleCrl,
    MissingCrl,
    WronglySignedCrl,
}

const VARIANTS: [Variant; 14] = [
    Variant::Valid,
    Variant::ExpiredLeaf,
    Variant::NotYetValidLeaf,
    Variant::ExpiredIntermediate,
    Variant::BadSignature,
    Variant::WrongIssuer,
    Variant::CaBitMissing,
    Variant::PathLenExceeded,
    Variant::NameConstraintViolated,
    Variant::RevokedLeaf,
    Variant::RevokedIntermediate,
    Variant::StaleCrl,
    Variant::MissingCrl,
    Variant::WronglySignedCrl,
];

struct Case {
    name: String,
    chain: Vec<Certificate>,
    crls: Vec<Crl>,
}

fn build(pki: &Pki, shape: Shape, variant: Variant) -> Case {
    let domain_validity = match variant {
        Variant::ExpiredIntermediate => Validity::new(pki.now - 60 * DAY, pki.now - DAY).unwrap(),
        _ => pki.validity(),
    };
    let domain_ca = pki.domain_ca_valid("a.example", domain_validity);
    let leaf_validity = match variant {
        Variant::ExpiredLeaf => Validity::new(pki.now - 30 * DAY, pki.now - DAY).unwrap(),
        Variant::NotYetValidLeaf => Validity::new(pki.now + DAY, pki.now + 30 * DAY).unwrap(),
        _ => pki.validity(),
    };
    let key = pki.key().public_key();
    let leaf_subject = match shape {
        Shape::SeparateDevice | Shape::Cascading => {
            device_subject("alice", "phone", "a.example", false)
        }
        Shape::UserCertificate => user_subject("alice", "a.example", false),
        Shape::Combined => device_subject("alice", "phone", "a.example", true),
    };
    // The CAs between the leaf and the root, nearest first.
    let mut cas: Vec<CertificateAuthority> = Vec::new();
    let leaf = match variant {
        Variant::WrongIssuer => {
            // Same name as the presented CA, another key.
            let impostor = pki.domain_ca("a.example");
            impostor.issue(&leaf_subject, &key, leaf_validity).unwrap()
        }
        Variant::CaBitMissing => {
            let not_ca_key = pki.key();
            let not_ca = domain_ca
                .issue(
                    &device_subject("alice", "tablet", "a.example", false),
                    &not_ca_key.public_key(),
                    pki.validity(),
                )
                .unwrap();
            let fake = CertificateAuthority::dangerous_from_parts_unchecked(
                not_ca,
                not_ca_key,
                mimi_credentials::CaRole::Domain(crate::pki::dom("a.example")),
            )
            .unwrap();
            let leaf = fake.issue(&leaf_subject, &key, leaf_validity).unwrap();
            cas.push(fake);
            leaf
        }
        Variant::PathLenExceeded => {
            // domain CA (path length 1) → user CA (0) → another CA → leaf.
            let user_ca = domain_ca
                .issue_ca(
                    &user_subject("alice", "a.example", true),
                    pki.scheme,
                    pki.validity(),
                )
                .unwrap();
            let sub_key = pki.key();
            let sub = user_ca
                .dangerous_issue_unchecked(
                    &device_subject("alice", "tablet", "a.example", false),
                    &sub_key.public_key(),
                    pki.validity(),
                    |p| {
                        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
                        p.key_usages = vec![
                            rcgen::KeyUsagePurpose::KeyCertSign,
                            rcgen::KeyUsagePurpose::CrlSign,
                        ];
                    },
                )
                .unwrap();
            let sub_ca = CertificateAuthority::dangerous_from_parts_unchecked(
                sub,
                sub_key,
                mimi_credentials::CaRole::Domain(crate::pki::dom("a.example")),
            )
            .unwrap();
            let leaf = sub_ca.issue(&leaf_subject, &key, leaf_validity).unwrap();
            cas.push(sub_ca);
            cas.push(user_ca);
            leaf
        }
        Variant::NameConstraintViolated => {
            let outside = match shape {
                Shape::UserCertificate => user_subject("alice", "b.example", false),
                _ => device_subject(
                    "alice",
                    "phone",
                    "b.example",
                    matches!(shape, Shape::Combined),
                ),
            };
            domain_ca
                .dangerous_issue_unchecked(&outside, &key, leaf_validity, |_| {})
                .unwrap()
        }
        _ if matches!(shape, Shape::Cascading) => {
            let user_ca = domain_ca
                .issue_ca(
                    &user_subject("alice", "a.example", true),
                    pki.scheme,
                    pki.validity(),
                )
                .unwrap();
            let leaf = user_ca.issue(&leaf_subject, &key, leaf_validity).unwrap();
            cas.push(user_ca);
            leaf
        }
        _ => domain_ca.issue(&leaf_subject, &key, leaf_validity).unwrap(),
    };
    let leaf = match variant {
        Variant::BadSignature => {
            let mut der = leaf.der().to_vec();
            let last = der.len() - 1;
            der[last] ^= 0x01;
            Certificate::from_der(&der).unwrap()
        }
        _ => leaf,
    };
    let mut chain = vec![leaf];
    chain.extend(cas.iter().map(|ca| ca.certificate().clone()));
    chain.push(domain_ca.certificate().clone());

    // Fresh, empty CRLs from every issuer in the chain, then the variant's change.
    let mut crl_issuers: Vec<&CertificateAuthority> = vec![&pki.root, &domain_ca];
    crl_issuers.extend(cas.iter());
    let leaf_issuer = cas.first().unwrap_or(&domain_ca);
    let crls: Vec<Crl> = match variant {
        Variant::MissingCrl => vec![],
        _ => crl_issuers
            .iter()
            .map(|ca| {
                let is_leaf_issuer = std::ptr::eq(*ca, leaf_issuer);
                let is_root = std::ptr::eq(*ca, &pki.root);
                match variant {
                    Variant::RevokedLeaf if is_leaf_issuer => pki.crl(ca, &[&chain[0]]),
                    Variant::RevokedIntermediate if is_root => {
                        pki.crl(ca, &[domain_ca.certificate()])
                    }
                    Variant::StaleCrl if is_leaf_issuer => ca
                        .crl(&[], pki.now - 48 * HOUR, pki.now - 24 * HOUR, 1)
                        .unwrap(),
                    Variant::WronglySignedCrl if is_leaf_issuer => {
                        let impostor = pki.domain_ca("a.example");
                        assert_eq!(
                            impostor.certificate().subject_text(),
                            domain_ca.certificate().subject_text()
                        );
                        pki.crl(&impostor, &[])
                    }
                    _ => pki.crl(ca, &[]),
                }
            })
            .collect(),
    };
    Case {
        name: format!("{:?}/{shape:?}/{variant:?}", pki.scheme),
        chain,
        crls,
    }
}

fn write_pem(path: &Path, blocks: impl IntoIterator<Item = String>) {
    std::fs::write(path, blocks.into_iter().collect::<String>()).unwrap();
}

/// Runs `openssl verify` on the case; returns whether it accepted, and its output.
fn openssl_verify(dir: &Path, pki: &Pki, case: &Case) -> (bool, String) {
    write_pem(&dir.join("root.pem"), [pki.root.certificate().pem()]);
    write_pem(&dir.join("leaf.pem"), [case.chain[0].pem()]);
    write_pem(
        &dir.join("untrusted.pem"),
        case.chain[1..].iter().map(|c| c.pem()),
    );
    let at = pki
        .now
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut cmd = Command::new("openssl");
    cmd.arg("verify")
        .arg("-CAfile")
        .arg(dir.join("root.pem"))
        .arg("-untrusted")
        .arg(dir.join("untrusted.pem"))
        .args(["-crl_check_all", "-attime", &at]);
    if !case.crls.is_empty() {
        write_pem(&dir.join("crls.pem"), case.crls.iter().map(|c| c.pem()));
        cmd.arg("-CRLfile").arg(dir.join("crls.pem"));
    }
    cmd.arg(dir.join("leaf.pem"));
    let out = cmd
        .output()
        .expect("openssl is installed (scripts/test installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn our_verdict_equals_openssl_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    let mut counted = (0, 0);
    for scheme in [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256] {
        let pki = Pki::new(scheme);
        for shape in [
            Shape::SeparateDevice,
            Shape::UserCertificate,
            Shape::Combined,
            Shape::Cascading,
        ] {
            for variant in VARIANTS {
                let case = build(&pki, shape, variant);
                let ours = verify_chain(&case.chain, &pki.anchors(), &case.crls, pki.now);
                let (theirs, openssl_says) = openssl_verify(dir.path(), &pki, &case);
                let expected = variant == Variant::Valid;
                if ours.is_ok() != theirs || theirs != expected {
                    mismatches.push(format!(
                        "{}: ours {:?}, openssl {} ({}), expected {}",
                        case.name,
                        ours.as_ref().map(|_| "ok").map_err(|e| e.to_string()),
                        if theirs { "ok" } else { "rejects" },
                        openssl_says.trim().replace('\n', " | "),
                        if expected { "ok" } else { "rejection" },
                    ));
                }
                if expected {
                    counted.0 += 1
                } else {
                    counted.1 += 1
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(counted, (8, 104), "valid and broken chains compared");
}

#[test]
fn openssl_reads_every_certificate_and_crl() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let user_ca = ca
        .issue_ca(
            &user_subject("alice", "a.example", true),
            pki.scheme,
            pki.validity(),
        )
        .unwrap();
    let leaf = user_ca
        .issue(
            &device_subject("alice", "phone", "a.example", true),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = |pem: String, what: &str| {
        let path = dir.path().join("x.pem");
        std::fs::write(&path, pem).unwrap();
        let out = Command::new("openssl")
            .args([what, "-noout", "-text", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let root = text(pki.root.certificate().pem(), "x509");
    assert!(root.contains("CA:TRUE"), "{root}");
    let domain = text(ca.certificate().pem(), "x509");
    for expected in [
        "X509v3 Name Constraints: critical",
        "Permitted:",
        "URI:a.example",
        "CA:TRUE, pathlen:1",
        "Certificate Sign, CRL Sign",
        "X509v3 Authority Key Identifier",
        "URI:mimi://a.example",
    ] {
        assert!(
            domain.contains(expected),
            "missing {expected:?} in\n{domain}"
        );
    }
    let user = text(user_ca.certificate().pem(), "x509");
    assert!(user.contains("CA:TRUE, pathlen:0"), "{user}");
    assert!(user.contains("URI:mimi://a.example/u/alice"), "{user}");
    let device = text(leaf.pem(), "x509");
    assert!(
        device.contains("URI:mimi://a.example/d/alice/phone, URI:mimi://a.example/u/alice"),
        "{device}"
    );
    assert!(device.contains("CA:FALSE"), "{device}");
    assert!(device.contains("ED25519"), "{device}");
    let crl = text(pki.crl(&ca, &[&leaf]).pem(), "crl");
    assert!(crl.contains("Revoked Certificates:"), "{crl}");
    assert!(crl.contains("Next Update:"), "{crl}");
}

#[test]
fn a_certificate_verifies_at_the_instant_it_is_issued() {
    // X.509 times have one-second resolution; `starting_now` backdates
    // notBefore by a minute so the fresh certificate is valid at once.
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let cert = ca
        .issue(
            &device_subject("alice", "p", "a.example", false),
            &pki.key().public_key(),
            Validity::starting_now(DAY),
        )
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    verify_chain(
        &[cert, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        SystemTime::now(),
    )
    .unwrap();
}
