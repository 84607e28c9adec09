//! Percent-encoding (RFC 3986 §2.1) that remembers where each decoded byte
//! came from, so that errors found after decoding point into the original input.

use crate::error::{ParseError, Part, Reason};

/// Percent-decoded text and, for each byte of it, its offset in the input.
#[derive(Debug)]
pub(crate) struct Decoded {
    text: String,
    origin: Vec<usize>,
    input_len: usize,
}

impl Decoded {
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Where byte `i` of the decoded text came from in the input.
    pub(crate) fn origin(&self, i: usize) -> usize {
        self.origin.get(i).copied().unwrap_or(self.input_len)
    }

    /// Moves an error found in the decoded text to input coordinates.
    pub(crate) fn map_error(&self, e: ParseError) -> ParseError {
        e.map_offset(|o| self.origin(o))
    }
}

/// Decodes `%XX` escapes; `part` names the input in errors.
pub(crate) fn decode(input: &str, part: Part) -> Result<Decoded, ParseError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut origin = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                return Err(ParseError::new(part, i, Reason::BadPercentEncoding));
            };
            out.push((hi * 16 + lo) as u8);
            origin.push(i);
            i += 3;
        } else {
            out.push(bytes[i]);
            origin.push(i);
            i += 1;
        }
    }
    let text = String::from_utf8(out).map_err(|e| {
        let at = origin[e.utf8_error().valid_up_to()];
        ParseError::new(part, at, Reason::NotUtf8)
    })?;
    Ok(Decoded {
        text,
        origin,
        input_len: input.len(),
    })
}

/// Appends `s`, percent-encoding every byte for which `keep` is false.
pub(crate) fn encode_into(out: &mut String, s: &str, keep: impl Fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}
