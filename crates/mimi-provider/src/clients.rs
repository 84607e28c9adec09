//! The client registry and client-request authentication
//! (draft-kohbrok-mimi-transport §2.3: "events … signed by the client using its
//! client specific key material").
//!
//! A client registers once with its device credential: a certificate chain to
//! one of our identity roots, for a device of this provider's domain, with
//! fresh CRLs of its CAs. The registration request is signed with the
//! certificate's key, which proves possession. From then on every request is a
//! `ClientRequest` signed with that key; the provider checks, in order: the
//! encoding, the operation against the endpoint, the time window, that the
//! client is registered, the signature, the client's rate limit, and last the
//! replay table (so that a refused request leaves no row).
//!
//! The certificate itself comes from the domain CA, to which the provider
//! pre-authorizes the device first ([`crate::enrollment`]); a device with a
//! pending enrollment must register with a certificate for the key it
//! enrolled, and a registered device renews by registering again with a
//! chain for a new key.

use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::{Certificate, Crl, PublicKey, VerifiedCredential, verify_chain};
use mimi_identifiers::{DeviceId, Identifier, UserId};
use mimi_storage::{ClientRecord, QueueId, Storage};
use mimi_transport::ratelimit::Spend;
use mimi_wire::{
    ClientOperation, ClientRequest, ClientRequestTbs, RegisterRequest, check_freshness,
};

use crate::enrollment;
use crate::error::ProviderError;
use crate::state::{Provider, now_ms};

/// A client request whose signature verified under the key the client
/// registered, and that was not seen before. Only [`authenticate`] makes one.
#[derive(Debug)]
pub struct AuthenticatedClient {
    record: ClientRecord,
    body: Vec<u8>,
}

impl AuthenticatedClient {
    pub fn record(&self) -> &ClientRecord {
        &self.record
    }

    /// The operation's request struct, still encoded.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn queue_id(&self) -> QueueId {
        self.record.queue_id
    }
}

/// The replay-table "sender" of a client: fixed length whatever the client ID,
/// and never a valid domain name, so it cannot collide with an S2S sender.
fn replay_sender(client_id: &str) -> String {
    let hash = digest::digest(&digest::SHA256, client_id.as_bytes());
    format!("client:{}", URL_SAFE_NO_PAD.encode(hash.as_ref()))
}

/// Decodes a client request and checks everything that needs no stored state.
pub(crate) fn decode_request<S>(
    provider: &Provider<S>,
    bytes: &[u8],
    expected: ClientOperation,
) -> Result<(ClientRequest, DeviceId), ProviderError> {
    check_request(provider, ClientRequest::decode_for(expected, bytes)?)
}

/// Checks a decoded request's client ID (a canonical device URI of our
/// domain: 400 otherwise, docs/wire-spec.md §13.4 check 4) and time window.
pub(crate) fn check_request<S>(
    provider: &Provider<S>,
    request: ClientRequest,
) -> Result<(ClientRequest, DeviceId), ProviderError> {
    let device = request.tbs().client_id()?;
    let ours = &provider.settings.domain;
    if device.domain() != Some(ours) {
        return Err(ProviderError::Invalid(format!(
            "{} is not a device of {ours}; send requests to your own provider",
            device_uri(&device)?
        )));
    }
    let skew_ms = provider.transport.skew_ms;
    check_freshness(request.tbs().created_at_ms(), now_ms(), skew_ms).map_err(|e| {
        ProviderError::Forbidden(format!("{e}; sign a new request with the current time"))
    })?;
    Ok((request, device))
}

fn verify_signature(
    key_spki: &[u8],
    tbs: &ClientRequestTbs,
    signature: &[u8],
) -> Result<(), ProviderError> {
    let key = PublicKey::from_spki_der(key_spki)
        .map_err(|e| ProviderError::Internal(format!("a stored client key is unusable: {e}")))?;
    let content = tbs.signed_content()?;
    key.verify(&content, signature).map_err(|_| {
        ProviderError::Unauthenticated(
            "the signature does not verify under the key this client registered; sign with the device certificate's key".into(),
        )
    })
}

/// Verifies a request's signature under a key it carries itself (an
/// enrollment's key, which has no certificate yet): proof of possession.
pub(crate) fn verify_with(
    key: &PublicKey,
    tbs: &ClientRequestTbs,
    signature: &[u8],
) -> Result<(), ProviderError> {
    key.verify(&tbs.signed_content()?, signature).map_err(|_| {
        ProviderError::Unauthenticated(
            "the signature does not verify under the key in the request; sign with that key".into(),
        )
    })
}

/// Spends the client's rate limit and records the request ID.
pub(crate) async fn admit<S: Storage>(
    provider: &Provider<S>,
    client_id: &str,
    tbs: &ClientRequestTbs,
) -> Result<(), ProviderError> {
    provider.rate_limit(&[Spend {
        key: format!("client {client_id}"),
        limit: provider.settings.limits.client,
        cost: 1,
    }])?;
    let expires_at_ms = tbs
        .created_at_ms()
        .saturating_add(provider.transport.skew_ms);
    let fresh = provider
        .storage
        .remember(&replay_sender(client_id), *tbs.request_id(), expires_at_ms)
        .await?;
    if !fresh {
        return Err(ProviderError::Replay(
            "this request ID was already used; sign a new request with a fresh random ID".into(),
        ));
    }
    Ok(())
}

/// Authenticates a client request to the endpoint of `expected`.
pub async fn authenticate<S: Storage>(
    provider: &Provider<S>,
    bytes: &[u8],
    expected: ClientOperation,
) -> Result<AuthenticatedClient, ProviderError> {
    let (request, device) = decode_request(provider, bytes, expected)?;
    authenticate_decoded(provider, request, device).await
}

