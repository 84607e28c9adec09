//! The test kit (feature `test-utils`): real providers on loopback, for this
//! crate's tests, `mimi-server`'s and the benchmarks. Never enable it in a
//! product.
//!
//! - [`TestPki`]: one identity root, a name-constrained domain CA per domain
//!   (draft-mahy-mimi-identity, "Centralized credential hierarchy"), a
//!   separate TLS root with one HTTPS certificate per provider, fresh CRLs,
//!   and the PEM files a provider's config names.
//! - [`TestFederation`]: one provider per domain, each started from a real
//!   [`ProviderConfig`] on a loopback port bound first (so that every
//!   provider's resolver map names all the others), on SQLite or on a fresh
//!   PostgreSQL database each ([`Backend`]). [`TestProvider`] gives its
//!   address, metrics, data directory, storage counts for assertions, and
//!   sends as that provider (`claim_key_packages`, `deliver_to`, signed
//!   events).
//! - Scale-out ([`FederationBuilder::replicas`], PostgreSQL only): several
//!   instances of one domain's provider, each on its own loopback port with
//!   its own data directory holding copies of the first instance's key
//!   files, all on one database: what several processes behind a load
//!   balancer are. [`TestFederation::provider`] and every resolver map name
//!   the first instance (the load balancer's address); a test reaches a
//!   given instance through [`TestFederation::replica`]: its
//!   [`TestProvider::post_raw`] and [`TestProvider::get`], and
//!   [`TestClient::through`] for a client's requests and WebSocket.
//! - [`TestClient`]: a device of a user at a provider, with a device
//!   certificate from its domain CA, speaking the signed client API
//!   (docs/wire-spec.md §13): register, fetch, ack, KeyPackages built by
//!   OpenMLS with the device key and the provider's queue key, and the
//!   WebSocket push ([`Listener`]). [`TestClient::post`] sends hand-made
//!   bytes.
//! - The hub (docs/wire-spec.md §14): [`TestClient::member`] makes the
//!   device a real OpenMLS member (its chain, its device key as leaf key, a
//!   fresh reference to its queue); [`TestClient::ds_request`] signs an
//!   operation from the member's leaf, [`TestClient::group_operation`],
//!   [`TestClient::welcome_information`] and
//!   [`TestClient::external_commit_information`] go through the client
//!   API's `hub` operation, and [`TestClient::fanout`] reads the
//!   `FanoutMessage`s in the queue. [`TestProvider::hub_group`],
//!   [`TestProvider::outbox_drained`] and the `hub_*` [`RowCounts`] show
//!   what the hub stored.
//!
//! ```no_run
//! use mimi_provider::testing::{Backend, TestFederation};
//!
//! # async fn demo() -> Result<(), mimi_provider::testing::TestError> {
//! let fed = TestFederation::start(&["a.example", "b.example"], Backend::Sqlite).await?;
//! let bob = fed.client("b.example", "bob", "phone")?;
//! bob.register(Some("@bob")).await?;
//! bob.upload_key_packages(3, false).await?;
//! let claimed = fed
//!     .provider("a.example")
//!     .claim_key_packages(bob.user_id(), 1)
//!     .await?;
//! assert_eq!(claimed.key_packages().len(), 1);
//! fed.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use mimi_credentials::RevokedSerial;
use mimi_credentials::{
    Certificate, CertificateAuthority, Crl, KeyPair, PublicKey, SignatureScheme, Subject,
    TrustAnchors, Validity,
};
use mimi_identifiers::{DeviceId, Domain, Handle, UserId};
use mimi_mls::test_utils::{KeyPackageParams, TestKeyPackage, TestMember, TestSigner, key_package};
use mimi_storage::{
    ClientRecord, ClientStore, GroupStore, KeyPackageStore, OutboxStore, PostgresStorage, QueueId,
    QueueStore, SqliteStorage, StoredGroup,
};
use mimi_transport::https::{self, ResolverMap};
use mimi_transport::{OCTET_STREAM, PROBLEM_JSON, PROBLEM_TYPE_PREFIX};
use mimi_wire::client_api::{HubEndpoint, HubRequest};
use mimi_wire::ds::{
    DSOperation, DSRequest, DSRequestBody, DSResponse, ExternalCommitInfoRequest, FanoutMessage,
    WelcomeInfoRequest,
};
use mimi_wire::{
    AckRequest, AckResponse, ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs,
    DeliverMessageRequest, DeliverMessageResponse, EventKind, FetchRequest, FetchResponse,
    GroupKeyPackageResponse, HpkeCiphertext, KeyPackageCountRequest, KeyPackageCountResponse,
    LISTEN_HEADER, ListenRequest, QueueEncryptionKey, QueueReference, RegisterRequest,
    RegisterResponse, UploadKeyPackagesRequest, UploadKeyPackagesResponse, WireError,
};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::config::{ProviderConfig, Settings};
use crate::outbound::{SendError, SignedEvent};
use crate::server::{QUEUE_KEY_FILE, Running, SIGNING_KEY_FILE, start_on};
use crate::state::Provider;

/// The environment variable naming the PostgreSQL server of the tests
/// (`scripts/test` starts one and sets it).
pub const POSTGRES_URL_VAR: &str = "MIMI_TEST_POSTGRES_URL";

/// How long certificates of a [`TestPki`] are valid (from a minute ago).
const CERT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);
/// How often the kit polls a queue or an outbox while waiting.
const POLL: Duration = Duration::from_millis(50);

// --- Errors and answers ------------------------------------------------------

/// Why a test-kit operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// Building the PKI, files, databases or providers failed.
    #[error("test setup failed: {0}")]
    Setup(String),
    /// The provider answered with an error status; the [`Reply`] holds it.
    #[error("refused: {0}")]
    Refused(Reply),
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// A 200 answer whose body is not what the operation returns.
    #[error("unexpected answer: {0}")]
    BadAnswer(String),
    /// A request or answer that does not encode or decode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Sending as a provider failed (`outbound`).
    #[error(transparent)]
    Send(#[from] SendError),
    /// A storage query for an assertion failed.
    #[error("storage query failed: {0}")]
    Storage(String),
}

impl TestError {
    /// The refusal's answer, if this is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            TestError::Refused(reply) => Some(reply),
            _ => None,
        }
    }
}

fn setup<E: fmt::Display>(what: &str) -> impl Fn(E) -> TestError + '_ {
    move |e| TestError::Setup(format!("{what}: {e}"))
}

/// An HTTP answer as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// An RFC 9457 problem document (docs/wire-spec.md §10), checked to have
/// `type` `urn:mimi:problem:<kind>`, a title, `status` equal to the HTTP
/// status, and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: u16,
    /// The `<kind>` of `urn:mimi:problem:<kind>`.
    pub kind: String,
    pub title: String,
    pub detail: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Result<Reply, TestError> {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = response.status().as_u16();
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let body = response
            .bytes()
            .await
            .map_err(|e| TestError::Http(format!("reading the answer: {e}")))?
            .to_vec();
        Ok(Reply {
            status,
            content_type,
            retry_after,
            body,
        })
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body of a 2xx answer, or [`TestError::Refused`].
    pub fn success(self) -> Result<Vec<u8>, TestError> {
        if self.is_success() {
            Ok(self.body)
        } else {
            Err(TestError::Refused(self))
        }
    }

    /// The problem document of an error answer, checked for the shape of
    /// docs/wire-spec.md §10; an error if this is not one.
    pub fn problem(&self) -> Result<Problem, TestError> {
        let bad = |why: &str| {
            TestError::BadAnswer(format!(
                "{why}: {} {:?} {}",
                self.status,
                self.content_type,
                String::from_utf8_lossy(&self.body)
            ))
        };
        if self.content_type.as_deref() != Some(PROBLEM_JSON) {
            return Err(bad("not an application/problem+json answer"));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&self.body).map_err(|_| bad("not JSON"))?;
        let text = |name: &str| doc.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let kind = text("type")
            .and_then(|t| t.strip_prefix(PROBLEM_TYPE_PREFIX).map(str::to_string))
            .ok_or_else(|| bad("no urn:mimi:problem: type"))?;
        let title = text("title")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no title"))?;
        let detail = text("detail")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("no detail"))?;
        if doc.get("status").and_then(|s| s.as_u64()) != Some(u64::from(self.status)) {
            return Err(bad("its status is not the HTTP status"));
        }
        Ok(Problem {
            status: self.status,
            kind,
            title,
            detail,
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem() {
            Ok(p) => write!(f, "{} {}: {}", p.status, p.kind, p.detail),
            Err(_) => write!(
                f,
                "{} {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(512)])
            ),
        }
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `domain` as a [`Domain`], or a setup error naming it.
pub fn domain(name: &str) -> Result<Domain, TestError> {
    Domain::parse(name).map_err(|e| TestError::Setup(format!("{name:?} is not a domain: {e}")))
}

fn random_hex(bytes: usize) -> Result<String, TestError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| TestError::Setup("no randomness".into()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// PEM armour for `der` (RFC 7468): base64 in 64-character lines.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn write_file(path: &Path, contents: &str) -> Result<(), TestError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(setup("creating a directory"))?;
    }
    std::fs::write(path, contents).map_err(|e| TestError::Setup(format!("{}: {e}", path.display())))
}

/// `@alice` (or `@alice@a.example`) as a [`Handle`].
pub fn parse_handle(text: &str) -> Result<Handle, TestError> {
    match mimi_identifiers::parse(text).map(|p| p.identifier) {
        Ok(mimi_identifiers::Identifier::Handle(handle)) => Ok(handle),
        _ => Err(TestError::Setup(format!("{text:?} is not a handle"))),
    }
}

/// The queue reference in the leaf of a claimed KeyPackage, read as a hub
/// reads it: the KeyPackage validated with OpenMLS, then the leaf's
/// `mimi_queue_reference` extension (`mimi_mls::leaf_queue_reference`). A hub
/// sends `/deliver_message` to its `provider_domain()` with its
/// `encrypted_queue_id()` among the recipients.
pub fn leaf_queue_reference(key_package: &[u8]) -> Result<QueueReference, TestError> {
    let policy = mimi_mls::KeyPackagePolicy::default();
    let validated = mimi_mls::validate_key_package(key_package, &policy, now_ms() / 1000)
        .map_err(|e| TestError::BadAnswer(format!("a claimed KeyPackage is invalid: {e}")))?;
    mimi_mls::leaf_queue_reference(validated.key_package().leaf_node())
        .map_err(|e| TestError::BadAnswer(format!("its queue-reference extension: {e}")))?
        .ok_or_else(|| TestError::BadAnswer("a claimed KeyPackage has no queue reference".into()))
}

/// The encrypted queue ID of [`leaf_queue_reference`], for tests that already
/// know which provider to deliver to.
pub fn leaf_queue_id(key_package: &[u8]) -> Result<HpkeCiphertext, TestError> {
    leaf_queue_reference(key_package).map(|r| r.into_parts().1)
}

// --- PKI ---------------------------------------------------------------------

/// A test PKI: an identity root (Ed25519), a domain CA per domain issued by
/// it and name-constrained to that domain, and a separate TLS root (ECDSA
/// P-256) with an HTTPS server certificate per domain. The two PKIs never
/// mix, as in production (ARCHITECTURE.md, "Trust model").
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
    identity_root: CertificateAuthority,
    tls_root: CertificateAuthority,
    domain_cas: BTreeMap<String, CertificateAuthority>,
    /// TLS server certificate and key per domain.
    tls_servers: BTreeMap<String, (Certificate, KeyPair)>,
}

/// The PEM files of one provider's config, written by
/// [`TestPki::provider_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFiles {
    /// The HTTPS certificate (one certificate: the TLS root signs it directly).
    pub tls_certificate: PathBuf,
    /// Its PKCS#8 private key.
    pub tls_key: PathBuf,
    /// The TLS root (for `tls_roots`).
    pub tls_root: PathBuf,
    /// The identity root (for `identity_roots`).
    pub identity_root: PathBuf,
}

