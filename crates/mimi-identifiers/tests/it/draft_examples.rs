//! Every identifier string of draft-mahy-mimi-identity (-00 and its later
//! revision), draft-ietf-mimi-protocol's URI table and the examples
//! parses, has the expected kind, and re-formats to itself or to its
//! percent-encoded canonical form.

use mimi_identifiers::{Identifier, Kind, parse, parse_with};

use crate::{proto, reformat};

/// Parses `input`, checks its kind and canonical text form, and that formatting
/// it in the form it came in gives `same_form`.
#[track_caller]
fn check(input: &str, kind: Kind, canonical: &str, same_form: &str) {
    let p = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(p.identifier.kind(), kind, "{input}");
    assert_eq!(p.identifier.to_string(), canonical, "{input}");
    assert_eq!(reformat(&p), same_form, "{input}");
    // And the canonical text form reads back as the same identifier.
    assert_eq!(
        parse(canonical).unwrap().identifier,
        p.identifier,
        "{canonical}"
    );
}

#[track_caller]
fn check_itself(input: &str, kind: Kind) {
    let p = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(p.identifier.kind(), kind, "{input}");
    assert_eq!(reformat(&p), input, "{input}");
}

#[test]
fn wxyz_table_unqualified_forms() {
    check_itself("@alice", Kind::Handle);
    check_itself("BFuVxW5BfqaMEfJDc8R7Qw", Kind::User);
    check_itself("BFuVxW5BfqaMEfJDc8R7Qw/072b", Kind::Device);
    check_itself("#projectX", Kind::Channel);
    check_itself("##engineering", Kind::Team);
    check_itself("##engineering/projectX", Kind::TeamChannel);
    check_itself("$TII9t5viBrXiXc", Kind::Session);
}

#[test]
fn wxyz_table_domain_qualified_forms() {
    check_itself("example.com", Kind::Domain);
    check_itself("@alice@example.com", Kind::Handle);
    check_itself("BFuVxW5BfqaMEfJDc8R7Qw@example.com", Kind::User);
    check_itself("BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com", Kind::Device);
    check_itself("#projectX@example.com", Kind::Channel);
    check_itself("##engineering@example.com", Kind::Team);
    check_itself("##engineering/projectX@example.com", Kind::TeamChannel);
    check_itself("$TII9t5viBrXiXc@example.com", Kind::Session);
}

#[test]
fn other_text_forms_of_the_draft() {
    check_itself("im.example.com", Kind::Domain);
    check_itself("@juliet", Kind::Handle);
    check_itself("@juliet@example.com", Kind::Handle);
    check_itself("@alice_smith", Kind::Handle);
    check_itself(
        "0fd3e0dc-a2ff-4965-8873-509f0af0a75c/072b@example.com",
        Kind::Device,
    );
}

#[test]
fn wxyz_scheme_uris_of_the_draft() {
    check_itself("wxyz:example.com", Kind::Domain);
    check_itself("wxyz:%40alice@example.com", Kind::Handle);
    check_itself("wxyz:BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com", Kind::Device);
    check(
        "wxyz:#projectX@example.com",
        Kind::Channel,
        "#projectX@example.com",
        "wxyz:%23projectX@example.com",
    );
    check(
        "wxyz:##engineering@example.com",
        Kind::Team,
        "##engineering@example.com",
        "wxyz:%23%23engineering@example.com",
    );
    check_itself("wxyz:$TII9t5viBrXiX@example.com", Kind::Session);
}

#[test]
fn im_uris_of_the_draft() {
    check_itself("im:wxyz=example.com", Kind::Domain);
    check_itself("im:wxyz=%40alice@example.com", Kind::Handle);
    check_itself(
        "im:wxyz=BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
        Kind::Device,
    );
    check(
        "im:wxyz=#projectX@example.com",
        Kind::Channel,
        "#projectX@example.com",
        "im:wxyz=%23projectX@example.com",
    );
    check(
        "im:wxyz=##engineering@example.com",
        Kind::Team,
        "##engineering@example.com",
        "im:wxyz=%23%23engineering@example.com",
    );
    check_itself("im:wxyz=$TII9t5viBrXiX@example.com", Kind::Session);
}

