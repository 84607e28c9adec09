//! Every endpoint against bad input: the exact status and problem type
//! (docs/wire-spec.md §10, §13.4, §13.7) and no state change, asserted on
//! the provider's tables (clients, handles, queues, messages, KeyPackages,
//! replay records).
//!
//! "Wrong version", "wrong recipient" and "unknown sender key" are S2S
//! checks (the client API has no version or recipient field, and a client's
//! key is the one it registered); "unregistered device", "wrong key" and
//! "stale timestamp" are client-API checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_identifiers::Domain;
use mimi_provider::config::LimitConfig;
use mimi_provider::testing::{
    Backend, Reply, TestClient, TestError, TestFederation, TestProvider, now_ms,
};
use mimi_transport::OCTET_STREAM;
use mimi_wire::{
    AckRequest, ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs,
    DeliverMessageRequest, Event, EventEnvelope, EventKind, FetchRequest, GroupKeyPackageRequest,
    KeyPackageCountRequest, ListenRequest, ProtocolVersion, QueueingServiceRequest, S2SMessage,
    SigningKey, UploadKeyPackagesRequest,
};

use crate::harness::{assert_problem, both_backends};

both_backends!(
    s2s_endpoints_refuse_bad_input_and_change_nothing,
    s2s_endpoints_answer_429_over_their_rate_limit,
    client_endpoints_refuse_bad_input_and_change_nothing,
    client_endpoints_answer_429_over_their_rate_limit,
    registrations_answer_429_over_the_per_address_limit,
);

const KEYS_PATH: &str = "/.well-known/mimi/keys";
const TEN_MINUTES_MS: u64 = 10 * 60 * 1000;

fn domain(name: &str) -> Domain {
    name.parse().unwrap()
}

// --- S2S ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum S2s {
    Deliver,
    Claim,
    KeyQuery,
}

impl S2s {
    const ALL: [S2s; 3] = [S2s::Deliver, S2s::Claim, S2s::KeyQuery];

    fn path(self) -> &'static str {
        match self {
            S2s::Deliver => "/deliver_message",
            S2s::Claim => "/group_key_packages",
            S2s::KeyQuery => KEYS_PATH,
        }
    }

    fn kind(self) -> EventKind {
        match self {
            S2s::Deliver => EventKind::DeliverMessage,
            S2s::Claim => EventKind::GroupKeyPackages,
            S2s::KeyQuery => EventKind::KeyQuery,
        }
    }

    /// A body the endpoint accepts, concerning `bob` at `b`.
    fn body(self, b: &TestProvider, bob: &TestClient) -> Vec<u8> {
        match self {
            S2s::Deliver => {
                let sealed =
                    mimi_mls::seal_queue_id(&b.queue_key(), "b.example", &bob.queue_id().unwrap())
                        .unwrap();
                QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
                    b"mls".to_vec(),
                    vec![sealed],
                ))
                .encode()
                .unwrap()
            }
            S2s::Claim => GroupKeyPackageRequest::for_user(bob.user_id(), 1)
                .unwrap()
                .encode()
                .unwrap(),
            S2s::KeyQuery => b"type=key_packages&user=mimi://b.example/u/bob".to_vec(),
        }
    }

    /// The body bound the provider reads up to.
    fn max_len(self) -> usize {
        match self {
            S2s::Deliver | S2s::Claim => mimi_wire::qs::MAX_S2S_MESSAGE_LEN,
            S2s::KeyQuery => mimi_provider::discovery::MAX_QUERY_LEN + 1024,
        }
    }
}

/// What is posted: the bytes, the content type, and what must come back.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    content_type: &'static str,
    status: u16,
    kind: &'static str,
}

/// A message signed by a domain whose keys cannot be fetched.
fn from_unreachable(kind: EventKind, body: Vec<u8>) -> Vec<u8> {
    let key = SigningKey::from_pkcs8(&SigningKey::generate_pkcs8().unwrap()).unwrap();
    let envelope = EventEnvelope::new(body, now_ms()).unwrap();
    let event = Event::with_envelope(kind, &envelope).unwrap();
    S2SMessage::sign(
        ProtocolVersion::Mimi10,
        &domain("z.example"),
        &domain("b.example"),
        event,
        &key,
    )
    .unwrap()
    .encode()
    .unwrap()
}

