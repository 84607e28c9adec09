//! The S2S endpoints of draft-kohbrok-mimi-transport §5 that a provider serves
//! as queueing service and KeyPackage store. Every body is an `S2SMessage`
//! checked by `mimi_transport` before anything here reads its payload.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{any, post};
use mimi_storage::Storage;
use mimi_transport::{read_body, receive_unrecorded};
use mimi_wire::{
    EventKind, GroupKeyPackageRequest, QueueingServiceRequest, QueueingServiceResponse,
};

use super::octet_stream;
use crate::error::ProviderError;
use crate::state::{Provider, now_ms};
use crate::{kps, qs};

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
        // The hub's endpoints (§5.2-5.4): the delivery service comes next.
        .route(
            EventKind::GroupOperation.endpoint_path(),
            any(|| async { not_implemented(EventKind::GroupOperation) }),
        )
        .route(
            EventKind::WelcomeInformation.endpoint_path(),
            any(|| async { not_implemented(EventKind::WelcomeInformation) }),
        )
        .route(
            EventKind::ExternalCommitInformation.endpoint_path(),
            any(|| async { not_implemented(EventKind::ExternalCommitInformation) }),
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
        EventKind::GroupOperation => "/group_operation (this provider hosts no rooms yet)",
        EventKind::WelcomeInformation => "/welcome_information (this provider hosts no rooms yet)",
        _ => "/external_commit_information (this provider hosts no rooms yet)",
    })
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
