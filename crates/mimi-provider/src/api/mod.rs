//! HTTP: the one place where requests become calls into `qs`, `kps` and
//! `clients`, and errors become problem documents (`ProviderError`).
//!
//! - [`s2s`]: the draft's S2S endpoints (§5.6-5.9), bodies checked by
//!   `mimi_transport` first;
//! - [`client`]: the signed client API and WebSocket push;
//! - [`discovery`]: key-material discovery at `/.well-known/mimi/keys`
//!   and the relayed CRLs at `/.well-known/mimi/crls`;
//! - `/signature_key`, `/verification_key` and `/.well-known/mimi/ds-domain`
//!   from `mimi_transport::key_routes`;
//! - [`metrics_router`]: `/metrics`, served on its own (private) listener.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mimi_storage::Storage;
use mimi_transport::OCTET_STREAM;

use crate::error::ProviderError;
use crate::metrics;
use crate::state::Provider;

pub mod client;
pub mod discovery;
mod s2s;

/// Every public route of the provider.
pub fn router<S: Storage>(provider: Arc<Provider<S>>) -> Router {
    let metrics = provider.metrics.clone();
    Router::new()
        .merge(s2s::routes())
        .merge(client::routes())
        .merge(discovery::routes())
        .with_state(provider.clone())
        .merge(mimi_transport::key_routes(provider.served_keys.clone()))
        .layer(middleware::from_fn_with_state(metrics, metrics::track))
}

/// `GET /metrics` in the Prometheus text format.
pub fn metrics_router<S: Storage>(provider: Arc<Provider<S>>) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics::<S>))
        .with_state(provider)
}

async fn render_metrics<S: Storage>(State(provider): State<Arc<Provider<S>>>) -> Response {
    let depth = match provider.storage.total_depth().await {
        Ok(depth) => Some(depth),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the queue depth");
            None
        }
    };
    let mut text = provider.metrics.render(depth);
    match provider.storage.outbox_depth().await {
        Ok(outbox) => metrics::render_outbox(&mut text, &outbox),
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the hub's outbox"),
    }
    provider
        .crls
        .render_metrics(&mut text, std::time::SystemTime::now());
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The IP address (not the port: rate limits count per address) of the
/// connection a request came on. Behind no listener of ours is a request
/// without one; such requests are counted together rather than not at all.
pub(crate) fn peer_ip(peer: Option<axum::Extension<mimi_transport::https::PeerAddr>>) -> String {
    peer.map_or_else(
        || "unknown".to_string(),
        |axum::Extension(mimi_transport::https::PeerAddr(addr))| addr.ip().to_string(),
    )
}

/// A 200 answer with a TLS-encoded body.
pub(crate) fn octet_stream(bytes: Vec<u8>) -> Result<Response, ProviderError> {
    Ok(([(CONTENT_TYPE, OCTET_STREAM)], bytes).into_response())
}
