//! The enrollment test kit (feature `test-utils`): a real domain CA and a
//! provider enrolling its users' devices at it, on loopback, over real TLS
//! (docs/enrollment.md, "The provider side"). Never enable it in a product.
//!
//! - [`TestDomainCa`]: mimi-acme's `domain_ca_router` over HTTPS with the
//!   domain CA certificate and key of the [`TestPki`] (issued by its
//!   identity root) and a TLS certificate from its TLS root, its own
//!   in-memory database, and a registrar binding created in it.
//! - [`EnrollmentSetup`]: that CA and one provider of the domain started
//!   from a real `provider.toml` with an `[enrollment]` table (the
//!   registrar binding's key in a 0600 file).
//! - [`EnrollingDevice`]: a device with an Ed25519 MLS key and no
//!   certificate: it enrolls (`enroll_user`, or `enroll_device` signed by a
//!   registered device), does ACME itself with mimi-acme-client (account
//!   with the binding, a `device` order, a CSR under its MLS key built with
//!   rcgen), registers with the chain, and uploads KeyPackages.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_acme::{DomainCa, Lifetimes, Limits, SqliteStore};
use mimi_acme_client::{
    Account, AccountKey, AcmeClient, ExternalAccountBinding, Identifier, KeyAlg, NewAccount,
};
use mimi_credentials::{Certificate, Crl, KeyPair, SignatureScheme, Subject, TnAuthList, Validity};
use mimi_identifiers::{DeviceId, Domain, PhoneNumber, UserId};
use mimi_mls::test_utils::{KeyPackageParams, TestSigner, key_package};
use mimi_storage::SqliteStorage;
use mimi_transport::OCTET_STREAM;
use mimi_transport::https::{self, ResolverMap};
use mimi_wire::client_api::{EnrollDeviceRequest, EnrollUserRequest, EnrollmentResponse};
use mimi_wire::{
    ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs, RegisterRequest,
    RegisterResponse, UploadKeyPackagesRequest, UploadKeyPackagesResponse,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

use crate::config::{ProviderConfig, RegistrationPolicy};
use crate::enrollment::NewInvite;
use crate::server::{Running, start_on};
use crate::state::Provider;
use crate::testing::{Reply, TestError, TestPki, domain, now_ms, parse_handle};

fn setup<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> TestError + '_ {
    move |e| TestError::Setup(format!("{what}: {e}"))
}

/// A running domain CA of one domain, on loopback.
#[derive(Debug)]
pub struct TestDomainCa {
    host: String,
    addr: SocketAddr,
    directory_url: String,
    store: SqliteStore,
    registrar_kid: String,
    registrar_key: Vec<u8>,
    phone_ca: Option<Certificate>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestDomainCa {
    /// The domain CA of `domain` at `https://<host>:<port>`: `pki` must
    /// cover both (`TestPki::new(&[domain, host])`), for the domain CA
    /// certificate and the HTTPS certificate.
    pub async fn start(pki: &TestPki, domain_name: &str, host: &str) -> Result<Self, TestError> {
        Self::start_with(pki, domain_name, host, None).await
    }

    /// [`TestDomainCa::start`], holding a phone-number CA for `numbers`
    /// too (issued by the PKI's identity root, name-constrained to the
    /// domain; its CRL is `/acme/crl/phone-ca/0`).
    pub async fn start_with(
        pki: &TestPki,
        domain_name: &str,
        host: &str,
        numbers: Option<TnAuthList>,
    ) -> Result<Self, TestError> {
        let ca = pki.domain_ca(domain_name)?;
        let key = KeyPair::from_pkcs8_der(&ca.key().to_pkcs8_der(), ca.key().scheme())
            .map_err(setup("domain CA key"))?;
        let mut domain_ca = DomainCa::new(
            domain(domain_name)?,
            vec![ca.certificate().clone()],
            key,
            Lifetimes::default(),
        )
        .map_err(setup("domain CA"))?;
        let mut phone_ca = None;
        if let Some(numbers) = numbers {
            let now = std::time::SystemTime::now();
            let validity = Validity::new(
                now - Duration::from_secs(3600),
                now + Duration::from_secs(30 * 86_400),
            )
            .map_err(setup("phone-number CA validity"))?;
            let issued = pki
                .identity_root_ca()
                .issue_ca(
                    &Subject::PhoneCa {
                        domain: domain(domain_name)?,
                        numbers,
                    },
                    SignatureScheme::EcdsaP256Sha256,
                    validity,
                )
                .map_err(setup("phone-number CA"))?;
            let key = KeyPair::from_pkcs8_der(&issued.key().to_pkcs8_der(), issued.key().scheme())
                .map_err(setup("phone-number CA key"))?;
            domain_ca = domain_ca
                .with_phone_ca(vec![issued.certificate().clone()], key)
                .map_err(setup("phone-number CA"))?;
            phone_ca = Some(issued.certificate().clone());
        }
        let files = pki.provider_files(host)?;
        let tls = https::server_config(
            read_certs(&files.tls_certificate)?,
            read_key(&files.tls_key)?,
        )
        .map_err(setup("domain CA TLS"))?;
        let store = SqliteStore::in_memory()
            .await
            .map_err(setup("domain CA store"))?;
        let now = i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX);
        let (registrar_kid, registrar_key) = mimi_acme::create_registrar_eab(&store, now)
            .await
            .map_err(setup("registrar binding"))?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(setup("binding a loopback port"))?;
        let addr = listener.local_addr().map_err(setup("local address"))?;
        let base = format!("https://{host}:{}", addr.port());
        let app = mimi_acme::domain_ca_router(store.clone(), domain_ca, &base, Limits::default())
            .map_err(setup("domain CA router"))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(https::serve_tls(listener, tls, app, async {
            let _ = stopped.await;
        }));
        Ok(TestDomainCa {
            host: host.to_owned(),
            addr,
            directory_url: format!("{base}/acme/directory"),
            store,
            registrar_kid,
            registrar_key,
            phone_ca,
            stop: Some(stop),
        })
    }

