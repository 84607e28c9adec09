//! Certificate signing requests: the PKCS#10 CertificationRequest (RFC 2986)
//! an ACME client sends to finalize an order (RFC 8555 §7.4).
//!
//! [`verify_csr`] checks the request's self-signature (proof that the client
//! holds the key it asks a certificate for) and pulls out what a CA decides
//! on: the key, the subjectAltName DNS names and URIs, the TNAuthList and the
//! subject's common name. Whether those names may be certified is the
//! caller's decision (the ACME order's authorizations); other requested
//! extensions are ignored, because the CA, not the client, decides what a
//! certificate carries.

use der::asn1::{AnyRef, BitString, Ia5StringRef, ObjectIdentifier, PrintableStringRef};
use der::{Decode, Encode, Sequence};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;
use x509_cert::request::CertReqInfo;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::CsrError;
use crate::key::{self, PublicKey, SignatureError, SignatureScheme, key_scheme};
use crate::oids;
use crate::tnauthlist::TnAuthList;

/// Largest CSR we parse. An Ed25519 or P-256 CSR with a few names is well
/// under 1 KiB; the bound keeps an attacker's request from costing more.
pub const MAX_CSR_LEN: usize = 16 * 1024;

/// PKCS#9 extensionRequest (RFC 2985 §5.4.2): the extensions the client asks for.
const EXTENSION_REQUEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

/// A CSR whose self-signature verified, and what it asks for.
///
/// It is only produced by [`verify_csr`] (the struct is `non_exhaustive`, so
/// it cannot be built elsewhere): holding one means the requester holds the
/// private key of `public_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCsr {
    /// The key to certify (Ed25519 or ECDSA P-256).
    pub public_key: PublicKey,
    /// subjectAltName dNSName entries, lowercased (DNS names compare
    /// case-insensitively), in request order.
    pub dns_names: Vec<String>,
    /// subjectAltName uniformResourceIdentifier entries, as sent.
    pub uris: Vec<String>,
    /// The requested TNAuthList extension (RFC 8226), if any.
    pub tn_auth_list: Option<TnAuthList>,
    /// The subject's commonName, if it has one.
    pub subject_common_name: Option<String>,
}

/// The outer CertificationRequest, with certificationRequestInfo kept as the
/// bytes sent: the signature covers exactly those bytes.
#[derive(Sequence)]
struct SignedRequest<'a> {
    info: AnyRef<'a>,
    algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

/// Parses a DER PKCS#10 CSR, verifies its self-signature and returns what it
/// requests.
///
/// Only Ed25519 and ECDSA P-256 with SHA-256 are accepted, the key types
/// MIMI credentials and TLS certificates use here. Refused: bad DER, any
/// other key or algorithm, a signature algorithm that does not fit the key,
/// a bad signature, a repeated extension or extensionRequest attribute, and
/// subjectAltName entries other than DNS names and URIs.
pub fn verify_csr(der: &[u8]) -> Result<VerifiedCsr, CsrError> {
    if der.len() > MAX_CSR_LEN {
        return Err(CsrError::TooLarge(der.len()));
    }
    let signed = SignedRequest::from_der(der).map_err(|e| CsrError::Malformed(e.to_string()))?;
    let info_der = signed
        .info
        .to_der()
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    let info = CertReqInfo::from_der(&info_der)
        .map_err(|e| CsrError::Malformed(format!("certificationRequestInfo: {e}")))?;

    // Key first: an RSA CSR is the common mistake, and its fix (a new key)
    // matters more than anything else wrong with the request.
    let spki = &info.public_key;
    let scheme = key_scheme(spki).ok_or_else(|| CsrError::UnsupportedKey(describe_key(spki)))?;
    let alg = &signed.algorithm.oid;
    let alg_scheme = SignatureScheme::from_signature_oid(alg)
        .ok_or_else(|| CsrError::UnsupportedAlgorithm(describe_algorithm(alg)))?;
    if alg_scheme != scheme {
        return Err(CsrError::AlgorithmMismatch {
            algorithm: describe_algorithm(alg),
            key: describe_key(spki),
        });
    }
    let signature = signed.signature.as_bytes().ok_or_else(|| {
        CsrError::Malformed("the signature BIT STRING is not a whole number of bytes".into())
    })?;
    key::verify(spki, alg, &info_der, signature).map_err(|e| match e {
        SignatureError::UnsupportedAlgorithm => {
            CsrError::UnsupportedAlgorithm(describe_algorithm(alg))
        }
        SignatureError::KeyMismatch => CsrError::AlgorithmMismatch {
            algorithm: describe_algorithm(alg),
            key: describe_key(spki),
        },
        SignatureError::Invalid => CsrError::BadSignature,
    })?;

    let spki_der = spki
        .to_der()
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    let public_key =
        PublicKey::from_spki_der(&spki_der).map_err(|e| CsrError::UnsupportedKey(e.to_string()))?;
    let subject_common_name = common_name(&info.subject)?;
    let mut out = VerifiedCsr {
        public_key,
        dns_names: Vec::new(),
        uris: Vec::new(),
        tn_auth_list: None,
        subject_common_name,
    };
    for ext in requested_extensions(&info)? {
        read_extension(&ext, &mut out)?;
    }
    Ok(out)
}

