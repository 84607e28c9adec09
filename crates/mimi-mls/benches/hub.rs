//! What the hub of a room pays per operation (issue 6 §4), beside mls-rs'
//! observer (`ExternalGroup`, its public-group equivalent) doing the same
//! work in a room of the same shape.
//!
//! Run with `cargo bench -p mimi-mls --bench hub`; figures go to
//! BENCHMARKS.md by hand. `BENCH_MS` sets the time per case (default
//! 1000 ms), `BENCH_ROUNDS` how many rounds it is split into (default 9),
//! `BENCH_SIZES` the room sizes (default `10,100,1000`), `BENCH_FILTER`
//! measures only the cases whose name contains it (for `perf`). The harness is the
//! one of mimi-wire's `s2s` bench: each case warms up for a tenth of its
//! budget, then runs `BENCH_ROUNDS` equal rounds and the median round is
//! reported; all cases of one room size, ours and mls-rs', run interleaved
//! round by round, because the machine is shared and drifts over seconds.
//! Here a case times only its measured part (the copy of a group that a
//! commit is processed on is made outside the clock). Without `--bench`
//! (`cargo test --all-targets`, debug profile) a room of 10 is measured for
//! a few milliseconds per case, to check that the benchmark works.
//!
//! Rooms: cipher suite 1 (X25519, AES-128-GCM, SHA-256, Ed25519). The
//! creator (leaf 0) adds everyone else in commits of [`BATCH`] Add proposals
//! without an UpdatePath, in both libraries, so both trees have the same
//! shape: every parent node blank, and an UpdatePath from the creator
//! carries one HPKE ciphertext per other member (the worst case, as in a
//! room where nobody has committed since joining). Our members have X.509
//! credentials from [`TestPki`] (device certificate → domain CA → identity
//! root, fresh CRLs) over three domains; mls-rs' members have Basic
//! credentials, and its `BasicIdentityProvider` checks nothing.
//!
//! Cases at the hub (ours, `HubGroup`):
//! - `stage_commit` of an update_client commit by the creator with the same
//!   credential (OpenMLS validation + GroupInfo check, no chain to verify),
//!   with a renewed certificate on a new key (plus the chain check and the
//!   same-identity check), and of an add_clients commit adding one member
//!   (KeyPackage, chain check, GroupInfo check);
//! - `merge` of a staged commit (which drops the state it replaces);
//!   `to_snapshot` and `from_snapshot`; `export_ratchet_tree` (a part of
//!   every `stage_commit`, timed alone to explain it);
//! - `check_application` + `verify_member_signature` for a 1 KiB
//!   application message and the request signature over it;
//! - the provider's whole path for a commit, which rebuilds the group per
//!   operation: `from_snapshot` + `stage_commit` + `next_snapshot`.
//!
//! The same with mls-rs (`ExternalGroup::process_incoming_message`, which
//! validates and applies in one step, on a clone of the group):
//! an empty commit (UpdatePath) with the same and with a new signature key,
//! a commit adding one member, `snapshot().to_bytes()`,
//! `ExternalSnapshot::from_bytes` + `load_group`, an application message
//! (`process_incoming_message` + the request signature checked with the
//! sender's leaf key from the roster), and load + process + snapshot.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use mimi_credentials::{Crl, TrustAnchors};
use mimi_mls::hub::{Checks, CommitKind, HubGroup};
use mimi_mls::test_utils::{
    CommitMessages, KeyPackageParams, TestMember, TestPki, key_package, sealed_queue_reference,
};
use mimi_wire::labels::DS_REQUEST;
use mls_rs::client_builder::MlsConfig;
use mls_rs::external_client::{ExternalClient, ExternalReceivedMessage, ExternalSnapshot};
use mls_rs::identity::SigningIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::{CipherSuite, CipherSuiteProvider, Client, CryptoProvider, MlsMessage};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;
use openmls_traits::signatures::Signer;
use tls_codec::{Serialize as _, VLByteSlice};

const DOMAINS: [&str; 3] = ["a.example", "b.example", "c.example"];
/// Add proposals per commit while a room is built (OpenMLS and the hub's
/// message bound handle a hundred comfortably).
const BATCH: usize = 100;
/// The application message's plaintext (a typical padded message).
const PLAINTEXT_LEN: usize = 1024;
const SUITE: CipherSuite = CipherSuite::CURVE25519_AES128;

// ---------------------------------------------------------------------------
// The harness (as in mimi-wire's s2s bench, with self-timed cases).

