//! The hub: the MLS delivery service for the rooms this provider owns
//! (draft-kohbrok-mimi-transport §5.2-5.4, draft-robert-mimi-delivery-service
//! §7-9). No HTTP here: `api::s2s` (other providers) and `api::client` (our own
//! clients, `hub` operation) hand requests in with where they came from.
//!
//! The life of one group operation:
//! 1. decode the `DSRequest` (bounded), check its creation time against the
//!    freshness window;
//! 2. take the group's public state (mimi-mls [`HubGroup`]): this process's
//!    parsed copy if it is still the stored state version, else the snapshot
//!    read and parsed (`cache`);
//! 3. validate the operation against that state (OpenMLS's public-group
//!    checks plus the credential and room policy, [`HubGroup::stage_commit`]
//!    and friends) and the member's signature over the request with its leaf
//!    key — both before anything is stored;
//! 4. in ONE storage transaction: record the request ID (replays are
//!    refused), store the new state if the epoch/state version is still the
//!    one validated against (else the operation is stale and nothing
//!    changes), number the operation in the group, and append one outbox
//!    entry per member provider;
//! 5. answer `DSResponse::Accepted`; the outbox worker (`ds::outbox`) then
//!    delivers to every member's provider, in the hub's order.

mod cache;
mod fanout;
pub(crate) mod outbox;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use mimi_credentials::{Certificate, Crl, PublicKey, verify_chain};
use mimi_identifiers::Domain;
use mimi_mls::hub::{Checks, CommitKind, CommitOutcome, HubError, HubGroup};
use mimi_storage::{
    Accepted, ApplyOutcome, CreateOutcome, Delivery, FollowUp, GroupChange, Joiner, NewGroup,
    NewJoiners, Storage, StoredGroup,
};
use mimi_wire::client_api::{HubEndpoint, HubRequest};
use mimi_wire::ds::{
    DSOperation, DSRequest, DSResponse, ExternalCommitInfoRequest, WelcomeInfoRequest,
};
use mimi_wire::{DEFAULT_FRESHNESS_WINDOW_MS, check_freshness, labels};

pub use cache::GroupCache;
pub use outbox::{DELIVERY_DEDUP_MS, OutboxSettings, OutboxState};

use crate::error::ProviderError;
use crate::outbound::SendError;
use crate::state::{Provider, now_ms};

/// How long a Welcome's joiners may fetch the ratchet tree of their epoch.
pub const JOINER_TREE_LIFETIME_MS: u64 = 7 * 24 * 3600 * 1000;

/// Who handed a request to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// One of this provider's clients, through the client API.
    Local,
    /// Another provider, over S2S (authenticated by its signature).
    Peer(Domain),
}

impl Origin {
    fn domain<'a, S>(&'a self, provider: &'a Provider<S>) -> &'a Domain {
        match self {
            Origin::Local => &provider.settings.domain,
            Origin::Peer(d) => d,
        }
    }
}

/// `POST /group_operation`: validates, stores and queues one operation.
pub async fn group_operation<S: Storage>(
    provider: &Provider<S>,
    origin: &Origin,
    bytes: &[u8],
) -> Result<DSResponse, ProviderError> {
    let request = DSRequest::decode(bytes)?;
    let operation = request.body().operation().request_type().as_str();
    let result = match handle(provider, origin, &request).await {
        Err(e) if e.kind() == "stale-epoch" => Err(replay_or(provider, &request, e).await),
        other => other,
    };
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(e) => e.kind(),
    };
    provider.metrics.count_hub_operation(operation, outcome);
    if result.is_ok() {
        provider.outbox.wake();
    }
    result
}

