//! A loopback federation: each provider serves its keys, its DS domain, a
//! `/group_operation` route that calls `receive` and a `/deliver_message`
//! route that calls `receive_unrecorded` and records the event with its
//! enqueue (`QueueStore::deliver`), under `<name>` and `ds.<name>`, with a
//! TLS certificate from one test TLS root.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mimi_credentials::{CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity};
use mimi_identifiers::Domain;
use mimi_storage::{DeliverOutcome, QueueStore, SqliteStorage};
use mimi_transport::https::{self, PeerAddr, ResolverMap};
use mimi_transport::{
    CacheConfig, Config, Discovery, KeyCache, RateLimiter, RateLimits, ServedKeys, SignatureKeys,
    TransportError, key_routes, problem_response, read_body, receive, receive_unrecorded,
};
use mimi_wire::{EventKind, ServerVerificationKey, SigningKey};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

pub fn domain(s: &str) -> Domain {
    Domain::parse(s).unwrap()
}

pub fn new_signing_key() -> SigningKey {
    SigningKey::from_pkcs8(&SigningKey::generate_pkcs8().unwrap()).unwrap()
}

/// The body limit of every provider here: small, so that "too large" is cheap.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// One provider's state, shared with its handler.
pub struct Provider {
    pub name: Domain,
    pub signing_key: SigningKey,
    pub served: ServedKeys,
    pub storage: SqliteStorage,
    pub keys: KeyCache,
    pub discovery: Arc<Discovery>,
    pub config: Config,
    pub limiter: RateLimiter,
    /// How many times `/signature_key` was asked for on this provider.
    pub key_fetches: Arc<AtomicUsize>,
    clock: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

impl Provider {
    pub async fn replay_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM replay_seen")
            .fetch_one(self.storage.pool())
            .await
            .unwrap()
    }

    pub fn key_fetches(&self) -> usize {
        self.key_fetches.load(Ordering::SeqCst)
    }
}

/// The queue every provider here has, for `/deliver_message`.
pub const QUEUE: [u8; 16] = [0x51; 16];

/// An answer: for an error, what its problem document says (checked to be
/// one: `application/problem+json` with type, title, status and detail).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The body of a success, the `detail` of a problem document.
    pub body: String,
    /// The problem type of an error, without `urn:mimi:problem:`.
    pub kind: Option<String>,
    pub retry_after: Option<String>,
}

