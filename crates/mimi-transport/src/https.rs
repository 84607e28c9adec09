//! Serving and calling HTTPS with rustls.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{self, GracefulShutdown};
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("the TLS certificate or key is unusable: {0}")]
    BadCredentials(String),
    #[error("a TLS root certificate is unusable: {0}")]
    BadRoot(String),
    #[error("cannot build the HTTPS client: {0}")]
    Client(String),
}

/// The rustls provider: aws-lc-rs, the one crypto stack of the TLS side.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS 1.3-only server configuration for `chain` (leaf first) and `key`.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::BadCredentials(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::BadCredentials(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The remote address of the connection a request came on: [`serve_tls`]
/// puts it in every request's extensions (`axum::Extension<PeerAddr>`), for
/// logging and per-address limits. It identifies a connection, not a peer:
/// a peer's identity is an [`crate::AuthenticatedPeer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Serves `app` over TLS on `listener` until `shutdown` completes, then shuts
/// down gracefully and returns once no connection is left. Each connection
/// runs in its own task, so a slow handshake delays no one else. Every
/// request carries its connection's [`PeerAddr`] as an extension.
///
/// On shutdown: the listener closes (new connections are refused), idle
/// keep-alive connections close, requests in flight finish and their
/// connections close after the answer (HTTP/2 sends GOAWAY first), and
/// upgraded connections (WebSockets) are cut off, without a close frame:
/// their handlers see a failed read or write. Requests still running after
/// [`DRAIN_TIMEOUT`] lose their connections. When this returns, nothing
/// reaches the stopped server any more, not even over a peer's pooled
/// connection: a restarted instance on the same port is the only one
/// answering. Dropping the future instead closes every connection at once.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    let (phase, _) = watch::channel(Phase::Serving);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone().layer(axum::Extension(PeerAddr(peer)));
        tokio::spawn(serve_connection(Connection {
            tcp,
            peer,
            acceptor: acceptor.clone(),
            app,
            graceful: graceful.watcher(),
            phase: phase.subscribe(),
        }));
    }
    drop(listener);
    drain(graceful, phase).await;
}

/// How long a shutdown lets requests in flight finish before it closes
/// their connections.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server is in its shutdown; each connection task watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Serving,
    /// Shutting down: no new requests; upgraded connections are cut off.
    Draining,
    /// [`DRAIN_TIMEOUT`] has passed: every connection closes now.
    Closed,
}

/// Waits, after the listener closed, until every connection task has ended:
/// at most [`DRAIN_TIMEOUT`] for requests in flight, then closes the rest.
async fn drain(graceful: GracefulShutdown, phase: watch::Sender<Phase>) {
    phase.send_replace(Phase::Draining);
    let drained = async {
        // Tells hyper to finish each connection's requests and close it.
        graceful.shutdown().await;
        // Every connection task holds a receiver until it ends.
        phase.closed().await;
    };
    if tokio::time::timeout(DRAIN_TIMEOUT, drained).await.is_err() {
        tracing::warn!(
            timeout = ?DRAIN_TIMEOUT,
            "requests still running at shutdown after the drain timeout; closing their connections"
        );
        phase.send_replace(Phase::Closed);
        phase.closed().await;
    }
}

/// Waits until the server reaches `phase` (or is gone: then stop as well).
async fn reached(phase: &mut watch::Receiver<Phase>, at_least: Phase) {
    let _ = phase.wait_for(|p| *p >= at_least).await;
}

/// One accepted connection and what its task needs.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    graceful: graceful::Watcher,
    phase: watch::Receiver<Phase>,
}

/// Handshakes and serves one connection until it closes, is upgraded and
/// that upgrade ends, or the server shuts down.
async fn serve_connection(conn: Connection) {
    let Connection {
        tcp,
        peer,
        acceptor,
        app,
        graceful,
        mut phase,
    } = conn;
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let tls = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = reached(&mut phase, Phase::Draining) => return,
    };
    let (io, mut abort) = Abortable::new(tls);
    let service = TowerToHyperService::new(app);
    let builder = auto::Builder::new(TokioExecutor::new());
    let http = graceful.watch(builder.serve_connection_with_upgrades(TokioIo::new(io), service));
    tokio::select! {
        served = http => {
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        // Dropping the connection closes it, requests in flight or not.
        () = reached(&mut phase, Phase::Closed) => return,
    }
    // HTTP is over on this connection. If it was upgraded, the upgrade's
    // handler (a WebSocket) owns the stream now: cut it off at shutdown,
    // which hyper's graceful shutdown knows nothing of.
    tokio::select! {
        biased;
        () = abort.released() => {}
        () = reached(&mut phase, Phase::Draining) => abort.abort(),
    }
}

