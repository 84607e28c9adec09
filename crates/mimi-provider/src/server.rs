//! Starting a provider from its [`Settings`]: keys (created 0600 on first
//! start; signing keys and their records in [`crate::signing_keys`]),
//! storage, TLS, listeners, and the background tasks (replay purge, signing
//! key reload).

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mimi_credentials::Certificate;
use mimi_mls::QueueKeyPair;
use mimi_storage::{PostgresStorage, SqliteStorage, Storage};
use mimi_transport::https::{self, ResolverMap};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api;
use crate::config::{Settings, StorageUrl};
use crate::error::StartError;
use crate::secret_file;
use crate::signing_keys;
use crate::state::{Parts, Provider};

/// The first signing key's file in the data directory (PKCS#8, Ed25519);
/// later keys and the records of all are described in [`crate::signing_keys`].
pub const SIGNING_KEY_FILE: &str = signing_keys::FIRST_KEY_FILE;
/// The queue key's file in the data directory (HPKE private key).
pub const QUEUE_KEY_FILE: &str = "queue-key.bin";

/// How often expired replay records are deleted.
const REPLAY_PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A running provider. Dropping it does not stop it; call [`Running::shutdown`].
#[derive(Debug)]
pub struct Running {
    /// The HTTPS addresses actually bound (port 0 in the config is resolved).
    pub addrs: Vec<SocketAddr>,
    /// The `/metrics` address, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// What the provider printed about itself at start (for the banner).
    pub banner: Vec<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The `Arc<Provider<S>>` behind the listeners, for [`Running::provider`]
    /// (feature `test-utils`); type-erased so that `Running` is one type
    /// whatever the storage back end.
    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    provider: Arc<dyn Any + Send + Sync>,
}

impl Running {
    /// The running provider's state if its storage is `S` (`None` for the
    /// other back end): for tests and benchmarks that assert on storage or
    /// send requests as this provider (`mimi_provider::testing`).
    #[cfg(feature = "test-utils")]
    pub fn provider<S: Storage>(&self) -> Option<Arc<Provider<S>>> {
        self.provider.clone().downcast::<Provider<S>>().ok()
    }

    /// Stops accepting connections and waits for the listeners to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the provider: opens storage, loads or creates its keys, binds every
/// listener, and serves until [`Running::shutdown`].
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let mut listeners = Vec::new();
    for addr in &settings.listen {
        listeners.push(bind(*addr).await?);
    }
    start_on(settings, listeners).await
}

/// [`start`] on listeners already bound (`settings.listen` is then ignored):
/// lets a test bind every provider's port first and give each provider a
/// resolver map of the others.
pub async fn start_on(
    settings: Settings,
    listeners: Vec<TcpListener>,
) -> Result<Running, StartError> {
    match settings.storage.clone() {
        StorageUrl::Sqlite(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| StartError::File {
                    what: "cannot create directory",
                    path: dir.to_path_buf(),
                    detail: e.to_string(),
                })?;
            }
            let storage = SqliteStorage::open(&path).await?;
            start_with(settings, storage, listeners).await
        }
        StorageUrl::Postgres(url) => {
            let storage = PostgresStorage::connect(&url).await?;
            start_with(settings, storage, listeners).await
        }
    }
}

/// Runs until `shutdown` completes.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let running = start(settings).await?;
    for line in &running.banner {
        println!("{line}");
    }
    // Scripts wait for the banner; flush it even when stdout is a pipe.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    shutdown.await;
    running.shutdown().await;
    Ok(())
}

