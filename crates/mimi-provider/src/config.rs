//! `provider.toml`: everything an operator sets, read once at start and checked
//! before anything listens. Relative paths are relative to the config file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mimi_identifiers::Domain;
use mimi_mls::Ciphersuite;
use mimi_transport::ratelimit::Limit;
use serde::Deserialize;

use crate::error::ConfigError;

/// The TOML file, as written. See `crates/mimi-provider/provider.example.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider's domain, e.g. `a.example`: the host of its users' URIs and
    /// the `recipient_domain` of the S2S messages it accepts.
    pub domain: String,
    /// The host name its DS answers under, served at
    /// `/.well-known/mimi/ds-domain` (default: `domain`).
    pub ds_domain: Option<String>,
    /// Addresses the HTTPS server listens on (one or more).
    pub listen: Vec<SocketAddr>,
    /// Plain-HTTP address for `/metrics` (Prometheus text format). Keep it on
    /// loopback or a private network: queue depths are operator information.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the signing key, the queue key and (by default) the SQLite
    /// database live (default: `provider-data` next to the config file).
    pub data_dir: Option<PathBuf>,
    /// `sqlite://<path>` or `postgres://…` (default: SQLite in `data_dir`).
    pub storage: Option<String>,
    /// PEM certificate chain (leaf first) of this provider's HTTPS endpoint.
    pub tls_certificate: PathBuf,
    /// PEM PKCS#8 private key of that certificate.
    pub tls_key: PathBuf,
    /// PEM roots that peers' HTTPS certificates must chain to (the authority's
    /// TLS root). Never the identity roots.
    pub tls_roots: Vec<PathBuf>,
    /// PEM identity roots that clients' credentials must chain to.
    pub identity_roots: Vec<PathBuf>,
    /// Where to connect for a domain instead of asking DNS, e.g.
    /// `"b.example" = "127.0.0.1:4432"`: several providers on one machine.
    #[serde(default)]
    pub resolve: BTreeMap<String, SocketAddr>,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub key_packages: KeyPackageConfig,
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    #[serde(default)]
    pub outbox: OutboxConfig,
}

/// `[outbox]`: how the hub retries deliveries to a member provider that is
/// down. The longest wait must stay under the 7 days queueing services keep a
/// delivery's event ID (`ds::DELIVERY_DEDUP_MS`); it is capped at one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Wait after a first failure, in milliseconds (doubled after each
    /// further one).
    pub retry_min_ms: u64,
    /// Longest wait between attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// How often to look for due deliveries when nothing woke the worker.
    pub poll_ms: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        let d = crate::ds::OutboxSettings::default();
        OutboxConfig {
            retry_min_ms: d.retry_min.as_millis() as u64,
            retry_max_ms: d.retry_max.as_millis() as u64,
            poll_ms: d.poll.as_millis() as u64,
        }
    }
}

impl OutboxConfig {
    fn to_settings(self) -> Result<crate::ds::OutboxSettings, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            field: "outbox",
            reason: reason.to_string(),
        };
        if self.retry_min_ms == 0 || self.poll_ms == 0 {
            return Err(invalid("retry_min_ms and poll_ms must be at least 1"));
        }
        if self.retry_max_ms < self.retry_min_ms {
            return Err(invalid("retry_max_ms must be at least retry_min_ms"));
        }
        if self.retry_max_ms > 3_600_000 || self.poll_ms > 3_600_000 {
            return Err(invalid(
                "retry_max_ms and poll_ms must be at most 3600000 (one hour)",
            ));
        }
        Ok(crate::ds::OutboxSettings {
            retry_min: Duration::from_millis(self.retry_min_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            poll: Duration::from_millis(self.poll_ms),
        })
    }
}

/// `{ burst = 100, per_second = 50.0 }`: at most `burst` at once, then
/// `per_second` more each second.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    pub burst: u32,
    pub per_second: f64,
}

impl LimitConfig {
    const fn new(burst: u32, per_second: f64) -> LimitConfig {
        LimitConfig { burst, per_second }
    }

