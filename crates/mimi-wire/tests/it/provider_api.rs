//! The provider structures through their API: the operation table, identifier
//! accessors, signing with both key types clients use, the bounds at their limits.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use mimi_identifiers::{DeviceId, Domain, UserId};
use mimi_wire::client_api::{
    self, ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs, FetchRequest,
    FetchResponse, KeyPackageCountRequest, ListenRequest, QueuedMessage, RegisterRequest,
    RegisterResponse, UploadKeyPackagesRequest,
};
use mimi_wire::kps::{
    self, ClientKeyPackage, ConnectionKeyPackageRequest, GroupKeyPackageRequest,
    GroupKeyPackageResponse,
};
use mimi_wire::qs::{
    self, DeliverMessageRequest, DeliverMessageResponse, QueueingServiceRequest,
    QueueingServiceRequestType, RecipientStatus,
};
use mimi_wire::{
    EventKind, Fault, HpkeCiphertext, MAX_HPKE_CIPHERTEXT_LEN, QueueEncryptionKey, WireError,
    labels,
};

use crate::NOW_MS;

fn alice() -> UserId {
    UserId::new("alice", Some(Domain::parse("a.example").unwrap())).unwrap()
}

fn laptop() -> DeviceId {
    DeviceId::new(&alice(), "laptop").unwrap()
}

/// The paths, names and values of docs/wire-spec.md §13.1.
const OPERATIONS: [(ClientOperation, u8, &str, &str); 10] = [
    (
        ClientOperation::Register,
        1,
        "register",
        "/client/v1/register",
    ),
    (ClientOperation::Fetch, 2, "fetch", "/client/v1/fetch"),
    (ClientOperation::Ack, 3, "ack", "/client/v1/ack"),
    (
        ClientOperation::UploadKeyPackages,
        4,
        "upload_key_packages",
        "/client/v1/upload_key_packages",
    ),
    (
        ClientOperation::KeyPackageCount,
        5,
        "key_package_count",
        "/client/v1/key_package_count",
    ),
    (ClientOperation::Listen, 6, "listen", "/client/v1/listen"),
    (ClientOperation::Hub, 7, "hub", "/client/v1/hub"),
    (
        ClientOperation::EnrollUser,
        8,
        "enroll_user",
        "/client/v1/enroll_user",
    ),
    (
        ClientOperation::EnrollDevice,
        9,
        "enroll_device",
        "/client/v1/enroll_device",
    ),
    (
        ClientOperation::RetireQueueReference,
        10,
        "retire_queue_reference",
        "/client/v1/retire_queue_reference",
    ),
];

#[test]
fn operation_table() {
    assert_eq!(ClientOperation::ALL.len(), OPERATIONS.len());
    for (i, (op, value, name, path)) in OPERATIONS.into_iter().enumerate() {
        assert_eq!(ClientOperation::ALL[i], op);
        assert_eq!(op.value(), value);
        assert_eq!(ClientOperation::from_value(value), Some(op));
        assert_eq!(op.as_str(), name);
        assert_eq!(op.to_string(), name);
        assert_eq!(op.endpoint_path(), path);
        assert_eq!(ClientOperation::from_endpoint_path(path), Some(op));
        assert_eq!(path, format!("/client/v1/{name}"));
    }
    assert_eq!(ClientOperation::from_value(0), None);
    assert_eq!(ClientOperation::from_value(11), None);
    assert_eq!(
        ClientOperation::from_endpoint_path("/client/v1/Fetch"),
        None
    );
}

