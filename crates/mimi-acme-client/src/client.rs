//! The HTTP side: the directory (RFC 8555 §7.1.1), replay nonces (§6.5,
//! with one retry after badNonce), signed POSTs (§6.2), POST-as-GET (§6.3),
//! bounded reads and problem documents (§6.7).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Problem, Result};
use crate::key::AccountKey;
use crate::time::parse_retry_after;

/// Largest JSON object read (directory, account, order, authorization,
/// challenge, renewal information, problem document).
pub const MAX_JSON_LEN: usize = 64 * 1024;
/// Largest certificate chain read.
pub const MAX_CHAIN_LEN: usize = 1024 * 1024;
/// Most nonces kept for later requests; more are dropped, as each response
/// brings a fresh one anyway.
const MAX_POOLED_NONCES: usize = 16;
/// Longest nonce kept: a server sending more is not sending a nonce.
const MAX_NONCE_LEN: usize = 256;

const JOSE_JSON: &str = "application/jose+json";

/// The directory (RFC 8555 §7.1.1), with the resources of RFC 9773 and
/// MIMI's `mimiNewEab`.
///
/// `mimi_acme::objects::Directory` is the server's serializing type and
/// cannot be deserialized; this one also tolerates absent optional members.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    #[serde(default)]
    pub revoke_cert: Option<String>,
    #[serde(default)]
    pub key_change: Option<String>,
    /// ARI (RFC 9773 §3).
    #[serde(default)]
    pub renewal_info: Option<String>,
    /// MIMI domain CAs: issue external account bindings for pre-authorized
    /// identifiers (docs/enrollment.md).
    #[serde(default)]
    pub mimi_new_eab: Option<String>,
    #[serde(default)]
    pub meta: DirectoryMeta,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(default)]
    pub terms_of_service: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub external_account_required: bool,
    /// draft-ietf-acme-profiles: profile name → description.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, String>,
}

/// How long to wait for an order or authorization to change state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// The first wait when the server sends no Retry-After; doubled after
    /// each poll up to `max_interval`.
    pub interval: Duration,
    pub max_interval: Duration,
    /// The total wait after which polling gives up. A Retry-After that
    /// would go past it ends polling at once.
    pub max_wait: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(10),
            max_wait: Duration::from_secs(120),
        }
    }
}

/// Builds an [`AcmeClient`]: trust roots, name overrides, timeouts.
#[derive(Debug)]
pub struct AcmeClientBuilder {
    directory_url: String,
    roots: RootCertStore,
    bad_roots: Vec<String>,
    resolve: Vec<(String, SocketAddr)>,
    timeout: Duration,
    poll: PollPolicy,
}

impl AcmeClientBuilder {
    /// Trusts `root` (DER) for the server's TLS certificate.
    pub fn root(mut self, root: CertificateDer<'static>) -> Self {
        if let Err(e) = self.roots.add(root) {
            self.bad_roots.push(e.to_string());
        }
        self
    }

    /// Trusts every certificate of a PEM text.
    pub fn roots_pem(mut self, pem: &[u8]) -> Self {
        let before = self.roots.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            match cert {
                Ok(cert) => self = self.root(cert),
                Err(e) => self.bad_roots.push(e.to_string()),
            }
        }
        if self.roots.len() == before && self.bad_roots.is_empty() {
            self.bad_roots
                .push("the PEM text holds no CERTIFICATE block".to_owned());
        }
        self
    }

    /// Trusts the roots of a prepared store (added to any given before).
    pub fn root_store(mut self, store: RootCertStore) -> Self {
        self.roots.extend(store.roots);
        self
    }

    /// Connects to `addr` for the host `name` instead of resolving it
    /// (loopback deployments and tests; TLS still checks the name).
    pub fn resolve(mut self, name: &str, addr: SocketAddr) -> Self {
        self.resolve.push((name.to_owned(), addr));
        self
    }

    /// The timeout of each HTTP request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn poll_policy(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// Fetches the directory and returns the client.
    pub async fn build(self) -> Result<AcmeClient> {
        if let Some(e) = self.bad_roots.first() {
            return Err(Error::InvalidInput(format!(
                "a trust root is not usable: {e}; give DER or PEM X.509 CA certificates"
            )));
        }
        if self.roots.is_empty() {
            return Err(Error::InvalidInput(
                "no trust roots were given; add the CA certificate the ACME server's TLS certificate chains to".to_owned(),
            ));
        }
        require_https(&self.directory_url)?;
        let http = self.http_client()?;
        let directory_url = self.directory_url;
        let reply = get(&http, &directory_url, MAX_JSON_LEN).await?;
        let directory: Directory = reply.ok_json()?;
        for url in [
            Some(&directory.new_nonce),
            Some(&directory.new_account),
            Some(&directory.new_order),
            directory.revoke_cert.as_ref(),
            directory.key_change.as_ref(),
            directory.renewal_info.as_ref(),
            directory.mimi_new_eab.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            require_https(url).map_err(|_| {
                Error::bad_response(
                    &directory_url,
                    format!("the directory lists {url:?}, which is not an https URL"),
                )
            })?;
        }
        Ok(AcmeClient {
            inner: Arc::new(Inner {
                http,
                directory_url,
                directory,
                nonces: Mutex::new(Vec::new()),
                poll: self.poll,
            }),
        })
    }

    fn http_client(&self) -> Result<reqwest::Client> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::InvalidInput(format!("cannot configure TLS: {e}")))?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            // RFC 8555 gives every resource by URL; a redirect is not ACME.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mimi-acme-client/", env!("CARGO_PKG_VERSION")));
        for (name, addr) in &self.resolve {
            builder = builder.resolve(name, *addr);
        }
        builder
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the HTTPS client: {e}")))
    }
}

