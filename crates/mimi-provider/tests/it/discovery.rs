//! Key-material discovery at `/.well-known/mimi/keys` (draft-mahy-mimi-identity,
//! "Discovery of Keying Material"; docs/key-discovery.md): domain keys, user
//! keys by handle, user and device, KeyPackages for signed searchers only,
//! and refusals.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::{Certificate, verify_chain};
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{Backend, Reply, TestClient, TestFederation};
use mimi_transport::{OCTET_STREAM, SignatureKeys};
use mimi_wire::EventKind;
use serde_json::Value;

use crate::harness::{assert_problem, both_backends};

both_backends!(
    domain_keys_match_the_signature_key_and_the_queue_key,
    user_keys_by_handle_user_and_device_verify,
    key_packages_only_for_signed_searchers,
    bad_queries_are_refused_and_change_nothing,
    user_keys_can_be_for_signed_searchers_only,
    anonymous_searchers_are_rate_limited,
);

const KEYS: &str = "/.well-known/mimi/keys";

fn json(reply: Reply) -> Value {
    assert_eq!(reply.status, 200, "{reply}");
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    serde_json::from_slice(&reply.body).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// bob (phone and tablet, handle @bob, KeyPackages on both) at b.example.
async fn bob_with_two_devices(fed: &TestFederation) -> (TestClient, TestClient) {
    let phone = fed.client("b.example", "bob", "phone").unwrap();
    let tablet = fed.client("b.example", "bob", "tablet").unwrap();
    for device in [&phone, &tablet] {
        device.register(Some("@bob")).await.unwrap();
        device.upload_key_packages(2, false).await.unwrap();
    }
    (phone, tablet)
}

async fn domain_keys_match_the_signature_key_and_the_queue_key(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .run(|fed| async move {
            let b = fed.provider("b.example");
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(None).await.unwrap();
            let answer = json(
                fed.get("b.example", &format!("{KEYS}?type=domain"))
                    .await
                    .unwrap(),
            );
            assert_eq!(answer["domain"], "b.example");
            assert_eq!(answer["ds_domain"], "b.example");
            assert_eq!(answer["connection_key"], Value::Null);

            let served = fed.get("b.example", "/signature_key").await.unwrap();
            let served = SignatureKeys::decode(&served.success().unwrap()).unwrap();
            let listed = answer["signature_keys"].as_array().unwrap();
            assert_eq!(listed.len(), served.keys().len());
            for (json, key) in listed.iter().zip(served.keys()) {
                assert_eq!(json["scheme"], 0x0807);
                assert_eq!(json["public_key"], b64(key.public_key()));
                assert_eq!(json["not_before"], key.not_before());
                assert_eq!(json["not_after"], key.not_after());
            }
            assert_eq!(listed[0]["public_key"], b64(&b.signature_public_key()));

            let queue_key = bob.queue_key().unwrap();
            assert_eq!(queue_key, b.queue_key());
            let json = &answer["queue_key"];
            assert_eq!(json["kem_id"], queue_key.kem_id);
            assert_eq!(json["kdf_id"], queue_key.kdf_id);
            assert_eq!(json["aead_id"], queue_key.aead_id);
            assert_eq!(json["public_key"], b64(queue_key.public_key.as_slice()));
        })
        .await;
}

/// The devices of an answer, each chain verified against the identity root
/// with fresh CRLs: (device URI, certified device URI).
fn verified_devices(fed: &TestFederation, answer: &Value) -> Vec<String> {
    let anchors = fed.pki().trust_anchors();
    let crls = fed.pki().crls("b.example").unwrap();
    answer["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|device| {
            let chain: Vec<Certificate> = device["certificate_chain"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let der = URL_SAFE_NO_PAD.decode(c.as_str().unwrap()).unwrap();
                    Certificate::from_der(&der).unwrap()
                })
                .collect();
            let verified = verify_chain(&chain, &anchors, &crls, SystemTime::now()).unwrap();
            let certified =
                mimi_identifiers::Identifier::Device(verified.device().unwrap().clone())
                    .to_mimi_uri()
                    .unwrap();
            assert_eq!(device["device"], certified.as_str());
            certified
        })
        .collect()
}

async fn user_keys_by_handle_user_and_device_verify(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .run(|fed| async move {
            let (phone, tablet) = bob_with_two_devices(&fed).await;
            let both = vec![phone.client_uri(), tablet.client_uri()];
            for query in [
                "type=user&handle=%40bob",
                "type=user&user=mimi%3A%2F%2Fb.example%2Fu%2Fbob",
                "type=user&user=mimi://b.example/u/bob",
            ] {
                let answer = json(
                    fed.get("b.example", &format!("{KEYS}?{query}"))
                        .await
                        .unwrap(),
                );
                assert_eq!(answer["user"], "mimi://b.example/u/bob", "{query}");
                assert_eq!(verified_devices(&fed, &answer), both, "{query}");
            }
            let answer = json(
                fed.get(
                    "b.example",
                    &format!("{KEYS}?type=user&device=mimi://b.example/d/bob/tablet"),
                )
                .await
                .unwrap(),
            );
            assert_eq!(verified_devices(&fed, &answer), vec![tablet.client_uri()]);
            // Answering changed no KeyPackage.
            assert_eq!(phone.key_package_count(1).await.unwrap(), 2);
        })
        .await;
}

