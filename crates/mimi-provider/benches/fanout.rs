//! Fan-out throughput at the hub (issue 6 §4): a room whose hub is
//! a.example, its members spread over a.example, b.example and c.example,
//! all real (`mimi_provider::testing`: real providers on loopback, TLS 1.3,
//! signed S2S messages, OpenMLS members whose leaf keys are their device
//! keys, HPKE-sealed queue IDs, every step committed before it is
//! answered).
//!
//! Setup, not timed: every member registers at its provider; the creator
//! (a.example) creates the room and adds the others in batches (their
//! KeyPackages claimed over S2S, one add commit and Welcome per batch);
//! each joiner reads the Welcome from its queue, fetches the tree of its
//! epoch through its own provider (`/welcome_information`) and joins, and
//! the members already in process every later commit, so that any of them
//! can send.
//!
//! Then, per phase, `MESSAGES` application messages (1 KiB plaintext,
//! encrypted and signed before the clock starts) go to the hub through the
//! client API's `hub` operation, as fast as the hub answers:
//! - sequential, a sender at the hub's own provider (served in process);
//! - sequential, a sender at b.example (its provider relays each request
//!   to the hub over S2S and relays the answer back);
//! - `SENDERS` senders at once, spread over the three providers, each
//!   sending its share one after the other.
//!
//! Each phase reports: the messages the hub accepted per second (clock
//! stopped at the last `DSResponse::Accepted`) with the latency of one
//! request; and the end-to-end rate, clock stopped when every member's
//! queue holds every message (read by polling the three providers' storage
//! for their total queue depth, so no member's request is in the way):
//! queued deliveries/s = messages × (members − 1) / elapsed. The hub's
//! outbox (one entry per message and member provider) is sampled at the
//! same polls: its largest backlog, its backlog when the last message was
//! accepted, and how long the fan-out ran on after that.
//!
//! First, the pieces of one destination's share of one message, timed alone
//! one call at a time (as in the `deliver` bench, at this room's size: the
//! members of one provider): the HPKE open of a queue ID, done once per
//! recipient, and the storage transaction that queues the message for them
//! (replay record included).
//!
//! SQLite always; PostgreSQL as well when `MIMI_TEST_POSTGRES_URL` is set.
//! Run with `cargo bench -p mimi-provider --bench fanout`; figures go to
//! BENCHMARKS.md by hand. `BENCH_MEMBERS` (default 100), `BENCH_MESSAGES`
//! (200) and `BENCH_SENDERS` (4) change the sizes. Without `--bench` (under
//! `cargo test --all-targets`) a 6-member room sends a few messages, to
//! check that it works.

#[path = "common/cpu.rs"]
mod cpu;

use cpu::CpuTimes;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mimi_identifiers::Domain;
use mimi_mls::test_utils::TestMember;
use mimi_mls::{QueueKeyPair, RoomPolicy, seal_queue_id};
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{
    Backend, ProviderHandle, TestClient, TestFederation, TestProvider, create_database,
    database_of, drop_database, group_id_of, now_ms,
};
use mimi_storage::{
    DeliverOutcome, EventRecord, OutboxStore, PostgresStorage, QueueId, QueueStore, SqliteStorage,
};
use mimi_wire::ds::{DSOperation, DSRequest, MlsGroupUpdate};
use tokio::task::JoinSet;

const A: &str = "a.example";
const B: &str = "b.example";
const C: &str = "c.example";
const DOMAINS: [&str; 3] = [A, B, C];
/// The application message's plaintext: a typical message with padding.
const PLAINTEXT_LEN: usize = 1024;
/// How often the end-to-end clock looks at the queues and the outbox.
const POLL: Duration = Duration::from_millis(20);
/// A guard against a hanging run, not a timing assertion.
const WAIT: Duration = Duration::from_secs(600);

struct Sizes {
    members: usize,
    /// Joiners added by one commit.
    add_batch: usize,
    messages: usize,
    senders: usize,
    warm_up: usize,
}

const FULL: Sizes = Sizes {
    members: 100,
    add_batch: 33,
    messages: 200,
    senders: 4,
    warm_up: 20,
};
const SMOKE: Sizes = Sizes {
    members: 6,
    add_batch: 3,
    messages: 6,
    senders: 2,
    warm_up: 2,
};

/// `name` from the environment if it is a positive number, else `default`.
fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Rate limits out of the way: the bench measures the work, not the limits.
fn unlimited() -> LimitConfig {
    LimitConfig {
        burst: u32::MAX,
        per_second: 1e9,
    }
}

