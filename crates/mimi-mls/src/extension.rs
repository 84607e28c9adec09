//! The `mimi_queue_id` leaf-node extension (draft-kohbrok-mimi-metadata-minimalization
//! §8: "the member's queue ID is stored in a leaf node extension s.t. the hub can
//! forward that information to the client's local provider upon fanout").
//!
//! ```text
//! extension_type = 0xF0A1 (mimi_queue_id)
//! extension_data = HPKECiphertext, TLS-encoded (RFC 9420 §7.6)
//! ```
//!
//! 0xF0A1 lies in the private-use range 0xF000-0xFFFF that RFC 9420 §17.3 reserves;
//! it is ours until a type is registered with IANA. The extension lives in the
//! leaf node (not the KeyPackage's own extensions) so that it stays in the ratchet
//! tree, where the hub reads it on every fan-out; and like every non-default
//! extension, the leaf's capabilities must list it (RFC 9420 §7.2).

use mimi_wire::HpkeCiphertext;
use openmls::credentials::CredentialType;
use openmls::extensions::{Extension, ExtensionType, UnknownExtension};
use openmls::prelude::Capabilities;
use openmls::treesync::LeafNode;

use crate::QueueIdError;

/// Extension type of `mimi_queue_id` (private use, RFC 9420 §17.3).
pub const QUEUE_ID_EXTENSION_TYPE: u16 = 0xF0A1;

/// [`QUEUE_ID_EXTENSION_TYPE`] as OpenMLS names it.
pub fn queue_id_extension_type() -> ExtensionType {
    ExtensionType::from(QUEUE_ID_EXTENSION_TYPE)
}

/// The `mimi_queue_id` leaf-node extension carrying `sealed` (from
/// [`seal_queue_id`](crate::seal_queue_id)). Add it with
/// `KeyPackage::builder().leaf_node_extensions(Extensions::single(ext)?)`, with
/// [`capabilities`] as the leaf's capabilities.
pub fn queue_id_extension(sealed: &HpkeCiphertext) -> Result<Extension, QueueIdError> {
    let data = sealed
        .encode()
        .map_err(|e| QueueIdError::MalformedExtension {
            detail: e.to_string(),
        })?;
    Ok(Extension::Unknown(
        QUEUE_ID_EXTENSION_TYPE,
        UnknownExtension(data),
    ))
}

/// The leaf-node capabilities a MIMI client advertises: MLS 1.0; OpenMLS's
/// default cipher suites (1, 2 and 3); the extensions `mimi_queue_id` and
/// `last_resort` (RFC 9420 §7.2: every non-default extension in use must be
/// listed, so a last-resort KeyPackage needs it too); and the credential type
/// x509 only, since MIMI identities are X.509 chains (Basic is not kept, not
/// even for tests: tests build X.509 credentials from stand-in blobs).
pub fn capabilities() -> Capabilities {
    Capabilities::new(
        None,
        None,
        Some(&[queue_id_extension_type(), ExtensionType::LastResort]),
        None,
        Some(&[CredentialType::X509]),
    )
}

/// The encrypted queue ID in a leaf node's `mimi_queue_id` extension, if it has one.
///
/// Reads only: whether the leaf lists the extension in its capabilities is for
/// [`validate_key_package`](crate::validate_key_package) to check.
pub fn leaf_queue_id(leaf: &LeafNode) -> Result<Option<HpkeCiphertext>, QueueIdError> {
    let Some(ext) = leaf.extensions().unknown(QUEUE_ID_EXTENSION_TYPE) else {
        return Ok(None);
    };
    HpkeCiphertext::decode(&ext.0)
        .map(Some)
        .map_err(|e| QueueIdError::MalformedExtension {
            detail: e.to_string(),
        })
}
