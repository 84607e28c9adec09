//! Relayed CRLs (draft-barnes-mimi-identity-arch §4.3; docs/wire-spec.md
//! §15): what a provider serves at `GET /.well-known/mimi/crls` — the
//! identity root's CRL and its domain CA's (and phone-number CAs') CRLs,
//! fetched from the issuers and relayed unchanged. Clients and other
//! providers' hubs fetch a domain's CRLs there; they trust nothing in them
//! before checking each CRL's signature under its issuer and its freshness
//! themselves (a missing or stale CRL is an error, never a pass), so the
//! relaying provider needs no trust.
//!
//! The bundle is opaque DER here: parsing and checking CRLs is
//! mimi-credentials' work.

use tls_codec::{TlsSerialize, TlsSize, VLBytes};

use crate::error::WireError;
use crate::reader::{decode_with, encode_checked};

/// Largest CRL in a bundle: 8 MiB, mimi-credentials' `MAX_CRL_LEN` (about
/// 240,000 revoked serials).
pub const MAX_CRL_LEN: usize = 8 << 20;

/// Most CRLs in one bundle: the identity roots', the domain CA's and its
/// phone-number CAs'.
pub const MAX_BUNDLE_CRLS: usize = 16;

/// Largest `crls` vector (its content, length prefixes included): 16 MiB.
pub const MAX_BUNDLE_CRLS_LEN: usize = 16 << 20;

/// The media type the bundle is served with.
pub const CRL_BUNDLE_MEDIA_TYPE: &str = "application/octet-stream";

/// The well-known path of a domain's CRL bundle.
pub const CRL_BUNDLE_PATH: &str = "/.well-known/mimi/crls";

/// ```text
/// struct {
///     opaque crls<V>;   // opaque crl<V>: each a DER CertificateList (RFC 5280 §5)
/// } CrlBundle;
/// ```
///
/// 0 to [`MAX_BUNDLE_CRLS`] CRLs, each 1 to [`MAX_CRL_LEN`] bytes, at most
/// [`MAX_BUNDLE_CRLS_LEN`] bytes of `crls` in all. Order carries no meaning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TlsSerialize, TlsSize)]
pub struct CrlBundle {
    crls: Vec<VLBytes>,
}

impl CrlBundle {
    const NAME: &'static str = "CrlBundle";
    const CRLS: &'static str = "CrlBundle.crls";
    const CRL: &'static str = "CrlBundle.crls[i]";

    /// Largest encoding: the `crls` vector with its 4-byte length.
    pub const MAX_LEN: usize = 4 + MAX_BUNDLE_CRLS_LEN;

    /// A bundle of DER CRLs; bounds are checked by [`encode`](Self::encode).
    pub fn new(crls: Vec<Vec<u8>>) -> CrlBundle {
        CrlBundle {
            crls: crls.into_iter().map(VLBytes::from).collect(),
        }
    }

    /// Decodes exactly one bundle within its bounds. Never panics. The CRLs
    /// are returned as bytes, not parsed.
    pub fn decode(bytes: &[u8]) -> Result<CrlBundle, WireError> {
        decode_with(bytes, Self::MAX_LEN, Self::NAME, |r| {
            let crls = r.list(Self::CRLS, MAX_BUNDLE_CRLS, MAX_BUNDLE_CRLS_LEN, |r| {
                r.opaque(Self::CRL, 1, MAX_CRL_LEN)
            })?;
            Ok(CrlBundle { crls })
        })
    }

    /// The TLS serialization; refuses ([`WireError::Unencodable`]) a bundle
    /// that [`decode`](Self::decode) would refuse.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        encode_checked(self, Self::NAME, Self::decode)
    }

    /// The CRLs, DER, as sent.
    pub fn crls(&self) -> Vec<&[u8]> {
        self.crls.iter().map(VLBytes::as_slice).collect()
    }
}

#[cfg(test)]
mod tests;