async fn federation(backend: Backend) -> TestFederation {
    TestFederation::builder(&DOMAINS, backend)
        .configure(|_, config| {
            let limits = &mut config.rate_limits;
            limits.s2s_sender = unlimited();
            limits.s2s_endpoint = unlimited();
            limits.key_packages_per_domain = unlimited();
            limits.key_packages_per_user = unlimited();
            limits.client = unlimited();
            limits.registrations = unlimited();
        })
        .start()
        .await
        .unwrap_or_else(|e| panic!("the federation did not start: {e}"))
}

// --- The room ----------------------------------------------------------------

/// A member of the room: its device, its MLS client, and the queue
/// sequence number of the next message it has not read.
struct Person {
    client: TestClient,
    member: TestMember,
    next: u64,
}

impl Person {
    async fn new(f: &TestFederation, at: &str, i: usize) -> Person {
        let client = f.client(at, &format!("user{i}"), "phone").expect("client");
        client.register(None).await.expect("registration");
        let member = client.member().expect("MLS member");
        Person {
            client,
            member,
            next: 1,
        }
    }

    fn domain(&self) -> &str {
        self.client.domain().as_str()
    }

    /// The next hub message in the queue (the outbox was drained first, so
    /// it is there), acknowledged.
    async fn next_message(&mut self) -> Vec<u8> {
        let messages = self.client.fanout(self.next).await.expect("fetch");
        let (seq, message) = messages.into_iter().next().expect("a hub message waits");
        self.next = seq + 1;
        self.client.ack(seq).await.expect("ack");
        message.message().to_vec()
    }
}

struct Room {
    hub: Domain,
    group_id: Vec<u8>,
    /// Index 0 is the creator, at the hub's provider.
    people: Vec<Person>,
}

fn ders(crls: &[mimi_credentials::Crl]) -> Vec<Vec<u8>> {
    crls.iter().map(|c| c.der().to_vec()).collect()
}

/// Member `i` lives at `DOMAINS[i % 3]`: 34 / 33 / 33 of 100.
async fn build_room(f: &TestFederation, sizes: &Sizes) -> Room {
    let mut people = Vec::with_capacity(sizes.members);
    for i in 0..sizes.members {
        people.push(Person::new(f, DOMAINS[i % DOMAINS.len()], i).await);
    }
    let hub = f.provider(A);
    let (info, tree) = people[0]
        .member
        .create_group(Some(&RoomPolicy::default()))
        .expect("a group");
    let group_id = group_id_of(&info).expect("its group ID");
    let crls = ders(&f.pki().crls(A).expect("CRLs"));
    let create = DSOperation::create_group(info, tree, crls);
    let request = people[0]
        .client
        .ds_request(&people[0].member, &group_id, create)
        .expect("a request");
    people[0]
        .client
        .group_operation(hub.domain(), &request)
        .await
        .expect("the room is created");
    let mut room = Room {
        hub: hub.domain().clone(),
        group_id,
        people,
    };
    let mut first = 1;
    while first < sizes.members {
        let last = (first + sizes.add_batch).min(sizes.members);
        add(f, &mut room, first..last).await;
        first = last;
    }
    room
}

/// The creator adds `joiners`; everyone already in processes the commit,
/// every joiner joins by the Welcome and the tree from the hub.
async fn add(f: &TestFederation, room: &mut Room, joiners: std::ops::Range<usize>) {
    let hub = f.provider(A);
    let mut key_packages = Vec::new();
    for p in &room.people[joiners.clone()] {
        let kp = p.member.key_package().expect("a KeyPackage");
        p.client.upload(vec![kp], false).await.expect("upload");
        let claimed = hub
            .claim_key_packages(p.client.user_id(), 1)
            .await
            .expect("claim");
        key_packages.push(claimed.key_packages()[0].key_package().to_vec());
    }
    let creator = &mut room.people[0];
    let out = creator.member.add(&key_packages).expect("an add commit");
    let crls = ders(&f.pki().crls_for(&DOMAINS).expect("CRLs"));
    let operation = DSOperation::add_clients(
        MlsGroupUpdate::new(out.commit, out.group_info),
        out.welcome.expect("a Welcome"),
        crls,
    );
    let request = creator
        .client
        .ds_request(&creator.member, &room.group_id, operation)
        .expect("a request");
    let accepted = creator
        .client
        .group_operation(&room.hub, &request)
        .await
        .expect("the add is accepted");
    creator.member.merge_pending().expect("merge");
    hub.outbox_drained(WAIT).await.expect("the fan-out ends");
    for p in &mut room.people[1..joiners.start] {
        let commit = p.next_message().await;
        p.member.process(&commit).expect("the commit processes");
    }
    for p in &mut room.people[joiners] {
        let welcome = p.next_message().await;
        let tree = p
            .client
            .welcome_information(&room.hub, &p.member, &room.group_id, accepted.epoch)
            .await
            .expect("the joiner's tree");
        p.member
            .join_by_welcome(&welcome, &tree)
            .expect("the joiner joins");
    }
}

