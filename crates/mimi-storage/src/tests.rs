use crate::MAX_OUTBOX_BATCH_BYTES;
use crate::migrate::Dialect;
use crate::shared::hub::batch_end;
use crate::{MAX_MESSAGE_LEN, StorageError, check_batch, group_by_queue, postgres, sqlite};

fn versions(dialect: &Dialect) -> Vec<(i64, &'static str)> {
    dialect
        .migrations
        .iter()
        .map(|m| (m.version, m.name))
        .collect()
}

#[test]
fn both_back_ends_have_the_same_migrations_in_order() {
    let sqlite = versions(&sqlite::DIALECT);
    assert_eq!(sqlite, versions(&postgres::DIALECT));
    assert!(
        sqlite.windows(2).all(|w| w[0].0 < w[1].0),
        "versions must increase: {sqlite:?}"
    );
}

#[test]
fn migration_names_are_safe_to_format_into_sql() {
    // The runner formats names into an INSERT (see migrate.rs).
    for (_, name) in versions(&sqlite::DIALECT) {
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{name:?}"
        );
    }
}

#[test]
fn batches_lock_queues_in_id_order_and_keep_batch_order_within_a_queue() {
    let (a, b) = ([1u8; 16], [2u8; 16]);
    let batch: [(_, &[u8]); 4] = [(b, b"1"), (a, b"2"), (b, b"3"), (a, b"4")];
    assert_eq!(
        group_by_queue(&batch),
        vec![(a, vec![1, 3]), (b, vec![0, 2])]
    );
}

#[test]
fn one_oversized_message_refuses_the_whole_batch() {
    let big = vec![0u8; MAX_MESSAGE_LEN + 1];
    let batch: [(_, &[u8]); 2] = [([1; 16], b"ok"), ([2; 16], &big)];
    let err = check_batch(&batch).unwrap_err();
    assert!(matches!(err, StorageError::MessageTooLarge { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "a message of 1048577 bytes exceeds the queue limit of 1048576 bytes: \
         refuse it to its sender, nothing was stored"
    );
}

#[test]
fn an_outbox_batch_is_cut_at_its_byte_cap_but_never_empty() {
    let cap = MAX_OUTBOX_BATCH_BYTES as i64;
    assert_eq!(batch_end(&[]), None);
    // One entry above the cap on its own still goes out.
    assert_eq!(batch_end(&[(7, cap + 1), (8, 1)]), Some((7, 1)));
    assert_eq!(batch_end(&[(1, cap - 1), (2, 1), (3, 1)]), Some((2, 2)));
    assert_eq!(batch_end(&[(1, 10), (5, 20)]), Some((5, 2)));
}
