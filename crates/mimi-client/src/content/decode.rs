//! Decoding of `mimiContent` (draft-ietf-mimi-content-08 §4, Appendix A.1).
//! The fields are read with minicbor; the result is then encoded again and
//! must equal the input, which refuses every non-deterministic encoding
//! (§6.1) of the fields we parse without checking each head by hand.

use minicbor::Decoder;
use minicbor::data::Type;

use super::cbor::{self, MAX_SAFE_INT};
use super::types::MAX_DRAFT_DEPTH;
use super::{
    ContentError, Expiration, Extension, ExtensionKey, Extensions, ExternalPart, Limits, MessageId,
    MimiContent, NestedPart, Part, PartSemantics, SALT_LEN,
};

/// `value = any .size (0..4095)` (§4.3), read as the encoded size.
const MAX_EXTENSION_VALUE: usize = 4095;
/// `name = ... tstr .size (1..255)` (§4.3).
const MAX_EXTENSION_TEXT_KEY: usize = 255;

pub(super) fn decode(bytes: &[u8], limits: &Limits) -> Result<MimiContent, ContentError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(ContentError::TooLarge {
            len: bytes.len(),
            max: limits.max_message_bytes,
        });
    }
    let mut d = Decoder::new(bytes);
    expect_array(&mut d, "mimiContent", 7)?;
    let salt = salt(&mut d)?;
    let replaces = optional_message_id(&mut d, "replaces")?;
    let topic_id = byte_string(&mut d, "topicId")?.to_vec();
    let expires = expiration(&mut d)?;
    let in_reply_to = optional_message_id(&mut d, "inReplyTo")?;
    let extensions = extensions(&mut d)?;
    let mut parts = PartBudget { limits, seen: 0 };
    let body = nested_part(&mut d, 1, &mut parts)?;
    if d.position() != bytes.len() {
        return Err(ContentError::TrailingBytes {
            count: bytes.len() - d.position(),
        });
    }
    let content = MimiContent {
        salt,
        replaces,
        topic_id,
        expires,
        in_reply_to,
        extensions,
        body,
    };
    if content.encode()? != bytes {
        return Err(ContentError::NotDeterministic {
            field: "mimiContent",
        });
    }
    Ok(content)
}

fn malformed(field: &'static str) -> impl Fn(minicbor::decode::Error) -> ContentError {
    move |e| ContentError::Malformed {
        field,
        detail: e.to_string(),
    }
}

fn expect_array(
    d: &mut Decoder<'_>,
    field: &'static str,
    expected: u64,
) -> Result<(), ContentError> {
    let found = array_len(d, field)?;
    if found != expected {
        return Err(ContentError::ArrayLength {
            field,
            expected,
            found,
        });
    }
    Ok(())
}

fn array_len(d: &mut Decoder<'_>, field: &'static str) -> Result<u64, ContentError> {
    d.array()
        .map_err(malformed(field))?
        .ok_or(ContentError::Indefinite { field })
}

fn byte_string<'b>(d: &mut Decoder<'b>, field: &'static str) -> Result<&'b [u8], ContentError> {
    if d.datatype().map_err(malformed(field))? == Type::BytesIndef {
        return Err(ContentError::Indefinite { field });
    }
    d.bytes().map_err(malformed(field))
}

fn text<'b>(d: &mut Decoder<'b>, field: &'static str) -> Result<&'b str, ContentError> {
    if d.datatype().map_err(malformed(field))? == Type::StringIndef {
        return Err(ContentError::Indefinite { field });
    }
    d.str().map_err(malformed(field))
}

fn bounded_uint(d: &mut Decoder<'_>, field: &'static str, max: u64) -> Result<u64, ContentError> {
    let value = d.u64().map_err(malformed(field))?;
    if value > max {
        return Err(ContentError::OutOfRange { field, value, max });
    }
    Ok(value)
}

fn is_null(d: &mut Decoder<'_>, field: &'static str) -> Result<bool, ContentError> {
    if d.datatype().map_err(malformed(field))? == Type::Null {
        d.null().map_err(malformed(field))?;
        return Ok(true);
    }
    Ok(false)
}

fn salt(d: &mut Decoder<'_>) -> Result<[u8; SALT_LEN], ContentError> {
    let bytes = byte_string(d, "salt")?;
    bytes.try_into().map_err(|_| ContentError::Size {
        field: "salt",
        expected: SALT_LEN,
        found: bytes.len(),
    })
}