impl TestPki {
    /// A PKI for `domains`, in a fresh temporary directory.
    pub fn new(domains: &[&str]) -> Result<TestPki, TestError> {
        let validity = validity();
        let identity_root = CertificateAuthority::new_root(
            "MIMI test identity root",
            SignatureScheme::Ed25519,
            validity,
        )
        .map_err(setup("identity root"))?;
        let tls_root = CertificateAuthority::new_tls_root(
            "MIMI test TLS root",
            SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .map_err(setup("TLS root"))?;
        let mut domain_cas = BTreeMap::new();
        let mut tls_servers = BTreeMap::new();
        for name in domains {
            let d = domain(name)?;
            let ca = identity_root
                .issue_ca(
                    &Subject::DomainCa {
                        domain: d.clone(),
                        organization: Some(format!("{name} test messaging")),
                    },
                    SignatureScheme::Ed25519,
                    validity,
                )
                .map_err(setup("domain CA"))?;
            domain_cas.insert(name.to_string(), ca);
            let key =
                KeyPair::generate(SignatureScheme::EcdsaP256Sha256).map_err(setup("TLS key"))?;
            let cert = tls_root
                .issue(
                    &Subject::TlsServer { dns_names: vec![d] },
                    &key.public_key(),
                    validity,
                )
                .map_err(setup("TLS server certificate"))?;
            tls_servers.insert(name.to_string(), (cert, key));
        }
        let dir = tempfile::tempdir().map_err(setup("temporary directory"))?;
        Ok(TestPki {
            dir,
            identity_root,
            tls_root,
            domain_cas,
            tls_servers,
        })
    }

    /// Where [`TestPki::provider_files`] writes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The identity root's certificate: what clients and providers trust for
    /// credentials.
    pub fn identity_root(&self) -> &Certificate {
        self.identity_root.certificate()
    }

    /// The identity root as a CA (it issues phone-number CAs and signs CRLs
    /// in `testing_ca`).
    pub fn identity_root_ca(&self) -> &CertificateAuthority {
        &self.identity_root
    }

    /// The identity root as a trust anchor for `mimi_credentials::verify_chain`.
    pub fn trust_anchors(&self) -> TrustAnchors {
        TrustAnchors::new(vec![self.identity_root().clone()])
    }

    /// The TLS root's certificate: what HTTPS clients trust.
    pub fn tls_root(&self) -> &Certificate {
        self.tls_root.certificate()
    }

    /// The TLS root as rustls takes it.
    pub fn tls_root_der(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.tls_root().der().to_vec())
    }

    /// The domain CA of `domain`.
    pub fn domain_ca(&self, domain: &str) -> Result<&CertificateAuthority, TestError> {
        self.domain_cas
            .get(domain)
            .ok_or_else(|| TestError::Setup(format!("the test PKI has no domain CA for {domain}")))
    }

    /// Fresh CRLs for a chain under `domain`'s CA: the identity root's
    /// (covering the domain CA) and the domain CA's (covering its users and
    /// devices), both empty, valid from an hour ago for 23 hours more.
    pub fn crls(&self, domain: &str) -> Result<Vec<Crl>, TestError> {
        let now = SystemTime::now();
        let (from, until) = (now - HOUR, now + 23 * HOUR);
        let root = self
            .identity_root
            .crl(&[], from, until, 1)
            .map_err(setup("identity root CRL"))?;
        let ca = self
            .domain_ca(domain)?
            .crl(&[], from, until, 1)
            .map_err(setup("domain CA CRL"))?;
        Ok(vec![root, ca])
    }

    /// Fresh CRLs for chains under each of `domains`' CAs: the identity
    /// root's once, then each domain CA's (what a commit adding members of
    /// several domains carries).
    pub fn crls_for(&self, domains: &[&str]) -> Result<Vec<Crl>, TestError> {
        let mut crls = Vec::with_capacity(domains.len() + 1);
        for (i, name) in domains.iter().enumerate() {
            let mut pair = self.crls(name)?;
            if i > 0 {
                pair.remove(0);
            }
            crls.extend(pair);
        }
        Ok(crls)
    }

    /// Fresh CRLs for a chain under `domain`'s CA, the domain CA's listing
    /// `serials` as revoked an hour ago: a device certificate among them no
    /// longer verifies.
    pub fn crls_revoking(&self, domain: &str, serials: &[Vec<u8>]) -> Result<Vec<Crl>, TestError> {
        let now = SystemTime::now();
        let (from, until) = (now - HOUR, now + 23 * HOUR);
        let revoked: Vec<RevokedSerial> = serials
            .iter()
            .map(|serial| RevokedSerial {
                serial: serial.clone(),
                revoked_at: now - HOUR,
            })
            .collect();
        let root = self
            .identity_root
            .crl(&[], from, until, 2)
            .map_err(setup("identity root CRL"))?;
        let ca = self
            .domain_ca(domain)?
            .crl(&revoked, from, until, 2)
            .map_err(setup("domain CA CRL"))?;
        Ok(vec![root, ca])
    }

    /// A device certificate for `device` and `key` (profile 2: it names the
    /// device and its user), issued by the device's domain CA; returns the
    /// chain, leaf first: `[device certificate, domain CA certificate]`.
    pub fn issue_device(
        &self,
        device: &DeviceId,
        key: &PublicKey,
    ) -> Result<Vec<Certificate>, TestError> {
        let name = device
            .domain()
            .ok_or_else(|| TestError::Setup(format!("{device} has no domain")))?;
        let ca = self.domain_ca(name.as_str())?;
        let leaf = ca
            .issue(
                &Subject::Device {
                    device: device.clone(),
                    with_user_uri: true,
                    numbers: None,
                    organization: None,
                },
                key,
                validity(),
            )
            .map_err(setup("device certificate"))?;
        Ok(vec![leaf, ca.certificate().clone()])
    }

    /// Writes the PEM files a provider of `domain` names in its config, under
    /// `<dir>/<domain>/` (the roots under `<dir>/roots/`), and returns their
    /// paths.
    pub fn provider_files(&self, domain: &str) -> Result<ProviderFiles, TestError> {
        let (cert, key) = self
            .tls_servers
            .get(domain)
            .ok_or_else(|| TestError::Setup(format!("the test PKI has no TLS key for {domain}")))?;
        let files = ProviderFiles {
            tls_certificate: self.dir().join(domain).join("tls.pem"),
            tls_key: self.dir().join(domain).join("tls.key"),
            tls_root: self.dir().join("roots").join("tls-root.pem"),
            identity_root: self.dir().join("roots").join("identity-root.pem"),
        };
        write_file(&files.tls_certificate, &cert.pem())?;
        write_file(&files.tls_key, &pem("PRIVATE KEY", &key.to_pkcs8_der()))?;
        write_file(&files.tls_root, &self.tls_root().pem())?;
        write_file(&files.identity_root, &self.identity_root().pem())?;
        Ok(files)
    }
}

fn validity() -> Validity {
    Validity::starting_now(CERT_LIFETIME)
}

// --- Federation --------------------------------------------------------------

/// Which storage the providers of a [`TestFederation`] run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in each provider's data directory (the default config).
    Sqlite,
    /// A fresh database per provider (`CREATE DATABASE mimi_test_…`) on the
    /// server of this URL, dropped again by [`TestFederation::shutdown`].
    Postgres(String),
}

impl Backend {
    /// PostgreSQL at [`POSTGRES_URL_VAR`]; an error saying how to get one if
    /// it is unset (PostgreSQL tests fail without it, they never skip).
    pub fn postgres_from_env() -> Result<Backend, TestError> {
        std::env::var(POSTGRES_URL_VAR)
            .map(Backend::Postgres)
            .map_err(|_| {
                TestError::Setup(format!(
                    "{POSTGRES_URL_VAR} is not set: run scripts/test, which starts a throwaway PostgreSQL, or set it to a server where the tests may create databases"
                ))
            })
    }
}

