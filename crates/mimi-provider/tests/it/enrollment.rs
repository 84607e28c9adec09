//! Enrollment through the provider (docs/enrollment.md, "The provider
//! side"): a real domain CA (mimi-acme's `domain_ca_router` over TLS on
//! loopback, its CA certificate from the test PKI's identity root) and a
//! provider configured with it from a `provider.toml`. Users enroll their
//! first device with an invite or under open registration, do ACME with
//! mimi-acme-client, register with the chain and upload KeyPackages; a
//! registered device enrolls another; a device renews with a new key.
//! Every refusal is checked for its status and problem type, and for no
//! change to the provider's enrollment state.

use std::path::Path;
use std::time::Duration;

use mimi_credentials::PublicKey;
use mimi_provider::ProviderConfig;
use mimi_provider::config::RegistrationPolicy;
use mimi_provider::enrollment::{REGISTRAR_ACCOUNT_FILE, REGISTRAR_KEY_FILE, invite_hash};
use mimi_provider::testing::{Problem, TestError};
use mimi_provider::testing_ca::{EnrollingDevice, EnrollmentSetup};
use mimi_storage::{
    ClientRecord, ClientStore, EnrollmentStore, Invite, KeyPackageStore, PendingEnrollment,
};
use mimi_wire::client_api::{EnrollDeviceRequest, EnrollUserRequest};
use mimi_wire::{ClientOperation, FetchRequest};

const DOMAIN: &str = "a.example";
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

/// The problem document of a refusal.
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

/// The provider's enrollment state for `users` and `devices`: invites,
/// pending enrollments and registered clients.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    invites: Vec<Invite>,
    pending: Vec<Option<PendingEnrollment>>,
    clients: Vec<ClientRecord>,
}