    fn to_limit(self, name: &'static str) -> Result<Limit, ConfigError> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return Err(ConfigError::Invalid {
                field: name,
                reason: format!(
                    "per_second must be a positive number, not {}",
                    self.per_second
                ),
            });
        }
        Ok(Limit::new(
            self.burst,
            Duration::from_secs_f64(1.0 / self.per_second),
        ))
    }
}

/// `[rate_limits]` (draft-kohbrok-mimi-transport §6).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// All S2S requests of one authenticated sender domain.
    pub s2s_sender: LimitConfig,
    /// S2S requests of one sender domain to one endpoint.
    pub s2s_endpoint: LimitConfig,
    /// `/group_key_packages` answers to one requesting domain.
    pub key_packages_per_domain: LimitConfig,
    /// `/group_key_packages` answers to one requesting domain for one user.
    pub key_packages_per_user: LimitConfig,
    /// Client API requests of one client.
    pub client: LimitConfig,
    /// Registrations from one network address (each costs a chain and CRL
    /// check before the client is known).
    pub registrations: LimitConfig,
    /// Key-material discovery queries of one searcher (domain, or IP address
    /// for anonymous searches).
    pub discovery: LimitConfig,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            s2s_sender: LimitConfig::new(1000, 1000.0),
            s2s_endpoint: LimitConfig::new(200, 200.0),
            key_packages_per_domain: LimitConfig::new(100, 10.0),
            key_packages_per_user: LimitConfig::new(10, 0.2),
            client: LimitConfig::new(200, 100.0),
            registrations: LimitConfig::new(100, 10.0),
            discovery: LimitConfig::new(20, 1.0),
        }
    }
}

/// `[key_packages]`: what the KeyPackage store accepts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyPackageConfig {
    /// MLS cipher suites accepted (RFC 9420 §17.1 code points).
    pub cipher_suites: Vec<u16>,
    /// Longest KeyPackage lifetime accepted, in days.
    pub max_lifetime_days: u32,
}

impl Default for KeyPackageConfig {
    fn default() -> Self {
        KeyPackageConfig {
            cipher_suites: vec![0x0001, 0x0002],
            max_lifetime_days: 90,
        }
    }
}

/// `[discovery]`: who may look up keys at `/.well-known/mimi/keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// Whether user keys (certificate chains) are given to anonymous
    /// searchers; if not, a searcher must send a signed S2S query.
    pub anonymous_user_keys: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            anonymous_user_keys: true,
        }
    }
}

/// `[enrollment]`: how the provider enrolls its users' devices at its
/// domain CA (docs/enrollment.md, "The provider side"), which it reaches
/// over ACME only, as the registrar. Without it, devices register with
/// chains they got elsewhere and `enroll_user`/`enroll_device` answer 501.
///
/// Read by [`ProviderConfig::load`] beside the [`ProviderConfig`] fields
/// (it is not one of them, so that code building a `ProviderConfig` by
/// hand needs no change).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentConfig {
    /// The domain CA's ACME directory, e.g.
    /// `https://ca.a.example/acme/directory`.
    pub directory_url: String,
    /// PEM roots the domain CA's HTTPS certificate chains to (the
    /// authority's TLS root). Never the identity roots.
    pub tls_roots: Vec<PathBuf>,
    /// The registrar key identifier `mimi-server domain-ca registrar-eab`
    /// printed.
    pub registrar_eab_kid: String,
    /// A file (mode 0600) holding the registrar HMAC key, base64url as
    /// `mimi-server domain-ca registrar-eab` printed it.
    pub registrar_eab_key_file: PathBuf,
    /// Who may enroll a user's first device: `"invite"` (the default: a
    /// one-time code from `mimi-server provider invite`) or `"open"`
    /// (anyone may claim a free user name; demos and tests).
    #[serde(default)]
    pub registration: RegistrationPolicy,
    /// How long a device's external account binding stays usable, in
    /// seconds: 60 to 86400 (the domain CA's maximum), default 3600.
    #[serde(default = "default_eab_lifetime_secs")]
    pub eab_lifetime_secs: u64,
}

