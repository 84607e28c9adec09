//! MIMI's own rules, which OpenSSL does not know: TNAuthList delegation, the
//! profile-3 user-CA rule, the shape of credential URIs, and mandatory fresh
//! revocation data. Each case says which certificate fails and why.

use mimi_credentials::{
    CertificateAuthority, Rejection, SignatureScheme, Subject, TelephoneNumber, TnAuthList,
    TnEntry, Validity, rcgen, verify_chain,
};
use mimi_identifiers::PhoneNumber;

use crate::pki::{DAY, HOUR, Pki, device_subject, dom, user, user_subject};

fn phone(n: &str) -> TnAuthList {
    TnAuthList::one(&PhoneNumber::parse(n).unwrap())
}

fn phone_ca(pki: &Pki, numbers: TnAuthList) -> CertificateAuthority {
    let subject = Subject::PhoneCa {
        domain: dom("a.example"),
        numbers,
    };
    pki.root
        .issue_ca(
            &subject,
            pki.scheme,
            Validity::new(pki.now - HOUR, pki.now + 30 * DAY).unwrap(),
        )
        .unwrap()
}

fn user_with(numbers: Option<TnAuthList>) -> Subject {
    Subject::User {
        user: user("alice", "a.example"),
        issues_devices: false,
        numbers,
        organization: None,
    }
}