async fn handle<S: Storage>(
    provider: &Provider<S>,
    origin: &Origin,
    request: &DSRequest,
) -> Result<DSResponse, ProviderError> {
    let now = now_ms();
    let body = request.body();
    check_freshness(body.created_at_ms(), now, DEFAULT_FRESHNESS_WINDOW_MS)
        .map_err(|e| ProviderError::Replay(e.to_string()))?;
    let crls = parse_crls(&body.operation().crls())?;
    let ctx = Ctx {
        request,
        tbs: request.tbs()?,
        checks: Checks {
            roots: &provider.identity_roots,
            crls: &crls,
            now: UNIX_EPOCH + Duration::from_millis(now),
        },
        now,
    };
    if let DSOperation::CreateGroup {
        group_info,
        ratchet_tree,
        ..
    } = body.operation()
    {
        return create_group(
            provider,
            origin,
            &ctx,
            group_info.as_slice(),
            ratchet_tree.as_slice(),
        )
        .await;
    }
    let (state_version, group) = current_group(provider, body.group_id()).await?;
    let decision = match body.operation() {
        DSOperation::SendMessage {
            application_message,
        } => send_message(&ctx, &group, application_message.as_slice())?,
        DSOperation::SelfRemoveClient { proposal } => {
            self_remove(&ctx, &group, state_version, proposal.as_slice())?
        }
        operation => commit(&ctx, &group, state_version, operation)?,
    };
    store(provider, &ctx, state_version, decision).await
}

/// What every operation is checked with.
struct Ctx<'a> {
    request: &'a DSRequest,
    /// The request's `ClientSignatureTBS`.
    tbs: Vec<u8>,
    checks: Checks<'a>,
    now: u64,
}

impl Ctx<'_> {
    fn sender(&self) -> u32 {
        self.request.sender_index()
    }

    /// The request signature under the sender leaf's key in `group`.
    fn verify_sender(&self, group: &HubGroup) -> Result<(), ProviderError> {
        group
            .verify_member_signature(
                self.sender(),
                labels::DS_REQUEST,
                &self.tbs,
                self.request.signature(),
            )
            .map_err(hub)
    }

    /// The operation as the store records it, with `message` for
    /// `deliveries`.
    fn accepted(&self, message: Vec<u8>, deliveries: Vec<Delivery>) -> Accepted {
        let body = self.request.body();
        Accepted {
            request_id: *body.request_id(),
            request_expires_at_ms: body.created_at_ms() + 2 * DEFAULT_FRESHNESS_WINDOW_MS,
            timestamp_ms: self.now,
            message,
            deliveries,
        }
    }
}

/// An operation that passed every check: what to store, and the parsed
/// group it leads to (kept in this process's cache once stored).
struct Decision {
    change: GroupChange,
    accepted: Accepted,
    /// An add's Welcome, stored with the commit.
    follow_up: Option<FollowUp>,
    next: Option<HubGroup>,
    epoch: u64,
}

/// `send_message`: a PrivateMessage of this group and epoch, to every
/// member but its sender.
fn send_message(
    ctx: &Ctx<'_>,
    group: &HubGroup,
    message: &[u8],
) -> Result<Decision, ProviderError> {
    ctx.verify_sender(group)?;
    group.check_application(message).map_err(hub)?;
    let deliveries = everyone_but(group, ctx.sender())?;
    Ok(Decision {
        change: GroupChange::Message {
            epoch: group.epoch(),
        },
        accepted: ctx.accepted(message.to_vec(), deliveries),
        follow_up: None,
        next: None,
        epoch: group.epoch(),
    })
}

/// `self_remove_client`: the member's own Remove proposal, queued until a
/// commit covers it, and sent to every other member.
fn self_remove(
    ctx: &Ctx<'_>,
    group: &HubGroup,
    state_version: u64,
    proposal: &[u8],
) -> Result<Decision, ProviderError> {
    ctx.verify_sender(group)?;
    let mut next = HubGroup::from_snapshot(&group.to_snapshot().map_err(hub)?).map_err(hub)?;
    next.self_remove(proposal, ctx.sender()).map_err(hub)?;
    let deliveries = everyone_but(group, ctx.sender())?;
    Ok(Decision {
        change: GroupChange::State {
            expected_state_version: state_version,
            new_epoch: group.epoch(),
            state: next.to_snapshot().map_err(hub)?,
            group_info: None,
            joiners: None,
        },
        accepted: ctx.accepted(proposal.to_vec(), deliveries),
        follow_up: None,
        next: Some(next),
        epoch: group.epoch(),
    })
}

