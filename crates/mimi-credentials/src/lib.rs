//! X.509 credentials for MIMI identities (draft-barnes-mimi-identity-arch §4,
//! draft-mahy-mimi-identity "Centralized credential hierarchy").
//!
//! - **Issue** ([`CertificateAuthority`]): identity root → domain CA or
//!   phone-number CA → user → device, in the three profiles of
//!   draft-mahy-mimi-identity. Identifiers go in subjectAltName as `mimi://`
//!   URIs only; each CA below the root carries a URI name constraint for its
//!   domain; phone numbers go in the TNAuthList extension ([`TnAuthList`],
//!   RFC 8226) and are delegated per RFC 9060. Ed25519 by default, ECDSA P-256
//!   supported. CRLs are valid for at most 24 hours.
//! - **Verify** ([`verify_chain`]): RFC 5280 path validation as MIMI needs it,
//!   with mandatory, fresh revocation data, returning a [`VerifiedCredential`]
//!   (user, device, phone numbers, organization, issuing domain) and
//!   [`Policy`] checks. Every rejection names the certificate and the reason.
//! - **TLS** ([`CertificateAuthority::new_tls_root`], [`Subject::TlsServer`]):
//!   a separate TLS root that signs only HTTPS server certificates. The two
//!   PKIs never mix: identity CAs refuse TLS subjects, the TLS root refuses
//!   MIMI subjects, and [`verify_chain`] refuses any chain through a TLS CA.
//! - **CSRs** ([`verify_csr`]): PKCS#10 requests as ACME finalize carries
//!   them, self-signature checked, names and TNAuthList extracted.
//!
//! Not here: ACME, storage, networking. Keys live wherever the caller keeps
//! them (PKCS#8 via [`KeyPair::to_pkcs8_der`]).

mod cert;
mod credential;
mod crl;
mod csr;
mod error;
mod issue;
mod key;
mod oids;
mod tnauthlist;
mod verify;

pub use cert::{Certificate, MAX_CERT_LEN, UriConstraints};
pub use credential::{Policy, Profile, VerifiedCredential};
pub use crl::{Crl, CrlError, MAX_CRL_LEN};
pub use csr::{MAX_CSR_LEN, VerifiedCsr, verify_csr};
pub use error::{
    CertificateError, ChainIndex, CsrError, IssueError, PolicyDenied, Rejection, VerifyError,
};
pub use issue::{CaRole, CertificateAuthority, MAX_CRL_LIFETIME, RevokedSerial, Subject, Validity};
pub use key::{BadSignature, KeyPair, PublicKey, SignatureScheme};
pub use tnauthlist::{TelephoneNumber, TnAuthList, TnAuthListError, TnEntry};
pub use verify::{MAX_CHAIN_LEN, TrustAnchors, verify_chain};

/// rcgen's parameter type, for [`CertificateAuthority::dangerous_issue_unchecked`].
#[cfg(feature = "dangerous-test-utils")]
pub use rcgen;