fn s2s_cases(endpoint: S2s, a: &TestProvider, b: &TestProvider, bob: &TestClient) -> Vec<Case> {
    let signed = |to: &str| {
        a.sign_event(&domain(to), endpoint.kind(), endpoint.body(b, bob))
            .unwrap()
            .bytes
    };
    let case = |name, bytes, status, kind| Case {
        name,
        bytes,
        content_type: OCTET_STREAM,
        status,
        kind,
    };
    let good = signed("b.example");
    let mut wrong_version = good.clone();
    wrong_version[..2].copy_from_slice(&[0x00, 0x07]);
    let mut bad_signature = good.clone();
    *bad_signature.last_mut().unwrap() ^= 0x01;
    // The signature is the last field: 0x40 0x40 and 64 bytes. Replace it
    // with an empty vector.
    let mut no_signature = good[..good.len() - 66].to_vec();
    no_signature.push(0x00);
    let other_endpoint = if endpoint == S2s::Claim {
        S2s::Deliver
    } else {
        S2s::Claim
    };
    let wrong_endpoint = a
        .sign_event(
            &domain("b.example"),
            other_endpoint.kind(),
            other_endpoint.body(b, bob),
        )
        .unwrap()
        .bytes;
    // Authentic, but the event's body is not the endpoint's request: refused
    // before the event is recorded.
    let bad_body = a
        .sign_event(&domain("b.example"), endpoint.kind(), vec![0xff, 0x00])
        .unwrap()
        .bytes;
    let bad_body_kind = if endpoint == S2s::KeyQuery {
        "invalid"
    } else {
        "malformed"
    };
    vec![
        case(
            "not TLS-encoded",
            b"\x00\x01\x09a.ex".to_vec(),
            400,
            "truncated",
        ),
        case(
            "a body that is not the request",
            bad_body,
            400,
            bad_body_kind,
        ),
        case("wrong version", wrong_version, 400, "unsupported-version"),
        case(
            "for another recipient",
            signed("c.example"),
            403,
            "wrong-recipient",
        ),
        case("bad signature", bad_signature, 403, "bad-signature"),
        // An empty signature decodes, and verifies under no key.
        case("no signature", no_signature, 403, "bad-signature"),
        case(
            "unknown sender key",
            from_unreachable(endpoint.kind(), endpoint.body(b, bob)),
            502,
            "keys-unavailable",
        ),
        case(
            "another endpoint's event",
            wrong_endpoint,
            400,
            "wrong-endpoint",
        ),
        Case {
            name: "wrong content type",
            bytes: good,
            content_type: "application/json",
            status: 415,
            kind: "wrong-content-type",
        },
    ]
}

/// A federation where b.example has bob, with a queue and KeyPackages.
async fn bob_at_b(fed: &TestFederation) -> TestClient {
    let bob = fed.client("b.example", "bob", "phone").unwrap();
    bob.register(Some("@bob")).await.unwrap();
    bob.upload_key_packages(3, false).await.unwrap();
    bob
}

