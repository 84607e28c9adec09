//! The identifier kinds of draft-mahy-mimi-identity §"Naming schemes" and their
//! text forms, exactly as the draft's WXYZ table writes them.
//!
//! | kind         | unqualified                   | domain-qualified                          |
//! |--------------|-------------------------------|-------------------------------------------|
//! | domain       | -                             | `example.com`                             |
//! | handle       | `@alice`                      | `@alice@example.com`                      |
//! | user         | `BFuVxW5BfqaMEfJDc8R7Qw`      | `BFuVxW5BfqaMEfJDc8R7Qw@example.com`      |
//! | device       | `BFuVxW5BfqaMEfJDc8R7Qw/072b` | `BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com` |
//! | channel      | `#projectX`                   | `#projectX@example.com`                   |
//! | team         | `##engineering`               | `##engineering@example.com`               |
//! | team channel | `##engineering/projectX`      | `##engineering/projectX@example.com`      |
//! | session      | `$TII9t5viBrXiXc`             | `$TII9t5viBrXiXc@example.com`             |
//!
//! Plus the service-independent identifiers: phone numbers (`+12015550123`) and
//! email addresses (written `mailto:alice@example.com`, because the bare
//! `alice@example.com` is the table's qualified user).

use std::fmt;

use crate::component::{self, check_device};
use crate::domain::{Domain, LOCAL_INVALID, parse_qualifier};
use crate::email::EmailAddress;
use crate::error::{ParseError, Part, Reason};
use crate::phone::PhoneNumber;

/// The kind of an identifier; `as_str` gives the names used in JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Domain,
    Handle,
    User,
    Device,
    Channel,
    Team,
    TeamChannel,
    Session,
    Phone,
    Email,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Domain,
        Kind::Handle,
        Kind::User,
        Kind::Device,
        Kind::Channel,
        Kind::Team,
        Kind::TeamChannel,
        Kind::Session,
        Kind::Phone,
        Kind::Email,
    ];

    /// The machine-readable name: `domain`, `handle`, `user`, `device`,
    /// `channel`, `team`, `team_channel`, `session`, `phone` or `email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Domain => "domain",
            Kind::Handle => "handle",
            Kind::User => "user",
            Kind::Device => "device",
            Kind::Channel => "channel",
            Kind::Team => "team",
            Kind::TeamChannel => "team_channel",
            Kind::Session => "session",
            Kind::Phone => "phone",
            Kind::Email => "email",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::TeamChannel => "team channel",
            other => other.as_str(),
        })
    }
}

/// Writes `@domain` when there is one.
fn write_qualifier(f: &mut fmt::Formatter<'_>, domain: Option<&Domain>) -> fmt::Result {
    match domain {
        Some(d) => write!(f, "@{d}"),
        None => Ok(()),
    }
}

/// Identifiers made of one name component and an optional domain.
macro_rules! single_component_id {
    ($(#[$doc:meta])* $name:ident, $field:ident, $part:expr, $marker:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            $field: String,
            domain: Option<Domain>,
        }

        impl $name {
            /// Validates the component; `None` makes an unqualified identifier.
            pub fn new($field: &str, domain: Option<Domain>) -> Result<Self, ParseError> {
                component::check($field, $part)?;
                Ok($name { $field: $field.to_owned(), domain })
            }

            /// The name component, without marker or domain.
            pub fn $field(&self) -> &str {
                &self.$field
            }

            /// The qualifying domain, if any.
            pub fn domain(&self) -> Option<&Domain> {
                self.domain.as_ref()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $marker, self.$field)?;
                write_qualifier(f, self.domain.as_ref())
            }
        }
    };
}

single_component_id!(
    /// A handle (`@alice`, `@alice@example.com`): an external, possibly mutable
    /// name for a user or service.
    Handle, name, Part::Handle, "@"
);
single_component_id!(
    /// A channel or group chat name (`#projectX@example.com`).
    Channel, name, Part::Channel, "#"
);
single_component_id!(
    /// A team or workspace (`##engineering@example.com`).
    Team, name, Part::Team, "##"
);
single_component_id!(
    /// A group conversation or session identifier (`$TII9t5viBrXiXc@example.com`);
    /// for MLS, the group.
    SessionId, id, Part::Session, "$"
);

/// An internal, stable user identifier (`BFuVxW5BfqaMEfJDc8R7Qw@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId {
    id: String,
    domain: Option<Domain>,
}