/// How long each case runs, in how many rounds, and for which room sizes.
#[derive(Debug, Clone)]
struct Config {
    budget: Duration,
    rounds: u32,
    sizes: Vec<usize>,
    filter: Option<String>,
}

impl Config {
    fn from_env() -> Config {
        let env = |name: &str| std::env::var(name).ok();
        let sizes = env("BENCH_SIZES")
            .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .filter(|s: &Vec<usize>| !s.is_empty() && s.iter().all(|n| *n >= 2));
        let filter = env("BENCH_FILTER");
        // `cargo bench` passes --bench; `cargo test` does not.
        if !std::env::args().any(|a| a == "--bench") {
            return Config {
                budget: Duration::from_millis(5),
                rounds: 3,
                sizes: sizes.unwrap_or_else(|| vec![10]),
                filter,
            };
        }
        let number =
            |name: &str, default: u64| env(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        Config {
            budget: Duration::from_millis(number("BENCH_MS", 1000).max(10)),
            rounds: u32::try_from(number("BENCH_ROUNDS", 9).clamp(1, 101)).unwrap_or(9),
            sizes: sizes.unwrap_or_else(|| vec![10, 100, 1000]),
            filter,
        }
    }
}

/// A case: does one operation and returns how long its measured part took.
type Case<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Times `f` alone; what it returns is dropped outside the clock.
fn timed<T>(f: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    let out = black_box(f());
    let elapsed = start.elapsed();
    drop(out);
    elapsed
}

/// The median time per call over the rounds, and the fastest and slowest
/// round, to show how noisy the case was.
#[derive(Debug, Clone, Copy)]
struct Timing {
    median: Duration,
    min: Duration,
    max: Duration,
}

impl Timing {
    fn of(rounds: &[Duration]) -> Timing {
        let mut sorted = rounds.to_vec();
        sorted.sort();
        Timing {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }

    fn micros(self) -> f64 {
        self.median.as_secs_f64() * 1e6
    }

    fn per_second(self) -> f64 {
        1.0 / self.median.as_secs_f64()
    }

    /// (slowest − fastest round) / median, in percent.
    fn spread_percent(self) -> f64 {
        (self.max.as_secs_f64() - self.min.as_secs_f64()) / self.median.as_secs_f64() * 100.0
    }
}

/// Calls `f` for about `budget` (at least once) and returns how many calls
/// fit into `round`, counting the unmeasured setup too so that the whole
/// run keeps to its budget.
fn warm_up(f: &mut Case<'_>, budget: Duration, round: Duration) -> u32 {
    let start = Instant::now();
    let mut calls: u32 = 0;
    while calls == 0 || start.elapsed() < budget {
        f();
        calls += 1;
    }
    let per_call = start.elapsed() / calls;
    let fit = (round.as_nanos() / per_call.as_nanos().max(1)).max(1);
    u32::try_from(fit).unwrap_or(u32::MAX)
}

/// Measures a group of cases interleaved: round 1 of every case, round 2 of
/// every case, and so on. Returns each case's time per call, round by round.
fn measure(config: &Config, cases: &mut [Case<'_>]) -> Vec<Vec<Duration>> {
    let round = config.budget / config.rounds;
    let calls: Vec<u32> = cases
        .iter_mut()
        .map(|f| warm_up(f, config.budget / 10, round))
        .collect();
    let mut rounds = vec![Vec::new(); cases.len()];
    for _ in 0..config.rounds {
        for ((f, &n), out) in cases.iter_mut().zip(&calls).zip(&mut rounds) {
            let measured: Duration = (0..n).map(|_| f()).sum();
            out.push(measured / n);
        }
    }
    rounds
}

/// The machine's 1-minute load average, to print beside the figures (the
/// machine is shared); `None` where /proc is not there.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// `SignContent { label, content }` (RFC 9420 §5.1.2 with a whole label),
/// what a member signs for a request to the hub.
fn sign_content(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + DS_REQUEST.len() + 8);
    VLByteSlice(DS_REQUEST.as_bytes())
        .tls_serialize(&mut out)
        .and_then(|_| VLByteSlice(content).tls_serialize(&mut out))
        .expect("encoding SignContent");
    out
}

fn plaintext() -> Vec<u8> {
    (0..PLAINTEXT_LEN).map(|i| (i % 251) as u8).collect()
}

// ---------------------------------------------------------------------------
// Our hub.

/// A room of `n` members tracked by a `HubGroup`, and the messages of its
/// current epoch that the cases check.
struct OursRoom {
    roots: TrustAnchors,
    crls: Vec<Crl>,
    now: SystemTime,
    hub: HubGroup,
    snapshot: Vec<u8>,
    update: CommitMessages,
    renewed: CommitMessages,
    add: CommitMessages,
    application: Vec<u8>,
    signature: Vec<u8>,
}

/// A KeyPackage of a fresh device of `user` at `domain`, with its
/// certificate from `pki` (its private keys are dropped: nobody joins).
fn our_key_package(pki: &TestPki, domain: &str, user: &str) -> Vec<u8> {
    let id = pki
        .device(domain, user, "phone")
        .expect("a device certificate");
    let signer = id.signer().expect("a signer");
    let (_, _, reference) = sealed_queue_reference(domain).expect("a queue reference");
    key_package(&KeyPackageParams::new(&signer, id.chain_der(), reference))
        .expect("a KeyPackage")
        .bytes
}

impl OursRoom {
    fn build(n: usize) -> OursRoom {
        let pki = TestPki::new(&DOMAINS).expect("a test PKI");
        let roots = pki.trust_anchors();
        let crls = pki.crls().expect("CRLs");
        let now = SystemTime::now();
        let checks = Checks {
            roots: &roots,
            crls: &crls,
            now,
        };
        let alice_id = pki.device(DOMAINS[0], "alice", "laptop").expect("alice");
        let (_, _, reference) = sealed_queue_reference(DOMAINS[0]).expect("a queue reference");
        let mut alice = TestMember::new(
            alice_id.chain_der(),
            alice_id.signer().expect("a signer"),
            reference,
        )
        .expect("alice");
        let (info, tree) = alice.create_group(None).expect("a group");
        let mut hub = HubGroup::create(&info, &tree, &checks).expect("the hub tracks it");
        let key_packages: Vec<Vec<u8>> = (1..n)
            .map(|i| our_key_package(&pki, DOMAINS[i % DOMAINS.len()], &format!("user{i}")))
            .collect();
        for batch in key_packages.chunks(BATCH) {
            let out = alice.add(batch).expect("an add commit");
            hub.commit(
                CommitKind::AddClients,
                &out.commit,
                &out.group_info,
                &checks,
            )
            .expect("the hub accepts the add");
            alice.merge_pending().expect("merged");
        }
        assert_eq!(hub.members().len(), n);

        let update = alice.update().expect("an update commit");
        alice.discard_pending().expect("discarded");
        let newcomer = our_key_package(&pki, DOMAINS[1], "newcomer");
        let add = alice.add(&[newcomer]).expect("an add commit");
        alice.discard_pending().expect("discarded");
        let application = alice.send(&plaintext()).expect("an application message");
        let signature = alice
            .signer()
            .sign(&sign_content(&application))
            .expect("a request signature");
        // Last: alice signs with the renewed key from here on.
        let renewed_id = pki.device(DOMAINS[0], "alice", "laptop").expect("renewed");
        let renewed = alice
            .update_credential(renewed_id.chain_der(), renewed_id.signer().expect("signer"))
            .expect("an update commit with a renewed certificate");

        let snapshot = hub.to_snapshot().expect("a snapshot");
        let room = OursRoom {
            roots,
            crls,
            now,
            hub,
            snapshot,
            update,
            renewed,
            add,
            application,
            signature,
        };
        room.check_once();
        room
    }