fn default_eab_lifetime_secs() -> u64 {
    3600
}

/// Who may enroll the first device of a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// With a one-time invite code the operator created for that user
    /// (`mimi-server provider invite <user>`).
    #[default]
    Invite,
    /// Anyone may claim a user name no one holds: for demos and tests.
    Open,
}

/// `[enrollment]` after checking, paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentSettings {
    pub directory_url: String,
    pub tls_roots: Vec<PathBuf>,
    pub registrar_eab_kid: String,
    pub registrar_eab_key_file: PathBuf,
    pub registration: RegistrationPolicy,
    pub eab_lifetime: Duration,
}

impl EnrollmentConfig {
    /// Checks the values and resolves relative paths against `base`.
    pub fn check(self, base: &Path) -> Result<EnrollmentSettings, ConfigError> {
        let invalid = |field, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.to_string(),
        };
        if !self.directory_url.starts_with("https://") {
            return Err(invalid(
                "enrollment.directory_url",
                "must be the https:// URL of the domain CA's ACME directory",
            ));
        }
        if self.tls_roots.is_empty() {
            return Err(invalid(
                "enrollment.tls_roots",
                "give at least one PEM file: the root the domain CA's HTTPS certificate chains to",
            ));
        }
        if self.registrar_eab_kid.is_empty()
            || !self.registrar_eab_kid.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "enrollment.registrar_eab_kid",
                "give the kid `mimi-server domain-ca registrar-eab` printed",
            ));
        }
        if !(60..=86_400).contains(&self.eab_lifetime_secs) {
            return Err(invalid(
                "enrollment.eab_lifetime_secs",
                "must be 60 to 86400 seconds (the domain CA accepts at most 24 hours)",
            ));
        }
        Ok(EnrollmentSettings {
            directory_url: self.directory_url,
            tls_roots: self.tls_roots.into_iter().map(|p| base.join(p)).collect(),
            registrar_eab_kid: self.registrar_eab_kid,
            registrar_eab_key_file: base.join(self.registrar_eab_key_file),
            registration: self.registration,
            eab_lifetime: Duration::from_secs(self.eab_lifetime_secs),
        })
    }
}

/// `[revocation]`: the CRLs the provider fetches, checks and relays to
/// clients and other providers' hubs at `/.well-known/mimi/crls`
/// (docs/enrollment.md, "Relayed CRLs"). With `[enrollment]`, the domain
/// CA's CRLs are added by themselves; the identity root's CRL (the
/// authority's `/acme/crl/identity-root`) must be listed here.
///
/// Read by [`ProviderConfig::load`] beside the [`ProviderConfig`] fields,
/// as `[enrollment]` is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationConfig {
    /// https:// URLs of CRLs to relay, e.g. the authority's
    /// `https://authority.example/acme/crl/identity-root`. Their HTTPS
    /// certificates must chain to `tls_roots` or `[enrollment] tls_roots`.
    pub crl_urls: Vec<String>,
    /// PEM CA certificates whose CRLs are checked against them (their
    /// signature) before they are relayed, besides the identity roots and
    /// the CAs learned from registered devices' chains: e.g. the domain CA
    /// certificate and the phone-number CA certificates of this domain. A
    /// phone-number CA listed here also lets `mimi-server provider invite
    /// --phone` refuse numbers no listed CA covers.
    pub issuers: Vec<PathBuf>,
    /// How often every CRL is fetched again, in seconds (60 to 3600,
    /// default 900); a CRL is also fetched again halfway to its
    /// nextUpdate if that comes sooner.
    pub refresh_secs: u64,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig {
            crl_urls: Vec::new(),
            issuers: Vec::new(),
            refresh_secs: 900,
        }
    }
}

/// Most CRL URLs in `[revocation] crl_urls`.
pub const MAX_CRL_URLS: usize = 8;

/// `[revocation]` after checking, paths resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationSettings {
    pub crl_urls: Vec<String>,
    pub issuers: Vec<PathBuf>,
    pub refresh: Duration,
}

