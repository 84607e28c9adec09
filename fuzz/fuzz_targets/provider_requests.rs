//! Any bytes as the body of a provider endpoint: the queueing service and KeyPackage
//! requests (inside an S2S envelope) and the client API's signed requests, plus
//! their responses, and the queue reference a KeyPackage's leaf carries. No decoder panics; what decodes re-encodes to exactly the same
//! bytes (the encoding is canonical, so a client's signature over the TBS covers
//! the bytes the provider read); the identifier accessors never panic.
//!
//! The first byte also picks a client operation, so that every operation's body
//! decoder sees the rest of the input directly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_wire::{QueueReference, WireError};
use mimi_wire::client_api::{
    ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs, FetchResponse,
    RegisterResponse,
};
use mimi_wire::kps::{
    ConnectionKeyPackageRequest, GroupKeyPackageRequest, GroupKeyPackageResponse,
};
use mimi_wire::qs::{QueueingServiceRequest, QueueingServiceResponse};

/// Decodes `data` with `decode`; if it is accepted, its encoding must be `data`.
fn canonical<T>(
    data: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, WireError>,
    encode: impl Fn(&T) -> Result<Vec<u8>, WireError>,
) -> Option<T> {
    let value = decode(data).ok()?;
    assert_eq!(
        encode(&value).expect("a decoded value encodes"),
        data,
        "decoding accepted a non-canonical encoding"
    );
    Some(value)
}

fn client_request(data: &[u8]) {
    let Some(request) = canonical(data, ClientRequest::decode, ClientRequest::encode) else {
        return;
    };
    let tbs = request.tbs().encode().expect("encodes");
    // The signature covers exactly the bytes that precede it on the wire.
    assert!(data.starts_with(&tbs));
    assert!(request.signed_content().expect("fits").ends_with(&tbs));
    assert_eq!(
        ClientRequestTbs::decode(&tbs).expect("a decoded TBS decodes alone"),
        *request.tbs()
    );
    let op = request.tbs().operation();
    assert!(data.len() <= op.max_request_len());
    assert!(ClientRequest::decode_for(op, data).is_ok());
    let _ = request.tbs().client_id();
    // Decoding checked the body: it decodes again, to the same bytes.
    let body = request
        .tbs()
        .decode_body()
        .expect("a decoded request's body decodes");
    assert_eq!(body.encode().expect("encodes"), request.tbs().body());
    if let ClientRequestBody::Register(r) = body {
        let _ = r.handle();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(QueueingServiceRequest::DeliverMessage(d)) = canonical(
        data,
        QueueingServiceRequest::decode,
        QueueingServiceRequest::encode,
    ) {
        assert!(!d.message().is_empty() && !d.recipients().is_empty());
    }
    canonical(
        data,
        QueueingServiceResponse::decode,
        QueueingServiceResponse::encode,
    );
    if let Some(r) = canonical(
        data,
        GroupKeyPackageRequest::decode,
        GroupKeyPackageRequest::encode,
    ) {
        let _ = r.user();
    }
    if let Some(r) = canonical(
        data,
        GroupKeyPackageResponse::decode,
        GroupKeyPackageResponse::encode,
    ) {
        for kp in r.key_packages() {
            let _ = kp.device();
        }
    }
    canonical(
        data,
        ConnectionKeyPackageRequest::decode,
        ConnectionKeyPackageRequest::encode,
    );
    canonical(data, RegisterResponse::decode, RegisterResponse::encode);
    canonical(data, QueueReference::decode, QueueReference::encode);
    canonical(data, FetchResponse::decode, FetchResponse::encode);
    client_request(data);

    if let Ok(header) = std::str::from_utf8(data) {
        if let Ok(r) = ClientRequest::from_header_value(header) {
            assert_eq!(r.tbs().operation(), ClientOperation::Listen);
        }
    }

    if let Some((&first, rest)) = data.split_first() {
        let op = ClientOperation::ALL[usize::from(first) % ClientOperation::ALL.len()];
        if let Some(body) = canonical(
            rest,
            |b| ClientRequestBody::decode(op, b),
            ClientRequestBody::encode,
        ) {
            assert_eq!(body.operation(), op);
        }
    }
});