async fn start_with<S: Storage>(
    settings: Settings,
    storage: S,
    listeners: Vec<TcpListener>,
) -> Result<Running, StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| StartError::File {
        what: "cannot create data directory",
        path: settings.data_dir.clone(),
        detail: e.to_string(),
    })?;
    let signing_keys = signing_keys::load_or_create(&settings.data_dir, signing_keys::now_s())?;
    let queue_key = queue_key(&settings.data_dir.join(QUEUE_KEY_FILE))?;
    let tls = https::server_config(
        read_pem_certs(&settings.tls_certificate, "TLS certificate")?,
        read_pem_key(&settings.tls_key)?,
    )
    .map_err(|e| StartError::Tls(e.to_string()))?;
    let mut tls_roots = Vec::new();
    for path in &settings.tls_roots {
        tls_roots.extend(read_pem_certs(path, "TLS root")?);
    }
    let resolve: ResolverMap = settings.resolve.clone();
    let http = https::client(&tls_roots, &resolve).map_err(|e| StartError::Tls(e.to_string()))?;
    let identity_roots = read_identity_roots(&settings.identity_roots)?;
    let registrar = crate::enrollment::Registrar::load(&settings)?;
    let crls = crl_relay(&settings, tls_roots, &resolve, &identity_roots)?;
    let mut banner = vec![
        format!("mimi provider for {}", settings.domain),
        format!(
            "  signing key {} (Ed25519 {})",
            settings
                .data_dir
                .join(signing_keys.signing().file_name())
                .display(),
            hex(signing_keys.signing_public_key())
        ),
        format!(
            "  publishing {} signing key(s), records in {}",
            signing_keys.published().len(),
            settings.data_dir.join(signing_keys::RECORDS_FILE).display()
        ),
        format!("  storage {}", describe(&settings.storage)),
    ];
    if let Some(enrollment) = &settings.enrollment {
        banner.push(format!(
            "  enrolling devices at {} ({:?} registration)",
            enrollment.directory_url, enrollment.registration
        ));
    }
    for url in crls.urls() {
        banner.push(format!("  relaying the CRL of {url}"));
    }
    let provider = Arc::new(Provider::new(Parts {
        storage: Arc::new(storage),
        signing_keys,
        queue_key,
        http,
        identity_roots,
        registrar,
        crls,
        settings,
    }));
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    let app = api::router(provider.clone());
    for listener in listeners {
        let bound = listener
            .local_addr()
            .map_err(|e| StartError::Tls(format!("a listener has no local address: {e}")))?;
        banner.push(format!("  listening on https://{bound}"));
        addrs.push(bound);
        tasks.push(tokio::spawn(https::serve_tls(
            listener,
            tls.clone(),
            app.clone(),
            until_stopped(stopped.clone()),
        )));
    }
    let metrics_addr = match provider.settings.metrics_listen {
        Some(addr) => {
            let listener = bind(addr).await?;
            let bound = listener.local_addr().map_err(|e| StartError::Listen {
                addr,
                detail: e.to_string(),
            })?;
            banner.push(format!("  metrics on http://{bound}/metrics"));
            let router = api::metrics_router(provider.clone());
            let stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(until_stopped(stopped))
                    .await;
                if let Err(e) = served {
                    tracing::warn!(error = %e, "the metrics listener failed");
                }
            }));
            Some(bound)
        }
        None => None,
    };
    tasks.push(tokio::spawn(reload_signing_keys(
        provider.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(crate::ds::outbox::run(
        provider.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(crate::revocation::run(
        provider.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(purge_replays(provider.clone(), stopped)));
    tracing::info!(domain = %provider.settings.domain, ?addrs, "provider started");
    Ok(Running {
        addrs,
        metrics_addr,
        banner,
        stop,
        tasks,
        provider,
    })
}

async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr,
            detail: e.to_string(),
        })
}

/// Deletes expired replay records (the transport's, and the hub's request
/// IDs and joiner trees) every [`REPLAY_PURGE_INTERVAL`] until stopped.
async fn purge_replays<S: Storage>(provider: Arc<Provider<S>>, stopped: watch::Receiver<bool>) {
    let hub_records = async {
        let mut tick = tokio::time::interval(REPLAY_PURGE_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = provider
                .storage
                .purge_expired_group_records(crate::state::now_ms())
                .await
            {
                tracing::warn!(error = %e, "cannot purge the hub's expired records");
            }
            let kept = crate::enrollment::EXPIRED_KEPT.as_millis();
            let before =
                crate::state::now_ms().saturating_sub(u64::try_from(kept).unwrap_or(u64::MAX));
            if let Err(e) = provider.storage.purge_expired_enrollments(before).await {
                tracing::warn!(error = %e, "cannot purge expired invites and enrollments");
            }
        }
    };
    tokio::select! {
        () = mimi_transport::run_replay_purger(&*provider.storage, REPLAY_PURGE_INTERVAL) => {}
        () = hub_records => {}
        () = until_stopped(stopped) => {}
    }
}

/// Re-reads the signing key records every [`signing_keys::RELOAD_INTERVAL`]
/// until stopped, so that a `rotate-key` and the times it set take effect
/// without a restart. A failed reload keeps the keys in use: a running
/// provider must not stop signing because a file went bad; a restart then
/// refuses the records with what to do.
async fn reload_signing_keys<S: Storage>(
    provider: Arc<Provider<S>>,
    stopped: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(signing_keys::RELOAD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate, and the keys were just loaded.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = provider.reload_signing_keys() {
                    tracing::warn!(error = %e, "cannot reload the signing keys; keeping those in use");
                }
            }
            () = until_stopped(stopped.clone()) => return,
        }
    }
}

