//! The client API: `/client/v1/*` (docs/wire-spec.md §13). Every request but
//! `queue_key` is a `ClientRequest` signed by the client's key; `clients`
//! authenticates it before anything here reads the operation's body.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use mimi_storage::{QueueId, Storage};
use mimi_transport::https::PeerAddr;
use mimi_transport::ratelimit::Spend;
use mimi_transport::read_body;
use mimi_wire::client_api::RetireQueueReferenceRequest;
use mimi_wire::{
    AckRequest, AckResponse, ClientOperation, ClientRequest, FetchRequest, FetchResponse,
    HubRequest, KeyPackageCountRequest, KeyPackageCountResponse, LISTEN_HEADER, ListenRequest,
    QueuedMessage, RegisterResponse, UploadKeyPackagesRequest,
};

use super::octet_stream;
use crate::clients::{self, AuthenticatedClient};
use crate::error::ProviderError;
use crate::kps;
use crate::state::Provider;

/// Messages per push frame.
const PUSH_BATCH: u32 = 100;

/// A ping this often keeps idle connections open through middleboxes and
/// notices dead peers.
const KEEPALIVE: Duration = Duration::from_secs(30);

pub(crate) fn routes<S: Storage>() -> Router<Arc<Provider<S>>> {
    Router::new()
        .route("/client/v1/queue_key", get(queue_key::<S>))
        .route(
            ClientOperation::Register.endpoint_path(),
            post(register::<S>),
        )
        .route(ClientOperation::Fetch.endpoint_path(), post(fetch::<S>))
        .route(ClientOperation::Ack.endpoint_path(), post(ack::<S>))
        .route(
            ClientOperation::UploadKeyPackages.endpoint_path(),
            post(upload_key_packages::<S>),
        )
        .route(
            ClientOperation::KeyPackageCount.endpoint_path(),
            post(key_package_count::<S>),
        )
        .route(ClientOperation::Listen.endpoint_path(), get(listen::<S>))
        .route(ClientOperation::Hub.endpoint_path(), post(hub::<S>))
        .route(
            ClientOperation::EnrollUser.endpoint_path(),
            post(enroll_user::<S>),
        )
        .route(
            ClientOperation::EnrollDevice.endpoint_path(),
            post(enroll_device::<S>),
        )
        .route(
            ClientOperation::RetireQueueReference.endpoint_path(),
            post(retire_queue_reference::<S>),
        )
}

async fn queue_key<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
) -> Result<Response, ProviderError> {
    octet_stream(provider.queue_key.public().encode()?)
}

async fn register<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    // A registration carries up to 8 MiB of CRLs to parse and a chain to
    // verify before its sender is known: limit it per network address first.
    limit_registrations(&provider, peer)?;
    let limit = ClientOperation::Register.max_request_len();
    let bytes = read_body(&headers, body, limit).await?;
    let record = clients::register(&provider, &bytes).await?;
    octet_stream(RegisterResponse::new(record.queue_id, provider.queue_key.public()).encode()?)
}

/// Spends one token of the per-address budget that registrations and
/// first-device enrollments share (one bucket: both come from senders not
/// yet known).
fn limit_registrations<S: Storage>(
    provider: &Provider<S>,
    peer: Option<Extension<PeerAddr>>,
) -> Result<(), ProviderError> {
    let ip = super::peer_ip(peer);
    provider.rate_limit(&[Spend {
        key: format!("register from {ip}"),
        limit: provider.settings.limits.registrations,
        cost: 1,
    }])
}

/// `POST /client/v1/enroll_user`: the first device of a user asks to be
/// pre-authorized at the domain CA (docs/enrollment.md).
async fn enroll_user<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    // Its sender is not registered yet and each accepted request costs a
    // call to the domain CA: limited per network address, with
    // registrations.
    limit_registrations(&provider, peer)?;
    let limit = ClientOperation::EnrollUser.max_request_len();
    let bytes = read_body(&headers, body, limit).await?;
    let response = crate::enrollment::enroll_user(&provider, &bytes).await?;
    octet_stream(response.encode()?)
}

/// `POST /client/v1/enroll_device`: a registered device enrolls another
/// device of its user.
async fn enroll_device<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let limit = ClientOperation::EnrollDevice.max_request_len();
    let bytes = read_body(&headers, body, limit).await?;
    let response = crate::enrollment::enroll_device(&provider, &bytes).await?;
    octet_stream(response.encode()?)
}

/// Reads and authenticates a client request for `operation`.
async fn authenticated<S: Storage>(
    provider: &Provider<S>,
    headers: &HeaderMap,
    body: Body,
    operation: ClientOperation,
) -> Result<AuthenticatedClient, ProviderError> {
    let bytes = read_body(headers, body, operation.max_request_len()).await?;
    clients::authenticate(provider, &bytes, operation).await
}

async fn fetch<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(&provider, &headers, body, ClientOperation::Fetch).await?;
    let request = FetchRequest::decode(client.body())?;
    let response = fetch_page(
        &provider,
        client.queue_id(),
        request.from_seq(),
        request.limit(),
    )
    .await?;
    octet_stream(response.encode()?)
}

