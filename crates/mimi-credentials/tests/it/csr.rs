//! PKCS#10 CSRs as ACME clients send them in finalize: made by rcgen and by
//! `openssl req`, valid and broken.

use std::path::Path;
use std::process::Command;

use mimi_credentials::rcgen::{
    self, CertificateParams, CustomExtension, DnType, KeyPair as RcgenKeyPair, SanType,
};
use mimi_credentials::{
    CsrError, KeyPair, MAX_CSR_LEN, SignatureScheme, TnAuthList, TnAuthListError, verify_csr,
};
use mimi_identifiers::PhoneNumber;
use proptest::prelude::*;

const TN_AUTH_LIST_ARCS: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 1, 26];

fn rcgen_key(scheme: SignatureScheme) -> RcgenKeyPair {
    let alg = match scheme {
        SignatureScheme::Ed25519 => &rcgen::PKCS_ED25519,
        SignatureScheme::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
    };
    RcgenKeyPair::generate_for(alg).unwrap()
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+1 201 555 0123").unwrap()
}

/// A CSR with `sans` (and the common name `cn`, if any), signed by `key`.
fn rcgen_csr(
    key: &RcgenKeyPair,
    cn: Option<&str>,
    sans: Vec<SanType>,
    extensions: Vec<CustomExtension>,
) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params.subject_alt_names = sans;
    params.custom_extensions = extensions;
    params.serialize_request(key).unwrap().der().to_vec()
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

fn uri(u: &str) -> SanType {
    SanType::URI(u.try_into().unwrap())
}

fn tn_extension(der: Vec<u8>) -> CustomExtension {
    CustomExtension::from_oid_content(&TN_AUTH_LIST_ARCS, der)
}

#[test]
fn rcgen_csrs_with_dns_names_uris_and_a_tnauthlist_verify() {
    for scheme in [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256] {
        let key = rcgen_key(scheme);
        let der = rcgen_csr(
            &key,
            Some("alice's phone"),
            vec![
                dns("Provider.A.Example"),
                dns("a.example"),
                uri("mimi://a.example/d/alice/phone"),
                uri("mimi://a.example/u/alice"),
            ],
            vec![tn_extension(TnAuthList::one(&phone()).to_der())],
        );
        let csr = verify_csr(&der).unwrap_or_else(|e| panic!("{scheme:?}: {e}"));
        let ours = KeyPair::from_pkcs8_der(&key.serialize_der(), scheme).unwrap();
        assert_eq!(csr.public_key, ours.public_key(), "{scheme:?}");
        assert_eq!(csr.public_key.scheme(), scheme);
        assert_eq!(csr.dns_names, ["provider.a.example", "a.example"]);
        assert_eq!(
            csr.uris,
            ["mimi://a.example/d/alice/phone", "mimi://a.example/u/alice"]
        );
        assert_eq!(csr.tn_auth_list, Some(TnAuthList::one(&phone())));
        assert_eq!(csr.subject_common_name.as_deref(), Some("alice's phone"));
    }
}

#[test]
fn a_csr_without_extensions_or_subject_has_no_names() {
    let key = rcgen_key(SignatureScheme::Ed25519);
    let csr = verify_csr(&rcgen_csr(&key, None, vec![], vec![])).unwrap();
    assert!(csr.dns_names.is_empty());
    assert!(csr.uris.is_empty());
    assert_eq!(csr.tn_auth_list, None);
    assert_eq!(csr.subject_common_name, None);
}

/// Runs openssl with `args` in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A DER CSR from `openssl req -new` for a key made by `genpkey` with
/// `genpkey_args`, with `req_args` added.
fn openssl_csr(genpkey_args: &[&str], req_args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut genpkey = vec!["genpkey", "-out", "key.pem"];
    genpkey.extend_from_slice(genpkey_args);
    openssl(dir.path(), &genpkey);
    let mut req = vec![
        "req", "-new", "-key", "key.pem", "-outform", "DER", "-out", "csr.der",
    ];
    req.extend_from_slice(req_args);
    openssl(dir.path(), &req);
    std::fs::read(dir.path().join("csr.der")).unwrap()
}

const ED25519: &[&str] = &["-algorithm", "ed25519"];
const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

#[test]
fn openssl_csrs_verify() {
    for (name, key_args, scheme) in [
        ("Ed25519", ED25519, SignatureScheme::Ed25519),
        ("P-256", P256, SignatureScheme::EcdsaP256Sha256),
    ] {
        let der = openssl_csr(
            key_args,
            &[
                "-subj",
                "/CN=a.example",
                "-addext",
                "subjectAltName=DNS:a.example,DNS:WWW.A.Example",
            ],
        );
        let csr = verify_csr(&der).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(csr.public_key.scheme(), scheme, "{name}");
        assert_eq!(csr.dns_names, ["a.example", "www.a.example"], "{name}");
        assert!(csr.uris.is_empty());
        assert_eq!(csr.subject_common_name.as_deref(), Some("a.example"));
    }
}

