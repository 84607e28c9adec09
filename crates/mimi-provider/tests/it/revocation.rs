//! Revocation at the provider (docs/enrollment.md, "Relayed CRLs",
//! "Revoking a device", "Phone numbers"), through a real domain CA on
//! loopback (`testing_ca`) and the identity authority's CRL endpoint:
//! the provider relays both CRLs at `/.well-known/mimi/crls`, keeps the last
//! good CRL when a source is down or answers garbage, revokes a device at
//! the domain CA so that the relayed CRL lists it and `verify_chain`
//! refuses it, and enrolls a device for the phone numbers of its invite.

use std::time::{Duration, SystemTime};

use mimi_acme_client::RevocationReason;
use mimi_credentials::{
    CertificateAuthority, Crl, Rejection, SignatureScheme, TelephoneNumber, TnAuthList, TnEntry,
    Validity, VerifyError, verify_chain,
};
use mimi_identifiers::{Domain, PhoneNumber};
use mimi_provider::config::RegistrationPolicy;
use mimi_provider::enrollment::check_numbers_covered;
use mimi_provider::revocation::revoke_device;
use mimi_provider::testing::{Problem, TestError};
use mimi_provider::testing_ca::{EnrollingDevice, EnrollmentSetup};
use mimi_storage::{ClientStore, EnrollmentStore};
use mimi_wire::{ClientOperation, FetchRequest};

const DOMAIN: &str = "a.example";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

