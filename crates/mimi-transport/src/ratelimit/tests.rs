use super::*;

const SEC: Duration = Duration::from_secs(1);

fn spend(key: &str, limit: Limit) -> Spend {
    Spend {
        key: key.to_owned(),
        limit,
        cost: 1,
    }
}

/// Burst 3, one more every 2 s.
fn three_per_2s() -> Limit {
    Limit::new(3, 2 * SEC)
}

#[test]
fn a_full_bucket_allows_the_burst_then_refuses_with_the_refill_time() {
    let buckets = TokenBuckets::new(10);
    let s = [spend("a", three_per_2s())];
    for _ in 0..3 {
        buckets.try_spend_at(&s, Duration::ZERO).unwrap();
    }
    let denied = buckets.try_spend_at(&s, Duration::ZERO).unwrap_err();
    assert_eq!(
        denied,
        Denied {
            index: 0,
            retry_after: 2 * SEC
        }
    );
    assert_eq!(denied.retry_after_secs(), 2);
    // Half a period later, half the wait is left.
    let denied = buckets.try_spend_at(&s, SEC).unwrap_err();
    assert_eq!(denied.retry_after, SEC);
}

#[test]
fn tokens_come_back_one_per_period_and_never_beyond_the_burst() {
    let buckets = TokenBuckets::new(10);
    let s = [spend("a", three_per_2s())];
    for _ in 0..3 {
        buckets.try_spend_at(&s, Duration::ZERO).unwrap();
    }
    // After one period exactly one token is back.
    buckets.try_spend_at(&s, 2 * SEC).unwrap();
    assert!(buckets.try_spend_at(&s, 2 * SEC).is_err());
    // After a long idle time the bucket is full, but holds only `burst`.
    let later = 1000 * SEC;
    for _ in 0..3 {
        buckets.try_spend_at(&s, later).unwrap();
    }
    assert!(buckets.try_spend_at(&s, later).is_err());
}

#[test]
fn keys_have_separate_buckets() {
    let buckets = TokenBuckets::new(10);
    let limit = Limit::new(1, 60 * SEC);
    buckets
        .try_spend_at(&[spend("a", limit)], Duration::ZERO)
        .unwrap();
    assert!(
        buckets
            .try_spend_at(&[spend("a", limit)], Duration::ZERO)
            .is_err()
    );
    buckets
        .try_spend_at(&[spend("b", limit)], Duration::ZERO)
        .unwrap();
}

#[test]
fn a_refused_spend_takes_nothing_from_any_bucket() {
    let buckets = TokenBuckets::new(10);
    let roomy = Limit::new(5, SEC);
    let tight = Limit::new(1, 10 * SEC);
    buckets
        .try_spend_at(&[spend("tight", tight)], Duration::ZERO)
        .unwrap();
    // "roomy" has tokens, "tight" has none: the pair is refused...
    let pair = [spend("roomy", roomy), spend("tight", tight)];
    let denied = buckets.try_spend_at(&pair, Duration::ZERO).unwrap_err();
    assert_eq!(denied.index, 1);
    assert_eq!(denied.retry_after, 10 * SEC);
    // ...and "roomy" still has all five.
    for _ in 0..5 {
        buckets
            .try_spend_at(&[spend("roomy", roomy)], Duration::ZERO)
            .unwrap();
    }
}

#[test]
fn retry_after_is_when_every_limit_allows_the_request() {
    let buckets = TokenBuckets::new(10);
    let a = Limit::new(1, 4 * SEC);
    let b = Limit::new(1, 9 * SEC);
    let both = [spend("a", a), spend("b", b)];
    buckets.try_spend_at(&both, Duration::ZERO).unwrap();
    let denied = buckets.try_spend_at(&both, Duration::ZERO).unwrap_err();
    assert_eq!(denied.index, 1, "b is the one to wait for");
    assert_eq!(denied.retry_after, 9 * SEC);
    // At that time, the request does succeed.
    buckets.try_spend_at(&both, 9 * SEC).unwrap();
}