// --- Measuring -----------------------------------------------------------------

/// Messages waiting in every queue of the three providers.
async fn queued(f: &TestFederation) -> u64 {
    let mut total = 0;
    for d in DOMAINS {
        total += f.provider(d).total_depth().await.expect("a depth");
    }
    total
}

/// The hub's outbox entries per destination.
async fn outbox(hub: &TestProvider) -> BTreeMap<String, u64> {
    let depth = match hub.handle() {
        ProviderHandle::Sqlite(p) => p.storage().outbox_depth().await,
        ProviderHandle::Postgres(p) => p.storage().outbox_depth().await,
    }
    .expect("the outbox depth");
    depth
        .into_iter()
        .map(|d| (d.destination, d.pending))
        .collect()
}

/// What the poller saw until every queue held every message.
struct Delivered {
    /// From the first request to the last queue filled.
    elapsed: Duration,
    /// Largest outbox backlog (entries, all destinations) and when.
    max_backlog: u64,
    max_backlog_at: Duration,
    /// The backlog per destination at that moment.
    max_backlog_by: BTreeMap<String, u64>,
}

/// Polls until the queues hold `expected` more messages than `baseline`.
async fn wait_delivered(
    f: Arc<TestFederation>,
    baseline: u64,
    expected: u64,
    started: Instant,
) -> Delivered {
    let hub = f.provider(A);
    let mut seen = Delivered {
        elapsed: Duration::ZERO,
        max_backlog: 0,
        max_backlog_at: Duration::ZERO,
        max_backlog_by: BTreeMap::new(),
    };
    loop {
        let backlog = outbox(hub).await;
        let total: u64 = backlog.values().sum();
        if total > seen.max_backlog {
            seen.max_backlog = total;
            seen.max_backlog_at = started.elapsed();
            seen.max_backlog_by = backlog;
        }
        if queued(&f).await >= baseline + expected {
            seen.elapsed = started.elapsed();
            return seen;
        }
        assert!(started.elapsed() < WAIT, "the fan-out did not end");
        tokio::time::sleep(POLL).await;
    }
}

/// One sender's share, encrypted and signed before the clock starts
/// (created now: well inside the hub's freshness window of 5 minutes).
fn prepare(p: &mut Person, group_id: &[u8], count: usize, tag: usize) -> Vec<DSRequest> {
    (0..count)
        .map(|i| {
            let mut plaintext = vec![b'.'; PLAINTEXT_LEN];
            let label = format!("{tag}:{i}");
            plaintext[..label.len()].copy_from_slice(label.as_bytes());
            let message = p.member.send(&plaintext).expect("encrypt");
            p.client
                .ds_request(&p.member, group_id, DSOperation::send_message(message))
                .expect("a request")
        })
        .collect()
}

