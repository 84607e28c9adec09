//! HTTPS on loopback: a TLS root and a server certificate for a name.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mimi_credentials::{
    Certificate, CertificateAuthority, KeyPair, SignatureScheme, Subject, Validity,
};
use mimi_identifiers::Domain;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub fn validity() -> Validity {
    let now = SystemTime::now();
    Validity::new(
        now - Duration::from_secs(3600),
        now + Duration::from_secs(365 * 86400),
    )
    .unwrap()
}

pub fn tls_root() -> CertificateAuthority {
    CertificateAuthority::new_tls_root(
        "Test TLS root",
        SignatureScheme::EcdsaP256Sha256,
        validity(),
    )
    .unwrap()
}

/// A rustls server config for `name`, issued by `root`.
pub fn server_config(root: &CertificateAuthority, name: &str) -> Arc<rustls::ServerConfig> {
    let key = KeyPair::generate(SignatureScheme::EcdsaP256Sha256).unwrap();
    let cert = root
        .issue(
            &Subject::TlsServer {
                dns_names: vec![Domain::parse(name).unwrap()],
            },
            &key.public_key(),
            validity(),
        )
        .unwrap();
    mimi_transport::https::server_config(
        vec![der(&cert)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8_der())),
    )
    .unwrap()
}

pub fn der(cert: &Certificate) -> CertificateDer<'static> {
    CertificateDer::from(cert.der().to_vec())
}