#[test]
fn a_key_repeated_in_one_request_is_charged_for_each() {
    let buckets = TokenBuckets::new(10);
    let limit = Limit::new(2, SEC);
    let thrice = [spend("a", limit), spend("a", limit), spend("a", limit)];
    assert!(buckets.try_spend_at(&thrice, Duration::ZERO).is_err());
    let twice = [spend("a", limit), spend("a", limit)];
    buckets.try_spend_at(&twice, Duration::ZERO).unwrap();
    assert!(
        buckets
            .try_spend_at(&[spend("a", limit)], Duration::ZERO)
            .is_err()
    );
}

#[test]
fn costs_above_one_take_as_many_tokens() {
    let buckets = TokenBuckets::new(10);
    let limit = Limit::new(5, SEC);
    let four = Spend {
        cost: 4,
        ..spend("a", limit)
    };
    buckets
        .try_spend_at(std::slice::from_ref(&four), Duration::ZERO)
        .unwrap();
    let denied = buckets.try_spend_at(&[four], Duration::ZERO).unwrap_err();
    assert_eq!(denied.retry_after, 3 * SEC);
}

#[test]
fn the_least_recently_used_key_is_forgotten_when_the_table_is_full() {
    let buckets = TokenBuckets::new(2);
    let limit = Limit::new(1, 60 * SEC);
    let t = Duration::ZERO;
    buckets.try_spend_at(&[spend("a", limit)], t).unwrap();
    buckets.try_spend_at(&[spend("b", limit)], t).unwrap();
    // Touch "a" (refused, so not a use) and spend on "b" again later: the
    // refusal does not refresh "a", a successful spend refreshes "b".
    assert!(buckets.try_spend_at(&[spend("a", limit)], t).is_err());
    buckets
        .try_spend_at(&[spend("b", limit)], 60 * SEC)
        .unwrap();
    // A third key evicts the least recently used one, "a".
    buckets
        .try_spend_at(&[spend("c", limit)], 60 * SEC)
        .unwrap();
    assert_eq!(buckets.len(), 2);
    // "a" starts over with a full bucket; "b" is still empty.
    buckets
        .try_spend_at(&[spend("a", limit)], 60 * SEC)
        .unwrap();
    assert!(
        buckets
            .try_spend_at(&[spend("c", limit)], 60 * SEC)
            .is_err(),
        "c was just used, so it was kept"
    );
}

#[test]
fn retry_after_seconds_round_up_and_are_at_least_one() {
    let d = |retry_after| Denied {
        index: 0,
        retry_after,
    };
    assert_eq!(d(Duration::from_millis(1)).retry_after_secs(), 1);
    assert_eq!(d(Duration::from_millis(2001)).retry_after_secs(), 3);
    assert_eq!(d(2 * SEC).retry_after_secs(), 2);
    assert_eq!(d(Duration::ZERO).retry_after_secs(), 1);
}

#[test]
fn degenerate_limits_do_not_panic() {
    let buckets = TokenBuckets::new(0);
    // Burst 0 refuses everything.
    assert!(
        buckets
            .try_spend_at(&[spend("a", Limit::new(0, SEC))], Duration::ZERO)
            .is_err()
    );
    // A zero period never limits.
    for _ in 0..100 {
        buckets
            .try_spend_at(&[spend("b", Limit::new(1, Duration::ZERO))], Duration::ZERO)
            .unwrap();
    }
    // Huge periods and costs saturate instead of overflowing.
    let huge = Spend {
        key: "c".into(),
        limit: Limit::new(u32::MAX, Duration::MAX),
        cost: u32::MAX,
    };
    let _ = buckets.try_spend_at(std::slice::from_ref(&huge), Duration::MAX);
    let _ = buckets.try_spend_at(&[huge], Duration::ZERO);
}
