//! Sending a signed event to another provider.

use axum::http::header::CONTENT_TYPE;
use mimi_identifiers::Domain;
use mimi_wire::{Event, EventEnvelope, EventKind, ProtocolVersion, S2SMessage, SigningKey};

use crate::cache::Discovery;
use crate::error::TransportError;
use crate::receive::OCTET_STREAM;

/// Wraps `body` in a fresh [`EventEnvelope`] (random ID, created `now_ms`), signs
/// the `S2SMessage` from `me` to `recipient` with `key`, discovers the
/// recipient's DS domain (cached in `discovery`) and POSTs the message to
/// `https://<ds-domain>/<endpoint of kind>`.
///
/// Returns the peer's response whatever its status: the caller decides whether
/// to retry (5xx) or give up (4xx; the body says why). A retry should resend the
/// same bytes, which [`send_bytes`] does; a new `send` is a new event.
#[allow(clippy::too_many_arguments)] // Each is a separate input of one send.
pub async fn send(
    client: &reqwest::Client,
    discovery: &Discovery,
    me: &Domain,
    recipient: &Domain,
    kind: EventKind,
    body: Vec<u8>,
    key: &SigningKey,
    now_ms: u64,
) -> Result<reqwest::Response, TransportError> {
    let envelope = EventEnvelope::new(body, now_ms)?;
    let event = Event::with_envelope(kind, &envelope)?;
    let bytes = S2SMessage::sign(ProtocolVersion::Mimi10, me, recipient, event, key)?.encode()?;
    send_bytes(client, discovery, recipient, kind, bytes, now_ms).await
}

/// POSTs already-signed `bytes` to the endpoint of `kind` at `recipient`'s DS
/// domain (discovered and cached in `discovery`).
pub async fn send_bytes(
    client: &reqwest::Client,
    discovery: &Discovery,
    recipient: &Domain,
    kind: EventKind,
    bytes: Vec<u8>,
    now_ms: u64,
) -> Result<reqwest::Response, TransportError> {
    let ds = discovery.ds_domain(recipient, now_ms).await?;
    let url = format!("https://{}{}", ds.as_str(), kind.endpoint_path());
    client
        .post(&url)
        .header(CONTENT_TYPE, OCTET_STREAM)
        .body(bytes)
        .send()
        .await
        .map_err(|e| TransportError::Request {
            url,
            detail: e.to_string(),
        })
}
