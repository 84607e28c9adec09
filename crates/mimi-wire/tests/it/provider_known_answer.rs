//! Known-answer bytes of the provider's structures, written out by hand from the
//! RFC 9420 rules (a `<V>` length is one byte up to 63, `0x4000 | n` in two bytes up
//! to 16383; integers big-endian) exactly as docs/wire-spec.md §11-13 lists them,
//! so that a second implementation can check itself against the same hex. The
//! client request's Ed25519 signature was made by OpenSSL:
//!
//! ```text
//! openssl pkeyutl -sign -inkey rfc8032-test1.pem -rawin -in signcontent.bin
//! ```

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use mimi_identifiers::{DeviceId, Handle, UserId};
use mimi_wire::client_api::{
    AckRequest, AckResponse, ClientOperation, ClientRequest, ClientRequestBody, ClientRequestTbs,
    FetchRequest, FetchResponse, KeyPackageCountRequest, KeyPackageCountResponse, ListenRequest,
    QueuedMessage, RegisterRequest, RegisterResponse, UploadKeyPackagesRequest,
    UploadKeyPackagesResponse,
};
use mimi_wire::kps::{
    ClientKeyPackage, ConnectionKeyPackageRequest, GroupKeyPackageRequest, GroupKeyPackageResponse,
};
use mimi_wire::qs::{
    DeliverMessageRequest, DeliverMessageResponse, QueueingServiceRequest, QueueingServiceResponse,
    RecipientStatus,
};
use mimi_wire::{HpkeCiphertext, QueueEncryptionKey};

use crate::{NOW_MS, RFC8032_PKCS8};

/// An annotated dump, as the spec prints it, to bytes: on each line, the leading
/// two-digit hex tokens; the first other token starts the annotation.
pub fn hex(s: &str) -> Vec<u8> {
    s.lines()
        .flat_map(|line| {
            line.split_whitespace()
                .take_while(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|t| u8::from_str_radix(t, 16).unwrap())
        })
        .collect()
}

fn device(s: &str) -> DeviceId {
    match mimi_identifiers::parse(s).unwrap().identifier {
        mimi_identifiers::Identifier::Device(d) => d,
        other => panic!("not a device: {other:?}"),
    }
}

fn user(s: &str) -> UserId {
    match mimi_identifiers::parse(s).unwrap().identifier {
        mimi_identifiers::Identifier::User(u) => u,
        other => panic!("not a user: {other:?}"),
    }
}

/// wire-spec.md §11.5: deliver "mls" to two recipients. 16 bytes.
pub const DELIVER_MESSAGE: &str = "
    01                      request_type = deliver_message
    03 6d 6c 73             message<V>: 3, \"mls\"
    0a                      recipients<V>: 10 bytes
       02 01 02                kem_output<V>: 2
       03 03 04 05             ciphertext<V>: 3
       01 06                   kem_output<V>: 1
       00                      ciphertext<V>: 0
";

pub fn deliver_message() -> QueueingServiceRequest {
    QueueingServiceRequest::DeliverMessage(DeliverMessageRequest::new(
        b"mls".to_vec(),
        vec![
            HpkeCiphertext::new(vec![1, 2], vec![3, 4, 5]),
            HpkeCiphertext::new(vec![6], vec![]),
        ],
    ))
}

const DELIVER_RESPONSE: &str = "
    01                      request_type = deliver_message
    02 00 02                statuses<V>: delivered, undecryptable_queue_id
";

pub const GROUP_KEY_PACKAGE_REQUEST: &str = "
    16 6d 69 6d 69 3a 2f 2f 62 2e 65 78 61 6d 70    user<V>: 22,
       6c 65 2f 75 2f 62 6f 62                      \"mimi://b.example/u/bob\"
    00 01                                           cipher_suite = 1
";

const GROUP_KEY_PACKAGE_RESPONSE: &str = "
    21                                              key_packages<V>: 33 bytes
       1c 6d 69 6d 69 3a 2f 2f 62 2e 65 78 61 6d       client<V>: 28,
          70 6c 65 2f 64 2f 62 6f 62 2f 70 68 6f 6e      \"mimi://b.example/d/bob/phone\"
          65
       03 00 01 02                                     key_package<V>: 3
";

pub const CONNECTION_KEY_PACKAGE_REQUEST: &str = "03 74 6f 6b";

