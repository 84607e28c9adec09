//! Phone numbers: E.164 global numbers, written `+12015550123` or as RFC 3966
//! `tel:` URIs. Visual separators are accepted on input and dropped.

use std::fmt;

use crate::error::{ParseError, Part, Reason};

/// E.164 allows at most 15 digits, country code included.
pub const MAX_E164_DIGITS: usize = 15;

/// A global E.164 phone number in canonical form (digits only, no separators).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    digits: String,
}

impl PhoneNumber {
    /// Parses `+<digits>`, with the RFC 3966 visual separators `- . ( )` and,
    /// in this human-typed form, spaces. Offsets are relative to `s`.
    pub fn parse(s: &str) -> Result<PhoneNumber, ParseError> {
        parse_global(s, true)
    }

    /// The digits without `+` (what RFC 8226 TNAuthList carries).
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// `tel:+12015550123`.
    pub fn to_tel_uri(&self) -> String {
        format!("tel:+{}", self.digits)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.digits)
    }
}

impl std::str::FromStr for PhoneNumber {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PhoneNumber::parse(s)
    }
}

/// Parses the global-number part of a `tel:` URI (RFC 3966 §3).
pub(crate) fn parse_tel_body(s: &str) -> Result<PhoneNumber, ParseError> {
    if let Some(at) = s.find(';') {
        return Err(ParseError::new(Part::Phone, at, Reason::TelParameter));
    }
    parse_global(s, false)
}

const ALLOWED_TEXT: &str = "digits and the separators '-', '.', '(', ')' or ' '";
const ALLOWED_TEL: &str = "digits and the separators '-', '.', '(' or ')'";

fn parse_global(s: &str, allow_space: bool) -> Result<PhoneNumber, ParseError> {
    let Some(rest) = s.strip_prefix('+') else {
        let reason = if s.is_empty() {
            Reason::Empty
        } else {
            Reason::NotGlobal
        };
        return Err(ParseError::new(Part::Phone, 0, reason));
    };
    let mut digits = String::with_capacity(MAX_E164_DIGITS);
    let allowed = if allow_space {
        ALLOWED_TEXT
    } else {
        ALLOWED_TEL
    };
    for (i, ch) in rest.char_indices() {
        match ch {
            '0'..='9' => {
                if digits.is_empty() && ch == '0' {
                    return Err(ParseError::new(Part::Phone, 1 + i, Reason::ZeroCountryCode));
                }
                digits.push(ch);
                if digits.len() > MAX_E164_DIGITS {
                    return Err(ParseError::new(
                        Part::Phone,
                        0,
                        Reason::TooManyDigits {
                            len: rest.bytes().filter(u8::is_ascii_digit).count(),
                            max: MAX_E164_DIGITS,
                        },
                    ));
                }
            }
            '-' | '.' | '(' | ')' => {}
            ' ' if allow_space => {}
            _ => {
                return Err(ParseError::new(
                    Part::Phone,
                    1 + i,
                    Reason::BadChar { ch, allowed },
                ));
            }
        }
    }
    if digits.is_empty() {
        return Err(ParseError::new(Part::Phone, 0, Reason::Empty));
    }
    Ok(PhoneNumber { digits })
}
