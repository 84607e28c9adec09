//! Discovery of keying material (draft-mahy-mimi-identity, "Discovery of
//! Keying Material"): one query format, answered in JSON, at
//! `/.well-known/mimi/keys` (docs/key-discovery.md). No HTTP here.
//!
//! A query asks for one kind of key — the domain's keys, a user's keys (the
//! certificate chains of the user's registered devices), or KeyPackages —
//! and, for the last two, searches by handle, user ID or device ID. It is
//! sent either anonymously (`GET` with the query string) or as a signed S2S
//! event whose body is the same query string, which proves the searcher's
//! domain. KeyPackages are one-time material: they are only given to signed
//! searchers; user keys to anonymous ones only if the operator allows it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mimi_credentials::Certificate;
use mimi_identifiers::{DeviceId, Handle, Identifier, UserId};
use mimi_storage::Storage;
use mimi_transport::ReplayRecord;
use mimi_transport::ratelimit::Spend;
use serde::Serialize;

use crate::clients::{device_uri, user_uri};
use crate::error::ProviderError;
use crate::state::Provider;

/// Longest query string accepted.
pub const MAX_QUERY_LEN: usize = 2048;

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyQuery {
    /// `type=domain`: the provider's signing, queue and connection keys.
    Domain,
    /// `type=user&<search>`: certificate chains of the user's devices.
    User(Search),
    /// `type=key_packages&<search>[&cipher_suite=N]`: one KeyPackage per
    /// client of the user (one-time: signed searchers only).
    KeyPackages(Search, u16),
}

/// Whom a query is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Handle(Handle),
    User(UserId),
    Device(DeviceId),
}

/// Who asks: a domain proven by an S2S signature, or anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Searcher {
    Domain(String),
    /// Anonymous, identified for rate limiting by its network address.
    Anonymous(String),
}

impl KeyQuery {
    /// Parses `type=…&handle=…` (application/x-www-form-urlencoded).
    pub fn parse(query: &str) -> Result<KeyQuery, ProviderError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(invalid(format!(
                "the query is longer than {MAX_QUERY_LEN} bytes"
            )));
        }
        let mut kind = None;
        let mut search = None;
        let mut cipher_suite = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            let slot_taken = |name: &str| invalid(format!("`{name}` is given twice"));
            match name {
                "type" => {
                    if kind.replace(value).is_some() {
                        return Err(slot_taken("type"));
                    }
                }
                "handle" | "user" | "device" => {
                    if search.replace(parse_search(name, &value)?).is_some() {
                        return Err(invalid(
                            "give exactly one of handle, user and device".into(),
                        ));
                    }
                }
                "cipher_suite" => {
                    let suite = value.parse::<u16>().map_err(|_| {
                        invalid(format!(
                            "cipher_suite must be a number 0-65535, not {value:?}"
                        ))
                    })?;
                    if cipher_suite.replace(suite).is_some() {
                        return Err(slot_taken("cipher_suite"));
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "unknown query parameter {other:?}; use type, handle, user, device, cipher_suite"
                    )));
                }
            }
        }
        let needs_search = || {
            search.clone().ok_or_else(|| {
                invalid("this query type needs one of handle, user or device".into())
            })
        };
        let query = match kind.as_deref() {
            Some("domain") if search.is_none() => KeyQuery::Domain,
            Some("domain") => return Err(invalid("type=domain takes no search".into())),
            Some("user") => KeyQuery::User(needs_search()?),
            Some("key_packages") => {
                KeyQuery::KeyPackages(needs_search()?, cipher_suite.unwrap_or(1))
            }
            Some(other) => {
                return Err(invalid(format!(
                    "unknown type {other:?}; use domain, user or key_packages"
                )));
            }
            None => {
                return Err(invalid(
                    "give type=domain, type=user or type=key_packages".into(),
                ));
            }
        };
        if cipher_suite.is_some() && !matches!(query, KeyQuery::KeyPackages(..)) {
            return Err(invalid("cipher_suite is only for type=key_packages".into()));
        }
        Ok(query)
    }
}

fn invalid(reason: String) -> ProviderError {
    ProviderError::Invalid(format!("key query: {reason}"))
}

fn parse_search(name: &str, value: &str) -> Result<Search, ProviderError> {
    let parsed = mimi_identifiers::parse(value)
        .map_err(|e| invalid(format!("{name} {value:?} is not an identifier: {e}")))?;
    match (name, parsed.identifier) {
        ("handle", Identifier::Handle(h)) => Ok(Search::Handle(h)),
        ("user", Identifier::User(u)) => Ok(Search::User(u)),
        ("device", Identifier::Device(d)) => Ok(Search::Device(d)),
        (name, other) => Err(invalid(format!(
            "{name} must be a {name} identifier, but {value:?} is a {:?}",
            other.kind()
        ))),
    }
}