/// wire-spec.md §13.9: a signed fetch. 136 bytes.
pub const CLIENT_REQUEST: &str = "
    1f 6d 69 6d 69 3a 2f 2f 61 2e 65 78 61 6d 70 6c   client_id<V>: 31,
       65 2f 64 2f 61 6c 69 63 65 2f 6c 61 70 74 6f     \"mimi://a.example/d/alice/laptop\"
       70
    00 00 01 8b cf e5 68 00                           created_at_ms = 1700000000000
    00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f   request_id[16]
    02                                                operation = fetch
    0c                                                body<V>: 12, a FetchRequest:
       00 00 00 00 00 00 00 05                           from_seq = 5
       00 00 00 64                                       limit = 100
    40 40                                             signature<V>: 64
       44 a3 80 a7 f8 db 64 9b f5 13 8e 40 60 42 1b d2
       24 15 55 e6 79 ea ef 97 47 1a f2 f3 b9 60 83 ac
       4e 40 61 38 9c 03 5a 82 61 7f 63 bf ab 63 f5 ea
       b5 ed 75 21 72 c1 3b 33 7d df ce 56 18 dd dd 00
";

/// The first 70 bytes above.
const CLIENT_REQUEST_TBS_LEN: usize = 70;

pub fn client_request_tbs() -> ClientRequestTbs {
    ClientRequestTbs::with_id(
        &device("mimi://a.example/d/alice/laptop"),
        NOW_MS,
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        FetchRequest::new(5, 100),
    )
    .unwrap()
}

pub const REGISTER_REQUEST: &str = "
    03 02 30 00                 certificate_chain<V>: 3; certificate<V>: 2
    03 02 30 00                 crls<V>: 3; crl<V>: 2
    06 40 61 6c 69 63 65        handle<V>: 6, \"@alice\"
";

const REGISTER_RESPONSE: &str = "
    11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11   queue_id[16]
    00 20 00 01 00 01                                 kem_id, kdf_id, aead_id
    20 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22   public_key<V>: 32
       22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22
       22
";

const FETCH_RESPONSE: &str = "
    0a                          messages<V>: 10 bytes
       00 00 00 00 00 00 00 05     seq = 5
       01 6d                       message<V>: 1
    00 00 00 00 00 00 00 03     depth = 3
";

pub const UPLOAD_KEY_PACKAGES_REQUEST: &str = "
    04 03 00 01 ab              key_packages<V>: 4; key_package<V>: 3
    01                          last_resort = 1
";

#[test]
fn deliver_message_request() {
    let bytes = hex(DELIVER_MESSAGE);
    assert_eq!(bytes.len(), 16);
    assert_eq!(deliver_message().encode().unwrap(), bytes);
    assert_eq!(
        QueueingServiceRequest::decode(&bytes).unwrap(),
        deliver_message()
    );
    // The same request without its type byte is a bare DeliverMessageRequest.
    let QueueingServiceRequest::DeliverMessage(inner) = deliver_message() else {
        unreachable!()
    };
    assert_eq!(DeliverMessageRequest::decode(&bytes[1..]).unwrap(), inner);
    assert_eq!(inner.message(), b"mls");
    assert_eq!(inner.recipients()[0].kem_output.as_slice(), [1, 2]);
}

#[test]
fn connection_request() {
    let r = QueueingServiceRequest::ConnectionRequest(b"tok".to_vec().into());
    assert_eq!(r.encode().unwrap(), hex("02 03 74 6f 6b"));
    assert_eq!(
        QueueingServiceRequest::decode(&hex("02 03 74 6f 6b")).unwrap(),
        r
    );
}

#[test]
fn deliver_message_response() {
    let r = QueueingServiceResponse::DeliverMessage(DeliverMessageResponse::new(vec![
        RecipientStatus::Delivered,
        RecipientStatus::UndecryptableQueueId,
    ]));
    assert_eq!(r.encode().unwrap(), hex(DELIVER_RESPONSE));
    assert_eq!(
        QueueingServiceResponse::decode(&hex(DELIVER_RESPONSE)).unwrap(),
        r
    );
}