/// [`authenticate`] for a request already decoded (the WebSocket upgrade's
/// header).
pub async fn authenticate_decoded<S: Storage>(
    provider: &Provider<S>,
    request: ClientRequest,
    device: DeviceId,
) -> Result<AuthenticatedClient, ProviderError> {
    let client_id = device_uri(&device)?;
    let Some(record) = provider.storage.client(&client_id).await? else {
        // A revoked client's row is gone: say why.
        crate::revocation::refuse_if_revoked(provider, &client_id).await?;
        return Err(ProviderError::Unauthenticated(format!(
            "{client_id} is not registered with this provider; register first"
        )));
    };
    verify_signature(&record.signature_key, request.tbs(), request.signature())?;
    admit(provider, &client_id, request.tbs()).await?;
    Ok(AuthenticatedClient {
        record,
        body: request.tbs().body().to_vec(),
    })
}

/// Registers a client (or answers an identical retry) and returns its record.
///
/// A device with a pending enrollment (`enrollment`) must present a
/// certificate for the key it enrolled. A registered device presenting a
/// fresh chain for itself under a new key, signed with that key, renews:
/// its key and chain are replaced, its queue and handle kept.
pub async fn register<S: Storage>(
    provider: &Provider<S>,
    bytes: &[u8],
) -> Result<ClientRecord, ProviderError> {
    let (request, device) = decode_request(provider, bytes, ClientOperation::Register)?;
    let body = RegisterRequest::decode(request.tbs().body())?;
    // A malformed handle is a malformed request: refused before anything
    // is recorded.
    let handle = body.handle()?.map(|h| h.to_string());
    let (chain, credential) = verify_credential(provider, &body)?;
    let client_id = device_uri(&device)?;
    check_credential_names(&credential, &device)?;
    let key = credential.leaf_spki_der();
    verify_signature(key, request.tbs(), request.signature())?;
    crate::revocation::refuse_if_revoked(provider, &client_id).await?;
    provider.crls.learn_chain(&chain);
    let registered = provider.storage.client(&client_id).await?;
    let pending = provider.storage.pending_enrollment(&client_id).await?;
    if registered.is_none() {
        enrollment::check_enrolled_key(pending.as_ref(), key, now_ms())?;
    }
    admit(provider, &client_id, request.tbs()).await?;
    let certificate_chain: String = chain.iter().map(Certificate::pem).collect();
    let record = match registered {
        // A new key, or a new certificate for the same key: a renewal.
        Some(old)
            if !enrollment::same_key(&old.signature_key, key)
                || old.certificate_chain != certificate_chain =>
        {
            let renewed = provider
                .storage
                .replace_client_key(&client_id, &old.signature_key, key, &certificate_chain)
                .await?;
            tracing::info!(client = %client_id, "a client renewed its certificate");
            renewed
        }
        _ => {
            let record = ClientRecord {
                client_id: client_id.clone(),
                user_id: user_uri(credential.user())?,
                handle,
                signature_key: key.to_vec(),
                certificate_chain,
                queue_id: random_queue_id()?,
                registered_at_ms: now_ms(),
            };
            provider.storage.register_client(&record).await?
        }
    };
    if pending.is_some() {
        // Registered: the enrollment is done. Were this to fail, the
        // registration stands and a leftover row only expires.
        provider.storage.finish_enrollment(&client_id).await?;
    }
    Ok(record)
}

/// The chain of a registration and what it proves.
fn verify_credential<S>(
    provider: &Provider<S>,
    body: &RegisterRequest,
) -> Result<(Vec<Certificate>, VerifiedCredential), ProviderError> {
    let chain = body
        .certificate_chain()
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::Credential(format!("a certificate does not parse: {e}")))?;
    let crls = body
        .crls()
        .iter()
        .map(|der| Crl::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::Credential(format!("a CRL does not parse: {e}")))?;
    let now = UNIX_EPOCH + Duration::from_millis(now_ms());
    let credential = verify_chain(&chain, &provider.identity_roots, &crls, now)
        .map_err(|e| ProviderError::Credential(e.to_string()))?;
    Ok((chain, credential))
}

/// The credential must be a device credential for exactly the registering
/// device (which [`check_request`] checked to be of this provider's domain).
fn check_credential_names(
    credential: &VerifiedCredential,
    device: &DeviceId,
) -> Result<(), ProviderError> {
    let Some(certified) = credential.device() else {
        return Err(ProviderError::Credential(
            "this is a user certificate; register with a device certificate".into(),
        ));
    };
    if certified != device {
        return Err(ProviderError::Credential(format!(
            "the certificate is for {}, but the request is signed as {}",
            device_uri(certified)?,
            device_uri(device)?
        )));
    }
    Ok(())
}

fn random_queue_id() -> Result<QueueId, ProviderError> {
    let mut id = [0u8; 16];
    aws_lc_rs::rand::fill(&mut id)
        .map_err(|_| ProviderError::Internal("the random generator failed".into()))?;
    Ok(id)
}

/// The `mimi://` form of a device, as clients are named in storage.
pub(crate) fn device_uri(device: &DeviceId) -> Result<String, ProviderError> {
    Identifier::Device(device.clone())
        .to_mimi_uri()
        .map_err(|e| ProviderError::Invalid(format!("the client ID has no mimi:// form: {e}")))
}

/// The `mimi://` form of a user, as users are named in storage.
pub(crate) fn user_uri(user: &UserId) -> Result<String, ProviderError> {
    Identifier::User(user.clone())
        .to_mimi_uri()
        .map_err(|e| ProviderError::Invalid(format!("the user ID has no mimi:// form: {e}")))
}
