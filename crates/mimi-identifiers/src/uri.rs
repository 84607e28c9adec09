//! The URI forms of identifiers:
//!
//! - `im:<proto>=<id>` and the protocol-scheme form `<proto>:<id>`
//!   (draft-mahy-mimi-identity §"Representation of identifiers using URIs"),
//!   with the per-protocol syntax of XMPP and SIP;
//! - `mimi://<domain>[/<type>/<id>...]` of draft-ietf-mimi-protocol, the form
//!   that goes into certificates (X.509 URI name constraints need a host);
//! - `tel:` and `mailto:` for the service-independent identifiers.
//!
//! Output percent-encodes what RFC 3986 reserves (`#` would start a fragment:
//! `wxyz:%23projectX@example.com`); input also accepts the draft's raw forms.
//! Identifiers without a domain use `local.invalid` in every URI form.

use crate::component::{device_ip_host, is_unreserved};
use crate::domain::{Domain, parse_qualifier, qualifier_str};
use crate::error::{FormError, ParseError, Part, Reason};
use crate::identifier::{
    Channel, DeviceId, Handle, Identifier, Kind, SessionId, Team, TeamChannel, UserId,
};
use crate::percent::{self, Decoded};
use crate::protocol::{Profile, Protocol};
use crate::{email, phone};

/// `pchar` of RFC 3986 minus '@' (our structural delimiter) and minus '%'.
fn is_path_char(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:".contains(&b)
}

fn push_component(out: &mut String, s: &str) {
    percent::encode_into(out, s, is_path_char);
}

fn push_qualifier(out: &mut String, domain: Option<&Domain>) {
    out.push('@');
    out.push_str(qualifier_str(domain));
}

impl Identifier {
    /// `im:<proto>=<id>`, e.g. `im:wxyz=%40alice@example.com`.
    pub fn to_im_uri(&self, proto: &Protocol) -> Result<String, FormError> {
        let body = match proto.profile() {
            Profile::Generic => self.generic_body(&format!("im:{proto}="))?,
            Profile::Xmpp => self.xmpp_body(XmppStyle::Draft, "im:xmpp=")?,
            Profile::Sip => self.sip_body("im:sip=")?,
        };
        Ok(format!("im:{proto}={body}"))
    }

    /// The protocol's own scheme, e.g. `wxyz:%40alice@example.com`,
    /// `xmpp:juliet@example.com/balcony`, `sip:juliet@example.com`; for
    /// phone numbers and email addresses `tel:` and `mailto:`, whatever the
    /// protocol.
    pub fn to_scheme_uri(&self, proto: &Protocol) -> Result<String, FormError> {
        match self {
            Identifier::Phone(p) => return Ok(p.to_tel_uri()),
            Identifier::Email(e) => return Ok(e.to_mailto_uri()),
            _ => {}
        }
        let form = format!("{proto}:");
        let body = match proto.profile() {
            Profile::Generic => self.generic_body(&form)?,
            Profile::Xmpp => self.xmpp_body(XmppStyle::Rfc7622, &form)?,
            Profile::Sip => self.sip_body(&form)?,
        };
        Ok(format!("{proto}:{body}"))
    }

    /// The `mimi://` URI of draft-ietf-mimi-protocol.
    pub fn to_mimi_uri(&self) -> Result<String, FormError> {
        let no_form = |why| Err(FormError::new(self.kind(), "mimi://", why));
        let mut out = String::from("mimi://");
        let (ty, segments): (char, [Option<&str>; 2]) = match self {
            Identifier::Domain(d) => {
                out.push_str(d.as_str());
                return Ok(out);
            }
            Identifier::User(u) => ('u', [Some(u.id()), None]),
            Identifier::Device(d) => match d.user_id_str() {
                Some(user) => ('d', [Some(user), Some(d.device())]),
                None => ('d', [Some(d.device()), None]),
            },
            Identifier::Channel(c) => ('r', [Some(c.name()), None]),
            Identifier::TeamChannel(tc) => ('r', [Some(tc.team_name()), Some(tc.channel())]),
            Identifier::Team(t) => ('t', [Some(t.name()), None]),
            Identifier::Session(s) => ('g', [Some(s.id()), None]),
            Identifier::Handle(_) => {
                return no_form(
                    "MIMI names users, not handles; resolve the handle to its user, or use the im: form",
                );
            }
            Identifier::Phone(_) => return no_form("phone numbers are tel: URIs"),
            Identifier::Email(_) => return no_form("email addresses are mailto: URIs"),
        };
        out.push_str(qualifier_str(self.domain()));
        out.push('/');
        out.push(ty);
        for segment in segments.into_iter().flatten() {
            out.push('/');
            push_component(&mut out, segment);
        }
        Ok(out)
    }

