//! Rate limits: token buckets keyed by a string, in the form Boulder uses,
//! GCRA (the generic cell rate algorithm), shared by the ACME server
//! (RFC 8555 §6.6) and the S2S receiver (draft-kohbrok-mimi-transport §6).
//! A bucket holds up to `burst` tokens and gains one every `period`; a
//! request spends tokens or is refused with the time until it would succeed.
//!
//! GCRA keeps one number per key, the "theoretical arrival time" (TAT): the
//! moment the bucket will be full again. A key whose TAT has passed holds a
//! full bucket, exactly as a key never seen, so forgetting it loses nothing.
//! That is what makes the bounded key table safe: when it is full, the least
//! recently used key is dropped, and only a key idle longer than all others
//! can lose its debt early. Size the table well above the number of keys
//! active within a refill period.
//!
//! Time is a [`Duration`] since the buckets were made, passed in by
//! [`TokenBuckets::try_spend_at`], so tests move time without sleeping.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One rate limit: at most `burst` at once, then one more every `period`.
///
/// A `burst` of 0 refuses everything; a `period` of zero never limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub burst: u32,
    pub period: Duration,
}

impl Limit {
    pub const fn new(burst: u32, period: Duration) -> Self {
        Limit { burst, period }
    }

    /// How long a full bucket takes to fill from empty: the most debt a key
    /// may carry.
    fn capacity(self) -> Duration {
        self.period.saturating_mul(self.burst)
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "at most {} at once, then one every {}",
            self.burst,
            seconds(self.period)
        )
    }
}

/// A request to take `cost` tokens from the bucket of `key` under `limit`.
/// A key must always be used with the same limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spend {
    pub key: String,
    pub limit: Limit,
    pub cost: u32,
}

/// Why a spend was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The index, in the spends given, of the one that must wait longest.
    pub index: usize,
    /// When all the spends would succeed (RFC 8555 §6.6: with several
    /// limits, Retry-After is when every one of them allows the request).
    pub retry_after: Duration,
}

impl Denied {
    /// `retry_after` in whole seconds for a `Retry-After` header, rounded
    /// up so that a client that waits that long does succeed.
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// Token buckets keyed by strings, with a bounded number of keys.
#[derive(Debug)]
pub struct TokenBuckets {
    start: Instant,
    max_keys: usize,
    state: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// Key → (theoretical arrival time, last use).
    tats: HashMap<String, (Duration, u64)>,
    /// Last use → key: the eviction order.
    by_use: BTreeMap<u64, String>,
    clock: u64,
}

impl TokenBuckets {
    /// Buckets for at most `max_keys` keys (at least one).
    pub fn new(max_keys: usize) -> Self {
        TokenBuckets {
            start: Instant::now(),
            max_keys: max_keys.max(1),
            state: Mutex::default(),
        }
    }

    /// Takes every spend's tokens, or none of them.
    pub fn try_spend(&self, spends: &[Spend]) -> Result<(), Denied> {
        self.try_spend_at(spends, self.start.elapsed())
    }

    /// [`TokenBuckets::try_spend`] at time `now`, measured from an origin of
    /// the caller's choosing that must not move (tests start at zero).
    pub fn try_spend_at(&self, spends: &[Spend], now: Duration) -> Result<(), Denied> {
        // A poisoned lock only means another request panicked mid-update;
        // the table is still a valid set of TATs.
        let mut table = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Work on a copy of the touched TATs, so that a refusal changes
        // nothing and repeated keys within one call add up.
        let mut pending: Vec<(&str, Duration)> = Vec::with_capacity(spends.len());
        let mut denied: Option<Denied> = None;
        for (index, spend) in spends.iter().enumerate() {
            let previous = pending
                .iter()
                .rev()
                .find(|(k, _)| *k == spend.key)
                .map(|(_, tat)| *tat)
                .or_else(|| table.tats.get(&spend.key).map(|(tat, _)| *tat))
                .unwrap_or(now);
            let tat = previous
                .max(now)
                .saturating_add(spend.limit.period.saturating_mul(spend.cost));
            let allowed_until = now.saturating_add(spend.limit.capacity());
            if tat > allowed_until {
                let wait = tat - allowed_until;
                if denied.as_ref().is_none_or(|d| wait > d.retry_after) {
                    denied = Some(Denied {
                        index,
                        retry_after: wait,
                    });
                }
            }
            pending.push((&spend.key, tat));
        }
        if let Some(denied) = denied {
            return Err(denied);
        }
        for (key, tat) in pending {
            table.set(key, tat, self.max_keys);
        }
        Ok(())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tats
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Table {
    fn set(&mut self, key: &str, tat: Duration, max_keys: usize) {
        self.clock += 1;
        let used = self.clock;
        if let Some((old_tat, old_used)) = self.tats.get_mut(key) {
            self.by_use.remove(old_used);
            *old_tat = tat;
            *old_used = used;
        } else {
            while self.tats.len() >= max_keys {
                let Some((_, lru)) = self.by_use.pop_first() else {
                    break;
                };
                self.tats.remove(&lru);
            }
            self.tats.insert(key.to_owned(), (tat, used));
        }
        self.by_use.insert(used, key.to_owned());
    }
}

/// A duration for messages: "3 s", "1.5 s".
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests;
