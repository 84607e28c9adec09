//! Chain verification throughput, against the raw cost of the signatures it
//! checks, and the cost of a large CRL.
//!
//! Run with `cargo bench -p mimi-credentials --bench verify`; `BENCH_MS`
//! changes the time spent per case (default 1000 ms). A plain harness (no
//! criterion) keeps the dependency tree small: each case runs for about the
//! budget after a warm-up and prints the mean time per call.
//!
//! - `verify_chain` on a 3-level chain (root → domain CA → device, profile 1)
//!   and a 4-level chain (root → domain CA → user CA → device, profile 3),
//!   the root left out of the chain, with fresh CRLs of the root and the
//!   domain CA, at a fixed time; and, to compare, the 3-level chain with
//!   the root included.
//! - Beside it, the same signatures verified directly with aws-lc-rs: 2
//!   certificate + 2 CRL signatures for 3 levels, 3 + 2 for 4 levels (a user
//!   CA publishes no CRL).
//! - A domain CA's CRL listing 100,000 revoked 16-byte serials: its size, and
//!   the time to issue it, parse it and look one serial up.
//! - `verify_csr` per second, as ACME finalize runs it.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use der::{Decode, Encode};
use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, RevokedSerial, SignatureScheme, Subject, TrustAnchors,
    Validity, verify_chain,
};
use mimi_identifiers::{DeviceId, Domain, UserId};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const DOMAIN: &str = "example.com";
const REVOKED: usize = 100_000;

/// Runs `f` for about `budget / 10` to warm up, then for about `budget` (at
/// least 3 calls), returning the mean time per call and the number of calls.
fn measure(budget: Duration, mut f: impl FnMut()) -> (Duration, u32) {
    let warm_up = Instant::now();
    f();
    while warm_up.elapsed() < budget / 10 {
        f();
    }
    let mut iterations: u32 = 0;
    let start = Instant::now();
    while iterations < 3 || start.elapsed() < budget {
        f();
        iterations += 1;
    }
    (start.elapsed() / iterations, iterations)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn scheme_name(scheme: SignatureScheme) -> &'static str {
    match scheme {
        SignatureScheme::Ed25519 => "Ed25519",
        SignatureScheme::EcdsaP256Sha256 => "ECDSA P-256",
    }
}

fn verification_alg(scheme: SignatureScheme) -> &'static dyn VerificationAlgorithm {
    match scheme {
        SignatureScheme::Ed25519 => &sig::ED25519,
        SignatureScheme::EcdsaP256Sha256 => &sig::ECDSA_P256_SHA256_ASN1,
    }
}

