//! The replay purger forgets expired records and keeps the others.

use std::sync::Arc;
use std::time::Duration;

use mimi_storage::{ReplayStore, SqliteStorage};
use mimi_transport::spawn_replay_purger;

/// Far in the future (year 2096), yet within what the database stores.
const FAR_FUTURE_MS: u64 = 4_000_000_000_000;

#[tokio::test]
async fn the_purger_forgets_expired_records_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        SqliteStorage::open(&dir.path().join("provider.db"))
            .await
            .unwrap(),
    );
    assert!(storage.remember("a.example", [1; 16], 1_000).await.unwrap());
    assert!(storage.remember("a.example", [2; 16], 2_000).await.unwrap());
    assert!(
        storage
            .remember("a.example", [3; 16], FAR_FUTURE_MS)
            .await
            .unwrap()
    );

    let purger = spawn_replay_purger(storage.clone(), Duration::from_millis(10));
    // A bound on the wait, not a timing assertion: the first round runs at
    // once.
    let rows = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replay_seen")
                .fetch_one(storage.pool())
                .await
                .unwrap();
            if rows < 3 {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the purger never purged");
    purger.abort();
    assert_eq!(rows, 1, "both expired records go in one round");
    assert!(
        !storage
            .remember("a.example", [3; 16], FAR_FUTURE_MS)
            .await
            .unwrap(),
        "the live record was kept"
    );
    assert!(storage.remember("a.example", [1; 16], 1_000).await.unwrap());
}
