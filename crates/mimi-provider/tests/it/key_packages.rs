//! The KeyPackage store (draft-kohbrok-mimi-transport §5.8-5.9;
//! docs/wire-spec.md §12, §13.5): uploads checked with OpenMLS and against
//! the uploading client, claims handing each KeyPackage out once, the
//! last-resort one repeatedly, within rate limits.

use std::collections::BTreeMap;
use std::sync::Arc;

use mimi_identifiers::Domain;
use mimi_mls::test_utils::{KeyPackageParams, TestCredential, now_unix_secs};
use mimi_mls::{Ciphersuite, seal_queue_id, seal_queue_reference};
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{Backend, TestClient, TestError, TestFederation};
use mimi_transport::OCTET_STREAM;
use mimi_wire::{
    EventKind, GroupKeyPackageRequest, GroupKeyPackageResponse, QueueEncryptionKey, QueueReference,
};

use crate::harness::{assert_problem, assert_refused, both_backends};

both_backends!(
    uploads_are_counted_per_suite_without_the_last_resort,
    each_refused_key_package_names_its_index_and_stores_nothing,
    concurrent_claims_hand_out_each_key_package_once,
    claims_are_rate_limited_per_requesting_domain_and_user,
    claims_for_unknown_or_foreign_users_are_refused,
);

const DAY: u64 = 24 * 3600;

async fn registered(fed: &TestFederation, domain: &str, user: &str, device: &str) -> TestClient {
    let client = fed.client(domain, user, device).unwrap();
    client.register(None).await.unwrap();
    client
}

async fn uploads_are_counted_per_suite_without_the_last_resort(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .run(|fed| async move {
            let bob = registered(&fed, "b.example", "bob", "phone").await;
            let b = fed.provider("b.example");
            assert_eq!(bob.key_package_count(1).await.unwrap(), 0);
            let uploaded = bob.upload_key_packages(3, false).await.unwrap();
            assert_eq!((uploaded.stored(), uploaded.remaining()), (3, 3));
            let last_resort = bob.upload_key_packages(1, true).await.unwrap();
            assert_eq!((last_resort.stored(), last_resort.remaining()), (1, 3));
            assert_eq!(bob.key_package_count(1).await.unwrap(), 3);
            assert_eq!(bob.key_package_count(2).await.unwrap(), 0);
            assert_eq!(b.stored_key_packages(&bob, 1).await.unwrap(), 3);
            assert_eq!(b.row_counts().await.unwrap().key_packages, 4);
        })
        .await;
}

/// One way to build a KeyPackage the store must refuse, and the words its
/// refusal must contain.
struct Refused {
    name: &'static str,
    build: fn(&Context) -> Vec<u8>,
    reason: &'static str,
}

struct Context {
    bob: TestClient,
    tablet: TestClient,
    b_queue_key: QueueEncryptionKey,
    c_queue_key: QueueEncryptionKey,
}

fn domain(name: &str) -> Domain {
    name.parse().unwrap()
}

/// `client`'s queue ID sealed to `queue_key` for `provider`, in a reference
/// naming `provider`.
fn reference(
    queue_key: &QueueEncryptionKey,
    provider: &str,
    client: &TestClient,
) -> QueueReference {
    seal_queue_reference(queue_key, &domain(provider), &client.queue_id().unwrap()).unwrap()
}

