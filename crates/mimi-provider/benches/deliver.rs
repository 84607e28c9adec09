//! `/deliver_message` and client fetch throughput on loopback: two real
//! providers (`mimi_provider::testing`, the kit the integration tests use),
//! real TLS 1.3 and HTTP, signed S2S messages, HPKE-sealed queue IDs, and the
//! storage back end committing every delivery before it answers.
//!
//! - deliver, batch 1: a.example delivers to b.example, one recipient per
//!   request, `IN_FLIGHT` requests at a time: requests/s = queued deliveries/s.
//!   Request `i` goes to queue `i mod n` of all the registered clients, as a
//!   provider's traffic spreads over its clients.
//! - deliver, batch 1, one queue: the same, every request to one client: the
//!   hot-queue case, where on PostgreSQL each delivery waits for the previous
//!   one's commit (it reserves sequence numbers by updating the queue's row;
//!   SQLite's single writer runs every delivery one after the other anyway).
//! - deliver, batch 100: 100 recipients (100 clients' queues) per request;
//!   request `i` goes to group `i mod in-flight` of 100 clients, so that the
//!   requests in flight fan out to different queues, as messages of
//!   different rooms do (one room's messages come one after the other).
//! - fetch: one client pages through its queue with `/client/v1/fetch`
//!   (1000 messages per page, the most a page holds), then acknowledges.
//! - pieces, first: the receiver's work alone, one call at a time on one
//!   task: an HPKE queue-ID open (one per recipient), and the storage
//!   transaction of a delivery to 1 and to 100 queues (replay record
//!   included) on a store of its own. On SQLite's single writer connection
//!   that transaction time bounds the deliveries per second at any
//!   concurrency.
//!
//! SQLite always; PostgreSQL when `MIMI_TEST_POSTGRES_URL` is set (as
//! `scripts/test` sets it; a bench is not a test, so it says it skipped).
//! Run with `cargo bench -p mimi-provider --bench deliver`; figures go to
//! BENCHMARKS.md by hand. `BENCH_IN_FLIGHT` sets the requests in flight
//! (default 16; 1 shows one request's latency alone). Without `--bench`
//! (under `cargo test --all-targets`) it runs a few requests only, to check
//! that it works.
//!
//! Beside each rate it prints the median and 99th-percentile latency of a
//! request, and the CPU used meanwhile (Linux `/proc`, in cores: 2.0 is all
//! of a 2-core machine): by this process (both providers, the sending side
//! and the clients) and by the whole machine (adding PostgreSQL's server
//! processes, and any other program, which then spoils the run). A phase at
//! the machine's core count is CPU-bound; one well below it waits (fsync,
//! a lock, a round trip).

#[path = "common/cpu.rs"]
mod cpu;

use cpu::CpuTimes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mimi_identifiers::Domain;
use mimi_mls::{QueueKeyPair, seal_queue_id};
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{
    Backend, TestClient, TestFederation, create_database, database_of, drop_database, now_ms,
};
use mimi_storage::{
    DeliverOutcome, EventRecord, PostgresStorage, QueueId, QueueStore, SqliteStorage,
};
use mimi_wire::{DeliverMessageRequest, HpkeCiphertext, RecipientStatus};
use tokio::task::JoinSet;

const SENDER: &str = "a.example";
const RECEIVER: &str = "b.example";
/// Requests in flight at once, unless `BENCH_IN_FLIGHT` says otherwise.
const IN_FLIGHT: usize = 16;
/// A typical MLS application message with padding.
const MESSAGE_LEN: usize = 1024;
/// Recipients of a batch-100 request.
const GROUP: usize = 100;

struct Sizes {
    batch_1_requests: usize,
    batch_100_requests: usize,
    fetch_messages: usize,
    /// Storage transactions to 1 queue timed alone (a tenth as many to 100
    /// queues, twice as many HPKE opens).
    pieces: usize,
}

