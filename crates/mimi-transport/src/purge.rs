//! Forgetting replay records once their events could no longer pass the
//! freshness check anyway (draft-kohbrok-mimi-transport §3; docs/wire-spec.md
//! §6): without it the replay table only grows.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mimi_storage::ReplayStore;
use tokio::task::JoinHandle;

/// The shortest interval the purger accepts: a zero interval would spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Calls `store.purge_expired(now)` at once and then every `every` (at least
/// 1 ms), forever; counts are logged at debug level, failures at warn (the
/// next round retries). Run it with `tokio::select!` against a shutdown
/// signal, or spawn it with [`spawn_replay_purger`].
pub async fn run_replay_purger<S: ReplayStore>(store: &S, every: Duration) {
    let mut ticks = tokio::time::interval(every.max(MIN_INTERVAL));
    // After a slow round (a busy database), wait a whole interval again
    // rather than purging in a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.purge_expired(unix_now_ms()).await {
            Ok(purged) => tracing::debug!(purged, "expired replay records deleted"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot purge expired replay records; retrying next round")
            }
        }
    }
}

/// [`run_replay_purger`] as a task of its own; abort the handle to stop it.
pub fn spawn_replay_purger<S: ReplayStore>(store: Arc<S>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move { run_replay_purger(&*store, every).await })
}

fn unix_now_ms() -> u64 {
    // A clock before 1970 purges nothing rather than everything.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