impl Default for RevocationSettings {
    fn default() -> Self {
        RevocationSettings {
            crl_urls: Vec::new(),
            issuers: Vec::new(),
            refresh: Duration::from_secs(900),
        }
    }
}

impl RevocationConfig {
    /// Checks the values and resolves relative paths against `base`.
    pub fn check(self, base: &Path) -> Result<RevocationSettings, ConfigError> {
        let invalid = |field, reason: String| ConfigError::Invalid { field, reason };
        if self.crl_urls.len() > MAX_CRL_URLS {
            return Err(invalid(
                "revocation.crl_urls",
                format!("give at most {MAX_CRL_URLS} URLs"),
            ));
        }
        for url in &self.crl_urls {
            let parsed = reqwest::Url::parse(url).ok();
            if parsed
                .as_ref()
                .is_none_or(|u| u.scheme() != "https" || u.host_str().is_none())
            {
                return Err(invalid(
                    "revocation.crl_urls",
                    format!(
                        "{url:?} is not an https:// URL; give the URL the CRL is published at, e.g. https://authority.example/acme/crl/identity-root"
                    ),
                ));
            }
        }
        if !(60..=3600).contains(&self.refresh_secs) {
            return Err(invalid(
                "revocation.refresh_secs",
                "must be 60 to 3600 seconds: CRLs live at most 24 hours and revocations should reach clients within minutes".into(),
            ));
        }
        Ok(RevocationSettings {
            crl_urls: self.crl_urls,
            issuers: self.issuers.into_iter().map(|p| base.join(p)).collect(),
            refresh: Duration::from_secs(self.refresh_secs),
        })
    }
}

/// The config after checking: what the provider runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub domain: Domain,
    pub ds_domain: Domain,
    pub listen: Vec<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub storage: StorageUrl,
    pub tls_certificate: PathBuf,
    pub tls_key: PathBuf,
    pub tls_roots: Vec<PathBuf>,
    pub identity_roots: Vec<PathBuf>,
    pub resolve: BTreeMap<String, SocketAddr>,
    pub limits: Limits,
    pub key_packages: KeyPackageConfig,
    /// `key_packages.cipher_suites`, checked to be MLS cipher suites.
    pub key_package_suites: Vec<Ciphersuite>,
    pub discovery: DiscoveryConfig,
    /// How the hub's outbox retries deliveries.
    pub outbox: crate::ds::OutboxSettings,
    /// `[enrollment]`, if configured.
    pub enrollment: Option<EnrollmentSettings>,
    /// `[revocation]` (the defaults if absent).
    pub revocation: RevocationSettings,
}

/// The rate limits as token-bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub s2s_sender: Limit,
    pub s2s_endpoint: Limit,
    pub key_packages_per_domain: Limit,
    pub key_packages_per_user: Limit,
    pub client: Limit,
    pub registrations: Limit,
    pub discovery: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        RateLimitConfig::default()
            .to_limits()
            .unwrap_or_else(|_| unreachable!("the defaults are positive"))
    }
}

impl RateLimitConfig {
    fn to_limits(self) -> Result<Limits, ConfigError> {
        Ok(Limits {
            s2s_sender: self.s2s_sender.to_limit("rate_limits.s2s_sender")?,
            s2s_endpoint: self.s2s_endpoint.to_limit("rate_limits.s2s_endpoint")?,
            key_packages_per_domain: self
                .key_packages_per_domain
                .to_limit("rate_limits.key_packages_per_domain")?,
            key_packages_per_user: self
                .key_packages_per_user
                .to_limit("rate_limits.key_packages_per_user")?,
            client: self.client.to_limit("rate_limits.client")?,
            registrations: self.registrations.to_limit("rate_limits.registrations")?,
            discovery: self.discovery.to_limit("rate_limits.discovery")?,
        })
    }
}

