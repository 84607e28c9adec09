//! The name components inside identifiers: handle names, user, device, channel,
//! team and session ids.
//!
//! The draft does not define their character set. We allow the RFC 3986
//! *unreserved* characters (`A-Z a-z 0-9 - . _ ~`), which covers UUIDs,
//! base64url ids like `BFuVxW5BfqaMEfJDc8R7Qw` and names like `alice.smith`.
//! Why so narrow (docs/draft-divergences.md): components then never need
//! percent-encoding in any URI form, fit an X.509 IA5String unchanged, and can
//! never contain the delimiters (`@ / # $ :`) of the text forms, so every form
//! parses without ambiguity. Components are case-sensitive.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ParseError, Part, Reason};

/// Longest name component, in bytes.
pub const MAX_COMPONENT_LEN: usize = 255;

const UNRESERVED: &str = "letters, digits, '-', '.', '_' or '~'";

pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Checks one name component. Offsets are relative to `s`.
pub(crate) fn check(s: &str, part: Part) -> Result<(), ParseError> {
    check_length(s, part)?;
    if let Some((at, ch)) = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii() && is_unreserved(c as u8)))
    {
        return Err(ParseError::new(
            part,
            at,
            Reason::BadChar {
                ch,
                allowed: UNRESERVED,
            },
        ));
    }
    if s == "." || s == ".." {
        return Err(ParseError::new(part, 0, Reason::DotSegment));
    }
    Ok(())
}

fn check_length(s: &str, part: Part) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(part, 0, Reason::Empty));
    }
    if s.len() > MAX_COMPONENT_LEN {
        return Err(ParseError::new(
            part,
            0,
            Reason::TooLong {
                len: s.len(),
                max: MAX_COMPONENT_LEN,
            },
        ));
    }
    Ok(())
}

/// Checks a device component: a name component, or an IP literal (a SIP
/// contact address names its device by host: `[2001:db8::1]` or `192.0.2.1`).
///
/// Returns the canonical spelling (RFC 5952 for IPv6).
pub(crate) fn check_device(s: &str) -> Result<String, ParseError> {
    if let Some(inner) = s.strip_prefix('[') {
        check_length(s, Part::Device)?;
        let Some(inner) = inner.strip_suffix(']') else {
            return Err(ParseError::new(Part::Device, 0, Reason::BadIpLiteral));
        };
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| ParseError::new(Part::Device, 0, Reason::BadIpLiteral))?;
        return Ok(format!("[{ip}]"));
    }
    check(s, Part::Device)?;
    Ok(s.to_owned())
}

/// The host a SIP contact would use for this device, if the device id is an
/// IP literal.
pub(crate) fn device_ip_host(device: &str) -> Option<&str> {
    if device.starts_with('[') || device.parse::<Ipv4Addr>().is_ok() {
        Some(device)
    } else {
        None
    }
}
