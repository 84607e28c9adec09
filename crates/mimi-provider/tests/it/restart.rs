//! A provider stopped and started again on the same data directory and
//! database keeps its signing key, its queue key (queue IDs encrypted before
//! the restart still open), its clients and their queued messages; the key
//! files are readable by their owner only.

use std::os::unix::fs::PermissionsExt;

use mimi_provider::testing::{Backend, TestFederation, leaf_queue_id};
use mimi_provider::{QUEUE_KEY_FILE, SIGNING_KEY_FILE};
use mimi_wire::{DeliverMessageRequest, RecipientStatus};

use crate::harness::both_backends;

both_backends!(a_restarted_provider_keeps_its_keys_clients_and_queues);

async fn a_restarted_provider_keeps_its_keys_clients_and_queues(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let bob = fed.client("b.example", "bob", "phone").unwrap();
            bob.register(Some("@bob")).await.unwrap();
            bob.upload_key_packages(2, false).await.unwrap();
            // Two queue IDs encrypted to b's queue key before the restart.
            let mut sealed = Vec::new();
            for _ in 0..2 {
                let claimed = a.claim_key_packages(bob.user_id(), 1).await.unwrap();
                sealed.push(leaf_queue_id(claimed.key_packages()[0].key_package()).unwrap());
            }
            let first = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"before".to_vec(), vec![sealed.remove(0)]),
                )
                .await
                .unwrap();
            assert_eq!(first.statuses(), [RecipientStatus::Delivered]);
            let signature_key = fed.get("b.example", "/signature_key").await.unwrap();
            let queue_key = b.queue_key();
            let rows = b.row_counts().await.unwrap();

            fed.restart().await.unwrap();

            let again = fed.get("b.example", "/signature_key").await.unwrap();
            assert_eq!(again.success().unwrap(), signature_key.success().unwrap());
            assert_eq!(b.queue_key(), queue_key);
            assert_eq!(b.row_counts().await.unwrap(), rows);
            // The queue ID sealed before the restart still opens.
            let second = a
                .deliver_to(
                    b.domain(),
                    DeliverMessageRequest::new(b"after".to_vec(), vec![sealed.remove(0)]),
                )
                .await
                .unwrap();
            assert_eq!(second.statuses(), [RecipientStatus::Delivered]);
            // Bob is still registered, and his queue kept the first message.
            let fetched = bob.fetch(1, 10).await.unwrap();
            let got: Vec<_> = fetched
                .messages()
                .iter()
                .map(|m| (m.seq(), m.message()))
                .collect();
            assert_eq!(got, [(1, b"before".as_slice()), (2, b"after".as_slice())]);
            assert_eq!(bob.key_package_count(1).await.unwrap(), 0);

            for provider in fed.providers() {
                for file in [SIGNING_KEY_FILE, QUEUE_KEY_FILE] {
                    let path = provider.data_dir().join(file);
                    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
                }
            }
        })
        .await;
}