#[test]
fn group_key_package_request() {
    let bytes = hex(GROUP_KEY_PACKAGE_REQUEST);
    assert_eq!(bytes.len(), 25);
    let r = GroupKeyPackageRequest::for_user(&user("mimi://b.example/u/bob"), 1).unwrap();
    assert_eq!(r.encode().unwrap(), bytes);
    let decoded = GroupKeyPackageRequest::decode(&bytes).unwrap();
    assert_eq!(decoded, r);
    assert_eq!(decoded.user().unwrap(), user("mimi://b.example/u/bob"));
    assert_eq!(decoded.cipher_suite(), 1);
}

#[test]
fn group_key_package_response() {
    let bytes = hex(GROUP_KEY_PACKAGE_RESPONSE);
    assert_eq!(bytes.len(), 34);
    let r = GroupKeyPackageResponse::new(vec![
        ClientKeyPackage::for_device(&device("mimi://b.example/d/bob/phone"), vec![0, 1, 2])
            .unwrap(),
    ]);
    assert_eq!(r.encode().unwrap(), bytes);
    assert_eq!(GroupKeyPackageResponse::decode(&bytes).unwrap(), r);
}

#[test]
fn connection_key_package_request() {
    let r = ConnectionKeyPackageRequest::new(b"tok".to_vec());
    assert_eq!(r.encode().unwrap(), hex(CONNECTION_KEY_PACKAGE_REQUEST));
    assert_eq!(
        ConnectionKeyPackageRequest::decode(&hex(CONNECTION_KEY_PACKAGE_REQUEST)).unwrap(),
        r
    );
}

#[test]
fn client_request_signed_by_openssl() {
    let bytes = hex(CLIENT_REQUEST);
    assert_eq!(bytes.len(), 136);
    let tbs = client_request_tbs();
    assert_eq!(tbs.encode().unwrap(), bytes[..CLIENT_REQUEST_TBS_LEN]);

    // SignContent: label<V> 22 "MIMI 1.0 ClientRequest", content<V> 70 (0x4046).
    let mut sign_content = vec![0x16];
    sign_content.extend_from_slice(b"MIMI 1.0 ClientRequest");
    sign_content.extend_from_slice(&[0x40, 0x46]);
    sign_content.extend_from_slice(&bytes[..CLIENT_REQUEST_TBS_LEN]);
    assert_eq!(tbs.signed_content().unwrap(), sign_content);

    // Ed25519 is deterministic: signing here reproduces OpenSSL's signature.
    let key = Ed25519KeyPair::from_pkcs8(&RFC8032_PKCS8).unwrap();
    let signature = key.sign(&tbs.signed_content().unwrap());
    let request = ClientRequest::new(tbs.clone(), signature.as_ref().to_vec());
    assert_eq!(request.encode().unwrap(), bytes);

    let decoded = ClientRequest::decode_for(ClientOperation::Fetch, &bytes).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(
        decoded.tbs().client_id().unwrap(),
        device("mimi://a.example/d/alice/laptop")
    );
    assert_eq!(decoded.tbs().created_at_ms(), NOW_MS);
    assert_eq!(
        decoded.tbs().decode_body().unwrap(),
        ClientRequestBody::Fetch(FetchRequest::new(5, 100))
    );
    assert_eq!(decoded.tbs().body(), &bytes[58..70]);
    UnparsedPublicKey::new(&ED25519, key.public_key().as_ref())
        .verify(&decoded.signed_content().unwrap(), decoded.signature())
        .unwrap();
}

