use super::{QueueWatcher, parse_payload, payload};
use crate::WatchError;

const Q: [u8; 16] = [0xab; 16];

#[test]
fn payloads_round_trip() {
    let id: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
    for seq in [0, 1, 42, u64::MAX] {
        assert_eq!(parse_payload(&payload(&id, seq)), Some((id, seq)));
    }
    assert_eq!(
        payload(&Q, 7),
        "abababababababababababababababab:7",
        "the format other processes parse"
    );
}

#[test]
fn malformed_payloads_are_ignored() {
    let long = format!("{}:{}", "a".repeat(32), "1".repeat(30));
    for bad in [
        "",
        ":",
        "abababababababababababababababab",
        "abababababababababababababababab:",
        "abababababababababababababababab:-1",
        "abababababababababababababababab:+1",
        "abababababababababababababababab:1:2",
        "abababababababababababababababab:18446744073709551616",
        "ababababababababababababababab:1",
        "abababababababababababababababab00:1",
        "+bababababababababababababababab:1",
        "zzabababababababababababababababab:1",
        "ābababababababababababababababa:1",
        &long,
    ] {
        assert_eq!(parse_payload(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn subscribers_see_the_newest_number_and_older_ones_wake_no_one() {
    let watcher = QueueWatcher::new();
    let mut sub = watcher.subscribe(Q);
    watcher.notify(Q, 3);
    watcher.notify(Q, 5);
    assert_eq!(sub.changed().await.unwrap(), 5, "merged into the newest");
    watcher.notify(Q, 4);
    watcher.notify_payload(&payload(&Q, 2));
    watcher.notify_payload("not a payload");
    watcher.notify(Q, 6);
    assert_eq!(sub.changed().await.unwrap(), 6);
    // A wake-up without a new number: the subscriber refetches anyway.
    watcher.wake_all();
    assert_eq!(sub.changed().await.unwrap(), 6);
    // Another queue's numbers do not reach this subscriber.
    watcher.notify([0xcd; 16], 100);
    watcher.notify_payload(&payload(&Q, 9));
    assert_eq!(sub.changed().await.unwrap(), 9);
}

#[tokio::test]
async fn dropped_subscriptions_are_forgotten() {
    let watcher = QueueWatcher::new();
    let subs: Vec<_> = (0..100u8).map(|i| watcher.subscribe([i; 16])).collect();
    let twice = watcher.subscribe([0; 16]);
    assert_eq!(watcher.watched_queues(), 100);
    drop(subs);
    assert_eq!(watcher.watched_queues(), 1, "queue 0 is still watched");
    drop(twice);
    assert_eq!(watcher.watched_queues(), 0);
    // Notifying a queue nobody watches tracks nothing.
    watcher.notify([1; 16], 1);
    assert_eq!(watcher.watched_queues(), 0);
}

#[tokio::test]
async fn closing_ends_every_subscription() {
    let watcher = QueueWatcher::new();
    let mut before = watcher.subscribe(Q);
    watcher.close();
    assert!(matches!(before.changed().await, Err(WatchError::Closed)));
    let mut after = watcher.subscribe(Q);
    let refused = after.changed().await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the storage was closed, so no more queue notifications will come: \
         open the storage again and subscribe anew"
    );
    assert_eq!(watcher.watched_queues(), 0);
}
