//! Object identifiers used by MIMI credentials.

use der::asn1::ObjectIdentifier as Oid;

pub const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");

/// RFC 8226 §9: id-pe-TNAuthList.
pub const TN_AUTH_LIST: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.26");

pub const SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");
pub const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
pub const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub const NAME_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.30");
pub const CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
pub const AUTHORITY_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.35");
pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");

/// RFC 5280 §4.2.1.12: id-kp-serverAuth. On a CA it marks the TLS root.
pub const SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");

pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
pub const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");

/// The arcs of an OID, for rcgen's custom extensions.
pub fn arcs(oid: &Oid) -> Vec<u64> {
    oid.arcs().map(u64::from).collect()
}
