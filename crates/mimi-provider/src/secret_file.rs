//! Private keys at rest: files readable by their owner only (0600), created
//! once, never overwritten, and refused at load if others can read them.

use std::io::Write;
use std::path::Path;

use crate::error::StartError;

fn file_error(what: &'static str, path: &Path, detail: impl ToString) -> StartError {
    StartError::File {
        what,
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Reads the secret at `path`, or creates it with `make` if the file does not
/// exist. Returns the bytes and whether they were created now.
pub fn load_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, StartError>,
) -> Result<(Vec<u8>, bool), StartError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok((load(path)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make()?;
            create(path, &bytes)?;
            Ok((bytes, true))
        }
        Err(e) => Err(file_error("cannot read key file", path, e)),
    }
}

/// Writes a new secret file with mode 0600; fails if it exists.
pub fn create(path: &Path, bytes: &[u8]) -> Result<(), StartError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| file_error("cannot create directory", dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| file_error("cannot create key file", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| file_error("cannot write key file", path, e))
}

/// Reads a secret file, refusing one that group or others may read.
pub fn load(path: &Path) -> Result<Vec<u8>, StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| file_error("cannot read key file", path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(StartError::KeyFileReadable {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    std::fs::read(path).map_err(|e| file_error("cannot read key file", path, e))
}
