//! `serve_tls` shutting down: once it has returned, nothing reaches the
//! stopped server, not over a kept-alive connection nor over an upgraded
//! one; a request in flight when the shutdown starts still gets its answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use hyper_util::rt::TokioIo;
use mimi_credentials::{CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity};
use mimi_identifiers::Domain;
use mimi_transport::https::{self, ResolverMap};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;

const NAME: &str = "server.example";

/// A guard against a hanging test, not a timing assertion.
const WAIT: Duration = Duration::from_secs(30);

/// A server on loopback: its address, the task running `serve_tls`, and
/// the trigger of its shutdown.
struct Server {
    addr: SocketAddr,
    serving: JoinHandle<()>,
    stop: oneshot::Sender<()>,
    root: CertificateDer<'static>,
}

impl Server {
    async fn start(app: Router) -> Server {
        let validity = Validity::starting_now(Duration::from_secs(3600));
        let ca = CertificateAuthority::new_tls_root(
            "shutdown test TLS root",
            SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .unwrap();
        let key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
        let cert = ca
            .issue(
                &Subject::TlsServer {
                    dns_names: vec![Domain::parse(NAME).unwrap()],
                },
                &key.public_key(),
                validity,
            )
            .unwrap();
        let tls = https::server_config(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8_der())),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(https::serve_tls(listener, tls, app, async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            serving,
            stop,
            root: CertificateDer::from(ca.certificate().der().to_vec()),
        }
    }

    /// The HTTPS client of `mimi_transport` (HTTP/1.1, pooled), resolving
    /// the server.
    fn client(&self) -> reqwest::Client {
        let resolve = ResolverMap::from([(NAME.to_string(), self.addr)]);
        https::client(std::slice::from_ref(&self.root), &resolve).unwrap()
    }

    /// A pooling HTTPS client that asks for HTTP/2 by ALPN.
    fn http2_client(&self) -> reqwest::Client {
        let mut config = self.tls_config();
        config.alpn_protocols = vec![b"h2".to_vec()];
        reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .resolve(NAME, self.addr)
            .build()
            .unwrap()
    }

    fn tls_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.clone()).unwrap();
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
    }

    /// A TLS connection without ALPN: HTTP/1.1, written by hand.
    async fn connect(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(self.tls_config()))
            .connect(ServerName::try_from(NAME).unwrap(), tcp)
            .await
            .unwrap()
    }

    /// Starts the shutdown without waiting for it.
    fn begin_shutdown(self) -> JoinHandle<()> {
        self.stop.send(()).unwrap();
        self.serving
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

/// One HTTP/1.1 answer: its head (lower-cased) and body, read as far as its
/// `Content-Length`, leaving the connection open.
async fn read_answer(stream: &mut (impl AsyncRead + Unpin)) -> (String, Vec<u8>) {
    let mut bytes = Vec::new();
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed inside an answer's head");
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = bytes[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed inside an answer's body");
        body.extend_from_slice(&chunk[..n]);
    }
    (head, body)
}

/// Everything the server still sends on `stream` until it closes; a reset
/// counts as closed.
async fn rest_of(mut stream: TlsStream<TcpStream>) -> Vec<u8> {
    let mut rest = Vec::new();
    let _ = within("the connection to close", stream.read_to_end(&mut rest)).await;
    rest
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {NAME}\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_does_not_reach_a_stopped_server() {
    let app = Router::new().route("/hello", get(|| async { "hello" }));
    let server = Server::start(app).await;
    let addr = server.addr;
    let url = format!("https://{NAME}/hello");
    // Pooled connections of HTTP/1.1 and HTTP/2 clients, and a kept-alive
    // HTTP/1.1 connection written by hand, all used once.
    let clients = [
        (server.client(), reqwest::Version::HTTP_11),
        (server.http2_client(), reqwest::Version::HTTP_2),
    ];
    for (client, version) in &clients {
        let first = client.get(&url).send().await.unwrap();
        assert_eq!(first.version(), *version);
        assert_eq!(first.text().await.unwrap(), "hello");
    }
    let mut kept = server.connect().await;
    kept.write_all(get_request("/hello").as_bytes())
        .await
        .unwrap();
    let (head, body) = read_answer(&mut kept).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    assert_eq!(body, b"hello");

    within("serve_tls to return", server.begin_shutdown())
        .await
        .unwrap();

    // The same connection: the server closed it; nothing answers.
    let _ = kept.write_all(get_request("/hello").as_bytes()).await;
    let rest = rest_of(kept).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // The pooled clients reach nothing either, and new connections are
    // refused.
    for (client, _) in &clients {
        let again = client.get(&url).send().await;
        assert!(again.is_err(), "{again:?}");
    }
    let refused = TcpStream::connect(addr).await;
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_at_shutdown_complete() {
    // `/slow` tells the test it has started, then waits for its permit.
    let (started, mut started_rx) = mpsc::unbounded_channel::<()>();
    let permits = Arc::new(Semaphore::new(0));
    let handler_permits = permits.clone();
    let app = Router::new().route(
        "/slow",
        get(move || {
            let (started, permits) = (started.clone(), handler_permits.clone());
            async move {
                let _ = started.send(());
                permits.acquire().await.unwrap().forget();
                "done"
            }
        }),
    );
    let server = Server::start(app).await;
    let client = server.http2_client();
    let over_http2 = tokio::spawn(async move {
        let response = client
            .get(format!("https://{NAME}/slow"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        (response.status(), response.text().await.unwrap())
    });
    let mut over_http1 = server.connect().await;
    over_http1
        .write_all(get_request("/slow").as_bytes())
        .await
        .unwrap();
    for _ in 0..2 {
        within("a request to start", started_rx.recv())
            .await
            .unwrap();
    }

    let stopping = server.begin_shutdown();
    // Both requests hold the server until they are answered.
    permits.add_permits(2);
    let (status, text) = within("the HTTP/2 answer", over_http2).await.unwrap();
    assert_eq!((status, text.as_str()), (StatusCode::OK, "done"));
    let (head, body) = within("the HTTP/1.1 answer", read_answer(&mut over_http1)).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"done");
    // The connection ends with the answer: keep-alive is over.
    assert!(rest_of(over_http1).await.is_empty());
    within("serve_tls to return", stopping).await.unwrap();
}

/// `/echo`: upgrades to a protocol that echoes bytes (a stand-in for a
/// WebSocket, which hyper hands over the same way).
async fn echo(mut request: Request) -> Response {
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 256];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if io.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "echo")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_is_cut_off_at_shutdown() {
    let server = Server::start(Router::new().route("/echo", get(echo))).await;
    let mut upgraded = server.connect().await;
    upgraded
        .write_all(
            format!(
                "GET /echo HTTP/1.1\r\nHost: {NAME}\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (head, _) = read_answer(&mut upgraded).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    upgraded.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    within("the echo", upgraded.read_exact(&mut echoed))
        .await
        .unwrap();
    assert_eq!(&echoed, b"ping");

    within("serve_tls to return", server.begin_shutdown())
        .await
        .unwrap();

    // The upgrade's handler lost its stream: nothing is echoed any more.
    let _ = upgraded.write_all(b"pong").await;
    let rest = rest_of(upgraded).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_after_the_drain_timeout_loses_its_connection() {
    let (started, mut started_rx) = mpsc::unbounded_channel::<()>();
    let app = Router::new().route(
        "/forever",
        get(move || {
            let started = started.clone();
            async move {
                let _ = started.send(());
                std::future::pending::<()>().await;
            }
        }),
    );
    let server = Server::start(app).await;
    let mut stuck = server.connect().await;
    stuck
        .write_all(get_request("/forever").as_bytes())
        .await
        .unwrap();
    within("the request to start", started_rx.recv())
        .await
        .unwrap();

    // Returns once the drain timeout has passed (the guard is longer).
    assert!(https::DRAIN_TIMEOUT < WAIT);
    within("serve_tls to return", server.begin_shutdown())
        .await
        .unwrap();
    let rest = rest_of(stuck).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}
