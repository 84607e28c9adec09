//! Property tests of the provider's structures: every one round-trips through its
//! encoding, and random or mutated bytes never panic a decoder; what decodes
//! re-encodes to the same bytes (the encoding is canonical, which the client
//! request's signature relies on). The cargo-fuzz target
//! `fuzz/fuzz_targets/provider_requests.rs` runs the same checks unbounded.

use mimi_identifiers::{DeviceId, Domain, Handle, UserId};
use mimi_wire::client_api::{
    AckRequest, AckResponse, ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs,
    FetchRequest, FetchResponse, KeyPackageCountRequest, KeyPackageCountResponse, ListenRequest,
    QueuedMessage, RegisterRequest, RegisterResponse, RetireQueueReferenceRequest,
    UploadKeyPackagesRequest, UploadKeyPackagesResponse,
};
use mimi_wire::kps::{
    ClientKeyPackage, ConnectionKeyPackageRequest, GroupKeyPackageRequest, GroupKeyPackageResponse,
};
use mimi_wire::qs::{
    DeliverMessageRequest, DeliverMessageResponse, QueueingServiceRequest, QueueingServiceResponse,
    RecipientStatus,
};
use mimi_wire::{HpkeCiphertext, QueueEncryptionKey, WireError};
use proptest::prelude::*;
use proptest::sample::select;

use crate::provider_known_answer::{
    CLIENT_REQUEST, DELIVER_MESSAGE, GROUP_KEY_PACKAGE_REQUEST, REGISTER_REQUEST,
    UPLOAD_KEY_PACKAGES_REQUEST, hex,
};

fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
}

fn component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~-]{1,20}".prop_filter("not a dot segment", |s| s != "." && s != "..")
}

fn domain() -> impl Strategy<Value = Domain> {
    ("[a-z][a-z0-9]{0,9}", select(vec!["example", "test", "org"]))
        .prop_map(|(l, tld)| Domain::parse(&format!("{l}.{tld}")).unwrap())
}

fn user() -> impl Strategy<Value = UserId> {
    (component(), domain()).prop_map(|(id, d)| UserId::new(&id, Some(d)).unwrap())
}

fn device() -> impl Strategy<Value = DeviceId> {
    (user(), component()).prop_map(|(u, d)| DeviceId::new(&u, &d).unwrap())
}

fn handle() -> impl Strategy<Value = Option<Handle>> {
    proptest::option::of(
        (component(), proptest::option::of(domain()))
            .prop_map(|(n, d)| Handle::new(&n, d).unwrap()),
    )
}

fn ciphertext() -> impl Strategy<Value = HpkeCiphertext> {
    (bytes(0..40), bytes(0..80)).prop_map(|(k, c)| HpkeCiphertext::new(k, c))
}

fn deliver() -> impl Strategy<Value = DeliverMessageRequest> {
    (
        bytes(1..300),
        proptest::collection::vec(ciphertext(), 1..20),
    )
        .prop_map(|(m, r)| DeliverMessageRequest::new(m, r))
}

fn qs_request() -> impl Strategy<Value = QueueingServiceRequest> {
    prop_oneof![
        deliver().prop_map(QueueingServiceRequest::DeliverMessage),
        bytes(1..200).prop_map(|b| QueueingServiceRequest::ConnectionRequest(b.into())),
    ]
}

fn deliver_response() -> impl Strategy<Value = DeliverMessageResponse> {
    proptest::collection::vec(select(RecipientStatus::ALL.to_vec()), 1..80)
        .prop_map(DeliverMessageResponse::new)
}

fn client_key_package() -> impl Strategy<Value = ClientKeyPackage> {
    (device(), bytes(1..200)).prop_map(|(d, kp)| ClientKeyPackage::for_device(&d, kp).unwrap())
}

fn byte_strings(count: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(bytes(1..120), count)
}

fn body() -> impl Strategy<Value = ClientRequestBody> {
    prop_oneof![
        (byte_strings(1..7), byte_strings(0..9), handle())
            .prop_map(|(chain, crls, h)| { RegisterRequest::new(chain, crls, h.as_ref()).into() }),
        (any::<u64>(), 1..=1000u32).prop_map(|(s, l)| FetchRequest::new(s, l).into()),
        any::<u64>().prop_map(|s| AckRequest::new(s).into()),
        (byte_strings(1..10), any::<bool>())
            .prop_map(|(kps, lr)| UploadKeyPackagesRequest::new(kps, lr).into()),
        (1..=u16::MAX).prop_map(|c| KeyPackageCountRequest::new(c).into()),
        any::<u64>().prop_map(|s| ListenRequest::new(s).into()),
        ciphertext().prop_map(|c| RetireQueueReferenceRequest::new(c).into()),
    ]
}

