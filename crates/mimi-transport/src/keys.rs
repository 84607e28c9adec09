//! Serving our own keys and DS domain (draft-kohbrok-mimi-transport §4, §5.1).
//!
//! `/signature_key` serves a list, not one key, so that a rotation can overlap:
//! while both are listed, peers accept the old and the new key (wire-spec §9).

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mimi_identifiers::Domain;
use mimi_wire::ServerVerificationKey;
use mimi_wire::tls_codec::{Deserialize, Serialize};

/// At most this many keys in one `/signature_key` answer: a rotation needs two;
/// the bound keeps a hostile list from costing us a verification per entry.
pub const MAX_KEYS: usize = 8;

/// At most this many bytes of a `/signature_key` answer are read.
pub const MAX_KEY_LIST_LEN: usize = 16 * 1024;

/// The path of the key endpoint (§5.1).
pub const SIGNATURE_KEY_PATH: &str = "/signature_key";

/// The path of the verification-key endpoint (§5.5): the same key list as
/// [`SIGNATURE_KEY_PATH`] (docs/draft-divergences.md).
pub const VERIFICATION_KEY_PATH: &str = "/verification_key";

/// The path of DS discovery (§4).
pub const DS_DOMAIN_PATH: &str = "/.well-known/mimi/ds-domain";

/// The body of `/signature_key`: `ServerVerificationKey keys<V>;`, an RFC 9420
/// variable-length vector of records (docs/wire-spec.md §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureKeys {
    keys: Vec<ServerVerificationKey>,
}

impl SignatureKeys {
    /// A list of 1 to [`MAX_KEYS`] keys; `None` otherwise.
    pub fn new(keys: Vec<ServerVerificationKey>) -> Option<SignatureKeys> {
        (!keys.is_empty() && keys.len() <= MAX_KEYS).then_some(SignatureKeys { keys })
    }

    pub fn keys(&self) -> &[ServerVerificationKey] {
        &self.keys
    }

    pub fn into_keys(self) -> Vec<ServerVerificationKey> {
        self.keys
    }

    /// The TLS serialization. Fails only if a key is larger than a vector may be.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        self.keys
            .tls_serialize_detached()
            .map_err(|e| e.to_string())
    }

    /// Decodes exactly one list from at most [`MAX_KEY_LIST_LEN`] bytes, with 1 to
    /// [`MAX_KEYS`] entries. Never panics; the message says what was wrong.
    pub fn decode(bytes: &[u8]) -> Result<SignatureKeys, String> {
        if bytes.len() > MAX_KEY_LIST_LEN {
            return Err(format!(
                "the key list is {} bytes, more than the {MAX_KEY_LIST_LEN} accepted",
                bytes.len()
            ));
        }
        let keys = Vec::<ServerVerificationKey>::tls_deserialize_exact(bytes)
            .map_err(|e| format!("the key list is not a TLS vector of records ({e:?})"))?;
        SignatureKeys::new(keys).ok_or_else(|| {
            format!("the key list must hold 1 to {MAX_KEYS} keys; send the current key (and the next during a rotation)")
        })
    }
}

/// What we serve about ourselves; shared with whatever rotates our key.
#[derive(Debug, Clone)]
pub struct ServedKeys {
    ds_domain: Domain,
    keys: Arc<RwLock<SignatureKeys>>,
}

impl ServedKeys {
    pub fn new(ds_domain: Domain, keys: SignatureKeys) -> ServedKeys {
        ServedKeys {
            ds_domain,
            keys: Arc::new(RwLock::new(keys)),
        }
    }

    /// Replaces the served list: add the next key before signing with it, and
    /// remove the old one only once its `not_after` has passed (wire-spec §9).
    pub fn set_keys(&self, keys: SignatureKeys) {
        // A poisoned lock only means a writer panicked mid-assignment of a whole
        // value; the value itself is intact.
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    pub fn keys(&self) -> SignatureKeys {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The routes `GET /signature_key`, `GET /verification_key` (§5.5, the same
/// list) and `GET /.well-known/mimi/ds-domain`, to be merged into a
/// provider's `Router`.
pub fn key_routes(served: ServedKeys) -> Router {
    Router::new()
        .route(SIGNATURE_KEY_PATH, get(signature_key))
        .route(VERIFICATION_KEY_PATH, get(signature_key))
        .route(DS_DOMAIN_PATH, get(ds_domain))
        .with_state(served)
}

async fn signature_key(State(served): State<ServedKeys>) -> Response {
    match served.keys().encode() {
        Ok(bytes) => ([(CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode our own signature keys");
            crate::error::problem_response(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "the server's signature keys cannot be encoded; retry later".to_string(),
            )
        }
    }
}

async fn ds_domain(State(served): State<ServedKeys>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        served.ds_domain.as_str().to_string(),
    )
        .into_response()
}