#[test]
fn local_invalid_stands_for_no_domain() {
    check(
        "im:wxyz=%40alice@local.invalid",
        Kind::Handle,
        "@alice",
        "im:wxyz=%40alice@local.invalid",
    );
    check(
        "mimi://local.invalid/u/alice.smith",
        Kind::User,
        "alice.smith@local.invalid",
        "mimi://local.invalid/u/alice.smith",
    );
    let id = parse("@alice").unwrap().identifier;
    assert_eq!(
        id.to_im_uri(&proto("wxyz")).unwrap(),
        "im:wxyz=%40alice@local.invalid"
    );
    assert_eq!(id.domain(), None);
}

#[test]
fn xmpp_rows() {
    check_itself("im:xmpp=example.com", Kind::Domain);
    check_itself("im:xmpp=juliet@example.com", Kind::Handle);
    check_itself("im:xmpp=juliet/balcony@example.com", Kind::Device);
    // The xmpp: scheme writes a full JID the way RFC 7622 does.
    check_itself("xmpp:juliet@example.com", Kind::Handle);
    check_itself("xmpp:juliet@example.com/balcony", Kind::Device);
    check(
        "im:xmpp=juliet@example.com/balcony",
        Kind::Device,
        "juliet/balcony@example.com",
        "im:xmpp=juliet/balcony@example.com",
    );
    let bare = parse("im:xmpp=juliet@example.com").unwrap().identifier;
    assert_eq!(bare.to_string(), "@juliet@example.com");
    let full = parse("xmpp:juliet@example.com/balcony").unwrap().identifier;
    assert_eq!(
        full.to_mimi_uri().unwrap(),
        "mimi://example.com/d/juliet/balcony"
    );
    assert_eq!(
        full.to_im_uri(&proto("xmpp")).unwrap(),
        "im:xmpp=juliet/balcony@example.com"
    );
}

#[test]
fn sip_rows() {
    check_itself("sip:juliet@example.com", Kind::Handle);
    check_itself("im:sip=juliet@example.com", Kind::Handle);
    // RFC 5952 canonical form of the draft's contact address drops the leading zero.
    check(
        "sip:juliet@[2001:db8::0225:96ff:fe12:3456]",
        Kind::Device,
        "juliet/[2001:db8::225:96ff:fe12:3456]",
        "sip:juliet@[2001:db8::225:96ff:fe12:3456]",
    );
    check_itself("sip:juliet@192.0.2.4", Kind::Device);
    check_itself("sip:example.com", Kind::Domain);
    let contact = parse("sip:juliet@[2001:db8::225:96ff:fe12:3456]")
        .unwrap()
        .identifier;
    assert_eq!(
        contact.to_mimi_uri().unwrap(),
        "mimi://local.invalid/d/juliet/%5B2001:db8::225:96ff:fe12:3456%5D"
    );
}

#[test]
fn mimi_uris_of_the_protocol_draft() {
    check_itself("mimi://a.example", Kind::Domain);
    check_itself("mimi://a.example/u/alice", Kind::User);
    check_itself("mimi://a.example/d/ClientA1", Kind::Device);
    check_itself("mimi://a.example/d/alice/ClientA1", Kind::Device);
    check_itself("mimi://a.example/r/clubhouse", Kind::Channel);
    check_itself("mimi://a.example/g/clubhouse", Kind::Session);
    check_itself("mimi://a.example/g/TII9t5viBrXiXc", Kind::Session);
    check_itself("mimi://a.example/t/engineering", Kind::Team);
    check_itself("mimi://a.example/r/engineering/projectX", Kind::TeamChannel);
    check_itself("mimi://example.com/d/juliet/balcony", Kind::Device);
    check_itself("mimi://irc.example.com/u/jcapulet1583", Kind::User);
    check_itself(
        "mimi://irc.example.com/r/local_announcements_channel",
        Kind::Channel,
    );
}

#[test]
fn device_without_user_from_the_protocol_draft() {
    let p = parse("mimi://a.example/d/ClientA1").unwrap();
    assert_eq!(p.identifier.to_string(), "/ClientA1@a.example");
    assert_eq!(p.identifier.parent(), None);
    assert_eq!(
        parse("/ClientA1@a.example").unwrap().identifier,
        p.identifier
    );
}

