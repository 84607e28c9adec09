//! The credential policy the hub applies to every new or changed leaf
//! (draft-robert-mimi-delivery-service §9; ARCHITECTURE.md "Trust model": the hub
//! checks what a provider can, the clients check again against their own roots).

use std::time::SystemTime;

use mimi_credentials::{Certificate, Crl, PublicKey, TrustAnchors, verify_chain};
use mimi_identifiers::{DeviceId, Identifier, UserId};
use mimi_wire::QueueReference;
use openmls::treesync::LeafNode;

use crate::credential::certificate_chain;
use crate::extension::leaf_queue_reference;
use crate::room_policy::RoomPolicy;

use super::error::{CredentialRefusal, HubError};

/// What the caller supplies for credential checks: the identity roots it trusts,
/// the CRLs relayed with the request (checked for signature and freshness by
/// `verify_chain`; missing or stale ones refuse the chain) and the time.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    pub roots: &'a TrustAnchors,
    pub crls: &'a [Crl],
    pub now: SystemTime,
}

/// A leaf whose credential passed the policy: who it is and where its queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedMember {
    pub leaf_index: u32,
    /// The MLS signature key (raw Ed25519 key or SEC1 P-256 point).
    pub signature_key: Vec<u8>,
    pub user: UserId,
    pub device: DeviceId,
    pub queue_reference: QueueReference,
}

fn refuse(leaf_index: u32, reason: CredentialRefusal) -> HubError {
    HubError::Credential { leaf_index, reason }
}

/// Checks `leaf` (at `leaf_index` in the new tree): an X.509 chain that verifies
/// against `checks`, whose leaf key is the leaf's signature key and which names a
/// device; a queue reference at the credential's own domain; a domain the room
/// allows.
pub(crate) fn check_leaf(
    leaf: &LeafNode,
    leaf_index: u32,
    checks: &Checks<'_>,
    policy: &RoomPolicy,
) -> Result<VerifiedMember, HubError> {
    let fail = |reason| refuse(leaf_index, reason);
    let chain =
        certificate_chain(leaf.credential()).map_err(|e| fail(CredentialRefusal::Unusable(e)))?;
    let certificates = chain
        .iter()
        .enumerate()
        .map(|(index, der)| {
            Certificate::from_der(der)
                .map_err(|error| fail(CredentialRefusal::Unreadable { index, error }))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let credential = verify_chain(&certificates, checks.roots, checks.crls, checks.now)
        .map_err(|e| fail(CredentialRefusal::Chain(e)))?;
    let certified = PublicKey::from_spki_der(credential.leaf_spki_der())
        .map_err(|_| fail(CredentialRefusal::KeyMismatch))?;
    if certified.raw() != leaf.signature_key().as_slice() {
        return Err(fail(CredentialRefusal::KeyMismatch));
    }
    let device = credential
        .device()
        .cloned()
        .ok_or_else(|| fail(CredentialRefusal::NoDevice))?;
    let user = credential.user().clone();
    let queue_reference = leaf_queue_reference(leaf)
        .map_err(|e| {
            fail(CredentialRefusal::MalformedQueueReference {
                detail: e.to_string(),
            })
        })?
        .ok_or_else(|| fail(CredentialRefusal::MissingQueueReference))?;
    let user_domain = user
        .domain()
        .ok_or_else(|| fail(CredentialRefusal::NoDevice))?;
    if queue_reference.provider_domain() != user_domain {
        return Err(fail(CredentialRefusal::QueueDomainMismatch {
            queue_domain: queue_reference.provider_domain().as_str().to_owned(),
            user_domain: user_domain.as_str().to_owned(),
        }));
    }
    if !policy.allows_domain(user_domain) {
        return Err(fail(CredentialRefusal::DomainNotAllowed {
            domain: user_domain.as_str().to_owned(),
        }));
    }
    Ok(VerifiedMember {
        leaf_index,
        signature_key: leaf.signature_key().as_slice().to_vec(),
        user,
        device,
        queue_reference,
    })
}

/// The device a member's leaf certificate names (read without verifying: it
/// was verified when the leaf entered the tree), as `(user, device)` URIs.
pub(crate) fn leaf_identity(leaf: &LeafNode) -> Option<(String, String)> {
    let chain = certificate_chain(leaf.credential()).ok()?;
    let certificate = Certificate::from_der(chain.first()?).ok()?;
    certificate
        .uris()
        .iter()
        .find_map(|uri| match mimi_identifiers::parse(uri).ok()?.identifier {
            Identifier::Device(device) => {
                let user = device.user()?;
                Some((user.to_string(), device_uri(&device)))
            }
            _ => None,
        })
}

/// An updated leaf keeps the user and device of the leaf it replaces.
pub(crate) fn check_same_identity(
    before: &LeafNode,
    after: &VerifiedMember,
) -> Result<(), HubError> {
    let after_identity = (after.user.to_string(), device_uri(&after.device));
    match leaf_identity(before) {
        Some(before_identity) if before_identity == after_identity => Ok(()),
        before_identity => Err(refuse(
            after.leaf_index,
            CredentialRefusal::IdentityChanged {
                before: before_identity
                    .map(|(_, device)| device)
                    .unwrap_or_else(|| "an unreadable identity".into()),
                after: after_identity.1,
            },
        )),
    }
}

/// The `mimi://` URI of a device, as certificates carry it.
pub(crate) fn device_uri(device: &DeviceId) -> String {
    Identifier::Device(device.clone())
        .to_mimi_uri()
        .unwrap_or_else(|_| device.to_string())
}
