//! The hub's endpoints (draft-kohbrok-mimi-transport §5.2-5.4) over S2S: a
//! request that is not one, or names no room, is refused precisely and changes
//! nothing.

use mimi_provider::testing::{Backend, TestFederation};
use mimi_transport::OCTET_STREAM;
use mimi_wire::EventKind;
use mimi_wire::ds::{DSOperation, DSRequest, DSRequestBody};

use crate::harness::{assert_problem, both_backends};

both_backends!(hub_endpoints_refuse_what_is_not_a_request_for_a_room);

async fn hub_endpoints_refuse_what_is_not_a_request_for_a_room(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let no_room = DSRequest::new(
                DSRequestBody::new(
                    b"no such room".to_vec(),
                    now,
                    DSOperation::send_message(vec![1]),
                )
                .unwrap(),
                0,
                vec![7; 64],
            )
            .encode()
            .unwrap();
            for (path, kind, body, status, problem_kind) in [
                (
                    "/group_operation",
                    EventKind::GroupOperation,
                    b"an MLS message".to_vec(),
                    400,
                    "malformed",
                ),
                (
                    "/group_operation",
                    EventKind::GroupOperation,
                    no_room,
                    404,
                    "not-found",
                ),
                (
                    "/welcome_information",
                    EventKind::WelcomeInformation,
                    Vec::new(),
                    400,
                    "malformed",
                ),
                (
                    "/external_commit_information",
                    EventKind::ExternalCommitInformation,
                    Vec::new(),
                    400,
                    "malformed",
                ),
            ] {
                let signed = a.sign_event(b.domain(), kind, body).unwrap();
                let before = b.row_counts().await.unwrap();
                let reply = fed
                    .post_raw("b.example", path, OCTET_STREAM, signed.bytes)
                    .await
                    .unwrap();
                assert_problem(&reply, status, problem_kind);
                assert_eq!(b.row_counts().await.unwrap(), before, "{path}");
            }
        })
        .await;
}
