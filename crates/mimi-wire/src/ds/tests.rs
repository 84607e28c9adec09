use proptest::prelude::*;

use super::*;

fn update() -> MlsGroupUpdate {
    MlsGroupUpdate::new(b"commit".to_vec(), b"group info".to_vec())
}

fn every_operation() -> Vec<DSOperation> {
    vec![
        DSOperation::create_group(b"gi".to_vec(), b"tree".to_vec(), vec![]),
        DSOperation::add_clients(update(), b"welcome".to_vec(), vec![b"crl".to_vec()]),
        DSOperation::remove_clients(update()),
        DSOperation::self_remove_client(b"proposal".to_vec()),
        DSOperation::update_client(update(), vec![]),
        DSOperation::external_join(update(), vec![b"crl1".to_vec(), b"crl2".to_vec()]),
        DSOperation::send_message(b"private message".to_vec()),
    ]
}

fn request(operation: DSOperation) -> DSRequest {
    let body = DSRequestBody::with_id(b"group".to_vec(), 1_700_000_000_000, [7; 16], operation);
    DSRequest::new(body, 3, vec![0xAB; 64])
}

#[test]
fn every_operation_round_trips_with_its_type() {
    for (operation, request_type) in every_operation().into_iter().zip(DSRequestType::ALL) {
        assert_eq!(operation.request_type(), request_type);
        let req = request(operation);
        let bytes = req.encode().unwrap();
        let decoded = DSRequest::decode(&bytes).unwrap();
        assert_eq!(decoded, req);
        assert_eq!(decoded.sender_index(), 3);
        assert_eq!(decoded.body().group_id(), b"group");
        assert_eq!(decoded.body().request_id(), &[7; 16]);
    }
}

#[test]
fn known_answer_of_a_send_message_request() {
    let bytes = request(DSOperation::send_message(vec![0xEE]))
        .encode()
        .unwrap();
    let mut expected = vec![0x00, 0x01]; // mimi10
    expected.extend([0x05]);
    expected.extend(b"group");
    expected.extend(1_700_000_000_000u64.to_be_bytes());
    expected.extend([7; 16]);
    expected.extend([10, 0x01, 0xEE]); // send_message, application_message<V>
    expected.extend([1]); // client_signature
    expected.extend(3u32.to_be_bytes());
    expected.extend([0x40, 64]);
    expected.extend([0xAB; 64]);
    assert_eq!(bytes, expected);
}

#[test]
fn signed_content_is_labelled_tbs_and_depends_on_sender_index() {
    let req = request(DSOperation::send_message(vec![1]));
    let content = req.signed_content().unwrap();
    let label = labels::DS_REQUEST.as_bytes();
    assert_eq!(usize::from(content[0]), label.len());
    assert_eq!(&content[1..1 + label.len()], label);
    let other = DSRequest::content_to_sign(req.body(), 4).unwrap();
    assert_ne!(content, other);
    // The TBS is the request up to the auth data, then the sender index.
    let encoded = req.encode().unwrap();
    let body_end = encoded.len() - (1 + 4 + 2 + 64);
    // label<V>, then content<V>: the TBS is under 64 bytes, so a 1-byte length.
    assert!(body_end + 4 < 64);
    let tbs_start = 1 + label.len() + 1;
    assert_eq!(
        &content[tbs_start..tbs_start + body_end],
        &encoded[..body_end]
    );
    assert_eq!(&content[tbs_start + body_end..], &3u32.to_be_bytes());
}

#[test]
fn unknown_operations_and_auth_types_are_refused() {
    let mut bytes = request(DSOperation::send_message(vec![1]))
        .encode()
        .unwrap();
    let op_at = 2 + 1 + 5 + 8 + 16;
    for unknown in [0u8, 2, 3, 4, 11, 14, 255] {
        bytes[op_at] = unknown;
        assert_eq!(
            DSRequest::decode(&bytes),
            Err(WireError::UnknownValue {
                field: "DSRequestBody.request_type",
                value: unknown.into()
            })
        );
    }
    let mut bytes = request(DSOperation::send_message(vec![1]))
        .encode()
        .unwrap();
    let auth_at = op_at + 3;
    bytes[auth_at] = 0; // draft-robert's Unauthenticated
    assert_eq!(
        DSRequest::decode(&bytes),
        Err(WireError::UnknownValue {
            field: "DSAuthData.auth_type",
            value: 0
        })
    );
}

#[test]
fn other_versions_and_trailing_bytes_are_refused() {
    let mut bytes = request(DSOperation::send_message(vec![1]))
        .encode()
        .unwrap();
    bytes[1] = 2;
    assert_eq!(
        DSRequest::decode(&bytes),
        Err(WireError::UnsupportedVersion { version: 2 })
    );
    let mut bytes = request(DSOperation::send_message(vec![1]))
        .encode()
        .unwrap();
    bytes.push(0);
    assert!(matches!(
        DSRequest::decode(&bytes),
        Err(WireError::TrailingBytes { extra: 1, .. })
    ));
}