/// A stream that the server can cut off after hyper has handed it to an
/// upgrade: once aborted, every read and write fails, which ends whatever
/// handler holds it.
struct Abortable<IO> {
    inner: IO,
    signal: Arc<AbortSignal>,
    /// Dropped with the stream: tells [`AbortHandle::released`].
    _alive: oneshot::Receiver<()>,
}

/// The server's side of an [`Abortable`].
struct AbortHandle {
    signal: Arc<AbortSignal>,
    alive: oneshot::Sender<()>,
}

#[derive(Default)]
struct AbortSignal {
    aborted: AtomicBool,
    /// The tasks last waiting to read and to write: a split stream may be
    /// read and written from different tasks.
    wakers: Mutex<[Option<Waker>; 2]>,
}

const READ: usize = 0;
const WRITE: usize = 1;

impl<IO> Abortable<IO> {
    fn new(inner: IO) -> (Abortable<IO>, AbortHandle) {
        let signal = Arc::new(AbortSignal::default());
        let (alive, released) = oneshot::channel();
        let stream = Abortable {
            inner,
            signal: signal.clone(),
            _alive: released,
        };
        (stream, AbortHandle { signal, alive })
    }
}

impl AbortHandle {
    /// Waits until the stream is dropped.
    async fn released(&mut self) {
        self.alive.closed().await;
    }

    fn abort(&self) {
        self.signal.aborted.store(true, Ordering::SeqCst);
        for waker in self.signal.lock().iter_mut() {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
    }
}

impl AbortSignal {
    fn lock(&self) -> std::sync::MutexGuard<'_, [Option<Waker>; 2]> {
        // Only wakers are stored: a poisoned lock holds nothing half-done.
        self.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An error once aborted.
    fn check(&self) -> io::Result<()> {
        if self.aborted.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server is shutting down",
            ));
        }
        Ok(())
    }

    /// After the stream returned `Pending` on `side`: wake this task on
    /// abort as well.
    fn wake_on_abort(&self, side: usize, cx: &Context<'_>) -> io::Result<()> {
        let mut wakers = self.lock();
        match &mut wakers[side] {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        drop(wakers);
        // An abort before the registration woke no one: look again.
        self.check()
    }

    /// Polls `op` on the stream unless aborted.
    fn guard<T>(
        &self,
        side: usize,
        cx: &mut Context<'_>,
        op: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        self.check()?;
        match op(cx) {
            Poll::Pending => {
                self.wake_on_abort(side, cx)?;
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Abortable<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.signal
            .guard(READ, cx, |cx| Pin::new(inner).poll_read(cx, buf))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Abortable<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.signal
            .guard(WRITE, cx, |cx| Pin::new(inner).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.signal.guard(WRITE, cx, |cx| {
            Pin::new(inner).poll_write_vectored(cx, bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.signal
            .guard(WRITE, cx, |cx| Pin::new(inner).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.signal
            .guard(WRITE, cx, |cx| Pin::new(inner).poll_shutdown(cx))
    }
}

/// Where to connect for each domain name, instead of asking DNS: lets a
/// federation of servers run on loopback under their own names.
pub type ResolverMap = BTreeMap<String, SocketAddr>;

/// An HTTPS client that trusts only `roots`, speaks only TLS 1.3 and resolves
/// the names in `resolve` to the given addresses.
pub fn client(
    roots: &[CertificateDer<'static>],
    resolve: &ResolverMap,
) -> Result<reqwest::Client, TlsError> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store
            .add(root.clone())
            .map_err(|e| TlsError::BadRoot(e.to_string()))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Client(e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    for (name, addr) in resolve {
        builder = builder.resolve(name, *addr);
    }
    builder.build().map_err(|e| TlsError::Client(e.to_string()))
}