async fn key_packages_only_for_signed_searchers(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (phone, tablet) = bob_with_two_devices(&fed).await;
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let before = b.row_counts().await.unwrap();
            let anonymous = fed
                .get(
                    "b.example",
                    &format!("{KEYS}?type=key_packages&handle=%40bob"),
                )
                .await
                .unwrap();
            assert_problem(&anonymous, 403, "forbidden");
            assert_eq!(b.row_counts().await.unwrap(), before);

            let query = b"type=key_packages&handle=%40bob&cipher_suite=1".to_vec();
            let event = a
                .sign_event(b.domain(), EventKind::KeyQuery, query)
                .unwrap();
            let answer = json(
                fed.post_raw("b.example", KEYS, OCTET_STREAM, event.bytes)
                    .await
                    .unwrap(),
            );
            assert_eq!(answer["user"], "mimi://b.example/u/bob");
            let entries = answer["key_packages"].as_array().unwrap();
            let clients: Vec<&str> = entries
                .iter()
                .map(|e| e["client"].as_str().unwrap())
                .collect();
            assert_eq!(clients, [phone.client_uri(), tablet.client_uri()]);
            for entry in entries {
                let kp = URL_SAFE_NO_PAD
                    .decode(entry["key_package"].as_str().unwrap())
                    .unwrap();
                // A real KeyPackage with the queue reference a hub needs.
                let reference = mimi_provider::testing::leaf_queue_reference(&kp).unwrap();
                assert_eq!(reference.provider_domain(), phone.domain());
            }
            // Handed out once each.
            assert_eq!(phone.key_package_count(1).await.unwrap(), 1);
            assert_eq!(tablet.key_package_count(1).await.unwrap(), 1);
        })
        .await;
}

async fn bad_queries_are_refused_and_change_nothing(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .configure(|_, config| {
            config.rate_limits.discovery = LimitConfig {
                burst: 1000,
                per_second: 1000.0,
            };
        })
        .run(|fed| async move {
            bob_with_two_devices(&fed).await;
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let too_long = format!("type=user&handle=%40{}", "b".repeat(2100));
            for (query, status, kind) in [
                ("", 400, "invalid"),
                ("type=bogus", 400, "invalid"),
                ("type=user", 400, "invalid"),
                ("type=domain&user=mimi://b.example/u/bob", 400, "invalid"),
                ("type=user&handle=bob", 400, "invalid"),
                (
                    "type=user&handle=%40bob&user=mimi://b.example/u/bob",
                    400,
                    "invalid",
                ),
                ("type=user&type=domain", 400, "invalid"),
                ("type=user&handle=%zz", 400, "invalid"),
                (
                    "type=key_packages&handle=%40bob&cipher_suite=70000",
                    400,
                    "invalid",
                ),
                ("type=user&handle=%40bob&cipher_suite=1", 400, "invalid"),
                ("type=user&colour=blue", 400, "invalid"),
                (too_long.as_str(), 400, "invalid"),
                ("type=user&handle=%40nobody", 404, "not-found"),
                ("type=user&user=mimi://a.example/u/alice", 404, "not-found"),
                (
                    "type=user&device=mimi://b.example/d/bob/watch",
                    404,
                    "not-found",
                ),
            ] {
                let before = b.row_counts().await.unwrap();
                let anonymous = fed
                    .get("b.example", &format!("{KEYS}?{query}"))
                    .await
                    .unwrap();
                assert_problem(&anonymous, status, kind);
                // The same query, signed: refused alike, and no replay record.
                let event = a
                    .sign_event(b.domain(), EventKind::KeyQuery, query.as_bytes().to_vec())
                    .unwrap();
                let signed = fed
                    .post_raw("b.example", KEYS, OCTET_STREAM, event.bytes)
                    .await
                    .unwrap();
                if query.len() > 2048 + 1024 {
                    // Longer than the signed endpoint reads at all.
                    assert_problem(&signed, 413, "body-too-large");
                } else {
                    assert_problem(&signed, status, kind);
                }
                assert_eq!(b.row_counts().await.unwrap(), before, "{query}");
            }
            // A signed query that is not UTF-8.
            let event = a
                .sign_event(b.domain(), EventKind::KeyQuery, vec![0xff, 0xfe])
                .unwrap();
            let before = b.row_counts().await.unwrap();
            let reply = fed
                .post_raw("b.example", KEYS, OCTET_STREAM, event.bytes)
                .await
                .unwrap();
            assert_problem(&reply, 400, "invalid");
            assert_eq!(b.row_counts().await.unwrap(), before);
        })
        .await;
}

async fn user_keys_can_be_for_signed_searchers_only(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .configure(|_, config| config.discovery.anonymous_user_keys = false)
        .run(|fed| async move {
            let (phone, _) = bob_with_two_devices(&fed).await;
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let query = "type=user&handle=%40bob";
            let anonymous = fed
                .get("b.example", &format!("{KEYS}?{query}"))
                .await
                .unwrap();
            assert_problem(&anonymous, 403, "forbidden");
            let event = a
                .sign_event(b.domain(), EventKind::KeyQuery, query.as_bytes().to_vec())
                .unwrap();
            let answer = json(
                fed.post_raw("b.example", KEYS, OCTET_STREAM, event.bytes)
                    .await
                    .unwrap(),
            );
            assert_eq!(verified_devices(&fed, &answer)[0], phone.client_uri());
            // Domain keys stay public.
            json(
                fed.get("b.example", &format!("{KEYS}?type=domain"))
                    .await
                    .unwrap(),
            );
        })
        .await;
}

async fn anonymous_searchers_are_rate_limited(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .configure(|_, config| {
            config.rate_limits.discovery = LimitConfig {
                burst: 2,
                per_second: 0.001,
            };
        })
        .run(|fed| async move {
            let url = format!("{KEYS}?type=domain");
            for _ in 0..2 {
                json(fed.get("b.example", &url).await.unwrap());
            }
            let refused = fed.get("b.example", &url).await.unwrap();
            assert_problem(&refused, 429, "rate-limited");
            let retry_after: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
            assert!(retry_after >= 1);
        })
        .await;
}