    /// The table's text form with markers and reserved characters encoded.
    fn generic_body(&self, form: &str) -> Result<String, FormError> {
        let mut out = String::new();
        match self {
            Identifier::Domain(d) => {
                out.push_str(d.as_str());
                return Ok(out);
            }
            Identifier::Handle(h) => {
                out.push_str("%40");
                out.push_str(h.name());
            }
            Identifier::User(u) => out.push_str(u.id()),
            Identifier::Device(d) => {
                out.push_str(d.user_id_str().unwrap_or(""));
                out.push('/');
                push_component(&mut out, d.device());
            }
            Identifier::Channel(c) => {
                out.push_str("%23");
                out.push_str(c.name());
            }
            Identifier::Team(t) => {
                out.push_str("%23%23");
                out.push_str(t.name());
            }
            Identifier::TeamChannel(tc) => {
                out.push_str("%23%23");
                out.push_str(tc.team_name());
                out.push('/');
                out.push_str(tc.channel());
            }
            Identifier::Session(s) => {
                out.push('$');
                out.push_str(s.id());
            }
            Identifier::Phone(_) | Identifier::Email(_) => {
                return Err(FormError::new(
                    self.kind(),
                    form,
                    "it does not depend on a messaging protocol; use its tel: or mailto: URI",
                ));
            }
        }
        push_qualifier(&mut out, self.domain());
        Ok(out)
    }

    fn xmpp_body(&self, style: XmppStyle, form: &str) -> Result<String, FormError> {
        let mut out = String::new();
        match self {
            Identifier::Domain(d) => out.push_str(d.as_str()),
            Identifier::Handle(h) => {
                out.push_str(h.name());
                push_qualifier(&mut out, h.domain());
            }
            Identifier::Device(d) => {
                let Some(user) = d.user_id_str() else {
                    return Err(FormError::new(
                        Kind::Device,
                        form,
                        "a full JID needs the user's local part, and this device does not name its user",
                    ));
                };
                out.push_str(user);
                match style {
                    XmppStyle::Draft => {
                        out.push('/');
                        push_component(&mut out, d.device());
                        push_qualifier(&mut out, d.domain());
                    }
                    XmppStyle::Rfc7622 => {
                        push_qualifier(&mut out, d.domain());
                        out.push('/');
                        push_component(&mut out, d.device());
                    }
                }
            }
            _ => {
                return Err(FormError::new(
                    self.kind(),
                    form,
                    "XMPP addresses name domains, bare JIDs (handles) and full JIDs (devices) only",
                ));
            }
        }
        Ok(out)
    }

