//! Any string given to the identifier parser: no panic, and an accepted input's
//! canonical forms parse back to the same identifier.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_identifiers::{Protocol, parse, parse_with};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse(input) else {
        return;
    };
    let id = parsed.identifier;
    assert_eq!(parse(&id.to_string()).unwrap().identifier, id);
    if let Ok(uri) = id.to_mimi_uri() {
        assert_eq!(parse(&uri).unwrap().identifier, id);
    }
    for name in ["wxyz", "xmpp", "sip"] {
        let proto = Protocol::new(name).unwrap();
        if let Ok(uri) = id.to_im_uri(&proto) {
            assert_eq!(parse(&uri).unwrap().identifier, id);
        }
        if let Ok(uri) = id.to_scheme_uri(&proto) {
            assert_eq!(parse_with(&uri, &proto).unwrap().identifier, id);
        }
    }
});
