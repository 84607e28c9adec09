//! `provider.toml`: the example parses and checks; bad configs give the
//! `ConfigError` messages that say what to fix; a config file on disk starts
//! a provider on either back end.

use std::path::{Path, PathBuf};

use mimi_provider::config::{Limits, StorageUrl};
use mimi_provider::testing::{Backend, TestPki, create_database, database_of, drop_database};
use mimi_provider::{ConfigError, ProviderConfig};
use mimi_transport::SignatureKeys;
use mimi_transport::https::{self, ResolverMap};

use crate::harness::both_backends;

both_backends!(a_config_file_starts_a_provider);

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("provider.example.toml")
}

#[test]
fn the_example_config_parses_and_checks() {
    let settings = ProviderConfig::load(&example()).unwrap();
    let dir = example().parent().unwrap().to_path_buf();
    assert_eq!(settings.domain.as_str(), "a.example");
    assert_eq!(settings.ds_domain.as_str(), "a.example");
    assert_eq!(settings.listen, ["0.0.0.0:443".parse().unwrap()]);
    assert_eq!(
        settings.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert_eq!(settings.data_dir, dir.join("provider-data"));
    assert_eq!(
        settings.storage,
        StorageUrl::Sqlite(dir.join("provider-data").join("provider.db"))
    );
    assert_eq!(settings.tls_certificate, dir.join("tls/a.example.pem"));
    assert_eq!(settings.tls_roots, [dir.join("roots/tls-root.pem")]);
    assert_eq!(
        settings.identity_roots,
        [dir.join("roots/identity-root.pem")]
    );
    assert!(settings.resolve.is_empty());
    // The example spells out the defaults.
    assert_eq!(settings.limits, Limits::default());
    assert_eq!(settings.key_packages.cipher_suites, [1, 2]);
    assert_eq!(settings.key_packages.max_lifetime_days, 90);
    assert!(settings.discovery.anonymous_user_keys);
}

/// The example with `edit` applied to its text, loaded from a file.
fn load_edited(
    edit: impl FnOnce(String) -> String,
) -> Result<mimi_provider::Settings, ConfigError> {
    let text = edit(std::fs::read_to_string(example()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.toml");
    std::fs::write(&path, text).unwrap();
    ProviderConfig::load(&path)
}

fn replace(from: &'static str, to: &'static str) -> impl FnOnce(String) -> String {
    move |text| {
        assert!(text.contains(from), "the example has no {from:?}");
        text.replacen(from, to, 1)
    }
}

/// An edit of the example's text.
type Edit = Box<dyn FnOnce(String) -> String>;

#[test]
fn bad_configs_say_what_to_fix() {
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "unknown field",
            Box::new(|text| format!("colour = \"blue\"\n{text}")),
            "unknown field `colour`",
        ),
        (
            "bad domain",
            Box::new(replace(
                "domain = \"a.example\"",
                "domain = \"not a domain!\"",
            )),
            "config field `domain`: \"not a domain!\" is not a domain name",
        ),
        (
            "no listen address",
            Box::new(replace("listen = [\"0.0.0.0:443\"]", "listen = []")),
            "config field `listen`: give at least one address, e.g. listen = [\"0.0.0.0:443\"]",
        ),
        (
            "no listen field",
            Box::new(replace("listen = [\"0.0.0.0:443\"]", "")),
            "missing field `listen`",
        ),
        (
            "cipher suite 9999",
            Box::new(replace(
                "cipher_suites = [1, 2]",
                "cipher_suites = [1, 9999]",
            )),
            "config field `key_packages.cipher_suites`: 9999 is not an MLS cipher suite (RFC 9420 §17.1)",
        ),
        (
            "no cipher suite",
            Box::new(replace("cipher_suites = [1, 2]", "cipher_suites = []")),
            "config field `key_packages.cipher_suites`: give at least one MLS cipher suite, e.g. [1]",
        ),
        (
            "per_second 0",
            Box::new(replace(
                "client = { burst = 200, per_second = 100.0 }",
                "client = { burst = 200, per_second = 0.0 }",
            )),
            "config field `rate_limits.client`: per_second must be a positive number, not 0",
        ),
        (
            "unknown storage",
            Box::new(|text| format!("storage = \"mysql://db\"\n{text}")),
            "config field `storage`: must start with sqlite:// or postgres://",
        ),
        (
            "no TLS root",
            Box::new(replace(
                "tls_roots = [\"roots/tls-root.pem\"]",
                "tls_roots = []",
            )),
            "config field `tls_roots`: give at least one PEM file",
        ),
        (
            "bad resolver name",
            Box::new(replace(
                "[resolve]\n",
                "[resolve]\n\"-bad-\" = \"127.0.0.1:1\"\n",
            )),
            "config field `resolve`: \"-bad-\" is not a domain name",
        ),
    ];
    for (name, edit, expected) in cases {
        let error = load_edited(edit).expect_err(name).to_string();
        assert!(
            error.contains(expected),
            "{name}: {error:?} does not say {expected:?}"
        );
    }
    let missing = ProviderConfig::load(Path::new("/nonexistent/provider.toml")).unwrap_err();
    assert!(
        matches!(missing, ConfigError::Read { .. })
            && missing
                .to_string()
                .starts_with("cannot read config file /nonexistent/provider.toml:"),
        "{missing}"
    );
    let unparsable = load_edited(|text| format!("{text}\n[[[")).unwrap_err();
    assert!(
        matches!(unparsable, ConfigError::Parse { .. }),
        "{unparsable}"
    );
}

/// A `provider.toml` written to disk the way an operator would, with the
/// test PKI's files, loaded and started with `mimi_provider::start`.
async fn a_config_file_starts_a_provider(backend: Backend) {
    let pki = TestPki::new(&["b.example"]).unwrap();
    let files = pki.provider_files("b.example").unwrap();
    let (storage, admin) = match &backend {
        Backend::Sqlite => (String::new(), None),
        Backend::Postgres(admin) => {
            let url = create_database(admin).await.unwrap();
            (format!("storage = \"{url}\"\n"), Some((admin.clone(), url)))
        }
    };
    let text = format!(
        "domain = \"b.example\"\n\
         listen = [\"127.0.0.1:0\"]\n\
         metrics_listen = \"127.0.0.1:0\"\n\
         {storage}\
         tls_certificate = {:?}\n\
         tls_key = {:?}\n\
         tls_roots = [{:?}]\n\
         identity_roots = [{:?}]\n\
         [rate_limits]\n\
         client = {{ burst = 5, per_second = 1.0 }}\n",
        files.tls_certificate, files.tls_key, files.tls_root, files.identity_root
    );
    let path = pki.dir().join("provider.toml");
    std::fs::write(&path, text).unwrap();
    let settings = ProviderConfig::load(&path).unwrap();
    assert_eq!(settings.data_dir, pki.dir().join("provider-data"));
    match (&backend, &settings.storage) {
        (Backend::Sqlite, StorageUrl::Sqlite(db)) => {
            assert_eq!(db, &pki.dir().join("provider-data").join("provider.db"));
        }
        (Backend::Postgres(_), StorageUrl::Postgres(_)) => {}
        other => panic!("wrong storage: {other:?}"),
    }
    let running = mimi_provider::start(settings).await.unwrap();
    assert!(
        running.banner[0].contains("b.example"),
        "{:?}",
        running.banner
    );
    let mut resolve = ResolverMap::new();
    resolve.insert("b.example".into(), running.addrs[0]);
    let http = https::client(&[pki.tls_root_der()], &resolve).unwrap();
    let keys = http
        .get("https://b.example/signature_key")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(SignatureKeys::decode(&keys).unwrap().keys().len(), 1);
    let metrics = http
        .get(format!("http://{}/metrics", running.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    if let Some(provider) = running.provider::<mimi_storage::PostgresStorage>() {
        provider.storage().close().await;
    }
    running.shutdown().await;
    if let Some((admin, url)) = admin {
        drop_database(&admin, &database_of(&url)).await;
    }
}
