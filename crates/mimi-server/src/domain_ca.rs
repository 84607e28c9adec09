//! `mimi-server domain-ca`: a provider's domain CA (docs/enrollment.md), a
//! process of its own with its own key, database and port
//! (draft-barnes-mimi-identity-arch §3 role separation). It holds the domain
//! CA certificate and key the identity authority issued, and optionally
//! phone-number CAs, and issues user, user-CA and device certificates over
//! ACME to accounts its registrar pre-authorized.
//!
//! `mimi-server domain-ca registrar-eab --config F` creates a registrar
//! external account binding key in its database and prints it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mimi_acme::{AcmeStore, DomainCa, EabKind, Lifetimes, NewEab, SqliteStore};
use mimi_credentials::{Certificate, KeyPair};
use mimi_identifiers::Domain;
use mimi_provider::secret_file;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Deserialize;
use tokio::net::TcpListener;

/// Largest certificate chain or key file read.
const MAX_FILE: u64 = 256 * 1024;
const DAY: u64 = 24 * 3600;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The TOML config file (crates/mimi-server/domain-ca.example.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Creates a registrar external account binding key in the domain CA's
    /// database and prints its kid and HMAC key, for the provider's config.
    RegistrarEab,
}

/// The TOML config file; relative paths are relative to its directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// The domain whose names this CA certifies.
    domain: String,
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    data_dir: PathBuf,
    /// The DNS name in the HTTPS certificate and in every ACME URL.
    name: String,
    /// PEM: the domain CA certificate first, then its issuers up to (not
    /// including) the identity root.
    ca_chain: PathBuf,
    /// PKCS#8, PEM or DER, mode 0600.
    ca_key: PathBuf,
    #[serde(default)]
    phone_cas: Vec<PhoneCaConfig>,
    /// PEM: the HTTPS certificate chain (from the TLS root).
    tls_cert: PathBuf,
    /// PKCS#8, PEM or DER, mode 0600.
    tls_key: PathBuf,
    #[serde(default)]
    lifetimes: LifetimeConfig,
    #[serde(default)]
    registrar_eab: Vec<EabEntry>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8444))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneCaConfig {
    chain: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifetimeConfig {
    device_days: Option<u64>,
    user_days: Option<u64>,
    user_ca_days: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EabEntry {
    kid: String,
    key: String,
}

/// The config, read and resolved.
struct Settings {
    config_dir: PathBuf,
    file: FileConfig,
    domain: Domain,
    name: Domain,
}

impl Settings {
    fn path(&self, p: &Path) -> PathBuf {
        self.config_dir.join(p)
    }

    fn data_dir(&self) -> PathBuf {
        self.path(&self.file.data_dir)
    }
}

fn settings(args: &Args) -> anyhow::Result<Settings> {
    let Some(path) = &args.config else {
        bail!("give the config file with --config (see crates/mimi-server/domain-ca.example.toml)");
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    let file: FileConfig =
        toml::from_str(&text).with_context(|| format!("config {} is invalid", path.display()))?;
    let domain = Domain::parse(&file.domain)
        .with_context(|| format!("domain {:?} is not a domain name", file.domain))?;
    let name = Domain::parse(&file.name)
        .with_context(|| format!("name {:?} is not a DNS name", file.name))?;
    let config_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Settings {
        config_dir,
        file,
        domain,
        name,
    })
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = settings(&args)?;
    match args.command {
        Some(Command::RegistrarEab) => registrar_eab(&settings).await,
        None => serve(&settings).await,
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<SqliteStore> {
    let dir = settings.data_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    SqliteStore::open(&dir.join("acme.db"))
        .await
        .context("cannot open the domain CA database")
}

/// A new registrar key, stored, and printed once.
async fn registrar_eab(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let (kid, key) = mimi_acme::create_registrar_eab(&store, unix_now())
        .await
        .context("cannot store the registrar key")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "registrar EAB key for the provider of {}",
        settings.domain
    )?;
    writeln!(out, "  kid  {kid}")?;
    writeln!(out, "  key  {}", URL_SAFE_NO_PAD.encode(key))?;
    out.flush()?;
    Ok(())
}

fn unix_now() -> i64 {
    mimi_acme::ca::unix_seconds(std::time::SystemTime::now())
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let file = &settings.file;
    let ca = domain_ca(settings)?;
    let tls = server_tls(settings)?;
    let store = open_store(settings).await?;
    for entry in &file.registrar_eab {
        let key = URL_SAFE_NO_PAD.decode(entry.key.trim()).with_context(|| {
            format!(
                "registrar EAB key {:?} is not base64url without padding",
                entry.kid
            )
        })?;
        if key.len() < 32 || entry.kid.is_empty() {
            bail!(
                "registrar EAB key {:?} needs a kid and at least 32 bytes of key",
                entry.kid
            );
        }
        let added = store
            .add_eab(&NewEab {
                kid: entry.kid.clone(),
                hmac_key: key,
                kind: EabKind::Registrar,
                identifiers: Vec::new(),
                expires: None,
                created_by: None,
                created_at: unix_now(),
            })
            .await;
        if let Err(e) = added {
            // Registered on an earlier start: keep it.
            tracing::info!(kid = entry.kid, error = %e, "registrar EAB key not added");
        }
    }
    let listener = TcpListener::bind(file.listen)
        .await
        .with_context(|| format!("cannot listen on {}", file.listen))?;
    let bound = listener.local_addr()?;
    let base = format!("https://{}:{}", settings.name, bound.port());
    print_banner(settings, &base, bound, &ca)?;
    let app = mimi_acme::domain_ca_router(store, ca, &base, mimi_acme::Limits::default())?;
    mimi_transport::https::serve_tls(listener, tls, app, shutdown_signal()).await;
    tracing::info!("domain CA stopped");
    Ok(())
}

fn lifetimes(config: &LifetimeConfig) -> Lifetimes {
    let default = Lifetimes::default();
    let days = |d: Option<u64>, or: Duration| d.map_or(or, |d| Duration::from_secs(d * DAY));
    Lifetimes {
        device: days(config.device_days, default.device),
        user: days(config.user_days, default.user),
        user_ca: days(config.user_ca_days, default.user_ca),
    }
}

fn domain_ca(settings: &Settings) -> anyhow::Result<DomainCa> {
    let file = &settings.file;
    let (chain, key) = ca_files(settings, &file.ca_chain, &file.ca_key)?;
    let mut ca = DomainCa::new(
        settings.domain.clone(),
        chain,
        key,
        lifetimes(&file.lifetimes),
    )
    .with_context(|| format!("{} cannot be this domain CA", file.ca_chain.display()))?;
    for phone in &file.phone_cas {
        let (chain, key) = ca_files(settings, &phone.chain, &phone.key)?;
        ca = ca.with_phone_ca(chain, key).with_context(|| {
            format!("{} cannot be a phone-number CA here", phone.chain.display())
        })?;
    }
    Ok(ca)
}

/// A CA's chain (PEM) and key (PKCS#8, PEM or DER, 0600).
fn ca_files(
    settings: &Settings,
    chain: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<Certificate>, KeyPair)> {
    let chain_path = settings.path(chain);
    let pem = read_bounded(&chain_path)?;
    let pem = String::from_utf8(pem)
        .with_context(|| format!("{} is not PEM text", chain_path.display()))?;
    let chain = Certificate::from_pem_chain(&pem)
        .with_context(|| format!("{} holds no certificate chain", chain_path.display()))?;
    let first = chain
        .first()
        .with_context(|| format!("{} holds no certificate", chain_path.display()))?;
    let scheme = first.key_scheme().with_context(|| {
        format!(
            "the certificate in {} has a key type MIMI does not use (Ed25519 or P-256)",
            chain_path.display()
        )
    })?;
    let key_path = settings.path(key);
    let der = pkcs8_der(&secret_file::load(&key_path)?, &key_path)?;
    let key = KeyPair::from_pkcs8_der(&der, scheme).with_context(|| {
        format!(
            "key file {} is not a PKCS#8 {scheme:?} key (the key of {})",
            key_path.display(),
            chain_path.display()
        )
    })?;
    Ok((chain, key))
}

fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_FILE {
        bail!(
            "{} is {size} bytes; certificate chains and keys are far smaller (at most {MAX_FILE})",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// PKCS#8 DER from a key file's bytes: DER as is, or the base64 inside a
/// PEM "PRIVATE KEY" block.
fn pkcs8_der(bytes: &[u8], path: &Path) -> anyhow::Result<Vec<u8>> {
    if bytes.len() as u64 > MAX_FILE {
        bail!("key file {} is too large to be a key", path.display());
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(start) = text.find("-----BEGIN PRIVATE KEY-----") else {
        if text.contains("-----BEGIN") {
            bail!(
                "key file {} is PEM but not a PKCS#8 \"PRIVATE KEY\"; convert it with `openssl pkcs8 -topk8 -nocrypt`",
                path.display()
            );
        }
        return Ok(bytes.to_vec());
    };
    let body = &text[start + "-----BEGIN PRIVATE KEY-----".len()..];
    let end = body
        .find("-----END PRIVATE KEY-----")
        .with_context(|| format!("key file {} has no END PRIVATE KEY line", path.display()))?;
    let b64: String = body[..end].split_whitespace().collect();
    STANDARD
        .decode(b64)
        .with_context(|| format!("key file {} holds broken base64", path.display()))
}

fn server_tls(settings: &Settings) -> anyhow::Result<std::sync::Arc<rustls::ServerConfig>> {
    let file = &settings.file;
    let cert_path = settings.path(&file.tls_cert);
    let pem = String::from_utf8(read_bounded(&cert_path)?)
        .with_context(|| format!("{} is not PEM text", cert_path.display()))?;
    let chain = Certificate::from_pem_chain(&pem)
        .with_context(|| format!("{} holds no certificate chain", cert_path.display()))?;
    let key_path = settings.path(&file.tls_key);
    let key = pkcs8_der(&secret_file::load(&key_path)?, &key_path)?;
    let config = mimi_transport::https::server_config(
        chain
            .iter()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
    .with_context(|| {
        format!(
            "{} and {} do not make a TLS server certificate",
            cert_path.display(),
            key_path.display()
        )
    })?;
    Ok(config)
}

fn print_banner(
    settings: &Settings,
    base: &str,
    bound: SocketAddr,
    ca: &DomainCa,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "MIMI domain CA for {}", settings.domain)?;
    writeln!(out, "  listening on   {bound}")?;
    writeln!(out, "  directory      {base}/acme/directory")?;
    writeln!(
        out,
        "  domain CA      {}  SHA-256 {}",
        ca.certificate().subject_text(),
        ca.certificate().fingerprint_sha256()
    )?;
    writeln!(out, "  CRL            {base}/acme/crl/domain-ca")?;
    for (n, phone) in ca.phone_cas().iter().enumerate() {
        writeln!(
            out,
            "  phone CA {n}     {}  SHA-256 {}  CRL {base}/acme/crl/phone-ca/{n}",
            phone.certificate().subject_text(),
            phone.certificate().fingerprint_sha256()
        )?;
    }
    out.flush()?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
