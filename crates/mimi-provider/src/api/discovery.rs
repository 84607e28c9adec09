//! `/.well-known/mimi/keys`: key-material discovery (docs/key-discovery.md).
//! `GET` with the query string for anonymous searchers; `POST` of a signed
//! `S2SMessage` (event `mimi.discovery.key-query`, body = the query string)
//! for searchers that prove their domain. And `/.well-known/mimi/crls`:
//! the CRLs this provider relays (`revocation`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use mimi_storage::Storage;
use mimi_transport::https::PeerAddr;
use mimi_transport::{read_body, receive_unrecorded};
use mimi_wire::EventKind;
use mimi_wire::crls::{CRL_BUNDLE_MEDIA_TYPE, CRL_BUNDLE_PATH};

use crate::discovery::{self, KeyQuery, Searcher};
use crate::error::ProviderError;
use crate::state::{Provider, now_ms};

/// The discovery URL's path.
pub const KEYS_PATH: &str = "/.well-known/mimi/keys";

pub(crate) fn routes<S: Storage>() -> Router<Arc<Provider<S>>> {
    Router::new()
        .route(KEYS_PATH, get(anonymous::<S>).post(signed::<S>))
        .route(CRL_BUNDLE_PATH, get(crls::<S>))
}

/// `GET /.well-known/mimi/crls`: the relayed CRLs as a `CrlBundle`
/// (docs/wire-spec.md §15), cacheable until the earliest nextUpdate and at
/// most one refresh interval. Public: CRLs are signed by their issuers.
async fn crls<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
) -> Result<Response, ProviderError> {
    let (bytes, max_age) = provider.crls.bundle(std::time::SystemTime::now())?;
    Ok((
        [
            (CONTENT_TYPE, CRL_BUNDLE_MEDIA_TYPE.to_owned()),
            (CACHE_CONTROL, format!("public, max-age={max_age}")),
        ],
        bytes,
    )
        .into_response())
}

async fn anonymous<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    peer: Option<Extension<PeerAddr>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ProviderError> {
    let query = KeyQuery::parse(query.as_deref().unwrap_or(""))?;
    let addr = super::peer_ip(peer);
    let answer = discovery::answer(&provider, &query, &Searcher::Anonymous(addr), None).await?;
    Ok(Json(answer).into_response())
}

async fn signed<S: Storage>(
    State(provider): State<Arc<Provider<S>>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ProviderError> {
    let p = &*provider;
    let bytes = read_body(&headers, body, discovery::MAX_QUERY_LEN + 1024).await?;
    let checked = receive_unrecorded(
        &bytes,
        EventKind::KeyQuery,
        &p.transport,
        &p.s2s_limiter,
        &p.key_cache,
        now_ms(),
    )
    .await?;
    let query = std::str::from_utf8(checked.envelope().body())
        .map_err(|_| ProviderError::Invalid("the key query is not UTF-8".into()))?;
    let query = KeyQuery::parse(query)?;
    let searcher = Searcher::Domain(checked.peer().domain().to_string());
    let answer = discovery::answer(p, &query, &searcher, Some(checked.replay_record())).await?;
    Ok(Json(answer).into_response())
}
