//! Who gets an accepted message: the members' queue references (each leaf's
//! `mimi_queue_reference` extension: its provider's domain and its queue ID
//! sealed to that provider's key), grouped into one delivery per provider.

use std::collections::BTreeMap;

use mimi_storage::Delivery;
use mimi_wire::qs::MAX_RECIPIENTS;
use mimi_wire::{DeliverMessageRequest, HpkeCiphertext, QueueReference, WireError};

use crate::error::ProviderError;

/// One delivery per provider for `members` (leaf index and queue reference),
/// leaving out the leaves in `except` (the sender, who has the hub's answer).
pub(crate) fn deliveries<'a>(
    members: impl IntoIterator<Item = (u32, &'a QueueReference)>,
    except: &[u32],
) -> Result<Vec<Delivery>, ProviderError> {
    let mut by_provider: BTreeMap<&str, Vec<HpkeCiphertext>> = BTreeMap::new();
    for (leaf, reference) in members {
        if except.contains(&leaf) {
            continue;
        }
        by_provider
            .entry(reference.provider_domain().as_str())
            .or_default()
            .push(reference.encrypted_queue_id().clone());
    }
    by_provider
        .into_iter()
        .map(|(destination, recipients)| {
            if recipients.len() > MAX_RECIPIENTS {
                return Err(ProviderError::Invalid(format!(
                    "the room has {} members at {destination}; a hub delivers to at most {MAX_RECIPIENTS} clients of one provider per message",
                    recipients.len()
                )));
            }
            Ok(Delivery {
                destination: destination.to_string(),
                recipients: DeliverMessageRequest::encode_recipients(&recipients)?,
            })
        })
        .collect()
}

/// The recipients of a stored delivery.
pub(crate) fn decode_recipients(bytes: &[u8]) -> Result<Vec<HpkeCiphertext>, WireError> {
    DeliverMessageRequest::decode_recipients(bytes)
}
