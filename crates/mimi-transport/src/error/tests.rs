use axum::body::to_bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mimi_identifiers::Domain;
use mimi_storage::StorageError;
use mimi_wire::WireError;

use super::{TransportError, problem_response, problem_title};

/// Status, Content-Type, Retry-After and the parsed body of a response.
async fn parts(response: Response) -> (u16, String, Option<String>, serde_json::Value) {
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap();
    let retry_after = header("retry-after");
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (
        status,
        content_type,
        retry_after,
        serde_json::from_slice(&body).unwrap(),
    )
}

#[test]
fn titles_are_the_kind_in_words() {
    for (kind, title) in [
        ("not-implemented", "Not implemented"),
        ("replay", "Replay"),
        ("key-not-yet-valid", "Key not yet valid"),
        ("", ""),
    ] {
        assert_eq!(problem_title(kind), title);
    }
}

#[tokio::test]
async fn a_problem_response_is_an_rfc_9457_document() {
    let response = problem_response(
        StatusCode::NOT_IMPLEMENTED,
        "not-implemented",
        "/connection_request is not implemented \"yet\"".to_string(),
    );
    let (status, content_type, retry_after, body) = parts(response).await;
    assert_eq!(
        (status, content_type.as_str()),
        (501, "application/problem+json")
    );
    assert_eq!(retry_after, None);
    assert_eq!(
        body,
        serde_json::json!({
            "type": "urn:mimi:problem:not-implemented",
            "title": "Not implemented",
            "status": 501,
            "detail": "/connection_request is not implemented \"yet\"",
        })
    );
}

#[tokio::test]
async fn rate_limits_keep_retry_after() {
    let error = TransportError::RateLimited {
        sender: Domain::parse("a.example").unwrap(),
        endpoint: "group-operation".into(),
        retry_after_secs: 7,
    };
    let detail = error.to_string();
    let (status, content_type, retry_after, body) = parts(error.into_response()).await;
    assert_eq!(status, 429);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(retry_after.as_deref(), Some("7"));
    assert_eq!(body["type"], "urn:mimi:problem:rate-limited");
    assert_eq!(body["title"], "Rate limited");
    assert_eq!(body["status"], 429);
    assert_eq!(body["detail"], detail.as_str());
}

#[tokio::test]
async fn database_failures_are_not_detailed_to_the_peer() {
    let error = TransportError::Storage(StorageError::Corrupt("table secrets".into()));
    let (status, _, _, body) = parts(error.into_response()).await;
    assert_eq!(status, 500);
    assert_eq!(body["type"], "urn:mimi:problem:storage-failed");
    assert_eq!(
        body["detail"],
        "the receiver could not record the event; nothing was accepted, retry later"
    );
}

#[test]
fn every_error_has_its_status_and_problem_type() {
    let a = || Domain::parse("a.example").unwrap();
    let cases: Vec<(TransportError, u16, &str)> = vec![
        (
            WireError::Truncated { what: "S2SMessage" }.into(),
            400,
            "truncated",
        ),
        (
            WireError::UnsupportedVersion { version: 2 }.into(),
            400,
            "unsupported-version",
        ),
        (
            WireError::TooLong {
                what: "S2SMessage",
                len: 2,
                max: 1,
            }
            .into(),
            413,
            "too-long",
        ),
        (
            WireError::BadSignature { sender: a() }.into(),
            403,
            "bad-signature",
        ),
        (
            WireError::StaleEvent {
                created_at_ms: 0,
                now_ms: 1,
                skew_ms: 0,
            }
            .into(),
            403,
            "stale-event",
        ),
        (
            WireError::UnknownSenderKey { sender: a() }.into(),
            502,
            "keys-unavailable",
        ),
        (WireError::Signing.into(), 500, "internal-error"),
        (
            TransportError::WrongContentType {
                found: "missing".into(),
            },
            415,
            "wrong-content-type",
        ),
        (
            TransportError::BodyTooLarge { max: 1 },
            413,
            "body-too-large",
        ),
        (
            TransportError::WrongEndpoint {
                found: "x".into(),
                expected: "y".into(),
            },
            400,
            "wrong-endpoint",
        ),
        (
            TransportError::Replay {
                sender: a(),
                message_id: "00".into(),
            },
            409,
            "replay",
        ),
        (
            TransportError::KeysUnavailable {
                domain: a(),
                detail: "down".into(),
            },
            502,
            "keys-unavailable",
        ),
        (
            TransportError::Request {
                url: "https://a.example/".into(),
                detail: "refused".into(),
            },
            502,
            "request-failed",
        ),
    ];
    for (error, status, kind) in cases {
        assert_eq!(error.status().as_u16(), status, "{error}");
        assert_eq!(error.problem_kind(), kind, "{error}");
    }
}
