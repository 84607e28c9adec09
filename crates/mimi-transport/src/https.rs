//! Serving and calling HTTPS with rustls.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
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

/// Serves `app` over TLS on `listener` until `shutdown` completes. Each
/// connection runs in its own task, so a slow handshake delays no one else.
/// Every request carries its connection's [`PeerAddr`] as an extension.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
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
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(PeerAddr(peer)));
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
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