fn refused<T: std::fmt::Debug>(result: Result<T, TestError>) -> Problem {
    match result {
        Err(TestError::Refused(reply)) => reply.problem().unwrap(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn assert_problem(problem: &Problem, status: u16, kind: &str, detail: &str) {
    assert_eq!(
        (problem.status, problem.kind.as_str()),
        (status, kind),
        "{problem:?}"
    );
    assert!(
        problem.detail.contains(detail),
        "{:?} does not say {detail:?}",
        problem.detail
    );
}

/// The relayed CRL whose issuer is `subject`.
fn crl_of<'a>(crls: &'a [Crl], subject: &str) -> &'a Crl {
    crls.iter()
        .find(|c| c.issuer_text() == subject)
        .unwrap_or_else(|| panic!("no CRL of {subject} among {} relayed", crls.len()))
}

/// A device of `user` enrolled with an invite, certified and registered,
/// and its ACME account.
async fn registered(
    setup: &EnrollmentSetup,
    user: &str,
    device: &str,
) -> (EnrollingDevice, mimi_acme_client::Account) {
    let invite = setup.invite(user, WEEK).await.unwrap();
    let mut d = setup.device(user, device).unwrap();
    let grant = d.enroll_user(&invite.code).await.unwrap();
    let account = d.acme(&grant).await.unwrap();
    d.register(None).await.unwrap();
    (d, account)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
        .parse()
        .unwrap()
}

fn metrics(setup: &EnrollmentSetup) -> String {
    let provider = setup.provider().unwrap();
    let mut text = String::new();
    provider.crls().render_metrics(&mut text, SystemTime::now());
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_relays_the_identity_root_and_domain_ca_crls() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    provider.crls().refresh().await;
    let (crls, content_type, cache_control) = setup.served_crls().await.unwrap();
    assert_eq!(content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(crls.len(), 2, "the identity root's and the domain CA's");
    let root = crl_of(&crls, &setup.pki().identity_root().subject_text());
    let ca_subject = setup
        .pki()
        .domain_ca(DOMAIN)
        .unwrap()
        .certificate()
        .subject_text();
    let ca = crl_of(&crls, &ca_subject);
    assert_eq!(root.revoked_count(), 0);
    assert_eq!(ca.revoked_count(), 0);
    // Cacheable, but not past the refresh interval (15 min) nor the
    // earliest nextUpdate.
    let max_age: u64 = cache_control
        .as_deref()
        .and_then(|c| c.strip_prefix("public, max-age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age > 0 && max_age <= 900, "{cache_control:?}");

    // A device's chain verifies with exactly what the provider relays.
    let (phone, _) = registered(&setup, "alice", "phone").await;
    verify_chain(
        phone.chain(),
        &setup.pki().trust_anchors(),
        &crls,
        SystemTime::now(),
    )
    .unwrap();
    // The domain CA was unknown to the provider (not configured in
    // `[revocation] issuers`): its CRL was relayed unchecked. The
    // registration taught it the domain CA, whose CRL is checked from the
    // next refresh on.
    let text = metrics(&setup);
    assert_eq!(metric(&text, "mimi_crls_fresh"), 2);
    assert_eq!(metric(&text, "mimi_crls_unchecked"), 1);
    provider.crls().refresh().await;
    assert_eq!(metric(&metrics(&setup), "mimi_crls_unchecked"), 0);
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_listed_refused_and_its_chain_no_longer_verifies() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    let storage = provider.storage().clone();
    let (mut phone, phone_account) = registered(&setup, "alice", "phone").await;
    let laptop = {
        let mut laptop = setup.device("alice", "laptop").unwrap();
        let grant = laptop.enroll_by(&phone).await.unwrap();
        laptop.acme(&grant).await.unwrap();
        laptop.register(None).await.unwrap();
        laptop
    };
    phone.upload_key_packages(1).await.unwrap();
    let serial = phone.chain()[0].serial().to_vec();

    let done = revoke_device(
        &provider,
        &phone.client_uri(),
        RevocationReason::KeyCompromise,
    )
    .await
    .unwrap();
    assert_eq!(done.revoked.serial, serial);
    assert_eq!(done.revoked.reason, 1);
    assert!(!done.already_revoked_at_ca);

    // The relayed CRL of the domain CA lists the serial (the revocation
    // refreshed it), and the device's chain no longer verifies with it.
    let (crls, _, _) = setup.served_crls().await.unwrap();
    let ca_subject = setup
        .pki()
        .domain_ca(DOMAIN)
        .unwrap()
        .certificate()
        .subject_text();
    assert!(crl_of(&crls, &ca_subject).lists(&serial));
    let refusal = verify_chain(
        phone.chain(),
        &setup.pki().trust_anchors(),
        &crls,
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &refusal,
            VerifyError {
                reason: Rejection::Revoked { .. },
                ..
            }
        ),
        "{refusal:?}"
    );
    // The laptop is not revoked.
    verify_chain(
        laptop.chain(),
        &setup.pki().trust_anchors(),
        &crls,
        SystemTime::now(),
    )
    .unwrap();

    // The provider removed the client and refuses it with a clear message.
    assert_eq!(storage.client(&phone.client_uri()).await.unwrap(), None);
    assert_eq!(
        storage
            .clients_of_user(&phone.user_uri())
            .await
            .unwrap()
            .len(),
        1
    );
    let fetch = phone.signed(FetchRequest::new(1, 10)).unwrap();
    let problem = refused(
        phone
            .post(ClientOperation::Fetch, fetch)
            .await
            .unwrap()
            .success(),
    );
    assert_problem(
        &problem,
        401,
        "unauthenticated",
        "was revoked by this provider",
    );
    // Its user's other device cannot enroll it again, and a new
    // certificate from its still pre-authorized ACME account does not
    // bring it back.
    let problem = refused(phone.enroll_by(&laptop).await);
    assert_problem(
        &problem,
        401,
        "unauthenticated",
        "was revoked by this provider",
    );
    phone.rotate_key().unwrap();
    phone.certify(&phone_account).await.unwrap();
    let problem = refused(phone.register(None).await);
    assert_problem(
        &problem,
        401,
        "unauthenticated",
        "was revoked by this provider",
    );
    assert_eq!(storage.client(&phone.client_uri()).await.unwrap(), None);
    // Revoking twice: refused, nothing changes.
    let rows = storage
        .client_revocation(&phone.client_uri())
        .await
        .unwrap();
    let again = revoke_device(
        &provider,
        &phone.client_uri(),
        RevocationReason::Unspecified,
    )
    .await
    .unwrap_err();
    assert!(again.to_string().contains("was revoked already"), "{again}");
    assert_eq!(
        storage
            .client_revocation(&phone.client_uri())
            .await
            .unwrap(),
        rows
    );
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_ca_that_is_down_leaves_the_last_good_crl_relayed() {
    let mut setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    provider.crls().refresh().await;
    let (before, _, _) = setup.served_crls().await.unwrap();
    let failures = metric(&metrics(&setup), "mimi_crl_fetch_failures_total");

    setup.stop_ca();
    provider.crls().refresh().await;
    let (after, _, _) = setup.served_crls().await.unwrap();
    let ders = |crls: &[Crl]| crls.iter().map(|c| c.der().to_vec()).collect::<Vec<_>>();
    assert_eq!(ders(&after), ders(&before), "the last good CRLs are kept");
    assert!(
        metric(&metrics(&setup), "mimi_crl_fetch_failures_total") > failures,
        "the failure is counted"
    );
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_crl_bodies_are_refused_and_the_last_good_crl_kept() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    provider.crls().refresh().await;
    let root_subject = setup.pki().identity_root().subject_text();
    let (held, _, _) = setup.served_crls().await.unwrap();
    let good = crl_of(&held, &root_subject).der().to_vec();

    let now = SystemTime::now();
    let root = setup.pki().identity_root_ca();
    // A CA of the same name under another key: its CRL names the identity
    // root as issuer, but the signature is not the root's.
    let impostor = CertificateAuthority::new_root(
        "MIMI test identity root",
        SignatureScheme::Ed25519,
        Validity::new(now - HOUR, now + 24 * HOUR).unwrap(),
    )
    .unwrap();
    let forged = impostor.crl(&[], now - HOUR, now + 20 * HOUR, 9).unwrap();
    assert_eq!(forged.issuer_text(), root_subject);
    let stale = root.crl(&[], now - 25 * HOUR, now - HOUR, 9).unwrap();
    let older = root.crl(&[], now - 3 * HOUR, now + 20 * HOUR, 9).unwrap();
    let cases: [(&str, Option<Vec<u8>>); 5] = [
        ("garbage", Some(b"<html>not a CRL</html>".to_vec())),
        ("a forged signature", Some(forged.der().to_vec())),
        ("a stale CRL", Some(stale.der().to_vec())),
        ("a CRL older than the one held", Some(older.der().to_vec())),
        ("503", None),
    ];
    for (name, body) in cases {
        let counters = metrics(&setup);
        let refused = metric(&counters, "mimi_crl_refused_total");
        let failed = metric(&counters, "mimi_crl_fetch_failures_total");
        setup.authority().set_body(body.clone());
        provider.crls().refresh().await;
        let (served, _, _) = setup.served_crls().await.unwrap();
        assert_eq!(crl_of(&served, &root_subject).der(), good, "{name}");
        let counters = metrics(&setup);
        let counted = match body {
            Some(_) => metric(&counters, "mimi_crl_refused_total") - refused,
            None => metric(&counters, "mimi_crl_fetch_failures_total") - failed,
        };
        assert_eq!(counted, 1, "{name} is counted once");
    }

    // A newer good CRL replaces it.
    let newer = root
        .crl(&[], now - Duration::from_secs(60), now + 23 * HOUR, 10)
        .unwrap();
    setup.authority().set_body(Some(newer.der().to_vec()));
    provider.crls().refresh().await;
    let (served, _, _) = setup.served_crls().await.unwrap();
    assert_eq!(crl_of(&served, &root_subject).der(), newer.der());
    setup.shutdown().await;
}

/// +1 202 555 0100 to 0199.
fn numbers_of_the_phone_ca() -> TnAuthList {
    TnAuthList::new(vec![TnEntry::Range {
        start: TelephoneNumber::new("12025550100").unwrap(),
        count: 100,
    }])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_with_phone_numbers_certifies_them() {
    let setup = EnrollmentSetup::start_with(
        DOMAIN,
        RegistrationPolicy::Invite,
        Some(numbers_of_the_phone_ca()),
    )
    .await
    .unwrap();
    let provider = setup.provider().unwrap();
    let storage = provider.storage().clone();
    let number = PhoneNumber::parse("+12025550123").unwrap();
    let user = mimi_identifiers::UserId::new("alice", Some(setup.domain().clone())).unwrap();
    let invite = mimi_provider::enrollment::create_invite_with_numbers(
        storage.as_ref(),
        &user,
        WEEK,
        std::slice::from_ref(&number),
    )
    .await
    .unwrap();
    assert_eq!(invite.phone_numbers, ["+12025550123"]);

    let mut phone = setup.device("alice", "phone").unwrap();
    let grant = phone.enroll_user(&invite.code).await.unwrap();
    let types: Vec<&str> = grant.identifiers().iter().map(|i| i.type_()).collect();
    assert_eq!(types, ["mimi-user", "mimi-device", "TNAuthList"]);
    phone.set_phone_numbers(vec![number.clone()]);
    phone.acme(&grant).await.unwrap();
    let phone_ca = setup.ca().phone_ca().unwrap();
    assert_eq!(
        phone.chain()[1].der(),
        phone_ca.der(),
        "issued by the phone-number CA"
    );
    let leaf_numbers: Vec<String> = phone.chain()[0]
        .tn_auth_list()
        .unwrap()
        .numbers()
        .map(|n| n.as_str().to_owned())
        .collect();
    assert_eq!(leaf_numbers, ["12025550123"]);
    phone.register(None).await.unwrap();

    // The provider relays the phone-number CA's CRL too, and the chain
    // verifies with what it relays.
    provider.crls().refresh().await;
    let (crls, _, _) = setup.served_crls().await.unwrap();
    assert_eq!(crls.len(), 3, "identity root, domain CA, phone-number CA");
    crl_of(&crls, &phone_ca.subject_text());
    let verified = verify_chain(
        phone.chain(),
        &setup.pki().trust_anchors(),
        &crls,
        SystemTime::now(),
    )
    .unwrap();
    let certified: Vec<&str> = verified
        .phone_numbers()
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(certified, ["12025550123"]);
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_no_phone_number_ca_covers_are_refused() {
    let setup = EnrollmentSetup::start_with(
        DOMAIN,
        RegistrationPolicy::Invite,
        Some(numbers_of_the_phone_ca()),
    )
    .await
    .unwrap();
    let provider = setup.provider().unwrap();
    let storage = provider.storage().clone();
    let domain: Domain = DOMAIN.parse().unwrap();
    let outside = PhoneNumber::parse("+442079460123").unwrap();

    // At invite time, when the provider knows the phone-number CAs
    // (`[revocation] issuers`).
    let phone_ca = setup.ca().phone_ca().unwrap().clone();
    let e = check_numbers_covered(
        &domain,
        std::slice::from_ref(&phone_ca),
        std::slice::from_ref(&outside),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no phone-number CA of a.example covers all of +442079460123"),
        "{e}"
    );
    check_numbers_covered(
        &domain,
        &[phone_ca],
        &[PhoneNumber::parse("+12025550199").unwrap()],
    )
    .unwrap();

    // Otherwise at enrollment, with the domain CA's refusal relayed; the
    // invite is not spent.
    let user = mimi_identifiers::UserId::new("alice", Some(domain.clone())).unwrap();
    let invite = mimi_provider::enrollment::create_invite_with_numbers(
        storage.as_ref(),
        &user,
        WEEK,
        &[outside],
    )
    .await
    .unwrap();
    let phone = setup.device("alice", "phone").unwrap();
    let problem = refused(phone.enroll_user(&invite.code).await);
    assert_problem(
        &problem,
        403,
        "forbidden",
        "the domain CA refused the invite's phone numbers",
    );
    assert!(problem.detail.contains("+442079460123"), "{problem:?}");
    let stored = storage.invites_of_user(&phone.user_uri()).await.unwrap();
    assert_eq!(stored[0].used_at_ms, None, "the invite is not spent");
    assert_eq!(
        storage
            .pending_enrollment(&phone.client_uri())
            .await
            .unwrap(),
        None
    );
    setup.shutdown().await;
}
