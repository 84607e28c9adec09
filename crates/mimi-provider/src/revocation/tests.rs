use super::*;

#[test]
fn the_domain_ca_publishes_its_crls_beside_its_directory() {
    assert_eq!(
        domain_ca_base("https://ca.a.example:8443/acme/directory").as_deref(),
        Some("https://ca.a.example:8443")
    );
    assert_eq!(domain_ca_base("https://ca.a.example/directory"), None);
    let prefix = "https://ca.a.example/acme/crl/phone-ca/";
    assert!(is_phone_ca_at_or_above(&format!("{prefix}2"), prefix, 2));
    assert!(is_phone_ca_at_or_above(&format!("{prefix}7"), prefix, 2));
    assert!(!is_phone_ca_at_or_above(&format!("{prefix}1"), prefix, 2));
    assert!(!is_phone_ca_at_or_above(
        "https://ca.a.example/acme/crl/domain-ca",
        prefix,
        0
    ));
}

#[test]
fn reasons_parse_by_their_rfc_5280_names() {
    assert_eq!(
        parse_reason("keyCompromise").unwrap(),
        RevocationReason::KeyCompromise
    );
    assert_eq!(parse_reason("cessationOfOperation").unwrap().code(), 5);
    let e = parse_reason("key-compromise").unwrap_err().to_string();
    assert!(
        e.contains("is not a revocation reason: use unspecified, keyCompromise"),
        "{e}"
    );
}