type Configure = Box<dyn Fn(&str, &mut ProviderConfig) + Send + Sync>;

/// Options of a [`TestFederation`] before it starts.
pub struct FederationBuilder {
    domains: Vec<String>,
    backend: Backend,
    configure: Vec<Configure>,
    unreachable: Vec<String>,
    external: Vec<String>,
    /// Instances per domain, where more than one.
    replicas: BTreeMap<String, usize>,
}

impl fmt::Debug for FederationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FederationBuilder")
            .field("domains", &self.domains)
            .field("backend", &self.backend)
            .field("unreachable", &self.unreachable)
            .field("external", &self.external)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl FederationBuilder {
    /// Edits each provider's config (called with its domain) before it is
    /// checked: tighter rate limits, other cipher suites, …
    pub fn configure(
        mut self,
        edit: impl Fn(&str, &mut ProviderConfig) + Send + Sync + 'static,
    ) -> FederationBuilder {
        self.configure.push(Box::new(edit));
        self
    }

    /// A provider of `domain` that the test runs itself (e.g. as a
    /// `mimi-server provider` process it may kill): the PKI covers it, a
    /// free loopback port is chosen for it and named in every resolver map,
    /// and [`TestFederation::external_config`] writes its config file.
    pub fn external(mut self, domain: &str) -> FederationBuilder {
        self.external.push(domain.to_string());
        self
    }

    /// Runs `instances` processes' worth of `domain`'s provider instead of
    /// one: the first as usual, each other on its own loopback port, with
    /// its own data directory holding copies of the first one's key files
    /// (the signing key with its modification time, from which its
    /// published validity starts) and the same PostgreSQL database.
    /// Resolver maps name the first instance; reach the others with
    /// [`TestFederation::replica`]. On [`Backend::Sqlite`] the federation
    /// does not start: SQLite is one process's database.
    pub fn replicas(mut self, domain: &str, instances: usize) -> FederationBuilder {
        self.replicas.insert(domain.to_string(), instances);
        self
    }

    /// How many instances of `domain` run.
    fn instances_of(&self, domain: &str) -> usize {
        self.replicas.get(domain).copied().unwrap_or(1)
    }

    /// Refuses replicas the federation cannot run.
    fn check_replicas(&self) -> Result<(), TestError> {
        for (domain, &instances) in &self.replicas {
            if !self.domains.contains(domain) {
                return Err(TestError::Setup(format!(
                    "replicas of {domain}, which is not among the federation's domains {:?}: add it to them",
                    self.domains
                )));
            }
            if instances == 0 {
                return Err(TestError::Setup(format!(
                    "0 instances of {domain}: a domain runs at least one"
                )));
            }
            if instances > 1 && self.backend == Backend::Sqlite {
                return Err(TestError::Setup(format!(
                    "{instances} instances of {domain} on SQLite: SQLite is one process's database and wakes listeners in that process only; run replicas on Backend::Postgres"
                )));
            }
        }
        Ok(())
    }

    /// Adds `domain` to every resolver map, pointing at a closed loopback
    /// port: a peer whose keys can never be fetched.
    pub fn unreachable(mut self, domain: &str) -> FederationBuilder {
        self.unreachable.push(domain.to_string());
        self
    }

    /// Builds the PKI, binds a loopback port per provider, writes the
    /// configs and starts every provider.
    pub async fn start(self) -> Result<TestFederation, TestError> {
        TestFederation::start_from(self).await
    }

    /// Starts the federation, runs `test` on it in a task of its own, and
    /// shuts the federation down (dropping its PostgreSQL databases) also
    /// when `test` panics; the panic then goes on.
    ///
    /// # Panics
    ///
    /// If the federation does not start, or `test` panics.
    pub async fn run<F, Fut>(self, test: F)
    where
        F: FnOnce(Arc<TestFederation>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let federation = match self.start().await {
            Ok(f) => Arc::new(f),
            Err(e) => panic!("the test federation did not start: {e}"),
        };
        let outcome = tokio::spawn(test(federation.clone())).await;
        federation.shutdown().await;
        if let Err(e) = outcome {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("the test task was cancelled: {e}");
        }
    }
}

/// Several providers on loopback, each its own domain with real TLS and
/// real HTTP, resolving each other through their resolver maps.
#[derive(Debug)]
pub struct TestFederation {
    pki: TestPki,
    providers: Vec<TestProvider>,
    resolve: ResolverMap,
    http: SharedHttp,
    /// TLS 1.3 trusting the TLS root, without ALPN (HTTP/1.1): for the
    /// WebSocket and hand-made requests.
    tls_client: Arc<rustls::ClientConfig>,
    /// The server on which the PostgreSQL databases were created.
    postgres_admin: Option<String>,
}

/// The HTTPS client of the kit, replaced after a restart so that nothing
/// reaches a stopped provider over a kept-alive connection.
type SharedHttp = Arc<RwLock<reqwest::Client>>;

fn http_of(shared: &SharedHttp) -> reqwest::Client {
    shared.read().unwrap_or_else(|e| e.into_inner()).clone()
}

impl TestFederation {
    /// A builder for a federation of `domains` on `backend`.
    pub fn builder(domains: &[&str], backend: Backend) -> FederationBuilder {
        FederationBuilder {
            domains: domains.iter().map(|d| d.to_string()).collect(),
            backend,
            configure: Vec::new(),
            unreachable: Vec::new(),
            external: Vec::new(),
            replicas: BTreeMap::new(),
        }
    }

    /// Starts a federation of `domains` with default configs.
    pub async fn start(domains: &[&str], backend: Backend) -> Result<TestFederation, TestError> {
        Self::builder(domains, backend).start().await
    }

    async fn start_from(builder: FederationBuilder) -> Result<TestFederation, TestError> {
        builder.check_replicas()?;
        let names: Vec<&str> = builder
            .domains
            .iter()
            .chain(&builder.external)
            .map(String::as_str)
            .collect();
        let pki = TestPki::new(&names)?;
        // Every port first, so that each provider's resolver map can name
        // all the others. A domain's name resolves to its first instance.
        let mut listeners = Vec::new();
        let mut resolve = ResolverMap::new();
        for name in &builder.domains {
            for replica in 0..builder.instances_of(name) {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(setup("binding a loopback port"))?;
                if replica == 0 {
                    let addr = listener.local_addr().map_err(setup("local address"))?;
                    resolve.insert(name.clone(), addr);
                }
                listeners.push((name, replica, listener));
            }
        }
        for name in &builder.unreachable {
            resolve.insert(name.clone(), closed_port()?);
        }
        // A port free now, for a process the test starts later (a small
        // window in which another program could take it; loopback only).
        for name in &builder.external {
            resolve.insert(name.clone(), closed_port()?);
        }
        let postgres_admin = match &builder.backend {
            Backend::Sqlite => None,
            Backend::Postgres(url) => Some(url.clone()),
        };
        let http = https::client(&[pki.tls_root_der()], &resolve).map_err(setup("HTTPS client"))?;
        let tls_client = ws_tls_config(pki.tls_root_der())?;
        let mut federation = TestFederation {
            pki,
            providers: Vec::new(),
            resolve,
            http: Arc::new(RwLock::new(http)),
            tls_client,
            postgres_admin,
        };
        for (name, replica, listener) in listeners {
            match federation
                .start_instance(name, replica, listener, &builder)
                .await
            {
                Ok(p) => federation.providers.push(p),
                Err(e) => {
                    federation.shutdown().await;
                    return Err(e);
                }
            }
        }
        Ok(federation)
    }

    /// Starts instance `replica` of `name`'s provider on `listener`: the
    /// first from a fresh config, the others from the first one's.
    async fn start_instance(
        &self,
        name: &str,
        replica: usize,
        listener: TcpListener,
        builder: &FederationBuilder,
    ) -> Result<TestProvider, TestError> {
        let settings = match replica {
            0 => self.settings_for(name, builder).await?,
            _ => {
                let addr = listener.local_addr().map_err(setup("local address"))?;
                self.replica_settings(name, replica, addr)?
            }
        };
        TestProvider::launch(settings, replica, listener, self).await
    }

    /// The settings of instance `replica` of `name`: the first instance's,
    /// with a data directory of its own holding copies of its key files.
    fn replica_settings(
        &self,
        name: &str,
        replica: usize,
        addr: SocketAddr,
    ) -> Result<Settings, TestError> {
        let first = self.provider(name);
        let mut settings = first.settings().clone();
        settings.data_dir = self
            .pki
            .dir()
            .join(name)
            .join(format!("replica-{replica}"))
            .join("data");
        settings.listen = vec![addr];
        copy_key_files(first.data_dir(), &settings.data_dir)?;
        Ok(settings)
    }

    /// The checked config of `name`'s provider: real files, its resolver
    /// map, metrics on a loopback port, and its storage.
    async fn settings_for(
        &self,
        name: &str,
        builder: &FederationBuilder,
    ) -> Result<Settings, TestError> {
        let files = self.pki.provider_files(name)?;
        let base = self.pki.dir().join(name);
        let storage = match &self.postgres_admin {
            None => None,
            Some(admin) => Some(create_database(admin).await?),
        };
        let mut config = ProviderConfig {
            domain: name.to_string(),
            ds_domain: None,
            // Ignored by `start_on`, which gets the bound listener.
            listen: vec![self.resolve[name]],
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(base.join("data")),
            storage,
            tls_certificate: files.tls_certificate,
            tls_key: files.tls_key,
            tls_roots: vec![files.tls_root],
            identity_roots: vec![files.identity_root],
            resolve: self.resolve.clone(),
            rate_limits: Default::default(),
            key_packages: Default::default(),
            discovery: Default::default(),
            // Retries within a test's patience: a provider that comes back
            // gets its deliveries within half a second.
            outbox: crate::config::OutboxConfig {
                retry_min_ms: 50,
                retry_max_ms: 500,
                poll_ms: 100,
            },
        };
        for edit in &builder.configure {
            edit(name, &mut config);
        }
        config.check(&base).map_err(setup("provider config"))
    }