fn client_request() -> impl Strategy<Value = ClientRequest> {
    (
        device(),
        any::<u64>(),
        any::<[u8; 16]>(),
        body(),
        bytes(1..257),
    )
        .prop_map(|(d, t, id, body, sig)| {
            ClientRequest::new(ClientRequestTbs::with_id(&d, t, id, body).unwrap(), sig)
        })
}

fn fetch_response() -> impl Strategy<Value = FetchResponse> {
    (
        proptest::collection::btree_map(any::<u64>(), bytes(1..100), 0..20),
        any::<u64>(),
    )
        .prop_map(|(messages, extra)| {
            let messages: Vec<QueuedMessage> = messages
                .into_iter()
                .map(|(seq, m)| QueuedMessage::new(seq, m))
                .collect();
            let depth = (messages.len() as u64).saturating_add(extra % 1000);
            FetchResponse::new(messages, depth)
        })
}

/// Every decoder on the same bytes: none panics, and what one accepts re-encodes
/// to exactly those bytes.
fn decode_everything(b: &[u8]) -> Result<(), TestCaseError> {
    fn check<T>(
        b: &[u8],
        decode: impl Fn(&[u8]) -> Result<T, WireError>,
        encode: impl Fn(&T) -> Result<Vec<u8>, WireError>,
    ) -> Result<(), TestCaseError> {
        if let Ok(v) = decode(b) {
            prop_assert_eq!(encode(&v).unwrap(), b.to_vec());
        }
        Ok(())
    }
    check(b, QueueingServiceRequest::decode, |v| v.encode())?;
    check(b, DeliverMessageRequest::decode, |v| v.encode())?;
    check(b, QueueingServiceResponse::decode, |v| v.encode())?;
    check(b, GroupKeyPackageRequest::decode, |v| v.encode())?;
    check(b, GroupKeyPackageResponse::decode, |v| v.encode())?;
    check(b, ConnectionKeyPackageRequest::decode, |v| v.encode())?;
    check(b, ClientRequest::decode, |v| v.encode())?;
    check(b, ClientRequestTbs::decode, |v| v.encode())?;
    check(b, RegisterRequest::decode, |v| v.encode())?;
    check(b, RegisterResponse::decode, |v| v.encode())?;
    check(b, UploadKeyPackagesRequest::decode, |v| v.encode())?;
    check(b, FetchRequest::decode, |v| v.encode())?;
    check(b, FetchResponse::decode, |v| v.encode())?;
    for op in ClientOperation::ALL {
        check(b, |b| ClientRequestBody::decode(op, b), |v| v.encode())?;
    }
    if let Ok(r) = GroupKeyPackageRequest::decode(b) {
        let _ = r.user();
    }
    if let Ok(r) = ClientRequest::decode(b) {
        let _ = r.tbs().client_id();
        let _ = r.signed_content().unwrap();
        if let ClientRequestBody::Register(reg) = r.tbs().decode_body().unwrap() {
            let _ = reg.handle();
        }
    }
    if let Ok(r) = GroupKeyPackageResponse::decode(b) {
        for kp in r.key_packages() {
            let _ = kp.device();
        }
    }
    if let Ok(s) = std::str::from_utf8(b) {
        let _ = ClientRequest::from_header_value(s);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn queueing_service_round_trips(r in qs_request(), s in deliver_response()) {
        prop_assert_eq!(QueueingServiceRequest::decode(&r.encode().unwrap()).unwrap(), r.clone());
        if let QueueingServiceRequest::DeliverMessage(d) = &r {
            prop_assert_eq!(&DeliverMessageRequest::decode(&d.encode().unwrap()).unwrap(), d);
        }
        prop_assert_eq!(&DeliverMessageResponse::decode(&s.encode().unwrap()).unwrap(), &s);
        let resp = QueueingServiceResponse::DeliverMessage(s);
        prop_assert_eq!(QueueingServiceResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
    }

    #[test]
    fn key_package_retrieval_round_trips(
        u in user(),
        suite in 1..=u16::MAX,
        kps in proptest::collection::vec(client_key_package(), 0..6),
        token in bytes(1..257),
    ) {
        let req = GroupKeyPackageRequest::for_user(&u, suite).unwrap();
        let got = GroupKeyPackageRequest::decode(&req.encode().unwrap()).unwrap();
        prop_assert_eq!(got.user().unwrap(), u);
        prop_assert_eq!(got, req);
        for kp in &kps {
            prop_assert_eq!(&ClientKeyPackage::decode(&kp.encode().unwrap()).unwrap(), kp);
            prop_assert!(kp.device().is_ok());
        }
        let resp = GroupKeyPackageResponse::new(kps);
        prop_assert_eq!(GroupKeyPackageResponse::decode(&resp.encode().unwrap()).unwrap(), resp);
        let c = ConnectionKeyPackageRequest::new(token);
        prop_assert_eq!(ConnectionKeyPackageRequest::decode(&c.encode().unwrap()).unwrap(), c);
    }

    #[test]
    fn client_requests_round_trip(r in client_request()) {
        let bytes = r.encode().unwrap();
        let op = r.tbs().operation();
        let got = ClientRequest::decode_for(op, &bytes).unwrap();
        prop_assert_eq!(&got, &r);
        prop_assert!(got.tbs().client_id().is_ok());
        let tbs = r.tbs().encode().unwrap();
        prop_assert_eq!(&ClientRequestTbs::decode(&tbs).unwrap(), r.tbs());
        // The signed content is the label, then the TBS as a vector.
        prop_assert!(got.signed_content().unwrap().ends_with(&tbs));
        let body = r.tbs().decode_body().unwrap();
        prop_assert_eq!(body.encode().unwrap(), r.tbs().body());
        prop_assert_eq!(body.operation(), op);
        if let ClientRequestBody::Register(reg) = body {
            prop_assert!(reg.handle().is_ok());
        }
        if op == ClientOperation::Listen {
            let header = r.to_header_value().unwrap();
            prop_assert_eq!(ClientRequest::from_header_value(&header).unwrap(), r);
        }
    }

    #[test]
    fn client_responses_round_trip(
        queue_id in any::<[u8; 16]>(),
        ids in any::<(u16, u16, u16)>(),
        public_key in bytes(1..100),
        f in fetch_response(),
        n in any::<u64>(),
        stored in any::<u32>(),
    ) {
        let key = QueueEncryptionKey {
            kem_id: ids.0, kdf_id: ids.1, aead_id: ids.2, public_key: public_key.into(),
        };
        let reg = RegisterResponse::new(queue_id, &key);
        prop_assert_eq!(RegisterResponse::decode(&reg.encode().unwrap()).unwrap(), reg);
        prop_assert_eq!(FetchResponse::decode(&f.encode().unwrap()).unwrap(), f);
        let ack = AckResponse::new(n);
        prop_assert_eq!(AckResponse::decode(&ack.encode().unwrap()).unwrap(), ack);
        let up = UploadKeyPackagesResponse::new(stored, n);
        prop_assert_eq!(UploadKeyPackagesResponse::decode(&up.encode().unwrap()).unwrap(), up);
        let c = KeyPackageCountResponse::new(n);
        prop_assert_eq!(KeyPackageCountResponse::decode(&c.encode().unwrap()).unwrap(), c);
        let m = QueuedMessage::new(n, vec![1, 2]);
        prop_assert_eq!(QueuedMessage::decode(&m.encode().unwrap()).unwrap(), m);
    }

    #[test]
    fn random_bytes_never_panic(b in bytes(0..600)) {
        decode_everything(&b)?;
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(
        which in 0usize..5,
        cut in 0usize..140,
        tail in bytes(0..200),
    ) {
        let good = hex([
            DELIVER_MESSAGE, GROUP_KEY_PACKAGE_REQUEST, CLIENT_REQUEST, REGISTER_REQUEST,
            UPLOAD_KEY_PACKAGES_REQUEST,
        ][which]);
        let mut input = good[..cut.min(good.len())].to_vec();
        input.extend_from_slice(&tail);
        decode_everything(&input)?;
    }
}
