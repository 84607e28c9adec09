//! The JSON objects of RFC 8555 §7.1, as this server reads and writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    pub revoke_cert: String,
    pub key_change: String,
    pub renewal_info: String,
    /// A domain CA's registrar resource (docs/enrollment.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimi_new_eab: Option<String>,
    pub meta: DirectoryMeta,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub external_account_required: bool,
    /// draft-ietf-acme-profiles: profile name → description.
    pub profiles: BTreeMap<String, String>,
}

/// The identifier type of domain names (RFC 8555 §9.7.7).
pub const DNS: &str = "dns";
/// The identifier type of telephone numbers (RFC 9448 §3): the value is the
/// base64url DER of an RFC 8226 TNAuthList.
pub const TN_AUTH_LIST: &str = "TNAuthList";
/// A user URI of draft-mahy-mimi-identity (`mimi://<domain>/u/<user>`), at a
/// domain CA (docs/enrollment.md).
pub const MIMI_USER: &str = "mimi-user";
/// A device URI of draft-mahy-mimi-identity
/// (`mimi://<domain>/d/<user>/<device>`), at a domain CA.
pub const MIMI_DEVICE: &str = "mimi-device";
/// The challenge type of RFC 8555 §8.3.
pub const HTTP_01: &str = "http-01";
/// The challenge type of draft-peterson-mimi-idprover §4 (docs/sms-link-00.md).
pub const SMS_LINK_00: &str = "sms-link-00";

/// An identifier of RFC 8555 §9.7.7 (`dns`), RFC 9448 (`TNAuthList`) or
/// docs/enrollment.md (`mimi-user`, `mimi-device`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Deactivated,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Processing => "processing",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Deactivated => "deactivated",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "ready" => Status::Ready,
            "processing" => Status::Processing,
            "valid" => Status::Valid,
            "invalid" => Status::Invalid,
            "deactivated" => Status::Deactivated,
            "revoked" => Status::Revoked,
            "expired" => Status::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountObject {
    pub status: Status,
    pub contact: Vec<String>,
    pub orders: String,
    /// The binding the account was created with, as sent (RFC 8555 §7.1.2:
    /// part of the account object, not updatable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderObject {
    pub status: Status,
    pub expires: String,
    pub identifiers: Vec<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub authorizations: Vec<String>,
    pub finalize: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// ARI (RFC 9773 §5): echoed from newOrder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationObject {
    pub identifier: Identifier,
    pub status: Status,
    pub expires: String,
    pub challenges: Vec<ChallengeObject>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeObject {
    #[serde(rename = "type")]
    pub type_: String,
    pub url: String,
    pub status: Status,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

// The request payloads below ignore members they do not know: RFC 8555 §7.3
// says the server MUST ignore fields it does not recognize, so that clients
// can detect unsupported extensions (they are not reflected back).

/// The payload of newAccount (RFC 8555 §7.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    #[serde(default)]
    pub contact: Vec<String>,
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    pub only_return_existing: Option<bool>,
    #[serde(default)]
    pub external_account_binding: Option<serde_json::Value>,
}

/// The payload of newOrder (RFC 8555 §7.4, draft-ietf-acme-profiles).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    pub not_before: Option<String>,
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// ARI (RFC 9773): the certificate this order replaces.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// A POST to the account URL (RFC 8555 §7.3.2, §7.3.6): new contacts, or
/// `"status": "deactivated"`. Other account fields (`orders`,
/// `termsOfServiceAgreed`, `externalAccountBinding`) are not updatable and
/// are ignored, as clients echo the account object back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    #[serde(default)]
    pub status: Option<String>,
}

/// The payload of revokeCert (RFC 8555 §7.6).
#[derive(Debug, Clone, Deserialize)]
pub struct RevokeCert {
    /// base64url of the certificate's DER.
    pub certificate: String,
    /// An RFC 5280 CRLReason code; unspecified (0) if absent.
    #[serde(default)]
    pub reason: Option<i64>,
}

/// The payload of the inner JWS of a key rollover (RFC 8555 §7.3.5).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    pub account: String,
    pub old_key: serde_json::Value,
}

/// A renewal information object (RFC 9773 §4.2).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    pub suggested_window: SuggestedWindow,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuggestedWindow {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
}

/// What a client POSTs to a challenge URL (RFC 8555 §7.5.1), other than
/// POST-as-GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// `{}`: the client is ready (http-01: validate now; sms-link-00: send
    /// the code).
    Ready,
    /// `{"keyAuthorization": "..."}`: completes an sms-link-00 challenge
    /// (modelled on RFC 8823 §3.2).
    KeyAuthorization(String),
}

/// The payload of finalize (RFC 8555 §7.4).
#[derive(Debug, Clone, Deserialize)]
pub struct Finalize {
    pub csr: String,
}

/// The payload of mimiNewEab (docs/enrollment.md): the identifiers a client
/// account will be pre-authorized for, and until when the key may bind one.
#[derive(Debug, Clone, Deserialize)]
pub struct NewEab {
    pub identifiers: Vec<Identifier>,
    /// RFC 3339; now + 1 hour if absent, at most now + 24 hours.
    #[serde(default)]
    pub expires: Option<String>,
}

/// The answer to mimiNewEab: an external account binding key (RFC 8555
/// §7.3.4) for one client account.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEabResponse {
    pub kid: String,
    /// base64url, no padding.
    pub hmac_key: String,
    pub identifiers: Vec<Identifier>,
    /// RFC 3339.
    pub expires: String,
}

impl std::fmt::Debug for NewEabResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEabResponse")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .field("identifiers", &self.identifiers)
            .field("expires", &self.expires)
            .finish()
    }
}

/// RFC 3339 UTC time from Unix seconds.
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Unix seconds of an RFC 3339 date-time (§5.6: `YYYY-MM-DDTHH:MM:SS`, an
/// optional fraction, which is dropped, and `Z` or a `±HH:MM` offset).
/// `None` for anything else, including leap seconds and years before 1970.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    if !text.is_ascii() || text.len() < 20 || text.len() > 40 {
        return None;
    }
    let bytes = text.as_bytes();
    let number = |from: usize, to: usize| number_of(text.get(from..to)?);
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| bytes[i] != c) || !matches!(bytes[10], b'T' | b't') {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let (h, m) = (number_of(&rest[1..3])?, number_of(&rest[4..6])?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), the inverse of the
    // front end's formatting.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn number_of(part: &str) -> Option<i64> {
    part.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| part.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339;

    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2026-11-25T00:00:00Z"), Some(1_795_564_800));
        assert_eq!(
            parse_rfc3339("2026-11-25T01:00:00.123+01:00"),
            Some(1_795_564_800)
        );
        assert_eq!(parse_rfc3339("2099-12-31T23:59:59z"), Some(4_102_444_799));
        for bad in [
            "2026-11-25",
            "2026-11-25 00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T00:00:60Z",
            "2026-11-25T00:00:00",
            "2026-11-25T00:00:00.Z",
            "2026-11-25T00:00:00+0100",
            "1969-12-31T23:59:59Z",
            "+026-11-25T00:00:00Z",
            "2026-11-25T00:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