async fn s2s_endpoints_refuse_bad_input_and_change_nothing(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example", "c.example"], backend)
        .unreachable("z.example")
        .run(|fed| async move {
            let bob = bob_at_b(&fed).await;
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            for endpoint in S2s::ALL {
                for case in s2s_cases(endpoint, a, b, &bob) {
                    let before = b.row_counts().await.unwrap();
                    let reply = fed
                        .post_raw("b.example", endpoint.path(), case.content_type, case.bytes)
                        .await
                        .unwrap();
                    let context = format!("{endpoint:?}, {}", case.name);
                    let problem = reply.problem().unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(
                        (problem.status, problem.kind.as_str()),
                        (case.status, case.kind),
                        "{context}: {}",
                        problem.detail
                    );
                    assert_eq!(b.row_counts().await.unwrap(), before, "{context}");
                }
                let before = b.row_counts().await.unwrap();
                let oversized = fed
                    .post_declared_length(
                        "b.example",
                        endpoint.path(),
                        OCTET_STREAM,
                        endpoint.max_len() as u64 + 1,
                    )
                    .await
                    .unwrap();
                assert_problem(&oversized, 413, "body-too-large");
                assert_eq!(
                    b.row_counts().await.unwrap(),
                    before,
                    "{endpoint:?} oversized"
                );
                // A replay: accepted once, refused the second time, and the
                // second changes nothing.
                let event = a
                    .sign_event(b.domain(), endpoint.kind(), endpoint.body(b, &bob))
                    .unwrap();
                let first = fed
                    .post_raw(
                        "b.example",
                        endpoint.path(),
                        OCTET_STREAM,
                        event.bytes.clone(),
                    )
                    .await
                    .unwrap();
                assert_eq!(first.status, 200, "{endpoint:?}: {first}");
                let before = b.row_counts().await.unwrap();
                let second = fed
                    .post_raw("b.example", endpoint.path(), OCTET_STREAM, event.bytes)
                    .await
                    .unwrap();
                assert_problem(&second, 409, "replay");
                assert_eq!(b.row_counts().await.unwrap(), before, "{endpoint:?} replay");
            }
        })
        .await;
}

async fn s2s_endpoints_answer_429_over_their_rate_limit(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .configure(|_, config| {
            config.rate_limits.s2s_endpoint = LimitConfig {
                burst: 1,
                per_second: 0.001,
            };
        })
        .run(|fed| async move {
            let bob = bob_at_b(&fed).await;
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            for endpoint in S2s::ALL {
                let post = |bytes| fed.post_raw("b.example", endpoint.path(), OCTET_STREAM, bytes);
                let sign = || {
                    a.sign_event(b.domain(), endpoint.kind(), endpoint.body(b, &bob))
                        .unwrap()
                        .bytes
                };
                let first = post(sign()).await.unwrap();
                assert_eq!(first.status, 200, "{endpoint:?}: {first}");
                let before = b.row_counts().await.unwrap();
                let refused = post(sign()).await.unwrap();
                assert_problem(&refused, 429, "rate-limited");
                let retry_after: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
                assert!(retry_after >= 1, "{endpoint:?}");
                assert_eq!(b.row_counts().await.unwrap(), before, "{endpoint:?}");
            }
        })
        .await;
}

// --- Client API ----------------------------------------------------------------

/// Every client operation that can succeed without a room at the hub. The
/// `hub` operation's refusals are tested with real rooms (tests/it/hub.rs);
/// here its request is only the body that an authenticated-but-roomless
/// request gets (404), used where a refusal is expected anyway.
///
/// The enrollment operations need a domain CA (these providers have no
/// `[enrollment]` and answer 501): tests/it/enrollment.rs covers them.
fn operations_with_a_room_free_success() -> impl Iterator<Item = ClientOperation> {
    ClientOperation::ALL.into_iter().filter(|op| {
        !matches!(
            op,
            ClientOperation::Hub | ClientOperation::EnrollUser | ClientOperation::EnrollDevice
        )
    })
}