/// POSTs raw bytes to `path` on b (for tasks that cannot borrow a
/// [`Federation`]).
pub async fn post_to_b(
    client: &reqwest::Client,
    path: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Reply {
    let response = client
        .post(format!("https://ds.b.example{path}"))
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    reply(response).await
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let retry_after = header("retry-after");
    let content_type = header("content-type");
    let text = response.text().await.unwrap();
    if status < 400 {
        return Reply {
            status,
            body: text,
            kind: None,
            retry_after,
        };
    }
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "{status}: {text}"
    );
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(problem["status"], status, "{text}");
    let kind = problem["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("urn:mimi:problem:"))
        .unwrap_or_else(|| panic!("not a urn:mimi:problem: type: {text}"))
        .to_string();
    assert!(
        problem["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{text}"
    );
    Reply {
        status,
        body: problem["detail"].as_str().unwrap().to_string(),
        kind: Some(kind),
        retry_after,
    }
}

pub struct Federation {
    pub a: Arc<Provider>,
    pub b: Arc<Provider>,
    pub client: reqwest::Client,
    /// The shared clock (Unix ms) that senders and receivers use.
    pub clock: Arc<AtomicU64>,
}

impl Federation {
    pub fn now_ms(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, by: Duration) {
        self.clock
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn now_s(&self) -> u64 {
        self.now_ms() / 1000
    }

    /// POSTs raw bytes to b's `/group_operation` with the given Content-Type;
    /// returns the status and the body (of an error: its detail).
    pub async fn post_to_b(&self, content_type: &str, bytes: Vec<u8>) -> (u16, String) {
        let reply = self
            .post_to_b_at("/group_operation", content_type, bytes)
            .await;
        (reply.status, reply.body)
    }

    /// POSTs raw bytes to `path` on b.
    pub async fn post_to_b_at(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
        post_to_b(&self.client, path, content_type, bytes).await
    }
}

/// A key record valid from a minute ago for `lifetime`.
pub fn record(key: &SigningKey, now_s: u64, lifetime_s: u64) -> ServerVerificationKey {
    key.verification_key(now_s - 60, now_s + lifetime_s)
}

async fn handler(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Body,
) -> Result<String, TransportError> {
    let bytes = read_body(&headers, body, p.config.max_message_len).await?;
    let now = p.clock.load(Ordering::SeqCst);
    let authenticated = receive(
        &bytes,
        EventKind::GroupOperation,
        &p.config,
        &p.limiter,
        &p.keys,
        &p.storage,
        now,
    )
    .await?;
    Ok(authenticated.peer().domain().to_string())
}

/// `/deliver_message`: the event's body is a queue ID and a message; the
/// event is recorded in the transaction that enqueues the message.
async fn deliver_handler(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TransportError> {
    let bytes = read_body(&headers, body, p.config.max_message_len).await?;
    let now = p.clock.load(Ordering::SeqCst);
    let unrecorded = receive_unrecorded(
        &bytes,
        EventKind::DeliverMessage,
        &p.config,
        &p.limiter,
        &p.keys,
        now,
    )
    .await?;
    let Some((queue, message)) = unrecorded.envelope().body().split_first_chunk::<16>() else {
        return Ok(problem_response(
            StatusCode::BAD_REQUEST,
            "malformed",
            "the body must be a 16-byte queue ID and a message".into(),
        ));
    };
    let record = unrecorded.replay_record();
    match p
        .storage
        .deliver(Some(record.event_record()), &[(*queue, message)])
        .await?
    {
        DeliverOutcome::Replay => Err(record.replay_error()),
        DeliverOutcome::Done(results) => Ok(format!("{results:?}").into_response()),
    }
}

/// `/peer`: the address `serve_tls` saw the request come from.
async fn peer_handler(axum::Extension(PeerAddr(addr)): axum::Extension<PeerAddr>) -> String {
    addr.ip().to_string()
}

async fn count_key_fetches(
    counter: Arc<AtomicUsize>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    if request.uri().path() == "/signature_key" {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    next.run(request).await
}

/// Starts a.example and b.example. `c.example` resolves to a closed port, so
/// its keys can never be fetched.
pub async fn federation() -> Federation {
    federation_with(RateLimits::default()).await
}

/// [`federation`] with the given receive rate limits on every provider.
pub async fn federation_with(limits: RateLimits) -> Federation {
    let validity = Validity::starting_now(Duration::from_secs(86400));
    let root = CertificateAuthority::new_tls_root(
        "transport test TLS root",
        SignatureScheme::EcdsaP256Sha256,
        validity,
    )
    .unwrap();
    let roots = vec![CertificateDer::from(root.certificate().der().to_vec())];

    let names = ["a.example", "b.example"];
    let mut listeners = Vec::new();
    let mut resolver = ResolverMap::new();
    for name in names {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        resolver.insert(name.to_string(), addr);
        resolver.insert(format!("ds.{name}"), addr);
        listeners.push(listener);
    }
    let closed: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    resolver.insert("c.example".into(), closed);
    resolver.insert("ds.c.example".into(), closed);
    let client = https::client(&roots, &resolver).unwrap();

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let clock = Arc::new(AtomicU64::new(now_ms));

    let mut providers = Vec::new();
    for (name, listener) in names.into_iter().zip(listeners) {
        let me = domain(name);
        let ds = domain(&format!("ds.{name}"));
        let tls_key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
        let cert = root
            .issue(
                &Subject::TlsServer {
                    dns_names: vec![me.clone(), ds.clone()],
                },
                &tls_key.public_key(),
                validity,
            )
            .unwrap();
        let tls = https::server_config(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls_key.to_pkcs8_der())),
        )
        .unwrap();

        let signing_key = new_signing_key();
        let served = ServedKeys::new(
            ds,
            SignatureKeys::new(vec![record(&signing_key, now_ms / 1000, 3600)]).unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("provider.db"))
            .await
            .unwrap();
        storage.create_queue(QUEUE).await.unwrap();
        let discovery = Arc::new(Discovery::new(client.clone(), CacheConfig::default()));
        let keys = KeyCache::new(client.clone(), discovery.clone(), CacheConfig::default());
        let mut config = Config::new(me.clone());
        config.max_message_len = MAX_MESSAGE_LEN;
        let key_fetches = Arc::new(AtomicUsize::new(0));
        let provider = Arc::new(Provider {
            name: me,
            signing_key,
            served: served.clone(),
            storage,
            keys,
            discovery,
            config,
            limiter: RateLimiter::new(limits.clone()),
            key_fetches: key_fetches.clone(),
            clock: clock.clone(),
            _dir: dir,
        });
        let app = key_routes(served)
            .merge(
                Router::new()
                    .route("/group_operation", post(handler))
                    .route("/deliver_message", post(deliver_handler))
                    .route("/peer", get(peer_handler))
                    .with_state(provider.clone()),
            )
            .layer(axum::middleware::from_fn(move |req, next| {
                count_key_fetches(key_fetches.clone(), req, next)
            }));
        tokio::spawn(https::serve_tls(listener, tls, app, std::future::pending()));
        providers.push(provider);
    }
    let b = providers.pop().unwrap();
    let a = providers.pop().unwrap();
    Federation {
        a,
        b,
        client,
        clock,
    }
}