/// The extensions of the extensionRequest attribute (none if it is absent).
/// Other attributes (e.g. challengePassword) mean nothing to ACME and are
/// ignored.
fn requested_extensions(info: &CertReqInfo) -> Result<Vec<Extension>, CsrError> {
    let mut found: Option<Vec<Extension>> = None;
    for attr in info.attributes.iter() {
        if attr.oid != EXTENSION_REQUEST {
            continue;
        }
        // Two requests, or one with two values, would leave it open which
        // extensions were asked for.
        if found.is_some() {
            return Err(CsrError::BadAttribute(
                "extensionRequest appears twice; put all extensions in one".into(),
            ));
        }
        let [value] = attr.values.as_slice() else {
            return Err(CsrError::BadAttribute(format!(
                "extensionRequest has {} values; it must have exactly one",
                attr.values.len()
            )));
        };
        let extensions = value.decode_as::<Vec<Extension>>().map_err(|e| {
            CsrError::BadAttribute(format!("extensionRequest is not a list of extensions: {e}"))
        })?;
        let mut seen: Vec<ObjectIdentifier> = Vec::with_capacity(extensions.len());
        for ext in &extensions {
            if seen.contains(&ext.extn_id) {
                return Err(CsrError::DuplicateExtension(describe_extension(
                    &ext.extn_id,
                )));
            }
            seen.push(ext.extn_id);
        }
        found = Some(extensions);
    }
    Ok(found.unwrap_or_default())
}

fn read_extension(ext: &Extension, out: &mut VerifiedCsr) -> Result<(), CsrError> {
    let value = ext.extn_value.as_bytes();
    match ext.extn_id {
        oids::SUBJECT_ALT_NAME => {
            let san = SubjectAltName::from_der(value)
                .map_err(|_| CsrError::BadExtension(describe_extension(&ext.extn_id)))?;
            for name in san.0 {
                match name {
                    GeneralName::DnsName(dns) => {
                        out.dns_names.push(dns.as_str().to_ascii_lowercase())
                    }
                    GeneralName::UniformResourceIdentifier(uri) => {
                        out.uris.push(uri.as_str().to_owned())
                    }
                    other => return Err(CsrError::UnsupportedSan(describe_san(&other))),
                }
            }
        }
        oids::TN_AUTH_LIST => {
            out.tn_auth_list = Some(TnAuthList::from_der(value).map_err(CsrError::BadTnAuthList)?)
        }
        _ => {}
    }
    Ok(())
}

