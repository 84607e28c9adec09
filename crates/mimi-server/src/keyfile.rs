//! Private keys at rest: PKCS#8 DER files readable by the owner only (0600),
//! created once and never overwritten.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use mimi_credentials::{KeyPair, SignatureScheme};

/// Writes a new key file; fails if it exists.
pub fn create(path: &Path, key: &KeyPair) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    file.write_all(&key.to_pkcs8_der())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write key file {}", path.display()))
}

/// Reads a key file, refusing one that others can read.
pub fn load(path: &Path, scheme: SignatureScheme) -> anyhow::Result<KeyPair> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "key file {} is readable by others (mode {:o}); run chmod 600 on it",
                path.display(),
                mode & 0o777
            );
        }
    }
    let der =
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    KeyPair::from_pkcs8_der(&der, scheme)
        .with_context(|| format!("key file {} is not a PKCS#8 {scheme:?} key", path.display()))
}