    fn checks(&self) -> Checks<'_> {
        Checks {
            roots: &self.roots,
            crls: &self.crls,
            now: self.now,
        }
    }

    fn stage(&self, kind: CommitKind, m: &CommitMessages) -> mimi_mls::hub::StagedHubCommit {
        self.hub
            .stage_commit(kind, &m.commit, &m.group_info, &self.checks())
            .expect("the hub accepts the commit")
    }

    /// Every measured operation succeeds, and does what the case says.
    fn check_once(&self) {
        let same = self.stage(CommitKind::UpdateClient, &self.update);
        assert!(same.outcome().updated.is_empty(), "no chain to re-verify");
        let renewed = self.stage(CommitKind::UpdateClient, &self.renewed);
        assert_eq!(
            renewed.outcome().updated.len(),
            1,
            "the renewed chain is verified"
        );
        let add = self.stage(CommitKind::AddClients, &self.add);
        assert_eq!(add.outcome().added.len(), 1);
        self.hub
            .check_application(&self.application)
            .expect("application");
        self.hub
            .verify_member_signature(0, DS_REQUEST, &self.application, &self.signature)
            .expect("request signature");
        let reread = HubGroup::from_snapshot(&self.snapshot).expect("snapshot");
        assert_eq!(reread.to_snapshot().expect("snapshot"), self.snapshot);
    }

