//! GroupStore: creation, replays, stale changes changing nothing, gap-free
//! sequences (also under two processes), joiner trees and purging, and
//! every bound refused with nothing written.

use mimi_storage::{
    Accepted, ApplyOutcome, CreateOutcome, Delivery, FollowUp, GroupChange, GroupStore,
    GroupVersion, Joiner, MAX_DELIVERIES, MAX_GROUP_INFO_LEN, MAX_GROUP_STATE_LEN, MAX_JOINERS,
    MAX_MESSAGE_LEN, MAX_RATCHET_TREE_LEN, MAX_RECIPIENTS_LEN, NewGroup, NewJoiners, OutboxStore,
    StorageError, StoredGroup,
};

use crate::harness::{Backend, both_backends};

pub const GROUP: &[u8] = b"room-1";

pub fn new_group(group_id: &[u8]) -> NewGroup {
    NewGroup {
        group_id: group_id.to_vec(),
        epoch: 0,
        state: b"state-0".to_vec(),
        group_info: b"group-info-0".to_vec(),
        created_at_ms: 1_000,
    }
}

/// An accepted request numbered `id`, fanned out to `destinations`.
pub fn accepted(id: u8, destinations: &[&str]) -> Accepted {
    Accepted {
        request_id: [id; 16],
        request_expires_at_ms: 10_000,
        timestamp_ms: 2_000 + u64::from(id),
        message: format!("message {id}").into_bytes(),
        deliveries: destinations
            .iter()
            .map(|d| Delivery {
                destination: (*d).to_owned(),
                recipients: format!("recipients {id} at {d}").into_bytes(),
            })
            .collect(),
    }
}

pub fn message(epoch: u64) -> GroupChange {
    GroupChange::Message { epoch }
}

pub fn state(expected_state_version: u64, new_epoch: u64) -> GroupChange {
    GroupChange::State {
        expected_state_version,
        new_epoch,
        state: format!("state-{new_epoch}").into_bytes(),
        group_info: None,
        joiners: None,
    }
}

