//! The S2S endpoints of draft-kohbrok-mimi-transport §5 that a provider serves
//! as queueing service and KeyPackage store. Every body is an `S2SMessage`
//! checked by `mimi_transport` before anything here reads its payload.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use mimi_storage::Storage;
use mimi_transport::{read_body, receive_unrecorded};
use mimi_wire::{
    EventKind, GroupKeyPackageRequest, QueueingServiceRequest, QueueingServiceResponse,
};

use super::octet_stream;
use crate::error::ProviderError;
use crate::state::{Provider, now_ms};
use crate::{ds, kps, qs};

pub(crate) fn routes<S: Storage>() -> Router<Arc<Provider<S>>> {
    Router::new()
        .route(
            EventKind::DeliverMessage.endpoint_path(),
            post(deliver_message::<S>),
        )
        .route(
            EventKind::GroupKeyPackages.endpoint_path(),
            post(group_key_packages::<S>),
        )
        .route(
            EventKind::ConnectionRequest.endpoint_path(),
            post(|| async { not_implemented(EventKind::ConnectionRequest) }),
        )
        .route(
            EventKind::ConnectionKeyPackages.endpoint_path(),
            post(|| async { not_implemented(EventKind::ConnectionKeyPackages) }),
        )
        // The hub's endpoints (§5.2-5.4). The draft says GET for the two
        // information endpoints, with a body; a body on GET is legal but
        // dropped by some intermediaries, so POST is served as well.
        .route(
            EventKind::GroupOperation.endpoint_path(),
            post(hub_endpoint::<S>),
        )
        .route(
            EventKind::WelcomeInformation.endpoint_path(),
            get(hub_endpoint::<S>).post(hub_endpoint::<S>),
        )
        .route(
            EventKind::ExternalCommitInformation.endpoint_path(),
            get(hub_endpoint::<S>).post(hub_endpoint::<S>),
        )
}

/// §5.6 and §5.8 take connection tokens, which belong to the
/// metadata-minimalization work (docs/draft-divergences.md); §5.2-5.4 are
/// the hub's, not served yet. A peer gets 501, not 404: the endpoint exists
/// in the protocol, this provider does not offer it.
fn not_implemented(kind: EventKind) -> ProviderError {
    ProviderError::NotImplemented(match kind {
        EventKind::ConnectionRequest => {
            "POST /connection_request (connection establishment, draft-kohbrok-mimi-metadata-minimalization §5)"
        }
        EventKind::ConnectionKeyPackages => {
            "POST /connection_key_packages (KeyPackages by connection token, draft-kohbrok-mimi-metadata-minimalization §7)"
        }
        _ => "this endpoint",
    })
}

/// §5.2-5.4: a request for one of our rooms from another provider, on behalf
/// of its client (who signed what is inside). The hub's own replay key
/// (group and member-signed request ID) stops a provider that re-wraps a
/// member's request in a new event.
async fn hub_endpoint<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    path: MatchedPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let p = &*provider;
    let kind = EventKind::from_endpoint_path(path.as_str())
        .ok_or_else(|| ProviderError::Internal(format!("no event kind for {}", path.as_str())))?;
    // A group operation may carry a Welcome and CRLs beside its commit: up
    // to DSRequest::MAX_LEN plus the S2S framing, beyond the 1 MiB default.
    let mut transport = p.transport.clone();
    transport.max_message_len = transport
        .max_message_len
        .max(mimi_wire::ds::DSRequest::MAX_LEN + 4096);
    let bytes = read_body(&headers, body, transport.max_message_len).await?;
    let checked = receive_unrecorded(
        &bytes,
        kind,
        &transport,
        &p.s2s_limiter,
        &p.key_cache,
        now_ms(),
    )
    .await?;
    let origin = ds::Origin::Peer(checked.peer().domain().clone());
    let request = checked.envelope().body();
    let response = match kind {
        EventKind::GroupOperation => ds::group_operation(p, &origin, request).await?,
        EventKind::WelcomeInformation => ds::welcome_information(p, &origin, request).await?,
        _ => ds::external_commit_information(p, &origin, request).await?,
    };
    // Recorded only once the request was served, so that a refused one
    // leaves nothing behind; a replayed group operation was already refused
    // by the hub's own replay key (group and member-signed request ID).
    checked.replay_record().remember(&*p.storage).await?;
    octet_stream(response.encode()?)
}

/// §5.7: fan-out from a hub into our clients' queues.
async fn deliver_message<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let p = &*provider;
    let bytes = read_body(&headers, body, p.transport.max_message_len).await?;
    let checked = receive_unrecorded(
        &bytes,
        EventKind::DeliverMessage,
        &p.transport,
        &p.s2s_limiter,
        &p.key_cache,
        now_ms(),
    )
    .await?;
    let (checked, event) = checked.into_parts();
    let (_, (_, envelope)) = checked.into_parts();
    let request = match QueueingServiceRequest::decode(envelope.body())? {
        QueueingServiceRequest::DeliverMessage(request) => request,
        QueueingServiceRequest::ConnectionRequest(_) => {
            return Err(ProviderError::Invalid(
                "a connection request was posted to /deliver_message; post it to /connection_request".into(),
            ));
        }
    };
    let response = qs::deliver_message(p, &event, &request).await?;
    octet_stream(QueueingServiceResponse::DeliverMessage(response).encode()?)
}

/// §5.9: one KeyPackage per client of a user, to the requesting provider.
/// The event is recorded only once the claim passed its checks, so that a
/// refused claim leaves no replay record and a replayed one takes nothing.
async fn group_key_packages<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let p = &*provider;
    let bytes = read_body(&headers, body, p.transport.max_message_len).await?;
    let checked = receive_unrecorded(
        &bytes,
        EventKind::GroupKeyPackages,
        &p.transport,
        &p.s2s_limiter,
        &p.key_cache,
        now_ms(),
    )
    .await?;
    let request = GroupKeyPackageRequest::decode(checked.envelope().body())?;
    let claim = kps::admit_claim(p, checked.peer().domain().as_str(), &request).await?;
    checked.replay_record().remember(&*p.storage).await?;
    let response = kps::hand_out(p, claim).await?;
    octet_stream(response.encode()?)
}