async fn snapshot(
    setup: &EnrollmentSetup,
    users: &[&str],
    devices: &[&EnrollingDevice],
) -> Snapshot {
    let provider = setup.provider().unwrap();
    let storage = provider.storage();
    let mut invites = Vec::new();
    let mut clients = Vec::new();
    for user in users {
        let uri = format!("mimi://{DOMAIN}/u/{user}");
        invites.extend(storage.invites_of_user(&uri).await.unwrap());
        clients.extend(storage.clients_of_user(&uri).await.unwrap());
    }
    let mut pending = Vec::new();
    for device in devices {
        pending.push(
            storage
                .pending_enrollment(&device.client_uri())
                .await
                .unwrap(),
        );
    }
    Snapshot {
        invites,
        pending,
        clients,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_enrolls_with_an_invite_adds_a_device_and_renews_its_key() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    let storage = provider.storage().clone();
    let data_dir = setup.data_dir().unwrap();
    assert!(
        data_dir.join(REGISTRAR_KEY_FILE).exists(),
        "created at start"
    );
    assert!(
        !data_dir.join(REGISTRAR_ACCOUNT_FILE).exists(),
        "the registrar account is created on first use"
    );

    // The operator invites Alice; only the code's hash is stored.
    let invite = setup.invite("alice", WEEK).await.unwrap();
    assert_eq!(invite.user, "mimi://a.example/u/alice");
    assert_eq!(invite.code.len(), 22);
    let stored = storage
        .invites_of_user("mimi://a.example/u/alice")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].code_hash, invite_hash(&invite.code));

    // Her phone enrolls: the provider, as registrar, gets it a binding for
    // exactly her user and device URIs.
    let mut phone = setup.device("alice", "phone").unwrap();
    let grant = phone.enroll_user(&invite.code).await.unwrap();
    assert_eq!(grant.directory_url(), setup.ca().directory_url());
    let identifiers: Vec<(&str, &str)> = grant
        .identifiers()
        .iter()
        .map(|i| (i.type_(), i.value()))
        .collect();
    assert_eq!(
        identifiers,
        [
            ("mimi-user", "mimi://a.example/u/alice"),
            ("mimi-device", "mimi://a.example/d/alice/phone")
        ]
    );
    assert_eq!(grant.eab_hmac_key().len(), 32);
    assert!(grant.expires_at_ms() > mimi_provider::testing::now_ms());
    let account_url = std::fs::read_to_string(data_dir.join(REGISTRAR_ACCOUNT_FILE)).unwrap();
    assert!(account_url.starts_with(&format!("https://{}", setup.ca().host())));
    let pending = storage
        .pending_enrollment(&phone.client_uri())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.signature_key, phone.spki());
    assert!(pending.first_device);
    let spent = storage
        .invites_of_user("mimi://a.example/u/alice")
        .await
        .unwrap();
    assert!(spent[0].used_at_ms.is_some(), "the invite is spent");

    // ACME by the device itself, then registration with the chain.
    let phone_account = phone.acme(&grant).await.unwrap();
    assert_eq!(phone.chain().len(), 2, "leaf and domain CA, no root");
    let leaf = PublicKey::from_spki_der(&phone.spki()).unwrap();
    let crls = phone.crls().await.unwrap();
    let verified = mimi_credentials::verify_chain(
        phone.chain(),
        &setup.pki().trust_anchors(),
        &crls,
        std::time::SystemTime::now(),
    )
    .unwrap();
    assert_eq!(verified.leaf_spki_der(), leaf.spki_der());
    let registered = phone.register(Some("@alice")).await.unwrap();
    assert_eq!(
        storage
            .pending_enrollment(&phone.client_uri())
            .await
            .unwrap(),
        None,
        "the enrollment is done"
    );
    let record = storage.client(&phone.client_uri()).await.unwrap().unwrap();
    assert_eq!(record.signature_key, phone.spki());
    assert_eq!(record.handle.as_deref(), Some("@alice"));
    assert_eq!(phone.upload_key_packages(2).await.unwrap().stored(), 2);
    assert_eq!(
        storage
            .count(&phone.user_uri(), &phone.client_uri(), 1)
            .await
            .unwrap(),
        2
    );

    // Her laptop is enrolled by her phone, and registers.
    let mut laptop = setup.device("alice", "laptop").unwrap();
    let grant = laptop.enroll_by(&phone).await.unwrap();
    let pending = storage
        .pending_enrollment(&laptop.client_uri())
        .await
        .unwrap()
        .unwrap();
    assert!(!pending.first_device);
    laptop.acme(&grant).await.unwrap();
    laptop.register(None).await.unwrap();
    assert_eq!(laptop.upload_key_packages(1).await.unwrap().stored(), 1);
    let clients = storage
        .clients_of_user("mimi://a.example/u/alice")
        .await
        .unwrap();
    assert_eq!(clients.len(), 2);

    // The phone renews with a new key through its own ACME account: same
    // queue, new key and chain, and the old key no longer speaks for it.
    let old_key = phone.key().to_pkcs8_der();
    phone.rotate_key().unwrap();
    let chain = phone.order(&phone_account, phone.key()).await.unwrap();
    let request = phone.register_request(&chain, None).await.unwrap();
    let answer = phone
        .post(ClientOperation::Register, phone.signed(request).unwrap())
        .await
        .unwrap()
        .success()
        .unwrap();
    let renewed = mimi_wire::RegisterResponse::decode(&answer).unwrap();
    assert_eq!(renewed.queue_id(), registered.queue_id());
    let record = storage.client(&phone.client_uri()).await.unwrap().unwrap();
    assert_eq!(record.signature_key, phone.spki());
    assert_eq!(
        record.handle.as_deref(),
        Some("@alice"),
        "the handle is kept"
    );
    assert_eq!(
        record.certificate_chain,
        chain.iter().map(|c| c.pem()).collect::<String>()
    );
    let old = mimi_credentials::KeyPair::from_pkcs8_der(
        &old_key,
        mimi_credentials::SignatureScheme::Ed25519,
    )
    .unwrap();
    let stale = phone.signed_with(&old, FetchRequest::new(1, 10)).unwrap();
    let problem = refused(
        phone
            .post(ClientOperation::Fetch, stale)
            .await
            .unwrap()
            .success(),
    );
    assert_problem(&problem, 401, "unauthenticated", "does not verify");
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_registration_lets_anyone_claim_a_free_user_once() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Open)
        .await
        .unwrap();
    let mut phone = setup.device("bob", "phone").unwrap();
    let grant = phone.enroll_user("").await.unwrap();
    assert_eq!(grant.identifiers().len(), 2);

    // Someone else's device claiming Bob while his phone enrolls: taken.
    let intruder = setup.device("bob", "tablet").unwrap();
    let before = snapshot(&setup, &["bob"], &[&phone, &intruder]).await;
    let problem = refused(intruder.enroll_user("").await);
    assert_problem(
        &problem,
        409,
        "conflict",
        "the user mimi://a.example/u/bob is taken",
    );
    assert_eq!(
        snapshot(&setup, &["bob"], &[&phone, &intruder]).await,
        before
    );

    phone.acme(&grant).await.unwrap();
    phone.register(None).await.unwrap();
    phone.upload_key_packages(1).await.unwrap();

    // Once Bob has a device, too.
    let before = snapshot(&setup, &["bob"], &[&phone, &intruder]).await;
    let problem = refused(intruder.enroll_user("").await);
    assert_problem(&problem, 409, "conflict", "is taken");
    assert_eq!(
        snapshot(&setup, &["bob"], &[&phone, &intruder]).await,
        before
    );

    // A free name is anyone's.
    let carol = setup.device("carol", "phone").unwrap();
    carol.enroll_user("").await.unwrap();
    setup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enrollments_are_refused_and_change_nothing() {
    let setup = EnrollmentSetup::start(DOMAIN, RegistrationPolicy::Invite)
        .await
        .unwrap();
    let provider = setup.provider().unwrap();
    let storage = provider.storage().clone();
    let alice_invite = setup.invite("alice", WEEK).await.unwrap();
    let carol_invite = setup.invite("carol", WEEK).await.unwrap();
    // An invite that expired an hour ago.
    let now = mimi_provider::testing::now_ms();
    storage
        .add_invite(&Invite {
            code_hash: invite_hash("expired-code"),
            user_id: "mimi://a.example/u/alice".into(),
            created_at_ms: now - 7_200_000,
            expires_at_ms: now - 3_600_000,
            used_at_ms: None,
            phone_numbers: Vec::new(),
        })
        .await
        .unwrap();
    let mut phone = setup.device("alice", "phone").unwrap();
    let laptop = setup.device("alice", "laptop").unwrap();
    let mut mallory = setup.device("mallory", "phone").unwrap();
    let users = ["alice", "carol", "mallory"];

    // enroll_user: no code, a wrong code, another user's code, an expired
    // code, a signature by another key than the enrolled one, a key that is
    // not a SubjectPublicKeyInfo.
    let other_key =
        mimi_credentials::KeyPair::generate(mimi_credentials::SignatureScheme::Ed25519).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = vec![
        (
            "no code",
            phone.signed(phone.enroll_user_request("")).unwrap(),
            403,
            "forbidden",
            "by invite",
        ),
        (
            "wrong code",
            phone
                .signed(phone.enroll_user_request("not-the-code"))
                .unwrap(),
            403,
            "forbidden",
            "no invite with this code for mimi://a.example/u/alice",
        ),
        (
            "carol's code",
            phone
                .signed(phone.enroll_user_request(&carol_invite.code))
                .unwrap(),
            403,
            "forbidden",
            "no invite with this code",
        ),
        (
            "expired code",
            phone
                .signed(phone.enroll_user_request("expired-code"))
                .unwrap(),
            403,
            "forbidden",
            "has expired",
        ),
        (
            "signed by another key",
            phone
                .signed_with(&other_key, phone.enroll_user_request(&alice_invite.code))
                .unwrap(),
            401,
            "unauthenticated",
            "does not verify under the key in the request",
        ),
        (
            "not a key",
            phone
                .signed(EnrollUserRequest::new(&alice_invite.code, vec![0x30, 0x00]))
                .unwrap(),
            400,
            "invalid",
            "not an Ed25519 or P-256 SubjectPublicKeyInfo",
        ),
    ];
    for (name, bytes, status, kind, detail) in cases {
        let before = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
        let problem = refused(
            phone
                .post(ClientOperation::EnrollUser, bytes)
                .await
                .unwrap()
                .success(),
        );
        assert_problem(&problem, status, kind, detail);
        assert_eq!(
            snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await,
            before,
            "{name} changed something"
        );
    }

    // The right code works once; a second use is refused.
    let grant = phone.enroll_user(&alice_invite.code).await.unwrap();
    let before = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
    let problem = refused(laptop.enroll_user(&alice_invite.code).await);
    assert_problem(&problem, 403, "forbidden", "used already");
    assert_eq!(
        snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await,
        before
    );

    // A certificate for another key than the enrolled one: the domain CA
    // issues it (it knows no keys), the provider refuses to register it.
    let account = phone.acme_account(&grant).await.unwrap();
    let wrong_chain = phone.order(&account, &other_key).await.unwrap();
    let request = phone.register_request(&wrong_chain, None).await.unwrap();
    let before = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
    let problem = refused(
        phone
            .post(
                ClientOperation::Register,
                phone.signed_with(&other_key, request).unwrap(),
            )
            .await
            .unwrap()
            .success(),
    );
    assert_problem(&problem, 403, "forbidden", "another key than the one");
    assert_eq!(
        snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await,
        before
    );

    // The chain for the enrolled key registers (the binding has made its
    // one account already: the device orders again with it).
    phone.certify(&account).await.unwrap();
    phone.register(None).await.unwrap();

    // A chain for another device (the phone's), presented as the laptop.
    let request = phone.register_request(phone.chain(), None).await.unwrap();
    let before = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
    let problem = refused(
        laptop
            .post(
                ClientOperation::Register,
                laptop.signed_with(phone.key(), request).unwrap(),
            )
            .await
            .unwrap()
            .success(),
    );
    assert_problem(
        &problem,
        403,
        "bad-credential",
        "the certificate is for mimi://a.example/d/alice/phone",
    );
    assert_eq!(
        snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await,
        before
    );

    // Mallory registers under open enrollment elsewhere? No: here she is
    // invited and registered, then tries to enroll a device of Alice.
    let mallory_invite = setup.invite("mallory", WEEK).await.unwrap();
    let grant = mallory.enroll_user(&mallory_invite.code).await.unwrap();
    mallory.acme(&grant).await.unwrap();
    mallory.register(None).await.unwrap();
    let before = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
    let problem = refused(laptop.enroll_by(&mallory).await);
    assert_problem(
        &problem,
        403,
        "forbidden",
        "may enroll devices of its own user only",
    );
    // enroll_device by a device that is not registered.
    let problem = refused(
        laptop
            .post(
                ClientOperation::EnrollDevice,
                laptop
                    .signed(laptop.enroll_device_request().unwrap())
                    .unwrap(),
            )
            .await
            .unwrap()
            .success(),
    );
    assert_problem(&problem, 401, "unauthenticated", "is not registered");
    // enroll_device of a device already registered.
    let problem = refused(
        phone
            .post(
                ClientOperation::EnrollDevice,
                phone
                    .signed(EnrollDeviceRequest::new(phone.device_id(), phone.spki()).unwrap())
                    .unwrap(),
            )
            .await
            .unwrap()
            .success(),
    );
    assert_problem(&problem, 409, "conflict", "is registered already");
    // A taken user's first device, with a valid invite of that user.
    let second = setup.invite("alice", WEEK).await.unwrap();
    let before_taken = snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await;
    let problem = refused(laptop.enroll_user(&second.code).await);
    assert_problem(&problem, 409, "conflict", "is taken");
    assert_eq!(
        snapshot(&setup, &users, &[&phone, &laptop, &mallory]).await,
        before_taken,
        "the invite is not spent"
    );
    assert_eq!(before_taken.invites.len(), before.invites.len() + 1);
    setup.shutdown().await;
}

