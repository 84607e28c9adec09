//! The KeyPackage store (draft-kohbrok-mimi-transport §5.8-5.9). No HTTP here.
//!
//! Uploads come from registered clients over the signed client API. Each
//! KeyPackage is checked with OpenMLS (`mimi_mls::validate_key_package`:
//! encoding, signature, lifetime, cipher suite, X.509 credential, the queue
//! reference extension), and then against the uploading client: the leaf's
//! signature key is the key the client registered, the credential's leaf
//! certificate names this client and carries that key, and the queue reference
//! names this provider and its encrypted queue ID opens to this client's queue.
//! All KeyPackages of an upload are checked before any is stored.
//!
//! What the store does not do: verify the credential's chain and revocation.
//! The provider is untrusted for identity (DESIGN.md, "Trust and
//! credentials"); the clients that add a member verify its credential against
//! their own roots and fresh CRLs. The checks here keep a client from
//! publishing KeyPackages that would route to, or speak for, another client.

use mimi_credentials::{Certificate, PublicKey};
use mimi_mls::{ValidatedKeyPackage, validate_key_package};
use mimi_storage::{Storage, StorageError};
use mimi_transport::ratelimit::Spend;
use mimi_wire::{
    ClientKeyPackage, GroupKeyPackageRequest, GroupKeyPackageResponse, UploadKeyPackagesRequest,
    UploadKeyPackagesResponse,
};

use crate::clients::{AuthenticatedClient, user_uri};
use crate::error::ProviderError;
use crate::state::{Provider, now_ms};

/// Checks and stores the KeyPackages of an upload.
pub async fn upload<S: Storage>(
    provider: &Provider<S>,
    client: &AuthenticatedClient,
    request: &UploadKeyPackagesRequest,
) -> Result<UploadKeyPackagesResponse, ProviderError> {
    let now_secs = now_ms() / 1000;
    let validated = request
        .key_packages()
        .iter()
        .enumerate()
        .map(|(index, bytes)| {
            check_one(provider, client, bytes, now_secs)
                .map_err(|reason| ProviderError::KeyPackage { index, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let record = client.record();
    let mut stored = 0u32;
    let mut suites = Vec::new();
    for kp in &validated {
        match provider
            .storage
            .upload(
                &record.user_id,
                &record.client_id,
                kp.key_package_ref(),
                kp.cipher_suite(),
                kp.bytes(),
                request.last_resort(),
            )
            .await
        {
            // A retried upload: the KeyPackage is already there.
            Ok(()) | Err(StorageError::DuplicateKeyPackage { .. }) => stored += 1,
            Err(e) => return Err(e.into()),
        }
        if !suites.contains(&kp.cipher_suite()) {
            suites.push(kp.cipher_suite());
        }
    }
    provider
        .metrics
        .count_key_packages_uploaded(u64::from(stored));
    let remaining = match suites.as_slice() {
        [suite] => {
            provider
                .storage
                .count(&record.user_id, &record.client_id, *suite)
                .await?
        }
        _ => 0,
    };
    Ok(UploadKeyPackagesResponse::new(stored, remaining))
}

/// Every check of one KeyPackage; the error is the reason given to the client.
fn check_one<S>(
    provider: &Provider<S>,
    client: &AuthenticatedClient,
    bytes: &[u8],
    now_secs: u64,
) -> Result<ValidatedKeyPackage, String> {
    let kp = validate_key_package(bytes, &provider.key_package_policy, now_secs)
        .map_err(|e| e.to_string())?;
    let record = client.record();
    let registered = PublicKey::from_spki_der(&record.signature_key)
        .map_err(|e| format!("the registered key is unusable: {e}"))?;
    if kp.signature_key() != registered.raw() {
        return Err("its leaf signature key is not the key this client registered".into());
    }
    let leaf_der = kp
        .certificate_chain()
        .first()
        .ok_or("its credential has no certificate")?;
    let leaf = Certificate::from_der(leaf_der)
        .map_err(|e| format!("its credential's leaf certificate does not parse: {e}"))?;
    if leaf.spki_der() != record.signature_key {
        return Err("its credential's leaf certificate is not this client's certificate".into());
    }
    if !leaf.uris().iter().any(|uri| uri == &record.client_id) {
        return Err(format!(
            "its credential's leaf certificate does not name {}",
            record.client_id
        ));
    }
    let Some(reference) = kp.queue_reference() else {
        return Err("it carries no queue reference".into());
    };
    // Checked before opening: hubs route by this domain, so a reference naming
    // another provider would send this client's messages there.
    if reference.provider_domain() != &provider.settings.domain {
        return Err(format!(
            "its queue reference names the provider {}, not {}: seal the queue ID for {} \
             and name that domain in the reference",
            reference.provider_domain(),
            provider.settings.domain,
            provider.settings.domain
        ));
    }
    let queue_id = provider
        .queue_key
        .open_queue_id(
            provider.settings.domain.as_str(),
            reference.encrypted_queue_id(),
        )
        .map_err(|e| {
            format!("its queue ID does not decrypt with this provider's queue key: {e}")
        })?;
    if queue_id != record.queue_id {
        return Err("its queue ID is not this client's queue".into());
    }
    Ok(kp)
}

/// A `/group_key_packages` request that passed every check that can refuse
/// it (§12.3): what is left is handing the KeyPackages out.
#[derive(Debug)]
pub struct AdmittedClaim {
    /// The user's `mimi://` URI, one of ours with a registered client.
    user: String,
    cipher_suite: u16,
}

/// Checks a claim without changing anything but the rate limits: the user
/// must be a canonical user URI of our domain (400 otherwise) with a
/// registered client (404 otherwise), and `requester` within its limits
/// (429). Callers record the event's replay key after this and before
/// [`hand_out`], so that a refused claim leaves no record and a replayed one
/// takes nothing.
pub async fn admit_claim<S: Storage>(
    provider: &Provider<S>,
    requester: &str,
    request: &GroupKeyPackageRequest,
) -> Result<AdmittedClaim, ProviderError> {
    let user = request.user()?;
    if user.domain() != Some(&provider.settings.domain) {
        return Err(ProviderError::Invalid(format!(
            "{user} is not a user of {}; ask the user's own provider",
            provider.settings.domain
        )));
    }
    let user = user_uri(&user)?;
    if provider.storage.clients_of_user(&user).await?.is_empty() {
        return Err(ProviderError::NotFound(format!(
            "{user} has no registered client at {}",
            provider.settings.domain
        )));
    }
    let limits = &provider.settings.limits;
    provider.rate_limit(&[
        Spend {
            key: format!("kp-domain {requester}"),
            limit: limits.key_packages_per_domain,
            cost: 1,
        },
        Spend {
            key: format!("kp-user {requester} {user}"),
            limit: limits.key_packages_per_user,
            cost: 1,
        },
    ])?;
    Ok(AdmittedClaim {
        user,
        cipher_suite: request.cipher_suite(),
    })
}

/// Hands out one KeyPackage per client of an admitted claim's user.
pub async fn hand_out<S: Storage>(
    provider: &Provider<S>,
    claim: AdmittedClaim,
) -> Result<GroupKeyPackageResponse, ProviderError> {
    let claimed = provider
        .storage
        .claim(&claim.user, claim.cipher_suite)
        .await?;
    provider
        .metrics
        .count_key_packages_claimed(claimed.len() as u64);
    Ok(GroupKeyPackageResponse::new(
        claimed
            .into_iter()
            .map(|(client, kp)| ClientKeyPackage::new(client.into_bytes(), kp))
            .collect(),
    ))
}