#[test]
fn phone_number_ca_delegates_its_number() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = phone_ca(&pki, phone("+12015550123"));
    assert_eq!(ca.certificate().ca(), Some(Some(1)));
    let key = pki.key().public_key();
    let cert = ca
        .issue(
            &user_with(Some(phone("+12015550123"))),
            &key,
            pki.validity(),
        )
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    let cred = verify_chain(
        &[cert, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap();
    assert_eq!(
        cred.phone_numbers(),
        [TelephoneNumber::new("12015550123").unwrap()]
    );
    assert_eq!(cred.issuing_domain(), &dom("a.example"));

    // Another number: the CA refuses, and a forged certificate fails verification.
    let other = user_with(Some(phone("+12015550199")));
    assert!(ca.issue(&other, &key, pki.validity()).is_err());
    let forged = ca
        .dangerous_issue_unchecked(&other, &key, pki.validity(), |_| {})
        .unwrap();
    let err = verify_chain(
        &[forged, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap_err();
    assert_eq!(
        (err.index, err.reason),
        (0, Rejection::TnAuthListNotDelegated)
    );

    // A number CA still cannot name another domain.
    let outside = Subject::User {
        user: user("bob", "b.example"),
        issues_devices: false,
        numbers: None,
        organization: None,
    };
    assert!(ca.issue(&outside, &key, pki.validity()).is_err());
}

#[test]
fn a_range_delegates_numbers_inside_it() {
    let pki = Pki::new(SignatureScheme::EcdsaP256Sha256);
    let range = TnAuthList::new(vec![TnEntry::Range {
        start: TelephoneNumber::new("12015550100").unwrap(),
        count: 100,
    }])
    .unwrap();
    let ca = phone_ca(&pki, range);
    let key = pki.key().public_key();
    assert!(
        ca.issue(
            &user_with(Some(phone("+12015550150"))),
            &key,
            pki.validity()
        )
        .is_ok()
    );
    assert!(
        ca.issue(
            &user_with(Some(phone("+12015550250"))),
            &key,
            pki.validity()
        )
        .is_err()
    );
}

#[test]
fn a_domain_ca_cannot_certify_numbers() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let key = pki.key().public_key();
    let subject = user_with(Some(phone("+12015550123")));
    assert!(ca.issue(&subject, &key, pki.validity()).is_err());
    let forged = ca
        .dangerous_issue_unchecked(&subject, &key, pki.validity(), |_| {})
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    let err = verify_chain(
        &[forged, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap_err();
    assert_eq!(
        (err.index, err.reason),
        (0, Rejection::TnAuthListWithoutIssuerList)
    );
}

#[test]
fn a_user_ca_certifies_only_its_own_devices() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let user_ca = ca
        .issue_ca(
            &user_subject("alice", "a.example", true),
            pki.scheme,
            pki.validity(),
        )
        .unwrap();
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    let key = pki.key().public_key();
    let chain_for = |leaf| {
        vec![
            leaf,
            user_ca.certificate().clone(),
            ca.certificate().clone(),
        ]
    };

    let mallory = user_ca
        .dangerous_issue_unchecked(
            &device_subject("mallory", "1", "a.example", false),
            &key,
            pki.validity(),
            |_| {},
        )
        .unwrap();
    let err = verify_chain(&chain_for(mallory), &pki.anchors(), &crls, pki.now).unwrap_err();
    assert_eq!(err.index, 0);
    assert_eq!(
        err.reason.to_string(),
        "issued by the user CA of alice@a.example, it must be a device certificate of that user: it names someone else"
    );

    // Not even a CA with the user CA's own name (self-issued, which RFC 5280
    // path lengths would not count).
    let self_issued = user_ca
        .dangerous_issue_unchecked(
            &user_subject("alice", "a.example", true),
            &key,
            pki.validity(),
            |_| {},
        )
        .unwrap();
    let err = verify_chain(&chain_for(self_issued), &pki.anchors(), &crls, pki.now).unwrap_err();
    assert_eq!(
        err.reason.to_string(),
        "issued by the user CA of alice@a.example, it must be a device certificate of that user: it is a CA"
    );

    let user_cert = user_ca
        .dangerous_issue_unchecked(
            &user_subject("alice", "a.example", false),
            &key,
            pki.validity(),
            |_| {},
        )
        .unwrap();
    let err = verify_chain(&chain_for(user_cert), &pki.anchors(), &crls, pki.now).unwrap_err();
    assert_eq!(
        err.reason.to_string(),
        "issued by the user CA of alice@a.example, it must be a device certificate of that user: it must name exactly one device"
    );
}

#[test]
fn credential_uris_must_be_mimi_users_and_devices() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let crls = [pki.crl(&pki.root, &[]), pki.crl(&ca, &[])];
    let key = pki.key().public_key();
    let with_sans = |sans: Vec<&str>| {
        let cert = ca
            .dangerous_issue_unchecked(
                &device_subject("alice", "phone", "a.example", false),
                &key,
                pki.validity(),
                |p| {
                    p.subject_alt_names = sans
                        .iter()
                        .map(|s| rcgen::SanType::URI((*s).try_into().unwrap()))
                        .collect();
                },
            )
            .unwrap();
        verify_chain(
            &[cert, ca.certificate().clone()],
            &pki.anchors(),
            &crls,
            pki.now,
        )
        .map(|c| c.user().to_string())
        .map_err(|e| e.reason.to_string())
    };
    assert_eq!(
        with_sans(vec!["mimi://a.example/d/alice/phone"]),
        Ok("alice@a.example".into())
    );
    let cases = [
        (vec![], "subjectAltName: no user or device URI"),
        (
            vec!["mimi://a.example/d/phone"],
            "subjectAltName: the device URI does not name its user (mimi://<domain>/d/<user>/<device>)",
        ),
        (
            vec!["mimi://a.example/r/clubhouse"],
            "subjectAltName: a channel URI is not a credential identity",
        ),
        (
            vec!["https://a.example/u/alice"],
            "subjectAltName: https://a.example/u/alice is not a mimi:// URI",
        ),
        (
            vec!["im:wxyz=%40alice@a.example"],
            "its URI im:wxyz=%40alice@a.example is outside the name constraints of O=a.example Messaging,CN=a.example MIMI domain CA",
        ),
        (
            vec!["mimi://a.example/u/alice", "mimi://a.example/u/bob"],
            "subjectAltName: more than one user or device URI",
        ),
        (
            vec!["mimi://a.example/d/alice/phone", "mimi://a.example/u/bob"],
            "subjectAltName: the user URI and the device URI name different users",
        ),
    ];
    for (sans, expected) in cases {
        assert_eq!(
            with_sans(sans.clone()),
            Err(expected.to_string()),
            "{sans:?}"
        );
    }
}

#[test]
fn revocation_data_is_mandatory_fresh_and_signed_by_the_issuer() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let ca = pki.domain_ca("a.example");
    let leaf = ca
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &pki.key().public_key(),
            pki.validity(),
        )
        .unwrap();
    let chain = [leaf, ca.certificate().clone()];
    let verify = |crls: &[mimi_credentials::Crl]| {
        verify_chain(&chain, &pki.anchors(), crls, pki.now)
            .map(|_| ())
            .map_err(|e| (e.index, e.reason.to_string()))
    };
    assert_eq!(
        verify(&[pki.crl(&pki.root, &[]), pki.crl(&ca, &[])]),
        Ok(())
    );
    assert_eq!(
        verify(&[pki.crl(&pki.root, &[])]),
        Err((0, "no CRL from its issuer O=a.example Messaging,CN=a.example MIMI domain CA was given; fetch the current one and retry".into()))
    );
    assert_eq!(
        verify(&[pki.crl(&ca, &[])]),
        Err((1, "no CRL from its issuer CN=MIMI test identity root was given; fetch the current one and retry".into()))
    );
    let stale = ca
        .crl(&[], pki.now - 30 * HOUR, pki.now - 7 * HOUR, 1)
        .unwrap();
    let (index, reason) = verify(&[pki.crl(&pki.root, &[]), stale]).unwrap_err();
    assert_eq!(index, 0);
    assert!(
        reason.ends_with("it is stale (past its nextUpdate); fetch the current one"),
        "{reason}"
    );
    let future = ca.crl(&[], pki.now + HOUR, pki.now + 5 * HOUR, 1).unwrap();
    assert!(
        verify(&[pki.crl(&pki.root, &[]), future])
            .unwrap_err()
            .1
            .contains("not valid yet")
    );
    // A CRL may live at most 24 hours.
    assert!(ca.crl(&[], pki.now, pki.now + 25 * HOUR, 1).is_err());
}

#[test]
fn untrusted_roots_and_unrelated_chains_are_refused() {
    let pki = Pki::new(SignatureScheme::Ed25519);
    let other = Pki::new(SignatureScheme::Ed25519);
    let ca = other.domain_ca("a.example");
    let leaf = ca
        .issue(
            &device_subject("alice", "phone", "a.example", false),
            &other.key().public_key(),
            other.validity(),
        )
        .unwrap();
    let crls = [other.crl(&other.root, &[]), other.crl(&ca, &[])];
    let err = verify_chain(
        &[leaf, ca.certificate().clone()],
        &pki.anchors(),
        &crls,
        pki.now,
    )
    .unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(
        err.reason,
        Rejection::UntrustedRoot {
            issuer: "CN=MIMI test identity root".into()
        }
    );
    assert_eq!(
        verify_chain(&[], &pki.anchors(), &[], pki.now)
            .unwrap_err()
            .reason,
        Rejection::EmptyChain
    );
    // A root on its own is not a credential.
    let err = verify_chain(
        &[pki.root.certificate().clone()],
        &pki.anchors(),
        &[],
        pki.now,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a credential"), "{err}");
}
