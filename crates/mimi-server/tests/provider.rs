//! `mimi-server provider` as an operator runs it: a separate process started
//! from a config file, killed without warning in the middle of a burst of
//! deliveries and started again. Every delivery it answered with success
//! must be in the queue afterwards (issue "Federation", the crash test).
//!
//! The sender is a real provider in this process (`mimi_provider::testing`);
//! the client that owns the queue registers and fetches over the real client
//! API.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mimi_identifiers::Domain;
use mimi_provider::testing::{Backend, TestClient, TestFederation, database_of, drop_database};
use mimi_wire::{DeliverMessageRequest, HpkeCiphertext, RecipientStatus};
use tokio::task::JoinSet;

const SENDER: &str = "a.example";
const PROVIDER: &str = "b.example";
/// Deliveries in the burst, and how many are in flight at once.
const BURST: usize = 600;
const IN_FLIGHT: usize = 8;
/// The process is killed once this many deliveries were answered.
const KILL_AFTER: usize = 150;

/// A provider process, killed when dropped.
struct Process {
    child: Child,
    banner: Vec<String>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mimi-server provider --config <config>` and waits until it prints
/// the address it listens on.
fn start(config: &Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["provider", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mimi-server starts");
    let mut banner = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                let ready = line.contains("listening on");
                banner.push(line);
                if ready {
                    break;
                }
            }
            _ => {
                let status = child.wait();
                panic!("the provider ended before it listened ({status:?}); banner {banner:?}");
            }
        }
    }
    Process { child, banner }
}

fn kill(process: &Mutex<Option<Process>>) {
    // Dropping kills (SIGKILL) and reaps it.
    drop(process.lock().unwrap_or_else(|e| e.into_inner()).take());
}

/// Deliveries of message `i` (its first 8 bytes are `i`) to `sealed`, until
/// the burst is done; returns the indexes answered with `Delivered`.
async fn burst(
    f: Arc<TestFederation>,
    sealed: HpkeCiphertext,
    process: Arc<Mutex<Option<Process>>>,
) -> BTreeSet<u64> {
    let receiver: Domain = PROVIDER.parse().expect("domain");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut tasks = JoinSet::new();
    for i in 0..BURST as u64 {
        if tasks.len() == IN_FLIGHT {
            let _ = tasks.join_next().await;
        }
        let (f, receiver, sealed) = (f.clone(), receiver.clone(), sealed.clone());
        let (acked, process) = (acked.clone(), process.clone());
        tasks.spawn(async move {
            let mut message = i.to_be_bytes().to_vec();
            message.extend_from_slice(&[0x5a; 200]);
            let request = DeliverMessageRequest::new(message, vec![sealed]);
            // Errors (after the kill: refused connections; before: a 429)
            // are deliveries not acknowledged, which is what they mean.
            if let Ok(answer) = f.provider(SENDER).deliver_to(&receiver, request).await {
                assert_eq!(answer.statuses(), [RecipientStatus::Delivered]);
                let mut acked = acked.lock().unwrap_or_else(|e| e.into_inner());
                acked.insert(i);
                if acked.len() == KILL_AFTER {
                    kill(&process);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    acked.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Every message in the client's queue, by index.
async fn stored(client: &TestClient) -> Vec<u64> {
    let mut indexes = Vec::new();
    let mut next = 1;
    loop {
        // The first request after the restart may meet a pooled connection
        // to the killed process; a fresh one follows.
        let mut page = None;
        for _ in 0..5 {
            match client.fetch(next, 1000).await {
                Ok(p) => {
                    page = Some(p);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let page = page.expect("the restarted provider answers fetches");
        let Some(last) = page.messages().last().map(|m| m.seq()) else {
            return indexes;
        };
        for m in page.messages() {
            let bytes: [u8; 8] = m.message()[..8].try_into().expect("8 bytes");
            indexes.push(u64::from_be_bytes(bytes));
        }
        next = last + 1;
    }
}

async fn acknowledged_deliveries_survive_a_kill(backend: Backend) {
    let admin = match &backend {
        Backend::Postgres(url) => Some(url.clone()),
        Backend::Sqlite => None,
    };
    let f = Arc::new(
        TestFederation::builder(&[SENDER], backend)
            .external(PROVIDER)
            .start()
            .await
            .expect("the federation starts"),
    );
    let config = f.external_config(PROVIDER).await.expect("a config file");
    let first = start(&config);
    assert!(first.banner[0].contains(PROVIDER), "{:?}", first.banner);

    let bob = f.client(PROVIDER, "bob", "phone").expect("a client");
    bob.register(None).await.expect("registration");
    let sealed = mimi_mls::seal_queue_id(
        &bob.queue_key().expect("registered"),
        PROVIDER,
        &bob.queue_id().expect("registered"),
    )
    .expect("sealing");

    let process = Arc::new(Mutex::new(Some(first)));
    let acked = burst(f.clone(), sealed, process.clone()).await;
    assert!(
        process.lock().unwrap().is_none(),
        "the burst ended before {KILL_AFTER} deliveries were acknowledged ({} were)",
        acked.len()
    );
    assert!(acked.len() >= KILL_AFTER);
    assert!(
        acked.len() < BURST,
        "every delivery succeeded: the kill came after the burst, not during it"
    );

    let _second = start(&config);
    let stored = stored(&bob).await;
    let stored_set: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(
        stored.len(),
        stored_set.len(),
        "a delivery was stored twice"
    );
    let lost: Vec<_> = acked.difference(&stored_set).collect();
    assert!(
        lost.is_empty(),
        "{} deliveries answered with success are missing after the crash: {lost:?}",
        lost.len()
    );
    eprintln!(
        "burst of {BURST}: {} answered with success before the kill, {} in the queue after the restart",
        acked.len(),
        stored.len()
    );
    // What was stored but not answered was committed just before the kill:
    // it may be there, but nothing else may.
    assert!(stored_set.iter().all(|i| *i < BURST as u64));
    drop(_second);

    f.shutdown().await;
    if let Some(admin) = admin {
        let url = std::fs::read_to_string(&config).expect("config");
        let storage = url
            .lines()
            .find_map(|l| l.strip_prefix("storage = "))
            .expect("a storage line")
            .trim_matches('"')
            .to_string();
        drop_database(&admin, &database_of(&storage)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_deliveries_survive_a_kill() {
    acknowledged_deliveries_survive_a_kill(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_deliveries_survive_a_kill() {
    let backend = Backend::postgres_from_env().unwrap_or_else(|e| panic!("{e}"));
    acknowledged_deliveries_survive_a_kill(backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_0600_once_and_reused() {
    let f = TestFederation::builder(&[SENDER], Backend::Sqlite)
        .external(PROVIDER)
        .start()
        .await
        .expect("the federation starts");
    let config = f.external_config(PROVIDER).await.expect("a config file");
    let data = config.parent().expect("a directory").join("data");
    let first = start(&config);
    let signing_line = first
        .banner
        .iter()
        .find(|l| l.contains("signing key"))
        .cloned()
        .expect("a signing key line");
    #[cfg(unix)]
    for file in [
        mimi_provider::SIGNING_KEY_FILE,
        mimi_provider::QUEUE_KEY_FILE,
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(file))
            .expect("the key file exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let queue_key = std::fs::read(data.join(mimi_provider::QUEUE_KEY_FILE)).expect("queue key");
    drop(first);
    let second = start(&config);
    assert!(second.banner.contains(&signing_line), "{:?}", second.banner);
    assert_eq!(
        std::fs::read(data.join(mimi_provider::QUEUE_KEY_FILE)).expect("queue key"),
        queue_key
    );
    drop(second);

    // A key file others may read is refused, with what to do.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = data.join(mimi_provider::SIGNING_KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let output = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
            .args(["provider", "--config"])
            .arg(&config)
            .output()
            .expect("mimi-server runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("chmod 600"), "{stderr}");
    }
    f.shutdown().await;
}

/// The signing keys `PROVIDER` serves at `/signature_key`, as bytes.
async fn served_keys(f: &TestFederation) -> Vec<u8> {
    // The first request after a restart may meet a pooled connection to the
    // stopped process; a fresh one follows.
    for _ in 0..5 {
        if let Ok(reply) = f.get(PROVIDER, "/signature_key").await {
            return reply.success().expect("200");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the provider does not answer /signature_key");
}

/// `mimi-server provider rotate-key --config <config> --overlap <overlap>`.
fn rotate_key(config: &Path, overlap: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["provider", "rotate-key", "--config"])
        .arg(config)
        .args(["--overlap", overlap])
        .output()
        .expect("mimi-server runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_publishes_the_next_key_and_keeps_it_across_restarts() {
    use mimi_provider::signing_keys::RECORDS_FILE;
    use mimi_transport::SignatureKeys;

    let f = TestFederation::builder(&[SENDER], Backend::Sqlite)
        .external(PROVIDER)
        .start()
        .await
        .expect("the federation starts");
    let config = f.external_config(PROVIDER).await.expect("a config file");
    let data = config.parent().expect("a directory").join("data");

    // Nothing to rotate before the first start.
    let output = rotate_key(&config, "1h");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("start the provider once"), "{stderr}");

    let first = start(&config);
    let signing_line = first
        .banner
        .iter()
        .find(|l| l.contains("signing key"))
        .cloned()
        .expect("a signing key line");
    let one_key = served_keys(&f).await;
    drop(first);

    // A data directory from before the records (only signing-key.p8) is
    // adopted with the validity it was published with.
    std::fs::remove_file(data.join(RECORDS_FILE)).expect("records");
    let adopted = start(&config);
    assert_eq!(served_keys(&f).await, one_key);
    drop(adopted);

    // Offline rotation with an hour's overlap: published now, signing later.
    let output = rotate_key(&config, "1h");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("created signing key 2"), "{stdout}");
    assert!(
        stdout.contains("key 1 (signing-key.p8) stays published until"),
        "{stdout}"
    );

    // A second rotation while key 2 is pending is refused, changing nothing.
    let records = std::fs::read(data.join(RECORDS_FILE)).expect("records");
    let output = rotate_key(&config, "1h");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("signing key 2 (signing-key-2.p8) is already pending"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(data.join(RECORDS_FILE)).expect("records"),
        records
    );
    assert!(!data.join("signing-key-3.p8").exists());

    #[cfg(unix)]
    for file in [
        mimi_provider::SIGNING_KEY_FILE,
        "signing-key-2.p8",
        RECORDS_FILE,
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(file))
            .expect(file)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // Started again: both keys published, key 1 still signs; a restart
    // keeps them.
    let rotated = start(&config);
    assert!(
        rotated.banner.contains(&signing_line),
        "{:?}",
        rotated.banner
    );
    let two_keys = served_keys(&f).await;
    let keys = SignatureKeys::decode(&two_keys).expect("a key list");
    let old = SignatureKeys::decode(&one_key).expect("a key list");
    assert_eq!(keys.keys().len(), 2);
    assert_eq!(keys.keys()[0].public_key(), old.keys()[0].public_key());
    assert!(
        keys.keys()[0].not_after() < old.keys()[0].not_after(),
        "retiring"
    );
    drop(rotated);
    let again = start(&config);
    assert_eq!(served_keys(&f).await, two_keys);
    drop(again);

    // Damaged records are refused at start, with what to do.
    std::fs::write(data.join(RECORDS_FILE), "[[key]]\nid = 1\n").expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["provider", "--config"])
        .arg(&config)
        .output()
        .expect("mimi-server runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("signing key records"), "{stderr}");
    assert!(stderr.contains("are damaged"), "{stderr}");
    assert!(stderr.contains("restore the file"), "{stderr}");
    f.shutdown().await;
}