#[test]
fn request_bounds_are_consistent() {
    for op in ClientOperation::ALL {
        if op == ClientOperation::Register {
            assert_eq!(op.max_request_len(), client_api::MAX_REGISTER_REQUEST_LEN);
        } else if op == ClientOperation::Hub {
            assert_eq!(op.max_request_len(), client_api::MAX_HUB_REQUEST_LEN);
        } else {
            assert!(
                op.max_request_len() <= client_api::MAX_CLIENT_REQUEST_LEN,
                "{op}"
            );
        }
    }
    // The overhead covers the longest client id and signature.
    let longest = DeviceId::new(
        &UserId::new(
            &"u".repeat(255),
            Some(Domain::parse(&long_domain()).unwrap()),
        )
        .unwrap(),
        &"d".repeat(255),
    )
    .unwrap();
    let tbs = ClientRequestTbs::with_id(&longest, 0, [0; 16], ListenRequest::new(0)).unwrap();
    let request = ClientRequest::new(tbs, vec![0; client_api::MAX_SIGNATURE_LEN]);
    let bytes = request.encode().unwrap();
    assert!(bytes.len() <= ClientOperation::Listen.max_request_len());
    assert_eq!(ClientRequest::decode(&bytes).unwrap(), request);
    let header = request.to_header_value().unwrap();
    assert!(header.len() <= client_api::MAX_LISTEN_HEADER_LEN);
    assert_eq!(ClientRequest::from_header_value(&header).unwrap(), request);
}

/// A valid 253-byte domain.
fn long_domain() -> String {
    let label = "a".repeat(63);
    format!("{label}.{label}.{label}.{}", "b".repeat(61))
}

#[test]
fn queueing_request_types_name_their_endpoints() {
    assert_eq!(
        QueueingServiceRequestType::DeliverMessage.event_kind(),
        EventKind::DeliverMessage
    );
    assert_eq!(
        QueueingServiceRequestType::ConnectionRequest.event_kind(),
        EventKind::ConnectionRequest
    );
    for (t, v) in QueueingServiceRequestType::ALL.into_iter().zip([1, 2]) {
        assert_eq!(t.value(), v);
        assert_eq!(QueueingServiceRequestType::from_value(v), Some(t));
    }
    assert_eq!(QueueingServiceRequestType::from_value(0), None);
    for (s, v) in RecipientStatus::ALL.into_iter().zip([0, 1, 2, 3]) {
        assert_eq!(s.value(), v);
        assert_eq!(RecipientStatus::from_value(v), Some(s));
    }
    assert_eq!(RecipientStatus::from_value(4), None);
}

#[test]
fn label_is_registered() {
    assert_eq!(labels::CLIENT_REQUEST, "MIMI 1.0 ClientRequest");
    assert!(labels::ALL.contains(&labels::CLIENT_REQUEST));
}

#[test]
fn client_request_signed_with_ecdsa_p256_verifies() {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
    let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, FetchRequest::new(0, 10)).unwrap();
    let sig = key.sign(&rng, &tbs.signed_content().unwrap()).unwrap();
    let bytes = ClientRequest::new(tbs, sig.as_ref().to_vec())
        .encode()
        .unwrap();

    let got = ClientRequest::decode_for(ClientOperation::Fetch, &bytes).unwrap();
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref());
    public
        .verify(&got.signed_content().unwrap(), got.signature())
        .unwrap();
    // The signature covers the body: another limit does not verify.
    let (tbs, sig) = got.into_parts();
    let other = ClientRequestTbs::with_id(
        &laptop(),
        tbs.created_at_ms(),
        *tbs.request_id(),
        FetchRequest::new(0, 11),
    )
    .unwrap();
    assert!(
        public
            .verify(&other.signed_content().unwrap(), &sig)
            .is_err()
    );
}