fn optional_message_id(
    d: &mut Decoder<'_>,
    field: &'static str,
) -> Result<Option<MessageId>, ContentError> {
    if is_null(d, field)? {
        return Ok(None);
    }
    let bytes = byte_string(d, field)?;
    let id = bytes.try_into().map_err(|_| ContentError::Size {
        field,
        expected: 32,
        found: bytes.len(),
    })?;
    Ok(Some(MessageId(id)))
}

fn expiration(d: &mut Decoder<'_>) -> Result<Option<Expiration>, ContentError> {
    if is_null(d, "expires")? {
        return Ok(None);
    }
    expect_array(d, "expires", 2)?;
    let relative = d.bool().map_err(malformed("expires.relative"))?;
    let time = bounded_uint(d, "expires.time", u64::from(u32::MAX))?;
    let time = u32::try_from(time).unwrap_or(u32::MAX);
    Ok(Some(if relative {
        Expiration::Relative(time)
    } else {
        Expiration::Absolute(time)
    }))
}

/// The extensions map (§4.3), checked entry by entry on the raw bytes (its
/// values are arbitrary CBOR that we keep verbatim).
fn extensions(d: &mut Decoder<'_>) -> Result<Extensions, ContentError> {
    const FIELD: &str = "mimiExtensions";
    let buf = d.input();
    let head = cbor::read_head(buf, d.position(), FIELD)?;
    if head.major != 5 {
        return Err(ContentError::Malformed {
            field: FIELD,
            detail: "expected a map".into(),
        });
    }
    let mut at = d.position() + head.len;
    let mut out = Extensions::default();
    let mut previous: Option<&[u8]> = None;
    for _ in 0..head.arg {
        let (key, key_end) = extension_key(buf, at)?;
        let key_bytes = &buf[at..key_end];
        check_key_order(previous, key_bytes, &key)?;
        previous = Some(key_bytes);
        let value_end = cbor::walk_item(buf, key_end, 1, FIELD)?;
        let value = &buf[key_end..value_end];
        if value.len() > MAX_EXTENSION_VALUE {
            return Err(ContentError::ExtensionValueTooLarge {
                key: key.to_string(),
                len: value.len(),
            });
        }
        keep_extension(&mut out, key, value)?;
        at = value_end;
    }
    d.set_position(at);
    Ok(out)
}

fn check_key_order(
    previous: Option<&[u8]>,
    key_bytes: &[u8],
    key: &ExtensionKey,
) -> Result<(), ContentError> {
    match previous {
        Some(p) if p == key_bytes => Err(ContentError::DuplicateExtensionKey {
            key: key.to_string(),
        }),
        Some(p) if p > key_bytes => Err(ContentError::NotDeterministic {
            field: "mimiExtensions",
        }),
        _ => Ok(()),
    }
}

/// One key: an integer within ±(2^53 − 1) (§6.2) or 1 to 255 octets of text.
fn extension_key(buf: &[u8], at: usize) -> Result<(ExtensionKey, usize), ContentError> {
    let head = cbor::read_head(buf, at, "mimiExtensions key")?;
    let key_start = at + head.len;
    let out_of_range = || ContentError::InvalidExtensionKey {
        detail: "integer keys must lie within ±(2^53 - 1)".into(),
    };
    match head.major {
        0 => {
            let n = i64::try_from(head.arg)
                .ok()
                .filter(|_| head.arg <= MAX_SAFE_INT);
            Ok((ExtensionKey::Int(n.ok_or_else(out_of_range)?), key_start))
        }
        1 => {
            let n = i64::try_from(head.arg)
                .ok()
                .filter(|_| head.arg < MAX_SAFE_INT);
            Ok((
                ExtensionKey::Int(-1 - n.ok_or_else(out_of_range)?),
                key_start,
            ))
        }
        3 => {
            let end = cbor::string_end(buf, key_start, &head, "mimiExtensions key")?;
            let text = std::str::from_utf8(&buf[key_start..end]).unwrap_or_default();
            if text.is_empty() || text.len() > MAX_EXTENSION_TEXT_KEY {
                return Err(ContentError::InvalidExtensionKey {
                    detail: format!("text keys must be 1 to 255 octets, found {}", text.len()),
                });
            }
            Ok((ExtensionKey::Text(text.to_owned()), end))
        }
        _ => Err(ContentError::InvalidExtensionKey {
            detail: "keys must be integers or text strings".into(),
        }),
    }
}

