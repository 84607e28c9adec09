//! `mimi demo`: a tour of MIMI identifiers and credentials. It becomes the local federation
//! demo (authority, providers, clients) as those parts land.

use std::time::{Duration, SystemTime};

use mimi_credentials::{
    CertificateAuthority, KeyPair, RevokedSerial, SignatureScheme, Subject, TrustAnchors, Validity,
    verify_chain,
};
use mimi_identifiers::{DeviceId, Domain, Protocol, UserId, parse};

use crate::id::Report;

/// The WXYZ table of draft-mahy-mimi-identity, qualified column, and the
/// other protocols' rows.
const TOUR: &[(&str, &str)] = &[
    ("a provider's domain", "example.com"),
    ("a handle: friendly, may change", "@alice@example.com"),
    ("a stable user id", "BFuVxW5BfqaMEfJDc8R7Qw@example.com"),
    (
        "one of that user's devices",
        "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
    ),
    ("a channel", "#projectX@example.com"),
    ("a team", "##engineering@example.com"),
    (
        "a channel within the team",
        "##engineering/projectX@example.com",
    ),
    ("an MLS group / session", "$TII9t5viBrXiXc@example.com"),
    ("an unqualified handle", "@alice"),
    (
        "an XMPP full JID, in the draft's im: form",
        "im:xmpp=juliet/balcony@example.com",
    ),
    (
        "a SIP contact address",
        "sip:juliet@[2001:db8::0225:96ff:fe12:3456]",
    ),
    (
        "a MIMI protocol device URI",
        "mimi://a.example/d/alice/ClientA1",
    ),
    ("a phone number, typed by a person", "+1 (201) 555-0123"),
];

/// Inputs that are refused, to show the errors.
const REFUSED: &[&str] = &[
    "@alice@example..com",
    "mimi://a.example/u/alice?x=1",
    "tel:+1-201-555-0123;ext=7",
];

pub fn run() -> anyhow::Result<()> {
    identifiers()?;
    credentials()?;
    Ok(())
}

fn identifiers() -> anyhow::Result<()> {
    println!("MIMI identifiers (draft-mahy-mimi-identity; mimi:// from draft-ietf-mimi-protocol)");
    println!("Each input is parsed strictly and shown in every form that exists for it.\n");
    for (what, input) in TOUR {
        let parsed = parse(input)?;
        let proto = parsed.protocol.clone().unwrap_or_else(Protocol::wxyz);
        println!("── {what}: {input}");
        for line in Report::new(&parsed.identifier, &proto).human().lines() {
            println!("   {line}");
        }
        println!();
    }
    println!("── what is refused, and why");
    for input in REFUSED {
        let err = parse(input).expect_err("the tour's refused inputs are invalid");
        println!("   {input}\n     → {err}");
    }
    println!("\nTry: mimi id parse --json <identifier>, mimi id convert --to mimi <identifier>");
    Ok(())
}

/// Credentials (draft-mahy-mimi-identity "Centralized credential hierarchy"):
/// an identity root certifies a provider's domain CA, which certifies a
/// device; a verifier checks the chain with fresh revocation data.
fn credentials() -> anyhow::Result<()> {
    println!("\nMIMI credentials (X.509, draft-barnes-mimi-identity-arch)");
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let validity = Validity::new(now - hour, now + 30 * 24 * hour)?;
    let root =
        CertificateAuthority::new_root("Demo identity root", SignatureScheme::Ed25519, validity)?;
    let a_example = Domain::parse("a.example")?;
    let domain_ca = root.issue_ca(
        &Subject::DomainCa {
            domain: a_example.clone(),
            organization: Some("A Messaging".into()),
        },
        SignatureScheme::Ed25519,
        validity,
    )?;
    println!("── the identity root certifies the domain CA of a.example (name-constrained to it)");
    let alice = UserId::new("alice", Some(a_example))?;
    let device = DeviceId::new(&alice, "phone")?;
    let device_key = KeyPair::generate(SignatureScheme::Ed25519)?;
    let subject = Subject::Device {
        device,
        with_user_uri: true,
        numbers: None,
        organization: None,
    };
    let cert = domain_ca.issue(&subject, &device_key.public_key(), validity)?;
    println!(
        "── the domain CA certifies alice's phone: {}",
        cert.uris().join(", ")
    );

    let crls = [
        root.crl(&[], now - hour, now + 23 * hour, 1)?,
        domain_ca.crl(&[], now - hour, now + 23 * hour, 1)?,
    ];
    let chain = [cert.clone(), domain_ca.certificate().clone()];
    let anchors = TrustAnchors::new(vec![root.certificate().clone()]);
    let cred = verify_chain(&chain, &anchors, &crls, now)?;
    println!(
        "── a client verifies it: user {}, device {}, issued under {}, profile {:?}",
        cred.user(),
        cred.device().map(ToString::to_string).unwrap_or_default(),
        cred.issuing_domain(),
        cred.profile()
    );

    println!("── what is refused, and why");
    let bob = DeviceId::new(
        &UserId::new("bob", Some(Domain::parse("b.example")?))?,
        "laptop",
    )?;
    let outside = Subject::Device {
        device: bob,
        with_user_uri: false,
        numbers: None,
        organization: None,
    };
    let refused = domain_ca.issue(&outside, &device_key.public_key(), validity);
    println!(
        "   a.example's CA asked to certify bob@b.example\n     → {}",
        refused.expect_err("outside its domain")
    );
    let missing = verify_chain(&chain, &anchors, &crls[..1], now);
    println!(
        "   verifying without the domain CA's CRL\n     → {}",
        missing.expect_err("CRL required")
    );
    let revoked = [
        crls[0].clone(),
        domain_ca.crl(
            &[RevokedSerial {
                serial: cert.serial().to_vec(),
                revoked_at: now - hour,
            }],
            now - hour,
            now + 23 * hour,
            2,
        )?,
    ];
    let after = verify_chain(&chain, &anchors, &revoked, now);
    println!(
        "   after the device is revoked\n     → {}",
        after.expect_err("revoked")
    );
    println!("\nTry: mimi cert show FILE, mimi cert verify --roots ROOTS --crl CRLS CHAIN");
    Ok(())
}
