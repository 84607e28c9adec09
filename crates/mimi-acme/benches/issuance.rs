//! Complete ACME issuances per second on loopback: instant-acme (a client
//! nobody here wrote) runs newOrder, http-01, finalize and the certificate
//! download against the authority over HTTPS, with 16 and 64 orders in
//! flight. The authority is the integration tests' harness, with rate
//! limits off and its database in a SQLite file (WAL, as `mimi-server
//! authority` runs it). Run with `cargo bench -p mimi-acme --bench issuance`;
//! figures go to BENCHMARKS.md by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use instant_acme::{Account, ChallengeType, Identifier, NewAccount, NewOrder, RetryPolicy};
use mimi_acme::{Limit, Limits, SqliteStore};

// The tests' harness, not a copy: the authority measured is the one tested.
#[allow(dead_code)]
#[path = "../tests/it/harness.rs"]
mod harness;

use harness::{Authority, PROVIDER};

/// Issuances per concurrency level, after a warm-up; far fewer when run
/// without `--bench` (by `cargo test --all-targets`, in the debug profile),
/// where the run only checks that the benchmark works.
const ISSUANCES: usize = 512;
const WARM_UP: usize = 32;
const SMOKE: usize = 64;

/// Polling every 5 ms, without backoff: the client's sleeps should not be
/// what is measured.
fn retries() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(5))
        .backoff(1.0)
        .timeout(Duration::from_secs(60))
}

/// No rate limit: a zero period never limits.
fn unlimited() -> Limits {
    let off = Limit::new(u32::MAX, Duration::ZERO);
    Limits {
        new_orders_per_account: off,
        new_authorizations_per_identifier: off,
        ..Limits::default()
    }
}

async fn issue_one(authority: &Authority, account: &Account) {
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.unwrap();
        let mut challenge = authz.challenge(ChallengeType::Http01).unwrap();
        let key_authorization = challenge.key_authorization().as_str().to_owned();
        authority
            .tokens
            .lock()
            .unwrap()
            .insert(challenge.token.clone(), key_authorization);
        challenge.set_ready().await.unwrap();
    }
    order.poll_ready(&retries()).await.unwrap();
    order.finalize().await.unwrap();
    order.poll_certificate(&retries()).await.unwrap();
}

/// `total` issuances by `concurrency` workers, each with its own account;
/// returns the wall time they took.
async fn run(authority: &Arc<Authority>, accounts: &[Arc<Account>], total: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = accounts
        .iter()
        .map(|account| {
            let (authority, account, next) = (authority.clone(), account.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    issue_one(&authority, &account).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    start.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench` passes --bench; `cargo test` does not.
    let measure = std::env::args().any(|a| a == "--bench");
    let (warm_up, issuances) = if measure {
        (WARM_UP, ISSUANCES)
    } else {
        (0, SMOKE)
    };
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        println!(
            "ACME issuance over HTTPS on loopback (instant-acme, http-01, tls-server profile, \
             SQLite file in WAL mode, rate limits off, {} worker threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        for concurrency in [16, 64] {
            // A fresh authority and database per level, so that one level's
            // rows do not slow the next.
            let store = SqliteStore::open(&dir.path().join(format!("acme-{concurrency}.db")))
                .await
                .unwrap();
            let authority = Arc::new(Authority::start_with_store(unlimited(), store).await);
            let mut accounts = Vec::new();
            for _ in 0..concurrency {
                let (account, _) = Account::builder_with_http(authority.acme_http())
                    .create(
                        &NewAccount {
                            contact: &[],
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        authority.directory.clone(),
                        None,
                    )
                    .await
                    .unwrap();
                accounts.push(Arc::new(account));
            }
            run(&authority, &accounts, warm_up).await;
            let took = run(&authority, &accounts, issuances).await;
            println!(
                "  {concurrency:>2} orders in flight: {issuances} issuances in {:.2} s = {:.1} issuances/s ({:.1} ms each on average)",
                took.as_secs_f64(),
                issuances as f64 / took.as_secs_f64(),
                took.as_secs_f64() * 1000.0 * concurrency as f64 / issuances as f64,
            );
        }
    });
}