#[test]
fn client_api_bodies() {
    let handle: Handle = match mimi_identifiers::parse("@alice").unwrap().identifier {
        mimi_identifiers::Identifier::Handle(h) => h,
        _ => unreachable!(),
    };
    let register = RegisterRequest::new(
        vec![vec![0x30, 0x00]],
        vec![vec![0x30, 0x00]],
        Some(&handle),
    );
    assert_eq!(register.encode().unwrap(), hex(REGISTER_REQUEST));
    assert_eq!(
        RegisterRequest::decode(&hex(REGISTER_REQUEST)).unwrap(),
        register
    );
    assert_eq!(register.handle().unwrap(), Some(handle));

    let upload = UploadKeyPackagesRequest::new(vec![vec![0x00, 0x01, 0xab]], true);
    assert_eq!(upload.encode().unwrap(), hex(UPLOAD_KEY_PACKAGES_REQUEST));
    assert_eq!(
        UploadKeyPackagesRequest::decode(&hex(UPLOAD_KEY_PACKAGES_REQUEST)).unwrap(),
        upload
    );

    let fixed: [(Vec<u8>, Vec<u8>); 8] = [
        (
            FetchRequest::new(5, 100).encode().unwrap(),
            hex("00 00 00 00 00 00 00 05  00 00 00 64"),
        ),
        (
            AckRequest::new(7).encode().unwrap(),
            hex("00 00 00 00 00 00 00 07"),
        ),
        (
            KeyPackageCountRequest::new(1).encode().unwrap(),
            hex("00 01"),
        ),
        (
            ListenRequest::new(42).encode().unwrap(),
            hex("00 00 00 00 00 00 00 2a"),
        ),
        (
            AckResponse::new(2).encode().unwrap(),
            hex("00 00 00 00 00 00 00 02"),
        ),
        (
            UploadKeyPackagesResponse::new(1, 9).encode().unwrap(),
            hex("00 00 00 01  00 00 00 00 00 00 00 09"),
        ),
        (
            KeyPackageCountResponse::new(9).encode().unwrap(),
            hex("00 00 00 00 00 00 00 09"),
        ),
        (
            FetchResponse::new(vec![QueuedMessage::new(5, b"m".to_vec())], 3)
                .encode()
                .unwrap(),
            hex(FETCH_RESPONSE),
        ),
    ];
    for (got, want) in fixed {
        assert_eq!(got, want);
    }
    assert_eq!(
        FetchResponse::decode(&hex(FETCH_RESPONSE)).unwrap().depth(),
        3
    );

    let response = RegisterResponse::new(
        [0x11; 16],
        &QueueEncryptionKey {
            kem_id: 0x0020,
            kdf_id: 1,
            aead_id: 1,
            public_key: vec![0x22; 32].into(),
        },
    );
    assert_eq!(response.encode().unwrap(), hex(REGISTER_RESPONSE));
    assert_eq!(
        RegisterResponse::decode(&hex(REGISTER_RESPONSE)).unwrap(),
        response
    );
}

#[test]
fn listen_header_is_unpadded_base64url() {
    let key = Ed25519KeyPair::from_pkcs8(&RFC8032_PKCS8).unwrap();
    let tbs = ClientRequestTbs::with_id(
        &device("mimi://a.example/d/alice/laptop"),
        NOW_MS,
        [0xfb; 16],
        ListenRequest::new(0),
    )
    .unwrap();
    let sig = key.sign(&tbs.signed_content().unwrap());
    let request = ClientRequest::new(tbs, sig.as_ref().to_vec());
    let header = request.to_header_value().unwrap();
    assert!(
        header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{header}"
    );
    // 0xfb 0xfb 0xfb is "-_v7" in base64url, "+/v7" in standard base64.
    assert!(header.contains("-_v7"), "{header}");
    assert_eq!(ClientRequest::from_header_value(&header).unwrap(), request);
}

/// The two-digit hex tokens that begin each line.
fn hex_lines(s: &str) -> Vec<Vec<u8>> {
    s.lines().map(hex).collect()
}

#[test]
fn the_spec_prints_these_vectors() {
    let spec = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/wire-spec.md"
    ))
    .unwrap();
    let spec_lines = hex_lines(&spec);
    for (name, vector) in [
        ("DELIVER_MESSAGE", DELIVER_MESSAGE),
        ("DELIVER_RESPONSE", DELIVER_RESPONSE),
        ("GROUP_KEY_PACKAGE_REQUEST", GROUP_KEY_PACKAGE_REQUEST),
        ("GROUP_KEY_PACKAGE_RESPONSE", GROUP_KEY_PACKAGE_RESPONSE),
        ("CLIENT_REQUEST", CLIENT_REQUEST),
        ("REGISTER_REQUEST", REGISTER_REQUEST),
        ("REGISTER_RESPONSE", REGISTER_RESPONSE),
        ("FETCH_RESPONSE", FETCH_RESPONSE),
        ("UPLOAD_KEY_PACKAGES_REQUEST", UPLOAD_KEY_PACKAGES_REQUEST),
    ] {
        let lines: Vec<Vec<u8>> = hex_lines(vector)
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect();
        assert!(
            spec_lines.windows(lines.len()).any(|w| w == lines),
            "docs/wire-spec.md does not print {name} line for line"
        );
    }
    assert!(spec.contains("`03 74 6f 6b`"));
    assert!(spec.contains("`02 03 74 6f 6b`"));
}
