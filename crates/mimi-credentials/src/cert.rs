//! A parsed X.509 certificate and the parts of it MIMI looks at.

use std::time::{Duration, SystemTime};

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use x509_cert::ext::pkix::constraints::BasicConstraints;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, KeyUsage, NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;

use crate::error::CertificateError;
use crate::oids;
use crate::tnauthlist::TnAuthList;

/// Largest certificate we parse (MIMI certificates are well under 2 KiB).
pub const MAX_CERT_LEN: usize = 16 * 1024;

/// A certificate: its DER and the extensions MIMI uses, decoded once.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs_der: Vec<u8>,
    pub(crate) inner: x509_cert::Certificate,
    pub(crate) ext: Extensions,
}

/// The extensions MIMI cares about. Unknown non-critical extensions are ignored;
/// an unknown critical one is remembered so that verification refuses it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extensions {
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<KeyUsage>,
    pub san_uris: Vec<String>,
    /// subjectAltName dNSName entries (TLS server certificates only).
    pub san_dns: Vec<String>,
    /// SubjectAltName entries of other types than URI (DNS names included).
    pub san_other: usize,
    pub name_constraints: Option<UriConstraints>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    pub tn_auth_list: Option<TnAuthList>,
    pub ext_key_usage: Option<Vec<ObjectIdentifier>>,
    pub unknown_critical: Option<ObjectIdentifier>,
}

/// The URI part of a NameConstraints extension (RFC 5280 §4.2.1.10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriConstraints {
    pub permitted: Vec<String>,
    pub excluded: Vec<String>,
    /// Whether the extension also constrains other name types.
    pub(crate) other_types: bool,
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CERT_LEN {
            return Err(CertificateError::TooLarge(der.len()));
        }
        let inner = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        // The signature covers the TBS bytes as sent; DER has one encoding, so
        // re-encoding what strict DER decoding accepted gives those bytes.
        let tbs_der = inner
            .tbs_certificate
            .to_der()
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let ext = Extensions::decode(&inner)?;
        Ok(Certificate {
            der: der.to_vec(),
            tbs_der,
            inner,
            ext,
        })
    }

    /// Parses every `CERTIFICATE` block of a PEM text, in order.
    pub fn from_pem_chain(pem: &str) -> Result<Vec<Self>, CertificateError> {
        let mut out = Vec::new();
        for block in pem_blocks(pem, "CERTIFICATE")? {
            out.push(Certificate::from_der(&block)?);
        }
        if out.is_empty() {
            return Err(CertificateError::NoPem("CERTIFICATE"));
        }
        Ok(out)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> String {
        to_pem("CERTIFICATE", &self.der)
    }

    pub(crate) fn tbs_der(&self) -> &[u8] {
        &self.tbs_der
    }

    pub(crate) fn subject(&self) -> &Name {
        &self.inner.tbs_certificate.subject
    }

    pub(crate) fn issuer(&self) -> &Name {
        &self.inner.tbs_certificate.issuer
    }

    /// The subject as text (RFC 4514 style), for messages.
    pub fn subject_text(&self) -> String {
        self.subject().to_string()
    }

    /// The issuer as text (RFC 4514 style).
    pub fn issuer_text(&self) -> String {
        self.issuer().to_string()
    }

    /// SHA-256 of the DER, as colon-separated hex (what `openssl x509
    /// -fingerprint -sha256` prints).
    pub fn fingerprint_sha256(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der);
        digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The subject key's signature scheme, if it is one MIMI accepts.
    pub fn key_scheme(&self) -> Option<crate::SignatureScheme> {
        crate::key::key_scheme(&self.inner.tbs_certificate.subject_public_key_info)
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<String> {
        name_attribute(self.subject(), oids::COMMON_NAME)
    }

    /// The subject's organization (O), if any.
    pub fn organization(&self) -> Option<String> {
        name_attribute(self.subject(), oids::ORGANIZATION)
    }

    /// The serial number's bytes (big-endian, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.inner.tbs_certificate.serial_number.as_bytes()
    }

    pub fn not_before(&self) -> SystemTime {
        self.inner
            .tbs_certificate
            .validity
            .not_before
            .to_system_time()
    }

    pub fn not_after(&self) -> SystemTime {
        self.inner
            .tbs_certificate
            .validity
            .not_after
            .to_system_time()
    }

    /// The subjectAltName URIs.
    pub fn uris(&self) -> &[String] {
        &self.ext.san_uris
    }

    /// The subjectAltName DNS names (only TLS server certificates have any).
    pub fn dns_names(&self) -> &[String] {
        &self.ext.san_dns
    }

    /// Whether this is a TLS CA: a CA whose extKeyUsage allows serverAuth.
    /// MIMI identity CAs never carry extKeyUsage; the TLS root carries
    /// exactly serverAuth (see [`crate::CaRole::TlsRoot`]), so this is what
    /// keeps the two PKIs apart.
    pub fn is_tls_ca(&self) -> bool {
        self.ca().is_some()
            && self
                .ext
                .ext_key_usage
                .as_ref()
                .is_some_and(|eku| eku.contains(&oids::SERVER_AUTH))
    }

    /// Whether basicConstraints says this is a CA, and its path length.
    pub fn ca(&self) -> Option<Option<u8>> {
        self.ext
            .basic_constraints
            .as_ref()
            .filter(|bc| bc.ca)
            .map(|bc| bc.path_len_constraint)
    }

    pub fn uri_constraints(&self) -> Option<&UriConstraints> {
        self.ext.name_constraints.as_ref()
    }

    pub fn tn_auth_list(&self) -> Option<&TnAuthList> {
        self.ext.tn_auth_list.as_ref()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.inner
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("decoded structure re-encodes")
    }

    /// Whether the certificate is self-issued (subject = issuer).
    pub(crate) fn is_self_issued(&self) -> bool {
        self.subject() == self.issuer()
    }
}

