//! Requests this provider sends to other providers: signed `S2SMessage`s
//! (draft-kohbrok-mimi-transport §3) to their S2S endpoints. The hub's
//! fan-out and a client's "add this user" both go through here.

use axum::http::StatusCode;
use mimi_identifiers::{Domain, UserId};
use mimi_storage::Storage;
use mimi_transport::TransportError;
use mimi_wire::{
    DeliverMessageRequest, DeliverMessageResponse, EventEnvelope, EventKind,
    GroupKeyPackageRequest, GroupKeyPackageResponse, ProtocolVersion, QueueingServiceRequest,
    QueueingServiceResponse, S2SMessage, WireError,
};

use crate::state::{Provider, now_ms};

/// Largest answer body read from a peer: a full `GroupKeyPackageResponse`
/// (64 KeyPackages of 64 KiB) with room to spare.
const MAX_ANSWER_LEN: usize = 8 << 20;

/// Why a request to another provider did not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// We could not sign, discover or connect.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The peer refused the request; `kind` and `detail` are its problem
    /// document's (`urn:mimi:problem:<kind>`; empty if it sent none).
    #[error("{peer} answered {status}: {detail}")]
    Refused {
        peer: Domain,
        status: StatusCode,
        kind: String,
        detail: String,
    },
    /// The peer answered 200 with a body we cannot read.
    #[error("{peer} sent an unreadable answer: {detail}")]
    BadAnswer { peer: Domain, detail: String },
}

/// A signed event, ready to be sent (and resent byte for byte: a retry keeps
/// the event's message ID, so the receiver applies it at most once).
#[derive(Debug, Clone)]
pub struct SignedEvent {
    pub recipient: Domain,
    pub kind: EventKind,
    pub bytes: Vec<u8>,
}

impl<S: Storage> Provider<S> {
    /// Wraps `body` in a fresh envelope and signs it for `recipient`.
    pub fn sign_event(
        &self,
        recipient: &Domain,
        kind: EventKind,
        body: Vec<u8>,
    ) -> Result<SignedEvent, SendError> {
        let envelope = EventEnvelope::new(body, now_ms()).map_err(TransportError::from)?;
        self.sign_envelope(recipient, kind, &envelope)
    }

    /// Wraps `body` in an envelope with a given message ID (a retry of an
    /// event, freshly dated and signed) and signs it for `recipient`.
    pub fn sign_event_with_id(
        &self,
        recipient: &Domain,
        kind: EventKind,
        body: Vec<u8>,
        message_id: [u8; mimi_wire::MESSAGE_ID_LEN],
    ) -> Result<SignedEvent, SendError> {
        let envelope = EventEnvelope::with_id(message_id, body, now_ms());
        self.sign_envelope(recipient, kind, &envelope)
    }

    fn sign_envelope(
        &self,
        recipient: &Domain,
        kind: EventKind,
        envelope: &EventEnvelope,
    ) -> Result<SignedEvent, SendError> {
        let event =
            mimi_wire::Event::with_envelope(kind, envelope).map_err(TransportError::from)?;
        let key = self.signing_key.current();
        let bytes = S2SMessage::sign(
            ProtocolVersion::Mimi10,
            &self.settings.domain,
            recipient,
            event,
            &key,
        )
        .and_then(|m| m.encode())
        .map_err(TransportError::from)?;
        Ok(SignedEvent {
            recipient: recipient.clone(),
            kind,
            bytes,
        })
    }

    /// POSTs a signed event and returns the body of a 200 answer.
    pub async fn post(&self, event: &SignedEvent) -> Result<Vec<u8>, SendError> {
        let response = mimi_transport::send_bytes(
            &self.http,
            &self.discovery,
            &event.recipient,
            event.kind,
            event.bytes.clone(),
            now_ms(),
        )
        .await?;
        let status = response.status();
        let body = read_limited(response, &event.recipient).await?;
        if status != StatusCode::OK {
            let (kind, detail) = problem_kind_and_detail(&body);
            return Err(SendError::Refused {
                peer: event.recipient.clone(),
                status,
                kind,
                detail,
            });
        }
        Ok(body)
    }