    /// The provider's path for a commit: rebuild, validate, write.
    fn provider_path(&self, kind: CommitKind, m: &CommitMessages) -> Vec<u8> {
        let group = HubGroup::from_snapshot(&self.snapshot).expect("snapshot");
        group
            .stage_commit(kind, &m.commit, &m.group_info, &self.checks())
            .expect("accepted")
            .next_snapshot()
            .expect("a snapshot")
    }

    fn cases(&self) -> Vec<(&'static str, Case<'_>)> {
        use CommitKind::{AddClients, UpdateClient};
        vec![
            (
                "update, same credential: stage_commit",
                Box::new(|| timed(|| self.stage(UpdateClient, &self.update))),
            ),
            (
                "update, renewed certificate: stage_commit",
                Box::new(|| timed(|| self.stage(UpdateClient, &self.renewed))),
            ),
            (
                "add one member: stage_commit",
                Box::new(|| timed(|| self.stage(AddClients, &self.add))),
            ),
            (
                "merge (drops the replaced state)",
                Box::new(|| {
                    let mut group = HubGroup::from_snapshot(&self.snapshot).expect("snapshot");
                    let staged = group
                        .stage_commit(
                            UpdateClient,
                            &self.renewed.commit,
                            &self.renewed.group_info,
                            &self.checks(),
                        )
                        .expect("accepted");
                    let elapsed = timed(|| group.merge(staged).expect("merged"));
                    drop(group);
                    elapsed
                }),
            ),
            (
                "snapshot write (to_snapshot)",
                Box::new(|| timed(|| self.hub.to_snapshot().expect("a snapshot"))),
            ),
            (
                "snapshot read (from_snapshot)",
                Box::new(|| timed(|| HubGroup::from_snapshot(&self.snapshot).expect("read"))),
            ),
            (
                "application: check_application + signature",
                Box::new(|| {
                    timed(|| {
                        self.hub
                            .check_application(black_box(&self.application))
                            .expect("application");
                        self.hub
                            .verify_member_signature(
                                0,
                                DS_REQUEST,
                                &self.application,
                                &self.signature,
                            )
                            .expect("signature")
                    })
                }),
            ),
            (
                "part: export_ratchet_tree (in every stage_commit)",
                Box::new(|| timed(|| self.hub.export_ratchet_tree().expect("a tree"))),
            ),
            (
                "provider path: read + renewed update + write",
                Box::new(|| timed(|| self.provider_path(UpdateClient, &self.renewed))),
            ),
            (
                "provider path: read + add one + write",
                Box::new(|| timed(|| self.provider_path(AddClients, &self.add))),
            ),
        ]
    }
}

// ---------------------------------------------------------------------------
// mls-rs' observer.

fn rs_crypto() -> RustCryptoProvider {
    RustCryptoProvider::default()
}

fn rs_suite() -> impl CipherSuiteProvider {
    rs_crypto()
        .cipher_suite_provider(SUITE)
        .expect("mls-rs' RustCrypto provider has suite 1")
}

/// A Basic-credential identity named `name` on a fresh Ed25519 key.
fn rs_identity(name: &str) -> (mls_rs::crypto::SignatureSecretKey, SigningIdentity) {
    let (secret, public) = rs_suite().signature_key_generate().expect("a key");
    let credential = BasicCredential::new(name.as_bytes().to_vec()).into_credential();
    (secret, SigningIdentity::new(credential, public))
}

fn rs_client(name: &str) -> Client<impl MlsConfig> {
    let (secret, identity) = rs_identity(name);
    Client::builder()
        .identity_provider(BasicIdentityProvider)
        .crypto_provider(rs_crypto())
        .signing_identity(identity, secret, SUITE)
        .build()
}

fn bytes(message: &MlsMessage) -> Vec<u8> {
    message.to_bytes().expect("mls-rs encodes its message")
}

fn parse(bytes: &[u8]) -> MlsMessage {
    MlsMessage::from_bytes(bytes).expect("mls-rs decodes its message")
}

/// Sizes of the messages of one room, to see that both rooms have the
/// same shape.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    update: usize,
    add: usize,
    snapshot: usize,
}