/// Sends each sender's requests, one after the other per sender, all
/// senders at once; returns each request's latency, and the senders.
async fn send_all(
    hub: &Domain,
    work: Vec<(Person, Vec<DSRequest>)>,
) -> (Vec<Duration>, Vec<Person>) {
    let mut tasks = JoinSet::new();
    for (index, (person, requests)) in work.into_iter().enumerate() {
        let hub = hub.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(requests.len());
            for request in &requests {
                let sent = Instant::now();
                person
                    .client
                    .group_operation(&hub, request)
                    .await
                    .unwrap_or_else(|e| panic!("the hub refused a message: {e}"));
                latencies.push(sent.elapsed());
            }
            (index, person, latencies)
        });
    }
    let mut done = Vec::new();
    while let Some(finished) = tasks.join_next().await {
        done.push(finished.expect("no panic"));
    }
    done.sort_by_key(|(index, _, _)| *index);
    let mut all = Vec::new();
    let mut people = Vec::new();
    for (_, person, latencies) in done {
        all.extend(latencies);
        people.push(person);
    }
    (all, people)
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(i - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// One phase: `messages` messages from the members at `senders` (indices
/// into the room), split evenly, all senders at once; reports both clocks.
async fn phase(
    name: &str,
    what: &str,
    f: &Arc<TestFederation>,
    room: &mut Room,
    senders: &[usize],
    messages: usize,
    report: bool,
) {
    let recipients = (room.people.len() - 1) as u64;
    // The senders go to their own tasks and come back afterwards.
    let mut everyone: Vec<Option<Person>> = std::mem::take(&mut room.people)
        .into_iter()
        .map(Some)
        .collect();
    let mut work = Vec::new();
    for (k, &s) in senders.iter().enumerate() {
        let share = messages / senders.len() + usize::from(k < messages % senders.len());
        let mut person = everyone[s].take().expect("each sender once");
        let requests = prepare(&mut person, &room.group_id, share, s);
        work.push((person, requests));
    }
    let hub = f.provider(A);
    hub.outbox_drained(WAIT).await.expect("an empty outbox");
    let baseline = queued(f).await;
    let expected = messages as u64 * recipients;

    let cpu_before = CpuTimes::now();
    let started = Instant::now();
    let poller = tokio::spawn(wait_delivered(f.clone(), baseline, expected, started));
    let (mut latencies, people) = send_all(&room.hub, work).await;
    let accepted_in = started.elapsed();
    let backlog_then: u64 = outbox(hub).await.values().sum();
    let mut delivered = poller.await.expect("no panic");
    if backlog_then > delivered.max_backlog {
        delivered.max_backlog = backlog_then;
        delivered.max_backlog_at = accepted_in;
        delivered.max_backlog_by = BTreeMap::new();
    }
    let cpu_after = CpuTimes::now();
    hub.outbox_drained(WAIT).await.expect("the outbox empties");
    for (&s, person) in senders.iter().zip(people) {
        everyone[s] = Some(person);
    }
    room.people = everyone
        .into_iter()
        .map(|p| p.expect("every sender is back"))
        .collect();
    if !report {
        return;
    }

    latencies.sort();
    let e2e = delivered.elapsed;
    println!(
        "{name:<10} {what:<34} accepted {messages:>4} messages in {:>6.2} s = {:>6.0} messages/s; latency p50 {:.1} ms, p99 {:.1} ms",
        accepted_in.as_secs_f64(),
        messages as f64 / accepted_in.as_secs_f64(),
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
    );
    println!(
        "{:<10} {:<34} all queues full in {:>6.2} s = {:>6.0} messages/s = {:>7.0} queued deliveries/s",
        "",
        "",
        e2e.as_secs_f64(),
        messages as f64 / e2e.as_secs_f64(),
        expected as f64 / e2e.as_secs_f64(),
    );
    let by: Vec<String> = delivered
        .max_backlog_by
        .iter()
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    println!(
        "{:<10} {:<34} outbox: max {} entries at {:.2} s ({}); {} at the last accept; fan-out ran {:.2} s longer",
        "",
        "",
        delivered.max_backlog,
        delivered.max_backlog_at.as_secs_f64(),
        by.join(", "),
        backlog_then,
        e2e.saturating_sub(accepted_in).as_secs_f64(),
    );
    // Counted in 10 ms ticks, a shorter phase's CPU would be off by more
    // than a few per cent.
    if let Some((before, after)) = cpu_before.zip(cpu_after)
        && e2e >= Duration::from_millis(250)
    {
        let (process, machine) = before.cores(after, e2e);
        println!(
            "{:<10} {:<34} CPU: process {process:.2} cores, machine {machine:.2} cores",
            "", ""
        );
    }
}

// --- Pieces ----------------------------------------------------------------------

/// Times the receiving side of one destination's share of one message
/// alone: `recipients` HPKE opens and one delivery transaction to
/// `recipients` queues (see the module doc).
async fn pieces(recipients: usize, repeats: usize) {
    let key = QueueKeyPair::generate().expect("a queue key");
    let sealed = seal_queue_id(key.public(), B, &[7; 16]).expect("sealing");
    let opens = repeats * recipients;
    let started = Instant::now();
    for _ in 0..opens {
        key.open_queue_id(B, &sealed).expect("it opens");
    }
    let open = started.elapsed() / u32::try_from(opens).expect("a count");
    println!(
        "{:<10} HPKE open_queue_id: {:.1} µs; × {recipients} recipients = {:.2} ms",
        "pieces",
        open.as_secs_f64() * 1e6,
        (open * u32::try_from(recipients).expect("a count")).as_secs_f64() * 1000.0,
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sqlite = SqliteStorage::open(&dir.path().join("pieces.sqlite"))
        .await
        .expect("SQLite opens");
    storage_piece("SQLite", &sqlite, recipients, repeats).await;
    sqlite.close().await;
    if let Ok(Backend::Postgres(admin)) = Backend::postgres_from_env() {
        let url = create_database(&admin).await.expect("a database");
        let postgres = PostgresStorage::connect(&url)
            .await
            .expect("PostgreSQL connects");
        storage_piece("PostgreSQL", &postgres, recipients, repeats).await;
        postgres.close().await;
        drop_database(&admin, &database_of(&url)).await;
    }
}

/// The mean time of a `deliver` transaction to `recipients` queues.
async fn storage_piece(name: &str, storage: &impl QueueStore, recipients: usize, repeats: usize) {
    let queues: Vec<QueueId> = (0..recipients as u64)
        .map(|i| {
            let mut id = [0; 16];
            id[8..].copy_from_slice(&i.to_be_bytes());
            id
        })
        .collect();
    for queue in &queues {
        storage.create_queue(*queue).await.expect("a queue");
    }
    let message = vec![0u8; PLAINTEXT_LEN + 200];
    let batch: Vec<(QueueId, &[u8])> = queues.iter().map(|q| (*q, &message[..])).collect();
    let started = Instant::now();
    for event in 0..repeats as u64 {
        let mut message_id = [0; 16];
        message_id[8..].copy_from_slice(&event.to_be_bytes());
        let record = EventRecord {
            sender: A,
            message_id,
            expires_at_ms: now_ms() + 600_000,
        };
        let outcome = storage.deliver(Some(record), &batch).await;
        assert!(
            matches!(outcome, Ok(DeliverOutcome::Done(_))),
            "{outcome:?}"
        );
    }
    println!(
        "{:<10} {name} delivery transaction to {recipients} queues: {:.2} ms",
        "pieces",
        started.elapsed().as_secs_f64() * 1000.0 / repeats as f64
    );
}

async fn bench(name: &str, backend: Backend, sizes: &Sizes) {
    let f = Arc::new(federation(backend).await);
    let started = Instant::now();
    let mut room = build_room(&f, sizes).await;
    let spread: BTreeMap<&str, usize> = DOMAINS
        .iter()
        .map(|d| (*d, room.people.iter().filter(|p| p.domain() == *d).count()))
        .collect();
    println!(
        "{name:<10} a {}-member room (hub {A}; members {spread:?}) built in {:.1} s",
        room.people.len(),
        started.elapsed().as_secs_f64()
    );

    // Member 1 is at b.example; the concurrent senders are members 0, 1,
    // 2, 3, … (a.example, b.example, c.example, a.example, …).
    let concurrent: Vec<usize> = (0..sizes.senders.min(room.people.len())).collect();
    phase(
        name,
        "warm-up",
        &f,
        &mut room,
        &concurrent,
        sizes.warm_up,
        false,
    )
    .await;
    let n = sizes.messages;
    phase(
        name,
        "sequential, sender at the hub:",
        &f,
        &mut room,
        &[0],
        n,
        true,
    )
    .await;
    phase(
        name,
        "sequential, sender at b.example:",
        &f,
        &mut room,
        &[1],
        n,
        true,
    )
    .await;
    let what = format!("{} senders at once:", concurrent.len());
    phase(name, &what, &f, &mut room, &concurrent, n, true).await;
    f.shutdown().await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let base = if full { &FULL } else { &SMOKE };
    let sizes = Sizes {
        members: env_size("BENCH_MEMBERS", base.members).max(2),
        messages: env_size("BENCH_MESSAGES", base.messages),
        senders: env_size("BENCH_SENDERS", base.senders),
        ..*base
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        println!(
            "three providers on loopback, TLS 1.3, {PLAINTEXT_LEN}-byte plaintexts, {} members, {} messages a phase",
            sizes.members, sizes.messages
        );
        let per_provider = sizes.members.div_ceil(DOMAINS.len());
        pieces(per_provider, if full { 200 } else { 2 }).await;
        bench("SQLite", Backend::Sqlite, &sizes).await;
        match Backend::postgres_from_env() {
            Ok(pg) => bench("PostgreSQL", pg, &sizes).await,
            Err(_) => println!(
                "PostgreSQL skipped: set MIMI_TEST_POSTGRES_URL (scripts/test shows how to start one)"
            ),
        }
    });
}