fn name_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0.iter().flat_map(|rdn| rdn.0.iter()).find_map(|atv| {
        (atv.oid == oid).then(|| {
            atv.value
                .decode_as::<String>()
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.to_string())
                })
                .unwrap_or_default()
        })
    })
}

impl Extensions {
    fn decode(cert: &x509_cert::Certificate) -> Result<Self, CertificateError> {
        let mut out = Extensions::default();
        let Some(exts) = &cert.tbs_certificate.extensions else {
            return Ok(out);
        };
        let mut seen = Vec::with_capacity(exts.len());
        for ext in exts {
            if seen.contains(&ext.extn_id) {
                return Err(CertificateError::DuplicateExtension(
                    ext.extn_id.to_string(),
                ));
            }
            seen.push(ext.extn_id);
            let value = ext.extn_value.as_bytes();
            let bad = |_| CertificateError::BadExtension(ext.extn_id.to_string());
            match ext.extn_id {
                oids::BASIC_CONSTRAINTS => {
                    out.basic_constraints = Some(BasicConstraints::from_der(value).map_err(bad)?)
                }
                oids::KEY_USAGE => out.key_usage = Some(KeyUsage::from_der(value).map_err(bad)?),
                oids::SUBJECT_ALT_NAME => {
                    let san = SubjectAltName::from_der(value).map_err(bad)?;
                    for name in san.0 {
                        match name {
                            GeneralName::UniformResourceIdentifier(uri) => {
                                out.san_uris.push(uri.to_string())
                            }
                            GeneralName::DnsName(dns) => {
                                out.san_dns.push(dns.to_string());
                                out.san_other += 1;
                            }
                            _ => out.san_other += 1,
                        }
                    }
                }
                oids::NAME_CONSTRAINTS => {
                    let nc = NameConstraints::from_der(value).map_err(bad)?;
                    out.name_constraints = Some(UriConstraints::from(nc));
                }
                oids::SUBJECT_KEY_IDENTIFIER => {
                    let ski = SubjectKeyIdentifier::from_der(value).map_err(bad)?;
                    out.subject_key_id = Some(ski.0.as_bytes().to_vec());
                }
                oids::AUTHORITY_KEY_IDENTIFIER => {
                    let aki = AuthorityKeyIdentifier::from_der(value).map_err(bad)?;
                    out.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
                }
                oids::EXT_KEY_USAGE => {
                    let eku =
                        x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value).map_err(bad)?;
                    out.ext_key_usage = Some(eku.0);
                }
                oids::TN_AUTH_LIST => {
                    let tn = TnAuthList::from_der(value)
                        .map_err(|e| CertificateError::BadTnAuthList(e.to_string()))?;
                    out.tn_auth_list = Some(tn);
                }
                oids::CRL_DISTRIBUTION_POINTS => {}
                other if ext.critical && out.unknown_critical.is_none() => {
                    out.unknown_critical = Some(other)
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

impl From<NameConstraints> for UriConstraints {
    fn from(nc: NameConstraints) -> Self {
        let mut out = UriConstraints::default();
        let mut collect =
            |subtrees: Option<Vec<x509_cert::ext::pkix::constraints::name::GeneralSubtree>>,
             into_permitted: bool| {
                for st in subtrees.unwrap_or_default() {
                    match st.base {
                        GeneralName::UniformResourceIdentifier(uri) if into_permitted => {
                            out.permitted.push(uri.to_string())
                        }
                        GeneralName::UniformResourceIdentifier(uri) => {
                            out.excluded.push(uri.to_string())
                        }
                        _ => out.other_types = true,
                    }
                }
            };
        collect(nc.permitted_subtrees, true);
        collect(nc.excluded_subtrees, false);
        out
    }
}

/// The host of a URI with an authority (`scheme://host/...`), lowercased.
pub(crate) fn uri_host(uri: &str) -> Option<String> {
    let rest = &uri[uri.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// RFC 5280 §4.2.1.10 for URIs: a constraint that starts with '.' matches
/// any subdomain; otherwise the host must be equal.
pub(crate) fn host_matches(host: &str, constraint: &str) -> bool {
    let constraint = constraint.to_ascii_lowercase();
    match constraint.strip_prefix('.') {
        Some(_) => host.len() > constraint.len() && host.ends_with(&constraint),
        None => host == constraint,
    }
}

pub(crate) fn to_pem(label: &str, der: &[u8]) -> String {
    use der::pem::LineEnding;
    der::pem::encode_string(label, LineEnding::LF, der).expect("PEM encoding of bytes")
}

/// Extracts the DER of each PEM block with `label`, ignoring others.
pub(crate) fn pem_blocks(
    text: &str,
    label: &'static str,
) -> Result<Vec<Vec<u8>>, CertificateError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let Some(stop) = rest[start..].find(&end) else {
            return Err(CertificateError::BadPem(label));
        };
        let block = &rest[start..start + stop + end.len()];
        let (found, der) =
            der::pem::decode_vec(block.as_bytes()).map_err(|_| CertificateError::BadPem(label))?;
        if found != label {
            return Err(CertificateError::BadPem(label));
        }
        out.push(der);
        rest = &rest[start + stop + end.len()..];
    }
    Ok(out)
}

/// Seconds since the Unix epoch, saturating at 0 for earlier times.
pub(crate) fn unix(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}