/// A group created by request 1 with no deliveries.
pub async fn open_with_group<T: Backend>(backend: &T) -> T::Storage {
    let s = backend.open().await;
    assert_eq!(
        s.create_group(&new_group(GROUP), &accepted(1, &[]))
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    s
}

/// Row counts of every table the hub writes, to assert that nothing did.
async fn hub_rows<T: Backend>(backend: &T, s: &T::Storage) -> Vec<(&'static str, i64)> {
    let mut rows = Vec::new();
    for table in [
        "hub_groups",
        "hub_group_states",
        "hub_requests",
        "hub_joiner_trees",
        "hub_joiners",
        "hub_messages",
        "hub_outbox",
        "hub_outbox_backoff",
    ] {
        rows.push((table, backend.rows(s, table).await));
    }
    rows
}

async fn a_created_group_loads_at_version_one_and_sequence_one<T: Backend>(backend: T) {
    let s = backend.open().await;
    assert_eq!(s.load_group(GROUP).await.unwrap(), None);
    assert_eq!(s.group_version(GROUP).await.unwrap(), None);
    let group = NewGroup {
        epoch: 3,
        ..new_group(GROUP)
    };
    assert_eq!(
        s.create_group(&group, &accepted(1, &["a.example"]))
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        s.load_group(GROUP).await.unwrap(),
        Some(StoredGroup {
            epoch: 3,
            state_version: 1,
            sequence: 1,
            state: b"state-0".to_vec(),
            group_info: b"group-info-0".to_vec(),
        })
    );
    assert_eq!(
        s.group_version(GROUP).await.unwrap(),
        Some(GroupVersion {
            epoch: 3,
            state_version: 1
        })
    );
    // The creation's message went to the outbox under sequence 1.
    let batch = s.outbox_batch("a.example", 10).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(
        (batch[0].sequence, batch[0].timestamp_ms),
        (1, accepted(1, &[]).timestamp_ms)
    );
    assert_eq!(batch[0].message, b"message 1");
    assert_eq!(batch[0].recipients, b"recipients 1 at a.example");
    // Another group is another group.
    assert_eq!(s.load_group(b"room-2").await.unwrap(), None);
}

async fn a_group_id_is_created_once_and_a_retried_creation_is_a_replay<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let before = hub_rows(&backend, &s).await;
    // The same request again: a replay, even with another state.
    let other = NewGroup {
        state: b"other".to_vec(),
        ..new_group(GROUP)
    };
    assert_eq!(
        s.create_group(&other, &accepted(1, &["a.example"]))
            .await
            .unwrap(),
        CreateOutcome::Replay
    );
    // Another request for the taken ID.
    let taken = s
        .create_group(&other, &accepted(2, &["a.example"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&taken, StorageError::GroupExists { group_id } if group_id == GROUP),
        "{taken:?}"
    );
    assert_eq!(
        taken.to_string(),
        "group 726f6f6d2d31 already exists: refuse the creation to its sender, \
         who must pick another group ID"
    );
    assert_eq!(hub_rows(&backend, &s).await, before);
    assert_eq!(
        s.load_group(GROUP).await.unwrap().unwrap().state,
        b"state-0"
    );
}

async fn a_message_applies_in_its_epoch_and_is_stale_in_another<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    assert_eq!(
        s.apply(GROUP, &message(0), &accepted(2, &["a.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 2 }
    );
    let before = hub_rows(&backend, &s).await;
    for epoch in [1, 7] {
        assert_eq!(
            s.apply(GROUP, &message(epoch), &accepted(3, &["a.example"]))
                .await
                .unwrap(),
            ApplyOutcome::Stale {
                epoch: 0,
                state_version: 1
            }
        );
    }
    // Nothing changed: no number used up, no outbox entry, no replay key.
    assert_eq!(hub_rows(&backend, &s).await, before);
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 2);
    // The refused request may be retried (its key was not recorded).
    assert_eq!(
        s.apply(GROUP, &message(0), &accepted(3, &["a.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 3 }
    );
    // The state is untouched by messages.
    let group = s.load_group(GROUP).await.unwrap().unwrap();
    assert_eq!((group.state_version, group.state), (1, b"state-0".to_vec()));
}

async fn a_state_change_applies_to_its_version_and_is_stale_on_another<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    assert_eq!(
        s.apply(GROUP, &state(1, 1), &accepted(2, &["a.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 2 }
    );
    // GroupInfo None keeps the stored one.
    assert_eq!(
        s.load_group(GROUP).await.unwrap(),
        Some(StoredGroup {
            epoch: 1,
            state_version: 2,
            sequence: 2,
            state: b"state-1".to_vec(),
            group_info: b"group-info-0".to_vec(),
        })
    );
    let before = hub_rows(&backend, &s).await;
    for version in [1, 3] {
        assert_eq!(
            s.apply(GROUP, &state(version, 2), &accepted(3, &["a.example"]))
                .await
                .unwrap(),
            ApplyOutcome::Stale {
                epoch: 1,
                state_version: 2
            }
        );
    }
    // A message of the old epoch is stale too.
    assert_eq!(
        s.apply(GROUP, &message(0), &accepted(4, &["a.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Stale {
            epoch: 1,
            state_version: 2
        }
    );
    assert_eq!(hub_rows(&backend, &s).await, before);
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 2);
    // A proposal kept as pending: new state, same epoch, new GroupInfo.
    let pending = GroupChange::State {
        expected_state_version: 2,
        new_epoch: 1,
        state: b"state-1 with a proposal".to_vec(),
        group_info: Some(b"group-info-1".to_vec()),
        joiners: None,
    };
    assert_eq!(
        s.apply(GROUP, &pending, &accepted(3, &[])).await.unwrap(),
        ApplyOutcome::Applied { sequence: 3 }
    );
    assert_eq!(
        s.load_group(GROUP).await.unwrap(),
        Some(StoredGroup {
            epoch: 1,
            state_version: 3,
            sequence: 3,
            state: b"state-1 with a proposal".to_vec(),
            group_info: b"group-info-1".to_vec(),
        })
    );
}

async fn a_state_change_may_not_move_the_epoch_back_or_add_joiners_in_place<T: Backend>(
    backend: T,
) {
    let s = open_with_group(&backend).await;
    assert!(matches!(
        s.apply(GROUP, &state(1, 5), &accepted(2, &[])).await,
        Ok(ApplyOutcome::Applied { sequence: 2 })
    ));
    let before = hub_rows(&backend, &s).await;
    let back = s
        .apply(GROUP, &state(2, 4), &accepted(3, &[]))
        .await
        .unwrap_err();
    assert_eq!(
        back.to_string(),
        "group 726f6f6d2d31 is at epoch 5 and a state change cannot take it to epoch 4: \
         validate the change against the current state again"
    );
    let GroupChange::State {
        expected_state_version,
        new_epoch,
        state: new_state,
        group_info,
        ..
    } = state(2, 5)
    else {
        unreachable!()
    };
    let in_place = GroupChange::State {
        expected_state_version,
        new_epoch,
        state: new_state,
        group_info,
        joiners: Some(joiners(&[(b"key", "b.example")], 9_000)),
    };
    let refused = s
        .apply(GROUP, &in_place, &accepted(3, &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            StorageError::EpochNotAdvanced {
                epoch: 5,
                new_epoch: 5,
                with_joiners: true,
                ..
            }
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "group 726f6f6d2d31 is at epoch 5 and a state change cannot take it to epoch 5 while \
         adding joiners (joiners need a new epoch): validate the change against the current \
         state again"
    );
    assert_eq!(hub_rows(&backend, &s).await, before);
}

async fn a_replayed_request_changes_nothing<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    assert_eq!(
        s.apply(GROUP, &message(0), &accepted(2, &["a.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 2 }
    );
    let before = hub_rows(&backend, &s).await;
    // The same request ID, whatever it carries now, and even if its
    // change would be stale.
    for change in [message(0), state(1, 1), message(9)] {
        assert_eq!(
            s.apply(GROUP, &change, &accepted(2, &["b.example"]))
                .await
                .unwrap(),
            ApplyOutcome::Replay
        );
    }
    // The creation's request too.
    assert_eq!(
        s.apply(GROUP, &message(0), &accepted(1, &[]))
            .await
            .unwrap(),
        ApplyOutcome::Replay
    );
    assert_eq!(hub_rows(&backend, &s).await, before);
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 2);
    // What the hub asks of a request refused as stale: accepted before?
    assert!(s.accepted_request(GROUP, &[2; 16]).await.unwrap());
    assert!(s.accepted_request(GROUP, &[1; 16]).await.unwrap());
    assert!(!s.accepted_request(GROUP, &[3; 16]).await.unwrap());
    assert!(!s.accepted_request(b"room-2", &[2; 16]).await.unwrap());
    // The key is group and request ID together.
    assert_eq!(
        s.create_group(&new_group(b"room-2"), &accepted(9, &[]))
            .await
            .unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        s.apply(b"room-2", &message(0), &accepted(2, &[]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 2 }
    );
}

async fn an_unknown_group_is_an_error_and_records_nothing<T: Backend>(backend: T) {
    let s = backend.open().await;
    let unknown = s
        .apply(b"nowhere", &message(0), &accepted(2, &["a.example"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, StorageError::UnknownGroup { group_id } if group_id == b"nowhere"),
        "{unknown:?}"
    );
    assert_eq!(
        unknown.to_string(),
        "no group 6e6f7768657265: create it with create_group first, or check the group ID"
    );
    assert!(hub_rows(&backend, &s).await.iter().all(|(_, n)| *n == 0));
}

async fn sequence_numbers_have_no_gaps_across_mixed_operations<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let d = &["a.example"];
    let outcomes = [
        s.apply(GROUP, &message(0), &accepted(2, d)).await,
        s.apply(GROUP, &message(1), &accepted(3, d)).await, // stale
        s.apply(GROUP, &state(1, 1), &accepted(4, d)).await,
        s.apply(GROUP, &state(1, 2), &accepted(5, d)).await, // stale
        s.apply(GROUP, &message(1), &accepted(2, d)).await,  // replay
        s.apply(GROUP, &message(1), &accepted(6, d)).await,
        s.apply(GROUP, &state(2, 2), &accepted(8, d)).await,
    ];
    // A failed operation elsewhere uses up nothing either.
    assert!(
        s.apply(b"nowhere", &message(1), &accepted(7, d))
            .await
            .is_err()
    );
    assert!(
        s.apply(GROUP, &message(2), &accepted(9, d))
            .await
            .is_ok_and(|o| o == ApplyOutcome::Applied { sequence: 6 })
    );
    let applied: Vec<u64> = outcomes
        .into_iter()
        .filter_map(|o| match o.unwrap() {
            ApplyOutcome::Applied { sequence } => Some(sequence),
            _ => None,
        })
        .collect();
    assert_eq!(applied, vec![2, 3, 4, 5]);
    let batch = s.outbox_batch("a.example", 100).await.unwrap();
    let sequences: Vec<u64> = batch.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, vec![2, 3, 4, 5, 6]);
    let messages: Vec<&[u8]> = batch.iter().map(|e| e.message.as_slice()).collect();
    assert_eq!(
        messages,
        vec![
            &b"message 2"[..],
            b"message 4",
            b"message 6",
            b"message 8",
            b"message 9"
        ]
    );
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 6);
}

fn joiners(members: &[(&[u8], &str)], expires_at_ms: u64) -> NewJoiners {
    NewJoiners {
        ratchet_tree: b"tree of the new epoch".to_vec(),
        members: members
            .iter()
            .map(|(key, domain)| Joiner {
                signature_key: key.to_vec(),
                provider_domain: (*domain).to_owned(),
            })
            .collect(),
        expires_at_ms,
    }
}

fn add(expected_state_version: u64, new_epoch: u64, joiners: NewJoiners) -> GroupChange {
    GroupChange::State {
        expected_state_version,
        new_epoch,
        state: format!("state-{new_epoch}").into_bytes(),
        group_info: Some(format!("group-info-{new_epoch}").into_bytes()),
        joiners: Some(joiners),
    }
}

async fn the_joiner_tree_goes_only_to_recorded_joiners_until_it_expires<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let change = add(
        1,
        1,
        joiners(&[(b"bob", "b.example"), (b"carol", "c.example")], 5_000),
    );
    assert_eq!(
        s.apply(GROUP, &change, &accepted(2, &["b.example", "c.example"]))
            .await
            .unwrap(),
        ApplyOutcome::Applied { sequence: 2 }
    );
    let tree = Some(b"tree of the new epoch".to_vec());
    let ask = |epoch, key: &'static [u8], domain: &'static str, now| {
        let s = s.clone();
        async move { s.joiner_tree(GROUP, epoch, key, domain, now).await.unwrap() }
    };
    assert_eq!(ask(1, b"bob", "b.example", 4_999).await, tree);
    assert_eq!(ask(1, b"carol", "c.example", 0).await, tree);
    // A key at another provider, another key, another epoch, another group.
    assert_eq!(ask(1, b"bob", "c.example", 0).await, None);
    assert_eq!(ask(1, b"mallory", "b.example", 0).await, None);
    assert_eq!(ask(0, b"bob", "b.example", 0).await, None);
    assert_eq!(ask(u64::MAX, b"bob", "b.example", 0).await, None);
    assert_eq!(
        s.joiner_tree(b"room-2", 1, b"bob", "b.example", 0)
            .await
            .unwrap(),
        None
    );
    // Not at or after its expiry.
    assert_eq!(ask(1, b"bob", "b.example", 5_000).await, None);
    assert_eq!(ask(1, b"bob", "b.example", u64::MAX).await, None);
    assert_eq!(backend.rows(&s, "hub_joiners").await, 2);
}

async fn expired_replay_keys_and_joiner_trees_are_purged<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await; // request 1 expires at 10 000
    let early = Accepted {
        request_expires_at_ms: 100,
        ..accepted(2, &[])
    };
    let change = add(1, 1, joiners(&[(b"bob", "b.example")], 200));
    assert!(matches!(
        s.apply(GROUP, &change, &early).await,
        Ok(ApplyOutcome::Applied { sequence: 2 })
    ));
    let later = add(2, 2, joiners(&[(b"dave", "d.example")], 20_000));
    assert!(matches!(
        s.apply(GROUP, &later, &accepted(3, &[])).await,
        Ok(ApplyOutcome::Applied { sequence: 3 })
    ));
    assert_eq!(s.purge_expired_group_records(99).await.unwrap(), 0);
    // Request 2's key (at 100) and epoch 1's tree (at 200).
    assert_eq!(s.purge_expired_group_records(200).await.unwrap(), 2);
    assert_eq!(backend.rows(&s, "hub_requests").await, 2);
    assert_eq!(backend.rows(&s, "hub_joiner_trees").await, 1);
    assert_eq!(backend.rows(&s, "hub_joiners").await, 1);
    assert_eq!(
        s.joiner_tree(GROUP, 2, b"dave", "d.example", 200)
            .await
            .unwrap(),
        Some(b"tree of the new epoch".to_vec())
    );
    // A forgotten request ID is new again (the freshness check, outside the
    // store, refuses such an old request).
    assert_eq!(
        s.apply(GROUP, &message(2), &early).await.unwrap(),
        ApplyOutcome::Applied { sequence: 4 }
    );
    assert_eq!(s.purge_expired_group_records(u64::MAX).await.unwrap(), 4);
    assert_eq!(backend.rows(&s, "hub_requests").await, 0);
    assert_eq!(backend.rows(&s, "hub_joiner_trees").await, 0);
    assert_eq!(backend.rows(&s, "hub_joiners").await, 0);
    // Groups, state and outbox are never purged.
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 4);
}

async fn bad_inputs_are_refused_before_sql_and_write_nothing<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let before = hub_rows(&backend, &s).await;
    let ok = accepted(2, &["a.example"]);
    let big_message = Accepted {
        message: vec![0; MAX_MESSAGE_LEN + 1],
        ..ok.clone()
    };
    let no_deliveries_big_message = Accepted {
        deliveries: vec![],
        ..big_message.clone()
    };
    let empty_message = Accepted {
        message: vec![],
        ..ok.clone()
    };
    let delivery = |destination: String, recipients: Vec<u8>| Delivery {
        destination,
        recipients,
    };
    let with = |deliveries: Vec<Delivery>| Accepted {
        deliveries,
        ..ok.clone()
    };
    let domains = |n: usize| {
        (0..n)
            .map(|i| delivery(format!("d{i}.example"), b"r".to_vec()))
            .collect::<Vec<_>>()
    };
    let big_recipients = |n: usize| {
        (0..n)
            .map(|i| delivery(format!("d{i}.example"), vec![0; MAX_RECIPIENTS_LEN]))
            .collect::<Vec<_>>()
    };
    let times = |request_expires_at_ms, timestamp_ms| Accepted {
        request_expires_at_ms,
        timestamp_ms,
        ..ok.clone()
    };
    let state_change = |state: Vec<u8>, group_info: Option<Vec<u8>>, joiners| GroupChange::State {
        expected_state_version: 1,
        new_epoch: 1,
        state,
        group_info,
        joiners,
    };
    let tree = |ratchet_tree: Vec<u8>, members: Vec<Joiner>, expires_at_ms| {
        Some(NewJoiners {
            ratchet_tree,
            members,
            expires_at_ms,
        })
    };
    let joiner = |key: Vec<u8>, domain: &str| Joiner {
        signature_key: key,
        provider_domain: domain.to_owned(),
    };
    let one = || vec![joiner(b"k".to_vec(), "b.example")];

    // (change, accepted, the refusal's exact message)
    let cases: Vec<(GroupChange, Accepted, &str)> = vec![
        (
            message(0),
            big_message,
            "a message of 1048577 bytes exceeds the queue limit of 1048576 bytes: \
             refuse it to its sender, nothing was stored",
        ),
        (
            message(0),
            no_deliveries_big_message,
            "a message of 1048577 bytes exceeds the queue limit of 1048576 bytes: \
             refuse it to its sender, nothing was stored",
        ),
        (
            message(0),
            empty_message,
            "a queued message must be 1 to 1048576 bytes long, not 0",
        ),
        (
            message(0),
            with(domains(MAX_DELIVERIES + 1)),
            "1001 deliveries given, but 1 to 1000 are allowed: split larger sets; \
             nothing was stored",
        ),
        (
            message(0),
            with(vec![delivery(String::new(), b"r".to_vec())]),
            "a destination domain must be 1 to 253 bytes long, not 0",
        ),
        (
            message(0),
            with(vec![delivery("a".repeat(254), b"r".to_vec())]),
            "a destination domain must be 1 to 253 bytes long, not 254",
        ),
        (
            message(0),
            with(vec![delivery("a.example".into(), vec![])]),
            "a recipient list must be 1 to 4194304 bytes long, not 0",
        ),
        (
            message(0),
            with(vec![delivery(
                "a.example".into(),
                vec![0; MAX_RECIPIENTS_LEN + 1],
            )]),
            "a recipient list must be 1 to 4194304 bytes long, not 4194305",
        ),
        (
            message(0),
            with(big_recipients(5)),
            "all recipient lists of an operation together must be 1 to 16777216 bytes long, \
             not 20971520",
        ),
        (
            message(0),
            with(vec![
                delivery("a.example".into(), b"r".to_vec()),
                delivery("b.example".into(), b"r".to_vec()),
                delivery("a.example".into(), b"s".to_vec()),
            ]),
            "the destination \"a.example\" appears twice in one operation: merge its \
             recipient lists into one delivery",
        ),
        (
            message(0),
            times(1 << 63, 0),
            "an expiry time (ms) 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            message(0),
            times(0, 1 << 63),
            "a timestamp (ms) 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            message(1 << 63),
            ok.clone(),
            "an epoch 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            state(1, 1 << 63),
            ok.clone(),
            "an epoch 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            state_change(vec![], None, None),
            ok.clone(),
            "a group state must be 1 to 67108864 bytes long, not 0",
        ),
        (
            state_change(vec![0; MAX_GROUP_STATE_LEN + 1], None, None),
            ok.clone(),
            "a group state must be 1 to 67108864 bytes long, not 67108865",
        ),
        (
            state_change(b"s".to_vec(), Some(vec![]), None),
            ok.clone(),
            "a GroupInfo must be 1 to 1048576 bytes long, not 0",
        ),
        (
            state_change(b"s".to_vec(), Some(vec![0; MAX_GROUP_INFO_LEN + 1]), None),
            ok.clone(),
            "a GroupInfo must be 1 to 1048576 bytes long, not 1048577",
        ),
        (
            state_change(b"s".to_vec(), None, tree(vec![], one(), 1)),
            ok.clone(),
            "a ratchet tree must be 1 to 16777216 bytes long, not 0",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(vec![0; MAX_RATCHET_TREE_LEN + 1], one(), 1),
            ),
            ok.clone(),
            "a ratchet tree must be 1 to 16777216 bytes long, not 16777217",
        ),
        (
            state_change(b"s".to_vec(), None, tree(b"t".to_vec(), vec![], 1)),
            ok.clone(),
            "0 joiners given, but 1 to 10000 are allowed: split larger sets; nothing was stored",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(
                    b"t".to_vec(),
                    vec![joiner(b"k".to_vec(), "b.example"); MAX_JOINERS + 1],
                    1,
                ),
            ),
            ok.clone(),
            "10001 joiners given, but 1 to 10000 are allowed: split larger sets; \
             nothing was stored",
        ),
        (
            state_change(b"s".to_vec(), None, tree(b"t".to_vec(), one(), 1 << 63)),
            ok.clone(),
            "an expiry time (ms) 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(b"t".to_vec(), vec![joiner(vec![], "b.example")], 1),
            ),
            ok.clone(),
            "a joiner's signature key must be 1 to 1024 bytes long, not 0",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(b"t".to_vec(), vec![joiner(vec![0; 1025], "b.example")], 1),
            ),
            ok.clone(),
            "a joiner's signature key must be 1 to 1024 bytes long, not 1025",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(b"t".to_vec(), vec![joiner(b"k".to_vec(), "")], 1),
            ),
            ok.clone(),
            "a joiner's provider domain must be 1 to 253 bytes long, not 0",
        ),
        (
            state_change(
                b"s".to_vec(),
                None,
                tree(
                    b"t".to_vec(),
                    vec![joiner(b"k".to_vec(), &"b".repeat(254))],
                    1,
                ),
            ),
            ok.clone(),
            "a joiner's provider domain must be 1 to 253 bytes long, not 254",
        ),
    ];
    for (change, accepted, expected) in &cases {
        let refused = s.apply(GROUP, change, accepted).await.unwrap_err();
        assert_eq!(refused.to_string(), *expected);
        assert_eq!(hub_rows(&backend, &s).await, before, "{expected}");
    }

    // The group ID, on every method that takes one.
    let long_id = vec![0u8; 256];
    let empty_id = "a group ID must be 1 to 255 bytes long, not 0";
    let long = "a group ID must be 1 to 255 bytes long, not 256";
    for (id, expected) in [(&b""[..], empty_id), (&long_id[..], long)] {
        let create = s
            .create_group(&new_group(id), &accepted(5, &[]))
            .await
            .unwrap_err();
        assert_eq!(create.to_string(), expected);
        let apply = s.apply(id, &message(0), &ok).await.unwrap_err();
        assert_eq!(apply.to_string(), expected);
        assert_eq!(s.load_group(id).await.unwrap_err().to_string(), expected);
        assert_eq!(s.group_version(id).await.unwrap_err().to_string(), expected);
        let tree = s
            .joiner_tree(id, 0, b"k", "b.example", 0)
            .await
            .unwrap_err();
        assert_eq!(tree.to_string(), expected);
    }
    // A new group's own bounds.
    let bad_groups = [
        (
            NewGroup {
                state: vec![],
                ..new_group(b"room-2")
            },
            "a group state must be 1 to 67108864 bytes long, not 0",
        ),
        (
            NewGroup {
                state: vec![0; MAX_GROUP_STATE_LEN + 1],
                ..new_group(b"room-2")
            },
            "a group state must be 1 to 67108864 bytes long, not 67108865",
        ),
        (
            NewGroup {
                group_info: vec![],
                ..new_group(b"room-2")
            },
            "a GroupInfo must be 1 to 1048576 bytes long, not 0",
        ),
        (
            NewGroup {
                group_info: vec![0; MAX_GROUP_INFO_LEN + 1],
                ..new_group(b"room-2")
            },
            "a GroupInfo must be 1 to 1048576 bytes long, not 1048577",
        ),
        (
            NewGroup {
                epoch: 1 << 63,
                ..new_group(b"room-2")
            },
            "an epoch 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
        (
            NewGroup {
                created_at_ms: 1 << 63,
                ..new_group(b"room-2")
            },
            "a creation time (ms) 9223372036854775808 is out of range: it must be at most 2^63 - 1",
        ),
    ];
    for (group, expected) in &bad_groups {
        let refused = s
            .create_group(group, &accepted(5, &["a.example"]))
            .await
            .unwrap_err();
        assert_eq!(refused.to_string(), *expected);
    }
    let refused = s
        .create_group(
            &new_group(b"room-2"),
            &with(vec![delivery("a.example".into(), vec![])]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "a recipient list must be 1 to 4194304 bytes long, not 0"
    );
    // The joiner-tree lookup's own bounds.
    for (key, domain, expected) in [
        (
            &b""[..],
            "b.example",
            "a joiner's signature key must be 1 to 1024 bytes long, not 0",
        ),
        (
            &[0u8; 1025][..],
            "b.example",
            "a joiner's signature key must be 1 to 1024 bytes long, not 1025",
        ),
        (
            &b"k"[..],
            "",
            "a joiner's provider domain must be 1 to 253 bytes long, not 0",
        ),
    ] {
        let refused = s.joiner_tree(GROUP, 0, key, domain, 0).await.unwrap_err();
        assert_eq!(refused.to_string(), expected);
    }
    assert_eq!(hub_rows(&backend, &s).await, before);
}

async fn concurrent_messages_from_two_processes_get_every_number_once<T: Backend>(backend: T) {
    let first = open_with_group(&backend).await;
    // A second handle with its own connections: another process.
    let second = backend.open().await;
    let mut tasks = Vec::new();
    for (task, s) in [(0u8, first.clone()), (1, second.clone())] {
        tasks.push(tokio::spawn(async move {
            let mut sequences = Vec::new();
            for i in 0..50u8 {
                let mut request = accepted(0, &["a.example", "b.example"]);
                request.request_id = [task, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
                match s.apply(GROUP, &message(0), &request).await.unwrap() {
                    ApplyOutcome::Applied { sequence } => sequences.push(sequence),
                    other => panic!("{other:?}"),
                }
            }
            sequences
        }));
    }
    let mut sequences = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        // Each process sees its own numbers increase.
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
        sequences.extend(mine);
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (2..=101).collect::<Vec<u64>>());
    assert_eq!(
        first.load_group(GROUP).await.unwrap().unwrap().sequence,
        101
    );
    // Each destination's outbox holds the group's messages in sequence order.
    for destination in ["a.example", "b.example"] {
        let batch = first.outbox_batch(destination, 1000).await.unwrap();
        let order: Vec<u64> = batch.iter().map(|e| e.sequence).collect();
        assert_eq!(order, (2..=101).collect::<Vec<u64>>());
    }
    T::close(&second).await;
}

async fn of_two_racing_state_changes_one_applies_and_one_is_stale<T: Backend>(backend: T) {
    let first = open_with_group(&backend).await;
    let second = backend.open().await;
    for round in 0..10u8 {
        let version = u64::from(round) + 1;
        let mut tasks = Vec::new();
        for (task, s) in [(0u8, first.clone()), (1, second.clone())] {
            tasks.push(tokio::spawn(async move {
                let mut request = accepted(0, &["a.example"]);
                request.request_id = [task, round, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
                let change = GroupChange::State {
                    expected_state_version: version,
                    new_epoch: version,
                    state: format!("by {task}").into_bytes(),
                    group_info: None,
                    joiners: None,
                };
                (task, s.apply(GROUP, &change, &request).await.unwrap())
            }));
        }
        let mut applied = Vec::new();
        let mut stale = 0;
        for task in tasks {
            match task.await.unwrap() {
                (task, ApplyOutcome::Applied { sequence }) => applied.push((task, sequence)),
                (
                    _,
                    ApplyOutcome::Stale {
                        epoch,
                        state_version,
                    },
                ) => {
                    assert_eq!((epoch, state_version), (version, version + 1));
                    stale += 1;
                }
                (_, ApplyOutcome::Replay) => panic!("not a replay"),
            }
        }
        assert_eq!(stale, 1, "round {round}");
        let [(winner, sequence)] = applied[..] else {
            panic!("round {round}: {applied:?}")
        };
        assert_eq!(sequence, version + 1);
        let group = first.load_group(GROUP).await.unwrap().unwrap();
        assert_eq!(group.state, format!("by {winner}").into_bytes());
        assert_eq!(
            (group.state_version, group.sequence),
            (version + 1, version + 1)
        );
    }
    assert_eq!(backend.rows(&first, "hub_outbox").await, 10);
    assert_eq!(backend.rows(&first, "hub_requests").await, 11);
    T::close(&second).await;
}

/// An add's Welcome: numbered right after its commit, stored with it, and
/// neither is stored again by a replay or at all by a stale change.
async fn a_follow_up_is_numbered_after_its_message_and_stored_with_it<T: Backend>(backend: T) {
    let s = open_with_group(&backend).await;
    let welcome = FollowUp {
        message: b"welcome".to_vec(),
        deliveries: vec![Delivery {
            destination: "c.example".into(),
            recipients: b"new member".to_vec(),
        }],
    };
    let applied = s
        .apply_with_follow_up(
            GROUP,
            &state(1, 1),
            &accepted(2, &["b.example"]),
            Some(&welcome),
        )
        .await
        .unwrap();
    assert_eq!(applied, ApplyOutcome::Applied { sequence: 2 });
    let commit = s.outbox_batch("b.example", 10).await.unwrap();
    assert_eq!(
        commit
            .iter()
            .map(|e| (e.sequence, e.message.clone()))
            .collect::<Vec<_>>(),
        vec![(2, b"message 2".to_vec())]
    );
    let welcomes = s.outbox_batch("c.example", 10).await.unwrap();
    assert_eq!(
        welcomes
            .iter()
            .map(|e| (e.sequence, e.message.clone(), e.recipients.clone()))
            .collect::<Vec<_>>(),
        vec![(3, b"welcome".to_vec(), b"new member".to_vec())]
    );
    assert_ne!(commit[0].event_id, welcomes[0].event_id);
    let before = hub_rows(&backend, &s).await;
    // The same request again: a replay, nothing stored.
    assert_eq!(
        s.apply_with_follow_up(
            GROUP,
            &state(2, 2),
            &accepted(2, &["b.example"]),
            Some(&welcome)
        )
        .await
        .unwrap(),
        ApplyOutcome::Replay
    );
    // A stale one: neither message, no number taken.
    assert!(matches!(
        s.apply_with_follow_up(
            GROUP,
            &state(1, 2),
            &accepted(3, &["b.example"]),
            Some(&welcome)
        )
        .await
        .unwrap(),
        ApplyOutcome::Stale { .. }
    ));
    assert_eq!(hub_rows(&backend, &s).await, before);
    assert_eq!(s.load_group(GROUP).await.unwrap().unwrap().sequence, 3);
}

both_backends!(
    a_follow_up_is_numbered_after_its_message_and_stored_with_it,
    a_created_group_loads_at_version_one_and_sequence_one,
    a_group_id_is_created_once_and_a_retried_creation_is_a_replay,
    a_message_applies_in_its_epoch_and_is_stale_in_another,
    a_state_change_applies_to_its_version_and_is_stale_on_another,
    a_state_change_may_not_move_the_epoch_back_or_add_joiners_in_place,
    a_replayed_request_changes_nothing,
    an_unknown_group_is_an_error_and_records_nothing,
    sequence_numbers_have_no_gaps_across_mixed_operations,
    the_joiner_tree_goes_only_to_recorded_joiners_until_it_expires,
    expired_replay_keys_and_joiner_trees_are_purged,
    bad_inputs_are_refused_before_sql_and_write_nothing,
    concurrent_messages_from_two_processes_get_every_number_once,
    of_two_racing_state_changes_one_applies_and_one_is_stale,
);