    fn sip_body(&self, form: &str) -> Result<String, FormError> {
        let mut out = String::new();
        match self {
            Identifier::Domain(d) => out.push_str(d.as_str()),
            Identifier::Handle(h) => {
                out.push_str(h.name());
                push_qualifier(&mut out, h.domain());
            }
            Identifier::Device(d) => match (d.user_id_str(), device_ip_host(d.device())) {
                // A contact address is host-scoped: it has no place for a domain.
                (Some(user), Some(host)) if d.domain().is_none() => {
                    out.push_str(user);
                    out.push('@');
                    out.push_str(host);
                }
                _ => {
                    return Err(FormError::new(
                        Kind::Device,
                        form,
                        "a SIP contact address is <user>@<IP address> with no domain; this device is not an unqualified user's device named by an IP address",
                    ));
                }
            },
            _ => {
                return Err(FormError::new(
                    self.kind(),
                    form,
                    "SIP addresses name domains, addresses of record (handles) and contacts (devices) only",
                ));
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
enum XmppStyle {
    /// `juliet/balcony@example.com`, as draft-mahy-mimi-identity writes it.
    Draft,
    /// `juliet@example.com/balcony`, the real JID syntax (RFC 7622).
    Rfc7622,
}

/// Parses the body of an `im:<proto>=` or `<proto>:` URI. Offsets are relative to `body`.
pub(crate) fn parse_protocol_body(proto: &Protocol, body: &str) -> Result<Identifier, ParseError> {
    if let Some(q) = body.find('?') {
        let what = "a query ('?...')";
        return Err(ParseError::new(
            Part::Input,
            q,
            Reason::Unsupported { what },
        ));
    }
    match proto.profile() {
        Profile::Generic => {
            // A raw '#' is the draft's channel marker, not a fragment.
            let decoded = percent::decode(body, Part::Input)?;
            crate::identifier::parse_text(decoded.text()).map_err(|e| decoded.map_error(e))
        }
        Profile::Xmpp => parse_xmpp(body),
        Profile::Sip => parse_sip(body),
    }
}

fn parse_xmpp(body: &str) -> Result<Identifier, ParseError> {
    if body.starts_with("//") {
        let what = "an authority ('//...')";
        return Err(ParseError::new(
            Part::Input,
            0,
            Reason::Unsupported { what },
        ));
    }
    if let Some(h) = body.find('#') {
        let what = "a fragment ('#...')";
        return Err(ParseError::new(
            Part::Input,
            h,
            Reason::Unsupported { what },
        ));
    }
    let decoded = percent::decode(body, Part::Input)?;
    parse_jid(decoded.text()).map_err(|e| decoded.map_error(e))
}

/// `domain`, `local@domain` (bare JID: a handle), `local@domain/resource`
/// (RFC 7622 full JID: a device) or the draft's `local/resource@domain`.
fn parse_jid(s: &str) -> Result<Identifier, ParseError> {
    let at = s.find('@');
    let slash = s.find('/');
    let (local, resource, domain, domain_at) = match (at, slash) {
        (None, None) => {
            return Domain::parse(s).map(Identifier::Domain);
        }
        (None, Some(_)) => {
            return Err(ParseError::new(Part::Input, 0, Reason::XmppServerResource));
        }
        (Some(a), None) => (&s[..a], None, &s[a + 1..], a + 1),
        (Some(a), Some(sl)) if sl < a => {
            (&s[..sl], Some((sl + 1, &s[sl + 1..a])), &s[a + 1..], a + 1)
        }
        (Some(a), Some(sl)) => (&s[..a], Some((sl + 1, &s[sl + 1..])), &s[a + 1..sl], a + 1),
    };
    if let Some(extra) = domain.find('@') {
        return Err(ParseError::new(
            Part::Domain,
            domain_at + extra,
            Reason::ExtraAt,
        ));
    }
    let domain = parse_qualifier(domain).map_err(|e| e.shifted(domain_at))?;
    match resource {
        None => Ok(Identifier::Handle(Handle::new(local, domain)?)),
        Some((res_at, resource)) => {
            let user = UserId::new(local, domain)?;
            let device = DeviceId::new(&user, resource).map_err(|e| e.shifted(res_at))?;
            Ok(Identifier::Device(device))
        }
    }
}

/// `sip:example.com` (domain), `sip:juliet@example.com` (address of record: a
/// handle) or `sip:juliet@[2001:db8::1]` (contact address: a device).
fn parse_sip(body: &str) -> Result<Identifier, ParseError> {
    if let Some(i) = body.find([';', '#']) {
        return Err(ParseError::new(Part::Input, i, Reason::SipExtras));
    }
    let decoded = percent::decode(body, Part::Input)?;
    let s = decoded.text();
    let parse = || {
        let Some(a) = s.find('@') else {
            return Domain::parse(s).map(Identifier::Domain);
        };
        let host = &s[a + 1..];
        let port_at = match host.strip_prefix('[') {
            Some(_) => host.find("]:").map(|i| i + 1),
            None => host.find(':'),
        };
        if let Some(p) = port_at {
            return Err(ParseError::new(Part::Host, a + 1 + p, Reason::SipExtras));
        }
        if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
            let user = UserId::new(&s[..a], None)?;
            let device = DeviceId::new(&user, host).map_err(|e| e.shifted(a + 1))?;
            return Ok(Identifier::Device(device));
        }
        let domain = parse_qualifier(host).map_err(|e| e.shifted(a + 1))?;
        Ok(Identifier::Handle(Handle::new(&s[..a], domain)?))
    };
    parse().map_err(|e| decoded.map_error(e))
}

/// Parses what follows `mimi:`. Offsets are relative to `rest`.
pub(crate) fn parse_mimi(rest: &str) -> Result<Identifier, ParseError> {
    let Some(hier) = rest.strip_prefix("//") else {
        let got = format!("mimi:{}", rest.chars().take(2).collect::<String>());
        return Err(ParseError::new(
            Part::Scheme,
            0,
            Reason::MimiNotHierarchical { got },
        ));
    };
    if let Some(i) = hier.find('?') {
        let what = "a query ('?...')";
        return Err(ParseError::new(
            Part::Input,
            2 + i,
            Reason::Unsupported { what },
        ));
    }
    if let Some(i) = hier.find('#') {
        let what = "a fragment ('#...')";
        return Err(ParseError::new(
            Part::Input,
            2 + i,
            Reason::Unsupported { what },
        ));
    }
    let (authority, path) = hier.split_at(hier.find('/').unwrap_or(hier.len()));
    let domain = parse_authority(authority).map_err(|e| e.shifted(2))?;
    let path_at = 2 + authority.len();
    if path.is_empty() {
        return match domain {
            Some(d) => Ok(Identifier::Domain(d)),
            None => Err(ParseError::new(Part::Domain, 2, Reason::LocalInvalidDomain)),
        };
    }
    parse_mimi_path(&path[1..], domain).map_err(|e| e.shifted(path_at + 1))
}

fn parse_authority(authority: &str) -> Result<Option<Domain>, ParseError> {
    if let Some(i) = authority.find('@') {
        let what = "user information before the host";
        return Err(ParseError::new(
            Part::Input,
            i,
            Reason::Unsupported { what },
        ));
    }
    if let Some(i) = authority.find(':') {
        let what = "a port";
        return Err(ParseError::new(
            Part::Input,
            i,
            Reason::Unsupported { what },
        ));
    }
    let decoded = percent::decode(authority, Part::Domain)?;
    parse_qualifier(decoded.text()).map_err(|e| decoded.map_error(e))
}

/// `u/<user>`, `d/<user>/<device>`, `d/<device>`, `r/<channel>`,
/// `r/<team>/<channel>`, `t/<team>`, `g/<group>`. Offsets relative to `path`.
fn parse_mimi_path(path: &str, domain: Option<Domain>) -> Result<Identifier, ParseError> {
    let mut pieces = path.split('/');
    let ty = pieces.next().unwrap_or("");
    let count = pieces.clone().count();
    let mut segments: Vec<(usize, Decoded)> = Vec::with_capacity(2);
    let mut at = ty.len() + 1;
    for raw in pieces.take(2) {
        let decoded = percent::decode(raw, Part::Path).map_err(|e| e.shifted(at))?;
        segments.push((at, decoded));
        at += raw.len() + 1;
    }
    let wrong_count = |expected| {
        let ty = ty.chars().next().unwrap_or('?');
        let reason = Reason::WrongSegmentCount {
            ty,
            got: count,
            expected,
        };
        Err(ParseError::new(Part::Path, 0, reason))
    };
    let seg = |i| &segments[i];
    let dom = || domain.clone();
    let id = match (ty, count) {
        ("u", 1) => Identifier::User(in_segment(seg(0), |s| UserId::new(s, dom()))?),
        ("d", 1) => Identifier::Device(in_segment(seg(0), |s| DeviceId::without_user(s, dom()))?),
        ("d", 2) => {
            let user = in_segment(seg(0), |s| UserId::new(s, dom()))?;
            Identifier::Device(in_segment(seg(1), |s| DeviceId::new(&user, s))?)
        }
        ("r", 1) => Identifier::Channel(in_segment(seg(0), |s| Channel::new(s, dom()))?),
        ("r", 2) => {
            let team = in_segment(seg(0), |s| Team::new(s, dom()))?;
            Identifier::TeamChannel(in_segment(seg(1), |s| TeamChannel::new(&team, s))?)
        }
        ("t", 1) => Identifier::Team(in_segment(seg(0), |s| Team::new(s, dom()))?),
        ("g", 1) => Identifier::Session(in_segment(seg(0), |s| SessionId::new(s, dom()))?),
        ("u", _) => return wrong_count("1 (/u/<user>)"),
        ("d", _) => return wrong_count("1 or 2 (/d/<user>/<device>)"),
        ("r", _) => return wrong_count("1 or 2 (/r/<room> or /r/<team>/<channel>)"),
        ("t", _) => return wrong_count("1 (/t/<team>)"),
        ("g", _) => return wrong_count("1 (/g/<group>)"),
        _ => {
            let ty = ty.chars().take(16).collect();
            return Err(ParseError::new(
                Part::Path,
                0,
                Reason::UnknownMimiType { ty },
            ));
        }
    };
    Ok(id)
}

/// Runs `f` on a decoded path segment, mapping error offsets back to the path.
fn in_segment<T>(
    (at, decoded): &(usize, Decoded),
    f: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, ParseError> {
    f(decoded.text()).map_err(|e| decoded.map_error(e).shifted(*at))
}

/// Parses a `tel:` body. Offsets are relative to `body`.
pub(crate) fn parse_tel(body: &str) -> Result<Identifier, ParseError> {
    phone::parse_tel_body(body).map(Identifier::Phone)
}

/// Parses a `mailto:` body. Offsets are relative to `body`.
pub(crate) fn parse_mailto(body: &str) -> Result<Identifier, ParseError> {
    email::parse_mailto_body(body).map(Identifier::Email)
}
