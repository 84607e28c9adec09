//! `mimi-server authority` as an operator runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use mimi_credentials::Certificate;
use rustls_pki_types::CertificateDer;

/// A running authority process, killed when dropped.
struct Running {
    child: Child,
    banner: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn line(&self, label: &str) -> String {
        self.banner
            .iter()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in {:?}", self.banner))
            .clone()
    }

    fn port(&self) -> u16 {
        let line = self.line("listening on");
        line.rsplit(':').next().unwrap().trim().parse().unwrap()
    }

    fn fingerprint(&self, label: &str) -> String {
        self.line(label)
            .rsplit("SHA-256 ")
            .next()
            .unwrap()
            .trim()
            .to_owned()
    }
}

fn start(data_dir: &Path, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["authority", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while banner.len() < 6 {
        match lines.next() {
            Some(Ok(line)) => banner.push(line),
            _ => break,
        }
    }
    Running { child, banner }
}

fn openssl_fingerprint(pem: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().rsplit('=').next().unwrap().to_owned()
}

#[tokio::test]
async fn first_start_creates_roots_and_serves_the_directory_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("authority");
    let running = start(&data, &[]);
    assert!(
        running
            .line("directory")
            .contains("https://acme.authority.example:"),
        "{:?}",
        running.banner
    );

    for key in ["identity-root.key", "tls-root.key", "server.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    assert_eq!(
        running.fingerprint("identity root"),
        openssl_fingerprint(&data.join("identity-root.pem"))
    );
    assert_eq!(
        running.fingerprint("TLS root"),
        openssl_fingerprint(&data.join("tls-root.pem"))
    );

    let tls_root =
        Certificate::from_pem_chain(&std::fs::read_to_string(data.join("tls-root.pem")).unwrap())
            .unwrap();
    let mut resolve = mimi_transport::https::ResolverMap::new();
    resolve.insert(
        "acme.authority.example".into(),
        ([127, 0, 0, 1], running.port()).into(),
    );
    let client = mimi_transport::https::client(
        &[CertificateDer::from(tls_root[0].der().to_vec())],
        &resolve,
    )
    .unwrap();
    let url = format!(
        "https://acme.authority.example:{}/acme/directory",
        running.port()
    );
    let directory: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        directory["newAccount"],
        format!(
            "https://acme.authority.example:{}/acme/new-account",
            running.port()
        )
    );
    assert!(directory["meta"]["profiles"]["domain-ca"].is_string());

    // The identity root is not a TLS root: a client trusting only it refuses the server.
    let identity_root = Certificate::from_pem_chain(
        &std::fs::read_to_string(data.join("identity-root.pem")).unwrap(),
    )
    .unwrap();
    let wrong = mimi_transport::https::client(
        &[CertificateDer::from(identity_root[0].der().to_vec())],
        &resolve,
    )
    .unwrap();
    assert!(wrong.get(&url).send().await.is_err());
}

#[test]
fn a_restart_keeps_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("authority");
    let first = start(&data, &[]);
    let fingerprints = (
        first.fingerprint("identity root"),
        first.fingerprint("TLS root"),
    );
    drop(first);
    let second = start(&data, &[]);
    assert_eq!(
        (
            second.fingerprint("identity root"),
            second.fingerprint("TLS root")
        ),
        fingerprints
    );
}

#[test]
fn refuses_keys_others_can_read_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("authority");
    drop(start(&data, &[]));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        data.join("identity-root.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["authority", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is readable by others (mode 644); run chmod 600 on it"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["authority", "--name", "localhost", "--data-dir"])
        .arg(dir.path().join("other"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--name \"localhost\" is not a domain name")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_mimi-server"))
        .args(["authority", "--eab", "short=AAAA", "--data-dir"])
        .arg(dir.path().join("other2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a name and at least 32 bytes"));
}

#[test]
fn the_sms_gateway_is_chosen_by_flags() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("phone.jsonl");
    let running = start(
        &dir.path().join("a"),
        &["--sms-outbox", outbox.to_str().unwrap()],
    );
    assert_eq!(
        running.line("SMS gateway"),
        format!("  SMS gateway    outbox {}", outbox.display())
    );
    drop(running);
    let running = start(
        &dir.path().join("b"),
        &[
            "--sms-webhook",
            "https://sms.example/send",
            "--sms-webhook-header",
            "X-Api-Key: secret",
        ],
    );
    assert_eq!(
        running.line("SMS gateway"),
        "  SMS gateway    webhook https://sms.example/send"
    );
    drop(running);
    let default = start(&dir.path().join("c"), &[]);
    assert!(
        default.line("SMS gateway").ends_with("c/sms-outbox.jsonl"),
        "{:?}",
        default.banner
    );
    drop(default);

    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mimi-server"))
            .args(["authority", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("d"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--sms-webhook",
        "https://sms.example/send",
        "--sms-webhook-header",
        "no colon",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("write \"Name: value\""));
    let out = run(&["--sms-webhook", "ftp://sms.example"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an http(s) URL"));
    let out = run(&["--sms-outbox", "x", "--sms-webhook", "https://sms.example"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses both at once");
}