/// One signature to check directly: the issuer's raw public key, the signed
/// bytes and the signature.
struct RawSignature {
    key: Vec<u8>,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn raw_key(issuer: &Certificate) -> Vec<u8> {
    let parsed = x509_cert::Certificate::from_der(issuer.der()).expect("our certificate parses");
    parsed
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

fn cert_signature(cert: &Certificate, issuer: &Certificate) -> RawSignature {
    let parsed = x509_cert::Certificate::from_der(cert.der()).expect("our certificate parses");
    RawSignature {
        key: raw_key(issuer),
        message: parsed.tbs_certificate.to_der().expect("re-encodes"),
        signature: parsed.signature.raw_bytes().to_vec(),
    }
}

fn crl_signature(crl: &Crl, issuer: &Certificate) -> RawSignature {
    let parsed = x509_cert::crl::CertificateList::from_der(crl.der()).expect("our CRL parses");
    RawSignature {
        key: raw_key(issuer),
        message: parsed.tbs_cert_list.to_der().expect("re-encodes"),
        signature: parsed.signature.raw_bytes().to_vec(),
    }
}

/// A chain to verify, the inputs `verify_chain` takes and the signatures it
/// has to check.
struct Case {
    name: &'static str,
    chain: Vec<Certificate>,
    crls: Vec<Crl>,
    raw: Vec<RawSignature>,
}

/// An identity root, a domain CA under it, both CAs' (empty) CRLs, and the
/// verification time.
struct Pki {
    scheme: SignatureScheme,
    now: SystemTime,
    root: CertificateAuthority,
    domain_ca: CertificateAuthority,
    anchors: TrustAnchors,
    root_crl: Crl,
    domain_crl: Crl,
}

impl Pki {
    fn new(scheme: SignatureScheme) -> Pki {
        let now = SystemTime::now();
        let root = CertificateAuthority::new_root(
            "MIMI bench identity root",
            scheme,
            Validity::new(now - DAY, now + 3650 * DAY).expect("valid"),
        )
        .expect("root");
        let domain_ca = root
            .issue_ca(
                &Subject::DomainCa {
                    domain: domain(),
                    organization: Some("Example Messaging".into()),
                },
                scheme,
                validity(now),
            )
            .expect("domain CA");
        let anchors = TrustAnchors::new(vec![root.certificate().clone()]);
        let root_crl = crl(&root, &[], now);
        let domain_crl = crl(&domain_ca, &[], now);
        Pki {
            scheme,
            now,
            root,
            domain_ca,
            anchors,
            root_crl,
            domain_crl,
        }
    }

    /// root → domain CA → device (profile 1).
    fn three_levels(&self) -> Case {
        let device = self.device(&self.domain_ca);
        let domain_ca = self.domain_ca.certificate();
        let root = self.root.certificate();
        Case {
            name: "3-level",
            raw: vec![
                cert_signature(&device, domain_ca),
                cert_signature(domain_ca, root),
                crl_signature(&self.domain_crl, domain_ca),
                crl_signature(&self.root_crl, root),
            ],
            chain: vec![device, domain_ca.clone()],
            crls: vec![self.root_crl.clone(), self.domain_crl.clone()],
        }
    }

    /// The 3-level chain with the root included, to compare: `verify_chain`
    /// then finds the anchor by its DER instead of checking the top
    /// certificate's signature to find it.
    fn three_levels_with_root(&self) -> Case {
        let mut case = self.three_levels();
        case.name = "3-level+root";
        case.chain.push(self.root.certificate().clone());
        case
    }

    /// root → domain CA → user CA (profile 3) → device.
    fn four_levels(&self) -> Case {
        let user_ca = self
            .domain_ca
            .issue_ca(
                &Subject::User {
                    user: user(),
                    issues_devices: true,
                    numbers: None,
                    organization: None,
                },
                self.scheme,
                validity(self.now),
            )
            .expect("user CA");
        let device = self.device(&user_ca);
        let user_ca = user_ca.certificate();
        let domain_ca = self.domain_ca.certificate();
        let root = self.root.certificate();
        Case {
            name: "4-level",
            raw: vec![
                cert_signature(&device, user_ca),
                cert_signature(user_ca, domain_ca),
                cert_signature(domain_ca, root),
                crl_signature(&self.domain_crl, domain_ca),
                crl_signature(&self.root_crl, root),
            ],
            chain: vec![device, user_ca.clone(), domain_ca.clone()],
            crls: vec![self.root_crl.clone(), self.domain_crl.clone()],
        }
    }

    fn device(&self, issuer: &CertificateAuthority) -> Certificate {
        let key = mimi_credentials::KeyPair::generate(self.scheme).expect("key");
        issuer
            .issue(
                &Subject::Device {
                    device: DeviceId::new(&user(), "072b").expect("device"),
                    with_user_uri: false,
                    numbers: None,
                    organization: None,
                },
                &key.public_key(),
                validity(self.now),
            )
            .expect("device certificate")
    }
}

fn domain() -> Domain {
    Domain::parse(DOMAIN).expect("domain")
}

fn user() -> UserId {
    UserId::new("BFuVxW5BfqaMEfJDc8R7Qw", Some(domain())).expect("user")
}

/// From an hour before `now` for thirty days.
fn validity(now: SystemTime) -> Validity {
    Validity::new(now - HOUR, now + 30 * DAY).expect("valid")
}

/// A CRL of `ca` listing `revoked`, valid from an hour before `now` for 23
/// more hours.
fn crl(ca: &CertificateAuthority, revoked: &[RevokedSerial], now: SystemTime) -> Crl {
    ca.crl(revoked, now - HOUR, now + 23 * HOUR, 1)
        .expect("CRL")
}

/// `n` serials as the crate issues them: 16 random bytes, the first in
/// 0x01..=0x7f so the INTEGER is positive and exactly 16 bytes long.
fn random_serials(n: usize, revoked_at: SystemTime) -> Vec<RevokedSerial> {
    (0..n)
        .map(|_| {
            let mut serial = vec![0u8; 16];
            aws_lc_rs::rand::fill(&mut serial).expect("randomness");
            serial[0] &= 0x7f;
            serial[0] |= 0x01;
            RevokedSerial { serial, revoked_at }
        })
        .collect()
}

fn verify_raw(alg: &'static dyn VerificationAlgorithm, raw: &[RawSignature]) {
    for s in raw {
        UnparsedPublicKey::new(alg, black_box(&s.key))
            .verify(black_box(&s.message), black_box(&s.signature))
            .expect("signature verifies");
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let schemes = [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256];
    let pkis: Vec<Pki> = schemes.into_iter().map(Pki::new).collect();

    println!("verify_chain (root left out, fresh CRLs of root and domain CA) vs raw aws-lc-rs");
    println!(
        "(raw = every signature of a cold check; verify_chain checks a Crl's signature once and \
         remembers it, so in this steady state it verifies only the certificate signatures)"
    );
    println!(
        "{:<12} {:<12} {:>5} {:>14} {:>10} {:>10} {:>9}",
        "scheme", "chain", "sigs", "verify/s", "ours µs", "raw µs", "ours/raw"
    );
    for pki in &pkis {
        let alg = verification_alg(pki.scheme);
        for case in [
            pki.three_levels(),
            pki.four_levels(),
            pki.three_levels_with_root(),
        ] {
            let verified = verify_chain(&case.chain, &pki.anchors, &case.crls, pki.now)
                .expect("the bench chain verifies");
            assert_eq!(verified.issuing_domain().as_str(), DOMAIN);
            let (ours, _) = measure(budget, || {
                black_box(
                    verify_chain(
                        black_box(&case.chain),
                        &pki.anchors,
                        black_box(&case.crls),
                        pki.now,
                    )
                    .is_ok(),
                );
            });
            let (raw, _) = measure(budget, || verify_raw(alg, &case.raw));
            println!(
                "{:<12} {:<12} {:>5} {:>14.0} {:>10.1} {:>10.1} {:>9.2}",
                scheme_name(pki.scheme),
                case.name,
                case.raw.len(),
                1.0 / ours.as_secs_f64(),
                micros(ours),
                micros(raw),
                ours.as_secs_f64() / raw.as_secs_f64(),
            );
        }
    }

    println!();
    println!("CRL of a domain CA listing {REVOKED} revoked 16-byte serials");
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "scheme",
        "DER bytes",
        "PEM bytes",
        "issue ms",
        "parse ms",
        "lists µs",
        "lists µs",
        "3-level µs"
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "", "", "", "", "from_der", "(absent)", "(last)", "with this CRL"
    );
    for pki in &pkis {
        let revoked = random_serials(REVOKED, pki.now - 2 * HOUR);
        let big = crl(&pki.domain_ca, &revoked, pki.now);
        assert_eq!(big.revoked_count(), REVOKED);
        let der_len = big.der().len();
        let pem_len = big.pem().len();
        let (issue, issue_n) = measure(budget, || {
            black_box(crl(&pki.domain_ca, black_box(&revoked), pki.now));
        });
        let (parse, _) = measure(budget, || {
            black_box(Crl::from_der(black_box(big.der())).is_ok());
        });
        // A certificate that is not revoked: the common case, a full scan.
        let absent = [0x7f_u8; 16];
        assert!(!big.lists(&absent));
        let (lists_absent, _) = measure(budget, || {
            black_box(big.lists(black_box(&absent)));
        });
        let last = &revoked[REVOKED - 1].serial;
        assert!(big.lists(last));
        let (lists_last, _) = measure(budget, || {
            black_box(big.lists(black_box(last)));
        });
        // The 3-level chain with the big CRL in place of the domain CA's.
        let case = pki.three_levels();
        let crls = vec![pki.root_crl.clone(), big.clone()];
        verify_chain(&case.chain, &pki.anchors, &crls, pki.now).expect("verifies");
        let (chain, _) = measure(budget, || {
            black_box(verify_chain(black_box(&case.chain), &pki.anchors, &crls, pki.now).is_ok());
        });
        println!(
            "{:<12} {:>10} {:>10} {:>10.1} {:>10.1} {:>12.1} {:>12.1} {:>14.1}",
            scheme_name(pki.scheme),
            der_len,
            pem_len,
            millis(issue),
            millis(parse),
            micros(lists_absent),
            micros(lists_last),
            micros(chain),
        );
        if issue_n < 10 {
            println!("{:<12} (issue: mean of {issue_n} runs)", "");
        }
    }

    csr_checks(budget);
}

/// `verify_csr` on finalize-sized CSRs (one DNS name), as the ACME server
/// runs it for every finalize.
fn csr_checks(budget: Duration) {
    println!();
    println!("verify_csr (one DNS name)");
    println!("{:<12} {:>10} {:>10}", "scheme", "checks/s", "µs");
    let algs: [(&str, &'static rcgen::SignatureAlgorithm); 2] = [
        ("Ed25519", &rcgen::PKCS_ED25519),
        ("ECDSA P-256", &rcgen::PKCS_ECDSA_P256_SHA256),
    ];
    for (name, alg) in algs {
        let key = rcgen::KeyPair::generate_for(alg).expect("key");
        let csr = rcgen::CertificateParams::new(vec!["provider.example.com".to_owned()])
            .expect("params")
            .serialize_request(&key)
            .expect("csr");
        let der = csr.der().to_vec();
        mimi_credentials::verify_csr(&der).expect("valid CSR");
        let (per, _) = measure(budget, || {
            black_box(mimi_credentials::verify_csr(black_box(&der)).is_ok());
        });
        println!(
            "{name:<12} {:>10.0} {:>10.1}",
            1.0 / per.as_secs_f64(),
            micros(per)
        );
    }
}
