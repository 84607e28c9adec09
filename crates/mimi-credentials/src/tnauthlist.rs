//! The TNAuthList certificate extension (RFC 8226 §9, OID 1.3.6.1.5.5.7.1.26):
//! which telephone numbers a certificate speaks for, and the delegation rule of
//! RFC 9060 (a certificate's list must lie within its issuer's).
//!
//! ```text
//! TNAuthorizationList ::= SEQUENCE SIZE (1..MAX) OF TNEntry
//! TNEntry ::= CHOICE {
//!   spc   [0] ServiceProviderCode,
//!   range [1] TelephoneNumberRange,
//!   one   [2] TelephoneNumber }
//! ServiceProviderCode ::= IA5String
//! TelephoneNumberRange ::= SEQUENCE { start TelephoneNumber, count INTEGER (2..MAX), ... }
//! TelephoneNumber ::= IA5String (SIZE (1..15)) (FROM ("0123456789#*"))
//! ```
//!
//! The module is `DEFINITIONS EXPLICIT TAGS`, so the context tags wrap their
//! content.

use der::asn1::{ContextSpecific, Ia5String};
use der::{Decode, Encode, Sequence, TagMode, TagNumber};
use mimi_identifiers::PhoneNumber;

/// Longest telephone number (RFC 8226: `SIZE (1..15)`).
pub const MAX_TN_LEN: usize = 15;
/// Most entries we accept in one list (a bound on work, not a protocol limit).
pub const MAX_ENTRIES: usize = 64;

/// A telephone number as TNAuthList carries it: 1 to 15 of `0123456789#*`,
/// no `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TelephoneNumber(String);

