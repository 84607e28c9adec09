//! The authority's rate limits (RFC 8555 §6.6), on the token buckets of
//! [`mimi_transport::ratelimit`].

use std::time::Duration;

pub use mimi_transport::ratelimit::{Denied, Limit, Spend, TokenBuckets};

/// The authority's rate limits, and the limits of `sms-link-00` codes
/// (docs/sms-link-00.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// newOrder requests per account.
    pub new_orders_per_account: Limit,
    /// New authorizations per identifier value and account.
    pub new_authorizations_per_identifier: Limit,
    /// `sms-link-00` codes sent to one telephone number, whichever account
    /// and order asked: the limit protects the phone's owner from a flood of
    /// texts, so it must count across accounts.
    pub sms_codes_per_number: Limit,
    /// How long an `sms-link-00` code can be used after it was sent.
    pub sms_code_lifetime: Duration,
    /// Wrong answers an `sms-link-00` challenge takes; the last of them
    /// makes it invalid. Six digits and 5 tries give a guesser 1 in 200,000.
    pub sms_max_attempts: u32,
    /// Most keys (accounts plus identifiers) remembered at once.
    pub max_tracked_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            new_orders_per_account: Limit::new(20, Duration::from_secs(3)),
            new_authorizations_per_identifier: Limit::new(10, Duration::from_secs(6)),
            // 5 at once, then one every 12 minutes: 5 an hour.
            sms_codes_per_number: Limit::new(5, Duration::from_secs(12 * 60)),
            sms_code_lifetime: Duration::from_secs(10 * 60),
            sms_max_attempts: 5,
            max_tracked_keys: 100_000,
        }
    }
}

#[cfg(test)]
mod tests;
