//! The endpoints of draft-kohbrok-mimi-transport §5.6 and §5.8 that take
//! connection tokens (metadata minimalization) are answered 501
//! `not-implemented` (docs/wire-spec.md §11.3, §12.3) and change nothing. The
//! hub's (§5.2-5.4) are served: tests/it/hub.rs.

use mimi_provider::testing::{Backend, TestFederation};
use mimi_transport::OCTET_STREAM;
use mimi_wire::{ConnectionKeyPackageRequest, EventKind, QueueingServiceRequest};

use crate::harness::{assert_problem, both_backends};

both_backends!(connection_endpoints_are_not_implemented);

async fn connection_endpoints_are_not_implemented(backend: Backend) {
    TestFederation::builder(&["a.example", "b.example"], backend)
        .run(|fed| async move {
            let (a, b) = (fed.provider("a.example"), fed.provider("b.example"));
            let request = QueueingServiceRequest::ConnectionRequest(b"request".to_vec().into())
                .encode()
                .unwrap();
            let token = ConnectionKeyPackageRequest::new(b"token".to_vec())
                .encode()
                .unwrap();
            for (path, kind, body) in [
                ("/connection_request", EventKind::ConnectionRequest, request),
                (
                    "/connection_key_packages",
                    EventKind::ConnectionKeyPackages,
                    token,
                ),
            ] {
                let signed = a.sign_event(b.domain(), kind, body).unwrap();
                for bytes in [signed.bytes, Vec::new()] {
                    let before = b.row_counts().await.unwrap();
                    let reply = fed
                        .post_raw("b.example", path, OCTET_STREAM, bytes)
                        .await
                        .unwrap();
                    let problem = assert_problem(&reply, 501, "not-implemented");
                    assert!(problem.detail.contains(path), "{}", problem.detail);
                    assert_eq!(b.row_counts().await.unwrap(), before, "{path}");
                }
            }
        })
        .await;
}