/// Keys 1 and 2 are registered as text (§8.2.1); everything else is kept.
fn keep_extension(
    out: &mut Extensions,
    key: ExtensionKey,
    value: &[u8],
) -> Result<(), ContentError> {
    match key {
        ExtensionKey::Int(1) => out.sender_uri = Some(registered_uri(value, "senderUri")?),
        ExtensionKey::Int(2) => out.room_uri = Some(registered_uri(value, "roomUri")?),
        key => out.other.push(Extension {
            key,
            value: value.to_vec(),
        }),
    }
    Ok(())
}

fn registered_uri(value: &[u8], field: &'static str) -> Result<String, ContentError> {
    text(&mut Decoder::new(value), field).map(str::to_owned)
}

/// Counts parts across the whole body against [`Limits::max_parts`].
struct PartBudget<'l> {
    limits: &'l Limits,
    seen: usize,
}

fn nested_part(
    d: &mut Decoder<'_>,
    depth: usize,
    budget: &mut PartBudget<'_>,
) -> Result<NestedPart, ContentError> {
    let max_depth = budget.limits.max_depth.min(MAX_DRAFT_DEPTH);
    if depth > max_depth {
        return Err(ContentError::TooDeep {
            field: "nestedPart",
            max: max_depth,
        });
    }
    budget.seen += 1;
    if budget.seen > budget.limits.max_parts {
        return Err(ContentError::TooManyParts {
            max: budget.limits.max_parts,
        });
    }
    let len = array_len(d, "nestedPart")?;
    let disposition = bounded_uint(d, "disposition", u64::from(u8::MAX))?;
    let disposition = super::Disposition(u8::try_from(disposition).unwrap_or(u8::MAX));
    let language = text(d, "language")?.to_owned();
    let cardinality = d.u64().map_err(malformed("cardinality"))?;
    let expected = match cardinality {
        0 => 3,
        1 | 3 => 5,
        2 => 15,
        found => return Err(ContentError::UnknownCardinality { found }),
    };
    if len != expected {
        return Err(ContentError::ArrayLength {
            field: "nestedPart",
            expected,
            found: len,
        });
    }
    let part = match cardinality {
        0 => Part::Null,
        1 => Part::Single {
            content_type: text(d, "contentType")?.to_owned(),
            content: byte_string(d, "content")?.to_vec(),
        },
        2 => Part::External(Box::new(external_part(d)?)),
        _ => multi_part(d, depth, budget)?,
    };
    Ok(NestedPart {
        disposition,
        language,
        part,
    })
}

fn external_part(d: &mut Decoder<'_>) -> Result<ExternalPart, ContentError> {
    Ok(ExternalPart {
        content_type: text(d, "contentType")?.to_owned(),
        url: text(d, "url")?.to_owned(),
        expires: u32::try_from(bounded_uint(d, "expires", u64::from(u32::MAX))?)
            .unwrap_or(u32::MAX),
        size: d.u64().map_err(malformed("size"))?,
        enc_alg: u16::try_from(bounded_uint(d, "encAlg", u64::from(u16::MAX))?).unwrap_or(u16::MAX),
        key: byte_string(d, "key")?.to_vec(),
        nonce: byte_string(d, "nonce")?.to_vec(),
        aad: byte_string(d, "aad")?.to_vec(),
        hash_alg: u8::try_from(bounded_uint(d, "hashAlg", u64::from(u8::MAX))?).unwrap_or(u8::MAX),
        content_hash: byte_string(d, "contentHash")?.to_vec(),
        description: text(d, "description")?.to_owned(),
        filename: text(d, "filename")?.to_owned(),
    })
}

fn multi_part(
    d: &mut Decoder<'_>,
    depth: usize,
    budget: &mut PartBudget<'_>,
) -> Result<Part, ContentError> {
    let code = d.u64().map_err(malformed("partSemantics"))?;
    let semantics =
        PartSemantics::from_code(code).ok_or(ContentError::UnknownPartSemantics { found: code })?;
    let count = array_len(d, "parts")?;
    if count < 2 {
        return Err(ContentError::TooFewParts {
            found: usize::try_from(count).unwrap_or(0),
        });
    }
    let parts = (0..count)
        .map(|_| nested_part(d, depth + 1, budget))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Part::Multi { semantics, parts })
}
