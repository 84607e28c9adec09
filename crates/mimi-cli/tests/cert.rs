//! `mimi cert show` and `mimi cert verify` on chains made with the
//! credentials library.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use mimi_credentials::{
    CertificateAuthority, KeyPair, RevokedSerial, SignatureScheme, Subject, TnAuthList, Validity,
};
use mimi_identifiers::{DeviceId, Domain, PhoneNumber, UserId};

const HOUR: Duration = Duration::from_secs(3600);

fn mimi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mimi"))
        .args(args)
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }
    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        self.path(name)
    }
}

/// Root → phone-number CA for +12015550123 at a.example → device certificate
/// naming alice and her phone, with that number. Revokes `revoke` if asked.
fn pki(revoke_leaf: bool) -> Files {
    let now = SystemTime::now();
    let validity = Validity::new(now - HOUR, now + 24 * HOUR).unwrap();
    let root =
        CertificateAuthority::new_root("Test root", SignatureScheme::Ed25519, validity).unwrap();
    let domain = Domain::parse("a.example").unwrap();
    let numbers = TnAuthList::one(&PhoneNumber::parse("+12015550123").unwrap());
    let ca = root
        .issue_ca(
            &Subject::PhoneCa {
                domain: domain.clone(),
                numbers: numbers.clone(),
            },
            SignatureScheme::Ed25519,
            validity,
        )
        .unwrap();
    let user = UserId::new("alice", Some(domain)).unwrap();
    let leaf = ca
        .issue(
            &Subject::Device {
                device: DeviceId::new(&user, "phone").unwrap(),
                with_user_uri: true,
                numbers: Some(numbers),
                organization: Some("Example Org".into()),
            },
            &KeyPair::generate(SignatureScheme::Ed25519)
                .unwrap()
                .public_key(),
            validity,
        )
        .unwrap();
    let revoked: Vec<RevokedSerial> = if revoke_leaf {
        vec![RevokedSerial {
            serial: leaf.serial().to_vec(),
            revoked_at: now - HOUR,
        }]
    } else {
        vec![]
    };
    let files = Files {
        dir: tempfile::tempdir().unwrap(),
    };
    files.write("root.pem", &root.certificate().pem());
    files.write("chain.pem", &(leaf.pem() + &ca.certificate().pem()));
    let crls = root.crl(&[], now - HOUR, now + 20 * HOUR, 1).unwrap().pem()
        + &ca
            .crl(&revoked, now - HOUR, now + 20 * HOUR, 1)
            .unwrap()
            .pem();
    files.write("crls.pem", &crls);
    files
}

#[test]
fn show_prints_identities_constraints_and_numbers() {
    let f = pki(false);
    let o = mimi(&["cert", "show", &f.path("chain.pem")]);
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    for expected in [
        "identity      mimi://a.example/d/alice/phone (device alice/phone@a.example)",
        "identity      mimi://a.example/u/alice (user alice@a.example)",
        "TNAuthList    +12015550123",
        "CA            no (end entity)",
        "CA            yes, path length 1",
        "permits URIs  with host a.example",
        "key           Ed25519",
        "SHA-256       ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn verify_prints_the_proven_identity() {
    let f = pki(false);
    let base = [
        "cert",
        "verify",
        "--roots",
        &f.path("root.pem"),
        "--crl",
        &f.path("crls.pem"),
    ];
    let o = mimi(
        &[
            &base[..],
            &["--expect", "mimi://a.example/u/alice", &f.path("chain.pem")],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", out(&o));
    let text = out(&o);
    for expected in [
        "user          alice@a.example",
        "device        alice/phone@a.example",
        "profile       Combined",
        "issuing domain a.example",
        "organization  Example Org",
        "phone number  +12015550123",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let o = mimi(
        &[
            &base[..],
            &["--expect", "mimi://b.example/u/bob", &f.path("chain.pem")],
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains(
            "error: policy: the credential is for alice/phone@a.example, not bob@b.example"
        ),
        "{}",
        out(&o)
    );
}

#[test]
fn verify_says_which_certificate_fails_and_why() {
    let f = pki(true);
    let o = mimi(&[
        "cert",
        "verify",
        "--roots",
        &f.path("root.pem"),
        "--crl",
        &f.path("crls.pem"),
        &f.path("chain.pem"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains(
            "error: certificate 0 (O=Example Org,CN=alice/phone@a.example) rejected: it is revoked"
        ),
        "{}",
        out(&o)
    );

    let o = mimi(&[
        "cert",
        "verify",
        "--roots",
        &f.path("root.pem"),
        &f.path("chain.pem"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("no CRL from its issuer"), "{}", out(&o));
}

#[test]
fn unreadable_files_are_reported() {
    let f = pki(false);
    let garbage = f.write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let o = mimi(&["cert", "show", &garbage]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("holds no usable certificate"),
        "{}",
        out(&o)
    );
    let o = mimi(&["cert", "show", &f.path("missing.pem")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("cannot read"), "{}", out(&o));
    assert!(!Path::new(&f.path("missing.pem")).exists());
}
