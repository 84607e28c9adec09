//! Decoding of the provider's request and response structures, field by field.
//!
//! tls_codec's derives can only say "malformed" or "truncated" about a whole
//! structure. The provider's structures have bounds and enumerations whose
//! violations a peer should be told precisely ("more than 5000 recipients", "an
//! unknown operation 9"), so they are read here, one field at a time, each failure
//! naming its field. The wire rules are those of RFC 9420 §2.1.2, as in the rest of
//! the crate: big-endian integers, `opaque <V>` with a minimal QUIC varint length of
//! at most 2^30 - 1. Reading never allocates more than the input it has seen.

use tls_codec::VLBytes;

use crate::error::WireError;

/// Largest vector length RFC 9420 allows (§2.1.2: lengths are at most 30 bits).
const MAX_VECTOR_LEN: u64 = (1 << 30) - 1;

/// A cursor over the bytes of one structure (or of one vector's content).
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    /// The structure being read, for error messages.
    what: &'static str,
    /// The vector field whose content this reader walks, if it walks one: running
    /// out of bytes there means an element overran its vector, not that the input
    /// was cut short.
    element_of: Option<&'static str>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            rest: bytes,
            what,
            element_of: None,
        }
    }

    fn end_of_input(&self) -> WireError {
        match self.element_of {
            None => WireError::Truncated { what: self.what },
            Some(field) => WireError::Malformed {
                what: self.what,
                detail: format!("the last element of {field} runs past the end of its vector"),
            },
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(self.end_of_input());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// The length prefix of a `<V>` vector: a QUIC varint (RFC 9000 §16) in its
    /// shortest form, at most 2^30 - 1 (so the 8-byte form `11` never occurs).
    fn vector_len(&mut self, field: &'static str) -> Result<usize, WireError> {
        let first = self.u8()?;
        let size = 1usize << (first >> 6);
        let mut value = u64::from(first & 0x3f);
        for &b in self.take(size - 1)? {
            value = (value << 8) | u64::from(b);
        }
        let shortest = match value {
            0..=0x3f => 1,
            0x40..=0x3fff => 2,
            _ => 4,
        };
        if size != shortest || value > MAX_VECTOR_LEN {
            return Err(WireError::Malformed {
                what: self.what,
                detail: format!(
                    "the length of {field} is not a minimally encoded varint of at most 2^30 - 1"
                ),
            });
        }
        // At most 2^30 - 1: fits every usize we build for.
        Ok(usize::try_from(value).unwrap_or(usize::MAX))
    }

    /// The content of a `<V>` vector, borrowed, with its byte length checked
    /// against `max` (before the content is read, so an oversized length is
    /// reported as too long even when the input is cut short).
    pub(crate) fn vector(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], WireError> {
        let len = self.vector_len(field)?;
        if len > max {
            return Err(WireError::FieldTooLong { field, len, max });
        }
        self.take(len)
    }

    /// `opaque field<V>` of `min_len` (0 or 1) to `max` bytes.
    pub(crate) fn opaque(
        &mut self,
        field: &'static str,
        min_len: usize,
        max: usize,
    ) -> Result<VLBytes, WireError> {
        let bytes = self.vector(field, max)?;
        if bytes.len() < min_len {
            return Err(WireError::EmptyField { field });
        }
        Ok(VLBytes::new(bytes.to_vec()))
    }

    /// A `<V>` vector of elements, each read by `read` from the vector's content:
    /// at most `max_len` bytes in all and at most `max_count` elements (refused as
    /// soon as one more begins, so a flood of tiny elements allocates nothing
    /// beyond the bound).
    pub(crate) fn list<T>(
        &mut self,
        field: &'static str,
        max_count: usize,
        max_len: usize,
        mut read: impl FnMut(&mut Reader<'a>) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let content = self.vector(field, max_len)?;
        let mut inner = Reader {
            rest: content,
            what: self.what,
            element_of: Some(field),
        };
        let mut out = Vec::new();
        while !inner.rest.is_empty() {
            if out.len() == max_count {
                return Err(WireError::TooMany {
                    field,
                    max: max_count,
                });
            }
            out.push(read(&mut inner)?);
        }
        Ok(out)
    }

    /// Nothing may follow the structure.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if !self.rest.is_empty() {
            return Err(WireError::TrailingBytes {
                what: self.what,
                extra: self.rest.len(),
            });
        }
        Ok(())
    }
}

/// Decodes exactly one structure from at most `max_len` bytes with `read`.
pub(crate) fn decode_with<'a, T>(
    bytes: &'a [u8],
    max_len: usize,
    what: &'static str,
    read: impl FnOnce(&mut Reader<'a>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    if bytes.len() > max_len {
        return Err(WireError::TooLong {
            what,
            len: bytes.len(),
            max: max_len,
        });
    }
    let mut r = Reader::new(bytes, what);
    let value = read(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Serializes `value` and checks the result with its own decoder: nothing is sent
/// that a receiver built to the same spec would refuse
/// ([`WireError::Unencodable`], naming the decoder's objection).
pub(crate) fn encode_checked<T: tls_codec::Serialize, U>(
    value: &T,
    what: &'static str,
    decode: impl FnOnce(&[u8]) -> Result<U, WireError>,
) -> Result<Vec<u8>, WireError> {
    let bytes = encode(value, what)?;
    decode(&bytes).map_err(|reason| WireError::Unencodable {
        what,
        reason: Box::new(reason),
    })?;
    Ok(bytes)
}

/// Serializes with tls_codec, naming `what` in the error.
pub(crate) fn encode<T: tls_codec::Serialize>(
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, WireError> {
    value
        .tls_serialize_detached()
        .map_err(|e| WireError::encoding(what, e))
}

/// Checks `len` of `field` against `min_len..=max` (for a structure whose encoded
/// size is bounded as a whole).
pub(crate) fn check_field_len(
    field: &'static str,
    len: usize,
    min_len: usize,
    max: usize,
) -> Result<(), WireError> {
    if len > max {
        return Err(WireError::FieldTooLong { field, len, max });
    }
    if len < min_len {
        return Err(WireError::EmptyField { field });
    }
    Ok(())
}
