//! `/deliver_message` and client fetch throughput on loopback: two real
//! providers (`mimi_provider::testing`, the kit the integration tests use),
//! real TLS 1.3 and HTTP, signed S2S messages, HPKE-sealed queue IDs, and the
//! storage back end committing every delivery before it answers.
//!
//! - deliver, batch 1: a.example delivers to b.example, one recipient per
//!   request, `IN_FLIGHT` requests at a time: requests/s = queued deliveries/s.
//! - deliver, batch 100: 100 recipients (100 clients' queues) per request.
//! - fetch: one client pages through its queue with `/client/v1/fetch`
//!   (1000 messages per page, the most a page holds), then acknowledges.
//!
//! SQLite always; PostgreSQL when `MIMI_TEST_POSTGRES_URL` is set (as
//! `scripts/test` sets it; a bench is not a test, so it says it skipped).
//! Run with `cargo bench -p mimi-provider --bench deliver`; figures go to
//! BENCHMARKS.md by hand. Without `--bench` (under `cargo test
//! --all-targets`) it runs a few requests only, to check that it works.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mimi_identifiers::Domain;
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{Backend, TestClient, TestFederation};
use mimi_wire::{DeliverMessageRequest, HpkeCiphertext, RecipientStatus};
use tokio::task::JoinSet;

const SENDER: &str = "a.example";
const RECEIVER: &str = "b.example";
/// Requests in flight at once.
const IN_FLIGHT: usize = 16;
/// A typical MLS application message with padding.
const MESSAGE_LEN: usize = 1024;

struct Sizes {
    batch_1_requests: usize,
    batch_100_requests: usize,
    fetch_messages: usize,
}

const FULL: Sizes = Sizes {
    batch_1_requests: 4000,
    batch_100_requests: 200,
    fetch_messages: 20_000,
};
const SMOKE: Sizes = Sizes {
    batch_1_requests: 20,
    batch_100_requests: 2,
    fetch_messages: 200,
};

/// Rate limits out of the way: the bench measures the work, not the limits.
fn unlimited() -> LimitConfig {
    LimitConfig {
        burst: u32::MAX,
        per_second: 1e9,
    }
}

async fn federation(backend: Backend) -> TestFederation {
    TestFederation::builder(&[SENDER, RECEIVER], backend)
        .configure(|_, config| {
            config.rate_limits.s2s_sender = unlimited();
            config.rate_limits.s2s_endpoint = unlimited();
            config.rate_limits.client = unlimited();
            config.rate_limits.registrations = unlimited();
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("the federation did not start: {e}"))
}

/// `n` registered clients of RECEIVER and a sealed queue ID for each.
async fn recipients(f: &TestFederation, n: usize) -> (Vec<TestClient>, Vec<HpkeCiphertext>) {
    let mut clients = Vec::with_capacity(n);
    let mut sealed = Vec::with_capacity(n);
    for i in 0..n {
        let client = f
            .client(RECEIVER, &format!("user{i}"), "phone")
            .expect("test client");
        client.register(None).await.expect("registration");
        let key = client.queue_key().expect("registered");
        let queue = client.queue_id().expect("registered");
        sealed.push(mimi_mls::seal_queue_id(&key, RECEIVER, &queue).expect("sealing"));
        clients.push(client);
    }
    (clients, sealed)
}

/// Sends `requests` deliveries of `recipients` each, `IN_FLIGHT` at a time;
/// returns the wall time.
async fn deliver(
    f: &Arc<TestFederation>,
    recipients: &[HpkeCiphertext],
    requests: usize,
) -> Duration {
    let receiver: Domain = RECEIVER.parse().expect("domain");
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..requests {
        if tasks.len() == IN_FLIGHT {
            tasks.join_next().await.expect("a task").expect("no panic");
        }
        let (f, receiver, recipients) = (f.clone(), receiver.clone(), recipients.to_vec());
        tasks.spawn(async move {
            let mut message = vec![0u8; MESSAGE_LEN];
            message[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let answer = f
                .provider(SENDER)
                .deliver_to(&receiver, DeliverMessageRequest::new(message, recipients))
                .await
                .unwrap_or_else(|e| panic!("delivery {i} failed: {e}"));
            assert!(
                answer
                    .statuses()
                    .iter()
                    .all(|s| *s == RecipientStatus::Delivered)
            );
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no panic");
    }
    started.elapsed()
}

/// Fetches a whole queue page by page, then acknowledges it; returns the
/// fetch time and the ack time.
async fn drain(client: &TestClient, expected: usize) -> (Duration, Duration) {
    let started = Instant::now();
    let (mut next, mut seen) = (1, 0);
    while seen < expected {
        let page = client.fetch(next, 1000).await.expect("fetch");
        let last = page.messages().last().expect("messages wait").seq();
        seen += page.messages().len();
        next = last + 1;
    }
    let fetched = started.elapsed();
    let started = Instant::now();
    client.ack(next - 1).await.expect("ack");
    (fetched, started.elapsed())
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn bench(name: &str, backend: Backend, sizes: &Sizes) {
    let f = Arc::new(federation(backend).await);
    let (clients, sealed) = recipients(&f, 100).await;

    // Warm-up: connections, key caches, the database's pages.
    deliver(&f, &sealed[..1], IN_FLIGHT).await;

    let n1 = sizes.batch_1_requests;
    let t1 = deliver(&f, &sealed[..1], n1).await;
    let n100 = sizes.batch_100_requests;
    let t100 = deliver(&f, &sealed, n100).await;
    println!(
        "{name:<10} deliver batch 1:   {n1:>6} requests in {:>7.2} s = {:>8.0} requests/s = {:>8.0} queued deliveries/s",
        t1.as_secs_f64(),
        per_second(n1, t1),
        per_second(n1, t1),
    );
    println!(
        "{name:<10} deliver batch 100: {n100:>6} requests in {:>7.2} s = {:>8.0} requests/s = {:>8.0} queued deliveries/s",
        t100.as_secs_f64(),
        per_second(n100, t100),
        per_second(n100 * 100, t100),
    );

    // Fill one queue (100 entries of it per request), then drain it.
    let filler = vec![sealed[1].clone(); 100];
    let fill_requests = sizes.fetch_messages / 100;
    deliver(&f, &filler, fill_requests).await;
    // user1 also got the batch-100 run's messages.
    let waiting = fill_requests * 100 + n100;
    let (fetch, ack) = drain(&clients[1], waiting).await;
    println!(
        "{name:<10} fetch:             {waiting:>6} messages in {:>7.2} s = {:>8.0} messages/s (pages of 1000); ack of all: {:.1} ms",
        fetch.as_secs_f64(),
        per_second(waiting, fetch),
        ack.as_secs_f64() * 1000.0,
    );
    f.shutdown().await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { &FULL } else { &SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        println!(
            "two providers on loopback, TLS 1.3, {MESSAGE_LEN}-byte messages, {IN_FLIGHT} requests in flight"
        );
        bench("SQLite", Backend::Sqlite, sizes).await;
        match Backend::postgres_from_env() {
            Ok(pg) => bench("PostgreSQL", pg, sizes).await,
            Err(_) => println!(
                "PostgreSQL skipped: set MIMI_TEST_POSTGRES_URL (scripts/test shows how to start one)"
            ),
        }
    });
}