/// A commit (add, remove, update, external join): validated against the
/// group, signed by its committer, sent to every member of the old epoch
/// but its sender; an add's Welcome goes to the new members.
fn commit(
    ctx: &Ctx<'_>,
    group: &HubGroup,
    state_version: u64,
    operation: &DSOperation,
) -> Result<Decision, ProviderError> {
    let (kind, update) = commit_kind(operation)?;
    let staged = group
        .stage_commit(kind, update.commit(), update.group_info(), &ctx.checks)
        .map_err(hub)?;
    let state = staged.next_snapshot().map_err(hub)?;
    let (next, outcome) = staged.into_parts();
    verify_committer(ctx, group, &outcome)?;
    let follow_up = match operation {
        DSOperation::AddClients { welcome, .. } => Some(FollowUp {
            message: welcome.as_slice().to_vec(),
            deliveries: fanout::deliveries(
                outcome
                    .added
                    .iter()
                    .map(|m| (m.leaf_index, &m.queue_reference)),
                &[],
            )?,
        }),
        _ => None,
    };
    Ok(Decision {
        change: GroupChange::State {
            expected_state_version: state_version,
            new_epoch: outcome.epoch,
            state,
            group_info: Some(outcome.group_info.clone()),
            joiners: joiners(&outcome, ctx.now),
        },
        accepted: ctx.accepted(
            update.commit().to_vec(),
            commit_deliveries(group, &outcome, ctx.sender())?,
        ),
        follow_up,
        next: Some(next),
        epoch: outcome.epoch,
    })
}

/// The signer of a commit's request is its committer: a member's leaf
/// before the commit, or an external joiner's new leaf.
fn verify_committer(
    ctx: &Ctx<'_>,
    group: &HubGroup,
    outcome: &CommitOutcome,
) -> Result<(), ProviderError> {
    let sender = ctx.sender();
    if sender != outcome.committer {
        return Err(ProviderError::Forbidden(format!(
            "the request is signed as leaf {sender}, but the commit is leaf {}'s",
            outcome.committer
        )));
    }
    if outcome.kind != CommitKind::ExternalJoin {
        return ctx.verify_sender(group);
    }
    let joiner = outcome
        .added
        .iter()
        .find(|m| m.leaf_index == outcome.committer)
        .ok_or_else(|| ProviderError::Internal("an external join without its joiner".into()))?;
    group
        .verify_signature_with_key(
            &joiner.signature_key,
            labels::DS_REQUEST,
            &ctx.tbs,
            ctx.request.signature(),
        )
        .map_err(hub)
}

/// One delivery per provider for every member but `sender`.
fn everyone_but(group: &HubGroup, sender: u32) -> Result<Vec<Delivery>, ProviderError> {
    let members = group.queue_references();
    fanout::deliveries(members.iter().map(|(l, r)| (*l, r)), &[sender])
}

/// Stores a decision in one transaction and answers; the new parsed state
/// goes to this process's cache.
async fn store<S: Storage>(
    provider: &Provider<S>,
    ctx: &Ctx<'_>,
    state_version: u64,
    decision: Decision,
) -> Result<DSResponse, ProviderError> {
    let group_id = ctx.request.body().group_id();
    let outcome = provider
        .storage
        .apply_with_follow_up(
            group_id,
            &decision.change,
            &decision.accepted,
            decision.follow_up.as_ref(),
        )
        .await?;
    match outcome {
        ApplyOutcome::Applied { sequence } => {
            if let Some(next) = decision.next {
                provider
                    .groups
                    .put(group_id, state_version + 1, Arc::new(next));
            }
            Ok(DSResponse::Accepted {
                epoch: decision.epoch,
                group_sequence: sequence,
                hub_timestamp_ms: decision.accepted.timestamp_ms,
            })
        }
        ApplyOutcome::Replay => Err(replayed()),
        ApplyOutcome::Stale { epoch, .. } => Err(stale(epoch)),
    }
}

/// The group's current state, parsed: this process's copy if it is still
/// the stored version, else read and parsed (a large room on the blocking
/// pool, as it takes milliseconds).
async fn current_group<S: Storage>(
    provider: &Provider<S>,
    group_id: &[u8],
) -> Result<(u64, Arc<HubGroup>), ProviderError> {
    let version = provider
        .storage
        .group_version(group_id)
        .await?
        .ok_or_else(no_room)?;
    if let Some(group) = provider.groups.get(group_id, version.state_version) {
        return Ok((version.state_version, group));
    }
    let stored = load(provider, group_id).await?;
    let state = stored.state;
    let group = if state.len() > PARSE_INLINE_MAX {
        tokio::task::spawn_blocking(move || HubGroup::from_snapshot(&state))
            .await
            .map_err(|e| ProviderError::Internal(format!("parsing a group failed: {e}")))?
    } else {
        HubGroup::from_snapshot(&state)
    }
    .map_err(hub)?;
    let group = Arc::new(group);
    provider
        .groups
        .put(group_id, stored.state_version, group.clone());
    Ok((stored.state_version, group))
}