#[test]
fn request_ids_are_random() {
    let ids: std::collections::HashSet<[u8; 16]> = (0..100)
        .map(|_| {
            *ClientRequestTbs::new(&laptop(), NOW_MS, ListenRequest::new(0))
                .unwrap()
                .request_id()
        })
        .collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn wrong_operation_is_refused() {
    let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, FetchRequest::new(0, 1)).unwrap();
    assert!(tbs.expect_operation(ClientOperation::Fetch).is_ok());
    let err = tbs.expect_operation(ClientOperation::Ack).unwrap_err();
    assert_eq!(
        err,
        WireError::WrongOperation {
            expected: "ack",
            found: "fetch"
        }
    );
    assert_eq!(err.fault(), Fault::Peer);
    let bytes = ClientRequest::new(tbs, vec![1; 64]).encode().unwrap();
    assert_eq!(
        ClientRequest::decode_for(ClientOperation::Ack, &bytes).unwrap_err(),
        err
    );
}

#[test]
fn client_id_must_be_a_device_with_user_and_domain() {
    let no_user =
        DeviceId::without_user("laptop", Some(Domain::parse("a.example").unwrap())).unwrap();
    let unqualified = DeviceId::new(&UserId::new("alice", None).unwrap(), "laptop").unwrap();
    for d in [no_user, unqualified] {
        let err = ClientRequestTbs::new(&d, NOW_MS, ListenRequest::new(0)).unwrap_err();
        assert!(
            matches!(
                err,
                WireError::InvalidIdentifier {
                    field: "ClientRequestTbs.client_id",
                    ..
                }
            ),
            "{err}"
        );
    }
    let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, ListenRequest::new(0)).unwrap();
    assert_eq!(tbs.client_id_bytes(), b"mimi://a.example/d/alice/laptop");
    assert_eq!(tbs.client_id().unwrap(), laptop());
    assert_eq!(tbs.operation(), ClientOperation::Listen);
}

/// (bytes of an identifier field, whether it is a valid user URI, device URI).
const IDENTIFIERS: [(&[u8], bool, bool); 14] = [
    (b"mimi://b.example/u/bob", true, false),
    (b"mimi://b.example/d/bob/phone", false, true),
    (b"mimi://b.example/d/phone", false, false),
    (b"mimi://B.example/u/bob", false, false),
    (b"mimi://b.example/u/%62ob", false, false),
    (b"mimi://local.invalid/u/bob", false, false),
    (b"mimi://b.example/r/room", false, false),
    (b"mimi://b.example", false, false),
    (b"bob@b.example", false, false),
    (b"im:wxyz=bob@b.example", false, false),
    (b"mimi://b.example/u/bob ", false, false),
    (b"mimi://b.example/u/b\xffb", false, false),
    (b"", false, false),
    (b"mimi://b.example/u/bob/x", false, false),
];

#[test]
fn identifier_accessors_accept_only_canonical_uris_of_their_kind() {
    for (bytes, is_user, is_device) in IDENTIFIERS {
        let req = raw_group_key_package_request(bytes);
        let decoded = GroupKeyPackageRequest::decode(&req);
        let user = decoded.and_then(|r| r.user());
        assert_eq!(
            user.is_ok(),
            is_user,
            "{:?}: {user:?}",
            bytes.escape_ascii()
        );
        if let Err(e) = user {
            assert!(
                matches!(
                    e,
                    WireError::InvalidIdentifier { .. } | WireError::EmptyField { .. }
                ),
                "{e}"
            );
        }

        let mut kp = vec![bytes.len() as u8];
        kp.extend_from_slice(bytes);
        kp.extend_from_slice(&[1, 0xaa]);
        let device = ClientKeyPackage::decode(&kp).and_then(|k| k.device());
        assert_eq!(
            device.is_ok(),
            is_device,
            "{:?}: {device:?}",
            bytes.escape_ascii()
        );
    }
    let err =
        GroupKeyPackageRequest::decode(&raw_group_key_package_request(b"mimi://B.example/u/bob"))
            .unwrap()
            .user()
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GroupKeyPackageRequest.user \"mimi://B.example/u/bob\" is refused (not canonical; its \
         canonical form is \"mimi://b.example/u/bob\"): send the identifier in the canonical form \
         docs/wire-spec.md gives (e.g. \"mimi://a.example/u/alice\", \
         \"mimi://a.example/d/alice/laptop\", \"@alice\")"
    );
}