const FULL: Sizes = Sizes {
    batch_1_requests: 4000,
    batch_100_requests: 200,
    fetch_messages: 20_000,
    pieces: 1000,
};
const SMOKE: Sizes = Sizes {
    batch_1_requests: 20,
    batch_100_requests: 2,
    fetch_messages: 200,
    pieces: 10,
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
async fn recipients(f: &Arc<TestFederation>, n: usize) -> (Vec<TestClient>, Vec<HpkeCiphertext>) {
    // Sixteen registrations at a time: a few thousand one after the other
    // would take longer than the runs they prepare.
    let mut tasks = JoinSet::new();
    let mut registered = Vec::with_capacity(n);
    for i in 0..n {
        if tasks.len() == IN_FLIGHT {
            registered.push(tasks.join_next().await.expect("a task").expect("no panic"));
        }
        let f = f.clone();
        tasks.spawn(async move {
            let client = f
                .client(RECEIVER, &format!("user{i}"), "phone")
                .expect("test client");
            client.register(None).await.expect("registration");
            let key = client.queue_key().expect("registered");
            let queue = client.queue_id().expect("registered");
            let sealed = seal_queue_id(&key, RECEIVER, &queue).expect("sealing");
            (i, client, sealed)
        });
    }
    while let Some(done) = tasks.join_next().await {
        registered.push(done.expect("no panic"));
    }
    registered.sort_by_key(|(i, _, _)| *i);
    registered.into_iter().map(|(_, c, s)| (c, s)).unzip()
}

/// `BENCH_IN_FLIGHT`, or [`IN_FLIGHT`].
fn in_flight() -> usize {
    std::env::var("BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(IN_FLIGHT)
}

/// Shorter phases get no CPU figure: counted in ticks, it would be off by
/// more than a few per cent.
const MIN_CPU_PHASE: Duration = Duration::from_millis(250);
/// What one phase took: its wall time, the latency of each request, and the
/// CPU used meanwhile.
struct Phase {
    wall: Duration,
    latencies: Vec<Duration>,
    cpu: Option<(CpuTimes, CpuTimes)>,
}

impl Phase {
    /// Median and 99th-percentile latency, CPU in cores.
    fn detail(&self) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(i - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let latency = format!("latency p50 {:.2} ms, p99 {:.2} ms", at(0.5), at(0.99));
        match self.cpu {
            Some(_) if self.wall < MIN_CPU_PHASE => format!("{latency}; too short for CPU figures"),
            Some((before, after)) => {
                let (process, machine) = before.cores(after, self.wall);
                format!("{latency}; CPU: process {process:.2} cores, machine {machine:.2} cores")
            }
            None => latency,
        }
    }
}

/// Sends `requests` deliveries, request `i` to `recipients(i)`, `in_flight`
/// at a time.
async fn deliver(
    f: &Arc<TestFederation>,
    recipients: impl Fn(usize) -> Vec<HpkeCiphertext>,
    requests: usize,
    in_flight: usize,
) -> Phase {
    let receiver: Domain = RECEIVER.parse().expect("domain");
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(requests);
    let mut tasks = JoinSet::new();
    for i in 0..requests {
        if tasks.len() == in_flight {
            latencies.push(tasks.join_next().await.expect("a task").expect("no panic"));
        }
        let (f, receiver, recipients) = (f.clone(), receiver.clone(), recipients(i));
        tasks.spawn(async move {
            let mut message = vec![0u8; MESSAGE_LEN];
            message[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let sent = Instant::now();
            let answer = f
                .provider(SENDER)
                .deliver_to(&receiver, DeliverMessageRequest::new(message, recipients))
                .await
                .unwrap_or_else(|e| panic!("delivery {i} failed: {e}"));
            let latency = sent.elapsed();
            assert!(
                answer
                    .statuses()
                    .iter()
                    .all(|s| *s == RecipientStatus::Delivered)
            );
            latency
        });
    }
    while let Some(done) = tasks.join_next().await {
        latencies.push(done.expect("no panic"));
    }
    let wall = started.elapsed();
    Phase {
        wall,
        latencies,
        cpu: cpu_before.zip(CpuTimes::now()),
    }
}

/// Fetches a whole queue page by page, then acknowledges it; returns the
/// messages fetched, the fetch phase (one latency per page) and the ack
/// time.
async fn drain(client: &TestClient) -> (usize, Phase, Duration) {
    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let (mut next, mut seen) = (1, 0);
    loop {
        let sent = Instant::now();
        let page = client.fetch(next, 1000).await.expect("fetch");
        latencies.push(sent.elapsed());
        let Some(last) = page.messages().last() else {
            break;
        };
        seen += page.messages().len();
        next = last.seq() + 1;
        // The depth counts this page too: nothing waits beyond it.
        if page.messages().len() as u64 >= page.depth() {
            break;
        }
    }
    let fetched = Phase {
        wall: started.elapsed(),
        latencies,
        cpu: cpu_before.zip(CpuTimes::now()),
    };
    let started = Instant::now();
    client.ack(next - 1).await.expect("ack");
    (seen, fetched, started.elapsed())
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Times the receiver's pieces of a delivery alone (see the module doc).
async fn pieces(sizes: &Sizes) {
    let key = QueueKeyPair::generate().expect("a queue key");
    let sealed = seal_queue_id(key.public(), RECEIVER, &[7; 16]).expect("sealing");
    let opens = 2 * sizes.pieces;
    let started = Instant::now();
    for _ in 0..opens {
        key.open_queue_id(RECEIVER, &sealed).expect("it opens");
    }
    println!(
        "{:<10} {:<27} {:>8.1} µs",
        "pieces",
        "HPKE open_queue_id:",
        started.elapsed().as_secs_f64() * 1e6 / opens as f64
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite = SqliteStorage::open(&dir.path().join("pieces.sqlite"))
        .await
        .expect("SQLite opens");
    storage_pieces("SQLite", &sqlite, sizes.pieces).await;
    sqlite.close().await;
    if let Ok(Backend::Postgres(admin)) = Backend::postgres_from_env() {
        let url = create_database(&admin).await.expect("a database");
        let postgres = PostgresStorage::connect(&url)
            .await
            .expect("PostgreSQL connects");
        storage_pieces("PostgreSQL", &postgres, sizes.pieces).await;
        postgres.close().await;
        drop_database(&admin, &database_of(&url)).await;
    }
}

/// The mean time of `deliver` transactions to 1 and to [`GROUP`] queues.
async fn storage_pieces(name: &str, storage: &impl QueueStore, repeats: usize) {
    let queues: Vec<QueueId> = (0..GROUP as u64)
        .map(|i| {
            let mut id = [0; 16];
            id[8..].copy_from_slice(&i.to_be_bytes());
            id
        })
        .collect();
    for queue in &queues {
        storage.create_queue(*queue).await.expect("a queue");
    }
    let message = vec![0u8; MESSAGE_LEN];
    let batch: Vec<(QueueId, &[u8])> = queues.iter().map(|q| (*q, &message[..])).collect();
    let mut events = 0u64;
    for (what, entries, repeats) in [
        ("deliver transaction, 1:", &batch[..1], repeats),
        (
            "deliver transaction, 100:",
            &batch[..],
            repeats.div_ceil(10),
        ),
    ] {
        let started = Instant::now();
        for _ in 0..repeats {
            events += 1;
            let mut message_id = [0; 16];
            message_id[8..].copy_from_slice(&events.to_be_bytes());
            let event = EventRecord {
                sender: SENDER,
                message_id,
                expires_at_ms: now_ms() + 600_000,
            };
            let outcome = storage.deliver(Some(event), entries).await;
            assert!(
                matches!(outcome, Ok(DeliverOutcome::Done(_))),
                "{outcome:?}"
            );
        }
        println!(
            "{name:<10} {what:<27} {:>8.2} ms",
            started.elapsed().as_secs_f64() * 1000.0 / repeats as f64
        );
    }
}

/// Prints a delivery phase of `requests` requests of `batch` recipients.
fn report(name: &str, what: &str, requests: usize, batch: usize, phase: &Phase) {
    println!(
        "{name:<10} {what:<27} {requests:>6} requests in {:>7.2} s = {:>8.0} requests/s = {:>8.0} queued deliveries/s",
        phase.wall.as_secs_f64(),
        per_second(requests, phase.wall),
        per_second(requests * batch, phase.wall),
    );
    println!("{:<10}   {}", "", phase.detail());
}

async fn bench(name: &str, backend: Backend, sizes: &Sizes, in_flight: usize) {
    let f = Arc::new(federation(backend).await);
    // A group of GROUP clients per batch-100 request in flight.
    let groups = in_flight.clamp(1, sizes.batch_100_requests.max(1));
    let (clients, sealed) = recipients(&f, groups * GROUP).await;
    let spread = |i: usize| vec![sealed[i % sealed.len()].clone()];

    // Warm-up: connections, key caches, the database's pages.
    deliver(&f, spread, sealed.len(), in_flight).await;

    let n1 = sizes.batch_1_requests;
    let p1 = deliver(&f, spread, n1, in_flight).await;
    report(name, "deliver batch 1:", n1, 1, &p1);
    let hot = deliver(&f, |_| vec![sealed[0].clone()], n1, in_flight).await;
    report(name, "deliver batch 1, one queue:", n1, 1, &hot);
    let n100 = sizes.batch_100_requests;
    let group = |i: usize| {
        let first = (i % groups) * GROUP;
        sealed[first..first + GROUP].to_vec()
    };
    let p100 = deliver(&f, group, n100, in_flight).await;
    report(name, "deliver batch 100:", n100, GROUP, &p100);

    // Fill one queue (100 entries of it per request), then drain it with
    // what it got above.
    let fill_requests = sizes.fetch_messages / GROUP;
    deliver(
        &f,
        |_| vec![sealed[1].clone(); GROUP],
        fill_requests,
        in_flight,
    )
    .await;
    let (fetched, fetch, ack) = drain(&clients[1]).await;
    println!(
        "{name:<10} {:<27} {fetched:>6} messages in {:>7.2} s = {:>8.0} messages/s (pages of 1000); ack of all: {:.1} ms",
        "fetch:",
        fetch.wall.as_secs_f64(),
        per_second(fetched, fetch.wall),
        ack.as_secs_f64() * 1000.0,
    );
    println!("{:<10}   per page: {}", "", fetch.detail());
    f.shutdown().await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { &FULL } else { &SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let in_flight = in_flight();
    runtime.block_on(async {
        println!(
            "two providers on loopback, TLS 1.3, {MESSAGE_LEN}-byte messages, {in_flight} requests in flight"
        );
        pieces(sizes).await;
        bench("SQLite", Backend::Sqlite, sizes, in_flight).await;
        match Backend::postgres_from_env() {
            Ok(pg) => bench("PostgreSQL", pg, sizes, in_flight).await,
            Err(_) => println!(
                "PostgreSQL skipped: set MIMI_TEST_POSTGRES_URL (scripts/test shows how to start one)"
            ),
        }
    });
}
