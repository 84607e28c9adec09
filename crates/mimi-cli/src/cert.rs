//! `mimi cert show` and `mimi cert verify`: what a certificate or chain says
//! about an identity, or why it fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Subcommand;
use mimi_credentials::{Certificate, Crl, TnEntry, TrustAnchors, verify_chain};
use mimi_identifiers::Identifier;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print what each certificate in a PEM file says: subject, issuer,
    /// validity, CA constraints, mimi:// identities, name constraints,
    /// TNAuthList phone numbers, key and fingerprint.
    Show {
        /// A PEM file with one or more certificates.
        file: PathBuf,
    },
    /// Verify a credential chain against trusted identity roots and print the
    /// identity it proves, or which certificate fails and why.
    ///
    /// Revocation data is mandatory: give the current CRL of every CA in the
    /// chain (a profile-3 user CA publishes none).
    Verify {
        /// PEM file with the trusted identity roots.
        #[arg(long)]
        roots: PathBuf,
        /// PEM file with CRLs; repeat for several files.
        #[arg(long = "crl")]
        crls: Vec<PathBuf>,
        /// Verify at this time (Unix seconds) instead of now.
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<u64>,
        /// Also require the credential to be for this identifier
        /// (e.g. mimi://b.example/u/bob).
        #[arg(long, value_name = "IDENTIFIER")]
        expect: Option<String>,
        /// PEM file with the chain, leaf first.
        chain: PathBuf,
    },
}

pub fn run(cmd: CertCommand) -> anyhow::Result<()> {
    match cmd {
        CertCommand::Show { file } => {
            for (i, cert) in read_certs(&file)?.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", describe(cert));
            }
            Ok(())
        }
        CertCommand::Verify {
            roots,
            crls,
            at,
            expect,
            chain,
        } => verify(&roots, &crls, at, expect.as_deref(), &chain),
    }
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    let text = read_text(path)?;
    Certificate::from_pem_chain(&text)
        .with_context(|| format!("{} holds no usable certificate", path.display()))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn verify(
    roots: &Path,
    crl_files: &[PathBuf],
    at: Option<u64>,
    expect: Option<&str>,
    chain: &Path,
) -> anyhow::Result<()> {
    let anchors = TrustAnchors::new(read_certs(roots)?);
    let mut crls = Vec::new();
    for file in crl_files {
        let text = read_text(file)?;
        crls.extend(
            Crl::from_pem(&text)
                .with_context(|| format!("{} holds no usable CRL", file.display()))?,
        );
    }
    let chain = read_certs(chain)?;
    let time = at.map_or_else(SystemTime::now, |s| UNIX_EPOCH + Duration::from_secs(s));
    let cred = verify_chain(&chain, &anchors, &crls, time)?;
    if let Some(expected) = expect {
        let id: Identifier = expected
            .parse()
            .with_context(|| format!("--expect {expected:?} is not an identifier"))?;
        cred.require(&id)?;
    }
    println!("verified      yes");
    println!("user          {}", cred.user());
    if let Some(d) = cred.device() {
        println!("device        {d}");
    }
    println!("profile       {:?}", cred.profile());
    println!("issuing domain {}", cred.issuing_domain());
    if let Some(o) = cred.organization() {
        println!("organization  {o}");
    }
    for n in cred.phone_numbers() {
        println!("phone number  +{}", n.as_str());
    }
    Ok(())
}

fn time_text(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{secs} (Unix seconds)")
}

fn describe(cert: &Certificate) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        ("subject", cert.subject_text()),
        ("issuer", cert.issuer_text()),
        ("serial", hex(cert.serial())),
        ("not before", time_text(cert.not_before())),
        ("not after", time_text(cert.not_after())),
    ];
    rows.push((
        "CA",
        match cert.ca() {
            None => "no (end entity)".into(),
            Some(None) => "yes, no path length limit".into(),
            Some(Some(n)) => format!("yes, path length {n}"),
        },
    ));
    for uri in cert.uris() {
        let what = match mimi_identifiers::parse(uri) {
            Ok(p) => format!("{uri} ({} {})", p.identifier.kind(), p.identifier),
            Err(_) => format!("{uri} (not a MIMI identifier)"),
        };
        rows.push(("identity", what));
    }
    if let Some(nc) = cert.uri_constraints() {
        for p in &nc.permitted {
            rows.push(("permits URIs", format!("with host {p}")));
        }
        for e in &nc.excluded {
            rows.push(("excludes URIs", format!("with host {e}")));
        }
    }
    if let Some(tn) = cert.tn_auth_list() {
        for entry in tn.entries() {
            rows.push((
                "TNAuthList",
                match entry {
                    TnEntry::One(n) => format!("+{}", n.as_str()),
                    TnEntry::Range { start, count } => {
                        format!("{count} numbers from +{}", start.as_str())
                    }
                    TnEntry::ServiceProviderCode(spc) => format!("service provider code {spc}"),
                },
            ));
        }
    }
    rows.push((
        "key",
        cert.key_scheme()
            .map_or("not Ed25519 or P-256 (not usable for MIMI)".into(), |s| {
                format!("{s:?}")
            }),
    ));
    rows.push(("SHA-256", cert.fingerprint_sha256()));
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("{label:<14}{value}\n"));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