impl TelephoneNumber {
    pub fn new(s: &str) -> Result<Self, TnAuthListError> {
        if s.is_empty() || s.len() > MAX_TN_LEN {
            return Err(TnAuthListError::BadNumber(s.chars().take(32).collect()));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'#' || b == b'*')
        {
            return Err(TnAuthListError::BadNumber(s.chars().take(32).collect()));
        }
        Ok(TelephoneNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number's value, when it is all digits (ranges only apply then).
    fn value(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl From<&PhoneNumber> for TelephoneNumber {
    fn from(p: &PhoneNumber) -> Self {
        // An E.164 number is at most 15 digits: always a valid TelephoneNumber.
        TelephoneNumber(p.digits().to_owned())
    }
}

/// One entry of a TNAuthList.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TnEntry {
    /// A service provider code (`spc`).
    ServiceProviderCode(String),
    /// `count` consecutive numbers from `start` (of the same length).
    Range { start: TelephoneNumber, count: u64 },
    /// One number.
    One(TelephoneNumber),
}

impl TnEntry {
    /// Whether every number this entry speaks for is also covered by `outer`.
    fn within(&self, outer: &TnEntry) -> bool {
        match (self, outer) {
            (TnEntry::ServiceProviderCode(a), TnEntry::ServiceProviderCode(b)) => a == b,
            (TnEntry::One(n), TnEntry::One(m)) => n == m,
            (TnEntry::One(n), TnEntry::Range { start, count }) => {
                range_contains(start, *count, n, 1)
            }
            (TnEntry::Range { start: s, count: c }, TnEntry::Range { start, count }) => {
                range_contains(start, *count, s, *c)
            }
            _ => false,
        }
    }
}

/// Whether `[inner, inner + inner_count)` lies within `[start, start + count)`,
/// for numbers of the same length.
fn range_contains(
    start: &TelephoneNumber,
    count: u64,
    inner: &TelephoneNumber,
    inner_count: u64,
) -> bool {
    if start.0.len() != inner.0.len() {
        return false;
    }
    let (Some(s), Some(i)) = (start.value(), inner.value()) else {
        return false;
    };
    let (Some(end), Some(inner_end)) = (s.checked_add(count), i.checked_add(inner_count)) else {
        return false;
    };
    s <= i && inner_end <= end
}

/// A TNAuthList: at least one entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TnAuthList(Vec<TnEntry>);

impl TnAuthList {
    pub fn new(entries: Vec<TnEntry>) -> Result<Self, TnAuthListError> {
        if entries.is_empty() {
            return Err(TnAuthListError::Empty);
        }
        if entries.len() > MAX_ENTRIES {
            return Err(TnAuthListError::TooManyEntries(entries.len()));
        }
        for e in &entries {
            if let TnEntry::Range { start, count } = e {
                if *count < 2 {
                    return Err(TnAuthListError::BadRange);
                }
                // A range must stay within numbers of its start's length.
                if !range_contains(start, *count, start, *count) {
                    return Err(TnAuthListError::BadRange);
                }
                let max = 10u64.pow(start.0.len() as u32);
                if start.value().is_none_or(|v| v + count > max) {
                    return Err(TnAuthListError::BadRange);
                }
            }
        }
        Ok(TnAuthList(entries))
    }

    /// A list with one phone number.
    pub fn one(number: &PhoneNumber) -> Self {
        TnAuthList(vec![TnEntry::One(number.into())])
    }

    pub fn entries(&self) -> &[TnEntry] {
        &self.0
    }

    /// The single numbers listed (`one` entries), as E.164 digit strings.
    pub fn numbers(&self) -> impl Iterator<Item = &TelephoneNumber> {
        self.0.iter().filter_map(|e| match e {
            TnEntry::One(n) => Some(n),
            _ => None,
        })
    }

    /// RFC 9060 delegation: every entry of `self` lies within some entry of `issuer`.
    pub fn is_within(&self, issuer: &TnAuthList) -> bool {
        self.0
            .iter()
            .all(|e| issuer.0.iter().any(|outer| e.within(outer)))
    }

    /// DER encoding of the extension value.
    pub fn to_der(&self) -> Vec<u8> {
        let entries: Vec<RawEntry> = self.0.iter().map(RawEntry::from).collect();
        entries
            .to_der()
            .expect("TNAuthList entries are validated and small")
    }

    /// Decodes the extension value.
    pub fn from_der(bytes: &[u8]) -> Result<Self, TnAuthListError> {
        let raw = Vec::<RawEntry>::from_der(bytes).map_err(|_| TnAuthListError::Malformed)?;
        let entries = raw
            .into_iter()
            .map(TnEntry::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        TnAuthList::new(entries)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TnAuthListError {
    #[error("a TNAuthList needs at least one entry")]
    Empty,
    #[error("a TNAuthList with {0} entries is longer than we accept ({MAX_ENTRIES})")]
    TooManyEntries(usize),
    #[error("{0:?} is not a TelephoneNumber (1 to 15 of 0123456789#*, no '+')")]
    BadNumber(String),
    #[error(
        "a telephone number range needs a count of at least 2 and must not overflow its length"
    )]
    BadRange,
    #[error("the TNAuthList extension is not valid DER of RFC 8226's ASN.1")]
    Malformed,
}

// --- DER mapping ---------------------------------------------------------------

#[derive(Sequence)]
struct RawRange {
    start: Ia5String,
    count: u64,
}

/// `TNEntry` with its EXPLICIT context tags.
enum RawEntry {
    Spc(ContextSpecific<Ia5String>),
    Range(ContextSpecific<RawRange>),
    One(ContextSpecific<Ia5String>),
}

fn explicit<T>(number: u8, value: T) -> ContextSpecific<T> {
    ContextSpecific {
        tag_number: TagNumber::new(number),
        tag_mode: TagMode::Explicit,
        value,
    }
}

fn ia5(s: &str) -> Ia5String {
    Ia5String::new(s).expect("validated ASCII")
}

impl From<&TnEntry> for RawEntry {
    fn from(e: &TnEntry) -> Self {
        match e {
            TnEntry::ServiceProviderCode(s) => RawEntry::Spc(explicit(0, ia5(s))),
            TnEntry::Range { start, count } => RawEntry::Range(explicit(
                1,
                RawRange {
                    start: ia5(&start.0),
                    count: *count,
                },
            )),
            TnEntry::One(n) => RawEntry::One(explicit(2, ia5(&n.0))),
        }
    }
}

impl TryFrom<RawEntry> for TnEntry {
    type Error = TnAuthListError;
    fn try_from(raw: RawEntry) -> Result<Self, Self::Error> {
        Ok(match raw {
            RawEntry::Spc(c) => {
                let s = c.value.to_string();
                if s.is_empty() || s.len() > 64 {
                    return Err(TnAuthListError::Malformed);
                }
                TnEntry::ServiceProviderCode(s)
            }
            RawEntry::Range(c) => TnEntry::Range {
                start: TelephoneNumber::new(c.value.start.as_str())?,
                count: c.value.count,
            },
            RawEntry::One(c) => TnEntry::One(TelephoneNumber::new(c.value.as_str())?),
        })
    }
}

impl der::EncodeValue for RawEntry {
    fn value_len(&self) -> der::Result<der::Length> {
        match self {
            RawEntry::Spc(c) | RawEntry::One(c) => c.value_len(),
            RawEntry::Range(c) => c.value_len(),
        }
    }
    fn encode_value(&self, w: &mut impl der::Writer) -> der::Result<()> {
        match self {
            RawEntry::Spc(c) | RawEntry::One(c) => c.encode_value(w),
            RawEntry::Range(c) => c.encode_value(w),
        }
    }
}

impl der::Tagged for RawEntry {
    fn tag(&self) -> der::Tag {
        match self {
            RawEntry::Spc(c) | RawEntry::One(c) => c.tag(),
            RawEntry::Range(c) => c.tag(),
        }
    }
}

impl<'a> der::Decode<'a> for RawEntry {
    fn decode<R: der::Reader<'a>>(r: &mut R) -> der::Result<Self> {
        let tag = r.peek_tag()?;
        match tag {
            der::Tag::ContextSpecific {
                constructed: true,
                number,
            } => match number.value() {
                0 => Ok(RawEntry::Spc(ContextSpecific::decode(r)?)),
                1 => Ok(RawEntry::Range(ContextSpecific::decode(r)?)),
                2 => Ok(RawEntry::One(ContextSpecific::decode(r)?)),
                _ => Err(tag.unexpected_error(None)),
            },
            _ => Err(tag.unexpected_error(None)),
        }
    }
}
