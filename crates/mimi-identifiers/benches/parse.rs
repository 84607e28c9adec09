//! Parse and format throughput of each identifier form.
//!
//! Run with `cargo bench -p mimi-identifiers`; figures go to BENCHMARKS.md.
//! A plain harness (no criterion) keeps the dependency tree small: each case
//! runs for about a second after a warm-up and prints the mean time per call.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mimi_identifiers::{Identifier, Protocol, parse};

const INPUTS: &[(&str, &str)] = &[
    ("text user", "BFuVxW5BfqaMEfJDc8R7Qw@example.com"),
    ("text device", "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com"),
    ("text handle", "@alice@example.com"),
    ("im: handle", "im:wxyz=%40alice@example.com"),
    (
        "mimi:// device",
        "mimi://example.com/d/BFuVxW5BfqaMEfJDc8R7Qw/072b",
    ),
    ("xmpp: full JID", "xmpp:juliet@example.com/balcony"),
    ("IDN domain", "mimi://bücher.example/u/alice"),
    ("tel:", "tel:+1-201-555-0123"),
];

/// Runs `f` repeatedly for about `budget`, returning the mean time per call.
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..1_000 {
        f();
    }
    let mut iterations: u64 = 0;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            f();
        }
        iterations += 1_000;
    }
    start.elapsed() / iterations as u32
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
    );
    let wxyz = Protocol::wxyz();
    println!(
        "{:<18} {:>10} {:>20}",
        "case", "parse ns", "format mimi+im ns"
    );
    for (name, input) in INPUTS {
        let id: Identifier = parse(input).expect("bench input is valid").identifier;
        let parse_time = measure(budget, || {
            black_box(parse(black_box(input)).ok());
        });
        let format_time = measure(budget, || {
            black_box(black_box(&id).to_mimi_uri().ok());
            black_box(black_box(&id).to_im_uri(&wxyz).ok());
        });
        let (p, f) = (parse_time.as_nanos(), format_time.as_nanos());
        println!("{name:<18} {p:>10} {f:>20}");
    }
}
