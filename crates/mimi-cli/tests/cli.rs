//! The `mimi` binary as a user runs it.

use std::process::{Command, Output};

fn mimi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mimi"))
        .args(args)
        .output()
        .expect("run mimi")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = mimi(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("one JSON object")
}

#[test]
fn parse_json_of_a_device() {
    let v = json(&[
        "id",
        "parse",
        "--json",
        "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
    ]);
    assert_eq!(
        v,
        serde_json::json!({
            "kind": "device",
            "canonical": "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
            "domain": "example.com",
            "protocol": "wxyz",
            "im_uri": "im:wxyz=BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
            "scheme_uri": "wxyz:BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
            "mimi_uri": "mimi://example.com/d/BFuVxW5BfqaMEfJDc8R7Qw/072b",
            "parent": "BFuVxW5BfqaMEfJDc8R7Qw@example.com",
            "parent_kind": "user",
        })
    );
}

#[test]
fn parse_json_of_every_kind() {
    let cases = [
        ("example.com", "domain", Some("mimi://example.com"), None),
        ("@alice", "handle", None, None),
        (
            "alice@example.com",
            "user",
            Some("mimi://example.com/u/alice"),
            None,
        ),
        (
            "#projectX@example.com",
            "channel",
            Some("mimi://example.com/r/projectX"),
            None,
        ),
        (
            "##engineering",
            "team",
            Some("mimi://local.invalid/t/engineering"),
            None,
        ),
        (
            "##engineering/projectX@example.com",
            "team_channel",
            Some("mimi://example.com/r/engineering/projectX"),
            Some("##engineering@example.com"),
        ),
        (
            "$TII9t5viBrXiXc@example.com",
            "session",
            Some("mimi://example.com/g/TII9t5viBrXiXc"),
            None,
        ),
        ("tel:+1-201-555-0123", "phone", None, None),
        ("mailto:alice@example.com", "email", None, None),
    ];
    for (input, kind, mimi_uri, parent) in cases {
        let v = json(&["id", "parse", "--json", input]);
        assert_eq!(v["kind"], kind, "{input}");
        assert_eq!(v["mimi_uri"].as_str(), mimi_uri, "{input}");
        assert_eq!(v["parent"].as_str(), parent, "{input}");
    }
    let phone = json(&["id", "parse", "--json", "+1 (201) 555-0123"]);
    assert_eq!(phone["canonical"], "+12015550123");
    assert_eq!(phone["scheme_uri"], "tel:+12015550123");
    assert_eq!(phone["im_uri"], serde_json::Value::Null);
    assert_eq!(phone["domain"], serde_json::Value::Null);
    let handle = json(&["id", "parse", "--json", "wxyz:#projectX@example.com"]);
    assert_eq!(handle["scheme_uri"], "wxyz:%23projectX@example.com");
}

#[test]
fn protocol_comes_from_the_input_or_the_flag() {
    let v = json(&[
        "id",
        "parse",
        "--json",
        "im:xmpp=juliet/balcony@example.com",
    ]);
    assert_eq!(v["protocol"], "xmpp");
    assert_eq!(v["scheme_uri"], "xmpp:juliet@example.com/balcony");
    let v = json(&[
        "id",
        "parse",
        "--json",
        "--proto",
        "sip",
        "@juliet@example.com",
    ]);
    assert_eq!(v["im_uri"], "im:sip=juliet@example.com");
    assert_eq!(v["scheme_uri"], "sip:juliet@example.com");
    let v = json(&[
        "id",
        "parse",
        "--json",
        "--proto",
        "matrix",
        "matrix:%40alice@example.com",
    ]);
    assert_eq!(v["kind"], "handle");
}

#[test]
fn human_output_shows_forms_and_hierarchy() {
    let out = mimi(&["id", "parse", "##engineering/projectX@example.com"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for expected in [
        "kind         team channel",
        "canonical    ##engineering/projectX@example.com",
        "im: form     im:wxyz=%23%23engineering/projectX@example.com",
        "scheme form  wxyz:%23%23engineering/projectX@example.com",
        "mimi:// form mimi://example.com/r/engineering/projectX",
        "parent       ##engineering@example.com (team)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let handle = stdout(&mimi(&["id", "parse", "@alice@example.com"]));
    assert!(
        handle.contains("mimi:// form (none: a handle has no mimi:// form"),
        "{handle}"
    );
}

#[test]
fn bad_input_exits_non_zero_with_the_error_on_stderr() {
    let out = mimi(&["id", "parse", "--json", "@alice@example..com"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: cannot read \"@alice@example..com\": invalid domain label at byte 15: is empty\n"
    );
    let out = mimi(&["id", "parse", "--proto", "mimi", "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects a reserved protocol"
    );
    assert!(
        stderr(&out).contains("'mimi' is reserved"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn convert_between_forms() {
    let cases = [
        (
            ["mimi", "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com"],
            "mimi://example.com/d/BFuVxW5BfqaMEfJDc8R7Qw/072b",
        ),
        (["text", "mimi://a.example/u/alice"], "alice@a.example"),
        (
            ["im", "#projectX@example.com"],
            "im:wxyz=%23projectX@example.com",
        ),
        (
            ["scheme", "im:wxyz=%40alice@local.invalid"],
            "wxyz:%40alice@local.invalid",
        ),
        (
            ["scheme", "im:xmpp=juliet/balcony@example.com"],
            "xmpp:juliet@example.com/balcony",
        ),
        (
            ["mimi", "xmpp:juliet@example.com/balcony"],
            "mimi://example.com/d/juliet/balcony",
        ),
        (["scheme", "+44 20 7946 0000"], "tel:+442079460000"),
    ];
    for ([to, input], expected) in cases {
        let out = mimi(&["id", "convert", "--to", to, input]);
        assert!(out.status.success(), "{to} {input}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("{expected}\n"), "{to} {input}");
    }
    let out = mimi(&["id", "convert", "--to", "mimi", "@alice@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: a handle has no mimi:// form"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn demo_tours_identifiers_and_credentials() {
    let out = mimi(&["demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("mimi:// form mimi://example.com/d/BFuVxW5BfqaMEfJDc8R7Qw/072b"),
        "{text}"
    );
    assert!(
        text.contains("sip:juliet@[2001:db8::225:96ff:fe12:3456]"),
        "{text}"
    );
    assert!(
        text.contains("invalid domain label at byte 15: is empty"),
        "{text}"
    );
}

#[test]
fn help_teaches_the_forms() {
    let out = mimi(&["id", "parse", "--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("im:wxyz=%40alice@example.com"), "{text}");
    assert!(text.contains("local.invalid"), "{text}");
}
