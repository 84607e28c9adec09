//! `mimi-server authority`: the identity authority's ACME server.
//!
//! On first start it creates, in its data directory, an identity root
//! (Ed25519) and a separate TLS root (ECDSA P-256), their keys in 0600 files,
//! and its own HTTPS certificate from the TLS root; later starts reuse them.
//! Both roots publish their CRLs at `/acme/crl/identity-root` and
//! `/acme/crl/tls-root` (docs/acme-divergences.md).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_acme::{AcmeStore, Issuers, ResolverMap, SqliteStore};
use mimi_credentials::{
    Certificate, CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity,
};
use mimi_identifiers::Domain;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::keyfile;

const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const SERVER_CERT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file with the settings below (flags given on the command line win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Where keys, certificates and the database live [default: ./authority-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The authority's public DNS name, in its HTTPS certificate and URLs
    /// [default: acme.authority.example].
    #[arg(long)]
    name: Option<String>,
    /// Where http-01 validation connects for a name, instead of DNS
    /// (repeatable), e.g. --resolve provider.a.example=127.0.0.1:5002.
    #[arg(long = "resolve", value_name = "NAME=ADDRESS")]
    resolve: Vec<String>,
    /// An external account binding key for a vetted provider (repeatable):
    /// KID=KEY with KEY base64url, at least 32 bytes.
    #[arg(long = "eab", value_name = "KID=KEY")]
    eab: Vec<String>,
    /// Development SMS gateway: append each sms-link-00 message as a JSON line
    /// to this file, read "as the phone" [default: <data-dir>/sms-outbox.jsonl].
    #[arg(long, value_name = "FILE", conflicts_with = "sms_webhook")]
    sms_outbox: Option<PathBuf>,
    /// Real SMS gateway: POST {"to","text"} as JSON to this URL.
    #[arg(long, value_name = "URL")]
    sms_webhook: Option<String>,
    /// Header sent with each webhook request, e.g. "Authorization: Bearer …".
    #[arg(long, value_name = "NAME: VALUE", requires = "sms_webhook")]
    sms_webhook_header: Option<String>,
}

/// The TOML config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    name: Option<String>,
    #[serde(default)]
    resolve: BTreeMap<String, SocketAddr>,
    #[serde(default)]
    eab: Vec<EabEntry>,
    sms: Option<SmsConfig>,
}

/// `[sms]` in the config file: `outbox = "path"`, or `webhook = "url"` with
/// an optional `header = "Name: value"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsConfig {
    outbox: Option<PathBuf>,
    webhook: Option<String>,
    header: Option<String>,
}

/// Where sms-link-00 codes go.
#[derive(Debug)]
enum SmsSetting {
    Outbox(PathBuf),
    Webhook {
        url: String,
        header: Option<(String, String)>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EabEntry {
    kid: String,
    key: String,
}

/// Settings after merging file and flags.
#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    data_dir: PathBuf,
    name: Domain,
    resolve: ResolverMap,
    eab: Vec<(String, Vec<u8>)>,
    sms: SmsSetting,
}

fn sms_setting(
    outbox: Option<PathBuf>,
    webhook: Option<String>,
    header: Option<String>,
    file: Option<SmsConfig>,
    data_dir: &Path,
) -> anyhow::Result<SmsSetting> {
    let (outbox, webhook, header) = match (outbox, webhook) {
        (None, None) => match file {
            Some(f) => (f.outbox, f.webhook, header.or(f.header)),
            None => (None, None, header),
        },
        (outbox, webhook) => (outbox, webhook, header),
    };
    let header = header
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .with_context(|| format!("SMS webhook header {h:?}: write \"Name: value\""))?;
            Ok::<_, anyhow::Error>((name.trim().to_owned(), value.trim().to_owned()))
        })
        .transpose()?;
    Ok(match (outbox, webhook) {
        (Some(_), Some(_)) => bail!("choose one SMS gateway: an outbox file or a webhook URL"),
        (_, Some(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("SMS webhook {url:?} is not an http(s) URL");
            }
            SmsSetting::Webhook { url, header }
        }
        (Some(path), None) => SmsSetting::Outbox(path),
        (None, None) => SmsSetting::Outbox(data_dir.join("sms-outbox.jsonl")),
    })
}

fn settings(args: Args) -> anyhow::Result<Settings> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("config {} is invalid", path.display()))?
        }
        None => FileConfig::default(),
    };
    let name = args
        .name
        .or(file.name)
        .unwrap_or_else(|| "acme.authority.example".into());
    let name =
        Domain::parse(&name).with_context(|| format!("--name {name:?} is not a domain name"))?;
    let mut resolve = file.resolve;
    for entry in &args.resolve {
        let (host, addr) = entry
            .split_once('=')
            .with_context(|| format!("--resolve {entry:?}: write NAME=ADDRESS"))?;
        let addr = addr
            .parse()
            .with_context(|| format!("--resolve {entry:?}: {addr:?} is not an IP:port address"))?;
        resolve.insert(host.to_ascii_lowercase(), addr);
    }
    let mut eab = Vec::new();
    let entries = file.eab.into_iter().map(|e| (e.kid, e.key));
    let flags = args.eab.iter().map(|e| match e.split_once('=') {
        Some((k, v)) => (k.to_owned(), v.to_owned()),
        None => (e.clone(), String::new()),
    });
    for (kid, key) in entries.chain(flags) {
        let bytes = URL_SAFE_NO_PAD
            .decode(key.trim())
            .with_context(|| format!("EAB key {kid:?} is not base64url without padding"))?;
        if bytes.len() < 32 || kid.is_empty() {
            bail!("EAB key {kid:?} needs a name and at least 32 bytes of key");
        }
        eab.push((kid, bytes));
    }
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("authority-data"));
    let sms = sms_setting(
        args.sms_outbox,
        args.sms_webhook,
        args.sms_webhook_header,
        file.sms,
        &data_dir,
    )?;
    Ok(Settings {
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443))),
        data_dir,
        name,
        resolve,
        eab,
        sms,
    })
}