fn raw_group_key_package_request(user: &[u8]) -> Vec<u8> {
    let mut b = vec![user.len() as u8];
    b.extend_from_slice(user);
    b.extend_from_slice(&[0, 1]);
    b
}

#[test]
fn key_packages_must_belong_to_the_requested_user() {
    let kp = ClientKeyPackage::for_device(&laptop(), vec![1]).unwrap();
    assert_eq!(kp.client(), b"mimi://a.example/d/alice/laptop");
    assert_eq!(kp.device().unwrap(), laptop());
    assert_eq!(kp.client_of(&alice()).unwrap(), laptop());
    let bob = UserId::new("bob", Some(Domain::parse("a.example").unwrap())).unwrap();
    assert!(matches!(
        kp.client_of(&bob),
        Err(WireError::InvalidIdentifier {
            field: "ClientKeyPackage.client",
            ..
        })
    ));
    let unqualified = UserId::new("alice", None).unwrap();
    assert!(matches!(
        GroupKeyPackageRequest::for_user(&unqualified, 1),
        Err(WireError::InvalidIdentifier {
            field: "GroupKeyPackageRequest.user",
            ..
        })
    ));
    let request = GroupKeyPackageRequest::for_user(&alice(), 1).unwrap();
    assert_eq!(request.user_bytes(), b"mimi://a.example/u/alice");
    assert_eq!(
        request,
        GroupKeyPackageRequest::new(b"mimi://a.example/u/alice".to_vec(), 1)
    );
}

#[test]
fn responses_answer_their_request() {
    let request = DeliverMessageRequest::new(
        b"m".to_vec(),
        vec![HpkeCiphertext::new(vec![1], vec![2]); 3],
    );
    let ok = DeliverMessageResponse::new(vec![RecipientStatus::Delivered; 3]);
    assert!(ok.check_answers(&request).is_ok());
    let short = DeliverMessageResponse::new(vec![RecipientStatus::Delivered; 2]);
    assert_eq!(
        short.check_answers(&request).unwrap_err(),
        WireError::OutOfRange {
            field: "DeliverMessageResponse.statuses (count)",
            value: 2,
            min: 3,
            max: 3
        }
    );
}

fn unencodable(what: &'static str, reason: WireError) -> WireError {
    WireError::Unencodable {
        what,
        reason: Box::new(reason),
    }
}

