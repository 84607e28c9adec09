//! Every way the provider's structures can be refused at decoding, each with its
//! exact error: one table, one line per bad input.

use mimi_wire::client_api::{
    self, ClientOperation, ClientRequest, FetchResponse, KeyPackageCountRequest, RegisterRequest,
    RegisterResponse, RetireQueueReferenceRequest, RetireQueueReferenceResponse,
    UploadKeyPackagesRequest,
};
use mimi_wire::kps::{
    ClientKeyPackage, ConnectionKeyPackageRequest, GroupKeyPackageRequest, GroupKeyPackageResponse,
};
use mimi_wire::qs::{
    self, DeliverMessageResponse, QueueingServiceRequest, QueueingServiceResponse,
};
use mimi_wire::{Fault, MAX_HPKE_CIPHERTEXT_LEN, WireError};

use crate::provider_known_answer::{
    CLIENT_REQUEST, DELIVER_MESSAGE, GROUP_KEY_PACKAGE_REQUEST, REGISTER_REQUEST,
    UPLOAD_KEY_PACKAGES_REQUEST, hex,
};

type Decoder = fn(&[u8]) -> Result<(), WireError>;

fn qs_request(b: &[u8]) -> Result<(), WireError> {
    QueueingServiceRequest::decode(b).map(drop)
}
fn qs_response(b: &[u8]) -> Result<(), WireError> {
    QueueingServiceResponse::decode(b).map(drop)
}
fn gkp_request(b: &[u8]) -> Result<(), WireError> {
    GroupKeyPackageRequest::decode(b).map(drop)
}
fn gkp_response(b: &[u8]) -> Result<(), WireError> {
    GroupKeyPackageResponse::decode(b).map(drop)
}
fn ckp_request(b: &[u8]) -> Result<(), WireError> {
    ConnectionKeyPackageRequest::decode(b).map(drop)
}
fn client_request(b: &[u8]) -> Result<(), WireError> {
    ClientRequest::decode(b).map(drop)
}
fn register(b: &[u8]) -> Result<(), WireError> {
    RegisterRequest::decode(b).map(drop)
}
fn upload(b: &[u8]) -> Result<(), WireError> {
    UploadKeyPackagesRequest::decode(b).map(drop)
}
fn count(b: &[u8]) -> Result<(), WireError> {
    KeyPackageCountRequest::decode(b).map(drop)
}
fn fetch_response(b: &[u8]) -> Result<(), WireError> {
    FetchResponse::decode(b).map(drop)
}
fn register_response(b: &[u8]) -> Result<(), WireError> {
    RegisterResponse::decode(b).map(drop)
}
fn listen_header(b: &[u8]) -> Result<(), WireError> {
    ClientRequest::from_header_value(std::str::from_utf8(b).unwrap()).map(drop)
}
fn retire(b: &[u8]) -> Result<(), WireError> {
    RetireQueueReferenceRequest::decode(b).map(drop)
}
fn retire_response(b: &[u8]) -> Result<(), WireError> {
    RetireQueueReferenceResponse::decode(b).map(drop)
}
fn fetch_endpoint(b: &[u8]) -> Result<(), WireError> {
    ClientRequest::decode_for(ClientOperation::Fetch, b).map(drop)
}

/// A `<V>` length prefix in its shortest form.
fn len_prefix(n: usize) -> Vec<u8> {
    match n {
        0..=0x3f => vec![n as u8],
        0x40..=0x3fff => (0x4000 | n as u16).to_be_bytes().to_vec(),
        _ => (0x8000_0000 | n as u32).to_be_bytes().to_vec(),
    }
}

