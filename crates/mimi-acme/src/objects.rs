//! The JSON objects of RFC 8555 §7.1, as this server reads and writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Directory {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    pub revoke_cert: String,
    pub key_change: String,
    pub renewal_info: String,
    pub meta: DirectoryMeta,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub external_account_required: bool,
    /// draft-ietf-acme-profiles: profile name → description.
    pub profiles: BTreeMap<String, String>,
}

/// The identifier type of domain names (RFC 8555 §9.7.7).
pub const DNS: &str = "dns";
/// The identifier type of telephone numbers (RFC 9448 §3): the value is the
/// base64url DER of an RFC 8226 TNAuthList.
pub const TN_AUTH_LIST: &str = "TNAuthList";
/// The challenge type of RFC 8555 §8.3.
pub const HTTP_01: &str = "http-01";
/// The challenge type of draft-peterson-mimi-idprover §4 (docs/sms-link-00.md).
pub const SMS_LINK_00: &str = "sms-link-00";

/// An identifier of RFC 8555 §9.7.7 (`dns`) or RFC 9448 (`TNAuthList`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Deactivated,
    Revoked,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Processing => "processing",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Deactivated => "deactivated",
            Status::Revoked => "revoked",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "ready" => Status::Ready,
            "processing" => Status::Processing,
            "valid" => Status::Valid,
            "invalid" => Status::Invalid,
            "deactivated" => Status::Deactivated,
            "revoked" => Status::Revoked,
            "expired" => Status::Expired,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountObject {
    pub status: Status,
    pub contact: Vec<String>,
    pub orders: String,
    /// The binding the account was created with, as sent (RFC 8555 §7.1.2:
    /// part of the account object, not updatable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderObject {
    pub status: Status,
    pub expires: String,
    pub identifiers: Vec<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub authorizations: Vec<String>,
    pub finalize: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// ARI (RFC 9773 §5): echoed from newOrder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationObject {
    pub identifier: Identifier,
    pub status: Status,
    pub expires: String,
    pub challenges: Vec<ChallengeObject>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeObject {
    #[serde(rename = "type")]
    pub type_: String,
    pub url: String,
    pub status: Status,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

// The request payloads below ignore members they do not know: RFC 8555 §7.3
// says the server MUST ignore fields it does not recognize, so that clients
// can detect unsupported extensions (they are not reflected back).

/// The payload of newAccount (RFC 8555 §7.3).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAccount {
    #[serde(default)]
    pub contact: Vec<String>,
    #[serde(default)]
    pub terms_of_service_agreed: Option<bool>,
    #[serde(default)]
    pub only_return_existing: Option<bool>,
    #[serde(default)]
    pub external_account_binding: Option<serde_json::Value>,
}

/// The payload of newOrder (RFC 8555 §7.4, draft-ietf-acme-profiles).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    pub not_before: Option<String>,
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// ARI (RFC 9773): the certificate this order replaces.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// A POST to the account URL (RFC 8555 §7.3.2, §7.3.6): new contacts, or
/// `"status": "deactivated"`. Other account fields (`orders`,
/// `termsOfServiceAgreed`, `externalAccountBinding`) are not updatable and
/// are ignored, as clients echo the account object back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    #[serde(default)]
    pub contact: Option<Vec<String>>,
    #[serde(default)]
    pub status: Option<String>,
}

/// The payload of revokeCert (RFC 8555 §7.6).
#[derive(Debug, Clone, Deserialize)]
pub struct RevokeCert {
    /// base64url of the certificate's DER.
    pub certificate: String,
    /// An RFC 5280 CRLReason code; unspecified (0) if absent.
    #[serde(default)]
    pub reason: Option<i64>,
}

/// The payload of the inner JWS of a key rollover (RFC 8555 §7.3.5).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyChange {
    pub account: String,
    pub old_key: serde_json::Value,
}

/// A renewal information object (RFC 9773 §4.2).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    pub suggested_window: SuggestedWindow,
}

#[derive(Debug, Clone, Serialize)]
pub struct SuggestedWindow {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
}

/// What a client POSTs to a challenge URL (RFC 8555 §7.5.1), other than
/// POST-as-GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChallengeAnswer {
    /// `{}`: the client is ready (http-01: validate now; sms-link-00: send
    /// the code).
    Ready,
    /// `{"keyAuthorization": "..."}`: completes an sms-link-00 challenge
    /// (modelled on RFC 8823 §3.2).
    KeyAuthorization(String),
}

/// The payload of finalize (RFC 8555 §7.4).
#[derive(Debug, Clone, Deserialize)]
pub struct Finalize {
    pub csr: String,
}