/// A body `client` may send to the endpoint of `operation`.
fn valid_body(operation: ClientOperation, client: &TestClient) -> ClientRequestBody {
    match operation {
        ClientOperation::Register => client.register_request(None).unwrap().into(),
        ClientOperation::Fetch => FetchRequest::new(1, 10).into(),
        ClientOperation::Ack => AckRequest::new(0).into(),
        // A client that never registered has no queue to seal: its request is
        // refused before the KeyPackages are looked at.
        ClientOperation::UploadKeyPackages => UploadKeyPackagesRequest::new(
            vec![
                client
                    .key_package(|_| {})
                    .map_or_else(|_| b"not registered".to_vec(), |kp| kp.bytes),
            ],
            false,
        )
        .into(),
        ClientOperation::KeyPackageCount => KeyPackageCountRequest::new(1).into(),
        ClientOperation::Listen => ListenRequest::new(1).into(),
        ClientOperation::EnrollUser => mimi_wire::client_api::EnrollUserRequest::new(
            "",
            client.key().public_key().spki_der().to_vec(),
        )
        .into(),
        ClientOperation::EnrollDevice => mimi_wire::client_api::EnrollDeviceRequest::new(
            client.device_id(),
            client.key().public_key().spki_der().to_vec(),
        )
        .unwrap()
        .into(),
        // A fresh reference to the client's own queue, which it may retire;
        // a client that never registered has none, and its request is
        // refused before the body is looked at.
        ClientOperation::RetireQueueReference => {
            mimi_wire::client_api::RetireQueueReferenceRequest::new(
                client.sealed_queue_reference().map_or_else(
                    |_| mimi_wire::HpkeCiphertext::new(vec![1; 32], vec![2; 32]),
                    |r| r.into_parts().1,
                ),
            )
            .into()
        }
        // A message for a room that does not exist: refused by the hub once
        // the request is authenticated.
        ClientOperation::Hub => {
            let request = mimi_wire::ds::DSRequest::new(
                mimi_wire::ds::DSRequestBody::new(
                    b"no such room".to_vec(),
                    1,
                    mimi_wire::ds::DSOperation::send_message(vec![1]),
                )
                .unwrap(),
                0,
                vec![1; 64],
            );
            mimi_wire::client_api::HubRequest::new(
                client.domain(),
                mimi_wire::client_api::HubEndpoint::GroupOperation,
                request.encode().unwrap(),
            )
            .into()
        }
    }
}

/// Sends `bytes` to the endpoint of `operation`: a POST, or for `listen` the
/// WebSocket upgrade with the bytes in the header. Returns the answer of a
/// refusal; `None` if a `listen` was upgraded.
async fn send(client: &TestClient, operation: ClientOperation, bytes: Vec<u8>) -> Option<Reply> {
    if operation != ClientOperation::Listen {
        return Some(client.post(operation, bytes).await.unwrap());
    }
    match client
        .listen_with(Some(URL_SAFE_NO_PAD.encode(bytes)))
        .await
    {
        Ok(listener) => {
            listener.close().await;
            None
        }
        Err(TestError::Refused(reply)) => Some(reply),
        Err(e) => panic!("listen: {e}"),
    }
}

fn signed_at(
    client: &TestClient,
    key: &mimi_credentials::KeyPair,
    at_ms: u64,
    body: ClientRequestBody,
) -> Vec<u8> {
    let tbs = ClientRequestTbs::new(client.device_id(), at_ms, body).unwrap();
    client.sign_with(key, tbs).unwrap().encode().unwrap()
}

struct ClientCase {
    name: &'static str,
    bytes: Vec<u8>,
    status: u16,
    kind: &'static str,
}

