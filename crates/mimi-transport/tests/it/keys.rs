//! The key and discovery endpoints, and the encoding of the key list.

use mimi_transport::{MAX_KEYS, SignatureKeys};
use mimi_wire::tls_codec::Serialize;

use crate::harness::{federation, new_signing_key, record};

#[tokio::test]
async fn signature_key_serves_the_tls_encoded_key_list() {
    let f = federation().await;
    let response = f
        .client
        .get("https://ds.a.example/signature_key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let body = response.bytes().await.unwrap();
    let keys = SignatureKeys::decode(&body).unwrap();
    assert_eq!(keys, f.a.served.keys());
    assert_eq!(keys.keys()[0].public_key(), f.a.signing_key.public_key());
}

#[tokio::test]
async fn verification_key_serves_the_same_list() {
    let f = federation().await;
    let mut bodies = Vec::new();
    for path in ["signature_key", "verification_key"] {
        let response = f
            .client
            .get(format!("https://ds.a.example/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        bodies.push(response.bytes().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(
        SignatureKeys::decode(&bodies[1]).unwrap(),
        f.a.served.keys()
    );
}

#[tokio::test]
async fn ds_domain_is_served_as_text() {
    let f = federation().await;
    let response = f
        .client
        .get("https://a.example/.well-known/mimi/ds-domain")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "ds.a.example");
    let ds =
        f.b.discovery
            .ds_domain(&f.a.name, f.now_ms())
            .await
            .unwrap();
    assert_eq!(ds.as_str(), "ds.a.example");
}

#[tokio::test]
async fn every_request_carries_its_connection_address() {
    let f = federation().await;
    let response = f
        .client
        .get("https://ds.b.example/peer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "127.0.0.1");
}

#[test]
fn the_key_list_is_a_vector_of_records() {
    let k1 = record(&new_signing_key(), 1_000_000, 10);
    let k2 = record(&new_signing_key(), 1_000_000, 20);
    let list = SignatureKeys::new(vec![k1.clone(), k2.clone()]).unwrap();
    let bytes = list.encode().unwrap();
    // An RFC 9420 varint length (two bytes, 0b01 prefix, for 64 to 16383), then
    // the two records back to back.
    let mut expected = k1.encode().unwrap();
    expected.extend(k2.encode().unwrap());
    let len = expected.len();
    assert!((64..16384).contains(&len));
    assert_eq!(bytes[..2], [0x40 | (len >> 8) as u8, len as u8]);
    assert_eq!(&bytes[2..], &expected[..]);
    assert_eq!(SignatureKeys::decode(&bytes).unwrap(), list);
}

#[test]
fn bad_key_lists_are_refused_with_a_reason() {
    let k = record(&new_signing_key(), 1_000_000, 10);
    assert!(SignatureKeys::new(vec![]).is_none());
    assert!(SignatureKeys::new(vec![k.clone(); MAX_KEYS + 1]).is_none());

    let empty = Vec::<mimi_wire::ServerVerificationKey>::new()
        .tls_serialize_detached()
        .unwrap();
    let e = SignatureKeys::decode(&empty).unwrap_err();
    assert!(e.contains("1 to 8 keys"), "{e}");

    let too_many = vec![k.clone(); MAX_KEYS + 1]
        .tls_serialize_detached()
        .unwrap();
    assert!(SignatureKeys::decode(&too_many).is_err());

    let good = SignatureKeys::new(vec![k]).unwrap().encode().unwrap();
    for cut in 0..good.len() {
        assert!(SignatureKeys::decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(SignatureKeys::decode(&trailing).is_err());
    let huge = vec![0u8; mimi_transport::MAX_KEY_LIST_LEN + 1];
    assert!(
        SignatureKeys::decode(&huge)
            .unwrap_err()
            .contains("more than")
    );
}