#[test]
fn an_openssl_csr_with_a_uri_san_verifies() {
    let der = openssl_csr(
        P256,
        &[
            "-subj",
            "/O=A Messaging",
            "-addext",
            "subjectAltName=URI:mimi://a.example/u/alice",
        ],
    );
    let csr = verify_csr(&der).unwrap();
    assert_eq!(csr.uris, ["mimi://a.example/u/alice"]);
    assert_eq!(csr.subject_common_name, None);
}

#[test]
fn an_rsa_csr_is_refused_with_advice() {
    let der = openssl_csr(
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        &[
            "-subj",
            "/CN=a.example",
            "-addext",
            "subjectAltName=DNS:a.example",
        ],
    );
    let err = verify_csr(&der).unwrap_err();
    assert_eq!(err, CsrError::UnsupportedKey("RSA".into()));
    let message = err.to_string();
    for advice in ["ECDSA P-256 or Ed25519", "certbot --key-type ecdsa"] {
        assert!(message.contains(advice), "{message}");
    }
}

#[test]
fn a_p384_csr_is_refused() {
    let der = openssl_csr(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        &["-subj", "/CN=a.example"],
    );
    assert_eq!(
        verify_csr(&der),
        Err(CsrError::UnsupportedKey("ECDSA P-384".into()))
    );
}

#[test]
fn a_p256_csr_signed_with_sha384_is_refused() {
    let der = openssl_csr(P256, &["-subj", "/CN=a.example", "-sha384"]);
    let err = verify_csr(&der).unwrap_err();
    assert_eq!(
        err,
        CsrError::UnsupportedAlgorithm("ECDSA with SHA-384".into())
    );
    assert!(err.to_string().contains("SHA-256"), "{err}");
}

/// The CSR's last byte is the last byte of its signature.
fn flip_last_byte(der: &[u8]) -> Vec<u8> {
    let mut der = der.to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    der
}

#[test]
fn a_tampered_csr_is_refused() {
    for scheme in [SignatureScheme::Ed25519, SignatureScheme::EcdsaP256Sha256] {
        let der = rcgen_csr(&rcgen_key(scheme), None, vec![dns("a.example")], vec![]);
        assert_eq!(
            verify_csr(&flip_last_byte(&der)),
            Err(CsrError::BadSignature),
            "{scheme:?}"
        );
    }
    let der = openssl_csr(
        ED25519,
        &[
            "-subj",
            "/CN=a.example",
            "-addext",
            "subjectAltName=DNS:a.example",
        ],
    );
    assert_eq!(
        verify_csr(&flip_last_byte(&der)),
        Err(CsrError::BadSignature)
    );
    // Changing a requested name breaks the signature too.
    let der = rcgen_csr(
        &rcgen_key(SignatureScheme::Ed25519),
        None,
        vec![dns("a.example")],
        vec![],
    );
    let at = der
        .windows(9)
        .position(|w| w == b"a.example")
        .expect("the name is in the DER");
    let mut tampered = der.clone();
    tampered[at] = b'b';
    assert_eq!(verify_csr(&tampered), Err(CsrError::BadSignature));
}

/// Length of a DER TLV at the start of `der`: (header length, total length).
fn tlv(der: &[u8]) -> (usize, usize) {
    match der[1] {
        n if n < 0x80 => (2, 2 + n as usize),
        0x81 => (3, 3 + der[2] as usize),
        0x82 => (4, 4 + u16::from_be_bytes([der[2], der[3]]) as usize),
        other => panic!("unexpected length byte {other:#x}"),
    }
}

