//! A small HTTPS server that misbehaves on purpose: oversized answers, a
//! badNonce on every request, an order that never progresses, answers that
//! are not ACME.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mimi_acme_client::{
    Account, AccountKey, AcmeClient, Error, KeyAlg, MAX_CHAIN_LEN, MAX_JSON_LEN, NewAccount,
    PollPolicy, Status,
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::tls;

const NAME: &str = "fake.acme.example";
const TWO_MIB: usize = 2 * 1024 * 1024;

#[derive(Default)]
struct Fake {
    base: OnceLock<String>,
    nonces: AtomicUsize,
    account_posts: AtomicUsize,
    order_reads: AtomicUsize,
}

type St = State<Arc<Fake>>;

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    root: mimi_credentials::Certificate,
    fake: Arc<Fake>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Server {
        let root = tls::tls_root();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("https://{NAME}:{}", addr.port());
        let fake = Arc::new(Fake::default());
        fake.base.set(base.clone()).ok();
        let app = Router::new()
            .route("/dir/{mode}", get(directory))
            .route("/huge", get(huge))
            .route("/huge-stream", get(huge_stream))
            .route("/not-acme", get(not_acme))
            .route("/nonce", get(nonce).head(nonce))
            .route("/new-account/{mode}", post(new_account))
            .route("/new-order/{mode}", post(new_order))
            .route("/order/{mode}", post(order))
            .route("/cert/big", post(big_chain))
            .with_state(fake.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(mimi_transport::https::serve_tls(
            listener,
            tls::server_config(&root, NAME),
            app,
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            base,
            addr,
            root: root.certificate().clone(),
            fake,
            _stop: stop,
        }
    }

    async fn client(&self, path: &str) -> Result<AcmeClient, Error> {
        AcmeClient::builder(&format!("{}{path}", self.base))
            .root(tls::der(&self.root))
            .resolve(NAME, self.addr)
            .poll_policy(PollPolicy {
                interval: Duration::from_millis(10),
                max_interval: Duration::from_millis(10),
                max_wait: Duration::from_secs(60),
            })
            .build()
            .await
    }

    async fn account(&self, mode: &str) -> Account {
        let client = self.client(&format!("/dir/{mode}")).await.unwrap();
        let key = AccountKey::generate(KeyAlg::Es256).unwrap();
        Account::create(&client, key, &NewAccount::default())
            .await
            .unwrap()
            .0
    }
}

impl Fake {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.get().unwrap())
    }

    fn with_nonce(&self, mut response: Response) -> Response {
        let n = self.nonces.fetch_add(1, Ordering::SeqCst);
        response.headers_mut().insert(
            "replay-nonce",
            HeaderValue::from_str(&format!("nonce{n}")).unwrap(),
        );
        response
    }

    fn json(
        &self,
        status: StatusCode,
        body: serde_json::Value,
        location: Option<&str>,
    ) -> Response {
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(location) = location {
            response.headers_mut().insert(
                "location",
                HeaderValue::from_str(&self.url(location)).unwrap(),
            );
        }
        self.with_nonce(response)
    }
}

async fn directory(State(fake): St, Path(mode): Path<String>) -> Response {
    axum::Json(json!({
        "newNonce": fake.url("/nonce"),
        "newAccount": fake.url(&format!("/new-account/{mode}")),
        "newOrder": fake.url(&format!("/new-order/{mode}")),
    }))
    .into_response()
}

async fn huge() -> Vec<u8> {
    vec![b' '; TWO_MIB]
}

/// 2 MiB without a Content-Length: the limit must hold while reading.
async fn huge_stream() -> Body {
    let chunks = (0..32).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
    Body::from_stream(futures_util::stream::iter(chunks))
}

async fn not_acme() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "<html>not here</html>")
}

async fn nonce(State(fake): St) -> Response {
    fake.with_nonce(StatusCode::OK.into_response())
}

async fn new_account(State(fake): St, Path(mode): Path<String>) -> Response {
    fake.account_posts.fetch_add(1, Ordering::SeqCst);
    if mode == "bad-nonce" {
        let mut response = fake.json(
            StatusCode::BAD_REQUEST,
            json!({"type": "urn:ietf:params:acme:error:badNonce", "detail": "no", "status": 400}),
            None,
        );
        response.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/problem+json"),
        );
        return response;
    }
    fake.json(
        StatusCode::CREATED,
        json!({"status": "valid", "contact": []}),
        Some("/acct/1"),
    )
}

fn order_object(fake: &Fake, status: &str, certificate: Option<&str>) -> serde_json::Value {
    let mut order = json!({
        "status": status,
        "identifiers": [{"type": "dns", "value": "a.example"}],
        "authorizations": [],
        "finalize": fake.url("/finalize"),
    });
    if let Some(cert) = certificate {
        order["certificate"] = json!(fake.url(cert));
    }
    order
}