/// `%XX` and `+` decoding of one query value, as UTF-8.
fn percent_decode(value: &str) -> Result<String, ProviderError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        invalid("a % escape is not followed by two hex digits".into())
                    })?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid("a query value is not UTF-8".into()))
}

/// `{"domain": …}`: the provider's public keys.
#[derive(Debug, Serialize)]
pub struct DomainKeys {
    pub domain: String,
    pub ds_domain: String,
    pub signature_keys: Vec<SignatureKeyJson>,
    pub queue_key: QueueKeyJson,
    /// The connection-establishment key (metadata minimalization); not yet
    /// published, so always `null`.
    pub connection_key: Option<()>,
}

#[derive(Debug, Serialize)]
pub struct SignatureKeyJson {
    /// TLS SignatureScheme code point (0x0807 = Ed25519).
    pub scheme: u16,
    pub public_key: String,
    pub not_before: u64,
    pub not_after: u64,
}

#[derive(Debug, Serialize)]
pub struct QueueKeyJson {
    pub kem_id: u16,
    pub kdf_id: u16,
    pub aead_id: u16,
    pub public_key: String,
}

/// `{"user": …, "devices": [...]}`: certificate chains of a user's devices.
#[derive(Debug, Serialize)]
pub struct UserKeys {
    pub user: String,
    pub devices: Vec<DeviceKeys>,
}

#[derive(Debug, Serialize)]
pub struct DeviceKeys {
    pub device: String,
    /// DER certificates, leaf first, base64url without padding.
    pub certificate_chain: Vec<String>,
}

/// `{"user": …, "key_packages": [...]}`.
#[derive(Debug, Serialize)]
pub struct KeyPackages {
    pub user: String,
    pub key_packages: Vec<ClientKeyPackageJson>,
}

#[derive(Debug, Serialize)]
pub struct ClientKeyPackageJson {
    pub client: String,
    /// A bare RFC 9420 KeyPackage, base64url without padding.
    pub key_package: String,
}

/// An answer, serialized as JSON by the caller.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Domain(DomainKeys),
    User(UserKeys),
    KeyPackages(KeyPackages),
}

/// Answers `query` for `searcher`, after its rate limit and policy. A signed
/// query's `replay` record is stored after every check that can refuse the
/// query and before anything is handed out: a refused query leaves no
/// record, and a replayed one takes no KeyPackage.
pub async fn answer<S: Storage>(
    provider: &Provider<S>,
    query: &KeyQuery,
    searcher: &Searcher,
    replay: Option<&ReplayRecord>,
) -> Result<Answer, ProviderError> {
    let key = match searcher {
        Searcher::Domain(d) => format!("discovery domain {d}"),
        Searcher::Anonymous(addr) => format!("discovery anonymous {addr}"),
    };
    provider.rate_limit(&[Spend {
        key,
        limit: provider.settings.limits.discovery,
        cost: 1,
    }])?;
    let record = async || -> Result<(), ProviderError> {
        if let Some(replay) = replay {
            replay.remember(&*provider.storage).await?;
        }
        Ok(())
    };
    match query {
        KeyQuery::Domain => {
            let keys = domain_keys(provider)?;
            record().await?;
            Ok(Answer::Domain(keys))
        }
        KeyQuery::User(search) => {
            if matches!(searcher, Searcher::Anonymous(_))
                && !provider.settings.discovery.anonymous_user_keys
            {
                return Err(ProviderError::Forbidden(
                    "this provider gives user keys only to signed searchers; POST the query as a signed S2S event".into(),
                ));
            }
            let keys = user_keys(provider, search).await?;
            record().await?;
            Ok(Answer::User(keys))
        }
        KeyQuery::KeyPackages(search, suite) => {
            let Searcher::Domain(requester) = searcher else {
                return Err(ProviderError::Forbidden(
                    "KeyPackages are one-time keys given only to signed searchers; POST the query as a signed S2S event".into(),
                ));
            };
            let user = resolve_user(provider, search).await?;
            let request = mimi_wire::GroupKeyPackageRequest::new(user.clone().into_bytes(), *suite);
            let claim = crate::kps::admit_claim(provider, requester, &request).await?;
            record().await?;
            let response = crate::kps::hand_out(provider, claim).await?;
            Ok(Answer::KeyPackages(KeyPackages {
                user,
                key_packages: response
                    .key_packages()
                    .iter()
                    .map(|kp| ClientKeyPackageJson {
                        client: String::from_utf8_lossy(kp.client()).into_owned(),
                        key_package: URL_SAFE_NO_PAD.encode(kp.key_package()),
                    })
                    .collect(),
            }))
        }
    }
}