#[test]
fn encode_refuses_what_decode_refuses() {
    use WireError::*;
    let c = || HpkeCiphertext::new(vec![1], vec![2]);
    let qs_request = |r: DeliverMessageRequest| r.encode();
    let client_request = |body: ClientRequestBody| {
        let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, body)?;
        ClientRequest::new(tbs, vec![1; 64]).encode()
    };
    let cases: Vec<(Result<Vec<u8>, WireError>, WireError)> = vec![
        (
            qs_request(DeliverMessageRequest::new(vec![], vec![c()])),
            unencodable(
                "DeliverMessageRequest",
                EmptyField {
                    field: "DeliverMessageRequest.message",
                },
            ),
        ),
        (
            QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
                vec![0; qs::MAX_MESSAGE_LEN + 1],
                vec![c()],
            ))
            .encode(),
            unencodable(
                "QueueingServiceRequest",
                FieldTooLong {
                    field: "DeliverMessageRequest.message",
                    len: qs::MAX_MESSAGE_LEN + 1,
                    max: qs::MAX_MESSAGE_LEN,
                },
            ),
        ),
        (
            qs_request(DeliverMessageRequest::new(vec![1], vec![])),
            unencodable(
                "DeliverMessageRequest",
                EmptyField {
                    field: "DeliverMessageRequest.recipients",
                },
            ),
        ),
        (
            qs_request(DeliverMessageRequest::new(
                vec![1],
                vec![c(); qs::MAX_RECIPIENTS + 1],
            )),
            unencodable(
                "DeliverMessageRequest",
                TooMany {
                    field: "DeliverMessageRequest.recipients",
                    max: qs::MAX_RECIPIENTS,
                },
            ),
        ),
        (
            qs_request(DeliverMessageRequest::new(
                vec![1],
                vec![HpkeCiphertext::new(
                    vec![0; MAX_HPKE_CIPHERTEXT_LEN],
                    vec![],
                )],
            )),
            unencodable(
                "DeliverMessageRequest",
                FieldTooLong {
                    field: "DeliverMessageRequest.recipients[i]",
                    len: MAX_HPKE_CIPHERTEXT_LEN + 3,
                    max: MAX_HPKE_CIPHERTEXT_LEN,
                },
            ),
        ),
        (
            DeliverMessageResponse::new(vec![]).encode(),
            unencodable(
                "DeliverMessageResponse",
                EmptyField {
                    field: "DeliverMessageResponse.statuses",
                },
            ),
        ),
        (
            ClientKeyPackage::for_device(&laptop(), vec![])
                .unwrap()
                .encode(),
            unencodable(
                "ClientKeyPackage",
                EmptyField {
                    field: "ClientKeyPackage.key_package",
                },
            ),
        ),
        (
            GroupKeyPackageResponse::new(vec![
                ClientKeyPackage::for_device(&laptop(), vec![1])
                    .unwrap();
                kps::MAX_CLIENT_KEY_PACKAGES + 1
            ])
            .encode(),
            unencodable(
                "GroupKeyPackageResponse",
                TooMany {
                    field: "GroupKeyPackageResponse.key_packages",
                    max: kps::MAX_CLIENT_KEY_PACKAGES,
                },
            ),
        ),
        (
            GroupKeyPackageRequest::for_user(&alice(), 0)
                .unwrap()
                .encode(),
            unencodable(
                "GroupKeyPackageRequest",
                OutOfRange {
                    field: "GroupKeyPackageRequest.cipher_suite",
                    value: 0,
                    min: 1,
                    max: 65535,
                },
            ),
        ),
        (
            ConnectionKeyPackageRequest::new(vec![]).encode(),
            unencodable(
                "ConnectionKeyPackageRequest",
                EmptyField {
                    field: "ConnectionKeyPackageRequest.connection_token",
                },
            ),
        ),
        (
            RegisterRequest::new(vec![], vec![], None).encode(),
            unencodable(
                "RegisterRequest",
                EmptyField {
                    field: "RegisterRequest.certificate_chain",
                },
            ),
        ),
        (
            RegisterRequest::new(vec![vec![1]; 7], vec![], None).encode(),
            unencodable(
                "RegisterRequest",
                TooMany {
                    field: "RegisterRequest.certificate_chain",
                    max: 6,
                },
            ),
        ),
        (
            RegisterRequest::new(vec![vec![1]], vec![vec![]], None).encode(),
            unencodable(
                "RegisterRequest",
                EmptyField {
                    field: "RegisterRequest.crls[i]",
                },
            ),
        ),
        (
            UploadKeyPackagesRequest::new(vec![], false).encode(),
            unencodable(
                "UploadKeyPackagesRequest",
                EmptyField {
                    field: "UploadKeyPackagesRequest.key_packages",
                },
            ),
        ),
        (
            FetchRequest::new(0, 0).encode(),
            unencodable(
                "FetchRequest",
                OutOfRange {
                    field: "FetchRequest.limit",
                    value: 0,
                    min: 1,
                    max: 1000,
                },
            ),
        ),
        (
            KeyPackageCountRequest::new(0).encode(),
            unencodable(
                "KeyPackageCountRequest",
                OutOfRange {
                    field: "KeyPackageCountRequest.cipher_suite",
                    value: 0,
                    min: 1,
                    max: 65535,
                },
            ),
        ),
        (
            QueuedMessage::new(1, vec![]).encode(),
            unencodable(
                "QueuedMessage",
                EmptyField {
                    field: "QueuedMessage.message",
                },
            ),
        ),
        (
            RegisterResponse::new(
                [0; 16],
                &QueueEncryptionKey {
                    kem_id: 0x20,
                    kdf_id: 1,
                    aead_id: 1,
                    public_key: vec![].into(),
                },
            )
            .encode(),
            unencodable(
                "RegisterResponse",
                EmptyField {
                    field: "RegisterResponse.queue_key",
                },
            ),
        ),
        // A body is checked when the TBS is built, a signature when the request
        // is encoded.
        (
            client_request(FetchRequest::new(0, 1001).into()),
            unencodable(
                "FetchRequest",
                OutOfRange {
                    field: "FetchRequest.limit",
                    value: 1001,
                    min: 1,
                    max: 1000,
                },
            ),
        ),
        (
            ClientRequest::new(
                ClientRequestTbs::new(&laptop(), NOW_MS, ListenRequest::new(0)).unwrap(),
                vec![],
            )
            .encode(),
            unencodable(
                "ClientRequest",
                EmptyField {
                    field: "ClientRequest.signature",
                },
            ),
        ),
    ];
    for (i, (got, want)) in cases.into_iter().enumerate() {
        let err = got.unwrap_err();
        assert_eq!(err, want, "case {i}");
        // Our own bug, never the peer's: a server answers 500, not 400.
        assert_eq!(err.fault(), Fault::Local, "case {i}");
    }
    // Empty where emptiness means something: no CRLs, no handle, no messages.
    assert!(
        RegisterRequest::new(vec![vec![1]], vec![], None)
            .encode()
            .is_ok()
    );
    assert!(FetchResponse::new(vec![], 0).encode().is_ok());
    assert!(GroupKeyPackageResponse::new(vec![]).encode().is_ok());
    assert!(client_request(ListenRequest::new(0).into()).is_ok());
}

