//! A running authority: the ACME server over TLS on loopback, an http-01
//! responder standing in for a provider's web server, and a resolver map
//! tying names to them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use mimi_acme::{Issuers, Limits, ResolverMap, SqliteStore};
use mimi_credentials::{
    Certificate, CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity,
};
use mimi_identifiers::Domain;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

pub const AUTHORITY: &str = "acme.authority.example";
/// A provider's web server name (TLS certificates) and its domain (domain CA).
pub const PROVIDER: &str = "provider.a.example";
pub const PROVIDER_DOMAIN: &str = "a.example";

/// Tokens the http-01 responder serves: token → key authorization.
pub type Tokens = Arc<Mutex<HashMap<String, String>>>;

pub struct Authority {
    /// `https://host:port`, what every ACME URL of the authority starts with.
    pub base: String,
    pub directory: String,
    pub tls_root: Certificate,
    pub identity_root: CertificateAuthority,
    pub tokens: Tokens,
    pub resolve: ResolverMap,
    pub store: SqliteStore,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn copy(ca: &CertificateAuthority) -> CertificateAuthority {
    let key = KeyPair::from_pkcs8_der(&ca.key().to_pkcs8_der(), ca.key().scheme()).unwrap();
    CertificateAuthority::from_parts(ca.certificate().clone(), key).unwrap()
}

impl Authority {
    /// An authority with the default rate limits.
    pub async fn start() -> Authority {
        Authority::start_with(Limits::default()).await
    }

    pub async fn start_with(limits: Limits) -> Authority {
        let now = SystemTime::now();
        let validity = Validity::new(
            now - Duration::from_secs(3600),
            now + Duration::from_secs(365 * 86400),
        )
        .unwrap();
        let tls_root = CertificateAuthority::new_tls_root(
            "Test TLS root",
            SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .unwrap();
        let identity_root = CertificateAuthority::new_root(
            "Test identity root",
            SignatureScheme::Ed25519,
            validity,
        )
        .unwrap();

        // The authority's own HTTPS certificate, from its TLS root.
        let server_key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
        let server_cert = tls_root
            .issue(
                &Subject::TlsServer {
                    dns_names: vec![Domain::parse(AUTHORITY).unwrap()],
                },
                &server_key.public_key(),
                validity,
            )
            .unwrap();
        let tls = mimi_transport::https::server_config(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.to_pkcs8_der())),
        )
        .unwrap();

        let tokens: Tokens = Arc::default();
        let responder = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let responder_addr = responder.local_addr().unwrap();
        let serve_tokens = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer_token))
            .with_state(tokens.clone());
        tokio::spawn(async move { axum::serve(responder, serve_tokens).await.unwrap() });

        let acme = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acme_addr: SocketAddr = acme.local_addr().unwrap();
        let mut resolve = ResolverMap::new();
        resolve.insert(PROVIDER.to_owned(), responder_addr);
        resolve.insert(PROVIDER_DOMAIN.to_owned(), responder_addr);
        resolve.insert(AUTHORITY.to_owned(), acme_addr);
        let base = format!("https://{AUTHORITY}:{}", acme_addr.port());
        let store = SqliteStore::in_memory().await.unwrap();
        let issuers = Issuers {
            tls_root: copy(&tls_root),
            identity_root: copy(&identity_root),
        };
        let app =
            mimi_acme::router(store.clone(), issuers, resolve.clone(), &base, limits).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mimi_transport::https::serve_tls(acme, tls, app, async {
            let _ = stopped.await;
        }));
        Authority {
            directory: format!("{base}/acme/directory"),
            base,
            tls_root: tls_root.certificate().clone(),
            identity_root,
            tokens,
            resolve,
            store,
            _shutdown: stop,
        }
    }

    /// An HTTPS client that trusts the TLS root and knows the names.
    pub fn https(&self) -> reqwest::Client {
        mimi_transport::https::client(
            &[CertificateDer::from(self.tls_root.der().to_vec())],
            &self.resolve,
        )
        .unwrap()
    }

    /// instant-acme's HTTP client: ours, so that it trusts the test TLS root
    /// and resolves the test names.
    pub fn acme_http(&self) -> Box<dyn HttpClient> {
        Box::new(ReqwestForAcme(self.https()))
    }
}

async fn answer_token(
    State(tokens): State<Tokens>,
    Path(token): Path<String>,
) -> Result<String, axum::http::StatusCode> {
    tokens
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .ok_or(axum::http::StatusCode::NOT_FOUND)
}

struct ReqwestForAcme(reqwest::Client);

impl HttpClient for ReqwestForAcme {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let req = http::Request::from_parts(parts, reqwest::Body::wrap(body));
            let req = reqwest::Request::try_from(req)
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let rsp = client
                .execute(req)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(http::Response::from(rsp)))
        })
    }
}
