//! The signature labels, one per signed structure, all in one place so that no two
//! structures can ever share one.
//!
//! As in RFC 9420 §5.1.2 (`SignWithLabel`), a signature covers
//! `SignContent { opaque label<V>; opaque content<V>; }`, with `label` one of these
//! strings (ASCII, no terminator). A distinct label per structure means that a
//! signature made for one kind of structure can never be presented as a signature
//! over another, even if their encodings happen to coincide. Unlike MLS, the whole
//! label is spelled out here (MLS prefixes "MLS 1.0 "), so each constant is exactly
//! the bytes signed.

/// Label of the signature over an [`S2SMessage`](crate::S2SMessage): its fields
/// `version`, `sender_domain`, `recipient_domain` and `event`, serialized in order.
pub const S2S_MESSAGE: &str = "MIMI 1.0 S2SMessage";

/// Label of a device's signature over a
/// [`ClientRequestTbs`](crate::client_api::ClientRequestTbs), made with its MLS
/// signature key. MLS's own labels all begin `"MLS 1.0 "`, so nothing an MLS
/// client signs can pass for a client request, nor the reverse.
pub const CLIENT_REQUEST: &str = "MIMI 1.0 ClientRequest";

/// Label of a group member's signature over a hub request
/// ([`DSRequest::content_to_sign`](crate::ds::DSRequest::content_to_sign)), made
/// with the MLS signature key of its leaf (draft-robert-mimi-delivery-service's
/// `ClientSignature`).
pub const DS_REQUEST: &str = "MIMI 1.0 DSRequest";

/// Label of a joiner's signature over a
/// [`WelcomeInfoRequest`](crate::ds::WelcomeInfoRequest), with its new leaf's key.
pub const WELCOME_INFO_REQUEST: &str = "MIMI 1.0 WelcomeInfoRequest";

/// Label of a would-be joiner's signature over an
/// [`ExternalCommitInfoRequest`](crate::ds::ExternalCommitInfoRequest), with its
/// certificate's key.
pub const EXTERNAL_COMMIT_INFO_REQUEST: &str = "MIMI 1.0 ExternalCommitInfoRequest";

/// Every label defined here; tests check that they are distinct.
pub const ALL: &[&str] = &[
    S2S_MESSAGE,
    CLIENT_REQUEST,
    DS_REQUEST,
    WELCOME_INFO_REQUEST,
    EXTERNAL_COMMIT_INFO_REQUEST,
];