/// Builds an mls-rs room of `n` members observed by an `ExternalGroup` and
/// returns its cases, which own everything they need.
fn rs_room(n: usize) -> (Sizes, Vec<(&'static str, Case<'static>)>) {
    // Shared by the cases (an ExternalClient is not Clone).
    let server = std::rc::Rc::new(
        ExternalClient::builder()
            .identity_provider(BasicIdentityProvider)
            .crypto_provider(rs_crypto())
            .build(),
    );
    let (alice_secret, alice_identity) = rs_identity("alice");
    let alice_client = Client::builder()
        .identity_provider(BasicIdentityProvider)
        .crypto_provider(rs_crypto())
        .signing_identity(alice_identity.clone(), alice_secret.clone(), SUITE)
        .build();
    let mut alice = alice_client
        .create_group(Default::default(), Default::default(), None)
        .expect("a group");
    let info = alice.group_info_message(false).expect("a GroupInfo");
    let mut observed = server
        .observe_group(info, Some(alice.export_tree().into_owned()), None)
        .expect("the observer tracks it");
    let key_packages: Vec<MlsMessage> = (1..n)
        .map(|i| {
            rs_client(&format!("user{i}"))
                .generate_key_package_message(Default::default(), Default::default(), None)
                .expect("a KeyPackage")
        })
        .collect();
    for batch in key_packages.chunks(BATCH) {
        let mut builder = alice.commit_builder();
        for kp in batch {
            builder = builder.add_member(kp.clone()).expect("an add");
        }
        let out = builder.build().expect("an add commit");
        let processed = observed
            .process_incoming_message(out.commit_message)
            .expect("the observer accepts the add");
        assert!(matches!(processed, ExternalReceivedMessage::Commit(_)));
        alice.apply_pending_commit().expect("applied");
    }
    assert_eq!(observed.roster().members_iter().count(), n);

    let update = bytes(
        &alice
            .commit(Vec::new())
            .expect("an empty commit")
            .commit_message,
    );
    alice.clear_pending_commit();
    let (new_secret, new_identity) = rs_identity("alice");
    let new_key = alice
        .commit_builder()
        .set_new_signing_identity(new_secret, new_identity)
        .build()
        .expect("an update with a new key");
    let new_key = bytes(&new_key.commit_message);
    alice.clear_pending_commit();
    let newcomer = rs_client("newcomer")
        .generate_key_package_message(Default::default(), Default::default(), None)
        .expect("a KeyPackage");
    let add = alice
        .commit_builder()
        .add_member(newcomer)
        .expect("an add")
        .build()
        .expect("an add commit");
    let add = bytes(&add.commit_message);
    alice.clear_pending_commit();
    let application = bytes(
        &alice
            .encrypt_application_message(&plaintext(), Vec::new())
            .expect("an application message"),
    );
    let signature = rs_suite()
        .sign(&alice_secret, &sign_content(&application))
        .expect("a request signature");
    let snapshot = observed.snapshot().to_bytes().expect("a snapshot");

    // Every measured operation succeeds once before it is timed.
    for commit in [&update, &new_key, &add] {
        let processed = observed
            .clone()
            .process_incoming_message(parse(commit))
            .expect("the observer accepts the commit");
        assert!(matches!(processed, ExternalReceivedMessage::Commit(_)));
    }
    let sizes = Sizes {
        update: update.len(),
        add: add.len(),
        snapshot: snapshot.len(),
    };

    let process = {
        let observed = observed.clone();
        move |commit: &[u8]| {
            let mut group = observed.clone();
            let elapsed = timed(|| {
                group
                    .process_incoming_message(parse(commit))
                    .expect("accepted")
            });
            drop(group);
            elapsed
        }
    };
    let path = {
        let server = std::rc::Rc::clone(&server);
        let snapshot = snapshot.clone();
        move |commit: &[u8]| {
            timed(|| {
                let mut group = server
                    .load_group(ExternalSnapshot::from_bytes(&snapshot).expect("decodes"))
                    .expect("loads");
                group
                    .process_incoming_message(parse(commit))
                    .expect("accepted");
                group.snapshot().to_bytes().expect("a snapshot")
            })
        }
    };
    let suite = rs_suite();
    let mut app_group = observed.clone();
    let read_server = std::rc::Rc::clone(&server);
    let read_snapshot = snapshot.clone();
    let (p1, p2, p3) = (process.clone(), process.clone(), process);
    let (q1, q2) = (path.clone(), path);
    let cases: Vec<(&'static str, Case<'static>)> = vec![
        (
            "update, same key: process_incoming_message",
            Box::new(move || p1(&update)),
        ),
        (
            "update, new signature key: process",
            Box::new({
                let new_key = new_key.clone();
                move || p2(&new_key)
            }),
        ),
        (
            "add one member: process",
            Box::new({
                let add = add.clone();
                move || p3(&add)
            }),
        ),
        (
            "snapshot write (snapshot().to_bytes())",
            Box::new({
                let observed = observed.clone();
                move || timed(|| observed.snapshot().to_bytes().expect("a snapshot"))
            }),
        ),
        (
            "snapshot read (from_bytes + load_group)",
            Box::new(move || {
                timed(|| {
                    read_server
                        .load_group(ExternalSnapshot::from_bytes(&read_snapshot).expect("decodes"))
                        .expect("loads")
                })
            }),
        ),
        (
            "application: process + signature",
            Box::new(move || {
                timed(|| {
                    let seen = app_group
                        .process_incoming_message(parse(black_box(&application)))
                        .expect("an application message");
                    assert!(matches!(seen, ExternalReceivedMessage::Ciphertext(_)));
                    let sender = app_group.roster().member_with_index(0).expect("leaf 0");
                    suite
                        .verify(
                            &sender.signing_identity.signature_key,
                            &signature,
                            &sign_content(&application),
                        )
                        .expect("signature")
                })
            }),
        ),
        (
            "provider path: read + new-key update + write",
            Box::new(move || q1(&new_key)),
        ),
        (
            "provider path: read + add one + write",
            Box::new(move || q2(&add)),
        ),
    ];
    (sizes, cases)
}