fn sequence(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

#[test]
fn a_signature_algorithm_that_does_not_fit_the_key_is_refused() {
    // A P-256 CSR whose signatureAlgorithm is rewritten to Ed25519.
    let der = rcgen_csr(
        &rcgen_key(SignatureScheme::EcdsaP256Sha256),
        None,
        vec![dns("a.example")],
        vec![],
    );
    let (header, _) = tlv(&der);
    let body = &der[header..];
    let (_, info_len) = tlv(body);
    let (_, alg_len) = tlv(&body[info_len..]);
    let ed25519_alg = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    let mut content = body[..info_len].to_vec();
    content.extend_from_slice(&ed25519_alg);
    content.extend_from_slice(&body[info_len + alg_len..]);
    let err = verify_csr(&sequence(&content)).unwrap_err();
    assert_eq!(
        err,
        CsrError::AlgorithmMismatch {
            algorithm: "Ed25519".into(),
            key: "ECDSA P-256".into()
        }
    );
    // The surgery itself is sound: put back, it verifies.
    let mut original = body[..info_len].to_vec();
    original.extend_from_slice(&body[info_len..]);
    assert!(verify_csr(&sequence(&original)).is_ok());
}

#[test]
fn other_subject_alt_name_types_are_refused() {
    let key = rcgen_key(SignatureScheme::Ed25519);
    let ip = rcgen_csr(
        &key,
        None,
        vec![dns("a.example"), SanType::IpAddress([192, 0, 2, 1].into())],
        vec![],
    );
    let err = verify_csr(&ip).unwrap_err();
    assert_eq!(
        err,
        CsrError::UnsupportedSan("the IP address 192.0.2.1".into())
    );
    assert!(
        err.to_string().contains("request only DNS names and URIs"),
        "{err}"
    );
    let email = rcgen_csr(
        &key,
        None,
        vec![SanType::Rfc822Name("alice@a.example".try_into().unwrap())],
        vec![],
    );
    assert_eq!(
        verify_csr(&email),
        Err(CsrError::UnsupportedSan(
            "the email address alice@a.example".into()
        ))
    );
    let v6 = openssl_csr(
        ED25519,
        &["-subj", "/CN=x", "-addext", "subjectAltName=IP:2001:db8::1"],
    );
    assert_eq!(
        verify_csr(&v6),
        Err(CsrError::UnsupportedSan(
            "the IP address 2001:db8::1".into()
        ))
    );
}

#[test]
fn a_repeated_extension_is_refused() {
    let key = rcgen_key(SignatureScheme::Ed25519);
    let tn = TnAuthList::one(&phone()).to_der();
    let der = rcgen_csr(
        &key,
        None,
        vec![],
        vec![tn_extension(tn.clone()), tn_extension(tn)],
    );
    assert_eq!(
        verify_csr(&der),
        Err(CsrError::DuplicateExtension(
            "TNAuthList (1.3.6.1.5.5.7.1.26)".into()
        ))
    );
}

#[test]
fn a_malformed_tnauthlist_is_refused() {
    let key = rcgen_key(SignatureScheme::Ed25519);
    // An empty SEQUENCE: a TNAuthList needs at least one entry.
    let der = rcgen_csr(&key, None, vec![], vec![tn_extension(vec![0x30, 0x00])]);
    assert_eq!(
        verify_csr(&der),
        Err(CsrError::BadTnAuthList(TnAuthListError::Empty))
    );
    let der = rcgen_csr(&key, None, vec![], vec![tn_extension(vec![0x04, 0x00])]);
    assert_eq!(
        verify_csr(&der),
        Err(CsrError::BadTnAuthList(TnAuthListError::Malformed))
    );
}

#[test]
fn garbage_is_refused() {
    for bytes in [
        &b""[..],
        b"garbage, not DER",
        &[0x30, 0x03, 0x02, 0x01, 0x00],
        b"-----BEGIN CERTIFICATE REQUEST-----",
    ] {
        let err = verify_csr(bytes).unwrap_err();
        assert!(matches!(err, CsrError::Malformed(_)), "{bytes:?}: {err:?}");
        assert!(err.to_string().contains("PKCS#10"), "{err}");
    }
    // Trailing bytes after a valid CSR.
    let mut der = rcgen_csr(&rcgen_key(SignatureScheme::Ed25519), None, vec![], vec![]);
    der.push(0);
    assert!(matches!(verify_csr(&der), Err(CsrError::Malformed(_))));
    let huge = vec![0x30; MAX_CSR_LEN + 1];
    assert_eq!(verify_csr(&huge), Err(CsrError::TooLarge(MAX_CSR_LEN + 1)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No input makes it panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = verify_csr(&bytes);
    }

    /// A valid CSR with one byte changed is refused or still names the same
    /// key (a change inside the signature's DER wrapper may be harmless only
    /// if it is refused; nothing changed may pass as something else).
    #[test]
    fn a_changed_byte_is_never_accepted_as_different(at in any::<prop::sample::Index>(), xor in 1u8..) {
        let key = rcgen_key(SignatureScheme::EcdsaP256Sha256);
        let der = rcgen_csr(&key, Some("x"), vec![dns("a.example")], vec![]);
        let original = verify_csr(&der).unwrap();
        let mut changed = der.clone();
        changed[at.index(der.len())] ^= xor;
        if let Ok(csr) = verify_csr(&changed) {
            prop_assert_eq!(csr, original);
        }
    }
}
