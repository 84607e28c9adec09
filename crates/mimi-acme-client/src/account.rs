//! Accounts (RFC 8555 §7.3): creation with external account binding,
//! lookup, key rollover, deactivation; orders and revocation by the
//! account; MIMI's `mimiNewEab`.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use mimi_acme::objects::{Identifier, Status};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{AcmeClient, MAX_JSON_LEN, Signer};
use crate::error::{Error, Result};
use crate::key::{AccountKey, ExternalAccountBinding, b64};
use crate::order::{Challenge, Order, OrderState};
use crate::time::{format_rfc3339, parse_rfc3339};

/// What newAccount sends besides the key (RFC 8555 §7.3).
#[derive(Debug, Clone, Default)]
pub struct NewAccount<'a> {
    /// `mailto:` URLs; empty for none.
    pub contact: &'a [String],
    /// The caller agreed to the server's terms of service
    /// (`meta.termsOfService` of the directory).
    pub terms_of_service_agreed: bool,
    /// Required by CAs that set `meta.externalAccountRequired`.
    pub external_account_binding: Option<&'a ExternalAccountBinding>,
}

/// The account object (RFC 8555 §7.1.2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountState {
    pub status: Status,
    #[serde(default)]
    pub contact: Vec<String>,
    #[serde(default)]
    pub orders: Option<String>,
}

/// A revocation reason (RFC 5280 §5.3.1), as revokeCert sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

impl RevocationReason {
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
        }
    }
}

/// An external account binding a MIMI domain CA issued through
/// `mimiNewEab` (docs/enrollment.md): the account created with it is
/// pre-authorized for exactly `identifiers` until `expires`.
#[derive(Debug, Clone)]
pub struct IssuedEab {
    pub binding: ExternalAccountBinding,
    pub identifiers: Vec<Identifier>,
    pub expires: SystemTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuedEabObject {
    kid: String,
    hmac_key: String,
    identifiers: Vec<Identifier>,
    expires: String,
}

/// An ACME account: its URL (the `kid` of its requests) and key. Cheap to
/// clone; clones share the key, also across a key rollover.
#[derive(Debug, Clone)]
pub struct Account {
    client: AcmeClient,
    url: Arc<str>,
    key: Arc<RwLock<Arc<AccountKey>>>,
}

impl Account {
    /// Creates an account for `key` (newAccount, RFC 8555 §7.3). If the key
    /// already has an account, the server returns it and so does this.
    pub async fn create(
        client: &AcmeClient,
        key: AccountKey,
        new: &NewAccount<'_>,
    ) -> Result<(Account, AccountState)> {
        let url = &client.directory().new_account;
        let mut payload = json!({
            "contact": new.contact,
            "termsOfServiceAgreed": new.terms_of_service_agreed,
        });
        if let Some(eab) = new.external_account_binding {
            payload["externalAccountBinding"] = eab.bind(&key, url)?;
        }
        let reply = client
            .post(url, Signer::Jwk(&key), Some(&payload), MAX_JSON_LEN)
            .await?;
        let state: AccountState = reply.ok_json()?;
        Ok((Account::new(client, reply.location()?, key), state))
    }

    /// Finds the account of `key` (newAccount with onlyReturnExisting,
    /// RFC 8555 §7.3.1): for a caller that stored the key but not the URL.
    pub async fn find(client: &AcmeClient, key: AccountKey) -> Result<(Account, AccountState)> {
        let url = &client.directory().new_account;
        let payload = json!({"onlyReturnExisting": true});
        let reply = client
            .post(url, Signer::Jwk(&key), Some(&payload), MAX_JSON_LEN)
            .await?;
        let state: AccountState = reply.ok_json()?;
        Ok((Account::new(client, reply.location()?, key), state))
    }

    /// An account whose URL the caller stored; nothing is sent.
    pub fn load(client: &AcmeClient, key: AccountKey, url: &str) -> Account {
        Account::new(client, url.to_owned(), key)
    }

    fn new(client: &AcmeClient, url: String, key: AccountKey) -> Account {
        Account {
            client: client.clone(),
            url: url.into(),
            key: Arc::new(RwLock::new(Arc::new(key))),
        }
    }

    /// The account URL: store it with the key.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &AcmeClient {
        &self.client
    }