#[test]
fn fetch_responses_are_ordered_and_bounded() {
    let m = |seq| QueuedMessage::new(seq, vec![1]);
    assert!(
        FetchResponse::new(vec![m(1), m(2), m(9)], 3)
            .encode()
            .is_ok()
    );
    assert_eq!(
        FetchResponse::new(vec![m(2), m(2)], 2)
            .encode()
            .unwrap_err(),
        unencodable(
            "FetchResponse",
            WireError::OutOfRange {
                field: "FetchResponse.messages[i].seq (increasing)",
                value: 2,
                min: 3,
                max: u64::MAX
            }
        )
    );
    assert_eq!(
        FetchResponse::new(vec![m(1), m(2)], 1)
            .encode()
            .unwrap_err(),
        unencodable(
            "FetchResponse",
            WireError::OutOfRange {
                field: "FetchResponse.depth",
                value: 1,
                min: 2,
                max: u64::MAX
            }
        )
    );
    // Four full messages do not fit in 4 MiB; three do, and `filled` keeps them.
    let big = |seq| QueuedMessage::new(seq, vec![7; qs::MAX_MESSAGE_LEN]);
    let four = vec![big(1), big(2), big(3), big(4)];
    assert!(matches!(
        FetchResponse::new(four.clone(), 10).encode(),
        Err(WireError::Unencodable {
            what: "FetchResponse",
            ..
        })
    ));
    let three = FetchResponse::filled(four, 10);
    assert_eq!(three.messages().len(), 3);
    assert_eq!(three.depth(), 10);
    assert_eq!(
        FetchResponse::decode(&three.encode().unwrap()).unwrap(),
        three
    );
    // And at most 1000 messages, however small.
    let many = FetchResponse::filled((1..=1500).map(m), 1500);
    assert_eq!(many.messages().len(), 1000);
    assert!(many.encode().is_ok());
    assert!(big(1).encoded_len() <= client_api::MAX_FETCH_RESPONSE_LEN - 8 - 4);
}

