//! Errors: a parse error names the offending part and its byte offset; a form
//! error says that an identifier has no representation in the asked-for form.

use std::fmt;

use crate::Kind;

/// The part of the input that a [`ParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Part {
    /// The input as a whole.
    Input,
    /// A URI scheme (`im:`, `mimi://`, `tel:`, a protocol name used as a scheme).
    Scheme,
    /// The protocol name of an `im:<proto>=` URI or of `--proto`.
    Protocol,
    /// A domain name.
    Domain,
    /// One label of a domain name.
    Label,
    /// The name of a handle (`@alice`).
    Handle,
    /// A user identifier.
    User,
    /// A device (client) identifier.
    Device,
    /// A channel name (`#projectX`).
    Channel,
    /// A team name (`##engineering`).
    Team,
    /// A session or MLS group identifier (`$TII9t5viBrXiXc`).
    Session,
    /// A phone number.
    Phone,
    /// The local part of an email address.
    EmailLocalPart,
    /// The path of a `mimi://` URI.
    Path,
    /// The host of a SIP or XMPP address.
    Host,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Input => "input",
            Part::Scheme => "URI scheme",
            Part::Protocol => "protocol name",
            Part::Domain => "domain",
            Part::Label => "domain label",
            Part::Handle => "handle",
            Part::User => "user id",
            Part::Device => "device id",
            Part::Channel => "channel name",
            Part::Team => "team name",
            Part::Session => "session id",
            Part::Phone => "phone number",
            Part::EmailLocalPart => "email local part",
            Part::Path => "mimi:// path",
            Part::Host => "host",
        })
    }
}

/// Why a part of the input was rejected. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    #[error("is empty")]
    Empty,
    #[error("is {len} bytes long; at most {max} are allowed")]
    TooLong { len: usize, max: usize },
    #[error("is {len} digits long; at most {max} are allowed")]
    TooManyDigits { len: usize, max: usize },
    #[error("contains {ch:?}, which is not allowed; use {allowed}")]
    BadChar { ch: char, allowed: &'static str },
    #[error(
        "is a dot-segment ('.' or '..'), which URI resolution would remove; choose another name"
    )]
    DotSegment,
    #[error("contains more than one '@'; only the one before the domain is allowed")]
    ExtraAt,
    #[error(
        "contains more than one '/'; a device is <user>/<device> and a team channel ##<team>/<channel>"
    )]
    ExtraSlash,
    #[error("ends with '.'; write the domain without the trailing dot")]
    TrailingDot,
    #[error("has only one label; a MIMI domain needs at least two (e.g. example.com)")]
    SingleLabel,
    #[error("starts or ends with '-'; labels may only have hyphens inside")]
    HyphenAtEdge,
    #[error("has hyphens in positions 3 and 4, which IDNA reserves; only 'xn--' A-labels may")]
    ReservedLabel,
    #[error("is not a valid IDNA A-label ({detail})")]
    BadALabel { detail: &'static str },
    #[error("is not a valid internationalized domain name; check it or give its xn-- A-label form")]
    BadIdn,
    #[error(
        "ends in an all-numeric label, which reads as an IP address; MIMI identifiers name domains"
    )]
    NumericTld,
    #[error(
        "is 'local.invalid', which stands for \"no domain\"; a domain identifier needs a real domain"
    )]
    LocalInvalidDomain,
    #[error("has a '%' that is not followed by two hex digits; write '%25' for a literal '%'")]
    BadPercentEncoding,
    #[error("does not decode to UTF-8 text")]
    NotUtf8,
    #[error("has no ':'; a URI starts with its scheme, e.g. mimi://example.com/u/alice")]
    MissingScheme,
    #[error(
        "is '{name}:', a scheme this parser does not know; to read the protocol-scheme form of \
         protocol '{name}', parse with that protocol (mimi id parse --proto {name})"
    )]
    UnknownScheme { name: String },
    #[error(
        "is not a valid URI scheme name; use a letter followed by letters, digits, '+', '-' or '.'"
    )]
    BadSchemeName,
    #[error("'{name}' is reserved: {hint}")]
    ReservedProtocol { name: String, hint: &'static str },
    #[error(
        "im: URI has no protocol name; write im:<proto>=<identifier>, e.g. im:wxyz=%40alice@example.com"
    )]
    ImWithoutProtocol,
    #[error("starts with '{got}'; write mimi:// followed by the domain, e.g. mimi://example.com")]
    MimiNotHierarchical { got: String },
    #[error("has {what}, which a MIMI identifier URI never carries; remove it")]
    Unsupported { what: &'static str },
    #[error(
        "has identifier type '{ty}'; expected u (user), d (device), r (room), t (team) or g (MLS group)"
    )]
    UnknownMimiType { ty: String },
    #[error("has {got} segments after /{ty}/; expected {expected}")]
    WrongSegmentCount {
        ty: char,
        got: usize,
        expected: &'static str,
    },
    #[error("is not a global number; start with '+' and the country code, e.g. +12015550123")]
    NotGlobal,
    #[error("starts with country code 0, which E.164 does not assign")]
    ZeroCountryCode,
    #[error(
        "has a parameter (';...'); only a plain global number is an identifier, e.g. tel:+12015550123"
    )]
    TelParameter,
    #[error("is not a valid dot-atom (no leading, trailing or doubled '.')")]
    BadDotAtom,
    #[error("needs a '@' and a domain, e.g. mailto:alice@example.com")]
    EmailWithoutDomain,
    #[error("has header fields ('?...'); a mailto: identifier names one address and nothing else")]
    MailtoHeaders,
    #[error("names a server resource (no local part); MIMI has no identifier for it")]
    XmppServerResource,
    #[error("is a SIP URI with a port or parameters; give sip:<user>@<host> only")]
    SipExtras,
    #[error("is not a valid IP address literal")]
    BadIpLiteral,
}

/// An input that is not a valid identifier in any accepted form.
///
/// `offset` is the byte offset, in the original input, of the first byte of the
/// offending part (for a bad character: of that character).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {part} at byte {offset}: {reason}")]
pub struct ParseError {
    pub part: Part,
    pub offset: usize,
    pub reason: Reason,
}

impl ParseError {
    pub(crate) fn new(part: Part, offset: usize, reason: Reason) -> Self {
        ParseError {
            part,
            offset,
            reason,
        }
    }

    /// Moves the offset from a sub-slice's coordinates to its container's.
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.offset += by;
        self
    }

    pub(crate) fn map_offset(mut self, f: impl FnOnce(usize) -> usize) -> Self {
        self.offset = f(self.offset);
        self
    }
}

/// An identifier that has no representation in the requested form, such as a
/// handle in `mimi://` form or a channel in XMPP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {kind} has no {form} form: {why}")]
pub struct FormError {
    pub kind: Kind,
    pub form: String,
    pub why: &'static str,
}

impl FormError {
    pub(crate) fn new(kind: Kind, form: impl Into<String>, why: &'static str) -> Self {
        FormError {
            kind,
            form: form.into(),
            why,
        }
    }
}