/// Which back end stores the provider's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StorageUrl {
    fn parse(url: &str, base: &Path) -> Result<StorageUrl, ConfigError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(StorageUrl::Sqlite(base.join(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StorageUrl::Postgres(url.to_string()));
        }
        Err(ConfigError::Invalid {
            field: "storage",
            reason: "must start with sqlite:// or postgres://".into(),
        })
    }
}

impl ProviderConfig {
    /// Reads and checks `path`: the [`ProviderConfig`] fields and the
    /// optional `[enrollment]` ([`EnrollmentConfig`]) and `[revocation]`
    /// ([`RevocationConfig`]) tables.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let parse_error = |e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let mut table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
        let enrollment = table
            .remove("enrollment")
            .map(EnrollmentConfig::deserialize)
            .transpose()
            .map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                detail: format!("[enrollment]: {e}"),
            })?;
        let revocation = table
            .remove("revocation")
            .map(RevocationConfig::deserialize)
            .transpose()
            .map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                detail: format!("[revocation]: {e}"),
            })?;
        let config = ProviderConfig::deserialize(toml::Value::Table(table)).map_err(parse_error)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut settings = config.check(base)?;
        settings.enrollment = enrollment.map(|e| e.check(base)).transpose()?;
        settings.revocation = revocation.unwrap_or_default().check(base)?;
        Ok(settings)
    }

    /// Checks the values and resolves relative paths against `base`.
    pub fn check(self, base: &Path) -> Result<Settings, ConfigError> {
        let domain = parse_domain("domain", &self.domain)?;
        let ds_domain = match &self.ds_domain {
            Some(ds) => parse_domain("ds_domain", ds)?,
            None => domain.clone(),
        };
        if self.listen.is_empty() {
            return Err(ConfigError::Invalid {
                field: "listen",
                reason: "give at least one address, e.g. listen = [\"0.0.0.0:443\"]".into(),
            });
        }
        for (field, list) in [
            ("tls_roots", &self.tls_roots),
            ("identity_roots", &self.identity_roots),
        ] {
            if list.is_empty() {
                return Err(ConfigError::Invalid {
                    field,
                    reason: "give at least one PEM file".into(),
                });
            }
        }
        if self.key_packages.cipher_suites.is_empty() {
            return Err(ConfigError::Invalid {
                field: "key_packages.cipher_suites",
                reason: "give at least one MLS cipher suite, e.g. [1]".into(),
            });
        }
        let key_package_suites = self
            .key_packages
            .cipher_suites
            .iter()
            .map(|&suite| {
                Ciphersuite::try_from(suite).map_err(|_| ConfigError::Invalid {
                    field: "key_packages.cipher_suites",
                    reason: format!("{suite} is not an MLS cipher suite (RFC 9420 §17.1)"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for name in self.resolve.keys() {
            parse_domain("resolve", name)?;
        }
        let data_dir = base.join(self.data_dir.unwrap_or_else(|| "provider-data".into()));
        let storage = match &self.storage {
            Some(url) => StorageUrl::parse(url, base)?,
            None => StorageUrl::Sqlite(data_dir.join("provider.db")),
        };
        let resolve_paths = |paths: Vec<PathBuf>| paths.into_iter().map(|p| base.join(p)).collect();
        Ok(Settings {
            domain,
            ds_domain,
            listen: self.listen,
            metrics_listen: self.metrics_listen,
            data_dir,
            storage,
            tls_certificate: base.join(self.tls_certificate),
            tls_key: base.join(self.tls_key),
            tls_roots: resolve_paths(self.tls_roots),
            identity_roots: resolve_paths(self.identity_roots),
            resolve: self.resolve,
            limits: self.rate_limits.to_limits()?,
            key_packages: self.key_packages,
            key_package_suites,
            discovery: self.discovery,
            outbox: self.outbox.to_settings()?,
            enrollment: None,
            revocation: RevocationSettings::default(),
        })
    }
}

fn parse_domain(field: &'static str, value: &str) -> Result<Domain, ConfigError> {
    value.parse().map_err(|e| ConfigError::Invalid {
        field,
        reason: format!("{value:?} is not a domain name: {e}"),
    })
}
