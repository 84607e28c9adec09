//! A running authority: the ACME server over TLS on loopback, an http-01
//! responder standing in for a provider's web server, a resolver map tying
//! names to them, and an SMS outbox file standing in for the phones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use bytes::Bytes;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use mimi_acme::sms::{Sms, SmsError, SmsGateway};
use mimi_acme::{Issuers, Limits, OutboxGateway, ResolverMap, SqliteStore};
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
    /// The SMS outbox: what the phones received, one JSON line per text.
    pub outbox: PathBuf,
    /// A directory the responder also serves tokens from (file name = token,
    /// content = key authorization), for ACME clients in other processes.
    pub token_dir: PathBuf,
    /// How many of the next SMS sends fail (the gateway is "down").
    pub sms_failures: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The outbox gateway, with a switch that makes sends fail.
struct TestGateway {
    outbox: OutboxGateway,
    failures: Arc<AtomicUsize>,
}

impl SmsGateway for TestGateway {
    fn send<'a>(
        &'a self,
        sms: &'a Sms,
    ) -> Pin<Box<dyn Future<Output = Result<(), SmsError>> + Send + 'a>> {
        let fail = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Box::pin(async {
                Err(SmsError::Unreachable(
                    "the test switched the gateway off".into(),
                ))
            });
        }
        self.outbox.send(sms)
    }
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
        Authority::start_with_store(limits, SqliteStore::in_memory().await.unwrap()).await
    }

    /// An authority over `store` (the benchmark gives it a database file).
    pub async fn start_with_store(limits: Limits, store: SqliteStore) -> Authority {
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

        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("sms-outbox.jsonl");
        let token_dir = dir.path().join("tokens");
        std::fs::create_dir(&token_dir).unwrap();
        let sms_failures = Arc::new(AtomicUsize::new(0));
        let gateway = Arc::new(TestGateway {
            outbox: OutboxGateway::new(&outbox),
            failures: sms_failures.clone(),
        });

        let tokens: Tokens = Arc::default();
        let responder = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let responder_addr = responder.local_addr().unwrap();
        let serve_tokens = Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer_token))
            .with_state((tokens.clone(), token_dir.clone()));
        tokio::spawn(async move { axum::serve(responder, serve_tokens).await.unwrap() });

        let acme = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let acme_addr: SocketAddr = acme.local_addr().unwrap();
        let mut resolve = ResolverMap::new();
        resolve.insert(PROVIDER.to_owned(), responder_addr);
        resolve.insert(PROVIDER_DOMAIN.to_owned(), responder_addr);
        resolve.insert(AUTHORITY.to_owned(), acme_addr);
        let base = format!("https://{AUTHORITY}:{}", acme_addr.port());
        let issuers = Issuers {
            tls_root: copy(&tls_root),
            identity_root: copy(&identity_root),
        };
        let app = mimi_acme::router(
            store.clone(),
            issuers,
            resolve.clone(),
            gateway,
            &base,
            limits,
        )
        .unwrap();
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
            outbox,
            token_dir,
            sms_failures,
            _dir: dir,
            _shutdown: stop,
        }
    }

    /// The texts the phone `number` (`+…`) received, oldest first.
    pub fn texts_to(&self, number: &str) -> Vec<String> {
        OutboxGateway::read(&self.outbox)
            .unwrap()
            .into_iter()
            .filter(|line| line.to == number)
            .map(|line| line.text)
            .collect()
    }

    /// The code in the latest text to `number`, read "as the phone".
    pub fn latest_code(&self, number: &str) -> String {
        let texts = self.texts_to(number);
        let text = texts
            .last()
            .unwrap_or_else(|| panic!("no text was sent to {number}"));
        code_in(text).unwrap_or_else(|| panic!("no six-digit code in {text:?}"))
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

/// The first run of exactly six digits in a text.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

async fn answer_token(
    State((tokens, dir)): State<(Tokens, PathBuf)>,
    Path(token): Path<String>,
) -> Result<String, axum::http::StatusCode> {
    if let Some(answer) = tokens.lock().unwrap().get(&token).cloned() {
        return Ok(answer);
    }
    // Tokens are base64url: nothing in one can leave the directory.
    let safe = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !safe {
        return Err(axum::http::StatusCode::NOT_FOUND);
    }
    std::fs::read_to_string(dir.join(&token)).map_err(|_| axum::http::StatusCode::NOT_FOUND)
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