#[test]
fn largest_requests_fit_their_bounds() {
    // A full fan-out: a 1 MiB message and 5000 recipients (X25519-sized, 66 bytes).
    let request = QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
        vec![1; qs::MAX_MESSAGE_LEN],
        vec![HpkeCiphertext::new(vec![2; 32], vec![3; 32]); qs::MAX_RECIPIENTS],
    ));
    let bytes = request.encode().unwrap();
    assert!(bytes.len() <= QueueingServiceRequest::MAX_LEN);
    assert_eq!(QueueingServiceRequest::decode(&bytes).unwrap(), request);

    // A full KeyPackage upload.
    let upload = UploadKeyPackagesRequest::new(
        vec![vec![9; kps::MAX_KEY_PACKAGE_LEN]; client_api::MAX_KEY_PACKAGES_PER_UPLOAD],
        false,
    );
    let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, upload).unwrap();
    let bytes = ClientRequest::new(tbs, vec![0; 64]).encode().unwrap();
    let op = ClientOperation::UploadKeyPackages;
    assert!(bytes.len() <= op.max_request_len());
    assert_eq!(
        ClientRequest::decode_for(op, &bytes)
            .unwrap()
            .tbs()
            .operation(),
        op
    );

    // A full registration: six 16 KiB certificates, 8 MiB of CRLs.
    let crl_len = (client_api::MAX_CRLS_LEN - 4 * 2) / 2;
    let register = RegisterRequest::new(
        vec![vec![0x30; client_api::MAX_CERTIFICATE_LEN]; client_api::MAX_CERTIFICATES],
        vec![vec![0x30; crl_len]; 2],
        None,
    );
    let tbs = ClientRequestTbs::new(&laptop(), NOW_MS, register.clone()).unwrap();
    let bytes = ClientRequest::new(tbs, vec![0; 64]).encode().unwrap();
    assert!(bytes.len() <= client_api::MAX_REGISTER_REQUEST_LEN);
    let decoded = ClientRequest::decode_for(ClientOperation::Register, &bytes).unwrap();
    assert_eq!(
        decoded.tbs().decode_body().unwrap(),
        ClientRequestBody::Register(register)
    );
    // One byte more of CRL is refused.
    assert_eq!(
        RegisterRequest::new(vec![vec![1]], vec![vec![0x30; crl_len + 1]; 2], None)
            .encode()
            .unwrap_err(),
        unencodable(
            "RegisterRequest",
            WireError::FieldTooLong {
                field: "RegisterRequest.crls",
                len: client_api::MAX_CRLS_LEN + 2,
                max: client_api::MAX_CRLS_LEN
            }
        )
    );
}

#[test]
fn the_largest_fan_out_fits_in_an_s2s_message() {
    use mimi_wire::{Event, EventEnvelope, ProtocolVersion, S2SMessage, check_incoming};
    // The longest domains, the longest message and recipients vector.
    let long = Domain::parse(&long_domain()).unwrap();
    let mut ciphertexts = Vec::new();
    let mut left = qs::MAX_RECIPIENTS_LEN;
    while left >= 2048 {
        ciphertexts.push(HpkeCiphertext::new(vec![1; 1000], vec![2; 1044]));
        left -= 2048;
    }
    let request = QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
        vec![3; qs::MAX_MESSAGE_LEN],
        ciphertexts,
    ));
    let body = request.encode().unwrap();
    assert!(body.len() > QueueingServiceRequest::MAX_LEN - 2048);
    let envelope = EventEnvelope::new(body, NOW_MS).unwrap();
    let event = Event::with_envelope(EventKind::ConnectionRequest, &envelope).unwrap();
    let key = crate::key_a();
    let bytes = S2SMessage::sign(ProtocolVersion::Mimi10, &long, &long, event, &key)
        .unwrap()
        .encode()
        .unwrap();
    assert!(bytes.len() <= qs::MAX_S2S_MESSAGE_LEN);
    let record = key.verification_key(0, u64::MAX);
    let (_, env) = check_incoming(
        &bytes,
        &long,
        |_| Some(record.clone()),
        NOW_MS,
        60_000,
        qs::MAX_S2S_MESSAGE_LEN,
    )
    .unwrap();
    assert_eq!(QueueingServiceRequest::decode(env.body()).unwrap(), request);
}

