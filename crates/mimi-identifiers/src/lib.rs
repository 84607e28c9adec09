//! MIMI identifiers: the naming schemes of draft-mahy-mimi-identity and their
//! text and URI forms.
//!
//! Kinds: [`Domain`], [`Handle`], [`UserId`], [`DeviceId`], [`Channel`],
//! [`Team`], [`TeamChannel`], [`SessionId`], plus the service-independent
//! [`PhoneNumber`] and [`EmailAddress`]; [`Identifier`] is any of them.
//!
//! Forms, all accepted by [`parse`] and produced by [`Identifier`]'s methods:
//!
//! | form            | example                                       | produced by                      |
//! |-----------------|-----------------------------------------------|----------------------------------|
//! | text (WXYZ table) | `@alice@example.com`                        | `Display`                        |
//! | `im:`           | `im:wxyz=%40alice@example.com`                | [`Identifier::to_im_uri`]        |
//! | protocol scheme | `wxyz:%40alice@example.com`, `xmpp:juliet@example.com/balcony` | [`Identifier::to_scheme_uri`] |
//! | `mimi://`       | `mimi://example.com/u/alice`                  | [`Identifier::to_mimi_uri`]      |
//! | `tel:` / `mailto:` | `tel:+12015550123`                         | [`Identifier::to_scheme_uri`]    |
//!
//! What this crate is not: it does no I/O, resolves nothing (a handle is not
//! looked up to its user) and knows nothing of certificates; it only says what
//! a string names. Parsing is strict and bounded ([`MAX_INPUT_LEN`]), never
//! panics, and every [`ParseError`] names the offending part and byte offset.
//!
//! Decisions the draft leaves open are recorded in docs/draft-divergences.md.
//!
//! ```
//! use mimi_identifiers::{parse, Kind, Protocol};
//!
//! let id = parse("mimi://example.com/d/alice/phone")?.identifier;
//! assert_eq!(id.kind(), Kind::Device);
//! assert_eq!(id.to_string(), "alice/phone@example.com");
//! assert_eq!(id.parent().unwrap().to_mimi_uri()?, "mimi://example.com/u/alice");
//! assert_eq!(id.to_im_uri(&Protocol::wxyz())?, "im:wxyz=alice/phone@example.com");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod component;
mod domain;
mod email;
mod error;
mod identifier;
mod percent;
mod phone;
mod protocol;
mod uri;

#[cfg(test)]
mod tests;

pub use component::MAX_COMPONENT_LEN;
pub use domain::{Domain, LOCAL_INVALID, MAX_DOMAIN_LEN, MAX_LABEL_LEN};
pub use email::EmailAddress;
pub use error::{FormError, ParseError, Part, Reason};
pub use identifier::{
    Channel, DeviceId, Handle, Identifier, Kind, SessionId, Team, TeamChannel, UserId,
};
pub use phone::{MAX_E164_DIGITS, PhoneNumber};
pub use protocol::Protocol;

/// Longest input [`parse`] looks at, in bytes. Every valid identifier in every
/// form fits well within it.
pub const MAX_INPUT_LEN: usize = 2048;

/// Which form an input was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// A text form of the WXYZ table, or `+<digits>` for a phone number.
    Text,
    /// `im:<proto>=<id>`.
    Im,
    /// `<proto>:<id>`.
    Scheme,
    /// `mimi://...`.
    Mimi,
    /// `tel:...`.
    Tel,
    /// `mailto:...`.
    Mailto,
}

/// A parsed input: the identifier, the form it was written in and, for
/// `im:` and protocol-scheme forms, the protocol the URI named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub identifier: Identifier,
    pub form: Form,
    pub protocol: Option<Protocol>,
}

/// Parses any form of any identifier, reading protocol-scheme URIs of the
/// default protocol `wxyz` (and `xmpp:` and `sip:`, which are always known).
pub fn parse(input: &str) -> Result<Parsed, ParseError> {
    parse_with(input, &Protocol::wxyz())
}

/// Like [`parse`], with `proto:` URIs read as the protocol-scheme form of `proto`.
pub fn parse_with(input: &str, proto: &Protocol) -> Result<Parsed, ParseError> {
    if input.len() > MAX_INPUT_LEN {
        let reason = Reason::TooLong {
            len: input.len(),
            max: MAX_INPUT_LEN,
        };
        return Err(ParseError::new(Part::Input, 0, reason));
    }
    if input.starts_with('+') {
        let phone = PhoneNumber::parse(input)?;
        return Ok(parsed(Identifier::Phone(phone), Form::Text, None));
    }
    let Some((scheme, body_at)) = split_scheme(input) else {
        let id = identifier::parse_text(input)?;
        return Ok(parsed(id, Form::Text, None));
    };
    let body = &input[body_at..];
    let at_body = |e: ParseError| e.shifted(body_at);
    match scheme.as_str() {
        "mimi" => Ok(parsed(
            uri::parse_mimi(body).map_err(at_body)?,
            Form::Mimi,
            None,
        )),
        "tel" => Ok(parsed(
            uri::parse_tel(body).map_err(at_body)?,
            Form::Tel,
            None,
        )),
        "mailto" => Ok(parsed(
            uri::parse_mailto(body).map_err(at_body)?,
            Form::Mailto,
            None,
        )),
        "im" => {
            let Some(eq) = body.find('=') else {
                return Err(ParseError::new(
                    Part::Input,
                    body_at,
                    Reason::ImWithoutProtocol,
                ));
            };
            let proto = Protocol::new(&body[..eq]).map_err(at_body)?;
            let id_at = body_at + eq + 1;
            let id =
                uri::parse_protocol_body(&proto, &input[id_at..]).map_err(|e| e.shifted(id_at))?;
            Ok(parsed(id, Form::Im, Some(proto)))
        }
        name if name == proto.name() || name == "xmpp" || name == "sip" => {
            let proto = Protocol::new(name).map_err(|e| e.map_offset(|_| 0))?;
            let id = uri::parse_protocol_body(&proto, body).map_err(at_body)?;
            Ok(parsed(id, Form::Scheme, Some(proto)))
        }
        _ => Err(ParseError::new(
            Part::Scheme,
            0,
            Reason::UnknownScheme { name: scheme },
        )),
    }
}

fn parsed(identifier: Identifier, form: Form, protocol: Option<Protocol>) -> Parsed {
    Parsed {
        identifier,
        form,
        protocol,
    }
}

/// If `input` starts with a URI scheme, returns it lowercased and the offset
/// just past its ':'. Text forms never have a scheme-like prefix: their only
/// ':' is inside a bracketed IPv6 device id, after a '/'.
fn split_scheme(input: &str) -> Option<(String, usize)> {
    let colon = input.find(':')?;
    let scheme = &input[..colon];
    protocol::is_scheme_name(scheme).then(|| (scheme.to_ascii_lowercase(), colon + 1))
}

impl std::str::FromStr for Identifier {
    type Err = ParseError;
    /// Parses any form; see [`parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(|p| p.identifier)
    }
}
