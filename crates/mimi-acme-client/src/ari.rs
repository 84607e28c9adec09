//! ACME Renewal Information (RFC 9773): when the CA suggests renewing a
//! certificate, and the certificate identifier that names it there and in
//! a renewal order's `replaces`.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::client::{AcmeClient, MAX_JSON_LEN};
use crate::error::{Error, Result};
use crate::time::parse_rfc3339;

/// Poll renewal information at most this often, whatever Retry-After says
/// (RFC 9773 §4.3 suggests clamping to a minute .. a day).
const MIN_ARI_RETRY: Duration = Duration::from_secs(60);
const MAX_ARI_RETRY: Duration = Duration::from_secs(24 * 3600);
/// RFC 9773 §4.3: without Retry-After, poll again in about six hours.
const DEFAULT_ARI_RETRY: Duration = Duration::from_secs(6 * 3600);

/// The ARI certificate identifier (RFC 9773 §4.1) of a certificate (DER):
/// base64url(keyIdentifier of its authority key identifier) "."
/// base64url(serial number bytes).
pub fn cert_id(cert_der: &[u8]) -> Result<String> {
    let cert = mimi_credentials::Certificate::from_der(cert_der).map_err(|e| {
        Error::InvalidInput(format!(
            "the certificate is not DER X.509 ({e}); give the leaf certificate's DER"
        ))
    })?;
    let aki = mimi_acme::ca::authority_key_id(cert_der).ok_or_else(|| {
        Error::InvalidInput(
            "the certificate has no authority key identifier with a keyIdentifier, so ARI cannot name it (RFC 9773 §4.1); renew it by its expiry instead".to_owned(),
        )
    })?;
    Ok(mimi_acme::ca::cert_id(&aki, cert.serial()))
}

/// Renewal information (RFC 9773 §4.2), with the renewal time this client
/// picked in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalInfo {
    /// (start, end) of the suggested window.
    pub suggested_window: (SystemTime, SystemTime),
    /// A page explaining the window (e.g. a mass revocation), if given.
    pub explanation_url: Option<String>,
    /// When to ask again: Retry-After, clamped to one minute .. one day.
    pub retry_after: Duration,
    /// A time picked uniformly at random in the window (RFC 9773 §4.2),
    /// so that clients do not all renew at once.
    pub renewal_time: SystemTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewalInfoObject {
    suggested_window: Window,
    #[serde(default, rename = "explanationURL")]
    explanation_url: Option<String>,
}

#[derive(Deserialize)]
struct Window {
    start: String,
    end: String,
}

impl RenewalInfo {
    /// Whether to renew now: once the picked time has come (at once if the
    /// window lies in the past, RFC 9773 §4.2).
    pub fn should_renew(&self, now: SystemTime) -> bool {
        now >= self.renewal_time
    }

    fn from_window(
        start: SystemTime,
        end: SystemTime,
        explanation_url: Option<String>,
        retry_after: Duration,
    ) -> Result<RenewalInfo, &'static str> {
        let span = end
            .duration_since(start)
            .map_err(|_| "the suggested window ends before it starts")?;
        Ok(RenewalInfo {
            suggested_window: (start, end),
            explanation_url,
            retry_after,
            renewal_time: start + random_fraction_of(span),
        })
    }
}

/// A uniformly random duration in [0, span].
fn random_fraction_of(span: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    // A failing system RNG makes renewal start at once: early, never late.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    let fraction = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64;
    span.mul_f64(fraction)
}

impl AcmeClient {
    /// Asks the server when to renew the certificate `cert_der`
    /// (RFC 9773 §4.2).
    pub async fn renewal_info(&self, cert_der: &[u8]) -> Result<RenewalInfo> {
        let base = self.optional_url(
            &self.directory().renewal_info,
            "renewalInfo (RFC 9773)",
            "renew by the certificate's expiry instead",
        )?;
        let url = format!("{}/{}", base.trim_end_matches('/'), cert_id(cert_der)?);
        let reply = self.get(&url, MAX_JSON_LEN).await?;
        let object: RenewalInfoObject = reply.ok_json()?;
        let start = parse_rfc3339(&object.suggested_window.start);
        let end = parse_rfc3339(&object.suggested_window.end);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(Error::bad_response(
                &url,
                "the suggested window's start or end is not an RFC 3339 time",
            ));
        };
        let retry_after = reply
            .retry_after()
            .unwrap_or(DEFAULT_ARI_RETRY)
            .clamp(MIN_ARI_RETRY, MAX_ARI_RETRY);
        RenewalInfo::from_window(start, end, object.explanation_url, retry_after)
            .map_err(|reason| Error::bad_response(&url, reason))
    }
}

#[cfg(test)]
pub(crate) fn window_for_test(
    start: SystemTime,
    end: SystemTime,
) -> Result<RenewalInfo, &'static str> {
    RenewalInfo::from_window(start, end, None, DEFAULT_ARI_RETRY)
}
