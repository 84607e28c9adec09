//! What our signed framing costs beside the Ed25519 it wraps: `S2SMessage`
//! (draft-kohbrok-mimi-transport §3) signed by a sending provider and checked
//! by a receiving one, and the signed `ClientRequest` a provider checks for
//! every call of its client API.
//!
//! Run with `cargo bench -p mimi-wire --bench s2s`; figures go to
//! BENCHMARKS.md by hand. `BENCH_MS` sets the time per case (default 1000 ms)
//! and `BENCH_ROUNDS` how many rounds it is split into (default 9). A plain
//! harness (no criterion): each case warms up for a tenth of its budget, then
//! runs `BENCH_ROUNDS` equal rounds, and the median round is reported, so that
//! a burst of work from another process spoils a round, not the figure. The
//! cases of a group run interleaved (round 1 of each, then round 2, ...), and
//! the overhead ratio is the median over rounds of ours / raw in the same
//! round, because the machine is shared and drifts over seconds.
//! Without `--bench` (`cargo test --all-targets`, debug profile) every case
//! runs for a few milliseconds only, to check that the benchmark works.
//!
//! Cases, for an event body of 1 KiB and of 64 KiB:
//! - raw aws-lc-rs Ed25519 sign and verify of a message of the body's size;
//! - sending: `EventEnvelope::new` + `Event::with_envelope` +
//!   `S2SMessage::sign` + `encode` (with one copy of the body, handed over by
//!   value);
//! - receiving: `check_incoming` (decode, version, recipient, sender domain,
//!   key lookup, signature, envelope, freshness), and `S2SMessage::decode`
//!   alone.
//!
//! Client requests, for `fetch` (12-byte body) and `upload_key_packages` with
//! one 1 KiB KeyPackage, signed with an Ed25519 device key:
//! - client: `ClientRequestTbs::new` + `signed_content` + sign +
//!   `ClientRequest::encode`;
//! - provider: `ClientRequest::decode_for` + `client_id` (to find the
//!   device's key) + `signed_content` + verify;
//! - raw sign and verify of the same signed content.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use mimi_identifiers::{DeviceId, Domain, UserId};
use mimi_wire::{
    ClientRequest, ClientRequestBody, ClientRequestTbs, DEFAULT_MAX_MESSAGE_LEN, Event,
    EventEnvelope, EventKind, FetchRequest, ProtocolVersion, S2SMessage, SigningKey,
    UploadKeyPackagesRequest, check_incoming,
};

const SENDER: &str = "a.example";
const RECIPIENT: &str = "b.example";
const NOW_MS: u64 = 1_764_000_000_000;
const SKEW_MS: u64 = 60_000;
const KIB: usize = 1024;

/// How long each case runs and in how many rounds.
#[derive(Debug, Clone, Copy)]
struct Config {
    budget: Duration,
    rounds: u32,
}

impl Config {
    fn from_env() -> Config {
        // `cargo bench` passes --bench; `cargo test` does not.
        if !std::env::args().any(|a| a == "--bench") {
            return Config {
                budget: Duration::from_millis(5),
                rounds: 3,
            };
        }
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Config {
            budget: Duration::from_millis(env("BENCH_MS", 1000).max(10)),
            rounds: u32::try_from(env("BENCH_ROUNDS", 9).clamp(1, 101)).unwrap_or(9),
        }
    }
}

/// The time per call of each round of one case, in the order the rounds ran.
#[derive(Debug, Clone)]
struct Rounds(Vec<Duration>);

