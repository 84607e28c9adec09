//! Identifiers inside the provider's structures: `mimi://` URIs of users and
//! devices (draft-ietf-mimi-protocol, our device form `/d/<user>/<device>`) and
//! handles, as UTF-8 bytes.
//!
//! Only the canonical spelling is accepted (what `mimi_identifiers` writes back), so
//! that one user or device has one byte string on the wire: providers compare and
//! store these bytes, and a signature covers them.

use mimi_identifiers::{DeviceId, Form, Handle, Identifier, UserId};

use crate::error::{WireError, quote};

/// Longest identifier field accepted: a `mimi://` device URI is at most 774
/// bytes (`mimi://` + a 253-byte domain + `/d/` + two 255-byte components).
pub const MAX_ID_LEN: usize = 1024;

/// Longest handle field accepted: `@` + 255-byte name + `@` + 253-byte domain.
pub const MAX_HANDLE_LEN: usize = 512;

fn invalid(field: &'static str, bytes: &[u8], reason: impl Into<String>) -> WireError {
    WireError::InvalidIdentifier {
        field,
        value: quote(bytes),
        reason: reason.into(),
    }
}

fn utf8<'a>(field: &'static str, bytes: &'a [u8], max: usize) -> Result<&'a str, WireError> {
    if bytes.len() > max {
        return Err(invalid(
            field,
            bytes,
            format!("{} bytes; at most {max} are allowed", bytes.len()),
        ));
    }
    std::str::from_utf8(bytes).map_err(|_| invalid(field, bytes, "not UTF-8"))
}

/// A `mimi://` URI as its identifier, if it is one in canonical form.
fn mimi_uri(field: &'static str, bytes: &[u8]) -> Result<Identifier, WireError> {
    let s = utf8(field, bytes, MAX_ID_LEN)?;
    let parsed = mimi_identifiers::parse(s).map_err(|e| invalid(field, bytes, e.to_string()))?;
    if parsed.form != Form::Mimi {
        return Err(invalid(field, bytes, "not a mimi:// URI"));
    }
    let id = parsed.identifier;
    if id.domain().is_none() {
        return Err(invalid(field, bytes, "it names no domain"));
    }
    let canonical = id
        .to_mimi_uri()
        .map_err(|e| invalid(field, bytes, e.to_string()))?;
    if canonical != s {
        return Err(invalid(
            field,
            bytes,
            format!("not canonical; its canonical form is \"{canonical}\""),
        ));
    }
    Ok(id)
}

/// `mimi://<domain>/u/<user>`.
pub(crate) fn user(field: &'static str, bytes: &[u8]) -> Result<UserId, WireError> {
    match mimi_uri(field, bytes)? {
        Identifier::User(u) => Ok(u),
        other => Err(invalid(
            field,
            bytes,
            format!(
                "a {} URI, not a user URI (mimi://<domain>/u/<user>)",
                other.kind()
            ),
        )),
    }
}

/// `mimi://<domain>/d/<user>/<device>`: a device URI that names its user.
pub(crate) fn device(field: &'static str, bytes: &[u8]) -> Result<DeviceId, WireError> {
    match mimi_uri(field, bytes)? {
        Identifier::Device(d) if d.user().is_some() => Ok(d),
        Identifier::Device(_) => Err(invalid(
            field,
            bytes,
            "the device URI names no user; write mimi://<domain>/d/<user>/<device>",
        )),
        other => Err(invalid(
            field,
            bytes,
            format!(
                "a {} URI, not a device URI (mimi://<domain>/d/<user>/<device>)",
                other.kind()
            ),
        )),
    }
}

/// A handle in its canonical text form (`@alice`, `@alice@a.example`).
pub(crate) fn handle(field: &'static str, bytes: &[u8]) -> Result<Handle, WireError> {
    let s = utf8(field, bytes, MAX_HANDLE_LEN)?;
    let parsed = mimi_identifiers::parse(s).map_err(|e| invalid(field, bytes, e.to_string()))?;
    let Identifier::Handle(h) = parsed.identifier else {
        return Err(invalid(
            field,
            bytes,
            format!("a {}, not a handle (@name)", parsed.identifier.kind()),
        ));
    };
    let canonical = h.to_string();
    if parsed.form != Form::Text || canonical != s {
        return Err(invalid(
            field,
            bytes,
            format!("not canonical; its canonical form is \"{canonical}\""),
        ));
    }
    Ok(h)
}

/// The canonical `mimi://` URI of a user, for constructors.
pub(crate) fn user_uri(field: &'static str, user: &UserId) -> Result<String, WireError> {
    let id = Identifier::User(user.clone());
    to_uri(field, id)
}

/// The canonical `mimi://` URI of a device that names its user, for constructors.
pub(crate) fn device_uri(field: &'static str, device: &DeviceId) -> Result<String, WireError> {
    if device.user().is_none() {
        return Err(invalid(
            field,
            device.to_string().as_bytes(),
            "the device names no user; build it with DeviceId::new(user, device)",
        ));
    }
    to_uri(field, Identifier::Device(device.clone()))
}

fn to_uri(field: &'static str, id: Identifier) -> Result<String, WireError> {
    if id.domain().is_none() {
        return Err(invalid(
            field,
            id.to_string().as_bytes(),
            "it names no domain; qualify it with its provider's domain",
        ));
    }
    id.to_mimi_uri()
        .map_err(|e| invalid(field, id.to_string().as_bytes(), e.to_string()))
}
