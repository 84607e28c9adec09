//! What MLS objects mean to MIMI, on OpenMLS: shared by provider, hub and client.
//!
//! - [`QueueKeyPair`], [`seal_queue_id`], [`QueueKeyPair::open_queue_id`]: queue IDs
//!   HPKE-encrypted to the client's provider (draft-kohbrok-mimi-metadata-minimalization
//!   §8), on OpenMLS's crypto provider, bound to the provider's domain under the label
//!   [`labels::QUEUE_ID`] (construction in [`queue_id_hpke_info`] and the README).
//! - [`seal_queue_reference`], [`queue_reference_extension`], [`leaf_queue_reference`],
//!   [`capabilities`]: the `mimi_queue_reference` leaf-node extension
//!   ([`QUEUE_REFERENCE_EXTENSION_TYPE`] = 0xF0A1, private use until registered) that
//!   carries a [`QueueReference`](mimi_wire::QueueReference) (the provider's domain and
//!   the encrypted queue ID) through the ratchet tree to the hub.
//! - [`x509_credential`], [`certificate_chain`]: the X.509 MLS credential as DER blobs,
//!   leaf first; verifying them is `mimi-credentials`' job.
//! - [`validate_key_package`] → [`ValidatedKeyPackage`]: what the KeyPackage store
//!   checks on upload (draft-kohbrok-mimi-transport §5.8-5.9), each refusal its own
//!   [`KeyPackageError`].
//! - [`RoomPolicy`]: the `mimi_room_policy` GroupContext extension
//!   ([`ROOM_POLICY_EXTENSION_TYPE`] = 0xF0A2, private use): external joins and the
//!   domains a room admits.
//! - [`hub`]: what the hub of a room checks (draft-robert-mimi-delivery-service
//!   §7-9) on OpenMLS's public group: [`hub::HubGroup`], its snapshot, commits
//!   staged on a copy, credential policy through `mimi-credentials`.
//! - `test_utils` (feature `test-utils`): real KeyPackages, real OpenMLS clients
//!   (`TestMember`) and a test PKI, for tests.
//!
//! **Invariant:** no I/O, no async, no clock reads (time is a parameter); decoders are
//! bounded and never panic, whatever the bytes.
//! **Invariant:** certificates are verified only through `mimi-credentials`
//! (`verify_chain`), and only in [`hub`]; the rest of the crate frames DER blobs.
//!
//! ```
//! use mimi_mls::{QueueKeyPair, seal_queue_id};
//!
//! // The provider, once: a queue key, whose public half it gives its clients.
//! let provider_key = QueueKeyPair::generate()?;
//! // A client, for each KeyPackage: a fresh encryption of its queue ID.
//! let queue_id = [7u8; 16];
//! let sealed = seal_queue_id(provider_key.public(), "b.example", &queue_id)?;
//! // The provider, on fan-out from a hub.
//! assert_eq!(provider_key.open_queue_id("b.example", &sealed)?, queue_id);
//! # Ok::<(), mimi_mls::QueueIdError>(())
//! ```

mod credential;
mod extension;
pub mod hub;
mod key_package;
pub mod labels;
mod queue_id;
mod room_policy;
#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use credential::{
    CredentialError, MAX_CERTIFICATE_LEN, MAX_CHAIN_LEN, certificate_chain, x509_credential,
};
pub use extension::{
    QUEUE_REFERENCE_EXTENSION_TYPE, capabilities, leaf_queue_reference, queue_reference_extension,
    queue_reference_extension_type, seal_queue_reference,
};
pub use key_package::{
    DEFAULT_MAX_LIFETIME, KeyPackageError, KeyPackagePolicy, MAX_KEY_PACKAGE_LEN,
    ValidatedKeyPackage, validate_key_package,
};
pub use queue_id::{
    AEAD_AES_128_GCM, KDF_HKDF_SHA256, KEM_X25519_HKDF_SHA256, MAX_PROVIDER_DOMAIN_LEN,
    MAX_QUEUE_KEY_FILE_LEN, QueueIdError, QueueKeyPair, queue_id_hpke_info, seal_queue_id,
};
pub use room_policy::{
    MAX_ALLOWED_DOMAINS, MAX_ROOM_POLICY_LEN, ROOM_POLICY_EXTENSION_TYPE, RoomPolicy,
    RoomPolicyError, room_policy_extension_type,
};

/// tls_codec's errors in words a client developer can act on.
pub(crate) fn codec_detail(e: &tls_codec::Error) -> String {
    match e {
        tls_codec::Error::EndOfStream => "it ends early (truncated)".into(),
        tls_codec::Error::InvalidVectorLength => {
            "a vector length is invalid (RFC 9420 lengths are minimally encoded and below 2^30)"
                .into()
        }
        tls_codec::Error::UnknownValue(v) => format!("a field holds the unknown value {v}"),
        tls_codec::Error::DecodingError(detail) => detail.clone(),
        other => other.to_string(),
    }
}

/// The OpenMLS types in this crate's API, so that callers name the same versions.
pub use openmls_traits::types::{Ciphersuite, SignatureScheme};