    /// §5.9: asks `user`'s provider for one KeyPackage per client of `user`.
    pub async fn claim_key_packages(
        &self,
        user: &UserId,
        cipher_suite: u16,
    ) -> Result<GroupKeyPackageResponse, SendError> {
        let peer = user.domain().cloned().ok_or_else(|| SendError::BadAnswer {
            peer: self.settings.domain.clone(),
            detail: "the user ID has no domain".into(),
        })?;
        let request = GroupKeyPackageRequest::for_user(user, cipher_suite).map_err(wire(&peer))?;
        let event = self.sign_event(
            &peer,
            EventKind::GroupKeyPackages,
            request.encode().map_err(wire(&peer))?,
        )?;
        let answer = self.post(&event).await?;
        GroupKeyPackageResponse::decode(&answer).map_err(wire(&peer))
    }

    /// §5.7: hands `request` to `peer`'s queueing service.
    pub async fn deliver_to(
        &self,
        peer: &Domain,
        request: DeliverMessageRequest,
    ) -> Result<DeliverMessageResponse, SendError> {
        let mut message_id = [0u8; mimi_wire::MESSAGE_ID_LEN];
        aws_lc_rs::rand::fill(&mut message_id).map_err(|_| SendError::BadAnswer {
            peer: self.settings.domain.clone(),
            detail: "the system random number generator failed".into(),
        })?;
        self.deliver_to_with_id(peer, request, message_id).await
    }

    /// §5.7 with a given event ID: the hub's outbox retries an entry under
    /// the same ID, so that the peer stores it at most once.
    pub async fn deliver_to_with_id(
        &self,
        peer: &Domain,
        request: DeliverMessageRequest,
        message_id: [u8; mimi_wire::MESSAGE_ID_LEN],
    ) -> Result<DeliverMessageResponse, SendError> {
        let body = QueueingServiceRequest::DeliverMessage(request)
            .encode()
            .map_err(wire(peer))?;
        let event = self.sign_event_with_id(peer, EventKind::DeliverMessage, body, message_id)?;
        let answer = self.post(&event).await?;
        match QueueingServiceResponse::decode(&answer).map_err(wire(peer))? {
            QueueingServiceResponse::DeliverMessage(response) => Ok(response),
            #[allow(unreachable_patterns)]
            _ => Err(SendError::BadAnswer {
                peer: peer.clone(),
                detail: "the answer is not a DeliverMessageResponse".into(),
            }),
        }
    }
}

fn wire(peer: &Domain) -> impl Fn(WireError) -> SendError + '_ {
    move |e| SendError::BadAnswer {
        peer: peer.clone(),
        detail: e.to_string(),
    }
}

/// Reads at most [`MAX_ANSWER_LEN`] bytes of an answer.
async fn read_limited(
    mut response: reqwest::Response,
    peer: &Domain,
) -> Result<Vec<u8>, SendError> {
    let too_long = || SendError::BadAnswer {
        peer: peer.clone(),
        detail: format!("the answer is longer than {MAX_ANSWER_LEN} bytes"),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_LEN as u64)
    {
        return Err(too_long());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| SendError::BadAnswer {
        peer: peer.clone(),
        detail: format!("the answer broke off: {e}"),
    })? {
        if body.len() + chunk.len() > MAX_ANSWER_LEN {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The kind (`urn:mimi:problem:<kind>`) and `detail` of a problem document,
/// or no kind and the body as text.
fn problem_kind_and_detail(body: &[u8]) -> (String, String) {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|v| v.get(name))
            .and_then(|d| d.as_str())
            .map(str::to_string)
    };
    let kind = field("type")
        .and_then(|t| t.strip_prefix("urn:mimi:problem:").map(str::to_string))
        .unwrap_or_default();
    let detail = field("detail")
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned());
    (kind, detail)
}