/// The bounds as docs/wire-spec.md §11-13 print them: a change here is a change
/// of the spec.
#[test]
fn bounds_are_the_documented_numbers() {
    use mimi_wire::client_api::*;
    use mimi_wire::kps::{ClientKeyPackage, ConnectionKeyPackageRequest};
    use mimi_wire::qs::QueueingServiceResponse;
    let table: [(&str, usize, usize); 24] = [
        ("qs::MAX_RECIPIENTS", qs::MAX_RECIPIENTS, 5_000),
        ("qs::MAX_MESSAGE_LEN", qs::MAX_MESSAGE_LEN, 1_048_576),
        ("qs::MAX_RECIPIENTS_LEN", qs::MAX_RECIPIENTS_LEN, 1_048_576),
        (
            "qs::MAX_CONNECTION_REQUEST_LEN",
            qs::MAX_CONNECTION_REQUEST_LEN,
            65_536,
        ),
        (
            "QueueingServiceRequest",
            QueueingServiceRequest::MAX_LEN,
            2_097_161,
        ),
        (
            "qs::MAX_S2S_MESSAGE_LEN",
            qs::MAX_S2S_MESSAGE_LEN,
            2_098_185,
        ),
        (
            "QueueingServiceResponse",
            QueueingServiceResponse::MAX_LEN,
            5_003,
        ),
        (
            "GroupKeyPackageRequest",
            GroupKeyPackageRequest::MAX_LEN,
            1_028,
        ),
        ("ClientKeyPackage", ClientKeyPackage::MAX_LEN, 66_566),
        (
            "GroupKeyPackageResponse",
            GroupKeyPackageResponse::MAX_LEN,
            4_260_228,
        ),
        (
            "ConnectionKeyPackageRequest",
            ConnectionKeyPackageRequest::MAX_LEN,
            258,
        ),
        ("CLIENT_REQUEST_OVERHEAD", CLIENT_REQUEST_OVERHEAD, 1_313),
        ("RegisterRequest", RegisterRequest::MAX_LEN, 8_487_458),
        (
            "MAX_REGISTER_REQUEST_LEN",
            MAX_REGISTER_REQUEST_LEN,
            8_488_771,
        ),
        (
            "UploadKeyPackagesRequest",
            UploadKeyPackagesRequest::MAX_LEN,
            6_554_005,
        ),
        (
            "upload request",
            ClientOperation::UploadKeyPackages.max_request_len(),
            6_555_318,
        ),
        (
            "fetch request",
            ClientOperation::Fetch.max_request_len(),
            1_325,
        ),
        ("ack request", ClientOperation::Ack.max_request_len(), 1_321),
        (
            "count request",
            ClientOperation::KeyPackageCount.max_request_len(),
            1_315,
        ),
        (
            "listen request",
            ClientOperation::Listen.max_request_len(),
            1_321,
        ),
        ("MAX_LISTEN_HEADER_LEN", MAX_LISTEN_HEADER_LEN, 1_764),
        ("MAX_CLIENT_REQUEST_LEN", MAX_CLIENT_REQUEST_LEN, 7_340_032),
        ("RegisterResponse", RegisterResponse::MAX_LEN, 4_112),
        ("FetchResponse", FetchResponse::MAX_LEN, 4_194_304),
    ];
    for (name, got, documented) in table {
        assert_eq!(got, documented, "{name}");
    }
}
