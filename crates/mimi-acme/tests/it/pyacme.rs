//! The Python `acme` library (PyPI, certbot's ACME client; code nobody here
//! wrote) gets a phone-number CA: tests/it/pyacme_tnauthlist.py drives the
//! whole phone-ca flow, and this side checks the chain it prints.
//!
//! scripts/test installs the library into a virtual environment and sets
//! `MIMI_PYACME_PYTHON` to its python; without it the test fails, saying so.

use std::process::Command;

use mimi_acme::AcmeStore;
use mimi_credentials::{SignatureScheme, TnAuthList};
use mimi_identifiers::PhoneNumber;
use serde_json::Value;

use crate::harness::{AUTHORITY, Authority, PROVIDER_DOMAIN};
use crate::phone_ca::{MAC_KEY, check_phone_ca};
use crate::raw_client::b64;

const NUMBER: &str = "+442079460123";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

// Several threads: the server must keep answering while this one waits for
// the Python process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_acme_library_gets_a_phone_number_ca() {
    let Some(python) = std::env::var_os("MIMI_PYACME_PYTHON") else {
        panic!(
            "MIMI_PYACME_PYTHON is not set, so the Python acme test cannot run: run scripts/test, \
             which installs the Python `acme` library into a virtual environment and sets it \
             (or set it yourself to a python that can `import acme`, acme >= 3)"
        );
    };
    let authority = Authority::start().await;
    authority.store.add_eab_key("py", MAC_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tls_root = dir.path().join("tls-root.pem");
    std::fs::write(&tls_root, authority.tls_root.pem()).unwrap();
    let tn_der = TnAuthList::one(&PhoneNumber::parse(NUMBER).unwrap()).to_der();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/pyacme_tnauthlist.py");
    let mut command = Command::new(&python);
    command
        .arg(script)
        .arg("--directory")
        .arg(&authority.directory)
        .arg("--authority-name")
        .arg(AUTHORITY)
        .arg("--eab-kid")
        .arg("py")
        .arg("--eab-key")
        .arg(b64(MAC_KEY))
        .arg("--domain")
        .arg(PROVIDER_DOMAIN)
        .arg("--number")
        .arg(NUMBER)
        .arg("--tnauthlist-hex")
        .arg(hex(&tn_der))
        .arg("--outbox")
        .arg(&authority.outbox)
        .arg("--token-dir")
        .arg(&authority.token_dir)
        // requests trusts the test TLS root, and talks to loopback directly.
        .env("REQUESTS_CA_BUNDLE", &tls_root)
        .env("NO_PROXY", "*")
        .env("no_proxy", "*");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {python:?}: {e}; run scripts/test"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python acme client failed ({}):\n{stderr}",
        output.status
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?}, stderr:\n{stderr}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    check_phone_ca(
        &authority,
        result["chain_pem"].as_str().unwrap(),
        &unhex(result["key_pkcs8_hex"].as_str().unwrap()),
        SignatureScheme::EcdsaP256Sha256,
        NUMBER,
        PROVIDER_DOMAIN,
    );
    assert_eq!(authority.texts_to(NUMBER).len(), 1, "one SMS was sent");
}