/// Snapshots above this size are parsed off the async threads.
const PARSE_INLINE_MAX: usize = 64 * 1024;

/// A request refused as stale may be one the hub accepted before, sent
/// again because its answer was lost: its state is the past by now, so it
/// no longer validates. Its sender must learn that it was accepted (409
/// `replay`), not that it was refused (409 `stale-epoch`): a member that
/// drops a commit the group merged can never catch up, since its own commit
/// is not delivered back to it.
/// The hub's replay keys tell ([`GroupStore::accepted_request`]).
///
/// [`GroupStore::accepted_request`]: mimi_storage::GroupStore::accepted_request
async fn replay_or<S: Storage>(
    provider: &Provider<S>,
    request: &DSRequest,
    stale: ProviderError,
) -> ProviderError {
    let body = request.body();
    if matches!(body.operation(), DSOperation::CreateGroup { .. }) {
        return stale;
    }
    match provider
        .storage
        .accepted_request(body.group_id(), body.request_id())
        .await
    {
        Ok(true) => replayed(),
        Ok(false) => stale,
        Err(e) => {
            tracing::warn!(error = %e, "cannot tell a stale request from a replay");
            stale
        }
    }
}

fn replayed() -> ProviderError {
    ProviderError::Replay(
        "this request (group and request ID) was accepted before; it is not applied twice".into(),
    )
}

fn stale(epoch: u64) -> ProviderError {
    ProviderError::Hub {
        kind: "stale-epoch",
        detail: format!(
            "the group moved on while this was checked (it is at epoch {epoch}); process the messages of the new epoch and send again"
        ),
    }
}

async fn create_group<S: Storage>(
    provider: &Provider<S>,
    origin: &Origin,
    ctx: &Ctx<'_>,
    group_info: &[u8],
    ratchet_tree: &[u8],
) -> Result<DSResponse, ProviderError> {
    if *origin != Origin::Local {
        return Err(ProviderError::Forbidden(
            "rooms are created at the hub of the creator's own provider; send create_group through your provider's client API".into(),
        ));
    }
    let group = HubGroup::create(group_info, ratchet_tree, &ctx.checks).map_err(hub)?;
    if group.group_id() != ctx.request.body().group_id() {
        return Err(ProviderError::Invalid(
            "the request's group_id is not the GroupInfo's group ID; send the ID of the group you create".into(),
        ));
    }
    ctx.verify_sender(&group)?;
    let accepted = ctx.accepted(Vec::new(), Vec::new());
    let new = NewGroup {
        group_id: group.group_id().to_vec(),
        epoch: group.epoch(),
        state: group.to_snapshot().map_err(hub)?,
        group_info: group.group_info().to_vec(),
        created_at_ms: accepted.timestamp_ms,
    };
    match provider.storage.create_group(&new, &accepted).await? {
        CreateOutcome::Created => {
            let epoch = group.epoch();
            provider.groups.put(&new.group_id, 1, Arc::new(group));
            Ok(DSResponse::Accepted {
                epoch,
                group_sequence: 1,
                hub_timestamp_ms: accepted.timestamp_ms,
            })
        }
        CreateOutcome::Replay => Err(replayed()),
    }
}

/// A commit goes to every member of the epoch it ends (the removed ones
/// included, so that they learn it) but its sender.
fn commit_deliveries(
    group: &HubGroup,
    outcome: &CommitOutcome,
    sender: u32,
) -> Result<Vec<Delivery>, ProviderError> {
    let mut members = group.queue_references();
    for removed in &outcome.removed {
        if let Some(reference) = &removed.queue_reference
            && !members.iter().any(|(l, _)| *l == removed.leaf_index)
        {
            members.push((removed.leaf_index, reference.clone()));
        }
    }
    let except = match outcome.kind {
        // The joiner's leaf is new: nobody of the old epoch is its sender.
        CommitKind::ExternalJoin => Vec::new(),
        _ => vec![sender],
    };
    fanout::deliveries(members.iter().map(|(l, r)| (*l, r)), &except)
}