impl UserId {
    /// Validates the id; `None` makes an unqualified user.
    pub fn new(id: &str, domain: Option<Domain>) -> Result<Self, ParseError> {
        component::check(id, Part::User)?;
        Ok(UserId {
            id: id.to_owned(),
            domain,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        match &self.domain {
            Some(d) => write!(f, "@{d}"),
            // A bare id that is also a valid domain (`alice.smith`) would read
            // back as a domain; `@local.invalid` keeps it a user.
            None if looks_like_domain(&self.id) => write!(f, "@{LOCAL_INVALID}"),
            None => Ok(()),
        }
    }
}

fn looks_like_domain(s: &str) -> bool {
    s.contains('.') && parse_qualifier(s).is_ok()
}

/// A client or device identifier (`BFuVxW5BfqaMEfJDc8R7Qw/072b@example.com`).
///
/// The user is optional only because `mimi://a.example/d/ClientA1` (the form of
/// draft-ietf-mimi-protocol's examples) does not name it; its text form is then
/// `/ClientA1@a.example`. Everything we issue names the user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId {
    user: Option<String>,
    device: String,
    domain: Option<Domain>,
}

impl DeviceId {
    /// A device of `user`, qualified by the user's domain.
    pub fn new(user: &UserId, device: &str) -> Result<Self, ParseError> {
        Ok(DeviceId {
            user: Some(user.id.clone()),
            device: check_device(device)?,
            domain: user.domain.clone(),
        })
    }

    /// A device whose user is not known (`mimi://a.example/d/ClientA1`).
    pub fn without_user(device: &str, domain: Option<Domain>) -> Result<Self, ParseError> {
        Ok(DeviceId {
            user: None,
            device: check_device(device)?,
            domain,
        })
    }

    /// The device component.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The user this device belongs to, when the identifier names it.
    pub fn user(&self) -> Option<UserId> {
        self.user.as_ref().map(|id| UserId {
            id: id.clone(),
            domain: self.domain.clone(),
        })
    }

    pub(crate) fn user_id_str(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.user.as_deref().unwrap_or(""), self.device)?;
        write_qualifier(f, self.domain.as_ref())
    }
}

/// A channel within a team (`##engineering/projectX@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamChannel {
    team: String,
    channel: String,
    domain: Option<Domain>,
}

impl TeamChannel {
    pub fn new(team: &Team, channel: &str) -> Result<Self, ParseError> {
        component::check(channel, Part::Channel)?;
        Ok(TeamChannel {
            team: team.name.clone(),
            channel: channel.to_owned(),
            domain: team.domain.clone(),
        })
    }

    pub fn team(&self) -> Team {
        Team {
            name: self.team.clone(),
            domain: self.domain.clone(),
        }
    }

    pub(crate) fn team_name(&self) -> &str {
        &self.team
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }
}

impl fmt::Display for TeamChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "##{}/{}", self.team, self.channel)?;
        write_qualifier(f, self.domain.as_ref())
    }
}

/// Any MIMI identifier.
///
/// `Display` writes the canonical text form; [`crate::parse`] reads any form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    Domain(Domain),
    Handle(Handle),
    User(UserId),
    Device(DeviceId),
    Channel(Channel),
    Team(Team),
    TeamChannel(TeamChannel),
    Session(SessionId),
    Phone(PhoneNumber),
    Email(EmailAddress),
}

impl Identifier {
    pub fn kind(&self) -> Kind {
        match self {
            Identifier::Domain(_) => Kind::Domain,
            Identifier::Handle(_) => Kind::Handle,
            Identifier::User(_) => Kind::User,
            Identifier::Device(_) => Kind::Device,
            Identifier::Channel(_) => Kind::Channel,
            Identifier::Team(_) => Kind::Team,
            Identifier::TeamChannel(_) => Kind::TeamChannel,
            Identifier::Session(_) => Kind::Session,
            Identifier::Phone(_) => Kind::Phone,
            Identifier::Email(_) => Kind::Email,
        }
    }

    /// The domain this identifier is qualified by (for a domain: itself; for an
    /// email address: its domain; for a phone number or an unqualified
    /// identifier: none).
    pub fn domain(&self) -> Option<&Domain> {
        match self {
            Identifier::Domain(d) => Some(d),
            Identifier::Handle(x) => x.domain(),
            Identifier::User(x) => x.domain(),
            Identifier::Device(x) => x.domain(),
            Identifier::Channel(x) => x.domain(),
            Identifier::Team(x) => x.domain(),
            Identifier::TeamChannel(x) => x.domain(),
            Identifier::Session(x) => x.domain(),
            Identifier::Phone(_) => None,
            Identifier::Email(x) => Some(x.domain()),
        }
    }

