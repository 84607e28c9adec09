//! The two time formats ACME uses: RFC 3339 in JSON objects (RFC 8555
//! §7.1) and HTTP dates or seconds in Retry-After (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// Longest Retry-After honoured: a server asking for more is treated as
/// asking for this, so that a client never sleeps for days on one word.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses an RFC 3339 timestamp.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok().map(Into::into)
}

/// Formats `t` as RFC 3339 in UTC.
pub fn format_rfc3339(t: SystemTime) -> Option<String> {
    OffsetDateTime::from(t).format(&Rfc3339).ok()
}

/// A Retry-After value as a delay from `now`: delay-seconds, or an
/// HTTP-date (IMF-fixdate, which RFC 2822 parsing reads). A date in the
/// past is no delay; delays are capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Longer than u64 seconds is "very long", not an error.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at: SystemTime = OffsetDateTime::parse(value, &Rfc2822).ok()?.into();
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}