    /// Writes `<pki dir>/<domain>/provider.toml` for an
    /// [`external`](FederationBuilder::external) provider: its PEM files, the
    /// port chosen for it, a data directory, storage on the federation's back
    /// end (a new database on PostgreSQL, dropped by the caller with
    /// [`drop_database`]) and the federation's resolver map. Returns the path.
    pub async fn external_config(&self, domain: &str) -> Result<PathBuf, TestError> {
        let files = self.pki.provider_files(domain)?;
        let addr = *self
            .resolve
            .get(domain)
            .ok_or_else(|| TestError::Setup(format!("{domain} is not in the federation")))?;
        let storage = match &self.postgres_admin {
            None => String::new(),
            Some(admin) => format!("storage = {:?}\n", create_database(admin).await?),
        };
        let quoted = |p: &Path| format!("{:?}", p.display().to_string());
        let mut resolve = String::new();
        for (name, addr) in &self.resolve {
            resolve.push_str(&format!("{name:?} = \"{addr}\"\n"));
        }
        let dir = self.pki.dir().join(domain);
        let text = format!(
            "domain = {domain:?}\nlisten = [\"{addr}\"]\ndata_dir = \"data\"\n{storage}\
             tls_certificate = {}\ntls_key = {}\ntls_roots = [{}]\nidentity_roots = [{}]\n\
             [resolve]\n{resolve}",
            quoted(&files.tls_certificate),
            quoted(&files.tls_key),
            quoted(&files.tls_root),
            quoted(&files.identity_root),
        );
        let path = dir.join("provider.toml");
        write_file(&path, &text)?;
        Ok(path)
    }

    /// The PKI everything was issued from.
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The provider of `domain` (its first instance, which resolver maps
    /// name).
    ///
    /// # Panics
    ///
    /// If the federation has no provider of that domain (a mistake in the
    /// test).
    pub fn provider(&self, domain: &str) -> &TestProvider {
        self.replica(domain, 0)
    }

    /// Instance `index` of `domain`'s provider (0 is the first; see
    /// [`FederationBuilder::replicas`]).
    ///
    /// # Panics
    ///
    /// If the federation has no such instance (a mistake in the test).
    pub fn replica(&self, domain: &str, index: usize) -> &TestProvider {
        self.providers
            .iter()
            .find(|p| p.domain.as_str() == domain && p.replica == index)
            .unwrap_or_else(|| {
                panic!("the test federation has no instance {index} of the provider {domain}")
            })
    }

    /// Every instance of every provider, in the order of the domains given
    /// (a domain's instances in order).
    pub fn providers(&self) -> &[TestProvider] {
        &self.providers
    }

    /// Domain → loopback address of every provider (and every unreachable
    /// domain), as each provider's config has it.
    pub fn resolver(&self) -> &ResolverMap {
        &self.resolve
    }

    /// An HTTPS client that trusts the TLS root and resolves every domain of
    /// the federation.
    pub fn http(&self) -> reqwest::Client {
        http_of(&self.http)
    }

    /// A new device `device` of `user` at `domain`'s provider, with its key
    /// and certificate chain (not registered yet).
    pub fn client(&self, domain: &str, user: &str, device: &str) -> Result<TestClient, TestError> {
        TestClient::new(self, domain, user, device)
    }

    /// POSTs `body` to `https://<domain><path>` with `content_type`.
    pub async fn post_raw(
        &self,
        domain: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, TestError> {
        post(&self.http(), domain, path, content_type, body).await
    }

    /// Sends only the head of `POST <path>` over HTTP/1.1 with a
    /// `Content-Length` of `declared_len` and no body, and reads the answer:
    /// how a receiver that checks the length before reading refuses a body
    /// too large to send in a test (a client writing megabytes after an
    /// early answer gets a reset connection instead).
    pub async fn post_declared_length(
        &self,
        domain: &str,
        path: &str,
        content_type: &str,
        declared_len: u64,
    ) -> Result<Reply, TestError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = *self
            .resolve
            .get(domain)
            .ok_or_else(|| TestError::Setup(format!("no provider {domain}")))?;
        let mut tls = connect_tls(addr, domain, &self.tls_client).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {domain}\r\nContent-Type: {content_type}\r\nContent-Length: {declared_len}\r\n\r\n"
        );
        tls.write_all(head.as_bytes())
            .await
            .map_err(|e| TestError::Http(format!("writing the request head: {e}")))?;
        let mut answer = Vec::new();
        // The server closes the connection after refusing an unread body.
        let read = tls.read_to_end(&mut answer).await;
        if answer.is_empty() {
            return Err(TestError::Http(format!("no answer: {read:?}")));
        }
        parse_http1_answer(&answer)
    }

    /// GETs `https://<domain><path_and_query>`.
    pub async fn get(&self, domain: &str, path_and_query: &str) -> Result<Reply, TestError> {
        get(&self.http(), domain, path_and_query).await
    }

    /// Stops every provider (every instance) and starts each again on the
    /// same port, data directory and database: what an operator's restart
    /// of the whole federation does. One instance restarts alone with
    /// [`TestProvider::stop`] and [`TestProvider::start_again`]: a stopped
    /// instance has closed every connection (`serve_tls` returns only then),
    /// so no peer's pooled connection reaches it.
    ///
    /// The kit's HTTPS clients are replaced as well, so that the first
    /// request after the restart is not sent on a pooled connection that
    /// the stopped instance has just closed.
    pub async fn restart(&self) -> Result<(), TestError> {
        for provider in &self.providers {
            provider.stop().await;
        }
        for provider in &self.providers {
            provider.start_again().await?;
        }
        let http = https::client(&[self.pki.tls_root_der()], &self.resolve)
            .map_err(setup("HTTPS client"))?;
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = http;
        Ok(())
    }

    /// Starts `domain`'s provider (its first instance) again after
    /// [`TestProvider::stop`], on the same port, data directory and
    /// database, and replaces the kit's HTTPS clients, so that no request
    /// of a [`TestClient`] goes out on a connection the stopped provider
    /// closed.
    pub async fn start_again(&self, domain: &str) -> Result<(), TestError> {
        self.provider(domain).start_again().await?;
        let http = https::client(&[self.pki.tls_root_der()], &self.resolve)
            .map_err(setup("HTTPS client"))?;
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = http;
        Ok(())
    }

    /// Stops every provider, closes its storage and drops its PostgreSQL
    /// database. Call it once at the end ([`FederationBuilder::run`] does).
    pub async fn shutdown(&self) {
        for provider in &self.providers {
            provider.stop().await;
            if let Some(handle) = provider.take_handle() {
                handle.close().await;
            }
        }
        if let Some(admin) = &self.postgres_admin {
            // Replicas share their first instance's database.
            let databases: std::collections::BTreeSet<String> = self
                .providers
                .iter()
                .filter_map(TestProvider::database_name)
                .collect();
            for name in databases {
                drop_database(admin, &name).await;
            }
        }
    }
}

/// A TLS connection to `addr` for the name `domain`.
async fn connect_tls(
    addr: SocketAddr,
    domain: &str,
    config: &Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TestError> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| TestError::Http(format!("connecting to {addr}: {e}")))?;
    let name = ServerName::try_from(domain.to_string()).map_err(setup("server name"))?;
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| TestError::Http(format!("TLS to {domain}: {e}")))
}

/// An HTTP/1.1 answer read to the end of the connection: status line,
/// headers, and the body as far as `Content-Length` says (or all of it).
fn parse_http1_answer(bytes: &[u8]) -> Result<Reply, TestError> {
    let bad = |why: &str| TestError::BadAnswer(format!("an HTTP/1.1 answer {why}"));
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("without the end of its head"))?;
    let head =
        std::str::from_utf8(&bytes[..end]).map_err(|_| bad("with a head that is not text"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad("without a status"))?;
    let mut headers = BTreeMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let mut body = bytes[end + 4..].to_vec();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(Reply {
        status,
        content_type: headers.get("content-type").cloned(),
        retry_after: headers.get("retry-after").cloned(),
        body,
    })
}

/// A loopback address where nothing listens (bound, then closed).
fn closed_port() -> Result<SocketAddr, TestError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(setup("binding a loopback port"))?;
    listener.local_addr().map_err(setup("local address"))
}

/// Copies the key files of the data directory `from` into `to`, keeping
/// their modes (0600) and modification times: a replica must publish the
/// same signing key record as the instance it copies, and the record's
/// validity starts at the key file's modification time.
fn copy_key_files(from: &Path, to: &Path) -> Result<(), TestError> {
    std::fs::create_dir_all(to).map_err(setup("creating a replica's data directory"))?;
    for file in [SIGNING_KEY_FILE, QUEUE_KEY_FILE] {
        let (source, copy) = (from.join(file), to.join(file));
        let failed = |e: std::io::Error| {
            TestError::Setup(format!(
                "copying {} to {}: {e}",
                source.display(),
                copy.display()
            ))
        };
        std::fs::copy(&source, &copy).map_err(failed)?;
        let modified = std::fs::metadata(&source)
            .and_then(|m| m.modified())
            .map_err(failed)?;
        std::fs::File::options()
            .write(true)
            .open(&copy)
            .and_then(|f| f.set_modified(modified))
            .map_err(failed)?;
    }
    Ok(())
}

/// Creates `mimi_test_<random>` on the server of `admin_url` and returns
/// the URL of the new database (for a provider started from a config file;
/// drop it with [`drop_database`]).
pub async fn create_database(admin_url: &str) -> Result<String, TestError> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(admin_url).await.map_err(|e| {
        TestError::Setup(format!(
            "cannot connect to {POSTGRES_URL_VAR}={admin_url}: {e}; is that PostgreSQL running? scripts/test starts one"
        ))
    })?;
    let name = format!("mimi_test_{}", random_hex(8)?);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .map_err(setup("CREATE DATABASE"))?;
    let _ = admin.close().await;
    Ok(with_database(admin_url, &name))
}