fn refused_cases() -> Vec<Refused> {
    fn kp(client: &TestClient, edit: impl FnOnce(&mut KeyPackageParams<'_>)) -> Vec<u8> {
        client.key_package(edit).unwrap().bytes
    }
    let case = |name, reason, build: fn(&Context) -> Vec<u8>| Refused {
        name,
        build,
        reason,
    };
    vec![
        case(
            "another client's key",
            "leaf signature key is not the key this client registered",
            |c| kp(&c.tablet, |_| {}),
        ),
        case(
            "another client's certificate",
            "leaf certificate is not this client's certificate",
            |c| {
                kp(&c.bob, |p| {
                    p.credential = TestCredential::X509(c.tablet.chain_der())
                })
            },
        ),
        case(
            "another client's queue ID",
            "its queue ID is not this client's queue",
            |c| {
                let reference = reference(&c.b_queue_key, "b.example", &c.tablet);
                kp(&c.bob, |p| p.queue_reference = Some(reference))
            },
        ),
        case(
            "reference names another provider",
            "its queue reference names the provider c.example, not b.example",
            |c| {
                let reference = reference(&c.c_queue_key, "c.example", &c.bob);
                kp(&c.bob, |p| p.queue_reference = Some(reference))
            },
        ),
        case(
            "reference re-pointed at another provider",
            "its queue reference names the provider c.example, not b.example",
            |c| {
                let (_, sealed) = reference(&c.b_queue_key, "b.example", &c.bob).into_parts();
                let re_pointed = QueueReference::new(domain("c.example"), sealed);
                kp(&c.bob, |p| p.queue_reference = Some(re_pointed))
            },
        ),
        case(
            "queue ID sealed to another provider's key",
            "does not decrypt with this provider's queue key",
            |c| {
                let sealed =
                    seal_queue_id(&c.c_queue_key, "b.example", &c.bob.queue_id().unwrap()).unwrap();
                let reference = QueueReference::new(domain("b.example"), sealed);
                kp(&c.bob, |p| p.queue_reference = Some(reference))
            },
        ),
        case(
            "queue ID sealed for another domain",
            "does not decrypt with this provider's queue key",
            |c| {
                let sealed =
                    seal_queue_id(&c.b_queue_key, "c.example", &c.bob.queue_id().unwrap()).unwrap();
                let reference = QueueReference::new(domain("b.example"), sealed);
                kp(&c.bob, |p| p.queue_reference = Some(reference))
            },
        ),
        case(
            "no queue reference",
            "no mimi_queue_reference extension",
            |c| kp(&c.bob, |p| p.queue_reference = None),
        ),
        case(
            "malformed queue reference",
            "mimi_queue_reference extension is malformed",
            |c| {
                kp(&c.bob, |p| {
                    p.queue_reference = None;
                    p.extra_leaf_extensions = vec![(0xF0A1, b"junk".to_vec())];
                })
            },
        ),
        case("expired", "expired", |c| {
            let now = now_unix_secs();
            kp(&c.bob, |p| {
                p.not_before = now - 10 * DAY;
                p.not_after = now - DAY;
            })
        }),
        case("lifetime too long", "lifetime", |c| {
            let now = now_unix_secs();
            kp(&c.bob, |p| p.not_after = now + 365 * DAY)
        }),
        case("wrong cipher suite", "cipher suite", |c| {
            kp(&c.bob, |p| {
                p.cipher_suite = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;
            })
        }),
        case("not X509", "credential", |c| {
            kp(&c.bob, |p| {
                p.credential = TestCredential::Basic(b"bob".to_vec())
            })
        }),
        case("not a KeyPackage", "KeyPackage", |_| {
            b"\x00\x01garbage".to_vec()
        }),
    ]
}

async fn each_refused_key_package_names_its_index_and_stores_nothing(backend: Backend) {
    TestFederation::builder(&["b.example", "c.example"], backend)
        .run(|fed| async move {
            let bob = registered(&fed, "b.example", "bob", "phone").await;
            let tablet = registered(&fed, "b.example", "bob", "tablet").await;
            bob.upload_key_packages(2, false).await.unwrap();
            let b = fed.provider("b.example");
            let context = Context {
                bob,
                tablet,
                b_queue_key: b.queue_key(),
                c_queue_key: fed.provider("c.example").queue_key(),
            };
            for case in refused_cases() {
                let before = b.row_counts().await.unwrap();
                // A good KeyPackage first: it must not be stored either.
                let good = context.bob.key_package(|_| {}).unwrap().bytes;
                let bad = (case.build)(&context);
                let problem = assert_refused(
                    context.bob.upload(vec![good, bad], false).await,
                    400,
                    "bad-key-package",
                );
                assert!(
                    problem.detail.starts_with("KeyPackage 1 rejected"),
                    "{}: {}",
                    case.name,
                    problem.detail
                );
                assert!(
                    problem.detail.contains(case.reason),
                    "{}: {:?} does not say {:?}",
                    case.name,
                    problem.detail,
                    case.reason
                );
                // Nothing stored; only the request ID is remembered.
                let after = b.row_counts().await.unwrap();
                assert_eq!(
                    (after.key_packages, after.replay_seen),
                    (before.key_packages, before.replay_seen + 1),
                    "{}",
                    case.name
                );
                assert_eq!(context.bob.key_package_count(1).await.unwrap(), 2);
            }
        })
        .await;
}

/// b.example with room for many claims: the test is about concurrency.
fn generous_claim_limits(_: &str, config: &mut mimi_provider::ProviderConfig) {
    let plenty = LimitConfig {
        burst: 1000,
        per_second: 1000.0,
    };
    config.rate_limits.key_packages_per_domain = plenty;
    config.rate_limits.key_packages_per_user = plenty;
}

async fn concurrent_claims_hand_out_each_key_package_once(backend: Backend) {
    const ONE_TIME: usize = 10;
    const CLAIMS: usize = 20;
    TestFederation::builder(&["a.example", "b.example", "c.example"], backend)
        .configure(generous_claim_limits)
        .run(|fed| async move {
            let bob = registered(&fed, "b.example", "bob", "phone").await;
            bob.upload_key_packages(ONE_TIME, false).await.unwrap();
            let last_resort = bob.key_package(|p| p.last_resort = true).unwrap().bytes;
            bob.upload(vec![last_resort.clone()], true).await.unwrap();

            let mut tasks = Vec::new();
            for i in 0..CLAIMS {
                let fed = Arc::clone(&fed);
                let user = bob.user_id().clone();
                let claimer = if i % 2 == 0 { "a.example" } else { "c.example" };
                tasks.push(tokio::spawn(async move {
                    fed.provider(claimer).claim_key_packages(&user, 1).await
                }));
            }
            let mut handed_out: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
            for task in tasks {
                let response: GroupKeyPackageResponse = task.await.unwrap().unwrap();
                assert_eq!(response.key_packages().len(), 1);
                *handed_out
                    .entry(response.key_packages()[0].key_package().to_vec())
                    .or_default() += 1;
            }
            // Each one-time KeyPackage once; then only the last-resort one.
            assert_eq!(handed_out.remove(&last_resort), Some(CLAIMS - ONE_TIME));
            assert_eq!(handed_out.len(), ONE_TIME);
            assert!(handed_out.values().all(|&n| n == 1), "{handed_out:?}");
            assert_eq!(bob.key_package_count(1).await.unwrap(), 0);
            // The last-resort KeyPackage is kept.
            assert_eq!(
                fed.provider("b.example")
                    .row_counts()
                    .await
                    .unwrap()
                    .key_packages,
                1
            );
        })
        .await;
}

async fn claims_are_rate_limited_per_requesting_domain_and_user(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example", "c.example"], backend)
        .configure(|domain, config| {
            if domain == "b.example" {
                config.rate_limits.key_packages_per_user = LimitConfig {
                    burst: 2,
                    per_second: 0.001,
                };
                config.rate_limits.key_packages_per_domain = LimitConfig {
                    burst: 3,
                    per_second: 0.001,
                };
            }
        })
        .run(|fed| async move {
            let bob = registered(&fed, "b.example", "bob", "phone").await;
            let carol = registered(&fed, "b.example", "carol", "phone").await;
            bob.upload_key_packages(5, false).await.unwrap();
            carol.upload_key_packages(5, false).await.unwrap();
            let (a, b, c) = (
                fed.provider("a.example"),
                fed.provider("b.example"),
                fed.provider("c.example"),
            );
            for _ in 0..2 {
                a.claim_key_packages(bob.user_id(), 1).await.unwrap();
            }
            // The third claim of bob by a.example: over the per-user limit.
            let request = GroupKeyPackageRequest::for_user(bob.user_id(), 1).unwrap();
            let event = a
                .sign_event(
                    b.domain(),
                    EventKind::GroupKeyPackages,
                    request.encode().unwrap(),
                )
                .unwrap();
            let before = b.row_counts().await.unwrap();
            let reply = fed
                .post_raw(
                    "b.example",
                    "/group_key_packages",
                    OCTET_STREAM,
                    event.bytes,
                )
                .await
                .unwrap();
            assert_problem(&reply, 429, "rate-limited");
            let retry_after: u64 = reply.retry_after.as_deref().unwrap().parse().unwrap();
            assert!(retry_after >= 1);
            assert_eq!(b.row_counts().await.unwrap(), before);
            assert_eq!(bob.key_package_count(1).await.unwrap(), 3);

            // Another requesting domain has its own budget for bob.
            c.claim_key_packages(bob.user_id(), 1).await.unwrap();
            // a.example's third claim in all (carol): within carol's user
            // limit, and the last of a.example's domain budget of 3.
            a.claim_key_packages(carol.user_id(), 1).await.unwrap();
            let refused = a.claim_key_packages(carol.user_id(), 1).await;
            match refused {
                Err(TestError::Send(mimi_provider::outbound::SendError::Refused {
                    status,
                    ..
                })) => assert_eq!(status.as_u16(), 429),
                other => panic!("expected 429, got {other:?}"),
            }
            assert_eq!(carol.key_package_count(1).await.unwrap(), 4);
        })
        .await;
}

async fn claims_for_unknown_or_foreign_users_are_refused(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let nobody: mimi_identifiers::UserId =
                mimi_identifiers::UserId::new("nobody", Some(b.domain().clone())).unwrap();
            let foreign = mimi_identifiers::UserId::new("alice", Some(a.domain().clone())).unwrap();
            for (user, status, kind) in [(&nobody, 404, "not-found"), (&foreign, 400, "invalid")] {
                let request = GroupKeyPackageRequest::for_user(user, 1).unwrap();
                let event = a
                    .sign_event(
                        b.domain(),
                        EventKind::GroupKeyPackages,
                        request.encode().unwrap(),
                    )
                    .unwrap();
                let before = b.row_counts().await.unwrap();
                let reply = fed
                    .post_raw(
                        "b.example",
                        "/group_key_packages",
                        OCTET_STREAM,
                        event.bytes,
                    )
                    .await
                    .unwrap();
                assert_problem(&reply, status, kind);
                assert_eq!(b.row_counts().await.unwrap(), before, "{user}");
            }
        })
        .await;
}