/// The joiners of an add, who may fetch the new epoch's tree.
fn joiners(outcome: &CommitOutcome, now: u64) -> Option<NewJoiners> {
    if outcome.kind != CommitKind::AddClients || outcome.added.is_empty() {
        return None;
    }
    Some(NewJoiners {
        ratchet_tree: outcome.ratchet_tree.clone(),
        members: outcome
            .added
            .iter()
            .map(|m| Joiner {
                signature_key: m.signature_key.clone(),
                provider_domain: m.queue_reference.provider_domain().as_str().to_string(),
            })
            .collect(),
        expires_at_ms: now + JOINER_TREE_LIFETIME_MS,
    })
}

fn commit_kind(
    operation: &DSOperation,
) -> Result<(CommitKind, &mimi_wire::ds::MlsGroupUpdate), ProviderError> {
    Ok(match operation {
        DSOperation::AddClients { group_update, .. } => (CommitKind::AddClients, group_update),
        DSOperation::RemoveClients { group_update } => (CommitKind::RemoveClients, group_update),
        DSOperation::UpdateClient { group_update, .. } => (CommitKind::UpdateClient, group_update),
        DSOperation::ExternalJoin { group_update, .. } => (CommitKind::ExternalJoin, group_update),
        _ => return Err(ProviderError::Internal("not a commit operation".into())),
    })
}

async fn load<S: Storage>(
    provider: &Provider<S>,
    group_id: &[u8],
) -> Result<StoredGroup, ProviderError> {
    provider
        .storage
        .load_group(group_id)
        .await?
        .ok_or_else(no_room)
}

fn no_room() -> ProviderError {
    ProviderError::NotFound(
        "no room with this group ID at this hub; check the hub domain and the group ID".into(),
    )
}

fn parse_crls(ders: &[&[u8]]) -> Result<Vec<Crl>, ProviderError> {
    ders.iter()
        .map(|der| Crl::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::Credential(format!("a CRL does not parse: {e}")))
}

/// A refusal of the hub's validation, with its own problem type.
fn hub(e: HubError) -> ProviderError {
    ProviderError::Hub {
        kind: hub_kind(&e),
        detail: e.to_string(),
    }
}

fn hub_kind(e: &HubError) -> &'static str {
    match e {
        HubError::StaleEpoch { .. } | HubError::StaleStagedCommit => "stale-epoch",
        HubError::EncryptedHandshake => "encrypted-handshake",
        HubError::NotAMember { .. } | HubError::UnknownLeaf { .. } => "not-a-member",
        HubError::BadSignature { .. } => "bad-signature",
        HubError::Credential { .. } => "bad-credential",
        HubError::ExternalJoinRefused => "policy",
        HubError::Snapshot { .. } | HubError::Internal { .. } => "internal",
        _ => "invalid-operation",
    }
}

/// A client's [`HubRequest`]: served here for our own rooms, forwarded to
/// the hub's provider otherwise (the member-signed request unchanged, in a
/// signed S2S event), returning the hub's encoded `DSResponse`.
pub async fn relay<S: Storage>(
    provider: &Provider<S>,
    request: &HubRequest,
) -> Result<Vec<u8>, ProviderError> {
    let body = request.request();
    if request.hub_domain() == &provider.settings.domain {
        let origin = Origin::Local;
        let response = match request.endpoint() {
            HubEndpoint::GroupOperation => group_operation(provider, &origin, body).await?,
            HubEndpoint::WelcomeInformation => welcome_information(provider, &origin, body).await?,
            HubEndpoint::ExternalCommitInformation => {
                external_commit_information(provider, &origin, body).await?
            }
        };
        return Ok(response.encode()?);
    }
    let event = provider
        .sign_event(
            request.hub_domain(),
            request.endpoint().event_kind(),
            body.to_vec(),
        )
        .map_err(relay_error)?;
    let answer = provider.post(&event).await.map_err(relay_error)?;
    // Checked before it reaches the client: a hub's answer must be one.
    DSResponse::decode(&answer)?;
    Ok(answer)
}