/// The subject's commonName: at most one, of a string type people use.
fn common_name(subject: &Name) -> Result<Option<String>, CsrError> {
    let mut cns = subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oids::COMMON_NAME);
    let Some(atv) = cns.next() else {
        return Ok(None);
    };
    if cns.next().is_some() {
        return Err(CsrError::BadSubject(
            "it has more than one commonName; give at most one".into(),
        ));
    }
    let value = atv
        .value
        .decode_as::<String>()
        .or_else(|_| {
            atv.value
                .decode_as::<PrintableStringRef<'_>>()
                .map(|s| s.to_string())
        })
        .or_else(|_| {
            atv.value
                .decode_as::<Ia5StringRef<'_>>()
                .map(|s| s.to_string())
        })
        .map_err(|_| {
            CsrError::BadSubject(
                "its commonName is not a UTF8String, PrintableString or IA5String".into(),
            )
        })?;
    Ok(Some(value))
}

/// A key type in words, for messages.
fn describe_key(spki: &SubjectPublicKeyInfoOwned) -> String {
    const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
    const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
    const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
    const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
    let alg = &spki.algorithm;
    match alg.oid {
        oids::ED25519 => "Ed25519".into(),
        RSA | RSA_PSS => "RSA".into(),
        ED448 => "Ed448".into(),
        oids::EC_PUBLIC_KEY => {
            let curve = alg
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            match curve {
                Some(oids::SECP256R1) => "ECDSA P-256".into(),
                Some(P384) => "ECDSA P-384".into(),
                Some(P521) => "ECDSA P-521".into(),
                Some(SECP256K1) => "ECDSA secp256k1".into(),
                Some(other) => format!("ECDSA on curve {other}"),
                None => "ECDSA without a named curve".into(),
            }
        }
        other => format!("of algorithm {other}"),
    }
}

/// A signature algorithm in words, for messages.
fn describe_algorithm(oid: &ObjectIdentifier) -> String {
    const NAMES: [(&str, &str); 8] = [
        ("1.3.101.112", "Ed25519"),
        ("1.3.101.113", "Ed448"),
        ("1.2.840.10045.4.3.2", "ECDSA with SHA-256"),
        ("1.2.840.10045.4.3.3", "ECDSA with SHA-384"),
        ("1.2.840.10045.4.3.4", "ECDSA with SHA-512"),
        ("1.2.840.113549.1.1.11", "RSA with SHA-256"),
        ("1.2.840.113549.1.1.12", "RSA with SHA-384"),
        ("1.2.840.113549.1.1.10", "RSA-PSS"),
    ];
    let text = oid.to_string();
    NAMES
        .iter()
        .find(|(o, _)| *o == text)
        .map_or(format!("algorithm {text}"), |(_, name)| (*name).to_owned())
}

fn describe_extension(oid: &ObjectIdentifier) -> String {
    match *oid {
        oids::SUBJECT_ALT_NAME => format!("subjectAltName ({oid})"),
        oids::TN_AUTH_LIST => format!("TNAuthList ({oid})"),
        _ => oid.to_string(),
    }
}

/// A subjectAltName entry we do not certify, in words.
fn describe_san(name: &GeneralName) -> String {
    match name {
        GeneralName::Rfc822Name(email) => format!("the email address {}", email.as_str()),
        GeneralName::IpAddress(ip) => match ip.as_bytes() {
            &[a, b, c, d] => format!("the IP address {}", std::net::Ipv4Addr::new(a, b, c, d)),
            bytes => match <[u8; 16]>::try_from(bytes) {
                Ok(v6) => format!("the IP address {}", std::net::Ipv6Addr::from(v6)),
                Err(_) => "an IP address".into(),
            },
        },
        GeneralName::DirectoryName(_) => "a directory name".into(),
        GeneralName::OtherName(_) => "an otherName".into(),
        GeneralName::EdiPartyName(_) => "an EDI party name".into(),
        GeneralName::RegisteredId(_) => "a registered ID".into(),
        GeneralName::DnsName(_) | GeneralName::UniformResourceIdentifier(_) => {
            "a name of an unexpected type".into()
        }
    }
}
