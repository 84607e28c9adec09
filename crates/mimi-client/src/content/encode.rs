//! Encoding of `mimiContent` in deterministic CBOR (draft-ietf-mimi-content-08
//! §6.1): minicbor writes every head in its shortest form and only definite
//! lengths; the one map (extensions) is sorted here by encoded key.

use std::convert::Infallible;

use minicbor::Encoder;

use super::cbor;
use super::types::MAX_DRAFT_DEPTH;
use super::{
    ContentError, Expiration, ExtensionKey, Extensions, ExternalPart, MessageId, MimiContent,
    NestedPart, Part,
};

type Enc = Encoder<Vec<u8>>;
/// One extension as (encoded key, encoded value).
type Entry = (Vec<u8>, Vec<u8>);
type EncResult = Result<(), minicbor::encode::Error<Infallible>>;

pub(super) fn encode(content: &MimiContent) -> Result<Vec<u8>, ContentError> {
    let extensions = sorted_extensions(&content.extensions)?;
    check_part(&content.body, 1)?;
    let mut e = Encoder::new(Vec::new());
    write_message(&mut e, content, &extensions).map_err(|err| ContentError::Encoder {
        field: "mimiContent",
        detail: err.to_string(),
    })?;
    Ok(e.into_writer())
}

/// What a sender must not write (§4.4 `[2* NestedPart]`, §6.3 depth).
fn check_part(part: &NestedPart, depth: usize) -> Result<(), ContentError> {
    if depth > MAX_DRAFT_DEPTH {
        return Err(ContentError::TooDeep {
            field: "nestedPart",
            max: MAX_DRAFT_DEPTH,
        });
    }
    if let Part::Multi { parts, .. } = &part.part {
        if parts.len() < 2 {
            return Err(ContentError::TooFewParts { found: parts.len() });
        }
        parts.iter().try_for_each(|p| check_part(p, depth + 1))?;
    }
    Ok(())
}

/// Every extension as (encoded key, encoded value), validated and in the
/// bytewise order of the encoded keys (RFC 8949 §4.2.1).
fn sorted_extensions(ext: &Extensions) -> Result<Vec<Entry>, ContentError> {
    let mut entries = Vec::with_capacity(ext.other.len() + 2);
    for (key, uri) in [(1, &ext.sender_uri), (2, &ext.room_uri)] {
        if let Some(uri) = uri {
            entries.push((encode_key(&ExtensionKey::Int(key))?, encode_text(uri)));
        }
    }
    for extension in &ext.other {
        if matches!(extension.key, ExtensionKey::Int(1 | 2)) {
            return Err(ContentError::DuplicateExtensionKey {
                key: extension.key.to_string(),
            });
        }
        check_value(&extension.key, &extension.value)?;
        entries.push((encode_key(&extension.key)?, extension.value.clone()));
    }
    entries.sort();
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        let key = ext
            .other
            .iter()
            .find(|x| encode_key(&x.key).ok().as_ref() == Some(&pair[0].0));
        let key = key.map(|x| x.key.to_string()).unwrap_or_default();
        return Err(ContentError::DuplicateExtensionKey { key });
    }
    Ok(entries)
}

/// A kept value must be exactly one valid deterministic item, so that what
/// we write is deterministic too.
fn check_value(key: &ExtensionKey, value: &[u8]) -> Result<(), ContentError> {
    let end = cbor::walk_item(value, 0, 1, "mimiExtensions")?;
    if end != value.len() {
        return Err(ContentError::Malformed {
            field: "mimiExtensions",
            detail: format!("the value of extension {key} is not exactly one CBOR item"),
        });
    }
    if value.len() > 4095 {
        return Err(ContentError::ExtensionValueTooLarge {
            key: key.to_string(),
            len: value.len(),
        });
    }
    Ok(())
}

fn encode_key(key: &ExtensionKey) -> Result<Vec<u8>, ContentError> {
    let invalid = |detail: String| ContentError::InvalidExtensionKey { detail };
    let mut e = Encoder::new(Vec::new());
    let written = match key {
        ExtensionKey::Int(n) if n.unsigned_abs() <= cbor::MAX_SAFE_INT => e.i64(*n).map(|_| ()),
        ExtensionKey::Int(_) => {
            return Err(invalid("integer keys must lie within ±(2^53 - 1)".into()));
        }
        ExtensionKey::Text(t) if (1..=255).contains(&t.len()) => e.str(t).map(|_| ()),
        ExtensionKey::Text(t) => {
            return Err(invalid(format!(
                "text keys must be 1 to 255 octets, found {}",
                t.len()
            )));
        }
    };
    written.map_err(|err| ContentError::Encoder {
        field: "mimiExtensions",
        detail: err.to_string(),
    })?;
    Ok(e.into_writer())
}

fn encode_text(text: &str) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    // Writing to a Vec cannot fail; an empty value would be refused on decode.
    let _ = e.str(text);
    e.into_writer()
}

fn write_message(e: &mut Enc, c: &MimiContent, extensions: &[Entry]) -> EncResult {
    e.array(7)?.bytes(&c.salt)?;
    write_optional_id(e, c.replaces.as_ref())?;
    e.bytes(&c.topic_id)?;
    match c.expires {
        None => e.null()?,
        Some(Expiration::Relative(t)) => e.array(2)?.bool(true)?.u32(t)?,
        Some(Expiration::Absolute(t)) => e.array(2)?.bool(false)?.u32(t)?,
    };
    write_optional_id(e, c.in_reply_to.as_ref())?;
    e.map(extensions.len() as u64)?;
    for (key, value) in extensions {
        e.writer_mut().extend_from_slice(key);
        e.writer_mut().extend_from_slice(value);
    }
    write_part(e, &c.body)
}

fn write_optional_id(e: &mut Enc, id: Option<&MessageId>) -> EncResult {
    match id {
        None => e.null()?,
        Some(id) => e.bytes(&id.0)?,
    };
    Ok(())
}

fn write_part(e: &mut Enc, p: &NestedPart) -> EncResult {
    let len = match &p.part {
        Part::Null => 3,
        Part::Single { .. } | Part::Multi { .. } => 5,
        Part::External(_) => 15,
    };
    e.array(len)?.u8(p.disposition.0)?.str(&p.language)?;
    match &p.part {
        Part::Null => {
            e.u8(0)?;
        }
        Part::Single {
            content_type,
            content,
        } => {
            e.u8(1)?.str(content_type)?.bytes(content)?;
        }
        Part::External(x) => write_external(e, x)?,
        Part::Multi { semantics, parts } => {
            e.u8(3)?.u8(semantics.code())?.array(parts.len() as u64)?;
            parts.iter().try_for_each(|part| write_part(e, part))?;
        }
    }
    Ok(())
}

fn write_external(e: &mut Enc, x: &ExternalPart) -> EncResult {
    e.u8(2)?
        .str(&x.content_type)?
        .str(&x.url)?
        .u32(x.expires)?
        .u64(x.size)?;
    e.u16(x.enc_alg)?
        .bytes(&x.key)?
        .bytes(&x.nonce)?
        .bytes(&x.aad)?;
    e.u8(x.hash_alg)?
        .bytes(&x.content_hash)?
        .str(&x.description)?
        .str(&x.filename)?;
    Ok(())
}
