//! Private keys at rest: PKCS#8 DER files readable by the owner only (0600),
//! created once and never overwritten (`mimi_provider::secret_file`).

use std::path::Path;

use anyhow::Context;
use mimi_credentials::{KeyPair, SignatureScheme};
use mimi_provider::secret_file;

/// Writes a new key file; fails if it exists.
pub fn create(path: &Path, key: &KeyPair) -> anyhow::Result<()> {
    Ok(secret_file::create(path, &key.to_pkcs8_der())?)
}

/// Reads a key file, refusing one that others can read.
pub fn load(path: &Path, scheme: SignatureScheme) -> anyhow::Result<KeyPair> {
    let der = secret_file::load(path)?;
    KeyPair::from_pkcs8_der(&der, scheme)
        .with_context(|| format!("key file {} is not a PKCS#8 {scheme:?} key", path.display()))
}