#[tokio::test]
async fn the_example_config_has_an_enrollment_table() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("provider.example.toml");
    let settings = ProviderConfig::load(&example).unwrap();
    let dir = example.parent().unwrap();
    let enrollment = settings.enrollment.unwrap();
    assert_eq!(
        enrollment.directory_url,
        "https://ca.a.example/acme/directory"
    );
    assert_eq!(enrollment.registration, RegistrationPolicy::Invite);
    assert_eq!(enrollment.tls_roots, [dir.join("roots/tls-root.pem")]);
    assert_eq!(
        enrollment.registrar_eab_key_file,
        dir.join("secrets/registrar-eab.key")
    );
    assert_eq!(enrollment.eab_lifetime, Duration::from_secs(3600));

    // Bad tables say what to fix.
    let text = std::fs::read_to_string(&example).unwrap();
    let cases = [
        (
            "directory_url = \"https://ca.a.example/acme/directory\"",
            "directory_url = \"http://ca.a.example/acme/directory\"",
            "config field `enrollment.directory_url`: must be the https:// URL",
        ),
        (
            "registration = \"invite\"",
            "registration = \"anyone\"",
            "[enrollment]: unknown variant `anyone`",
        ),
        (
            "eab_lifetime_secs = 3600",
            "eab_lifetime_secs = 90000",
            "config field `enrollment.eab_lifetime_secs`: must be 60 to 86400 seconds",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(text.contains(from), "{from}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.toml");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        let error = ProviderConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.contains(expected),
            "{error:?} does not say {expected:?}"
        );
    }
}
