//! Any bytes as a hub request (draft-kohbrok-mimi-transport §5.2-5.4): the
//! `DSRequest` of `/group_operation`, the welcome and external-commit information
//! requests, the client API's `HubRequest`, the hub's `DSResponse`, and the
//! `FanoutMessage` a member finds in its queue. No decoder panics; whatever decodes
//! re-encodes to exactly the same bytes (a member's signature over the request
//! covers the bytes the hub read), and the signed content of an accepted request
//! can always be built.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimi_wire::WireError;
use mimi_wire::client_api::HubRequest;
use mimi_wire::ds::{
    DSRequest, DSResponse, ExternalCommitInfoRequest, FanoutMessage, WelcomeInfoRequest,
};

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

fuzz_target!(|data: &[u8]| {
    if let Some(request) = canonical(data, DSRequest::decode, DSRequest::encode) {
        request.signed_content().expect("signed content of a decoded request");
        let operation = request.body().operation();
        let _ = operation.crls();
        if let Some(update) = operation.group_update() {
            assert!(!update.commit().is_empty() && !update.group_info().is_empty());
        }
    }
    if let Some(w) = canonical(data, WelcomeInfoRequest::decode, WelcomeInfoRequest::encode) {
        w.signed_content().expect("signed content of a decoded request");
    }
    if let Some(e) = canonical(
        data,
        ExternalCommitInfoRequest::decode,
        ExternalCommitInfoRequest::encode,
    ) {
        e.signed_content().expect("signed content of a decoded request");
    }
    canonical(data, HubRequest::decode, HubRequest::encode);
    canonical(data, DSResponse::decode, DSResponse::encode);
    if let Some(f) = canonical(data, FanoutMessage::decode, FanoutMessage::encode) {
        assert!(!f.hub_domain().is_empty());
    }
});
