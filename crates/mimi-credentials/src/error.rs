//! Errors, split by stage: reading a certificate or CRL, issuing, verifying.

/// A certificate or CRL that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    #[error("certificate is {0} bytes; at most 16 KiB is accepted")]
    TooLarge(usize),
    #[error("not a DER X.509 certificate: {0}")]
    Malformed(String),
    #[error("not a DER X.509 CRL: {0}")]
    MalformedCrl(String),
    #[error("extension {0} appears twice")]
    DuplicateExtension(String),
    #[error("extension {0} is not valid DER of its RFC 5280 type")]
    BadExtension(String),
    #[error("TNAuthList extension: {0}")]
    BadTnAuthList(String),
    #[error("no PEM block labelled {0} found")]
    NoPem(&'static str),
    #[error("a PEM block labelled {0} is not valid base64 PEM")]
    BadPem(&'static str),
}

/// Why a certificate or CRL could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    #[error("this CA cannot issue that: {0}")]
    NotAllowed(String),
    #[error("public key rejected: {0}")]
    BadPublicKey(&'static str),
    #[error("the CA certificate does not match the CA key or is not a MIMI CA: {0}")]
    BadCa(String),
    #[error("validity: {0}")]
    BadValidity(&'static str),
    #[error("certificate generation failed: {0}")]
    Generation(String),
}

impl From<rcgen::Error> for IssueError {
    fn from(e: rcgen::Error) -> Self {
        IssueError::Generation(e.to_string())
    }
}

/// Which certificate of a chain a [`VerifyError`] is about: `0` is the leaf,
/// `chain.len()` is the trust anchor.
pub type ChainIndex = usize;

/// A chain that did not verify: which certificate failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate {index} ({subject}) rejected: {reason}")]
pub struct VerifyError {
    pub index: ChainIndex,
    pub subject: String,
    pub reason: Rejection,
}

/// The reason a chain was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("the chain is empty")]
    EmptyChain,
    #[error("the chain has {0} certificates; at most {max} are accepted", max = crate::verify::MAX_CHAIN_LEN)]
    ChainTooLong(usize),
    #[error("cannot be read: {0}")]
    Unreadable(CertificateError),
    #[error("no trusted root issued it (issuer {issuer})")]
    UntrustedRoot { issuer: String },
    #[error(
        "it is a TLS CA (its extendedKeyUsage allows serverAuth): TLS roots certify HTTPS \
         servers only and are never MIMI identity anchors; verify against an identity root"
    )]
    TlsCa,
    #[error("its issuer field does not name the next certificate in the chain")]
    IssuerMismatch,
    #[error("its authority key identifier does not match the issuer's key")]
    KeyIdMismatch,
    #[error("its signature does not verify under the issuer's key")]
    BadSignature,
    #[error("it is signed with an algorithm other than Ed25519 or ECDSA P-256/SHA-256")]
    UnsupportedAlgorithm,
    #[error("its public key is not Ed25519 or ECDSA P-256")]
    UnsupportedKey,
    #[error("it is not valid yet (notBefore {not_before})")]
    NotYetValid { not_before: String },
    #[error("it has expired (notAfter {not_after})")]
    Expired { not_after: String },
    #[error("it issued a certificate but is not a CA (basicConstraints cA missing or false)")]
    NotACa,
    #[error("its keyUsage does not allow {0}")]
    KeyUsage(&'static str),
    #[error("its path length constraint {0} is exceeded by the CAs below it")]
    PathLenExceeded(u8),
    #[error("it has an unknown critical extension {0}")]
    UnknownCriticalExtension(String),
    #[error("its name constraints restrict name types other than URI, which MIMI does not use")]
    UnsupportedNameConstraint,
    #[error("its URI {uri} is outside the name constraints of {constrained_by}")]
    NameConstraint { uri: String, constrained_by: String },
    #[error("subjectAltName: {0}")]
    SubjectAltName(String),
    #[error("it is revoked (serial listed in the CRL of {issuer})")]
    Revoked { issuer: String },
    #[error("no CRL from its issuer {issuer} was given; fetch the current one and retry")]
    CrlMissing { issuer: String },
    #[error("the CRL of {issuer}: {problem}")]
    BadCrl { issuer: String, problem: String },
    #[error("its TNAuthList is not within its issuer's")]
    TnAuthListNotDelegated,
    #[error("it carries a TNAuthList but its issuer has none, so cannot delegate numbers")]
    TnAuthListWithoutIssuerList,
    #[error(
        "issued by the user CA of {user}, it must be a device certificate of that user: {problem}"
    )]
    UserCaRule { user: String, problem: String },
}

/// A verified credential that does not satisfy the verifier's policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy: {0}")]
pub struct PolicyDenied(pub String);

/// A certificate signing request (PKCS#10, as ACME finalize carries it) that
/// cannot be accepted. The messages are meant for the ACME client's user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    #[error("the CSR is {0} bytes; at most 16 KiB is accepted")]
    TooLarge(usize),
    #[error(
        "not a DER PKCS#10 certification request (RFC 2986): {0}; send the CSR's DER \
         (base64url-encoded in ACME finalize), not PEM"
    )]
    Malformed(String),
    #[error(
        "the CSR's key is {0}, which is not accepted: use an ECDSA P-256 or Ed25519 key \
         (e.g. `certbot --key-type ecdsa`, or `openssl genpkey -algorithm ed25519`) and make a new CSR"
    )]
    UnsupportedKey(String),
    #[error(
        "the CSR is signed with {0}; sign it with Ed25519, or with ECDSA P-256 and SHA-256 \
         (e.g. `openssl req -sha256`)"
    )]
    UnsupportedAlgorithm(String),
    #[error(
        "the CSR says it is signed with {algorithm}, which does not fit its {key} key; \
         sign the request with the key it carries"
    )]
    AlgorithmMismatch { algorithm: String, key: String },
    #[error(
        "the CSR's signature does not verify under the key it carries (was it altered?); \
         sign it again with that key"
    )]
    BadSignature,
    #[error("the CSR's attributes: {0}")]
    BadAttribute(String),
    #[error("the CSR requests extension {0} twice; request each extension once")]
    DuplicateExtension(String),
    #[error("the CSR's requested extension {0} is not valid DER of its type")]
    BadExtension(String),
    #[error("the CSR's TNAuthList extension: {0}")]
    BadTnAuthList(crate::tnauthlist::TnAuthListError),
    #[error(
        "the CSR's subjectAltName holds {0}, which is never certified; \
         request only DNS names and URIs"
    )]
    UnsupportedSan(String),
    #[error("the CSR's subject: {0}")]
    BadSubject(String),
}
