//! Domain names: the "domain identifier" of draft-mahy-mimi-identity §"Naming
//! schemes", and the qualifier of every other qualified identifier.

use std::fmt;

use crate::error::{ParseError, Part, Reason};

/// Longest domain name in its ASCII form (RFC 1035 §2.3.4, without the trailing dot).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// The domain that stands for "no domain" in URI forms (draft-mahy-mimi-identity;
/// `.invalid` is reserved by RFC 2606).
pub const LOCAL_INVALID: &str = "local.invalid";

/// A validated domain name in canonical form: lowercase LDH labels, IDNs as
/// `xn--` A-labels, at least two labels, no trailing dot.
///
/// `local.invalid` is never a `Domain`: it is how URI forms spell "no domain",
/// so parsers turn it into an unqualified identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Parses and normalises a domain name (U-labels are converted to A-labels).
    ///
    /// Offsets in the error are relative to `input`.
    pub fn parse(input: &str) -> Result<Domain, ParseError> {
        let domain = parse_domain_or_local(input)?;
        if domain.0 == LOCAL_INVALID {
            return Err(ParseError::new(Part::Domain, 0, Reason::LocalInvalidDomain));
        }
        Ok(domain)
    }

    /// The canonical ASCII form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` equals `other` or is a subdomain of it
    /// (`eng.example.com` is within `example.com`; `badexample.com` is not).
    pub fn is_within(&self, other: &Domain) -> bool {
        self.0 == other.0
            || (self.0.len() > other.0.len()
                && self.0.ends_with(other.0.as_str())
                && self.0.as_bytes()[self.0.len() - other.0.len() - 1] == b'.')
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Domain {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Domain::parse(s)
    }
}

/// Parses the domain part of a qualified identifier: `None` for `local.invalid`.
pub(crate) fn parse_qualifier(input: &str) -> Result<Option<Domain>, ParseError> {
    let domain = parse_domain_or_local(input)?;
    Ok((domain.0 != LOCAL_INVALID).then_some(domain))
}

/// The spelling of an optional domain in URI forms.
pub(crate) fn qualifier_str(domain: Option<&Domain>) -> &str {
    domain.map_or(LOCAL_INVALID, Domain::as_str)
}

fn parse_domain_or_local(input: &str) -> Result<Domain, ParseError> {
    if input.is_empty() {
        return Err(ParseError::new(Part::Domain, 0, Reason::Empty));
    }
    if input.len() > MAX_DOMAIN_LEN * 4 {
        // Bound the work before IDNA processing sees it.
        return Err(too_long(input.len()));
    }
    let ascii = if input.is_ascii() {
        check_ascii_domain(input)?;
        input.to_ascii_lowercase()
    } else {
        let converted = idna::domain_to_ascii_strict(input)
            .map_err(|_| ParseError::new(Part::Domain, 0, Reason::BadIdn))?;
        // IDNA may map characters (e.g. full stops); validate what came out.
        // Offsets into the converted form would not point into the input, so
        // report the domain as a whole.
        check_ascii_domain(&converted).map_err(|e| e.map_offset(|_| 0))?;
        converted
    };
    Ok(Domain(ascii))
}

fn too_long(len: usize) -> ParseError {
    ParseError::new(
        Part::Domain,
        0,
        Reason::TooLong {
            len,
            max: MAX_DOMAIN_LEN,
        },
    )
}

fn check_ascii_domain(input: &str) -> Result<(), ParseError> {
    if input.len() > MAX_DOMAIN_LEN {
        return Err(too_long(input.len()));
    }
    if input.ends_with('.') {
        return Err(ParseError::new(
            Part::Domain,
            input.len() - 1,
            Reason::TrailingDot,
        ));
    }
    let mut offset = 0;
    let mut labels = 0;
    let mut last_label = "";
    for label in input.split('.') {
        check_label(label).map_err(|e| e.shifted(offset))?;
        offset += label.len() + 1;
        labels += 1;
        last_label = label;
    }
    if labels < 2 {
        return Err(ParseError::new(Part::Domain, 0, Reason::SingleLabel));
    }
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            Part::Domain,
            input.len() - last_label.len(),
            Reason::NumericTld,
        ));
    }
    Ok(())
}

const LDH: &str = "letters, digits and '-' (internationalized names are converted to xn-- labels)";

fn check_label(label: &str) -> Result<(), ParseError> {
    if label.is_empty() {
        return Err(ParseError::new(Part::Label, 0, Reason::Empty));
    }
    if label.len() > MAX_LABEL_LEN {
        return Err(ParseError::new(
            Part::Label,
            0,
            Reason::TooLong {
                len: label.len(),
                max: MAX_LABEL_LEN,
            },
        ));
    }
    if let Some((at, ch)) = label
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ParseError::new(
            Part::Label,
            at,
            Reason::BadChar { ch, allowed: LDH },
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(ParseError::new(Part::Label, 0, Reason::HyphenAtEdge));
    }
    if label.len() >= 4 && &label[2..4] == "--" {
        if !label[..2].eq_ignore_ascii_case("xn") {
            return Err(ParseError::new(Part::Label, 0, Reason::ReservedLabel));
        }
        check_a_label(&label.to_ascii_lowercase())
            .map_err(|detail| ParseError::new(Part::Label, 0, Reason::BadALabel { detail }))?;
    }
    Ok(())
}

/// An A-label is valid when it decodes to a U-label whose IDNA encoding is the
/// A-label again (RFC 5891 §5.4): this rejects undecodable Punycode, pure-ASCII
/// payloads and non-canonical encodings alike.
fn check_a_label(label: &str) -> Result<(), &'static str> {
    let (unicode, result) = idna::domain_to_unicode(label);
    if result.is_err() {
        return Err("its Punycode does not decode to a valid label");
    }
    if unicode.is_ascii() {
        return Err("it encodes only ASCII characters");
    }
    match idna::domain_to_ascii_strict(&unicode) {
        Ok(again) if again == label => Ok(()),
        _ => Err("it is not the canonical encoding of its label"),
    }
}