fn client_cases(
    operation: ClientOperation,
    bob: &TestClient,
    stranger: &TestClient,
    foreigner: &TestClient,
) -> Vec<ClientCase> {
    let other_key = mimi_credentials::KeyPair::generate(Default::default()).unwrap();
    let now = now_ms();
    let good = bob.signed(valid_body(operation, bob)).unwrap();
    let mut bad_signature = good.clone();
    *bad_signature.last_mut().unwrap() ^= 0x01;
    let tbs = ClientRequestTbs::new(bob.device_id(), now, valid_body(operation, bob)).unwrap();
    // An encoded TBS followed by an empty signature vector.
    let mut no_signature = tbs.encode().unwrap();
    no_signature.push(0x00);
    let other_operation = if operation == ClientOperation::Fetch {
        ClientOperation::Ack
    } else {
        ClientOperation::Fetch
    };
    let case = |name, bytes, status, kind| ClientCase {
        name,
        bytes,
        status,
        kind,
    };
    let mut cases = vec![
        case("not TLS-encoded", b"\x05mimi:".to_vec(), 400, "malformed"),
        case(
            "another operation",
            bob.signed(valid_body(other_operation, bob)).unwrap(),
            400,
            "malformed",
        ),
        case("bad signature", bad_signature, 401, "unauthenticated"),
        case("no signature", no_signature, 400, "malformed"),
        case(
            "wrong key",
            signed_at(bob, &other_key, now, valid_body(operation, bob)),
            401,
            "unauthenticated",
        ),
        case(
            "stale timestamp",
            signed_at(
                bob,
                bob.key(),
                now - TEN_MINUTES_MS,
                valid_body(operation, bob),
            ),
            403,
            "forbidden",
        ),
        case(
            "future timestamp",
            signed_at(
                bob,
                bob.key(),
                now + TEN_MINUTES_MS,
                valid_body(operation, bob),
            ),
            403,
            "forbidden",
        ),
        case(
            "a device of another domain",
            foreigner.signed(valid_body(operation, foreigner)).unwrap(),
            400,
            "invalid",
        ),
    ];
    if operation != ClientOperation::Register {
        cases.push(case(
            "unregistered device",
            stranger.signed(valid_body(operation, stranger)).unwrap(),
            401,
            "unauthenticated",
        ));
    }
    cases
}

async fn client_endpoints_refuse_bad_input_and_change_nothing(backend: Backend) {
    TestFederation::builder(&["b.example", "c.example"], backend)
        .run(|fed| async move {
            let bob = bob_at_b(&fed).await;
            // Not registered: its KeyPackages seal a queue ID it never got.
            let stranger = fed.client("b.example", "eve", "phone").unwrap();
            let foreigner = fed.client("c.example", "carol", "phone").unwrap();
            foreigner.register(None).await.unwrap();
            let b = fed.provider("b.example");
            for operation in operations_with_a_room_free_success() {
                for case in client_cases(operation, &bob, &stranger, &foreigner) {
                    let context = format!("{}, {}", operation.as_str(), case.name);
                    let before = b.row_counts().await.unwrap();
                    let reply = send(&bob, operation, case.bytes)
                        .await
                        .unwrap_or_else(|| panic!("{context}: accepted"));
                    let problem = reply.problem().unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(
                        (problem.status, problem.kind.as_str()),
                        (case.status, case.kind),
                        "{context}: {}",
                        problem.detail
                    );
                    assert_eq!(b.row_counts().await.unwrap(), before, "{context}");
                }
                bad_framing(&fed, &bob, operation).await;
                // A replay: the same bytes a second time.
                let bytes = bob.signed(valid_body(operation, &bob)).unwrap();
                let first = send(&bob, operation, bytes.clone()).await;
                assert!(
                    first.as_ref().is_none_or(Reply::is_success),
                    "{}: {first:?}",
                    operation.as_str()
                );
                let before = b.row_counts().await.unwrap();
                let second = send(&bob, operation, bytes).await.unwrap();
                assert_problem(&second, 409, "replay");
                assert_eq!(
                    b.row_counts().await.unwrap(),
                    before,
                    "{} replay",
                    operation.as_str()
                );
            }
            listen_header_problems(&bob, b).await;
        })
        .await;
}

/// Oversized bodies and wrong content types (the POST endpoints only:
/// `listen` has no body, §13.6).
async fn bad_framing(fed: &TestFederation, bob: &TestClient, operation: ClientOperation) {
    if operation == ClientOperation::Listen {
        return;
    }
    let b = fed.provider("b.example");
    let before = b.row_counts().await.unwrap();
    let oversized = fed
        .post_declared_length(
            "b.example",
            operation.endpoint_path(),
            OCTET_STREAM,
            operation.max_request_len() as u64 + 1,
        )
        .await
        .unwrap();
    assert_problem(&oversized, 413, "body-too-large");
    let good = bob.signed(valid_body(operation, bob)).unwrap();
    let reply = fed
        .post_raw("b.example", operation.endpoint_path(), "text/plain", good)
        .await
        .unwrap();
    assert_problem(&reply, 415, "wrong-content-type");
    assert_eq!(
        b.row_counts().await.unwrap(),
        before,
        "{}",
        operation.as_str()
    );
}