/// An ACME server, as seen through its directory. Cheap to clone; clones
/// share the nonce pool.
#[derive(Debug, Clone)]
pub struct AcmeClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    directory_url: String,
    directory: Directory,
    nonces: Mutex<Vec<String>>,
    poll: PollPolicy,
}

/// Who signs a request: an account (`kid`) or a key carried as `jwk`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signer<'a> {
    Account { key: &'a AccountKey, kid: &'a str },
    Jwk(&'a AccountKey),
}

/// An answer that was read whole, within its size limit.
#[derive(Debug)]
pub(crate) struct Reply {
    pub url: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl AcmeClient {
    /// A client for the ACME server whose directory is at `directory_url`
    /// (https), trusting `roots` for its TLS certificate.
    pub async fn new(directory_url: &str, roots: RootCertStore) -> Result<AcmeClient> {
        AcmeClient::builder(directory_url)
            .root_store(roots)
            .build()
            .await
    }

    pub fn builder(directory_url: &str) -> AcmeClientBuilder {
        AcmeClientBuilder {
            directory_url: directory_url.to_owned(),
            roots: RootCertStore::empty(),
            bad_roots: Vec::new(),
            resolve: Vec::new(),
            timeout: Duration::from_secs(30),
            poll: PollPolicy::default(),
        }
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub fn directory_url(&self) -> &str {
        &self.inner.directory_url
    }

    pub(crate) fn poll_policy(&self) -> PollPolicy {
        self.inner.poll
    }

    /// A URL of the directory that the server may leave out.
    pub(crate) fn optional_url(
        &self,
        url: &Option<String>,
        name: &str,
        hint: &str,
    ) -> Result<String> {
        url.clone().ok_or_else(|| {
            Error::NotOffered(format!(
                "this ACME server does not offer {name} (its directory {} lists none): {hint}",
                self.inner.directory_url
            ))
        })
    }

    /// Puts `nonce` into the pool as if the server had sent it, so tests
    /// can provoke badNonce.
    #[cfg(feature = "dangerous-test-utils")]
    pub fn dangerous_push_nonce(&self, nonce: &str) {
        self.lock_nonces().push(nonce.to_owned());
    }

    /// A plain GET, read up to `limit` bytes (renewal information).
    pub(crate) async fn get(&self, url: &str, limit: usize) -> Result<Reply> {
        let reply = get(&self.inner.http, url, limit).await?;
        self.keep_nonce(&reply.headers);
        Ok(reply)
    }

    /// A signed POST to `url`: `payload` None is a POST-as-GET. A badNonce
    /// refusal is retried once with the nonce it carried (RFC 8555 §6.5);
    /// any other refusal is an [`Error::Problem`].
    pub(crate) async fn post(
        &self,
        url: &str,
        signer: Signer<'_>,
        payload: Option<&Value>,
        limit: usize,
    ) -> Result<Reply> {
        require_https(url)?;
        let mut retried = false;
        loop {
            let nonce = self.nonce().await?;
            let jws = match signer {
                Signer::Account { key, kid } => key.jws(url, Some(&nonce), Some(kid), payload)?,
                Signer::Jwk(key) => key.jws(url, Some(&nonce), None, payload)?,
            };
            let body = serde_json::to_vec(&jws)
                .map_err(|e| Error::InvalidInput(format!("the JWS cannot be encoded: {e}")))?;
            let response = self
                .inner
                .http
                .post(url)
                .header(CONTENT_TYPE, JOSE_JSON)
                .body(body)
                .send()
                .await
                .map_err(|e| Error::transport(url, &e))?;
            let reply = read(url, response, limit).await?;
            self.keep_nonce(&reply.headers);
            match reply.problem() {
                None => return Ok(reply),
                Some(e) if !retried && e.problem().is_some_and(|p| p.is("badNonce")) => {
                    tracing::debug!(url, "badNonce; retrying once with a fresh nonce");
                    retried = true;
                }
                Some(e) => return Err(e),
            }
        }
    }

    async fn nonce(&self) -> Result<String> {
        if let Some(nonce) = self.lock_nonces().pop() {
            return Ok(nonce);
        }
        let url = &self.inner.directory.new_nonce;
        let response = self
            .inner
            .http
            .head(url)
            .send()
            .await
            .map_err(|e| Error::transport(url, &e))?;
        let reply = read(url, response, MAX_JSON_LEN).await?;
        if let Some(e) = reply.problem() {
            return Err(e);
        }
        nonce_of(&reply.headers).ok_or_else(|| {
            Error::bad_response(
                url,
                "newNonce answered without a usable Replay-Nonce header",
            )
        })
    }

    fn keep_nonce(&self, headers: &HeaderMap) {
        if let Some(nonce) = nonce_of(headers) {
            let mut pool = self.lock_nonces();
            if pool.len() >= MAX_POOLED_NONCES {
                pool.remove(0);
            }
            pool.push(nonce);
        }
    }

    fn lock_nonces(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A panic while holding the lock leaves a plain Vec behind: usable.
        self.inner
            .nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A nonce from Replay-Nonce, if it is base64url of a sane length
/// (RFC 8555 §6.5.1).
fn nonce_of(headers: &HeaderMap) -> Option<String> {
    let nonce = headers.get("replay-nonce")?.to_str().ok()?;
    let ok = !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| nonce.to_owned())
}

fn require_https(url: &str) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => Ok(()),
        Ok(_) => Err(Error::InvalidInput(format!(
            "{url:?} is not an https URL; ACME is spoken over HTTPS only (RFC 8555 §6.1)"
        ))),
        Err(e) => Err(Error::InvalidInput(format!("{url:?} is not a URL: {e}"))),
    }
}

async fn get(http: &reqwest::Client, url: &str, limit: usize) -> Result<Reply> {
    require_https(url)?;
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| Error::transport(url, &e))?;
    read(url, response, limit).await
}

