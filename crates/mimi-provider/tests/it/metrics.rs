//! `/metrics` (Prometheus text format) on the metrics listener, after
//! traffic this test caused: request and error counters, latency histograms,
//! queue depth, delivery outcomes, KeyPackage counters.

use std::collections::BTreeMap;

use mimi_provider::testing::{Backend, TestFederation, leaf_queue_id};
use mimi_wire::{ClientOperation, DeliverMessageRequest, HpkeCiphertext, RecipientStatus};

use crate::harness::both_backends;

both_backends!(metrics_count_what_happened);

/// `name{labels} value` lines, by `name{labels}`.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

#[track_caller]
fn assert_sample(samples: &BTreeMap<String, f64>, key: &str, expected: f64) {
    assert_eq!(samples.get(key), Some(&expected), "{key} in {samples:#?}");
}

async fn metrics_count_what_happened(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            let carol = fed.client("b.example", "carol", "phone").unwrap();
            for client in [&bob, &carol] {
                client.register(None).await.unwrap();
                client.upload_key_packages(2, false).await.unwrap();
            }
            let mut recipients = Vec::new();
            for client in [&bob, &carol] {
                let claimed = a.claim_key_packages(client.user_id(), 1).await.unwrap();
                recipients.push(leaf_queue_id(claimed.key_packages()[0].key_package()).unwrap());
            }
            recipients
                .push(mimi_mls::seal_queue_id(&b.queue_key(), "b.example", &[0x11; 16]).unwrap());
            recipients.push(HpkeCiphertext::new(vec![1; 32], vec![2; 32]));
            let response = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"m".to_vec(), recipients),
                )
                .await
                .unwrap();
            use RecipientStatus::*;
            assert_eq!(
                response.statuses(),
                [Delivered, Delivered, UnknownQueue, UndecryptableQueueId]
            );
            // Two refused client requests: not registered, twice.
            let stranger = fed.client("b.example", "eve", "phone").unwrap();
            for _ in 0..2 {
                let bytes = stranger
                    .signed(mimi_wire::FetchRequest::new(1, 10))
                    .unwrap();
                let reply = stranger.post(ClientOperation::Fetch, bytes).await.unwrap();
                assert_eq!(reply.status, 401);
            }
            bob.fetch(1, 10).await.unwrap();
            bob.ack(1).await.unwrap();

            let text = b.metrics(&fed.http()).await.unwrap();
            let s = samples(&text);
            let requests = |route: &str, status: u16| {
                format!("mimi_http_requests_total{{route=\"{route}\",status=\"{status}\"}}")
            };
            assert_sample(&s, &requests("/deliver_message", 200), 1.0);
            assert_sample(&s, &requests("/group_key_packages", 200), 2.0);
            assert_sample(&s, &requests("/client/v1/register", 200), 2.0);
            assert_sample(&s, &requests("/client/v1/upload_key_packages", 200), 2.0);
            assert_sample(&s, &requests("/client/v1/fetch", 200), 1.0);
            assert_sample(&s, &requests("/client/v1/fetch", 401), 2.0);
            assert_sample(
                &s,
                "mimi_http_request_errors_total{route=\"/client/v1/fetch\",status=\"401\"}",
                2.0,
            );
            assert!(
                !s.contains_key(
                    "mimi_http_request_errors_total{route=\"/deliver_message\",status=\"200\"}"
                ),
                "a 200 is no error"
            );
            // Latency histograms: every request of a route in +Inf and the count.
            for (route, n) in [("/deliver_message", 1.0), ("/client/v1/fetch", 3.0)] {
                let bucket = format!(
                    "mimi_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}}"
                );
                assert_sample(&s, &bucket, n);
                let count =
                    format!("mimi_http_request_duration_seconds_count{{route=\"{route}\"}}");
                assert_sample(&s, &count, n);
                let sum = format!("mimi_http_request_duration_seconds_sum{{route=\"{route}\"}}");
                assert!(s[&sum] > 0.0, "{sum}");
            }
            // Bob acknowledged his message; carol's waits.
            assert_sample(&s, "mimi_queue_depth", 1.0);
            assert_sample(&s, "mimi_deliveries_total{outcome=\"delivered\"}", 2.0);
            assert_sample(&s, "mimi_deliveries_total{outcome=\"unknown_queue\"}", 1.0);
            assert_sample(
                &s,
                "mimi_deliveries_total{outcome=\"undecryptable_queue_id\"}",
                1.0,
            );
            assert_sample(&s, "mimi_deliveries_total{outcome=\"queue_retired\"}", 0.0);
            assert_sample(&s, "mimi_key_packages_uploaded_total", 4.0);
            assert_sample(&s, "mimi_key_packages_claimed_total", 2.0);
            assert_sample(&s, "mimi_push_connections", 0.0);

            // The sender counts nothing it did not serve.
            let a_samples = samples(&a.metrics(&fed.http()).await.unwrap());
            assert_sample(&a_samples, "mimi_queue_depth", 0.0);
            assert!(!a_samples.keys().any(|k| k.contains("/deliver_message")));
        })
        .await;
}
