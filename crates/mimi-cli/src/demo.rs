//! `mimi demo`: a tour of MIMI identifiers. It becomes the local federation
//! demo (authority, providers, clients) as those parts land.

use mimi_identifiers::{Protocol, parse};

use crate::id::Report;

/// The WXYZ table of draft-mahy-mimi-identity, qualified column, and the
/// other protocols' rows.
const TOUR: &[(&str, &str)] = &[
    ("a provider's domain", "example.com"),
    ("a handle: friendly, may change", "@alice@example.com"),
    ("a stable user id", "BFuVxW5BfqaMEfJDc8R7Qw@example.com"),
    (
        "one of that user's devices",
        "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
    ),
    ("a channel", "#projectX@example.com"),
    ("a team", "##engineering@example.com"),
    (
        "a channel within the team",
        "##engineering/projectX@example.com",
    ),
    ("an MLS group / session", "$TII9t5viBrXiXc@example.com"),
    ("an unqualified handle", "@alice"),
    (
        "an XMPP full JID, in the draft's im: form",
        "im:xmpp=juliet/balcony@example.com",
    ),
    (
        "a SIP contact address",
        "sip:juliet@[2001:db8::0225:96ff:fe12:3456]",
    ),
    (
        "a MIMI protocol device URI",
        "mimi://a.example/d/alice/ClientA1",
    ),
    ("a phone number, typed by a person", "+1 (201) 555-0123"),
];

/// Inputs that are refused, to show the errors.
const REFUSED: &[&str] = &[
    "@alice@example..com",
    "mimi://a.example/u/alice?x=1",
    "tel:+1-201-555-0123;ext=7",
];

pub fn run() -> anyhow::Result<()> {
    println!("MIMI identifiers (draft-mahy-mimi-identity; mimi:// from draft-ietf-mimi-protocol)");
    println!("Each input is parsed strictly and shown in every form that exists for it.\n");
    for (what, input) in TOUR {
        let parsed = parse(input)?;
        let proto = parsed.protocol.clone().unwrap_or_else(Protocol::wxyz);
        println!("── {what}: {input}");
        for line in Report::new(&parsed.identifier, &proto).human().lines() {
            println!("   {line}");
        }
        println!();
    }
    println!("── what is refused, and why");
    for input in REFUSED {
        let err = parse(input).expect_err("the tour's refused inputs are invalid");
        println!("   {input}\n     → {err}");
    }
    println!("\nTry: mimi id parse --json <identifier>, mimi id convert --to mimi <identifier>");
    Ok(())
}