/// The CRL relay: fetching over HTTPS with the provider's TLS roots and
/// the domain CA's (`[enrollment] tls_roots`), checking against the
/// identity roots and `[revocation] issuers`.
fn crl_relay(
    settings: &Settings,
    mut tls_roots: Vec<CertificateDer<'static>>,
    resolve: &ResolverMap,
    identity_roots: &[Certificate],
) -> Result<crate::revocation::CrlRelay, StartError> {
    if let Some(enrollment) = &settings.enrollment {
        for path in &enrollment.tls_roots {
            tls_roots.extend(read_pem_certs(path, "TLS root")?);
        }
    }
    let http = https::client(&tls_roots, resolve).map_err(|e| StartError::Tls(e.to_string()))?;
    let mut issuers = identity_roots.to_vec();
    issuers.extend(crate::revocation::load_issuers(&settings.revocation)?);
    Ok(crate::revocation::CrlRelay::new(
        &settings.revocation,
        settings.enrollment.as_ref(),
        http,
        issuers,
    ))
}

fn queue_key(path: &Path) -> Result<QueueKeyPair, StartError> {
    let (bytes, _) = secret_file::load_or_create(path, || {
        QueueKeyPair::generate()
            .map_err(|e| StartError::Key(e.to_string()))
            .and_then(|k| k.to_bytes().map_err(|e| StartError::Key(e.to_string())))
            .map(|bytes| bytes.to_vec())
    })?;
    QueueKeyPair::from_bytes(&bytes)
        .map_err(|e| StartError::Key(format!("{}: {e}", path.display())))
}

fn file_error(what: &'static str, path: &Path, detail: impl ToString) -> StartError {
    StartError::File {
        what,
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

fn read_pem_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, StartError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| file_error("cannot read PEM certificates from", path, e))?;
    if certs.is_empty() {
        return Err(file_error(
            "no certificate in",
            path,
            format!("expected a PEM {what}"),
        ));
    }
    Ok(certs)
}

fn read_pem_key(path: &Path) -> Result<PrivateKeyDer<'static>, StartError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| file_error("cannot read a PEM private key from", path, e))
}

fn read_identity_roots(paths: &[std::path::PathBuf]) -> Result<Vec<Certificate>, StartError> {
    let mut roots = Vec::new();
    for path in paths {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| file_error("cannot read identity root", path, e))?;
        let certs = Certificate::from_pem_chain(&pem)
            .map_err(|e| file_error("unusable identity root", path, e))?;
        if certs.is_empty() {
            return Err(file_error(
                "no certificate in",
                path,
                "expected a PEM identity root",
            ));
        }
        roots.extend(certs);
    }
    Ok(roots)
}

fn describe(storage: &StorageUrl) -> String {
    match storage {
        StorageUrl::Sqlite(path) => format!("SQLite {}", path.display()),
        // Never print a password that may be in the URL.
        StorageUrl::Postgres(url) => match url.rsplit_once('@') {
            Some((_, host)) => format!("PostgreSQL …@{host}"),
            None => "PostgreSQL".to_string(),
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