/// Loads a CA from `<stem>.pem` and `<stem>.key`, or creates it.
fn root(
    dir: &Path,
    stem: &str,
    scheme: SignatureScheme,
    create: impl FnOnce(Validity) -> anyhow::Result<CertificateAuthority>,
) -> anyhow::Result<CertificateAuthority> {
    let (cert_path, key_path) = (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    );
    if cert_path.exists() || key_path.exists() {
        let pem = std::fs::read_to_string(&cert_path)
            .with_context(|| format!("cannot read {}", cert_path.display()))?;
        let cert = Certificate::from_pem_chain(&pem)
            .with_context(|| format!("{} holds no certificate", cert_path.display()))?
            .remove(0);
        let key = keyfile::load(&key_path, scheme)?;
        return CertificateAuthority::from_parts(cert, key).with_context(|| {
            format!(
                "{} and {} do not belong together",
                cert_path.display(),
                key_path.display()
            )
        });
    }
    let ca = create(Validity::starting_now(ROOT_LIFETIME))?;
    keyfile::create(&key_path, ca.key())?;
    std::fs::write(&cert_path, ca.certificate().pem())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    Ok(ca)
}

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(())
}

/// The authority's own HTTPS certificate: a persistent key, a certificate
/// issued afresh from the TLS root at each start.
fn server_tls(
    dir: &Path,
    tls_root: &CertificateAuthority,
    name: &Domain,
) -> anyhow::Result<std::sync::Arc<rustls::ServerConfig>> {
    let key_path = dir.join("server.key");
    let scheme = SignatureScheme::EcdsaP256Sha256;
    let key = if key_path.exists() {
        keyfile::load(&key_path, scheme)?
    } else {
        let key = KeyPair::generate(scheme)?;
        keyfile::create(&key_path, &key)?;
        key
    };
    let cert = tls_root.issue(
        &Subject::TlsServer {
            dns_names: vec![name.clone()],
        },
        &key.public_key(),
        Validity::starting_now(SERVER_CERT_LIFETIME),
    )?;
    std::fs::write(dir.join("server.pem"), cert.pem())?;
    let config = mimi_transport::https::server_config(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8_der())),
    )?;
    Ok(config)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = settings(args)?;
    let dir = &settings.data_dir;
    prepare_data_dir(dir)?;
    let identity_root = root(dir, "identity-root", SignatureScheme::Ed25519, |v| {
        Ok(CertificateAuthority::new_root(
            "MIMI identity root",
            SignatureScheme::Ed25519,
            v,
        )?)
    })?;
    let tls_root = root(dir, "tls-root", SignatureScheme::EcdsaP256Sha256, |v| {
        Ok(CertificateAuthority::new_tls_root(
            "MIMI TLS root",
            SignatureScheme::EcdsaP256Sha256,
            v,
        )?)
    })?;
    let tls = server_tls(dir, &tls_root, &settings.name)?;

    let store = SqliteStore::open(&dir.join("acme.db"))
        .await
        .context("cannot open the authority database")?;
    for (kid, key) in &settings.eab {
        if let Err(e) = store.add_eab_key(kid, key).await {
            // Already registered on an earlier start (or used): keep it.
            tracing::info!(kid, error = %e, "EAB key not added");
        }
    }

    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let bound = listener.local_addr()?;
    let base = format!("https://{}:{}", settings.name, bound.port());
    print_banner(&settings, &base, bound, &identity_root, &tls_root)?;

    let issuers = Issuers {
        tls_root,
        identity_root,
    };
    let limits = mimi_acme::Limits::default();
    let sms: std::sync::Arc<dyn mimi_acme::SmsGateway> = match &settings.sms {
        SmsSetting::Outbox(path) => std::sync::Arc::new(mimi_acme::OutboxGateway::new(path)),
        SmsSetting::Webhook { url, header } => std::sync::Arc::new(
            mimi_acme::WebhookGateway::new(url, header.clone())
                .context("cannot set up the SMS webhook")?,
        ),
    };
    let app = mimi_acme::router(store, issuers, settings.resolve.clone(), sms, &base, limits)?;
    mimi_transport::https::serve_tls(listener, tls, app, shutdown_signal()).await;
    tracing::info!("authority stopped");
    Ok(())
}

fn print_banner(
    settings: &Settings,
    base: &str,
    bound: SocketAddr,
    identity_root: &CertificateAuthority,
    tls_root: &CertificateAuthority,
) -> anyhow::Result<()> {
    let dir = settings.data_dir.canonicalize()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "MIMI identity authority {}", settings.name)?;
    writeln!(out, "  listening on   {bound}")?;
    writeln!(out, "  directory      {base}/acme/directory")?;
    writeln!(
        out,
        "  identity root  {}  SHA-256 {}",
        dir.join("identity-root.pem").display(),
        identity_root.certificate().fingerprint_sha256()
    )?;
    writeln!(
        out,
        "  TLS root       {}  SHA-256 {}",
        dir.join("tls-root.pem").display(),
        tls_root.certificate().fingerprint_sha256()
    )?;
    match &settings.sms {
        SmsSetting::Outbox(path) => writeln!(out, "  SMS gateway    outbox {}", path.display())?,
        SmsSetting::Webhook { url, .. } => writeln!(out, "  SMS gateway    webhook {url}")?,
    }
    out.flush()?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
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
