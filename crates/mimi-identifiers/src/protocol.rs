//! The instant-messaging protocol named in `im:<proto>=` and protocol-scheme
//! URIs, and how that protocol writes each identifier kind.

use std::fmt;

use crate::error::{ParseError, Part, Reason};

/// Longest protocol name we accept.
pub const MAX_PROTOCOL_LEN: usize = 32;

/// A protocol name such as `wxyz`, `xmpp` or `sip`: a lowercase URI scheme name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Protocol(String);

/// How a protocol writes identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// The draft's hypothetical WXYZ protocol: every kind, in the table's syntax.
    Generic,
    /// XMPP: domain, bare JID (= handle) and full JID (= device).
    Xmpp,
    /// SIP: domain, address of record (= handle), contact address (= device).
    Sip,
}

impl Protocol {
    /// The draft's example protocol, which can write every identifier kind.
    pub const DEFAULT_NAME: &'static str = "wxyz";

    /// Validates a protocol name (RFC 3986 scheme syntax, case-insensitive).
    /// Offsets in the error are relative to `name`.
    pub fn new(name: &str) -> Result<Protocol, ParseError> {
        if name.is_empty() {
            return Err(ParseError::new(Part::Protocol, 0, Reason::Empty));
        }
        if name.len() > MAX_PROTOCOL_LEN {
            let reason = Reason::TooLong {
                len: name.len(),
                max: MAX_PROTOCOL_LEN,
            };
            return Err(ParseError::new(Part::Protocol, 0, reason));
        }
        if !is_scheme_name(name) {
            return Err(ParseError::new(Part::Protocol, 0, Reason::BadSchemeName));
        }
        let name = name.to_ascii_lowercase();
        if let Some(hint) = reserved_hint(&name) {
            return Err(ParseError::new(
                Part::Protocol,
                0,
                Reason::ReservedProtocol { name, hint },
            ));
        }
        Ok(Protocol(name))
    }

    /// `wxyz`.
    pub fn wxyz() -> Protocol {
        Protocol(Self::DEFAULT_NAME.to_owned())
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    pub(crate) fn profile(&self) -> Profile {
        match self.0.as_str() {
            "xmpp" => Profile::Xmpp,
            "sip" => Profile::Sip,
            _ => Profile::Generic,
        }
    }
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol::wxyz()
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Protocol {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Protocol::new(s)
    }
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn is_scheme_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn reserved_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "im" => "im: is the outer scheme of im:<proto>=<identifier>; name the protocol inside it",
        "mimi" => "the MIMI protocol's identifiers are mimi:// URIs; convert to the mimi form",
        "tel" => "tel: URIs carry phone numbers, which need no protocol",
        "mailto" => "mailto: URIs carry email addresses, which need no protocol",
        _ => return None,
    })
}
