//! ReferenceStore: a reference retired once for its queue (idempotent),
//! refused for an unknown queue or when retired for another queue, batch
//! lookups with repeats and at their bound, concurrent retirements — every
//! refusal with its exact error and no row changed.

use std::collections::HashSet;

use mimi_storage::{
    MAX_REFERENCE_LOOKUP, QueueStore, ReferenceDigest, ReferenceStore, StorageError,
};

use crate::harness::{Backend, both_backends};

const A: [u8; 16] = [0xaa; 16];
const B: [u8; 16] = [0xbb; 16];
const UNKNOWN: [u8; 16] = [0x01; 16];

fn digest(tag: u8) -> ReferenceDigest {
    [tag; 32]
}

async fn a_reference_is_retired_once_for_its_queue<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();
    assert!(s.retire_reference(A, &digest(1)).await.unwrap());
    // Again: nothing new, not an error.
    assert!(!s.retire_reference(A, &digest(1)).await.unwrap());
    assert!(s.retire_reference(A, &digest(2)).await.unwrap());
    assert!(s.retire_reference(B, &digest(3)).await.unwrap());
    assert_eq!(backend.rows(&s, "retired_references").await, 3);
    // The queue itself stays open: only the references are refused.
    assert_eq!(s.enqueue(A, b"still open").await.unwrap(), 1);
    // A retired queue's references can still be retired.
    s.retire(B).await.unwrap();
    assert!(s.retire_reference(B, &digest(4)).await.unwrap());
    // It survives a restart.
    T::close(&s).await;
    let s = backend.open().await;
    assert_eq!(
        s.retired_among(&[digest(1), digest(2), digest(3), digest(4), digest(5)])
            .await
            .unwrap(),
        HashSet::from([digest(1), digest(2), digest(3), digest(4)])
    );
}

async fn refused_retirements_change_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    s.create_queue(B).await.unwrap();
    assert!(s.retire_reference(A, &digest(1)).await.unwrap());
    let e = s.retire_reference(UNKNOWN, &digest(2)).await.unwrap_err();
    assert!(
        matches!(e, StorageError::UnknownQueue { queue_id } if queue_id == UNKNOWN),
        "{e}"
    );
    let e = s.retire_reference(B, &digest(1)).await.unwrap_err();
    assert!(
        matches!(e, StorageError::ReferenceOfAnotherQueue { .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "the queue reference {} was retired for another queue: retire only references \
             that open to the queue given; nothing was stored",
            "01".repeat(32)
        )
    );
    assert_eq!(backend.rows(&s, "retired_references").await, 1);
    assert_eq!(
        s.retired_among(&[digest(1), digest(2)]).await.unwrap(),
        HashSet::from([digest(1)])
    );
}

async fn lookups_take_repeats_and_are_bounded<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    assert!(s.retired_among(&[]).await.unwrap().is_empty());
    assert!(s.retired_among(&[digest(9)]).await.unwrap().is_empty());
    for tag in [1, 2, 3] {
        s.retire_reference(A, &digest(tag)).await.unwrap();
    }
    assert_eq!(
        s.retired_among(&[digest(2), digest(7), digest(2), digest(3)])
            .await
            .unwrap(),
        HashSet::from([digest(2), digest(3)])
    );
    // The largest lookup: all in one statement.
    let mut many: Vec<ReferenceDigest> = (0..MAX_REFERENCE_LOOKUP as u32)
        .map(|i| {
            let mut d = [0xee; 32];
            d[..4].copy_from_slice(&i.to_be_bytes());
            d
        })
        .collect();
    many[MAX_REFERENCE_LOOKUP - 1] = digest(1);
    assert_eq!(
        s.retired_among(&many).await.unwrap(),
        HashSet::from([digest(1)])
    );
    many.push(digest(2));
    let e = s.retired_among(&many).await.unwrap_err();
    assert!(
        matches!(
            e,
            StorageError::CountOutOfRange {
                len,
                min: 0,
                max: MAX_REFERENCE_LOOKUP,
                ..
            } if len == MAX_REFERENCE_LOOKUP + 1
        ),
        "{e}"
    );
}

async fn concurrent_retirements_of_one_reference_retire_it_once<T: Backend>(backend: T) {
    let s = backend.open().await;
    s.create_queue(A).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        // Separate handles: separate connections (processes, on PostgreSQL).
        let s = backend.open().await;
        tasks.push(tokio::spawn(async move {
            s.retire_reference(A, &digest(5)).await.unwrap()
        }));
    }
    let mut newly = 0;
    for task in tasks {
        newly += usize::from(task.await.unwrap());
    }
    assert_eq!(newly, 1);
    assert_eq!(backend.rows(&s, "retired_references").await, 1);
}

both_backends!(
    a_reference_is_retired_once_for_its_queue,
    refused_retirements_change_nothing,
    lookups_take_repeats_and_are_bounded,
    concurrent_retirements_of_one_reference_retire_it_once,
);