    /// The current account key.
    pub fn key(&self) -> Arc<AccountKey> {
        self.key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A POST signed by this account; `payload` None is a POST-as-GET.
    pub(crate) async fn post(
        &self,
        url: &str,
        payload: Option<&Value>,
        limit: usize,
    ) -> Result<crate::client::Reply> {
        let key = self.key();
        let signer = Signer::Account {
            key: &key,
            kid: &self.url,
        };
        self.client.post(url, signer, payload, limit).await
    }

    /// Reads the account object (POST-as-GET to the account URL).
    pub async fn state(&self) -> Result<AccountState> {
        self.post(&self.url, None, MAX_JSON_LEN).await?.ok_json()
    }

    /// Replaces the contacts (RFC 8555 §7.3.2).
    pub async fn update_contact(&self, contact: &[String]) -> Result<AccountState> {
        self.post(&self.url, Some(&json!({"contact": contact})), MAX_JSON_LEN)
            .await?
            .ok_json()
    }

    /// Deactivates the account (RFC 8555 §7.3.6); it can never be used
    /// again.
    pub async fn deactivate(&self) -> Result<AccountState> {
        self.post(
            &self.url,
            Some(&json!({"status": "deactivated"})),
            MAX_JSON_LEN,
        )
        .await?
        .ok_json()
    }

    /// Rolls the account over to `new_key` (RFC 8555 §7.3.5). On success
    /// this account (and its clones) signs with the new key.
    pub async fn key_change(&self, new_key: AccountKey) -> Result<()> {
        let url = self.client.optional_url(
            &self.client.directory().key_change,
            "keyChange",
            "keep the current key",
        )?;
        let old_key = self.key();
        let inner_payload = json!({"account": &*self.url, "oldKey": old_key.jwk()});
        let inner = new_key.jws(&url, None, None, Some(&inner_payload))?;
        self.post(&url, Some(&inner), MAX_JSON_LEN).await?;
        *self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(new_key);
        Ok(())
    }

    /// Places an order (RFC 8555 §7.4) for `identifiers`, with an ACME
    /// profile (draft-ietf-acme-profiles) and, for a renewal, the ARI
    /// certificate identifier of the certificate it replaces (RFC 9773 §5,
    /// see [`crate::ari::cert_id`]).
    pub async fn new_order(
        &self,
        identifiers: &[Identifier],
        profile: Option<&str>,
        replaces: Option<&str>,
    ) -> Result<Order> {
        if identifiers.is_empty() {
            return Err(Error::InvalidInput(
                "an order needs at least one identifier".to_owned(),
            ));
        }
        let mut payload = json!({ "identifiers": identifiers });
        if let Some(profile) = profile {
            payload["profile"] = json!(profile);
        }
        if let Some(replaces) = replaces {
            payload["replaces"] = json!(replaces);
        }
        let url = &self.client.directory().new_order;
        let reply = self.post(url, Some(&payload), MAX_JSON_LEN).await?;
        let state: OrderState = reply.ok_json()?;
        Ok(Order::new(self.clone(), reply.location()?, state))
    }

    /// An order whose URL the caller stored, read now.
    pub async fn order(&self, url: &str) -> Result<Order> {
        let state: OrderState = self.post(url, None, MAX_JSON_LEN).await?.ok_json()?;
        Ok(Order::new(self.clone(), url.to_owned(), state))
    }

    /// Answers a challenge (RFC 8555 §7.5.1) with `payload`: `{}` when
    /// ready (http-01), or what the challenge type asks for (sms-link-00:
    /// `{"keyAuthorization": ...}`, see
    /// [`AccountKey::sms_link_key_authorization`]).
    pub async fn respond(&self, challenge: &Challenge, payload: &Value) -> Result<Challenge> {
        if !payload.is_object() {
            return Err(Error::InvalidInput(
                "a challenge response is a JSON object ({} when ready)".to_owned(),
            ));
        }
        self.post(&challenge.url, Some(payload), MAX_JSON_LEN)
            .await?
            .ok_json()
    }

    /// The key authorization of `challenge` under the current key
    /// (RFC 8555 §8.1): what an http-01 responder serves.
    pub fn key_authorization(&self, challenge: &Challenge) -> String {
        self.key().key_authorization(&challenge.token)
    }

    /// Revokes a certificate (DER) this account may revoke (RFC 8555 §7.6).
    pub async fn revoke(&self, cert_der: &[u8], reason: RevocationReason) -> Result<()> {
        let url = revoke_url(&self.client)?;
        let payload = revoke_payload(cert_der, reason);
        self.post(&url, Some(&payload), MAX_JSON_LEN).await?;
        Ok(())
    }

    /// MIMI domain CAs (docs/enrollment.md): asks for an external account
    /// binding pre-authorized for `identifiers` (1 to 8: a user URI, its
    /// devices, phone numbers of the domain), valid until `expires` (the
    /// CA's default, one hour, if None; at most 24 h). Only a registrar
    /// account may ask.
    pub async fn request_eab(
        &self,
        identifiers: &[Identifier],
        expires: Option<SystemTime>,
    ) -> Result<IssuedEab> {
        let url = self.client.optional_url(
            &self.client.directory().mimi_new_eab,
            "mimiNewEab",
            "is it a MIMI domain CA? Use the directory URL of your domain's CA, not the identity authority's",
        )?;
        let mut payload = json!({ "identifiers": identifiers });
        if let Some(expires) = expires {
            let text = format_rfc3339(expires).ok_or_else(|| {
                Error::InvalidInput("the EAB expiry is not a representable time".to_owned())
            })?;
            payload["expires"] = json!(text);
        }
        let reply = self.post(&url, Some(&payload), MAX_JSON_LEN).await?;
        let object: IssuedEabObject = reply.ok_json()?;
        let binding = ExternalAccountBinding::from_base64url(object.kid, &object.hmac_key)
            .map_err(|_| Error::bad_response(&url, "hmacKey is not base64url"))?;
        let expires = parse_rfc3339(&object.expires)
            .ok_or_else(|| Error::bad_response(&url, "expires is not an RFC 3339 time"))?;
        Ok(IssuedEab {
            binding,
            identifiers: object.identifiers,
            expires,
        })
    }
}

impl AcmeClient {
    /// Revokes a certificate (DER) with a request signed by the
    /// certificate's own key (RFC 8555 §7.6): for a holder who has the key
    /// but not the account.
    pub async fn revoke_with_key(
        &self,
        cert_der: &[u8],
        cert_key: &AccountKey,
        reason: RevocationReason,
    ) -> Result<()> {
        let url = revoke_url(self)?;
        let payload = revoke_payload(cert_der, reason);
        self.post(&url, Signer::Jwk(cert_key), Some(&payload), MAX_JSON_LEN)
            .await?;
        Ok(())
    }
}

fn revoke_url(client: &AcmeClient) -> Result<String> {
    client.optional_url(
        &client.directory().revoke_cert,
        "revokeCert",
        "ask the CA's operator to revoke the certificate",
    )
}

fn revoke_payload(cert_der: &[u8], reason: RevocationReason) -> Value {
    json!({"certificate": b64(cert_der), "reason": reason.code()})
}