#[test]
fn hierarchy() {
    let device = parse("BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com")
        .unwrap()
        .identifier;
    let user = device.parent().unwrap();
    assert_eq!(user.to_string(), "BFuVxW5BfqaMEfJDc8R7Qw@example.com");
    assert_eq!(user.kind(), Kind::User);
    let tc = parse("##engineering/projectX@example.com")
        .unwrap()
        .identifier;
    assert_eq!(
        tc.parent().unwrap().to_string(),
        "##engineering@example.com"
    );
    assert_eq!(tc.domain().unwrap().as_str(), "example.com");
    let example = mimi_identifiers::Domain::parse("example.com").unwrap();
    let other = mimi_identifiers::Domain::parse("example.org").unwrap();
    assert!(device.is_under(&example));
    assert!(!device.is_under(&other));
    assert!(
        parse("@alice@eng.example.com")
            .unwrap()
            .identifier
            .is_under(&example)
    );
    assert!(!parse("@alice").unwrap().identifier.is_under(&example));
    assert_eq!(parse("#projectX").unwrap().identifier.parent(), None);
}

#[test]
fn mimi_forms_of_every_kind() {
    let cases = [
        ("example.com", Some("mimi://example.com")),
        ("@alice@example.com", None),
        ("alice@example.com", Some("mimi://example.com/u/alice")),
        (
            "alice/phone@example.com",
            Some("mimi://example.com/d/alice/phone"),
        ),
        (
            "#projectX@example.com",
            Some("mimi://example.com/r/projectX"),
        ),
        (
            "##engineering@example.com",
            Some("mimi://example.com/t/engineering"),
        ),
        (
            "##engineering/projectX@example.com",
            Some("mimi://example.com/r/engineering/projectX"),
        ),
        (
            "$TII9t5viBrXiXc@example.com",
            Some("mimi://example.com/g/TII9t5viBrXiXc"),
        ),
        ("alice", Some("mimi://local.invalid/u/alice")),
        ("+12015550123", None),
        ("mailto:alice@example.com", None),
    ];
    for (text, mimi) in cases {
        let id: Identifier = text.parse().unwrap();
        assert_eq!(id.to_mimi_uri().ok().as_deref(), mimi, "{text}");
    }
}

#[test]
fn phone_numbers() {
    check(
        "+1 (201) 555-0123",
        Kind::Phone,
        "+12015550123",
        "+12015550123",
    );
    check(
        "tel:+1-201-555-0123",
        Kind::Phone,
        "+12015550123",
        "tel:+12015550123",
    );
    check_itself("tel:+442079460000", Kind::Phone);
    let p = parse("tel:+1.201.555.0123").unwrap().identifier;
    let mimi_identifiers::Identifier::Phone(n) = &p else {
        panic!()
    };
    assert_eq!(n.digits(), "12015550123");
    assert_eq!(
        p.to_im_uri(&proto("wxyz")).unwrap_err().to_string(),
        "a phone has no im:wxyz= form: it does not depend on a messaging protocol; use its tel: or mailto: URI"
    );
}

#[test]
fn email_addresses() {
    check_itself("mailto:alice@example.com", Kind::Email);
    check(
        "MAILTO:Alice.Smith@Example.COM",
        Kind::Email,
        "mailto:Alice.Smith@example.com",
        "mailto:Alice.Smith@example.com",
    );
    check(
        "mailto:a%26b@example.com",
        Kind::Email,
        "mailto:a%26b@example.com",
        "mailto:a%26b@example.com",
    );
    check(
        "mailto:a&b@example.com",
        Kind::Email,
        "mailto:a%26b@example.com",
        "mailto:a%26b@example.com",
    );
    let id = parse("mailto:alice@example.com").unwrap().identifier;
    assert_eq!(id.domain().unwrap().as_str(), "example.com");
}

#[test]
fn domains_are_normalised() {
    check("EXAMPLE.com", Kind::Domain, "example.com", "example.com");
    check(
        "mimi://A.Example/u/Alice",
        Kind::User,
        "Alice@a.example",
        "mimi://a.example/u/Alice",
    );
    check(
        "münchen.example",
        Kind::Domain,
        "xn--mnchen-3ya.example",
        "xn--mnchen-3ya.example",
    );
    check(
        "MIMI://a.example",
        Kind::Domain,
        "a.example",
        "mimi://a.example",
    );
}

#[test]
fn protocol_scheme_needs_its_protocol() {
    assert!(parse("matrix:%40alice@example.com").is_err());
    let p = parse_with("matrix:%40alice@example.com", &proto("matrix")).unwrap();
    assert_eq!(p.identifier.to_string(), "@alice@example.com");
    assert_eq!(reformat(&p), "matrix:%40alice@example.com");
    // im: names its protocol itself.
    let p = parse("im:matrix=%40alice@example.com").unwrap();
    assert_eq!(p.protocol.unwrap().name(), "matrix");
}
