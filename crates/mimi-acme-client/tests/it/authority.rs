//! A real identity authority (mimi-acme's router, SQLite in memory) served
//! over TLS on loopback under the name `acme.authority.example`, and an
//! http-01 responder standing in for the provider's web server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use mimi_acme::{AcmeStore, Issuers, Limits, OutboxGateway, ResolverMap, SqliteStore};
use mimi_acme_client::{AcmeClient, PollPolicy};
use mimi_credentials::{Certificate, CertificateAuthority, SignatureScheme};
use tokio::net::TcpListener;

use crate::tls;

pub const AUTHORITY: &str = "acme.authority.example";
/// The provider's web server name, which http-01 validates.
pub const PROVIDER: &str = "provider.a.example";

/// token → key authorization, what the responder serves.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

pub struct Authority {
    pub directory: String,
    pub acme_addr: std::net::SocketAddr,
    pub tls_root: Certificate,
    pub store: SqliteStore,
    pub tokens: Tokens,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Authority {
    pub async fn start() -> Authority {
        let tls_root = tls::tls_root();
        let identity_root = CertificateAuthority::new_root(
            "Test identity root",
            SignatureScheme::Ed25519,
            tls::validity(),
        )
        .unwrap();
        let server_tls = tls::server_config(&tls_root, AUTHORITY);
        let tls_root_cert = tls_root.certificate().clone();

        let tokens: Tokens = Arc::default();
        let responder = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut resolve = ResolverMap::new();
        resolve.insert(PROVIDER.to_owned(), responder.local_addr().unwrap());
        let serve = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(serve_token))
            .with_state(tokens.clone());
        tokio::spawn(async move { axum::serve(responder, serve).await.unwrap() });

        let acme = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acme_addr = acme.local_addr().unwrap();
        let base = format!("https://{AUTHORITY}:{}", acme_addr.port());
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::in_memory().await.unwrap();
        let app = mimi_acme::router(
            store.clone(),
            Issuers {
                tls_root,
                identity_root,
            },
            resolve,
            Arc::new(OutboxGateway::new(dir.path().join("sms.jsonl"))),
            &base,
            Limits::default(),
        )
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mimi_transport::https::serve_tls(
            acme,
            server_tls,
            app,
            async {
                let _ = stopped.await;
            },
        ));
        Authority {
            directory: format!("{base}/acme/directory"),
            acme_addr,
            tls_root: tls_root_cert,
            store,
            tokens,
            _dir: dir,
            _stop: stop,
        }
    }

    /// A client trusting the authority's TLS root, polling quickly.
    pub async fn client(&self) -> AcmeClient {
        AcmeClient::builder(&self.directory)
            .root(tls::der(&self.tls_root))
            .resolve(AUTHORITY, self.acme_addr)
            .poll_policy(fast_polling())
            .build()
            .await
            .unwrap()
    }

    /// Makes an external account binding key `kid` known (what the
    /// authority's operator does out of band).
    pub async fn store_eab(&self, kid: &str, mac_key: &[u8]) {
        self.store.add_eab_key(kid, mac_key).await.unwrap();
    }

    /// Serves `key_authorization` for `token` over http-01.
    pub fn serve(&self, token: &str, key_authorization: String) {
        self.tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), key_authorization);
    }
}

pub fn fast_polling() -> PollPolicy {
    PollPolicy {
        interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(200),
        max_wait: Duration::from_secs(60),
    }
}

async fn serve_token(
    State(tokens): State<Tokens>,
    Path(token): Path<String>,
) -> Result<String, StatusCode> {
    tokens
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)
}
