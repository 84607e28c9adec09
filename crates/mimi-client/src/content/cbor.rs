//! Strict reading of CBOR data items the draft leaves open (extension
//! values, `any` in §4.3): minicbor decodes values but does not say whether
//! a head was in its shortest form, so these are checked here byte by byte
//! against RFC 8949 §4.2.1 and the data model of draft-ietf-mimi-content-08
//! §6.2-6.3.

use super::ContentError;
use super::types::MAX_DRAFT_DEPTH;

/// §6.2: integer map keys must survive a round trip through a double.
pub(super) const MAX_SAFE_INT: u64 = (1 << 53) - 1;

/// A CBOR item's initial byte and argument.
#[derive(Debug, Clone, Copy)]
pub(super) struct Head {
    pub major: u8,
    pub arg: u64,
    /// Bytes the head occupies.
    pub len: usize,
}

/// Reads the head at `pos`; refuses indefinite lengths, reserved encodings
/// and arguments not in their shortest form.
pub(super) fn read_head(buf: &[u8], pos: usize, field: &'static str) -> Result<Head, ContentError> {
    let truncated = || ContentError::Malformed {
        field,
        detail: "truncated CBOR item".into(),
    };
    let first = *buf.get(pos).ok_or_else(truncated)?;
    let (major, info) = (first >> 5, first & 0x1f);
    let extra = match info {
        0..=23 => 0,
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 if major == 7 => {
            return Err(ContentError::Malformed {
                field,
                detail: "unexpected break".into(),
            });
        }
        31 => return Err(ContentError::Indefinite { field }),
        _ => {
            return Err(ContentError::Malformed {
                field,
                detail: format!("reserved additional information {info}"),
            });
        }
    };
    let arg_bytes = buf.get(pos + 1..pos + 1 + extra).ok_or_else(truncated)?;
    let arg = if extra == 0 {
        u64::from(info)
    } else {
        arg_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    if major == 7 {
        check_simple(info, arg, field)?;
    } else if extra != shortest_extra(arg) {
        return Err(ContentError::NotDeterministic { field });
    }
    Ok(Head {
        major,
        arg,
        len: 1 + extra,
    })
}

/// Major type 7: only false, true, null and undefined; floats are refused
/// (§6.2 strongly discourages them, and no field of ours carries one).
fn check_simple(info: u8, arg: u64, field: &'static str) -> Result<(), ContentError> {
    match info {
        20..=23 => Ok(()),
        24 if arg < 32 => Err(ContentError::NotDeterministic { field }),
        25..=27 => Err(ContentError::Unsupported {
            field,
            item: "a floating-point number",
        }),
        _ => Err(ContentError::Unsupported {
            field,
            item: "an unassigned simple value",
        }),
    }
}

fn shortest_extra(arg: u64) -> usize {
    match arg {
        0..=23 => 0,
        24..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

/// Checks the one data item at `pos` (at container depth `parent_level`:
/// the extensions map is level 1, §6.3) and returns where it ends.
pub(super) fn walk_item(
    buf: &[u8],
    pos: usize,
    parent_level: usize,
    field: &'static str,
) -> Result<usize, ContentError> {
    let head = read_head(buf, pos, field)?;
    let mut end = pos + head.len;
    match head.major {
        2 | 3 => end = string_end(buf, end, &head, field)?,
        4..=6 => {
            let level = parent_level + 1;
            if level > MAX_DRAFT_DEPTH {
                return Err(ContentError::TooDeep {
                    field,
                    max: MAX_DRAFT_DEPTH,
                });
            }
            end = match head.major {
                4 => (0..head.arg).try_fold(end, |at, _| walk_item(buf, at, level, field))?,
                5 => walk_map_entries(buf, end, head.arg, level, field)?,
                _ => walk_item(buf, end, level, field)?,
            };
        }
        // Integers and simple values (0, 1, 7): the head is the whole item.
        _ => {}
    }
    Ok(end)
}

/// The end of a byte or text string whose head ends at `at`; text must be
/// UTF-8 (§6.2).
pub(super) fn string_end(
    buf: &[u8],
    at: usize,
    head: &Head,
    field: &'static str,
) -> Result<usize, ContentError> {
    let len = usize::try_from(head.arg).map_err(|_| ContentError::Malformed {
        field,
        detail: "string length overflows".into(),
    })?;
    let end = at
        .checked_add(len)
        .filter(|end| *end <= buf.len())
        .ok_or_else(|| ContentError::Malformed {
            field,
            detail: "truncated CBOR string".into(),
        })?;
    if head.major == 3 && std::str::from_utf8(&buf[at..end]).is_err() {
        return Err(ContentError::Malformed {
            field,
            detail: "text string is not UTF-8".into(),
        });
    }
    Ok(end)
}

/// A nested map: keys only integers, text or byte strings (§6.2), in
/// strictly increasing bytewise order of their encodings (RFC 8949 §4.2.1,
/// which also rules out duplicates).
fn walk_map_entries(
    buf: &[u8],
    mut at: usize,
    count: u64,
    level: usize,
    field: &'static str,
) -> Result<usize, ContentError> {
    let mut previous: Option<&[u8]> = None;
    for _ in 0..count {
        let key_head = read_head(buf, at, field)?;
        let key_end = match key_head.major {
            0 | 1 if key_head.arg <= MAX_SAFE_INT => at + key_head.len,
            0 | 1 => {
                return Err(ContentError::Unsupported {
                    field,
                    item: "a map key beyond ±(2^53 - 1)",
                });
            }
            2 | 3 => string_end(buf, at + key_head.len, &key_head, field)?,
            _ => {
                return Err(ContentError::Unsupported {
                    field,
                    item: "a map key that is not an integer or string",
                });
            }
        };
        let key = &buf[at..key_end];
        if previous.is_some_and(|p| p >= key) {
            return Err(ContentError::NotDeterministic { field });
        }
        previous = Some(key);
        at = walk_item(buf, key_end, level, field)?;
    }
    Ok(at)
}