/// A hub's refusal keeps its status and problem type on the way back to the
/// client; a hub we cannot reach is a 502.
fn relay_error(e: SendError) -> ProviderError {
    match e {
        SendError::Refused {
            peer,
            status,
            kind,
            detail,
        } => ProviderError::Relayed {
            status,
            kind,
            detail: format!("the hub {peer} refused: {detail}"),
        },
        other => ProviderError::Unreachable(other.to_string()),
    }
}

/// `GET /welcome_information` (§5.3): the ratchet tree of the epoch a joiner
/// was added in, to the joiner's own provider, if the joiner proves it holds
/// the added leaf's key.
pub async fn welcome_information<S: Storage>(
    provider: &Provider<S>,
    origin: &Origin,
    bytes: &[u8],
) -> Result<DSResponse, ProviderError> {
    let request = WelcomeInfoRequest::decode(bytes)?;
    check_freshness(
        request.created_at_ms(),
        now_ms(),
        DEFAULT_FRESHNESS_WINDOW_MS,
    )
    .map_err(|e| ProviderError::Replay(e.to_string()))?;
    let (_, group) = current_group(provider, request.group_id()).await?;
    group
        .verify_signature_with_key(
            request.joiner_signature_key(),
            labels::WELCOME_INFO_REQUEST,
            &request.tbs()?,
            request.signature(),
        )
        .map_err(hub)?;
    let tree = provider
        .storage
        .joiner_tree(
            request.group_id(),
            request.epoch(),
            request.joiner_signature_key(),
            origin.domain(provider).as_str(),
            now_ms(),
        )
        .await?
        .ok_or_else(|| {
            ProviderError::NotFound(
                "no Welcome for this key in this epoch from this provider (or it expired); join by external commit instead".into(),
            )
        })?;
    Ok(DSResponse::WelcomeInfo { ratchet_tree: tree })
}

/// `GET /external_commit_information` (§5.4): the GroupInfo and ratchet tree
/// for a would-be joiner the room's policy admits, asked for by its own
/// provider.
pub async fn external_commit_information<S: Storage>(
    provider: &Provider<S>,
    origin: &Origin,
    bytes: &[u8],
) -> Result<DSResponse, ProviderError> {
    let request = ExternalCommitInfoRequest::decode(bytes)?;
    let now = now_ms();
    check_freshness(request.created_at_ms(), now, DEFAULT_FRESHNESS_WINDOW_MS)
        .map_err(|e| ProviderError::Replay(e.to_string()))?;
    let chain = request
        .certificate_chain()
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProviderError::Credential(format!("a certificate does not parse: {e}")))?;
    let crls = parse_crls(&request.crls())?;
    let credential = verify_chain(
        &chain,
        &provider.identity_roots,
        &crls,
        UNIX_EPOCH + Duration::from_millis(now),
    )
    .map_err(|e| ProviderError::Credential(e.to_string()))?;
    let key = PublicKey::from_spki_der(credential.leaf_spki_der()).map_err(|e| {
        ProviderError::Credential(format!("the certificate's key is unusable: {e}"))
    })?;
    key.verify(&request.signed_content()?, request.signature())
        .map_err(|_| {
            ProviderError::Unauthenticated(
                "the signature does not verify under the certificate's key; sign the request with the key the certificate certifies".into(),
            )
        })?;
    let joiner_domain = credential.user().domain().cloned();
    if joiner_domain.as_ref() != Some(origin.domain(provider)) {
        return Err(ProviderError::Forbidden(
            "a joiner asks through its own provider: the credential's domain is not the requesting provider's".into(),
        ));
    }
    let stored = load(provider, request.group_id()).await?;
    let group = HubGroup::from_snapshot(&stored.state).map_err(hub)?;
    let policy = group.room_policy();
    let domain = origin.domain(provider);
    if !(policy.external_joins && policy.allows_domain(domain)) {
        return Err(ProviderError::Hub {
            kind: "policy",
            detail: format!(
                "the room's policy does not admit external joins from {domain}; ask a member to add you"
            ),
        });
    }
    Ok(DSResponse::ExternalCommitInfo {
        group_info: stored.group_info,
        ratchet_tree: group.export_ratchet_tree().map_err(hub)?,
    })
}