#[test]
fn bounds_are_refused_when_encoding_and_decoding() {
    let empty_group = DSRequest::new(
        DSRequestBody::with_id(vec![], 0, [0; 16], DSOperation::send_message(vec![1])),
        0,
        vec![1],
    );
    assert!(matches!(
        empty_group.encode(),
        Err(WireError::Unencodable { .. })
    ));
    let long_group = DSRequest::new(
        DSRequestBody::with_id(vec![1; 256], 0, [0; 16], DSOperation::send_message(vec![1])),
        0,
        vec![1],
    );
    assert!(matches!(
        long_group.encode(),
        Err(WireError::Unencodable { .. })
    ));
    let huge = request(DSOperation::send_message(vec![0; MAX_MLS_MESSAGE_LEN + 1]));
    let err = huge.encode().unwrap_err();
    let WireError::Unencodable { reason, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        *reason,
        WireError::FieldTooLong {
            field: "SendMessageRequest.application_message",
            len: MAX_MLS_MESSAGE_LEN + 1,
            max: MAX_MLS_MESSAGE_LEN
        }
    );
    let empty_signature = DSRequest::new(
        DSRequestBody::with_id(vec![1], 0, [0; 16], DSOperation::send_message(vec![1])),
        0,
        vec![],
    );
    assert!(empty_signature.encode().is_err());
    let too_many_crls = request(DSOperation::update_client(
        update(),
        vec![vec![1]; MAX_CRLS + 1],
    ));
    assert!(too_many_crls.encode().is_err());
}

#[test]
fn a_fanout_message_fits_a_queue_message() {
    let hub: mimi_identifiers::Domain = "a.example".parse().unwrap();
    let m = FanoutMessage::new(
        &hub,
        vec![1; MAX_GROUP_ID_LEN],
        9,
        10,
        vec![2; MAX_MLS_MESSAGE_LEN],
    );
    let bytes = m.encode().unwrap();
    assert!(bytes.len() <= MAX_MESSAGE_LEN);
    let back = FanoutMessage::decode(&bytes).unwrap();
    assert_eq!(back.hub_domain(), "a.example");
    assert_eq!(back.group_sequence(), 9);
    assert_eq!(back.hub_timestamp_ms(), 10);
    assert_eq!(back.message().len(), MAX_MLS_MESSAGE_LEN);
}

#[test]
fn a_fanout_message_with_a_non_canonical_hub_domain_is_refused() {
    let hub: mimi_identifiers::Domain = "a.example".parse().unwrap();
    let mut bytes = FanoutMessage::new(&hub, vec![1], 1, 1, vec![2])
        .encode()
        .unwrap();
    bytes[1] = b'A';
    assert!(matches!(
        FanoutMessage::decode(&bytes),
        Err(WireError::InvalidDomain {
            field: "FanoutMessage.hub_domain",
            ..
        })
    ));
}

#[test]
fn responses_round_trip() {
    for response in [
        DSResponse::Accepted {
            epoch: 4,
            group_sequence: 17,
            hub_timestamp_ms: 1_700_000_000_000,
        },
        DSResponse::WelcomeInfo {
            ratchet_tree: vec![1, 2, 3],
        },
        DSResponse::ExternalCommitInfo {
            group_info: vec![4],
            ratchet_tree: vec![5, 6],
        },
    ] {
        let bytes = response.encode().unwrap();
        assert_eq!(DSResponse::decode(&bytes).unwrap(), response);
    }
    assert_eq!(
        DSResponse::decode(&[0, 1, 9]),
        Err(WireError::UnknownValue {
            field: "DSResponse.response_type",
            value: 9
        })
    );
    let empty_tree = DSResponse::WelcomeInfo {
        ratchet_tree: vec![],
    };
    assert!(empty_tree.encode().is_err());
}

#[test]
fn info_requests_round_trip_and_sign_their_fields() {
    let w = WelcomeInfoRequest::new(b"g".to_vec(), 5, b"key".to_vec(), 99, vec![1; 64]);
    let bytes = w.encode().unwrap();
    let back = WelcomeInfoRequest::decode(&bytes).unwrap();
    assert_eq!(back, w);
    let signed = back.signed_content().unwrap();
    // The signed fields are the encoding up to the signature.
    assert!(signed.ends_with(&bytes[..bytes.len() - 2 - 64]));
    let label = labels::WELCOME_INFO_REQUEST.as_bytes();
    assert_eq!(&signed[1..1 + label.len()], label);

    let e = ExternalCommitInfoRequest::new(
        b"g".to_vec(),
        vec![b"leaf".to_vec(), b"ca".to_vec()],
        vec![b"crl".to_vec()],
        99,
        vec![2; 64],
    );
    let bytes = e.encode().unwrap();
    let back = ExternalCommitInfoRequest::decode(&bytes).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.certificate_chain(), vec![&b"leaf"[..], &b"ca"[..]]);
    assert!(
        back.signed_content()
            .unwrap()
            .ends_with(&bytes[..bytes.len() - 2 - 64])
    );
    let no_chain = ExternalCommitInfoRequest::new(b"g".to_vec(), vec![], vec![], 1, vec![1]);
    assert!(no_chain.encode().is_err());
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = DSRequest::decode(&bytes);
        let _ = DSResponse::decode(&bytes);
        let _ = WelcomeInfoRequest::decode(&bytes);
        let _ = ExternalCommitInfoRequest::decode(&bytes);
        let _ = FanoutMessage::decode(&bytes);
    }

    #[test]
    fn mutated_requests_never_panic(flip in 0usize..200, value in any::<u8>()) {
        let mut bytes = request(DSOperation::add_clients(update(), b"w".to_vec(), vec![b"c".to_vec()]))
            .encode()
            .unwrap();
        let i = flip % bytes.len();
        bytes[i] = value;
        if let Ok(req) = DSRequest::decode(&bytes) {
            // Whatever decodes re-encodes to the same bytes.
            prop_assert_eq!(req.encode().unwrap(), bytes);
        }
    }
}