/// Up to `limit` messages from `from_seq` on (fewer if they would not fit
/// one response), and how many wait from `from_seq` on.
async fn fetch_page<S: Storage>(
    provider: &Provider<S>,
    queue: QueueId,
    from_seq: u64,
    limit: u32,
) -> Result<FetchResponse, ProviderError> {
    let messages = provider.storage.fetch(queue, from_seq, limit).await?;
    let depth = provider.storage.depth_from(queue, from_seq).await?;
    // A concurrent ack may have deleted some of what was read: the depth
    // never counts less than what this page holds.
    let depth = depth.max(messages.len() as u64);
    Ok(FetchResponse::filled(
        messages
            .into_iter()
            .map(|(seq, message)| QueuedMessage::new(seq, message)),
        depth,
    ))
}

async fn ack<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(&provider, &headers, body, ClientOperation::Ack).await?;
    let request = AckRequest::decode(client.body())?;
    let deleted = provider
        .storage
        .ack(client.queue_id(), request.up_to_seq())
        .await?;
    octet_stream(AckResponse::new(deleted).encode()?)
}

async fn upload_key_packages<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(
        &provider,
        &headers,
        body,
        ClientOperation::UploadKeyPackages,
    )
    .await?;
    let request = UploadKeyPackagesRequest::decode(client.body())?;
    let response = kps::upload(&provider, &client, &request).await?;
    octet_stream(response.encode()?)
}

async fn key_package_count<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(&provider, &headers, body, ClientOperation::KeyPackageCount).await?;
    let request = KeyPackageCountRequest::decode(client.body())?;
    let record = client.record();
    let count = provider
        .storage
        .count(&record.user_id, &record.client_id, request.cipher_suite())
        .await?;
    octet_stream(KeyPackageCountResponse::new(count).encode()?)
}

/// `POST /client/v1/hub`: a request for a room's hub. Our own rooms are
/// served here; another provider's are forwarded in a signed S2S event, and
/// its answer (or refusal) relayed.
async fn hub<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(&provider, &headers, body, ClientOperation::Hub).await?;
    let request = HubRequest::decode(client.body())?;
    let answer = crate::ds::relay(&provider, &request).await?;
    octet_stream(answer)
}

/// `POST /client/v1/retire_queue_reference`: the client's provider refuses
/// from now on deliveries addressed with one of its queue references
/// (docs/wire-spec.md §11.5).
async fn retire_queue_reference<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let client = authenticated(
        &provider,
        &headers,
        body,
        ClientOperation::RetireQueueReference,
    )
    .await?;
    let request = RetireQueueReferenceRequest::decode(client.body())?;
    let response = crate::qs::retire_reference(&provider, &client, &request).await?;
    octet_stream(response.encode()?)
}

/// `GET /client/v1/listen`: a WebSocket on which the provider pushes the
/// client's queue, from the requested sequence number on, as `FetchResponse`
/// frames. The client acknowledges over `POST /client/v1/ack` as usual.
async fn listen<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ProviderError> {
    let value = headers.get(LISTEN_HEADER).ok_or_else(|| {
        ProviderError::Unauthenticated(format!(
            "send the signed listen request, base64url, in the {LISTEN_HEADER} header"
        ))
    })?;
    let value = value
        .to_str()
        .map_err(|_| ProviderError::Invalid(format!("the {LISTEN_HEADER} header is not ASCII")))?;
    let (request, device) =
        clients::check_request(&provider, ClientRequest::from_header_value(value)?)?;
    let client = clients::authenticate_decoded(&provider, request, device).await?;
    let from_seq = ListenRequest::decode(client.body())?.from_seq();
    let queue = client.queue_id();
    Ok(upgrade
        .on_upgrade(move |socket| push(provider, queue, from_seq, socket))
        .into_response())
}

/// Sends every message from `next` on, then each new one as it is committed,
/// until the client goes away.
async fn push<S: Storage>(
    provider: Arc<Provider<S>>,
    queue: QueueId,
    mut next: u64,
    mut socket: WebSocket,
) {
    let _open = provider.metrics.push_connection();
    // Subscribe before the first fetch, so that nothing committed in between
    // is missed.
    let mut subscription = provider.storage.watcher().subscribe(queue);
    loop {
        loop {
            let page = match fetch_page(&provider, queue, next, PUSH_BATCH).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "push: cannot read a queue; closing");
                    return;
                }
            };
            let Some(last) = page.messages().last().map(|m| m.seq()) else {
                break;
            };
            next = last + 1;
            let frame = match page.encode() {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::error!(error = %e, "push: cannot encode a frame; closing");
                    return;
                }
            };
            if socket.send(Message::Binary(frame.into())).await.is_err() {
                return;
            }
        }
        tokio::select! {
            changed = subscription.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // §13.6: the client sends no data; acks go over POST.
                Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                    let close = CloseFrame {
                        code: close_code::POLICY,
                        reason: "send no data frames; acknowledge with POST /client/v1/ack".into(),
                    };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return;
                }
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep(KEEPALIVE) => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}