async fn new_order(State(fake): St, Path(mode): Path<String>) -> Response {
    let (status, cert) = match mode.as_str() {
        "big-chain" => ("valid", Some("/cert/big")),
        _ => ("processing", None),
    };
    fake.json(
        StatusCode::CREATED,
        order_object(&fake, status, cert),
        Some(&format!("/order/{mode}")),
    )
}

/// An order that stays processing and asks to be polled in an hour.
async fn order(State(fake): St, Path(_mode): Path<String>) -> Response {
    fake.order_reads.fetch_add(1, Ordering::SeqCst);
    let mut response = fake.json(
        StatusCode::OK,
        order_object(&fake, "processing", None),
        None,
    );
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from_static("3600"));
    response
}

async fn big_chain(State(fake): St, _headers: HeaderMap) -> Response {
    fake.with_nonce(vec![b'A'; TWO_MIB].into_response())
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let server = Server::start().await;
    for path in ["/huge", "/huge-stream"] {
        let err = server.client(path).await.unwrap_err();
        let Error::ResponseTooLarge { url, limit } = &err else {
            panic!("{path}: {err}");
        };
        assert_eq!(url, &format!("{}{path}", server.base));
        assert_eq!(*limit, MAX_JSON_LEN);
    }
}

#[tokio::test]
async fn an_oversized_certificate_chain_is_refused() {
    let server = Server::start().await;
    let account = server.account("big-chain").await;
    let order = account.new_order(&[dns()], None, None).await.unwrap();
    assert_eq!(order.state().status, Status::Valid);
    let err = order.certificate_chain().await.unwrap_err();
    let Error::ResponseTooLarge { limit, .. } = err else {
        panic!("{err}");
    };
    assert_eq!(limit, MAX_CHAIN_LEN);
}

#[tokio::test]
async fn bad_nonce_is_retried_only_once() {
    let server = Server::start().await;
    let client = server.client("/dir/bad-nonce").await.unwrap();
    let key = AccountKey::generate(KeyAlg::Es256).unwrap();
    let err = Account::create(&client, key, &NewAccount::default())
        .await
        .unwrap_err();
    assert!(err.problem().unwrap().is("badNonce"), "{err}");
    assert_eq!(server.fake.account_posts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_allowed_wait_ends_polling_without_sleeping() {
    let server = Server::start().await;
    let account = server.account("slow").await;
    let mut order = account.new_order(&[dns()], None, None).await.unwrap();
    assert_eq!(order.state().status, Status::Processing);
    // The first poll comes after the policy interval; its Retry-After of
    // an hour is beyond the minute allowed, so polling stops there.
    let err = order.poll_valid().await.unwrap_err();
    let Error::PollTimeout { status, wanted, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!((*status, *wanted), (Status::Processing, Status::Valid));
    assert_eq!(server.fake.order_reads.load(Ordering::SeqCst), 1);
    assert!(err.to_string().contains("allow a longer wait"), "{err}");
}

#[tokio::test]
async fn what_is_not_acme_is_refused_with_the_reason() {
    let server = Server::start().await;
    let err = server.client("/not-acme").await.unwrap_err();
    assert!(matches!(err, Error::BadResponse { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("HTTP status 404 without a problem document"),
        "{err}"
    );

    let err = AcmeClient::builder(&format!("http://{NAME}/dir/ok"))
        .root(tls::der(&server.root))
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "\"http://{NAME}/dir/ok\" is not an https URL; ACME is spoken over HTTPS only (RFC 8555 §6.1)"
        )
    );

    let err = AcmeClient::builder(&format!("{}/dir/ok", server.base))
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("no trust roots were given"),
        "{err}"
    );
}

#[tokio::test]
async fn trust_roots_are_read_from_pem() {
    let server = Server::start().await;
    let url = format!("{}/dir/ok", server.base);
    let client = AcmeClient::builder(&url)
        .roots_pem(server.root.pem().as_bytes())
        .resolve(NAME, server.addr)
        .build()
        .await
        .unwrap();
    assert_eq!(
        client.directory().new_nonce,
        format!("{}/nonce", server.base)
    );

    let err = AcmeClient::builder(&url)
        .roots_pem(b"not a certificate")
        .build()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a trust root is not usable: the PEM text holds no CERTIFICATE block; give DER or PEM X.509 CA certificates"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_root_is_refused() {
    let server = Server::start().await;
    // Same subject name as the real root, another key.
    let other = tls::tls_root();
    let err = AcmeClient::builder(&format!("{}/dir/ok", server.base))
        .root(tls::der(other.certificate()))
        .resolve(NAME, server.addr)
        .build()
        .await
        .unwrap_err();
    let Error::Transport { reason, .. } = &err else {
        panic!("{err}");
    };
    assert!(
        reason.ends_with("invalid peer certificate: BadSignature"),
        "{reason}"
    );
}

fn dns() -> mimi_acme_client::Identifier {
    mimi_acme_client::Identifier {
        type_: "dns".to_owned(),
        value: "a.example".to_owned(),
    }
}