    /// The phone-number CA's certificate, if it holds one.
    pub fn phone_ca(&self) -> Option<&Certificate> {
        self.phone_ca.as_ref()
    }

    /// Stops serving (the CA is down from now on).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn directory_url(&self) -> &str {
        &self.directory_url
    }

    /// The CA's database, for assertions.
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }

    /// The registrar binding's key identifier, as the operator would give it.
    pub fn registrar_kid(&self) -> &str {
        &self.registrar_kid
    }

    /// The registrar binding's MAC key, base64url, as `mimi-server domain-ca
    /// registrar-eab` prints it.
    pub fn registrar_key_b64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.registrar_key)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TestError> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(setup("reading a PEM certificate"))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TestError> {
    use rustls_pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_file(path).map_err(setup("reading a PEM key"))
}

/// The identity authority's CRL endpoint (`/acme/crl/identity-root`) on
/// loopback over TLS: serves what the test sets — the identity root's CRL
/// at first, then garbage, another CRL, or 503 — for the provider's relay.
#[derive(Debug)]
pub struct TestCrlSource {
    url: String,
    addr: SocketAddr,
    host: String,
    body: Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The host name of the identity authority in an [`EnrollmentSetup`].
pub const AUTHORITY_HOST: &str = "authority.example";

impl TestCrlSource {
    /// Serves `initial` at `https://<host>:<port>/acme/crl/identity-root`
    /// (`pki` must cover `host`).
    pub async fn start(pki: &TestPki, host: &str, initial: Vec<u8>) -> Result<Self, TestError> {
        let files = pki.provider_files(host)?;
        let tls = https::server_config(
            read_certs(&files.tls_certificate)?,
            read_key(&files.tls_key)?,
        )
        .map_err(setup("CRL source TLS"))?;
        let body = Arc::new(std::sync::Mutex::new(Some(initial)));
        let served = body.clone();
        let app = axum::Router::new().route(
            "/acme/crl/identity-root",
            axum::routing::get(move || {
                let body = served.lock().map(|b| b.clone()).unwrap_or(None);
                async move {
                    match body {
                        Some(der) => (
                            axum::http::StatusCode::OK,
                            [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
                            der,
                        ),
                        None => (
                            axum::http::StatusCode::SERVICE_UNAVAILABLE,
                            [(axum::http::header::CONTENT_TYPE, "text/plain")],
                            b"down".to_vec(),
                        ),
                    }
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(setup("binding a loopback port"))?;
        let addr = listener.local_addr().map_err(setup("local address"))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(https::serve_tls(listener, tls, app, async {
            let _ = stopped.await;
        }));
        Ok(TestCrlSource {
            url: format!("https://{host}:{}/acme/crl/identity-root", addr.port()),
            addr,
            host: host.to_owned(),
            body,
            _stop: stop,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the endpoint answers from now on: these bytes, or 503 (`None`).
    pub fn set_body(&self, body: Option<Vec<u8>>) {
        if let Ok(mut held) = self.body.lock() {
            *held = body;
        }
    }
}

/// A domain CA and a provider of its domain configured to enroll at it,
/// on SQLite, relaying the CRLs of the domain CA and of the identity root
/// (served by a [`TestCrlSource`]).
#[derive(Debug)]
pub struct EnrollmentSetup {
    pki: TestPki,
    ca: TestDomainCa,
    authority: TestCrlSource,
    domain: Domain,
    running: Running,
    resolve: ResolverMap,
    http: reqwest::Client,
}

/// The host name of the domain CA of `domain` in an [`EnrollmentSetup`].
pub fn ca_host(domain: &str) -> String {
    format!("ca.{domain}")
}

impl EnrollmentSetup {
    /// A domain CA for `domain_name` and its provider, registering users
    /// under `policy`, both on loopback.
    pub async fn start(domain_name: &str, policy: RegistrationPolicy) -> Result<Self, TestError> {
        Self::start_with(domain_name, policy, None).await
    }

    /// [`EnrollmentSetup::start`] with a domain CA holding a phone-number
    /// CA for `numbers`.
    pub async fn start_with(
        domain_name: &str,
        policy: RegistrationPolicy,
        numbers: Option<TnAuthList>,
    ) -> Result<Self, TestError> {
        let host = ca_host(domain_name);
        let pki = TestPki::new(&[domain_name, &host, AUTHORITY_HOST])?;
        let ca = TestDomainCa::start_with(&pki, domain_name, &host, numbers).await?;
        let root_crl = pki.crls(domain_name)?.remove(0);
        let authority = TestCrlSource::start(&pki, AUTHORITY_HOST, root_crl.der().to_vec()).await?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(setup("binding a loopback port"))?;
        let addr = listener.local_addr().map_err(setup("local address"))?;
        let mut resolve = ResolverMap::new();
        resolve.insert(domain_name.to_owned(), addr);
        resolve.insert(host.clone(), ca.addr());
        resolve.insert(authority.host.clone(), authority.addr);
        let config = write_config(&pki, &ca, &authority, domain_name, policy, &resolve)?;
        let settings = ProviderConfig::load(&config).map_err(setup("provider config"))?;
        let running = start_on(settings, vec![listener])
            .await
            .map_err(setup("provider start"))?;
        let http = https::client(&[pki.tls_root_der()], &resolve).map_err(setup("HTTPS client"))?;
        Ok(EnrollmentSetup {
            domain: domain(domain_name)?,
            pki,
            ca,
            authority,
            running,
            resolve,
            http,
        })
    }

    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    pub fn ca(&self) -> &TestDomainCa {
        &self.ca
    }

    /// Stops the domain CA (it is down from now on).
    pub fn stop_ca(&mut self) {
        self.ca.stop();
    }

    /// The identity authority's CRL endpoint.
    pub fn authority(&self) -> &TestCrlSource {
        &self.authority
    }

    /// `GET /.well-known/mimi/crls` at the provider: the relayed CRLs (the
    /// bundle decoded, each CRL parsed), and the Content-Type and
    /// Cache-Control headers.
    pub async fn served_crls(
        &self,
    ) -> Result<(Vec<Crl>, Option<String>, Option<String>), TestError> {
        let url = format!(
            "https://{}{}",
            self.domain,
            mimi_wire::crls::CRL_BUNDLE_PATH
        );
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TestError::Http(e.to_string()))?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (content_type, cache_control) = (header("content-type"), header("cache-control"));
        let body = response
            .bytes()
            .await
            .map_err(|e| TestError::Http(e.to_string()))?;
        let bundle = mimi_wire::crls::CrlBundle::decode(&body)?;
        let crls = bundle
            .crls()
            .into_iter()
            .map(|der| Crl::from_der(der).map_err(setup("a relayed CRL")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((crls, content_type, cache_control))
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The provider's state (its storage, for assertions).
    pub fn provider(&self) -> Result<Arc<Provider<SqliteStorage>>, TestError> {
        self.running
            .provider::<SqliteStorage>()
            .ok_or_else(|| TestError::Setup("the provider does not run on SQLite".into()))
    }

    /// The provider's data directory.
    pub fn data_dir(&self) -> Result<std::path::PathBuf, TestError> {
        Ok(self.provider()?.settings().data_dir.clone())
    }

    /// An invite for `user` (a user name) as `mimi-server provider invite`
    /// makes it, valid for `lifetime`.
    pub async fn invite(&self, user: &str, lifetime: Duration) -> Result<NewInvite, TestError> {
        let provider = self.provider()?;
        let user = UserId::new(user, Some(self.domain.clone())).map_err(setup("user"))?;
        crate::enrollment::create_invite(provider.storage().as_ref(), &user, lifetime)
            .await
            .map_err(setup("invite"))
    }

    /// A new device `device` of `user`, with a fresh Ed25519 key and no
    /// certificate.
    pub fn device(&self, user: &str, device: &str) -> Result<EnrollingDevice, TestError> {
        let user = UserId::new(user, Some(self.domain.clone())).map_err(setup("user"))?;
        let device = DeviceId::new(&user, device).map_err(setup("device"))?;
        Ok(EnrollingDevice {
            device,
            domain: self.domain.clone(),
            key: new_key()?,
            http: self.http.clone(),
            tls_root_pem: self.pki.tls_root().pem(),
            ca_host: self.ca.host.clone(),
            ca_addr: self.ca.addr,
            root_crl: self.pki.crls(self.domain.as_str())?.remove(0),
            chain: Vec::new(),
            registration: None,
            phone_numbers: Vec::new(),
        })
    }

    /// The HTTPS client of the setup (trusting the TLS root, resolving the
    /// provider and the CA).
    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    pub fn resolver(&self) -> &ResolverMap {
        &self.resolve
    }

    /// Stops the provider (the domain CA stops when this is dropped).
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

fn write_config(
    pki: &TestPki,
    ca: &TestDomainCa,
    authority: &TestCrlSource,
    domain_name: &str,
    policy: RegistrationPolicy,
    resolve: &ResolverMap,
) -> Result<std::path::PathBuf, TestError> {
    let files = pki.provider_files(domain_name)?;
    let dir = pki.dir().join(domain_name);
    let key_file = dir.join("registrar-eab.key");
    crate::secret_file::create(&key_file, ca.registrar_key_b64().as_bytes())
        .map_err(setup("registrar key file"))?;
    let quoted = |p: &Path| format!("{:?}", p.display().to_string());
    let mut resolved = String::new();
    for (name, addr) in resolve {
        resolved.push_str(&format!("{name:?} = \"{addr}\"\n"));
    }
    let registration = match policy {
        RegistrationPolicy::Invite => "invite",
        RegistrationPolicy::Open => "open",
    };
    let text = format!(
        "domain = {domain_name:?}\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"data\"\n\
         tls_certificate = {}\ntls_key = {}\ntls_roots = [{}]\nidentity_roots = [{}]\n\
         [resolve]\n{resolved}\n\
         [enrollment]\ndirectory_url = {:?}\ntls_roots = [{}]\nregistrar_eab_kid = {:?}\n\
         registrar_eab_key_file = \"registrar-eab.key\"\nregistration = {registration:?}\n\
         [revocation]\ncrl_urls = [{:?}]\n",
        quoted(&files.tls_certificate),
        quoted(&files.tls_key),
        quoted(&files.tls_root),
        quoted(&files.identity_root),
        ca.directory_url,
        quoted(&files.tls_root),
        ca.registrar_kid,
        authority.url,
    );
    let path = dir.join("provider.toml");
    std::fs::write(&path, text).map_err(setup("writing provider.toml"))?;
    Ok(path)
}

fn new_key() -> Result<KeyPair, TestError> {
    KeyPair::generate(SignatureScheme::Ed25519).map_err(setup("device key"))
}

/// A device enrolling at its provider's domain CA.
#[derive(Debug)]
pub struct EnrollingDevice {
    device: DeviceId,
    domain: Domain,
    key: KeyPair,
    http: reqwest::Client,
    tls_root_pem: String,
    ca_host: String,
    ca_addr: SocketAddr,
    root_crl: Crl,
    chain: Vec<Certificate>,
    registration: Option<RegisterResponse>,
    /// Numbers its orders name besides its URIs (TNAuthList).
    phone_numbers: Vec<PhoneNumber>,
}

impl EnrollingDevice {
    pub fn device_id(&self) -> &DeviceId {
        &self.device
    }

    /// `mimi://<domain>/d/<user>/<device>`.
    pub fn client_uri(&self) -> String {
        crate::clients::device_uri(&self.device).unwrap_or_else(|_| self.device.to_string())
    }

    /// `mimi://<domain>/u/<user>`.
    pub fn user_uri(&self) -> String {
        self.device
            .user()
            .and_then(|u| crate::clients::user_uri(&u).ok())
            .unwrap_or_default()
    }

    /// Orders from now on name these numbers too (TNAuthList identifiers,
    /// and the CSR's TNAuthList extension).
    pub fn set_phone_numbers(&mut self, numbers: Vec<PhoneNumber>) {
        self.phone_numbers = numbers;
    }

    /// The MLS signature key.
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// The key's SubjectPublicKeyInfo (what enrollment names).
    pub fn spki(&self) -> Vec<u8> {
        self.key.public_key().spki_der().to_vec()
    }

    /// Draws a new MLS signature key (to renew with it).
    pub fn rotate_key(&mut self) -> Result<(), TestError> {
        self.key = new_key()?;
        Ok(())
    }

    /// The certificate chain the last ACME run got, leaf first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    pub fn registration(&self) -> Option<&RegisterResponse> {
        self.registration.as_ref()
    }

    /// `body` as a request of this device signed with `key`, encoded.
    pub fn signed_with(
        &self,
        key: &KeyPair,
        body: impl Into<ClientRequestBody>,
    ) -> Result<Vec<u8>, TestError> {
        let tbs = ClientRequestTbs::new(&self.device, now_ms(), body)?;
        let signature = key
            .sign(&tbs.signed_content()?)
            .map_err(setup("signing a client request"))?;
        Ok(ClientRequest::new(tbs, signature).encode()?)
    }

    /// `body` signed with this device's key.
    pub fn signed(&self, body: impl Into<ClientRequestBody>) -> Result<Vec<u8>, TestError> {
        self.signed_with(&self.key, body)
    }

    /// POSTs `bytes` to the endpoint of `operation` at the provider.
    pub async fn post(
        &self,
        operation: ClientOperation,
        bytes: Vec<u8>,
    ) -> Result<Reply, TestError> {
        let url = format!("https://{}{}", self.domain, operation.endpoint_path());
        let response = self
            .http
            .post(url)
            .header("content-type", OCTET_STREAM)
            .body(bytes)
            .send()
            .await
            .map_err(|e| TestError::Http(e.to_string()))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type");
        let retry_after = header("retry-after");
        let body = response
            .bytes()
            .await
            .map_err(|e| TestError::Http(e.to_string()))?
            .to_vec();
        Ok(Reply {
            status,
            content_type,
            retry_after,
            body,
        })
    }

    /// The `enroll_user` request of this device with `invite_code`.
    pub fn enroll_user_request(&self, invite_code: &str) -> EnrollUserRequest {
        EnrollUserRequest::new(invite_code, self.spki())
    }

    /// `enroll_user`: this device as its user's first device.
    pub async fn enroll_user(&self, invite_code: &str) -> Result<EnrollmentResponse, TestError> {
        let bytes = self.signed(self.enroll_user_request(invite_code))?;
        let answer = self
            .post(ClientOperation::EnrollUser, bytes)
            .await?
            .success()?;
        Ok(EnrollmentResponse::decode(&answer)?)
    }

    /// The `enroll_device` request naming this device and its key.
    pub fn enroll_device_request(&self) -> Result<EnrollDeviceRequest, TestError> {
        Ok(EnrollDeviceRequest::new(&self.device, self.spki())?)
    }

    /// `enroll_device` for this device, signed by the registered `by`.
    pub async fn enroll_by(&self, by: &EnrollingDevice) -> Result<EnrollmentResponse, TestError> {
        let bytes = by.signed(self.enroll_device_request()?)?;
        let answer = by
            .post(ClientOperation::EnrollDevice, bytes)
            .await?
            .success()?;
        Ok(EnrollmentResponse::decode(&answer)?)
    }

    /// An ACME client for the domain CA of `grant`.
    pub async fn acme_client(&self, grant: &EnrollmentResponse) -> Result<AcmeClient, TestError> {
        AcmeClient::builder(grant.directory_url())
            .roots_pem(self.tls_root_pem.as_bytes())
            .resolve(&self.ca_host, self.ca_addr)
            .build()
            .await
            .map_err(setup("ACME client"))
    }

    /// The ACME account of this device, created with `grant`'s binding
    /// (its own key, not the MLS key).
    pub async fn acme_account(&self, grant: &EnrollmentResponse) -> Result<Account, TestError> {
        let client = self.acme_client(grant).await?;
        let binding = ExternalAccountBinding::new(grant.eab_kid(), grant.eab_hmac_key());
        let new = NewAccount {
            terms_of_service_agreed: true,
            external_account_binding: Some(&binding),
            ..NewAccount::default()
        };
        let key = AccountKey::generate(KeyAlg::EdDsa).map_err(setup("ACME account key"))?;
        let (account, _) = Account::create(&client, key, &new)
            .await
            .map_err(setup("ACME account"))?;
        Ok(account)
    }

    /// A CSR (DER) under `key` naming `uris`.
    pub fn csr(key: &KeyPair, uris: &[String]) -> Result<Vec<u8>, TestError> {
        Self::csr_with_numbers(key, uris, &[])
    }

    /// A CSR (DER) under `key` naming `uris`, and `numbers` in a TNAuthList
    /// extension (RFC 8226) if any.
    pub fn csr_with_numbers(
        key: &KeyPair,
        uris: &[String],
        numbers: &[PhoneNumber],
    ) -> Result<Vec<u8>, TestError> {
        let der = PrivatePkcs8KeyDer::from(key.to_pkcs8_der());
        let rcgen_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
            .map_err(setup("CSR key"))?;
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = uris
            .iter()
            .map(|u| {
                rcgen::string::Ia5String::try_from(u.as_str())
                    .map(rcgen::SanType::URI)
                    .map_err(setup("CSR URI"))
            })
            .collect::<Result<_, _>>()?;
        if !numbers.is_empty() {
            let list = mimi_credentials::TnAuthList::new(
                numbers
                    .iter()
                    .map(|n| mimi_credentials::TnEntry::One(n.into()))
                    .collect(),
            )
            .map_err(setup("TNAuthList"))?;
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 5, 5, 7, 1, 26],
                    list.to_der(),
                ));
        }
        Ok(params
            .serialize_request(&rcgen_key)
            .map_err(setup("CSR"))?
            .der()
            .to_vec())
    }

    /// Orders a `device` certificate for the user and device URIs with
    /// `account` and finalizes it with a CSR under `key`; returns the chain.
    pub async fn order(
        &self,
        account: &Account,
        key: &KeyPair,
    ) -> Result<Vec<Certificate>, TestError> {
        let uris = [self.user_uri(), self.client_uri()];
        let mut identifiers = vec![
            Identifier {
                type_: "mimi-user".into(),
                value: uris[0].clone(),
            },
            Identifier {
                type_: "mimi-device".into(),
                value: uris[1].clone(),
            },
        ];
        identifiers.extend(self.phone_numbers.iter().map(|n| Identifier {
            type_: "TNAuthList".into(),
            value: URL_SAFE_NO_PAD.encode(TnAuthList::one(n).to_der()),
        }));
        let mut order = account
            .new_order(&identifiers, Some("device"), None)
            .await
            .map_err(setup("newOrder"))?;
        order.poll_ready().await.map_err(setup("order ready"))?;
        order
            .finalize(&Self::csr_with_numbers(key, &uris, &self.phone_numbers)?)
            .await
            .map_err(setup("finalize"))?;
        order.poll_valid().await.map_err(setup("order valid"))?;
        let chain = order
            .certificate_chain()
            .await
            .map_err(setup("certificate chain"))?;
        chain
            .iter()
            .map(|der| Certificate::from_der(der).map_err(setup("certificate")))
            .collect()
    }

    /// The whole ACME run with `grant`: account, order, CSR under this
    /// device's key; keeps and returns the chain and the account.
    pub async fn acme(&mut self, grant: &EnrollmentResponse) -> Result<Account, TestError> {
        let account = self.acme_account(grant).await?;
        self.certify(&account).await?;
        Ok(account)
    }

    /// Orders a certificate for this device's key with `account` and keeps
    /// the chain.
    pub async fn certify(&mut self, account: &Account) -> Result<(), TestError> {
        self.chain = self.order(account, &self.key).await?;
        Ok(())
    }

    /// Fresh CRLs for the chain: the identity root's and the domain CA's
    /// (fetched from the CA, as a client would), and the phone-number CA's
    /// if the device orders numbers.
    pub async fn crls(&self) -> Result<Vec<Crl>, TestError> {
        let mut crls = vec![self.root_crl.clone(), self.ca_crl("domain-ca").await?];
        if !self.phone_numbers.is_empty() {
            crls.push(self.ca_crl("phone-ca/0").await?);
        }
        Ok(crls)
    }

    /// The domain CA's CRL at `/acme/crl/<which>`.
    async fn ca_crl(&self, which: &str) -> Result<Crl, TestError> {
        let url = format!(
            "https://{}:{}/acme/crl/{which}",
            self.ca_host,
            self.ca_addr.port()
        );
        let der = self
            .http
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| TestError::Http(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| TestError::Http(e.to_string()))?;
        Crl::from_der(&der).map_err(setup("domain CA CRL"))
    }

    /// The `register` request with `chain` and the CRLs.
    pub async fn register_request(
        &self,
        chain: &[Certificate],
        handle: Option<&str>,
    ) -> Result<RegisterRequest, TestError> {
        let handle = handle.map(parse_handle).transpose()?;
        Ok(RegisterRequest::new(
            chain.iter().map(|c| c.der().to_vec()).collect(),
            self.crls()
                .await?
                .iter()
                .map(|c| c.der().to_vec())
                .collect(),
            handle.as_ref(),
        ))
    }

    /// `register` with the chain of the last ACME run, signed with the
    /// device's key; remembers the queue.
    pub async fn register(&mut self, handle: Option<&str>) -> Result<RegisterResponse, TestError> {
        let request = self.register_request(&self.chain, handle).await?;
        let answer = self
            .post(ClientOperation::Register, self.signed(request)?)
            .await?
            .success()?;
        let response = RegisterResponse::decode(&answer)?;
        self.registration = Some(response.clone());
        Ok(response)
    }

    /// Builds `n` KeyPackages with the device's key and chain and uploads
    /// them.
    pub async fn upload_key_packages(
        &self,
        n: usize,
    ) -> Result<UploadKeyPackagesResponse, TestError> {
        let registration = self
            .registration
            .as_ref()
            .ok_or_else(|| TestError::Setup(format!("{} is not registered", self.device)))?;
        let reference = mimi_mls::seal_queue_reference(
            registration.queue_key(),
            &self.domain,
            registration.queue_id(),
        )
        .map_err(setup("sealing the queue ID"))?;
        let signer =
            TestSigner::from_pkcs8(&self.key.to_pkcs8_der(), mimi_mls::SignatureScheme::ED25519)
                .map_err(setup("MLS signer"))?;
        let chain: Vec<Vec<u8>> = self.chain.iter().map(|c| c.der().to_vec()).collect();
        let mut key_packages = Vec::with_capacity(n);
        for _ in 0..n {
            let params = KeyPackageParams::new(&signer, chain.clone(), reference.clone());
            key_packages.push(key_package(&params).map_err(setup("KeyPackage"))?.bytes);
        }
        let request = UploadKeyPackagesRequest::new(key_packages, false);
        let answer = self
            .post(ClientOperation::UploadKeyPackages, self.signed(request)?)
            .await?
            .success()?;
        Ok(UploadKeyPackagesResponse::decode(&answer)?)
    }
}
