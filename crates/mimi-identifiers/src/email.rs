//! Email addresses, a service-independent identifier. They are written as
//! `mailto:` URIs (RFC 6068) because the bare `alice@example.com` is the WXYZ
//! table's qualified user.

use std::fmt;

use crate::domain::Domain;
use crate::error::{ParseError, Part, Reason};
use crate::percent;

/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// An email address whose local part is an RFC 5322 dot-atom (quoted local
/// parts are not accepted) and whose domain is a [`Domain`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    local: String,
    domain: Domain,
}

impl EmailAddress {
    /// Validates the local part. Offsets in the error are relative to `local`.
    pub fn new(local: &str, domain: Domain) -> Result<EmailAddress, ParseError> {
        check_local_part(local)?;
        Ok(EmailAddress {
            local: local.to_owned(),
            domain,
        })
    }

    pub fn local_part(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// `mailto:alice@example.com`, with the characters RFC 6068 reserves
    /// percent-encoded.
    pub fn to_mailto_uri(&self) -> String {
        let mut out = String::from("mailto:");
        percent::encode_into(&mut out, &self.local, is_mailto_qchar);
        out.push('@');
        out.push_str(self.domain.as_str());
        out
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// RFC 6068 `qchar` minus '@' (never in a dot-atom local part anyway).
fn is_mailto_qchar(b: u8) -> bool {
    crate::component::is_unreserved(b) || b"!$'()*+,;:".contains(&b)
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

const ATEXT: &str = "letters, digits, '.' and !#$%&'*+-/=?^_`{|}~";

fn check_local_part(local: &str) -> Result<(), ParseError> {
    let part = Part::EmailLocalPart;
    if local.is_empty() {
        return Err(ParseError::new(part, 0, Reason::Empty));
    }
    if local.len() > MAX_LOCAL_PART_LEN {
        let reason = Reason::TooLong {
            len: local.len(),
            max: MAX_LOCAL_PART_LEN,
        };
        return Err(ParseError::new(part, 0, reason));
    }
    if let Some((at, ch)) = local
        .char_indices()
        .find(|&(_, c)| !(c == '.' || (c.is_ascii() && is_atext(c as u8))))
    {
        let reason = Reason::BadChar { ch, allowed: ATEXT };
        return Err(ParseError::new(part, at, reason));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(ParseError::new(part, 0, Reason::BadDotAtom));
    }
    Ok(())
}

/// Parses what follows `mailto:`. Offsets are relative to `body`.
pub(crate) fn parse_mailto_body(body: &str) -> Result<EmailAddress, ParseError> {
    if let Some(q) = body.find('?') {
        return Err(ParseError::new(Part::Input, q, Reason::MailtoHeaders));
    }
    let decoded = percent::decode(body, Part::Input)?;
    let text = decoded.text();
    let parse = || {
        let Some(at) = text.rfind('@') else {
            return Err(ParseError::new(
                Part::Input,
                text.len(),
                Reason::EmailWithoutDomain,
            ));
        };
        let domain = Domain::parse(&text[at + 1..]).map_err(|e| e.shifted(at + 1))?;
        EmailAddress::new(&text[..at], domain)
    };
    parse().map_err(|e| decoded.map_error(e))
}