fn vector(content: &[u8]) -> Vec<u8> {
    [len_prefix(content.len()), content.to_vec()].concat()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn kat(s: &str) -> Vec<u8> {
    hex(s)
}

fn without_last(mut b: Vec<u8>) -> Vec<u8> {
    b.pop();
    b
}

fn with_extra(mut b: Vec<u8>) -> Vec<u8> {
    b.push(0);
    b
}

/// A deliver_message request with `n` recipients of `00 00` (empty ciphertexts).
fn deliver_to(n: usize) -> Vec<u8> {
    cat(&[&[1], &vector(b"m"), &vector(&vec![0; 2 * n])])
}

/// The TBS of the known client request up to (not including) its operation.
fn tbs_head() -> Vec<u8> {
    kat(CLIENT_REQUEST)[..56].to_vec()
}

/// A client request of `operation` with `body` and a 64-byte signature.
fn client_request_raw(operation: u8, body: &[u8]) -> Vec<u8> {
    cat(&[&tbs_head(), &[operation], &vector(body), &vector(&[7; 64])])
}

fn mimi_uri_request(uri: &[u8]) -> Vec<u8> {
    cat(&[&vector(uri), &[0, 1]])
}

struct Case {
    name: &'static str,
    decode: Decoder,
    input: Vec<u8>,
    want: WireError,
}

fn case(name: &'static str, decode: Decoder, input: Vec<u8>, want: WireError) -> Case {
    Case {
        name,
        decode,
        input,
        want,
    }
}

fn cases() -> Vec<Case> {
    use WireError::*;
    const QSR: &str = "QueueingServiceRequest";
    const MSG: &str = "DeliverMessageRequest.message";
    const RCP: &str = "DeliverMessageRequest.recipients";
    let mib = qs::MAX_MESSAGE_LEN;
    vec![
        // --- QueueingServiceRequest ---
        case(
            "qs: empty input",
            qs_request,
            vec![],
            Truncated { what: QSR },
        ),
        case(
            "qs: truncated",
            qs_request,
            without_last(kat(DELIVER_MESSAGE)),
            Truncated { what: QSR },
        ),
        case(
            "qs: trailing byte",
            qs_request,
            with_extra(kat(DELIVER_MESSAGE)),
            TrailingBytes {
                what: QSR,
                extra: 1,
            },
        ),
        case(
            "qs: reserved type",
            qs_request,
            cat(&[&[0], &kat(DELIVER_MESSAGE)[1..]]),
            UnknownValue {
                field: "QueueingServiceRequest.request_type",
                value: 0,
            },
        ),
        case(
            "qs: unknown type",
            qs_request,
            cat(&[&[3], &kat(DELIVER_MESSAGE)[1..]]),
            UnknownValue {
                field: "QueueingServiceRequest.request_type",
                value: 3,
            },
        ),
        case(
            "qs: empty message",
            qs_request,
            cat(&[&[1, 0], &vector(&[0, 0])]),
            EmptyField { field: MSG },
        ),
        case(
            "qs: message over 1 MiB",
            qs_request,
            cat(&[&[1], &vector(&vec![1; mib + 1]), &vector(&[0, 0])]),
            FieldTooLong {
                field: MSG,
                len: mib + 1,
                max: mib,
            },
        ),
        case(
            "qs: no recipients",
            qs_request,
            cat(&[&[1], &vector(b"m"), &[0]]),
            EmptyField { field: RCP },
        ),
        case(
            "qs: 5001 recipients",
            qs_request,
            deliver_to(qs::MAX_RECIPIENTS + 1),
            TooMany {
                field: RCP,
                max: qs::MAX_RECIPIENTS,
            },
        ),
        case(
            "qs: recipients vector over 1 MiB",
            qs_request,
            cat(&[
                &[1],
                &vector(b"m"),
                &vector(&vec![0; qs::MAX_RECIPIENTS_LEN + 2]),
            ]),
            FieldTooLong {
                field: RCP,
                len: qs::MAX_RECIPIENTS_LEN + 2,
                max: qs::MAX_RECIPIENTS_LEN,
            },
        ),
        case(
            "qs: ciphertext over its bound",
            qs_request,
            cat(&[
                &[1],
                &vector(b"m"),
                &vector(&cat(&[&vector(&[5; MAX_HPKE_CIPHERTEXT_LEN]), &[0]])),
            ]),
            FieldTooLong {
                field: "DeliverMessageRequest.recipients[i]",
                len: MAX_HPKE_CIPHERTEXT_LEN + 3,
                max: MAX_HPKE_CIPHERTEXT_LEN,
            },
        ),
        case(
            "qs: element overruns its vector",
            qs_request,
            cat(&[&[1], &vector(b"m"), &[2, 5, 1], &[0; 8]]),
            Malformed {
                what: QSR,
                detail: format!("the last element of {RCP} runs past the end of its vector"),
            },
        ),
        case(
            "qs: non-minimal length",
            qs_request,
            cat(&[&[1, 0x40, 1, b'm'], &vector(&[0, 0])]),
            Malformed {
                what: QSR,
                detail: format!(
                    "the length of {MSG} is not a minimally encoded varint of at most 2^30 - 1"
                ),
            },
        ),
        case(
            "qs: 8-byte length",
            qs_request,
            cat(&[&[1, 0xc0, 0, 0, 0, 0, 0, 0, 1, b'm'], &vector(&[0, 0])]),
            Malformed {
                what: QSR,
                detail: format!(
                    "the length of {MSG} is not a minimally encoded varint of at most 2^30 - 1"
                ),
            },
        ),
        case(
            "qs: longer than MAX_LEN",
            qs_request,
            vec![1; QueueingServiceRequest::MAX_LEN + 1],
            TooLong {
                what: QSR,
                len: QueueingServiceRequest::MAX_LEN + 1,
                max: QueueingServiceRequest::MAX_LEN,
            },
        ),
        case(
            "qs: empty connection request",
            qs_request,
            vec![2, 0],
            EmptyField {
                field: "QueueingServiceRequest.connection_request",
            },
        ),
        case(
            "qs: connection request too long",
            qs_request,
            cat(&[&[2], &vector(&vec![1; qs::MAX_CONNECTION_REQUEST_LEN + 1])]),
            FieldTooLong {
                field: "QueueingServiceRequest.connection_request",
                len: qs::MAX_CONNECTION_REQUEST_LEN + 1,
                max: qs::MAX_CONNECTION_REQUEST_LEN,
            },
        ),
        // --- QueueingServiceResponse ---
        case(
            "qs response: unknown status",
            qs_response,
            vec![1, 2, 0, 4],
            UnknownValue {
                field: "DeliverMessageResponse.statuses[i]",
                value: 4,
            },
        ),
        case(
            "qs response: no statuses",
            qs_response,
            vec![1, 0],
            EmptyField {
                field: "DeliverMessageResponse.statuses",
            },
        ),
        case(
            "qs response: connection_request has no response",
            qs_response,
            vec![2, 1, 0],
            UnknownValue {
                field: "QueueingServiceResponse.request_type",
                value: 2,
            },
        ),
        case(
            "qs response: 5001 statuses",
            |b| DeliverMessageResponse::decode(b).map(drop),
            vector(&vec![0; qs::MAX_RECIPIENTS + 1]),
            TooLong {
                what: "DeliverMessageResponse",
                len: qs::MAX_RECIPIENTS + 3,
                max: DeliverMessageResponse::MAX_LEN,
            },
        ),
        // --- KeyPackage retrieval ---
        case(
            "kps: truncated",
            gkp_request,
            without_last(kat(GROUP_KEY_PACKAGE_REQUEST)),
            Truncated {
                what: "GroupKeyPackageRequest",
            },
        ),
        case(
            "kps: trailing byte",
            gkp_request,
            with_extra(kat(GROUP_KEY_PACKAGE_REQUEST)),
            TrailingBytes {
                what: "GroupKeyPackageRequest",
                extra: 1,
            },
        ),
        case(
            "kps: empty user",
            gkp_request,
            vec![0, 0, 1],
            EmptyField {
                field: "GroupKeyPackageRequest.user",
            },
        ),
        case(
            "kps: user longer than any identifier",
            gkp_request,
            mimi_uri_request(&vec![b'a'; 1025]),
            TooLong {
                what: "GroupKeyPackageRequest",
                len: 1029,
                max: 1028,
            },
        ),
        case(
            "kps: reserved cipher suite",
            gkp_request,
            cat(&[&vector(b"mimi://b.example/u/bob"), &[0, 0]]),
            OutOfRange {
                field: "GroupKeyPackageRequest.cipher_suite",
                value: 0,
                min: 1,
                max: 65535,
            },
        ),
        case(
            "kps: empty KeyPackage",
            |b| ClientKeyPackage::decode(b).map(drop),
            cat(&[&vector(b"mimi://b.example/d/bob/phone"), &[0]]),
            EmptyField {
                field: "ClientKeyPackage.key_package",
            },
        ),
        case(
            "kps: KeyPackage over 64 KiB",
            |b| ClientKeyPackage::decode(b).map(drop),
            cat(&[
                &vector(b"mimi://b.example/d/bob/phone"),
                &vector(&vec![1; 64 * 1024 + 1]),
            ]),
            FieldTooLong {
                field: "ClientKeyPackage.key_package",
                len: 64 * 1024 + 1,
                max: 64 * 1024,
            },
        ),
        case(
            "kps: 65 KeyPackages",
            gkp_response,
            vector(&cat(&[&vector(b"x"), &vector(b"k")]).repeat(65)),
            TooMany {
                field: "GroupKeyPackageResponse.key_packages",
                max: 64,
            },
        ),
        case(
            "kps: empty connection token",
            ckp_request,
            vec![0],
            EmptyField {
                field: "ConnectionKeyPackageRequest.connection_token",
            },
        ),
        case(
            "kps: connection token too long",
            ckp_request,
            vector(&[1; 257]),
            TooLong {
                what: "ConnectionKeyPackageRequest",
                len: 259,
                max: 258,
            },
        ),
        // --- ClientRequest ---
        case(
            "client: truncated",
            client_request,
            without_last(kat(CLIENT_REQUEST)),
            Truncated {
                what: "ClientRequest",
            },
        ),
        case(
            "client: trailing byte",
            client_request,
            with_extra(kat(CLIENT_REQUEST)),
            TrailingBytes {
                what: "ClientRequest",
                extra: 1,
            },
        ),
        case(
            "retire: a second ciphertext after the first",
            retire,
            cat(&[&vector(&[1; 32]), &vector(&[2; 17]), &[0]]),
            TrailingBytes {
                what: "RetireQueueReferenceRequest",
                extra: 1,
            },
        ),
        case(
            "retire: ciphertext cut short",
            retire,
            cat(&[&vector(&[1; 32]), &[17], &[2; 16]]),
            Truncated {
                what: "RetireQueueReferenceRequest",
            },
        ),
        case(
            "retire: longer than one ciphertext may be",
            retire,
            vec![0; MAX_HPKE_CIPHERTEXT_LEN + 1],
            TooLong {
                what: "RetireQueueReferenceRequest",
                len: MAX_HPKE_CIPHERTEXT_LEN + 1,
                max: MAX_HPKE_CIPHERTEXT_LEN,
            },
        ),
        case(
            "retire: newly_retired neither 0 nor 1",
            retire_response,
            vec![2],
            OutOfRange {
                field: "RetireQueueReferenceResponse.newly_retired",
                value: 2,
                min: 0,
                max: 1,
            },
        ),
        case(
            "client: retire_queue_reference with a body cut short",
            client_request,
            client_request_raw(10, &[0x02, 0x01]),
            Truncated {
                what: "RetireQueueReferenceRequest",
            },
        ),
        case(
            "client: reserved operation",
            client_request,
            client_request_raw(0, &[0; 8]),
            UnknownValue {
                field: "ClientRequestTbs.operation",
                value: 0,
            },
        ),
        case(
            "client: unknown operation",
            client_request,
            client_request_raw(11, &[0; 8]),
            UnknownValue {
                field: "ClientRequestTbs.operation",
                value: 11,
            },
        ),
        case(
            "client: body longer than its operation allows",
            client_request,
            client_request_raw(2, &[0; 13]),
            FieldTooLong {
                field: "ClientRequestTbs.body",
                len: 13,
                max: 12,
            },
        ),
        case(
            "client: body cut short",
            client_request,
            client_request_raw(2, &[0; 11]),
            Truncated {
                what: "FetchRequest",
            },
        ),
        case(
            "client: bytes after the body's structure",
            client_request,
            client_request_raw(1, &with_extra(kat(REGISTER_REQUEST))),
            TrailingBytes {
                what: "RegisterRequest",
                extra: 1,
            },
        ),
        case(
            "client: fetch limit 0",
            client_request,
            client_request_raw(2, &[0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]),
            OutOfRange {
                field: "FetchRequest.limit",
                value: 0,
                min: 1,
                max: 1000,
            },
        ),
        case(
            "client: fetch limit 1001",
            client_request,
            client_request_raw(2, &[0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0x03, 0xe9]),
            OutOfRange {
                field: "FetchRequest.limit",
                value: 1001,
                min: 1,
                max: 1000,
            },
        ),
        case(
            "client: empty signature",
            client_request,
            cat(&[&kat(CLIENT_REQUEST)[..70], &[0]]),
            EmptyField {
                field: "ClientRequest.signature",
            },
        ),
        case(
            "client: signature too long",
            client_request,
            cat(&[&kat(CLIENT_REQUEST)[..70], &vector(&[1; 257])]),
            FieldTooLong {
                field: "ClientRequest.signature",
                len: 257,
                max: client_api::MAX_SIGNATURE_LEN,
            },
        ),
        case(
            "client: empty client id",
            client_request,
            cat(&[&[0], &kat(CLIENT_REQUEST)[32..]]),
            EmptyField {
                field: "ClientRequestTbs.client_id",
            },
        ),
        case(
            "client: wrong endpoint",
            |b| ClientRequest::decode_for(ClientOperation::Ack, b).map(drop),
            kat(CLIENT_REQUEST),
            WrongOperation {
                expected: "ack",
                found: "fetch",
            },
        ),
        case(
            "client: too long for the endpoint",
            fetch_endpoint,
            vec![0; ClientOperation::Fetch.max_request_len() + 1],
            TooLong {
                what: "ClientRequest",
                len: ClientOperation::Fetch.max_request_len() + 1,
                max: ClientOperation::Fetch.max_request_len(),
            },
        ),
        case(
            "client: too long for any operation",
            client_request,
            vec![0; client_api::MAX_ANY_CLIENT_REQUEST_LEN + 1],
            TooLong {
                what: "ClientRequest",
                len: client_api::MAX_ANY_CLIENT_REQUEST_LEN + 1,
                max: client_api::MAX_ANY_CLIENT_REQUEST_LEN,
            },
        ),
        // --- Operation bodies ---
        case(
            "register: no certificate",
            register,
            cat(&[&[0, 0], &[0]]),
            EmptyField {
                field: "RegisterRequest.certificate_chain",
            },
        ),
        case(
            "register: seven certificates",
            register,
            cat(&[&vector(&[1, 0x30].repeat(7)), &[0, 0]]),
            TooMany {
                field: "RegisterRequest.certificate_chain",
                max: 6,
            },
        ),
        case(
            "register: certificate over 16 KiB",
            register,
            cat(&[&vector(&vector(&vec![0x30; 16 * 1024 + 1])), &[0, 0]]),
            FieldTooLong {
                field: "RegisterRequest.certificate_chain[i]",
                len: 16 * 1024 + 1,
                max: 16 * 1024,
            },
        ),
        case(
            "register: nine CRLs",
            register,
            cat(&[&vector(&[1, 0x30]), &vector(&[1, 0x30].repeat(9)), &[0]]),
            TooMany {
                field: "RegisterRequest.crls",
                max: 8,
            },
        ),
        case(
            "register: empty CRL",
            register,
            cat(&[&vector(&[1, 0x30]), &vector(&[0]), &[0]]),
            EmptyField {
                field: "RegisterRequest.crls[i]",
            },
        ),
        case(
            "register: CRLs over 8 MiB",
            register,
            cat(&[
                &vector(&[1, 0x30]),
                &vector(&vec![0; client_api::MAX_CRLS_LEN + 1]),
                &[0],
            ]),
            FieldTooLong {
                field: "RegisterRequest.crls",
                len: client_api::MAX_CRLS_LEN + 1,
                max: client_api::MAX_CRLS_LEN,
            },
        ),
        case(
            "register: truncated",
            register,
            without_last(kat(REGISTER_REQUEST)),
            Truncated {
                what: "RegisterRequest",
            },
        ),
        case(
            "upload: last_resort 2",
            upload,
            cat(&[&without_last(kat(UPLOAD_KEY_PACKAGES_REQUEST)), &[2]]),
            OutOfRange {
                field: "UploadKeyPackagesRequest.last_resort",
                value: 2,
                min: 0,
                max: 1,
            },
        ),
        case(
            "upload: no KeyPackage",
            upload,
            vec![0, 0],
            EmptyField {
                field: "UploadKeyPackagesRequest.key_packages",
            },
        ),
        case(
            "upload: 101 KeyPackages",
            upload,
            cat(&[&vector(&[1, 0xab].repeat(101)), &[0]]),
            TooMany {
                field: "UploadKeyPackagesRequest.key_packages",
                max: 100,
            },
        ),
        case(
            "upload: empty KeyPackage",
            upload,
            vec![1, 0, 0],
            EmptyField {
                field: "UploadKeyPackagesRequest.key_packages[i]",
            },
        ),
        case(
            "count: reserved cipher suite",
            count,
            vec![0, 0],
            OutOfRange {
                field: "KeyPackageCountRequest.cipher_suite",
                value: 0,
                min: 1,
                max: 65535,
            },
        ),
        case(
            "count: trailing bytes",
            count,
            vec![0, 1, 0],
            TrailingBytes {
                what: "KeyPackageCountRequest",
                extra: 1,
            },
        ),
        // --- Responses ---
        case(
            "fetch response: seq not increasing",
            fetch_response,
            cat(&[
                &vector(&cat(&[
                    &5u64.to_be_bytes(),
                    &[1, 1],
                    &5u64.to_be_bytes(),
                    &[1, 1],
                ])),
                &2u64.to_be_bytes(),
            ]),
            OutOfRange {
                field: "FetchResponse.messages[i].seq (increasing)",
                value: 5,
                min: 6,
                max: u64::MAX,
            },
        ),
        case(
            "fetch response: depth below the count",
            fetch_response,
            cat(&[
                &vector(&cat(&[&5u64.to_be_bytes(), &[1, 1]])),
                &0u64.to_be_bytes(),
            ]),
            OutOfRange {
                field: "FetchResponse.depth",
                value: 0,
                min: 1,
                max: u64::MAX,
            },
        ),
        case(
            "fetch response: empty message",
            fetch_response,
            cat(&[
                &vector(&cat(&[&5u64.to_be_bytes(), &[0]])),
                &1u64.to_be_bytes(),
            ]),
            EmptyField {
                field: "QueuedMessage.message",
            },
        ),
        case(
            "fetch response: 1001 messages",
            fetch_response,
            cat(&[
                &vector(
                    &(0..1001u64)
                        .flat_map(|s| cat(&[&s.to_be_bytes(), &[1, 1]]))
                        .collect::<Vec<_>>(),
                ),
                &2000u64.to_be_bytes(),
            ]),
            TooMany {
                field: "FetchResponse.messages",
                max: 1000,
            },
        ),
        case(
            "register response: empty queue key",
            register_response,
            cat(&[&[0x11; 16], &[0, 0x20, 0, 1, 0, 1], &[0]]),
            EmptyField {
                field: "RegisterResponse.queue_key",
            },
        ),
        case(
            "register response: truncated queue id",
            register_response,
            vec![0x11; 15],
            Truncated {
                what: "RegisterResponse",
            },
        ),
        // --- The listen header ---
        case(
            "listen header: padded",
            listen_header,
            b"AAAA=".to_vec(),
            Malformed {
                what: "MIMI-Client-Request header",
                detail: "not unpadded base64url: Invalid symbol 61, offset 4.".to_owned(),
            },
        ),
        case(
            "listen header: standard alphabet",
            listen_header,
            b"AA+/".to_vec(),
            Malformed {
                what: "MIMI-Client-Request header",
                detail: "not unpadded base64url: Invalid symbol 43, offset 2.".to_owned(),
            },
        ),
        case(
            "listen header: too long",
            listen_header,
            vec![b'A'; client_api::MAX_LISTEN_HEADER_LEN + 1],
            TooLong {
                what: "MIMI-Client-Request header",
                len: client_api::MAX_LISTEN_HEADER_LEN + 1,
                max: client_api::MAX_LISTEN_HEADER_LEN,
            },
        ),
    ]
}

#[test]
fn bad_inputs_are_refused_with_their_exact_error() {
    let mut failures = Vec::new();
    for c in cases() {
        match (c.decode)(&c.input) {
            Err(e) if e == c.want => {
                // Every refusal is the peer's fault or an incompatibility, never ours.
                assert_ne!(e.fault(), Fault::Local, "{}", c.name);
            }
            other => failures.push(format!("{}: got {other:?}, want {:?}", c.name, c.want)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_bounds_themselves_are_accepted() {
    assert!(QueueingServiceRequest::decode(&deliver_to(qs::MAX_RECIPIENTS)).is_ok());
    assert!(
        QueueingServiceRequest::decode(&cat(&[
            &[1],
            &vector(&vec![1; qs::MAX_MESSAGE_LEN]),
            &vector(&[0, 0]),
        ]))
        .is_ok()
    );
    assert!(ConnectionKeyPackageRequest::decode(&vector(&[1; 256])).is_ok());
    assert!(upload(&cat(&[&vector(&[1, 0xab].repeat(100)), &[0]])).is_ok());
    assert!(
        register(&cat(&[
            &vector(&[1, 0x30].repeat(6)),
            &vector(&[1, 0x30].repeat(8)),
            &[0]
        ]))
        .is_ok()
    );
}

#[test]
fn a_listen_header_must_hold_a_listen_request() {
    // The known fetch request, as a header: valid base64url, wrong operation.
    let request = ClientRequest::decode(&kat(CLIENT_REQUEST)).unwrap();
    let header = request.to_header_value().unwrap();
    assert_eq!(
        ClientRequest::from_header_value(&header).unwrap_err(),
        WireError::WrongOperation {
            expected: "listen",
            found: "fetch"
        }
    );
}
