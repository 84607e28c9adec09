//! Fuzzing inside the normal test suite: random and mutated inputs never make
//! the parser panic, and whatever it accepts has a canonical form that parses
//! back to the same identifier. (`fuzz/` holds the cargo-fuzz target.)

use mimi_identifiers::{Form, Parsed, parse};
use proptest::prelude::*;

/// Valid inputs of every form, to mutate.
const SEEDS: &[&str] = &[
    "example.com",
    "@alice@example.com",
    "BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com",
    "##engineering/projectX@example.com",
    "$TII9t5viBrXiXc",
    "im:wxyz=%40alice@example.com",
    "wxyz:%23projectX@example.com",
    "im:xmpp=juliet/balcony@example.com",
    "xmpp:juliet@example.com/balcony",
    "sip:juliet@[2001:db8::225:96ff:fe12:3456]",
    "mimi://a.example/d/alice/ClientA1",
    "mimi://b\u{fc}cher.example/r/eng/x",
    "tel:+1-201-555-0123",
    "+1 (201) 555-0123",
    "mailto:a%26b@example.com",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(b"@/#$%:.-[]+?;=~_!\x00\xff ".to_vec()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Replace(i, b)),
    ]
}

fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for edit in edits {
        let n = bytes.len();
        match *edit {
            Edit::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Edit::Delete(i) if n > 0 => {
                bytes.remove(i % n);
            }
            Edit::Replace(i, b) if n > 0 => bytes[i % n] = b,
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What must hold for any input: no panic, and accepted inputs are stable.
fn check_stable(input: &str) -> Result<(), TestCaseError> {
    let Ok(Parsed {
        identifier, form, ..
    }) = parse(input)
    else {
        return Ok(());
    };
    let canonical = identifier.to_string();
    let again = parse(&canonical).map(|p| p.identifier);
    prop_assert_eq!(
        again,
        Ok(identifier.clone()),
        "{:?} -> {:?}",
        input,
        canonical
    );
    if form == Form::Mimi {
        let uri = identifier.to_mimi_uri().unwrap();
        prop_assert_eq!(parse(&uri).map(|p| p.identifier), Ok(identifier));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn random_strings_never_panic(input in any::<String>()) {
        check_stable(&input)?;
    }

    #[test]
    fn structured_noise_never_panics(input in "[@/#$%:.a-zA-Z0-9\\[\\]+?;=~_-]{0,40}") {
        check_stable(&input)?;
    }

    #[test]
    fn mutated_valid_inputs_never_panic(
        seed in prop::sample::select(SEEDS),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        check_stable(&mutate(seed, &edits))?;
    }
}
