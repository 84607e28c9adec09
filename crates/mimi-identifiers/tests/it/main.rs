//! Tests of mimi-identifiers through its public API.

mod draft_examples;
mod fuzz;
mod invalid;
mod roundtrip;

use mimi_identifiers::{Form, Identifier, Parsed, Protocol};

/// Formats `p.identifier` back in the form it was parsed from.
pub fn reformat(p: &Parsed) -> String {
    let proto = p.protocol.clone().unwrap_or_default();
    let id: &Identifier = &p.identifier;
    match p.form {
        Form::Text => id.to_string(),
        Form::Im => id.to_im_uri(&proto).unwrap(),
        Form::Scheme | Form::Tel | Form::Mailto => id.to_scheme_uri(&proto).unwrap(),
        Form::Mimi => id.to_mimi_uri().unwrap(),
    }
}

pub fn proto(name: &str) -> Protocol {
    Protocol::new(name).unwrap()
}