/// Drops the database `name` (as [`create_database`] made it) on the server
/// of `admin_url`, closing its connections; failures are only logged.
pub async fn drop_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    let Ok(mut admin) = sqlx::PgConnection::connect(admin_url).await else {
        tracing::warn!(name, "cannot connect to drop a test database");
        return;
    };
    // FORCE: connections of instances stopped without closing may remain.
    let dropped = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    if let Err(e) = dropped {
        tracing::warn!(name, error = %e, "cannot drop a test database");
    }
    let _ = admin.close().await;
}

/// The database (the path) of a PostgreSQL URL.
pub fn database_of(url: &str) -> String {
    url.split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..authority_end])
}

async fn get(
    http: &reqwest::Client,
    domain: &str,
    path_and_query: &str,
) -> Result<Reply, TestError> {
    let response = http
        .get(format!("https://{domain}{path_and_query}"))
        .send()
        .await
        .map_err(|e| TestError::Http(e.to_string()))?;
    Reply::read(response).await
}

async fn post(
    http: &reqwest::Client,
    domain: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Reply, TestError> {
    let response = http
        .post(format!("https://{domain}{path}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .map_err(|e| TestError::Http(e.to_string()))?;
    Reply::read(response).await
}

// --- One provider ------------------------------------------------------------

/// A running provider's state, by storage back end: what
/// [`Running::provider`] gives, for assertions and for sending as it.
#[derive(Debug, Clone)]
pub enum ProviderHandle {
    Sqlite(Arc<Provider<SqliteStorage>>),
    Postgres(Arc<Provider<PostgresStorage>>),
}

/// Runs `$body` with `$p` bound to the `Arc<Provider<_>>` of either back end.
macro_rules! with_provider {
    ($handle:expr, $p:ident => $body:expr) => {
        match $handle {
            ProviderHandle::Sqlite($p) => $body,
            ProviderHandle::Postgres($p) => $body,
        }
    };
}

/// Rows of the provider's tables: a snapshot to show that a refused request
/// changed nothing. The `hub_*` fields are the hub's tables (mimi-storage
/// migration 0004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCounts {
    pub clients: i64,
    pub handles: i64,
    pub queues: i64,
    pub queue_messages: i64,
    pub key_packages: i64,
    pub replay_seen: i64,
    pub hub_groups: i64,
    pub hub_group_states: i64,
    pub hub_requests: i64,
    pub hub_joiner_trees: i64,
    pub hub_joiners: i64,
    pub hub_messages: i64,
    pub hub_outbox: i64,
    pub hub_outbox_backoff: i64,
}

impl RowCounts {
    /// The counts of the hub's tables alone: what a refused group operation
    /// must leave as it was (the client API records the request ID of every
    /// authenticated client request in `replay_seen`, whatever the hub says).
    pub fn hub(&self) -> [i64; 8] {
        [
            self.hub_groups,
            self.hub_group_states,
            self.hub_requests,
            self.hub_joiner_trees,
            self.hub_joiners,
            self.hub_messages,
            self.hub_outbox,
            self.hub_outbox_backoff,
        ]
    }
}

const ROW_COUNTS: &str = "SELECT \
    (SELECT COUNT(*) FROM clients), (SELECT COUNT(*) FROM handles), \
    (SELECT COUNT(*) FROM queues), (SELECT COUNT(*) FROM queue_messages), \
    (SELECT COUNT(*) FROM key_packages), (SELECT COUNT(*) FROM replay_seen), \
    (SELECT COUNT(*) FROM hub_groups), (SELECT COUNT(*) FROM hub_group_states), \
    (SELECT COUNT(*) FROM hub_requests), (SELECT COUNT(*) FROM hub_joiner_trees), \
    (SELECT COUNT(*) FROM hub_joiners), (SELECT COUNT(*) FROM hub_messages), \
    (SELECT COUNT(*) FROM hub_outbox), (SELECT COUNT(*) FROM hub_outbox_backoff)";

type Counts = (
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

impl ProviderHandle {
    fn of(running: &Running) -> Option<ProviderHandle> {
        running
            .provider::<SqliteStorage>()
            .map(ProviderHandle::Sqlite)
            .or_else(|| {
                running
                    .provider::<PostgresStorage>()
                    .map(ProviderHandle::Postgres)
            })
    }

    async fn close(&self) {
        with_provider!(self, p => p.storage().close().await)
    }

    async fn row_counts(&self) -> Result<RowCounts, TestError> {
        let counts: Counts = match self {
            ProviderHandle::Sqlite(p) => sqlx::query_as(ROW_COUNTS)
                .fetch_one(p.storage().pool())
                .await
                .map_err(|e| TestError::Storage(e.to_string()))?,
            ProviderHandle::Postgres(p) => sqlx::query_as(ROW_COUNTS)
                .fetch_one(p.storage().pool())
                .await
                .map_err(|e| TestError::Storage(e.to_string()))?,
        };
        let (
            clients,
            handles,
            queues,
            queue_messages,
            key_packages,
            replay_seen,
            hub_groups,
            hub_group_states,
            hub_requests,
            hub_joiner_trees,
            hub_joiners,
            hub_messages,
            hub_outbox,
            hub_outbox_backoff,
        ) = counts;
        Ok(RowCounts {
            clients,
            handles,
            queues,
            queue_messages,
            key_packages,
            replay_seen,
            hub_groups,
            hub_group_states,
            hub_requests,
            hub_joiner_trees,
            hub_joiners,
            hub_messages,
            hub_outbox,
            hub_outbox_backoff,
        })
    }
}

fn storage_error(e: impl fmt::Display) -> TestError {
    TestError::Storage(e.to_string())
}

/// One provider of a [`TestFederation`] (one instance of it, with
/// [`FederationBuilder::replicas`]).
#[derive(Debug)]
pub struct TestProvider {
    domain: Domain,
    /// Which instance of its domain's provider (0: the first).
    replica: usize,
    addr: SocketAddr,
    settings: Settings,
    /// The federation's names, but this provider's domain at this instance.
    resolve: ResolverMap,
    tls_root: CertificateDer<'static>,
    /// An HTTPS client resolving `resolve`, renewed at each start.
    http: SharedHttp,
    running: tokio::sync::Mutex<Option<Running>>,
    handle: RwLock<Option<(ProviderHandle, Option<SocketAddr>)>>,
}

impl TestProvider {
    async fn launch(
        settings: Settings,
        replica: usize,
        listener: TcpListener,
        federation: &TestFederation,
    ) -> Result<TestProvider, TestError> {
        let addr = listener.local_addr().map_err(setup("local address"))?;
        let mut resolve = federation.resolve.clone();
        resolve.insert(settings.domain.to_string(), addr);
        let tls_root = federation.pki.tls_root_der();
        let http = https::client(std::slice::from_ref(&tls_root), &resolve)
            .map_err(setup("HTTPS client"))?;
        let provider = TestProvider {
            domain: settings.domain.clone(),
            replica,
            addr,
            settings,
            resolve,
            tls_root,
            http: Arc::new(RwLock::new(http)),
            running: tokio::sync::Mutex::new(None),
            handle: RwLock::new(None),
        };
        provider.run_on(listener).await?;
        Ok(provider)
    }

    async fn run_on(&self, listener: TcpListener) -> Result<(), TestError> {
        let running = start_on(self.settings.clone(), vec![listener])
            .await
            .map_err(|e| TestError::Setup(format!("{} did not start: {e}", self.domain)))?;
        let handle = ProviderHandle::of(&running)
            .ok_or_else(|| TestError::Setup("the provider runs on an unknown storage".into()))?;
        *self.handle.write().unwrap_or_else(|e| e.into_inner()) =
            Some((handle, running.metrics_addr));
        *self.running.lock().await = Some(running);
        Ok(())
    }

    /// Stops this instance; returns once it serves no connection any more
    /// (see `mimi_transport::https::serve_tls`). Its storage stays open for
    /// assertions. Does nothing if it is stopped already.
    pub async fn stop(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.shutdown().await;
        }
    }

    /// Starts this instance again, after [`TestProvider::stop`], on the same
    /// port, data directory and database (an error if it is running).
    pub async fn start_again(&self) -> Result<(), TestError> {
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(setup("binding the provider's port again"))?;
        self.run_on(listener).await?;
        let http = https::client(std::slice::from_ref(&self.tls_root), &self.resolve)
            .map_err(setup("HTTPS client"))?;
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = http;
        Ok(())
    }

    fn take_handle(&self) -> Option<ProviderHandle> {
        self.handle
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|(h, _)| h)
    }

    fn database_name(&self) -> Option<String> {
        match &self.settings.storage {
            crate::config::StorageUrl::Postgres(url) => Some(database_of(url)),
            crate::config::StorageUrl::Sqlite(_) => None,
        }
    }

    /// The running provider's state.
    ///
    /// # Panics
    ///
    /// If the provider is stopped (after [`TestFederation::shutdown`]).
    pub fn handle(&self) -> ProviderHandle {
        self.handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(h, _)| h.clone())
            .unwrap_or_else(|| panic!("{} is not running", self.domain))
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// Which instance of its domain's provider this is (0: the first).
    pub fn replica(&self) -> usize {
        self.replica
    }

    /// An HTTPS client that trusts the TLS root and resolves every domain
    /// of the federation, this provider's domain to this instance.
    pub fn http(&self) -> reqwest::Client {
        http_of(&self.http)
    }

    /// POSTs `body` to `<path>` of this instance with `content_type`.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, TestError> {
        post(&self.http(), self.domain.as_str(), path, content_type, body).await
    }

    /// GETs `<path_and_query>` of this instance.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, TestError> {
        get(&self.http(), self.domain.as_str(), path_and_query).await
    }

    /// The loopback address of its HTTPS listener (the same after a restart).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of its `/metrics` listener (a new port after a restart).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.handle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(_, m)| *m)
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Its data directory (keys, and the SQLite database on [`Backend::Sqlite`]).
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    /// The public key it signs S2S messages with (raw Ed25519).
    pub fn signature_public_key(&self) -> Vec<u8> {
        with_provider!(self.handle(), p => p.signing_key.public_key().to_vec())
    }

    /// The HPKE key its clients seal their queue IDs to.
    pub fn queue_key(&self) -> QueueEncryptionKey {
        with_provider!(self.handle(), p => p.queue_key.public().clone())
    }

    /// Row counts of its tables.
    pub async fn row_counts(&self) -> Result<RowCounts, TestError> {
        self.handle().row_counts().await
    }

    /// Messages waiting in the queue `queue`.
    pub async fn queue_depth(&self, queue: QueueId) -> Result<u64, TestError> {
        with_provider!(self.handle(), p => p.storage().depth(queue).await.map_err(storage_error))
    }

    /// Messages waiting in all queues.
    pub async fn total_depth(&self) -> Result<u64, TestError> {
        with_provider!(self.handle(), p => p.storage().total_depth().await.map_err(storage_error))
    }

    /// One-time KeyPackages of `suite` stored for `client` (a [`TestClient`]).
    pub async fn stored_key_packages(
        &self,
        client: &TestClient,
        suite: u16,
    ) -> Result<u64, TestError> {
        let (user, device) = (client.user_uri(), client.client_uri());
        with_provider!(self.handle(), p => p
            .storage()
            .count(&user, &device, suite)
            .await
            .map_err(storage_error))
    }

    /// Closes `queue` to new messages (a retired client's queue).
    pub async fn retire_queue(&self, queue: QueueId) -> Result<(), TestError> {
        with_provider!(self.handle(), p => p.storage().retire(queue).await.map_err(storage_error))
    }

    /// The stored registration of `client_id` (a `mimi://` device URI).
    pub async fn client_record(&self, client_id: &str) -> Result<Option<ClientRecord>, TestError> {
        with_provider!(self.handle(), p => p.storage().client(client_id).await.map_err(storage_error))
    }

    /// The hub's stored room `group_id` (epoch, state version, last group
    /// sequence, state and GroupInfo), if this provider owns it.
    pub async fn hub_group(&self, group_id: &[u8]) -> Result<Option<StoredGroup>, TestError> {
        with_provider!(self.handle(), p => p.storage().load_group(group_id).await.map_err(storage_error))
    }

    /// Deliveries waiting in the hub's outbox, all destinations together.
    pub async fn outbox_pending(&self) -> Result<u64, TestError> {
        let depth = with_provider!(self.handle(), p => p.storage().outbox_depth().await.map_err(storage_error))?;
        Ok(depth.iter().map(|d| d.pending).sum())
    }

    /// Waits until the hub's outbox is empty (every accepted message handed
    /// to its members' providers), polling; an error after `within` (a guard
    /// against a hanging test, not a timing assertion).
    pub async fn outbox_drained(&self, within: Duration) -> Result<(), TestError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let pending = self.outbox_pending().await?;
            if pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TestError::Http(format!(
                    "{} still has {pending} deliveries in its outbox after {within:?}",
                    self.domain
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Asks `user`'s provider for one KeyPackage per client of `user`
    /// (`/group_key_packages`), as this provider.
    pub async fn claim_key_packages(
        &self,
        user: &UserId,
        cipher_suite: u16,
    ) -> Result<GroupKeyPackageResponse, TestError> {
        Ok(with_provider!(self.handle(), p => p.claim_key_packages(user, cipher_suite).await)?)
    }

    /// Hands `request` to `peer`'s queueing service (`/deliver_message`), as
    /// this provider.
    pub async fn deliver_to(
        &self,
        peer: &Domain,
        request: DeliverMessageRequest,
    ) -> Result<DeliverMessageResponse, TestError> {
        Ok(with_provider!(self.handle(), p => p.deliver_to(peer, request).await)?)
    }

    /// A fresh event of `kind` with `body`, signed by this provider for
    /// `recipient`: bytes to post as they are, twice, or altered.
    pub fn sign_event(
        &self,
        recipient: &Domain,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<SignedEvent, TestError> {
        Ok(with_provider!(self.handle(), p => p.sign_event(recipient, kind, body))?)
    }

    /// POSTs a signed event through this provider's own HTTPS client and
    /// returns the body of a 200 answer.
    pub async fn post_event(&self, event: &SignedEvent) -> Result<Vec<u8>, TestError> {
        Ok(with_provider!(self.handle(), p => p.post(event).await)?)
    }

    /// `GET /metrics` on its metrics listener, as text.
    pub async fn metrics(&self, http: &reqwest::Client) -> Result<String, TestError> {
        let addr = self
            .metrics_addr()
            .ok_or_else(|| TestError::Setup(format!("{} serves no metrics", self.domain)))?;
        let response = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .map_err(|e| TestError::Http(e.to_string()))?;
        let reply = Reply::read(response).await?.success()?;
        String::from_utf8(reply).map_err(|_| TestError::BadAnswer("metrics are not UTF-8".into()))
    }
}

// --- A client ----------------------------------------------------------------

/// A device of a user at one provider: an Ed25519 key whose device
/// certificate the domain CA issued, and the signed client API
/// (docs/wire-spec.md §13) over the federation's HTTPS client.
#[derive(Debug)]
pub struct TestClient {
    device: DeviceId,
    user: UserId,
    domain: Domain,
    key: KeyPair,
    chain: Vec<Certificate>,
    crls: Vec<Crl>,
    http: SharedHttp,
    ws: WsTarget,
    registration: Mutex<Option<RegisterResponse>>,
}

/// Where and how the WebSocket of `listen` connects.
#[derive(Debug, Clone)]
struct WsTarget {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

impl TestClient {
    /// A new device `device` of `user` at `domain` (not registered yet).
    pub fn new(
        federation: &TestFederation,
        domain_name: &str,
        user: &str,
        device: &str,
    ) -> Result<TestClient, TestError> {
        let d = domain(domain_name)?;
        let user_id = UserId::new(user, Some(d.clone())).map_err(setup("user ID"))?;
        let device_id = DeviceId::new(&user_id, device).map_err(setup("device ID"))?;
        let key = KeyPair::generate(SignatureScheme::Ed25519).map_err(setup("device key"))?;
        let chain = federation.pki.issue_device(&device_id, &key.public_key())?;
        let crls = federation.pki.crls(domain_name)?;
        let addr = *federation.resolve.get(domain_name).ok_or_else(|| {
            TestError::Setup(format!("the federation has no provider {domain_name}"))
        })?;
        Ok(TestClient {
            device: device_id,
            user: user_id,
            domain: d,
            key,
            chain,
            crls,
            http: federation.http.clone(),
            ws: WsTarget {
                addr,
                tls: federation.tls_client.clone(),
            },
            registration: Mutex::new(None),
        })
    }

    /// This device (same key, certificates and registration) talking to
    /// `replica`, an instance of its own provider: its requests and its
    /// WebSocket go to that instance's address.
    pub fn through(&self, replica: &TestProvider) -> Result<TestClient, TestError> {
        if replica.domain != self.domain {
            return Err(TestError::Setup(format!(
                "{} is a client of {}, not of {}: pick an instance of its own provider",
                self.device, self.domain, replica.domain
            )));
        }
        let key = KeyPair::from_pkcs8_der(&self.key.to_pkcs8_der(), self.key.scheme())
            .map_err(setup("device key"))?;
        Ok(TestClient {
            device: self.device.clone(),
            user: self.user.clone(),
            domain: self.domain.clone(),
            key,
            chain: self.chain.clone(),
            crls: self.crls.clone(),
            http: replica.http.clone(),
            ws: WsTarget {
                addr: replica.addr,
                tls: self.ws.tls.clone(),
            },
            registration: Mutex::new(self.registration()),
        })
    }

    pub fn device_id(&self) -> &DeviceId {
        &self.device
    }

    pub fn user_id(&self) -> &UserId {
        &self.user
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The device as storage and the wire name it: `mimi://<domain>/d/<user>/<device>`.
    pub fn client_uri(&self) -> String {
        crate::clients::device_uri(&self.device).unwrap_or_else(|_| self.device.to_string())
    }

    /// The user as storage and the wire name it: `mimi://<domain>/u/<user>`.
    pub fn user_uri(&self) -> String {
        crate::clients::user_uri(&self.user).unwrap_or_else(|_| self.user.to_string())
    }

    /// The device key (its certificate's key and its MLS signature key).
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// DER certificates, leaf first: the MLS credential's content.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|c| c.der().to_vec()).collect()
    }

    /// Fresh CRLs of the chain's CAs.
    pub fn crls(&self) -> &[Crl] {
        &self.crls
    }

    /// The MLS signer for the device key.
    pub fn signer(&self) -> Result<TestSigner, TestError> {
        TestSigner::from_pkcs8(&self.key.to_pkcs8_der(), mimi_mls::SignatureScheme::ED25519)
            .map_err(setup("MLS signer"))
    }

    /// The queue ID the provider gave at registration.
    pub fn queue_id(&self) -> Option<QueueId> {
        self.registration().map(|r| *r.queue_id())
    }

    /// The provider's queue key as given at registration.
    pub fn queue_key(&self) -> Option<QueueEncryptionKey> {
        self.registration().map(|r| r.queue_key().clone())
    }

    fn registration(&self) -> Option<RegisterResponse> {
        self.registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn registered(&self) -> Result<RegisterResponse, TestError> {
        self.registration()
            .ok_or_else(|| TestError::Setup(format!("{} is not registered", self.device)))
    }

    /// A request of this device, created now, with a fresh request ID.
    pub fn tbs(&self, body: impl Into<ClientRequestBody>) -> Result<ClientRequestTbs, TestError> {
        Ok(ClientRequestTbs::new(&self.device, now_ms(), body)?)
    }

    /// `tbs` signed with `key` (normally [`TestClient::key`]).
    pub fn sign_with(
        &self,
        key: &KeyPair,
        tbs: ClientRequestTbs,
    ) -> Result<ClientRequest, TestError> {
        let signature = key
            .sign(&tbs.signed_content()?)
            .map_err(setup("signing a client request"))?;
        Ok(ClientRequest::new(tbs, signature))
    }

    /// `body` as a signed request of this device, encoded.
    pub fn signed(&self, body: impl Into<ClientRequestBody>) -> Result<Vec<u8>, TestError> {
        let request = self.sign_with(&self.key, self.tbs(body)?)?;
        Ok(request.encode()?)
    }

    /// POSTs `bytes` to the endpoint of `operation` as
    /// `application/octet-stream`, whatever they are.
    pub async fn post(
        &self,
        operation: ClientOperation,
        bytes: Vec<u8>,
    ) -> Result<Reply, TestError> {
        let http = http_of(&self.http);
        post(
            &http,
            self.domain.as_str(),
            operation.endpoint_path(),
            OCTET_STREAM,
            bytes,
        )
        .await
    }

    async fn call(&self, body: impl Into<ClientRequestBody>) -> Result<Vec<u8>, TestError> {
        let body = body.into();
        let operation = body.operation();
        self.post(operation, self.signed(body)?).await?.success()
    }

    /// The registration request for this device, with `handle` (e.g. `@bob`).
    pub fn register_request(&self, handle: Option<&str>) -> Result<RegisterRequest, TestError> {
        let handle = handle.map(parse_handle).transpose()?;
        Ok(RegisterRequest::new(
            self.chain_der(),
            self.crls.iter().map(|c| c.der().to_vec()).collect(),
            handle.as_ref(),
        ))
    }

    /// Registers the device (`/client/v1/register`) and remembers its queue.
    pub async fn register(&self, handle: Option<&str>) -> Result<RegisterResponse, TestError> {
        let answer = self.call(self.register_request(handle)?).await?;
        let response = RegisterResponse::decode(&answer)?;
        *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = Some(response.clone());
        Ok(response)
    }

    /// `/client/v1/fetch`.
    pub async fn fetch(&self, from_seq: u64, limit: u32) -> Result<FetchResponse, TestError> {
        let answer = self.call(FetchRequest::new(from_seq, limit)).await?;
        Ok(FetchResponse::decode(&answer)?)
    }

    /// `/client/v1/ack`.
    pub async fn ack(&self, up_to_seq: u64) -> Result<AckResponse, TestError> {
        let answer = self.call(AckRequest::new(up_to_seq)).await?;
        Ok(AckResponse::decode(&answer)?)
    }

    /// `/client/v1/key_package_count`.
    pub async fn key_package_count(&self, cipher_suite: u16) -> Result<u64, TestError> {
        let answer = self.call(KeyPackageCountRequest::new(cipher_suite)).await?;
        Ok(KeyPackageCountResponse::decode(&answer)?.count())
    }

    /// A KeyPackage of this device as a client builds it: suite 1, its key,
    /// its chain, a queue reference to its provider (its queue ID freshly
    /// sealed for that domain); `edit` may change any parameter first (to
    /// build one the store must refuse).
    pub fn key_package(
        &self,
        edit: impl FnOnce(&mut KeyPackageParams<'_>),
    ) -> Result<TestKeyPackage, TestError> {
        let reference = self.sealed_queue_reference()?;
        let signer = self.signer()?;
        let mut params = KeyPackageParams::new(&signer, self.chain_der(), reference);
        edit(&mut params);
        key_package(&params).map_err(setup("KeyPackage"))
    }

    /// Uploads `key_packages` as they are (`/client/v1/upload_key_packages`).
    pub async fn upload(
        &self,
        key_packages: Vec<Vec<u8>>,
        last_resort: bool,
    ) -> Result<UploadKeyPackagesResponse, TestError> {
        let answer = self
            .call(UploadKeyPackagesRequest::new(key_packages, last_resort))
            .await?;
        Ok(UploadKeyPackagesResponse::decode(&answer)?)
    }

    /// Builds `n` KeyPackages ([`TestClient::key_package`]; marked last
    /// resort if `last_resort`) and uploads them.
    pub async fn upload_key_packages(
        &self,
        n: usize,
        last_resort: bool,
    ) -> Result<UploadKeyPackagesResponse, TestError> {
        let mut key_packages = Vec::with_capacity(n);
        for _ in 0..n {
            let kp = self.key_package(|p| p.last_resort = last_resort)?;
            key_packages.push(kp.bytes);
        }
        self.upload(key_packages, last_resort).await
    }

    /// Opens the WebSocket push from `from_seq` (`GET /client/v1/listen`
    /// with a signed request in the `MIMI-Client-Request` header).
    pub async fn listen(&self, from_seq: u64) -> Result<Listener, TestError> {
        let request = self.sign_with(&self.key, self.tbs(ListenRequest::new(from_seq))?)?;
        self.listen_with(Some(request.to_header_value()?)).await
    }

    /// The WebSocket upgrade with this `MIMI-Client-Request` header value
    /// (or none), whatever it is: a refusal is [`TestError::Refused`].
    pub async fn listen_with(&self, header: Option<String>) -> Result<Listener, TestError> {
        let mut request = format!(
            "wss://{}{}",
            self.domain,
            ClientOperation::Listen.endpoint_path()
        )
        .into_client_request()
        .map_err(setup("WebSocket request"))?;
        if let Some(value) = header {
            let value = value
                .parse::<axum::http::HeaderValue>()
                .map_err(setup("header value"))?;
            request.headers_mut().insert(LISTEN_HEADER, value);
        }
        let tls = connect_tls(self.ws.addr, self.domain.as_str(), &self.ws.tls).await?;
        match tokio_tungstenite::client_async(request, tls).await {
            Ok((ws, _)) => Ok(Listener { ws }),
            Err(tungstenite::Error::Http(response)) => {
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                Err(TestError::Refused(Reply {
                    status: response.status().as_u16(),
                    content_type: header("content-type"),
                    retry_after: header("retry-after"),
                    body: response.body().clone().unwrap_or_default(),
                }))
            }
            Err(e) => Err(TestError::Http(format!("WebSocket handshake: {e}"))),
        }
    }
}

// --- The hub, as a member uses it --------------------------------------------

impl TestClient {
    /// A reference to this device's queue for a leaf node: its provider's
    /// domain and its queue ID freshly sealed to that provider's queue key
    /// (as every KeyPackage has its own).
    pub fn sealed_queue_reference(&self) -> Result<QueueReference, TestError> {
        let registration = self.registered()?;
        mimi_mls::seal_queue_reference(
            registration.queue_key(),
            &self.domain,
            registration.queue_id(),
        )
        .map_err(setup("sealing the queue ID"))
    }

    /// This device as an MLS client (a real OpenMLS client, handshakes in
    /// the clear for the hub): its certificate chain, its device key as the
    /// leaf signature key, and a fresh reference to its queue. Register
    /// first.
    pub fn member(&self) -> Result<TestMember, TestError> {
        TestMember::new(
            self.chain_der(),
            self.signer()?,
            self.sealed_queue_reference()?,
        )
        .map_err(setup("MLS member"))
    }

    /// `body` signed as leaf `sender_index` with this device's key
    /// (docs/wire-spec.md §14.1: `SignContent { "MIMI 1.0 DSRequest",
    /// ClientSignatureTBS }`). The key is the leaf's when `sender_index` is
    /// this device's leaf; anything else is a forgery the hub must refuse.
    pub fn sign_ds_request(
        &self,
        body: DSRequestBody,
        sender_index: u32,
    ) -> Result<DSRequest, TestError> {
        let signature = self
            .key
            .sign(&DSRequest::content_to_sign(&body, sender_index)?)
            .map_err(setup("signing a DSRequest"))?;
        Ok(DSRequest::new(body, sender_index, signature))
    }

    /// `operation` on `group_id`, created now with a fresh request ID,
    /// signed from `member`'s leaf (this device's member).
    pub fn ds_request(
        &self,
        member: &TestMember,
        group_id: &[u8],
        operation: DSOperation,
    ) -> Result<DSRequest, TestError> {
        let leaf = member.leaf_index().map_err(setup("the member's leaf"))?;
        let body = DSRequestBody::new(group_id.to_vec(), now_ms(), operation)?;
        self.sign_ds_request(body, leaf)
    }

    /// The client API's `hub` operation (docs/wire-spec.md §14.6) with
    /// `request` for `endpoint` at `hub`, whatever it is: our provider
    /// serves its own rooms and forwards the rest.
    pub async fn hub_post(
        &self,
        hub: &Domain,
        endpoint: HubEndpoint,
        request: Vec<u8>,
    ) -> Result<Reply, TestError> {
        let body = HubRequest::new(hub, endpoint, request);
        self.post(ClientOperation::Hub, self.signed(body)?).await
    }

    /// [`TestClient::hub_post`], its answer decoded; a refusal is
    /// [`TestError::Refused`].
    pub async fn hub(
        &self,
        hub: &Domain,
        endpoint: HubEndpoint,
        request: Vec<u8>,
    ) -> Result<DSResponse, TestError> {
        let answer = self.hub_post(hub, endpoint, request).await?.success()?;
        Ok(DSResponse::decode(&answer)?)
    }

    /// Sends `request` to the room's hub (`/group_operation` through our
    /// provider) and returns what the hub accepted: (epoch, group sequence,
    /// hub timestamp).
    pub async fn group_operation(
        &self,
        hub: &Domain,
        request: &DSRequest,
    ) -> Result<HubAccepted, TestError> {
        match self
            .hub(hub, HubEndpoint::GroupOperation, request.encode()?)
            .await?
        {
            DSResponse::Accepted {
                epoch,
                group_sequence,
                hub_timestamp_ms,
            } => Ok(HubAccepted {
                epoch,
                group_sequence,
                hub_timestamp_ms,
            }),
            other => Err(TestError::BadAnswer(format!(
                "a group operation answered with {other:?}"
            ))),
        }
    }

    /// The signed `/welcome_information` request of `member` (this device's
    /// member, added in `epoch`): its new leaf's key signs it.
    pub fn welcome_info_request(
        &self,
        member: &TestMember,
        group_id: &[u8],
        epoch: u64,
    ) -> Result<WelcomeInfoRequest, TestError> {
        let key = member.signer().public_key().to_vec();
        let created = now_ms();
        let signature = self
            .key
            .sign(&WelcomeInfoRequest::content_to_sign(
                group_id, epoch, &key, created,
            )?)
            .map_err(setup("signing a WelcomeInfoRequest"))?;
        Ok(WelcomeInfoRequest::new(
            group_id.to_vec(),
            epoch,
            key,
            created,
            signature,
        ))
    }

    /// The ratchet tree of the epoch `member` was added in, from the hub
    /// (`/welcome_information` through our provider).
    pub async fn welcome_information(
        &self,
        hub: &Domain,
        member: &TestMember,
        group_id: &[u8],
        epoch: u64,
    ) -> Result<Vec<u8>, TestError> {
        let request = self.welcome_info_request(member, group_id, epoch)?;
        match self
            .hub(hub, HubEndpoint::WelcomeInformation, request.encode()?)
            .await?
        {
            DSResponse::WelcomeInfo { ratchet_tree } => Ok(ratchet_tree),
            other => Err(TestError::BadAnswer(format!(
                "/welcome_information answered with {other:?}"
            ))),
        }
    }

    /// The room's GroupInfo and ratchet tree for an external join by this
    /// device (`/external_commit_information` through our provider): its
    /// chain and fresh CRLs, signed with its key.
    pub async fn external_commit_information(
        &self,
        hub: &Domain,
        group_id: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), TestError> {
        let chain = self.chain_der();
        let crls: Vec<Vec<u8>> = self.crls.iter().map(|c| c.der().to_vec()).collect();
        let created = now_ms();
        let signature = self
            .key
            .sign(&ExternalCommitInfoRequest::content_to_sign(
                group_id, &chain, &crls, created,
            )?)
            .map_err(setup("signing an ExternalCommitInfoRequest"))?;
        let request =
            ExternalCommitInfoRequest::new(group_id.to_vec(), chain, crls, created, signature);
        match self
            .hub(
                hub,
                HubEndpoint::ExternalCommitInformation,
                request.encode()?,
            )
            .await?
        {
            DSResponse::ExternalCommitInfo {
                group_info,
                ratchet_tree,
            } => Ok((group_info, ratchet_tree)),
            other => Err(TestError::BadAnswer(format!(
                "/external_commit_information answered with {other:?}"
            ))),
        }
    }

    /// The hub messages in this device's queue from `from_seq` on (at most
    /// 1000), each with its queue sequence number, decoded.
    pub async fn fanout(&self, from_seq: u64) -> Result<Vec<(u64, FanoutMessage)>, TestError> {
        self.fetch(from_seq, mimi_wire::MAX_FETCH_LIMIT)
            .await?
            .into_messages()
            .into_iter()
            .map(|m| Ok((m.seq(), FanoutMessage::decode(m.message())?)))
            .collect()
    }

    /// Polls the queue until it holds at least `count` hub messages from
    /// `from_seq` on and returns them all; an error after `within` (a
    /// guard against a hanging test, not a timing assertion).
    pub async fn wait_fanout(
        &self,
        from_seq: u64,
        count: usize,
        within: Duration,
    ) -> Result<Vec<(u64, FanoutMessage)>, TestError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let messages = self.fanout(from_seq).await?;
            if messages.len() >= count {
                return Ok(messages);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TestError::Http(format!(
                    "{}: {} of {count} hub messages arrived within {within:?}",
                    self.device,
                    messages.len()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// What the hub answered to an accepted group operation
/// (`DSResponse::Accepted`, docs/wire-spec.md §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubAccepted {
    /// The group's epoch after the operation.
    pub epoch: u64,
    /// The operation's number in the group's sequence.
    pub group_sequence: u64,
    pub hub_timestamp_ms: u64,
}

/// The group ID of a GroupInfo (`MLSMessage`, RFC 9420 §6 and §12.4.3:
/// version, wire format `mls_group_info`, then the GroupContext's version,
/// cipher suite and `group_id<V>`), read without parsing the rest.
pub fn group_id_of(group_info: &[u8]) -> Result<Vec<u8>, TestError> {
    let bad = |why: &str| TestError::BadAnswer(format!("not a GroupInfo MLSMessage: {why}"));
    if group_info.get(..4) != Some(&[0, 1, 0, 4][..]) {
        return Err(bad("its header is not mls10 + mls_group_info"));
    }
    // GroupContext: version (2), cipher suite (2), then the group ID.
    let rest = group_info.get(8..).ok_or_else(|| bad("truncated"))?;
    let (&first, _) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    // RFC 9420 §2.1.2 variable-length integer: 1, 2 or 4 bytes.
    let (prefix, len) = match first >> 6 {
        0 => (1, usize::from(first & 0x3f)),
        1 => {
            let b = rest.get(1).ok_or_else(|| bad("truncated"))?;
            (2, (usize::from(first & 0x3f) << 8) | usize::from(*b))
        }
        2 => {
            let b = rest.get(1..4).ok_or_else(|| bad("truncated"))?;
            (
                4,
                (usize::from(first & 0x3f) << 24)
                    | (usize::from(b[0]) << 16)
                    | (usize::from(b[1]) << 8)
                    | usize::from(b[2]),
            )
        }
        _ => return Err(bad("a bad length prefix")),
    };
    rest.get(prefix..prefix + len)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| bad("its group ID is truncated"))
}

/// A TLS 1.3 client config trusting only `root`, without ALPN: HTTP/1.1, as
/// the WebSocket upgrade needs.
fn ws_tls_config(root: CertificateDer<'static>) -> Result<Arc<rustls::ClientConfig>, TestError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).map_err(setup("TLS root"))?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(setup("TLS client"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

type WsStream = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// The client side of a `listen` WebSocket.
#[derive(Debug)]
pub struct Listener {
    ws: WsStream,
}

/// What arrived on a [`Listener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// A binary frame: one `FetchResponse`.
    Frame(FetchResponse),
    /// The server closed the connection, with this close code if it sent
    /// one (a provider that stops cuts its WebSockets off without one).
    Closed(Option<u16>),
}

/// Whether `e` is the connection ending without a WebSocket close frame:
/// end of stream, reset, or TLS ending without `close_notify`.
fn closed_without_handshake(e: &tungstenite::Error) -> bool {
    use std::io::ErrorKind;
    match e {
        tungstenite::Error::ConnectionClosed => true,
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ) => true,
        tungstenite::Error::Io(io) => matches!(
            io.kind(),
            ErrorKind::UnexpectedEof
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

impl Listener {
    /// The next frame or the close, skipping pings and pongs; waits at most
    /// `within` (a guard against a hanging test, not a timing assertion).
    pub async fn next(&mut self, within: Duration) -> Result<Pushed, TestError> {
        let next = async {
            loop {
                match self.ws.next().await {
                    None => return Ok(Pushed::Closed(None)),
                    Some(Err(e)) if closed_without_handshake(&e) => {
                        return Ok(Pushed::Closed(None));
                    }
                    Some(Err(e)) => return Err(TestError::Http(format!("WebSocket: {e}"))),
                    Some(Ok(tungstenite::Message::Binary(bytes))) => {
                        return Ok(Pushed::Frame(FetchResponse::decode(&bytes)?));
                    }
                    Some(Ok(tungstenite::Message::Close(frame))) => {
                        return Ok(Pushed::Closed(frame.map(|f| u16::from(f.code))));
                    }
                    Some(Ok(tungstenite::Message::Text(text))) => {
                        return Err(TestError::BadAnswer(format!(
                            "a text frame on the push WebSocket: {text}"
                        )));
                    }
                    Some(Ok(_)) => {}
                }
            }
        };
        tokio::time::timeout(within, next)
            .await
            .map_err(|_| TestError::Http(format!("nothing pushed within {within:?}")))?
    }

    /// The next `FetchResponse` frame; an error if the connection closes.
    pub async fn next_frame(&mut self, within: Duration) -> Result<FetchResponse, TestError> {
        match self.next(within).await? {
            Pushed::Frame(frame) => Ok(frame),
            Pushed::Closed(code) => Err(TestError::BadAnswer(format!(
                "the push WebSocket closed (code {code:?})"
            ))),
        }
    }

    /// Sends a data frame (which a client must not do: the server closes
    /// with 1008).
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), TestError> {
        self.ws
            .send(tungstenite::Message::Binary(bytes.into()))
            .await
            .map_err(|e| TestError::Http(format!("WebSocket send: {e}")))
    }

    /// Closes the connection (normal closure).
    pub async fn close(mut self) {
        let frame = tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "done".into(),
        };
        let _ = self.ws.close(Some(frame)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/t",
            ),
            (
                "postgres://postgres@127.0.0.1:5432",
                "postgres://postgres@127.0.0.1:5432/t",
            ),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/t?sslmode=disable",
            ),
        ] {
            assert_eq!(with_database(url, "t"), expected);
        }
    }

    #[test]
    fn pem_armour_has_64_character_lines() {
        let text = pem("PRIVATE KEY", &[0u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PRIVATE KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END PRIVATE KEY-----"));
    }
}