// ---------------------------------------------------------------------------

fn row(who: &str, case: &str, t: Timing) {
    println!(
        "{who:<7} {case:<46} {:>10.0} {:>11.1} {:>8.1}",
        t.per_second(),
        t.micros(),
        t.spread_percent(),
    );
}

fn room(config: &Config, n: usize) {
    let started = Instant::now();
    let ours = OursRoom::build(n);
    let ours_setup = started.elapsed();
    let started = Instant::now();
    let (rs_sizes, rs_cases) = rs_room(n);
    let rs_setup = started.elapsed();
    println!();
    println!(
        "room of {n}: set up in {:.1} s (ours) and {:.1} s (mls-rs); load {}",
        ours_setup.as_secs_f64(),
        rs_setup.as_secs_f64(),
        load_average().unwrap_or_else(|| "?".into()),
    );
    println!(
        "  bytes: update commit {} / {}, renewed update {} / -, add-one commit {} / {}, snapshot {} / {} (ours / mls-rs)",
        ours.update.commit.len(),
        rs_sizes.update,
        ours.renewed.commit.len(),
        ours.add.commit.len(),
        rs_sizes.add,
        ours.snapshot.len(),
        rs_sizes.snapshot,
    );
    let ours_cases = ours.cases();
    let (names, mut cases): (Vec<(&str, &str)>, Vec<Case<'_>>) = ours_cases
        .into_iter()
        .map(|(name, case)| (("ours", name), case))
        .chain(
            rs_cases
                .into_iter()
                .map(|(name, case)| (("mls-rs", name), case)),
        )
        .filter(|((_, name), _)| {
            config
                .filter
                .as_ref()
                .is_none_or(|f| name.contains(f.as_str()))
        })
        .unzip();
    let rounds = measure(config, &mut cases);
    println!(
        "{:<7} {:<46} {:>10} {:>11} {:>8}",
        "", "case", "ops/s", "µs/op", "spread%"
    );
    for (i, ((who, name), r)) in names.iter().zip(&rounds).enumerate() {
        if i > 0 && *who == "mls-rs" && names[i - 1].0 == "ours" {
            println!();
        }
        row(who, name, Timing::of(r));
    }
    println!(
        "load after the room: {}",
        load_average().unwrap_or_else(|| "?".into())
    );
}

fn main() {
    let config = Config::from_env();
    println!(
        "hub operations, single-threaded; {} ms per case in {} rounds, median round; load {}",
        config.budget.as_millis(),
        config.rounds,
        load_average().unwrap_or_else(|| "?".into()),
    );
    for &n in &config.sizes {
        room(&config, n);
    }
}