fn domain_keys<S>(provider: &Provider<S>) -> Result<DomainKeys, ProviderError> {
    let queue = provider.queue_key.public();
    Ok(DomainKeys {
        domain: provider.settings.domain.to_string(),
        ds_domain: provider.settings.ds_domain.to_string(),
        signature_keys: provider
            .served_keys
            .keys()
            .keys()
            .iter()
            .map(|k| SignatureKeyJson {
                scheme: k.scheme().value(),
                public_key: URL_SAFE_NO_PAD.encode(k.public_key()),
                not_before: k.not_before(),
                not_after: k.not_after(),
            })
            .collect(),
        queue_key: QueueKeyJson {
            kem_id: queue.kem_id,
            kdf_id: queue.kdf_id,
            aead_id: queue.aead_id,
            public_key: URL_SAFE_NO_PAD.encode(queue.public_key.as_slice()),
        },
        connection_key: None,
    })
}

/// The `mimi://` user a search names; it must be one of ours.
async fn resolve_user<S: Storage>(
    provider: &Provider<S>,
    search: &Search,
) -> Result<String, ProviderError> {
    let ours = &provider.settings.domain;
    let not_ours = || {
        ProviderError::NotFound(format!(
            "the search names no user of {ours}; ask the user's own provider"
        ))
    };
    match search {
        Search::Handle(handle) => provider
            .storage
            .user_by_handle(&handle.to_string())
            .await?
            .ok_or_else(|| {
                ProviderError::NotFound(format!("no user of {ours} has the handle {handle}"))
            }),
        Search::User(user) => {
            if user.domain() != Some(ours) {
                return Err(not_ours());
            }
            user_uri(user)
        }
        Search::Device(device) => {
            if device.domain() != Some(ours) {
                return Err(not_ours());
            }
            let client = provider
                .storage
                .client(&device_uri(device)?)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("no such device of {ours}")))?;
            Ok(client.user_id)
        }
    }
}

async fn user_keys<S: Storage>(
    provider: &Provider<S>,
    search: &Search,
) -> Result<UserKeys, ProviderError> {
    let user = resolve_user(provider, search).await?;
    let only_device = match search {
        Search::Device(device) => Some(device_uri(device)?),
        _ => None,
    };
    let mut devices = Vec::new();
    for client in provider.storage.clients_of_user(&user).await? {
        if only_device.as_ref().is_some_and(|d| d != &client.client_id) {
            continue;
        }
        let chain = Certificate::from_pem_chain(&client.certificate_chain).map_err(|e| {
            ProviderError::Internal(format!("a stored certificate chain does not parse: {e}"))
        })?;
        devices.push(DeviceKeys {
            device: client.client_id,
            certificate_chain: chain
                .iter()
                .map(|c| URL_SAFE_NO_PAD.encode(c.der()))
                .collect(),
        });
    }
    if devices.is_empty() {
        return Err(ProviderError::NotFound(format!(
            "{user} has no registered device"
        )));
    }
    Ok(UserKeys { user, devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, expect: &str) {
        let got = match KeyQuery::parse(query) {
            Ok(q) => format!("{q:?}"),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.contains(expect),
            "{query:?} gave {got}, expected {expect:?}"
        );
    }

    #[test]
    fn queries() {
        check("type=domain", "Domain");
        check("type=user&handle=%40alice", "Handle");
        check(
            "type=user&user=mimi%3A%2F%2Fa.example%2Fu%2Falice",
            "User(UserId",
        );
        check(
            "type=user&device=mimi://a.example/d/alice/phone",
            "Device(DeviceId",
        );
        check(
            "type=key_packages&user=mimi://a.example/u/alice&cipher_suite=2",
            ", 2)",
        );
        check("type=key_packages&user=mimi://a.example/u/alice", ", 1)");
        check("", "error: invalid request: key query: give type=");
        check(
            "type=domain&user=mimi://a.example/u/alice",
            "takes no search",
        );
        check("type=user", "needs one of handle");
        check(
            "type=user&handle=@a&user=mimi://a.example/u/alice",
            "exactly one of",
        );
        check("type=domain&type=domain", "`type` is given twice");
        check("type=keys", "unknown type \"keys\"");
        check("type=domain&color=red", "unknown query parameter \"color\"");
        check("type=user&handle=%4", "two hex digits");
        check("type=user&handle=%ff", "not UTF-8");
        check("type=user&user=%40alice", "must be a user identifier");
        check(
            "type=key_packages&user=mimi://a.example/u/a&cipher_suite=x",
            "must be a number",
        );
        check("type=domain&cipher_suite=1", "only for type=key_packages");
        check(
            &format!("type=domain&{}", "a".repeat(MAX_QUERY_LEN)),
            "longer than",
        );
    }
}