    /// The next identifier up the hierarchy: the user of a device (when the
    /// device names it) or the team of a team channel.
    pub fn parent(&self) -> Option<Identifier> {
        match self {
            Identifier::Device(d) => d.user().map(Identifier::User),
            Identifier::TeamChannel(tc) => Some(Identifier::Team(tc.team())),
            _ => None,
        }
    }

    /// Whether the identifier is qualified by `domain` or one of its subdomains.
    pub fn is_under(&self, domain: &Domain) -> bool {
        self.domain().is_some_and(|d| d.is_within(domain))
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::Domain(x) => x.fmt(f),
            Identifier::Handle(x) => x.fmt(f),
            Identifier::User(x) => x.fmt(f),
            Identifier::Device(x) => x.fmt(f),
            Identifier::Channel(x) => x.fmt(f),
            Identifier::Team(x) => x.fmt(f),
            Identifier::TeamChannel(x) => x.fmt(f),
            Identifier::Session(x) => x.fmt(f),
            Identifier::Phone(x) => x.fmt(f),
            Identifier::Email(x) => write!(f, "{}", x.to_mailto_uri()),
        }
    }
}

/// Parses a text form of the WXYZ table (not a phone number or URI).
/// Offsets are relative to `s`.
pub(crate) fn parse_text(s: &str) -> Result<Identifier, ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(Part::Input, 0, Reason::Empty));
    }
    let (marker, kind_part) = match s.as_bytes()[0] {
        b'@' => (1, Part::Handle),
        b'$' => (1, Part::Session),
        b'#' if s.as_bytes().get(1) == Some(&b'#') => (2, Part::Team),
        b'#' => (1, Part::Channel),
        _ => (0, Part::User),
    };
    let body = &s[marker..];
    let (local, domain) = split_qualifier(body, kind_part).map_err(|e| e.shifted(marker))?;
    let domain_offset = marker + local.len() + 1;
    if marker == 0 && domain.is_none() && !local.contains('/') && local.contains('.') {
        match Domain::parse(local) {
            Ok(d) => return Ok(Identifier::Domain(d)),
            Err(e) if e.reason == Reason::LocalInvalidDomain => return Err(e),
            // Not a domain: an unqualified user id with dots, e.g. `alice..smith`.
            Err(_) => {}
        }
    }
    let domain = domain
        .map(parse_qualifier)
        .transpose()
        .map_err(|e| e.shifted(domain_offset))?
        .flatten();
    build(kind_part, local, domain).map_err(|e| e.shifted(marker))
}

/// Splits `local@domain`; the local part can never contain '@'.
fn split_qualifier(body: &str, part: Part) -> Result<(&str, Option<&str>), ParseError> {
    let Some(at) = body.find('@') else {
        return Ok((body, None));
    };
    let domain = &body[at + 1..];
    if let Some(second) = domain.find('@') {
        return Err(ParseError::new(part, at + 1 + second, Reason::ExtraAt));
    }
    Ok((&body[..at], Some(domain)))
}

fn build(part: Part, local: &str, domain: Option<Domain>) -> Result<Identifier, ParseError> {
    let slash = local.find('/');
    if let Some(first) = slash
        && let Some(second) = local[first + 1..].find('/')
    {
        return Err(ParseError::new(
            part,
            first + 1 + second,
            Reason::ExtraSlash,
        ));
    }
    Ok(match (part, slash) {
        (Part::Handle, _) => Identifier::Handle(Handle::new(local, domain)?),
        (Part::Session, _) => Identifier::Session(SessionId::new(local, domain)?),
        (Part::Channel, _) => Identifier::Channel(Channel::new(local, domain)?),
        (Part::Team, None) => Identifier::Team(Team::new(local, domain)?),
        (Part::Team, Some(i)) => {
            let team = Team::new(&local[..i], domain)?;
            let tc = TeamChannel::new(&team, &local[i + 1..]).map_err(|e| e.shifted(i + 1))?;
            Identifier::TeamChannel(tc)
        }
        (_, None) => Identifier::User(UserId::new(local, domain)?),
        (_, Some(0)) => Identifier::Device(
            DeviceId::without_user(&local[1..], domain).map_err(|e| e.shifted(1))?,
        ),
        (_, Some(i)) => {
            let user = UserId::new(&local[..i], domain)?;
            let device = DeviceId::new(&user, &local[i + 1..]).map_err(|e| e.shifted(i + 1))?;
            Identifier::Device(device)
        }
    })
}
