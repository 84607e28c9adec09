//! The `mimi_queue_reference` leaf-node extension
//! (draft-kohbrok-mimi-metadata-minimalization §8: "the member's queue ID is stored
//! in a leaf node extension s.t. the hub can forward that information to the
//! client's local provider upon fanout").
//!
//! ```text
//! extension_type = 0xF0A1 (mimi_queue_reference)
//! extension_data = QueueReference, TLS-encoded (docs/wire-spec.md §11.5):
//!     struct { opaque provider_domain<V>; HPKECiphertext encrypted_queue_id; }
//! ```
//!
//! The hub needs both halves: the domain to know which provider to send
//! `/deliver_message` to (a pseudonymous credential does not name it), the
//! ciphertext to hand that provider. 0xF0A1 lies in the private-use range
//! 0xF000-0xFFFF that RFC 9420 §17.3 reserves; it is ours until a type is
//! registered with IANA. The extension lives in the leaf node (not the
//! KeyPackage's own extensions) so that it stays in the ratchet tree, where the
//! hub reads it on every fan-out; and like every non-default extension, the
//! leaf's capabilities must list it (RFC 9420 §7.2).

use mimi_identifiers::Domain;
use mimi_wire::{QUEUE_ID_LEN, QueueEncryptionKey, QueueReference};
use openmls::credentials::CredentialType;
use openmls::extensions::{Extension, ExtensionType, UnknownExtension};
use openmls::prelude::Capabilities;
use openmls::treesync::LeafNode;

use crate::{QueueIdError, seal_queue_id};

/// Extension type of `mimi_queue_reference` (private use, RFC 9420 §17.3).
pub const QUEUE_REFERENCE_EXTENSION_TYPE: u16 = 0xF0A1;

/// [`QUEUE_REFERENCE_EXTENSION_TYPE`] as OpenMLS names it.
pub fn queue_reference_extension_type() -> ExtensionType {
    ExtensionType::from(QUEUE_REFERENCE_EXTENSION_TYPE)
}

/// A client's [`QueueReference`] for one KeyPackage: `queue_id` freshly sealed to
/// `queue_key` for `provider_domain`, and that same domain in the clear. Sealing
/// and naming with one value keeps the routing domain and the domain bound into
/// the HPKE `info` ([`queue_id_hpke_info`](crate::queue_id_hpke_info)) equal.
pub fn seal_queue_reference(
    queue_key: &QueueEncryptionKey,
    provider_domain: &Domain,
    queue_id: &[u8; QUEUE_ID_LEN],
) -> Result<QueueReference, QueueIdError> {
    let sealed = seal_queue_id(queue_key, provider_domain.as_str(), queue_id)?;
    Ok(QueueReference::new(provider_domain.clone(), sealed))
}

/// The `mimi_queue_reference` leaf-node extension carrying `reference` (from
/// [`seal_queue_reference`]). Add it with
/// `KeyPackage::builder().leaf_node_extensions(Extensions::single(ext)?)`, with
/// [`capabilities`] as the leaf's capabilities.
pub fn queue_reference_extension(reference: &QueueReference) -> Result<Extension, QueueIdError> {
    let data = reference
        .encode()
        .map_err(|e| QueueIdError::MalformedExtension {
            detail: e.to_string(),
        })?;
    Ok(Extension::Unknown(
        QUEUE_REFERENCE_EXTENSION_TYPE,
        UnknownExtension(data),
    ))
}

/// The leaf-node capabilities a MIMI client advertises: MLS 1.0; OpenMLS's
/// default cipher suites (1, 2 and 3); the extensions `mimi_queue_reference`,
/// `mimi_room_policy` (a GroupContext extension: every member must support it
/// to join a room that has one) and `last_resort` (RFC 9420 §7.2: every non-default extension in use must be
/// listed, so a last-resort KeyPackage needs it too); and the credential type
/// x509 only, since MIMI identities are X.509 chains (Basic is not kept, not
/// even for tests: tests build X.509 credentials from stand-in blobs).
pub fn capabilities() -> Capabilities {
    Capabilities::new(
        None,
        None,
        Some(&[
            queue_reference_extension_type(),
            crate::room_policy_extension_type(),
            ExtensionType::LastResort,
        ]),
        None,
        Some(&[CredentialType::X509]),
    )
}

/// The queue reference in a leaf node's `mimi_queue_reference` extension, if it
/// has one: what a hub reads to route a fan-out.
///
/// Reads only: whether the leaf lists the extension in its capabilities is for
/// [`validate_key_package`](crate::validate_key_package) to check, and whether
/// the ciphertext opens is for the provider it names.
pub fn leaf_queue_reference(leaf: &LeafNode) -> Result<Option<QueueReference>, QueueIdError> {
    let Some(ext) = leaf.extensions().unknown(QUEUE_REFERENCE_EXTENSION_TYPE) else {
        return Ok(None);
    };
    QueueReference::decode(&ext.0)
        .map(Some)
        .map_err(|e| QueueIdError::MalformedExtension {
            detail: e.to_string(),
        })
}
