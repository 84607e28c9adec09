//! Invalid inputs and their exact error messages: each names the part, the
//! byte offset in the original input, and what to do.

use mimi_identifiers::{Protocol, parse};

#[track_caller]
fn rejects(input: &str, message: &str) {
    match parse(input) {
        Ok(p) => panic!("{input:?} parsed as {:?}", p.identifier),
        Err(e) => assert_eq!(e.to_string(), message, "{input:?}"),
    }
}

#[test]
fn table_of_invalid_inputs() {
    let cases: &[(&str, &str)] = &[
        ("", "invalid input at byte 0: is empty"),
        ("@", "invalid handle at byte 1: is empty"),
        ("@alice@", "invalid domain at byte 7: is empty"),
        (
            "@alice@@example.com",
            "invalid handle at byte 7: contains more than one '@'; only the one before the domain is allowed",
        ),
        (
            "al!ce@example.com",
            "invalid user id at byte 2: contains '!', which is not allowed; use letters, digits, '-', '.', '_' or '~'",
        ),
        (
            "alice smith",
            "invalid user id at byte 5: contains ' ', which is not allowed; use letters, digits, '-', '.', '_' or '~'",
        ),
        (
            "a/b/c@example.com",
            "invalid user id at byte 3: contains more than one '/'; a device is <user>/<device> and a team channel ##<team>/<channel>",
        ),
        (
            "alice/@example.com",
            "invalid device id at byte 6: is empty",
        ),
        (
            "##eng/@example.com",
            "invalid channel name at byte 6: is empty",
        ),
        ("##/x", "invalid team name at byte 2: is empty"),
        ("#", "invalid channel name at byte 1: is empty"),
        ("$", "invalid session id at byte 1: is empty"),
        (
            "..@example.com",
            "invalid user id at byte 0: is a dot-segment ('.' or '..'), which URI resolution would remove; choose another name",
        ),
        (
            "alice@example.com.",
            "invalid domain at byte 17: ends with '.'; write the domain without the trailing dot",
        ),
        (
            "alice@example..com",
            "invalid domain label at byte 14: is empty",
        ),
        (
            "alice@localhost",
            "invalid domain at byte 6: has only one label; a MIMI domain needs at least two (e.g. example.com)",
        ),
        (
            "alice@-x.example",
            "invalid domain label at byte 6: starts or ends with '-'; labels may only have hyphens inside",
        ),
        (
            "alice@ex_ample.com",
            "invalid domain label at byte 8: contains '_', which is not allowed; use letters, digits and '-' (internationalized names are converted to xn-- labels)",
        ),
        (
            "alice@ab--cd.example",
            "invalid domain label at byte 6: has hyphens in positions 3 and 4, which IDNA reserves; only 'xn--' A-labels may",
        ),
        (
            "alice@xn--abc.example",
            "invalid domain label at byte 6: is not a valid IDNA A-label (its Punycode does not decode to a valid label)",
        ),
        (
            "alice@192.0.2.1",
            "invalid domain at byte 14: ends in an all-numeric label, which reads as an IP address; MIMI identifiers name domains",
        ),
        (
            "local.invalid",
            "invalid domain at byte 0: is 'local.invalid', which stands for \"no domain\"; a domain identifier needs a real domain",
        ),
        (
            "mimi://local.invalid",
            "invalid domain at byte 7: is 'local.invalid', which stands for \"no domain\"; a domain identifier needs a real domain",
        ),
        (
            "mimi:a.example/u/alice",
            "invalid URI scheme at byte 5: starts with 'mimi:a.'; write mimi:// followed by the domain, e.g. mimi://example.com",
        ),
        (
            "mimi://a.example/x/alice",
            "invalid mimi:// path at byte 17: has identifier type 'x'; expected u (user), d (device), r (room), t (team) or g (MLS group)",
        ),
        (
            "mimi://a.example/u/alice/extra",
            "invalid mimi:// path at byte 17: has 2 segments after /u/; expected 1 (/u/<user>)",
        ),
        (
            "mimi://a.example/u",
            "invalid mimi:// path at byte 17: has 0 segments after /u/; expected 1 (/u/<user>)",
        ),
        (
            "mimi://a.example/d/a/b/c",
            "invalid mimi:// path at byte 17: has 3 segments after /d/; expected 1 or 2 (/d/<user>/<device>)",
        ),
        (
            "mimi://a.example/u/al%21ce",
            "invalid user id at byte 21: contains '!', which is not allowed; use letters, digits, '-', '.', '_' or '~'",
        ),
        (
            "mimi://a.example/u/al%2",
            "invalid mimi:// path at byte 21: has a '%' that is not followed by two hex digits; write '%25' for a literal '%'",
        ),
        (
            "mimi://a.example/u/alice?x=1",
            "invalid input at byte 24: has a query ('?...'), which a MIMI identifier URI never carries; remove it",
        ),
        (
            "mimi://a.example/u/alice#frag",
            "invalid input at byte 24: has a fragment ('#...'), which a MIMI identifier URI never carries; remove it",
        ),
        (
            "mimi://bob@a.example/u/alice",
            "invalid input at byte 10: has user information before the host, which a MIMI identifier URI never carries; remove it",
        ),
        (
            "mimi://a.example:443/u/alice",
            "invalid input at byte 16: has a port, which a MIMI identifier URI never carries; remove it",
        ),
        (
            "mimi://a.example/u/..",
            "invalid user id at byte 19: is a dot-segment ('.' or '..'), which URI resolution would remove; choose another name",
        ),
        (
            "im:%40alice@example.com",
            "invalid input at byte 3: im: URI has no protocol name; write im:<proto>=<identifier>, e.g. im:wxyz=%40alice@example.com",
        ),
        ("im:=alice", "invalid protocol name at byte 3: is empty"),
        (
            "im:mimi=alice",
            "invalid protocol name at byte 3: 'mimi' is reserved: the MIMI protocol's identifiers are mimi:// URIs; convert to the mimi form",
        ),
        (
            "im:wxyz=%40alice@exa%mple.com",
            "invalid input at byte 20: has a '%' that is not followed by two hex digits; write '%25' for a literal '%'",
        ),
        (
            "im:wxyz=%40al%20ice@example.com",
            "invalid handle at byte 13: contains ' ', which is not allowed; use letters, digits, '-', '.', '_' or '~'",
        ),
        (
            "im:wxyz=alice@example.com?body=hi",
            "invalid input at byte 25: has a query ('?...'), which a MIMI identifier URI never carries; remove it",
        ),
        (
            "foo:alice",
            "invalid URI scheme at byte 0: is 'foo:', a scheme this parser does not know; to read the protocol-scheme form of protocol 'foo', parse with that protocol (mimi id parse --proto foo)",
        ),
        (
            "xmpp:example.com/resource",
            "invalid input at byte 5: names a server resource (no local part); MIMI has no identifier for it",
        ),
        (
            "xmpp://guest@example.com",
            "invalid input at byte 5: has an authority ('//...'), which a MIMI identifier URI never carries; remove it",
        ),
        (
            "xmpp:juliet@example.com?message",
            "invalid input at byte 23: has a query ('?...'), which a MIMI identifier URI never carries; remove it",
        ),
        (
            "sip:juliet@example.com;transport=tcp",
            "invalid input at byte 22: is a SIP URI with a port or parameters; give sip:<user>@<host> only",
        ),
        (
            "sip:juliet@[2001:db8::1]:5060",
            "invalid host at byte 24: is a SIP URI with a port or parameters; give sip:<user>@<host> only",
        ),
        (
            "sip:juliet@[2001:db8::zz]",
            "invalid device id at byte 11: is not a valid IP address literal",
        ),
        (
            "tel:2015550123",
            "invalid phone number at byte 4: is not a global number; start with '+' and the country code, e.g. +12015550123",
        ),
        (
            "tel:+1-201-555-0123;ext=7",
            "invalid phone number at byte 19: has a parameter (';...'); only a plain global number is an identifier, e.g. tel:+12015550123",
        ),
        (
            "tel:+1 201 555 0123",
            "invalid phone number at byte 6: contains ' ', which is not allowed; use digits and the separators '-', '.', '(' or ')'",
        ),
        (
            "+0123456",
            "invalid phone number at byte 1: starts with country code 0, which E.164 does not assign",
        ),
        (
            "+1234567890123456",
            "invalid phone number at byte 0: is 16 digits long; at most 15 are allowed",
        ),
        (
            "+1-800-FLOWERS",
            "invalid phone number at byte 7: contains 'F', which is not allowed; use digits and the separators '-', '.', '(', ')' or ' '",
        ),
        ("+", "invalid phone number at byte 0: is empty"),
        (
            "mailto:alice",
            "invalid input at byte 12: needs a '@' and a domain, e.g. mailto:alice@example.com",
        ),
        (
            "mailto:alice@example.com?subject=hi",
            "invalid input at byte 24: has header fields ('?...'); a mailto: identifier names one address and nothing else",
        ),
        (
            "mailto:.alice@example.com",
            "invalid email local part at byte 7: is not a valid dot-atom (no leading, trailing or doubled '.')",
        ),
        (
            "mailto:al%20ice@example.com",
            "invalid email local part at byte 9: contains ' ', which is not allowed; use letters, digits, '.' and !#$%&'*+-/=?^_`{|}~",
        ),
        (
            "mailto:a,b@example.com",
            "invalid email local part at byte 8: contains ',', which is not allowed; use letters, digits, '.' and !#$%&'*+-/=?^_`{|}~",
        ),
        (
            "mailto:alice@exa%mple.com",
            "invalid input at byte 16: has a '%' that is not followed by two hex digits; write '%25' for a literal '%'",
        ),
        (
            "ali\u{e9}ce",
            "invalid user id at byte 3: contains 'é', which is not allowed; use letters, digits, '-', '.', '_' or '~'",
        ),
        (
            "alice@\u{fffd}.example",
            "invalid domain at byte 6: is not a valid internationalized domain name; check it or give its xn-- A-label form",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|&(input, message)| match parse(input) {
            Err(e) if e.to_string() == message => None,
            Err(e) => Some(format!("{input:?}\n  got:  {e}\n  want: {message}")),
            Ok(p) => Some(format!("{input:?} parsed as {:?}", p.identifier)),
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn lengths_are_bounded() {
    let long = "a".repeat(256);
    rejects(
        &long,
        "invalid user id at byte 0: is 256 bytes long; at most 255 are allowed",
    );
    let label = "a".repeat(64);
    rejects(
        &format!("alice@{label}.example"),
        "invalid domain label at byte 6: is 64 bytes long; at most 63 are allowed",
    );
    let domain = ["abcdefghi"; 26].join(".");
    rejects(
        &format!("alice@{domain}"),
        "invalid domain at byte 6: is 259 bytes long; at most 253 are allowed",
    );
    let huge = "a".repeat(5000);
    rejects(
        &huge,
        "invalid input at byte 0: is 5000 bytes long; at most 2048 are allowed",
    );
}

#[test]
fn protocol_names_are_validated() {
    let e = Protocol::new("9p").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid protocol name at byte 0: is not a valid URI scheme name; use a letter followed by letters, digits, '+', '-' or '.'"
    );
    let e = Protocol::new("TEL").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid protocol name at byte 0: 'tel' is reserved: tel: URIs carry phone numbers, which need no protocol"
    );
    assert_eq!(Protocol::new("WXYZ").unwrap().name(), "wxyz");
}

#[test]
fn forms_that_do_not_exist_say_why() {
    let handle = parse("@alice@example.com").unwrap().identifier;
    assert_eq!(
        handle.to_mimi_uri().unwrap_err().to_string(),
        "a handle has no mimi:// form: MIMI names users, not handles; resolve the handle to its user, or use the im: form"
    );
    let channel = parse("#projectX@example.com").unwrap().identifier;
    assert_eq!(
        channel
            .to_scheme_uri(&Protocol::new("xmpp").unwrap())
            .unwrap_err()
            .to_string(),
        "a channel has no xmpp: form: XMPP addresses name domains, bare JIDs (handles) and full JIDs (devices) only"
    );
    let device = parse("alice/phone@example.com").unwrap().identifier;
    assert_eq!(
        device
            .to_scheme_uri(&Protocol::new("sip").unwrap())
            .unwrap_err()
            .to_string(),
        "a device has no sip: form: a SIP contact address is <user>@<IP address> with no domain; this device is not an unqualified user's device named by an IP address"
    );
    let userless = parse("mimi://a.example/d/ClientA1").unwrap().identifier;
    assert!(userless.to_im_uri(&Protocol::new("xmpp").unwrap()).is_err());
}