/// The `listen` header itself: missing, not base64url, too long.
async fn listen_header_problems(bob: &TestClient, b: &TestProvider) {
    let good = ClientRequest::decode(&bob.signed(ListenRequest::new(1)).unwrap())
        .unwrap()
        .to_header_value()
        .unwrap();
    for (name, header, status, kind) in [
        ("no header", None, 401, "unauthenticated"),
        ("padded base64", Some(format!("{good}=")), 400, "malformed"),
        (
            "standard alphabet",
            Some("+/+/".to_string()),
            400,
            "malformed",
        ),
        (
            "too long",
            Some("A".repeat(mimi_wire::MAX_LISTEN_HEADER_LEN + 1)),
            413,
            "too-large",
        ),
    ] {
        let before = b.row_counts().await.unwrap();
        match bob.listen_with(header).await {
            Err(TestError::Refused(reply)) => {
                let problem = reply.problem().unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    (problem.status, problem.kind.as_str()),
                    (status, kind),
                    "{name}: {}",
                    problem.detail
                );
            }
            Ok(_) => panic!("{name}: upgraded"),
            Err(e) => panic!("{name}: {e}"),
        }
        assert_eq!(b.row_counts().await.unwrap(), before, "{name}");
    }
}

/// Registrations are limited per network address before the chain and
/// CRLs are checked: a third registration from one address within the
/// window is refused and registers nothing.
async fn registrations_answer_429_over_the_per_address_limit(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .configure(|_, config| {
            config.rate_limits.registrations = LimitConfig {
                burst: 2,
                per_second: 0.001,
            };
        })
        .run(|fed| async move {
            let b = fed.provider("b.example");
            for device in ["one", "two"] {
                let client = fed.client("b.example", "bob", device).unwrap();
                client.register(None).await.unwrap();
            }
            let third = fed.client("b.example", "bob", "three").unwrap();
            let before = b.row_counts().await.unwrap();
            let refused = third
                .post(
                    ClientOperation::Register,
                    third.signed(third.register_request(None).unwrap()).unwrap(),
                )
                .await
                .unwrap();
            let problem = assert_problem(&refused, 429, "rate-limited");
            assert!(refused.retry_after.is_some(), "{}", problem.detail);
            assert_eq!(b.row_counts().await.unwrap(), before);
            assert!(
                b.client_record(&third.client_uri())
                    .await
                    .unwrap()
                    .is_none()
            );
        })
        .await;
}

async fn client_endpoints_answer_429_over_their_rate_limit(backend: Backend) {
    TestFederation::builder(&["b.example"], backend)
        .configure(|_, config| {
            config.rate_limits.client = LimitConfig {
                burst: 2,
                per_second: 0.001,
            };
        })
        .run(|fed| async move {
            let b = fed.provider("b.example");
            for operation in operations_with_a_room_free_success() {
                // A device of its own per endpoint: its registration spends
                // the first token, one valid request the second.
                let client = fed.client("b.example", "bob", operation.as_str()).unwrap();
                client.register(None).await.unwrap();
                let first = send(
                    &client,
                    operation,
                    client.signed(valid_body(operation, &client)).unwrap(),
                )
                .await;
                assert!(
                    first.as_ref().is_none_or(Reply::is_success),
                    "{}: {first:?}",
                    operation.as_str()
                );
                let before = b.row_counts().await.unwrap();
                let refused = send(
                    &client,
                    operation,
                    client.signed(valid_body(operation, &client)).unwrap(),
                )
                .await
                .unwrap();
                assert_problem(&refused, 429, "rate-limited");
                let retry_after: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
                assert!(retry_after >= 1);
                assert_eq!(
                    b.row_counts().await.unwrap(),
                    before,
                    "{}",
                    operation.as_str()
                );
            }
        })
        .await;
}