/// Reads a response whole, refusing more than `limit` bytes before
/// buffering them.
async fn read(url: &str, mut response: reqwest::Response, limit: usize) -> Result<Reply> {
    let too_large = || Error::ResponseTooLarge {
        url: url.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::transport(url, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply {
        url: url.to_owned(),
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    })
}

impl Reply {
    /// The error this reply is, if its status is not 2xx.
    pub fn problem(&self) -> Option<Error> {
        if (200..300).contains(&self.status) {
            return None;
        }
        let retry_after = self.retry_after();
        let Ok(problem) = serde_json::from_slice::<Problem>(&self.body) else {
            return Some(Error::bad_response(
                &self.url,
                format!(
                    "HTTP status {} without a problem document (content type {:?})",
                    self.status,
                    self.header(CONTENT_TYPE.as_str()).unwrap_or("none")
                ),
            ));
        };
        Some(Error::Problem {
            url: self.url.clone(),
            problem: Box::new(problem),
            retry_after,
        })
    }

    /// The body as JSON of type `T`, if the status is 2xx.
    pub fn ok_json<T: DeserializeOwned>(&self) -> Result<T> {
        if let Some(e) = self.problem() {
            return Err(e);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::bad_response(&self.url, format!("the JSON is not as expected: {e}"))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The Location header, which ACME requires on created objects.
    pub fn location(&self) -> Result<String> {
        let location = self
            .header(LOCATION.as_str())
            .ok_or_else(|| Error::bad_response(&self.url, "the answer has no Location header"))?;
        require_https(location).map_err(|_| {
            Error::bad_response(
                &self.url,
                format!("the Location {location:?} is not an https URL"),
            )
        })?;
        Ok(location.to_owned())
    }

    /// Retry-After (RFC 9110 §10.2.3), as a delay from now.
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(
            self.header(RETRY_AFTER.as_str())?,
            std::time::SystemTime::now(),
        )
    }
}