impl Rounds {
    fn timing(&self) -> Timing {
        let mut sorted = self.0.clone();
        sorted.sort();
        Timing {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }

    /// The median over rounds of `self / raw` in the same round: the cases of
    /// a group run interleaved, so a slow spell of the machine hits both
    /// sides of a round's ratio alike.
    fn ratio_to(&self, raw: &Rounds) -> f64 {
        let mut ratios: Vec<f64> = self
            .0
            .iter()
            .zip(&raw.0)
            .map(|(ours, raw)| ours.as_secs_f64() / raw.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    }
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
/// fit into `round`.
fn warm_up(f: &mut dyn FnMut(), budget: Duration, round: Duration) -> u32 {
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

/// Measures a group of cases: warms each up for a tenth of the budget, sizes
/// its rounds to `budget / rounds`, then runs round 1 of every case, round 2
/// of every case, and so on.
fn measure(config: Config, cases: &mut [&mut dyn FnMut()]) -> Vec<Rounds> {
    let round = config.budget / config.rounds;
    let calls: Vec<u32> = cases
        .iter_mut()
        .map(|f| warm_up(*f, config.budget / 10, round))
        .collect();
    let mut rounds = vec![Rounds(Vec::new()); cases.len()];
    for _ in 0..config.rounds {
        for ((f, &n), out) in cases.iter_mut().zip(&calls).zip(&mut rounds) {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            out.0.push(start.elapsed() / n);
        }
    }
    rounds
}

/// One line of the main table.
fn row(case: &str, bytes: usize, t: Timing) {
    println!(
        "{case:<50} {bytes:>7} {:>11.0} {:>10.2} {:>8.1}",
        t.per_second(),
        t.micros(),
        t.spread_percent(),
    );
}

fn header(title: &str) {
    println!();
    println!("{title}");
    println!(
        "{:<50} {:>7} {:>11} {:>10} {:>8}",
        "case", "bytes", "ops/s", "µs/op", "spread%"
    );
}

/// One line of the overhead table: ours against the raw operation it wraps,
/// in the same rounds.
fn overhead(what: &str, ours: &Rounds, raw: &Rounds) {
    let r = ours.ratio_to(raw);
    let raw_us = raw.timing().micros();
    println!(
        "{what:<50} {:>10.2} {:>10.2} {:>10.2} {:>8.2}",
        ours.timing().micros(),
        raw_us,
        (r - 1.0) * raw_us,
        r,
    );
}

/// The machine's 1-minute load average, to print beside the figures (the
/// machine is shared); `None` where /proc is not there.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// A message of `len` bytes that is not all zeros.
fn body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn ed25519_key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key generation");
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("our key parses")
}

/// Raw Ed25519 sign and verify of one message, as closures to measure.
struct Raw<'a> {
    key: &'a Ed25519KeyPair,
    public: UnparsedPublicKey<&'a [u8]>,
    message: &'a [u8],
    signature: aws_lc_rs::signature::Signature,
}

impl<'a> Raw<'a> {
    fn new(key: &'a Ed25519KeyPair, message: &'a [u8]) -> Raw<'a> {
        let signature = key.sign(message);
        let public = UnparsedPublicKey::new(&ED25519, key.public_key().as_ref());
        public
            .verify(message, signature.as_ref())
            .expect("raw signature verifies");
        Raw {
            key,
            public,
            message,
            signature,
        }
    }

    fn sign(&self) {
        black_box(self.key.sign(black_box(self.message)));
    }

    fn verify(&self) {
        black_box(
            self.public
                .verify(black_box(self.message), black_box(self.signature.as_ref()))
                .is_ok(),
        );
    }
}

/// The S2S figures of one body size.
#[derive(Debug)]
struct S2sFigures {
    body_len: usize,
    raw_sign: Rounds,
    raw_verify: Rounds,
    sign: Rounds,
    check: Rounds,
}

fn s2s_case(config: Config, body_len: usize) -> S2sFigures {
    let sender = Domain::parse(SENDER).expect("domain");
    let recipient = Domain::parse(RECIPIENT).expect("domain");
    let key = SigningKey::from_pkcs8(&SigningKey::generate_pkcs8().expect("key")).expect("key");
    let verification_key = key.verification_key(0, u64::MAX);
    let lookup = |d: &Domain| (d == &sender).then(|| verification_key.clone());
    let payload = body(body_len);

    let send = || -> Vec<u8> {
        let envelope = EventEnvelope::new(payload.clone(), NOW_MS).expect("envelope");
        let event = Event::with_envelope(EventKind::GroupOperation, &envelope).expect("event");
        S2SMessage::sign(ProtocolVersion::Mimi10, &sender, &recipient, event, &key)
            .expect("sign")
            .encode()
            .expect("encode")
    };
    let wire = send();
    let check = || {
        check_incoming(
            black_box(&wire),
            &recipient,
            lookup,
            NOW_MS,
            SKEW_MS,
            DEFAULT_MAX_MESSAGE_LEN,
        )
    };
    let (verified, envelope) = check().expect("the bench message passes every check");
    assert_eq!(verified.sender(), &sender);
    assert_eq!(envelope.body(), payload.as_slice());

    let raw_key = ed25519_key();
    let raw = Raw::new(&raw_key, &payload);
    let mut rounds = measure(
        config,
        &mut [
            &mut || raw.sign(),
            &mut || raw.verify(),
            &mut || {
                black_box(send());
            },
            &mut || {
                black_box(check().is_ok());
            },
            &mut || {
                black_box(S2SMessage::decode(black_box(&wire), DEFAULT_MAX_MESSAGE_LEN).is_ok());
            },
        ],
    )
    .into_iter();
    let mut next = || rounds.next().expect("one result per case");
    let figures = S2sFigures {
        body_len,
        raw_sign: next(),
        raw_verify: next(),
        sign: next(),
        check: next(),
    };
    let decode = next();
    row("raw Ed25519 sign", body_len, figures.raw_sign.timing());
    row("raw Ed25519 verify", body_len, figures.raw_verify.timing());
    row(
        "S2SMessage sign (envelope+event+sign+encode)",
        wire.len(),
        figures.sign.timing(),
    );
    row(
        "check_incoming (decode+checks+verify)",
        wire.len(),
        figures.check.timing(),
    );
    row("S2SMessage::decode alone", wire.len(), decode.timing());
    figures
}

/// The client-request figures of one operation.
#[derive(Debug)]
struct ClientFigures {
    name: &'static str,
    raw_sign: Rounds,
    raw_verify: Rounds,
    sign: Rounds,
    verify: Rounds,
}

fn client_case(
    config: Config,
    name: &'static str,
    body: &ClientRequestBody,
    device: &DeviceId,
) -> ClientFigures {
    let operation = body.operation();
    let key = ed25519_key();
    let public = key.public_key().as_ref().to_vec();

    let send = || -> Vec<u8> {
        let tbs = ClientRequestTbs::new(device, NOW_MS, body.clone()).expect("tbs");
        let signature = key.sign(&tbs.signed_content().expect("signed content"));
        ClientRequest::new(tbs, signature.as_ref().to_vec())
            .encode()
            .expect("encode")
    };
    let provider_check = |bytes: &[u8]| -> bool {
        let Ok(request) = ClientRequest::decode_for(operation, bytes) else {
            return false;
        };
        let Ok(client) = request.tbs().client_id() else {
            return false;
        };
        let Ok(content) = request.signed_content() else {
            return false;
        };
        black_box(client);
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(&content, request.signature())
            .is_ok()
    };
    let wire = send();
    assert!(provider_check(&wire), "the bench request verifies");
    let content = ClientRequest::decode_for(operation, &wire)
        .expect("decodes")
        .signed_content()
        .expect("signed content");

    let raw = Raw::new(&key, &content);
    let mut rounds = measure(
        config,
        &mut [
            &mut || raw.sign(),
            &mut || raw.verify(),
            &mut || {
                black_box(send());
            },
            &mut || {
                black_box(provider_check(black_box(&wire)));
            },
        ],
    )
    .into_iter();
    let mut next = || rounds.next().expect("one result per case");
    let figures = ClientFigures {
        name,
        raw_sign: next(),
        raw_verify: next(),
        sign: next(),
        verify: next(),
    };
    let content_len = content.len();
    row(
        &format!("{name}: raw Ed25519 sign"),
        content_len,
        figures.raw_sign.timing(),
    );
    row(
        &format!("{name}: raw Ed25519 verify"),
        content_len,
        figures.raw_verify.timing(),
    );
    row(
        &format!("{name}: client builds+signs+encodes"),
        wire.len(),
        figures.sign.timing(),
    );
    row(
        &format!("{name}: provider decodes+verifies"),
        wire.len(),
        figures.verify.timing(),
    );
    figures
}

fn main() {
    let config = Config::from_env();
    println!(
        "S2SMessage and ClientRequest signing vs raw Ed25519 (aws-lc-rs); {} ms per case in {} \
         rounds, the cases of a group interleaved round by round, median round reported; \
         {} CPUs; load average before: {}",
        config.budget.as_millis(),
        config.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_average().as_deref().unwrap_or("unknown"),
    );
    println!("(bytes: message length for raw rows, encoded length for ours)");

    header("S2SMessage, event body 1 KiB and 64 KiB");
    let s2s: Vec<S2sFigures> = [KIB, 64 * KIB]
        .into_iter()
        .map(|len| s2s_case(config, len))
        .collect();

    header(
        "ClientRequest (Ed25519 device key): fetch (12-byte body), upload_key_packages with one \
         1 KiB KeyPackage",
    );
    let user = UserId::new(
        "BFuVxW5BfqaMEfJDc8R7Qw",
        Some(Domain::parse(SENDER).expect("domain")),
    )
    .expect("user");
    let device = DeviceId::new(&user, "072b").expect("device");
    let clients = [
        client_case(config, "fetch", &FetchRequest::new(0, 100).into(), &device),
        client_case(
            config,
            "upload (1 KiB)",
            &UploadKeyPackagesRequest::new(vec![body(KIB)], false).into(),
            &device,
        ),
    ];

    println!();
    println!(
        "Overhead of our framing over the raw Ed25519 operation it wraps (ratio: median over \
         rounds of ours/raw in the same round; extra = (ratio - 1) × raw)"
    );
    println!(
        "{:<50} {:>10} {:>10} {:>10} {:>8}",
        "ours vs raw", "ours µs", "raw µs", "extra µs", "ratio"
    );
    for f in &s2s {
        let size = format!("{} KiB", f.body_len / KIB);
        overhead(&format!("S2S sign {size} / raw sign"), &f.sign, &f.raw_sign);
        overhead(
            &format!("check_incoming {size} / raw verify"),
            &f.check,
            &f.raw_verify,
        );
    }
    for f in &clients {
        overhead(
            &format!("{}: client / raw sign", f.name),
            &f.sign,
            &f.raw_sign,
        );
        overhead(
            &format!("{}: provider / raw verify", f.name),
            &f.verify,
            &f.raw_verify,
        );
    }
    println!();
    println!(
        "load average after: {}",
        load_average().as_deref().unwrap_or("unknown")
    );
}
