//! The web front end (Boulder's WFE): HTTP routes, JWS authentication
//! (RFC 8555 §6.2-6.5), response headers, and the one place where errors
//! become RFC 7807 problem documents.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use crate::jws::{self, Jwk, Jws, KeyRef};
use crate::nonce::NonceService;
use crate::objects::format_rfc3339 as rfc3339;
use crate::objects::{
    AccountObject, AccountUpdate, AuthorizationObject, ChallengeAnswer, ChallengeObject, Directory,
    DirectoryMeta, Finalize, NewAccount, NewEab, NewEabResponse, NewOrder, OrderObject,
    RenewalInfo, RevokeCert, Status, SuggestedWindow,
};
use crate::problem::{AcmeError, ErrorType};
use crate::ra::{ARI_RETRY_AFTER, Ra, Revoker};
use crate::sa::{AccountRecord, AcmeStore, AuthzRecord, ChallengeRecord, OrderRecord};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

const JOSE_JSON: &str = "application/jose+json";

/// The front end's state: the RA, the nonces and the public base URL.
pub struct Wfe<S> {
    pub ra: Arc<Ra<S>>,
    pub nonces: NonceService,
    /// `https://host:port`, without a trailing slash: every URL the server
    /// hands out, and every JWS `url` it accepts, starts with it.
    pub base: String,
}

impl<S> std::fmt::Debug for Wfe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wfe")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The path of the registrar's mimiNewEab resource (docs/enrollment.md),
/// served by domain CAs only.
pub const MIMI_NEW_EAB: &str = "/acme/mimi-new-eab";

/// The ACME routes, all under `/acme/`.
pub fn router<S: AcmeStore>(wfe: Arc<Wfe<S>>) -> Router {
    let mut router = Router::new();
    if wfe.ra.issuers.domain_ca().is_some() {
        router = router.route(MIMI_NEW_EAB, post(mimi_new_eab::<S>));
    }
    router
        .route(
            "/acme/directory",
            get(directory::<S>).post(directory_post::<S>),
        )
        .route(
            "/acme/new-nonce",
            get(new_nonce_get::<S>)
                .head(new_nonce_head::<S>)
                .post(new_nonce_post::<S>),
        )
        .route("/acme/new-account", post(new_account::<S>))
        .route("/acme/new-order", post(new_order::<S>))
        .route("/acme/acct/{id}", post(account::<S>))
        .route("/acme/order/{id}", post(order::<S>))
        .route("/acme/authz/{id}", post(authz::<S>))
        .route("/acme/chall/{id}", post(challenge::<S>))
        .route("/acme/finalize/{id}", post(finalize::<S>))
        .route("/acme/cert/{id}", post(certificate::<S>))
        .route("/acme/revoke-cert", post(revoke_cert::<S>))
        .route("/acme/key-change", post(key_change::<S>))
        .route("/acme/renewal-info/{id}", get(renewal_info::<S>))
        .route("/acme/crl/{issuer}", get(crl::<S>))
        .route("/acme/crl/{issuer}/{n}", get(crl_numbered::<S>))
        .method_not_allowed_fallback(method_not_allowed::<S>)
        .fallback(no_such_resource::<S>)
        .with_state(wfe)
}

impl<S: AcmeStore> Wfe<S> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn account_url(&self, id: i64) -> String {
        self.url(&format!("/acme/acct/{id}"))
    }

    /// A response with the headers every ACME response carries.
    fn reply(&self, status: StatusCode, body: Body, content_type: &str) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header_value(content_type));
        headers.insert("replay-nonce", header_value(&self.nonces.issue()));
        headers.insert(
            header::LINK,
            header_value(&format!("<{}>;rel=\"index\"", self.url("/acme/directory"))),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn json(
        &self,
        status: StatusCode,
        value: &impl Serialize,
        location: Option<String>,
    ) -> Response {
        let body = serde_json::to_vec(value).expect("ACME objects serialize");
        let mut response = self.reply(status, Body::from(body), "application/json");
        if let Some(location) = location {
            response
                .headers_mut()
                .insert(header::LOCATION, header_value(&location));
        }
        response
    }

    fn problem(&self, e: &AcmeError) -> Response {
        let problem = e.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&problem).expect("problems serialize");
        let mut response = self.reply(status, Body::from(body), "application/problem+json");
        if let Some(secs) = e.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header_value(&secs.to_string()));
        }
        if let Some(location) = &e.location {
            response
                .headers_mut()
                .insert(header::LOCATION, header_value(location));
        }
        response
    }

    /// Checks the envelope of a POST (RFC 8555 §6.2-6.5): content type, JWS
    /// shape and algorithm, `url` equal to the request URL, a nonce present.
    /// The signature is checked by the caller, once it knows the key, and
    /// only then is the nonce redeemed ([`Wfe::redeem`]): a forged request
    /// must not use up a nonce the real client holds (Boulder's order).
    fn open_envelope(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<Jws, AcmeError> {
        let content_type = headers.get(header::CONTENT_TYPE);
        if content_type.is_none_or(|v| v != JOSE_JSON) {
            let sent = match content_type {
                None => "there is none".to_owned(),
                Some(v) => format!("not {:?}", String::from_utf8_lossy(v.as_bytes())),
            };
            // RFC 8555 §6.2 asks for 415 here (Boulder answers 400; Pebble 415).
            return Err(AcmeError::malformed(format!(
                "Content-Type must be {JOSE_JSON}, {sent}; send the JWS with Content-Type: {JOSE_JSON}"
            ))
            .with_status(415));
        }
        let jws = jws::parse(body).map_err(jws_error)?;
        if jws.protected.alg == jws::Alg::Hs256 {
            return Err(AcmeError::new(
                ErrorType::BadSignatureAlgorithm,
                "requests are signed with ES256, EdDSA or RS256; HS256 is only for external account binding",
            ));
        }
        let expected_url = self.url(path);
        if jws.protected.url != expected_url {
            return Err(AcmeError::unauthorized(format!(
                "the JWS url {:?} is not this request's URL {expected_url:?}; sign the URL you POST to",
                jws.protected.url
            )));
        }
        if jws.protected.nonce.is_none() {
            return Err(AcmeError::new(
                ErrorType::BadNonce,
                format!(
                    "the JWS carries no nonce; put one from {} (or from the Replay-Nonce of any response) in the protected header",
                    self.url("/acme/new-nonce")
                ),
            ));
        }
        Ok(jws)
    }

    /// Redeems the nonce of a request whose signature has verified.
    fn redeem(&self, jws: &Jws) -> Result<(), AcmeError> {
        match &jws.protected.nonce {
            Some(nonce) if self.nonces.redeem(nonce) => Ok(()),
            _ => Err(AcmeError::new(
                ErrorType::BadNonce,
                "the nonce is unknown, used or expired; retry with the Replay-Nonce of this response",
            )),
        }
    }

    /// Authenticates a request signed by a key that carries itself as `jwk`
    /// (newAccount).
    fn authenticate_new_key(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<(Jws, Jwk), AcmeError> {
        let jws = self.open_envelope(headers, path, body)?;
        let KeyRef::Jwk(jwk) = &jws.protected.key else {
            return Err(AcmeError::malformed(
                "this request must carry the key as jwk, not kid",
            ));
        };
        let jwk = jwk.clone();
        jws.verify(&jwk).map_err(jws_error)?;
        self.redeem(&jws)?;
        Ok((jws, jwk))
    }

    /// Authenticates a request from an existing, valid account (`kid`).
    async fn authenticate_account(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<(Jws, AccountRecord, Jwk), AcmeError> {
        let jws = self.open_envelope(headers, path, body)?;
        let KeyRef::Kid(kid) = &jws.protected.key else {
            return Err(AcmeError::malformed(
                "this request must name the account with kid, not carry a jwk",
            ));
        };
        let (account, jwk) = self.verify_account(&jws, kid).await?;
        Ok((jws, account, jwk))
    }

    /// Checks a request's signature under the key of the account `kid`
    /// names, redeems its nonce, and requires the account to be valid.
    async fn verify_account(
        &self,
        jws: &Jws,
        kid: &str,
    ) -> Result<(AccountRecord, Jwk), AcmeError> {
        let account = self.account_of_kid(kid).await?;
        let jwk = Jwk::from_json(&account.jwk)
            .map_err(|e| AcmeError::internal("a stored account key is unreadable", e))?;
        jws.verify(&jwk).map_err(jws_error)?;
        self.redeem(jws)?;
        if account.status != Status::Valid {
            // RFC 8555 §7.3.6: 401 for requests from a deactivated account.
            return Err(AcmeError::unauthorized(format!(
                "the account is {}; it can no longer be used, create a new one with newAccount",
                account.status.as_str()
            ))
            .with_status(401));
        }
        Ok((account, jwk))
    }

    /// Authenticates a POST-as-GET by an account, for the resources that
    /// also answer GET (RFC 8555 §6.3: the directory and newNonce).
    async fn authenticate_post_as_get(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: Body,
    ) -> Result<(), AcmeError> {
        let body = read_body(body).await?;
        let (jws, _, _) = self.authenticate_account(headers, path, &body).await?;
        require_post_as_get(&jws)
    }

    async fn account_of_kid(&self, kid: &str) -> Result<AccountRecord, AcmeError> {
        let prefix = self.url("/acme/acct/");
        // A kid that is not one of our account URLs is a client talking to
        // the wrong server, not a missing account: `malformed`, as Boulder
        // answers. accountDoesNotExist would send the client to register
        // here, which is not the fix.
        let id = kid
            .strip_prefix(&prefix)
            .and_then(|id| id.parse::<i64>().ok())
            .ok_or_else(|| {
                AcmeError::malformed(format!(
                    "kid {kid:?} is not an account URL of this server (they start with {prefix:?}); send the Location that newAccount returned"
                ))
            })?;
        self.ra.account(id).await.map_err(|e| {
            if e.kind == ErrorType::AccountDoesNotExist {
                AcmeError::new(
                    ErrorType::AccountDoesNotExist,
                    format!("there is no account {kid}; create one with newAccount"),
                )
            } else {
                e
            }
        })
    }

    fn account_object(&self, account: &AccountRecord) -> AccountObject {
        AccountObject {
            status: account.status,
            contact: account.contact.clone(),
            orders: self.url(&format!("/acme/acct/{}/orders", account.id)),
            external_account_binding: account.eab_binding.clone(),
        }
    }

    fn order_object(&self, order: &OrderRecord, authzs: &[AuthzRecord]) -> OrderObject {
        OrderObject {
            status: order.status,
            expires: rfc3339(order.expires),
            identifiers: order.identifiers.clone(),
            profile: Some(order.profile.clone()),
            authorizations: authzs
                .iter()
                .map(|a| self.url(&format!("/acme/authz/{}", a.id)))
                .collect(),
            finalize: self.url(&format!("/acme/finalize/{}", order.id)),
            certificate: order
                .certificate_id
                .map(|id| self.url(&format!("/acme/cert/{id}"))),
            error: order.error.clone(),
            replaces: order.replaces.clone(),
        }
    }

    fn challenge_object(&self, c: &ChallengeRecord) -> ChallengeObject {
        ChallengeObject {
            type_: c.type_.clone(),
            url: self.url(&format!("/acme/chall/{}", c.id)),
            status: c.status,
            token: c.token.clone(),
            validated: c.validated.map(rfc3339),
            error: c.error.clone(),
        }
    }

    fn authz_object(&self, a: &AuthzRecord, challenges: &[ChallengeRecord]) -> AuthorizationObject {
        AuthorizationObject {
            identifier: a.identifier.clone(),
            status: a.status,
            expires: rfc3339(a.expires),
            challenges: challenges
                .iter()
                .map(|c| self.challenge_object(c))
                .collect(),
        }
    }

    async fn order_response(
        &self,
        status: StatusCode,
        order: &OrderRecord,
    ) -> Result<Response, AcmeError> {
        let authzs = self.ra.authorizations(order).await?;
        let location = self.url(&format!("/acme/order/{}", order.id));
        Ok(self.json(status, &self.order_object(order, &authzs), Some(location)))
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("our header values are visible ASCII")
}

fn jws_error(e: jws::JwsError) -> AcmeError {
    match e {
        jws::JwsError::UnsupportedAlg(_) => {
            AcmeError::new(ErrorType::BadSignatureAlgorithm, e.to_string())
        }
        jws::JwsError::BadKey(_) | jws::JwsError::KeyTooSmall(_) => {
            AcmeError::new(ErrorType::BadPublicKey, e.to_string())
        }
        // RFC 8555 names no type for a signature that does not verify;
        // Boulder and Pebble answer malformed, and so do we.
        _ => AcmeError::malformed(e.to_string()),
    }
}

fn id_of(raw: &str) -> Result<i64, AcmeError> {
    raw.parse().map_err(|_| {
        AcmeError::malformed(format!(
            "{raw:?} is not an object id; use the URLs the server returned"
        ))
    })
}

/// Reads a body of at most [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> Result<Bytes, AcmeError> {
    // RFC 8555 names no type for an oversized body. Boulder answers
    // `unauthorized`, which would tell the client its key or account is the
    // problem; `malformed` with HTTP's 413 says what is.
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        AcmeError::malformed(format!(
            "the request body is over {MAX_BODY} bytes; ACME requests are far smaller, so send a smaller one"
        ))
        .with_status(413)
    })
}

/// Reads a request body and authenticates it as coming from an existing
/// account: what every account-signed endpoint starts with.
async fn account_request<S: AcmeStore>(
    wfe: &Wfe<S>,
    headers: &HeaderMap,
    path: &str,
    body: Body,
) -> Result<(Jws, AccountRecord, Jwk), AcmeError> {
    let body = read_body(body).await?;
    wfe.authenticate_account(headers, path, &body).await
}

type St<S> = State<Arc<Wfe<S>>>;

/// Runs a handler body and turns its error into a problem document.
fn answer<S: AcmeStore>(wfe: &Wfe<S>, result: Result<Response, AcmeError>) -> Response {
    result.unwrap_or_else(|e| wfe.problem(&e))
}

fn directory_object<S: AcmeStore>(wfe: &Wfe<S>) -> Directory {
    let issuers = &wfe.ra.issuers;
    let domain_ca = issuers.domain_ca().is_some();
    let profiles: BTreeMap<String, String> = issuers
        .profiles()
        .iter()
        .map(|p| (p.name().to_owned(), p.description().to_owned()))
        .collect();
    Directory {
        new_nonce: wfe.url("/acme/new-nonce"),
        new_account: wfe.url("/acme/new-account"),
        new_order: wfe.url("/acme/new-order"),
        revoke_cert: wfe.url("/acme/revoke-cert"),
        key_change: wfe.url("/acme/key-change"),
        renewal_info: wfe.url("/acme/renewal-info"),
        mimi_new_eab: domain_ca.then(|| wfe.url(MIMI_NEW_EAB)),
        meta: DirectoryMeta {
            website: None,
            // The authority issues tls-server certificates to anyone; a
            // domain CA only to accounts its registrar pre-authorized.
            external_account_required: domain_ca,
            profiles,
        },
    }
}

async fn directory<S: AcmeStore>(State(wfe): St<S>) -> Response {
    let body = serde_json::to_vec(&directory_object(&wfe)).expect("directory serializes");
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The directory by POST-as-GET (RFC 8555 §6.3: the server MUST allow it
/// besides GET).
async fn directory_post<S: AcmeStore>(
    State(wfe): St<S>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        wfe.authenticate_post_as_get(&headers, "/acme/directory", body)
            .await?;
        Ok(wfe.json(StatusCode::OK, &directory_object(&wfe), None))
    }
    .await;
    answer(&wfe, result)
}

/// newNonce by POST-as-GET (RFC 8555 §6.3, §7.2): 204 like GET, with the
/// fresh nonce every response carries.
async fn new_nonce_post<S: AcmeStore>(
    State(wfe): St<S>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        wfe.authenticate_post_as_get(&headers, "/acme/new-nonce", body)
            .await?;
        Ok(wfe.reply(StatusCode::NO_CONTENT, Body::empty(), "text/plain"))
    }
    .await;
    answer(&wfe, result)
}

async fn new_nonce_head<S: AcmeStore>(State(wfe): St<S>) -> Response {
    wfe.reply(StatusCode::OK, Body::empty(), "text/plain")
}

async fn new_nonce_get<S: AcmeStore>(State(wfe): St<S>) -> Response {
    wfe.reply(StatusCode::NO_CONTENT, Body::empty(), "text/plain")
}

async fn new_account<S: AcmeStore>(State(wfe): St<S>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = read_body(body).await?;
        let path = "/acme/new-account";
        let (jws, jwk) = wfe.authenticate_new_key(&headers, path, &body)?;
        let request: NewAccount = if jws.payload.is_empty() {
            NewAccount::default()
        } else {
            jws.payload_json().map_err(jws_error)?
        };
        let (account, created) = wfe.ra.new_account(&jwk, request, &wfe.url(path)).await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(wfe.json(
            status,
            &wfe.account_object(&account),
            Some(wfe.account_url(account.id)),
        ))
    }
    .await;
    answer(&wfe, result)
}

async fn account<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let path = format!("/acme/acct/{id}");
        let (jws, account, _) = account_request(&wfe, &headers, &path, body).await?;
        if id_of(&id)? != account.id {
            return Err(AcmeError::unauthorized(
                "a request may only read or change its own account; POST to your account URL (the kid)",
            ));
        }
        let account = if jws.is_post_as_get() {
            account
        } else {
            let update: AccountUpdate = jws.payload_json().map_err(jws_error)?;
            wfe.ra.update_account(&account, update).await?
        };
        Ok(wfe.json(
            StatusCode::OK,
            &wfe.account_object(&account),
            Some(wfe.account_url(account.id)),
        ))
    }
    .await;
    answer(&wfe, result)
}

async fn new_order<S: AcmeStore>(State(wfe): St<S>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let (jws, account, _) = account_request(&wfe, &headers, "/acme/new-order", body).await?;
        let request: NewOrder = jws.payload_json().map_err(jws_error)?;
        let order = wfe.ra.new_order(&account, request).await?;
        wfe.order_response(StatusCode::CREATED, &order).await
    }
    .await;
    answer(&wfe, result)
}

async fn order<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (jws, account, _) =
            account_request(&wfe, &headers, &format!("/acme/order/{id}"), body).await?;
        require_post_as_get(&jws)?;
        let order = wfe.ra.order_for(&account, id_of(&id)?).await?;
        wfe.order_response(StatusCode::OK, &order).await
    }
    .await;
    answer(&wfe, result)
}

async fn authz<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (jws, account, _) =
            account_request(&wfe, &headers, &format!("/acme/authz/{id}"), body).await?;
        require_post_as_get(&jws)?;
        let authz = wfe.ra.authz_for(&account, id_of(&id)?).await?;
        let challenges = wfe.ra.challenges(&authz).await?;
        Ok(wfe.json(StatusCode::OK, &wfe.authz_object(&authz, &challenges), None))
    }
    .await;
    answer(&wfe, result)
}

async fn challenge<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let path = format!("/acme/chall/{id}");
        let (jws, account, jwk) = account_request(&wfe, &headers, &path, body).await?;
        let id = id_of(&id)?;
        let (challenge, authz) = if jws.is_post_as_get() {
            wfe.ra.challenge_for(&account, id).await?
        } else {
            let payload: serde_json::Value = jws.payload_json().map_err(jws_error)?;
            let answer = challenge_answer(&payload)?;
            wfe.ra
                .respond_to_challenge(&account, &jwk, id, answer)
                .await?
        };
        let mut response = wfe.json(StatusCode::OK, &wfe.challenge_object(&challenge), None);
        let up = format!(
            "<{}>;rel=\"up\"",
            wfe.url(&format!("/acme/authz/{}", authz.id))
        );
        response
            .headers_mut()
            .append(header::LINK, header_value(&up));
        Ok(response)
    }
    .await;
    answer(&wfe, result)
}

/// Reads a challenge response: `{}` (ready) or `{"keyAuthorization": "..."}`
/// (sms-link-00 completion). Which of them a challenge takes is the RA's
/// decision.
fn challenge_answer(payload: &serde_json::Value) -> Result<ChallengeAnswer, AcmeError> {
    let Some(object) = payload.as_object() else {
        return Err(AcmeError::malformed(
            "a challenge is answered with a JSON object: {} when ready, or {\"keyAuthorization\": \"...\"} to complete an sms-link-00 challenge",
        ));
    };
    match object.get("keyAuthorization") {
        None if object.is_empty() => Ok(ChallengeAnswer::Ready),
        None => Err(AcmeError::malformed(
            "a challenge is answered with {} when ready (http-01, sms-link-00), or with {\"keyAuthorization\": \"...\"} to complete an sms-link-00 challenge; this payload is neither",
        )),
        Some(serde_json::Value::String(k)) => Ok(ChallengeAnswer::KeyAuthorization(k.clone())),
        Some(_) => Err(AcmeError::malformed(
            "keyAuthorization must be a string: base64url(SHA-256(code || token || \".\" || base64url(JWK thumbprint)))",
        )),
    }
}

async fn finalize<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let path = format!("/acme/finalize/{id}");
        let (jws, account, _) = account_request(&wfe, &headers, &path, body).await?;
        let request: Finalize = jws.payload_json().map_err(jws_error)?;
        let order = wfe.ra.finalize(&account, id_of(&id)?, &request.csr).await?;
        wfe.order_response(StatusCode::OK, &order).await
    }
    .await;
    answer(&wfe, result)
}

async fn certificate<S: AcmeStore>(
    State(wfe): St<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (jws, account, _) =
            account_request(&wfe, &headers, &format!("/acme/cert/{id}"), body).await?;
        require_post_as_get(&jws)?;
        let cert = wfe.ra.certificate_for(&account, id_of(&id)?).await?;
        Ok(wfe.reply(
            StatusCode::OK,
            Body::from(cert.chain_pem),
            "application/pem-certificate-chain",
        ))
    }
    .await;
    answer(&wfe, result)
}

/// Key rollover (RFC 8555 §7.3.5): the outer JWS is the account's, with its
/// current key; its payload, the inner JWS, is the new key's.
async fn key_change<S: AcmeStore>(State(wfe): St<S>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let path = "/acme/key-change";
        let (jws, account, old_key) = account_request(&wfe, &headers, path, body).await?;
        let kid = wfe.account_url(account.id);
        let account_url = |id| wfe.account_url(id);
        let account = wfe
            .ra
            .key_change(
                &account,
                &old_key,
                &kid,
                &wfe.url(path),
                &jws.payload,
                &account_url,
            )
            .await?;
        Ok(wfe.json(
            StatusCode::OK,
            &wfe.account_object(&account),
            Some(wfe.account_url(account.id)),
        ))
    }
    .await;
    answer(&wfe, result)
}

/// revokeCert (RFC 8555 §7.6): signed by an account (`kid`) or by the
/// certificate's key (`jwk`).
async fn revoke_cert<S: AcmeStore>(State(wfe): St<S>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let body = read_body(body).await?;
        let jws = wfe.open_envelope(&headers, "/acme/revoke-cert", &body)?;
        let account;
        let by = match &jws.protected.key {
            KeyRef::Kid(kid) => {
                account = wfe.verify_account(&jws, kid).await?.0;
                Revoker::Account(&account)
            }
            KeyRef::Jwk(jwk) => {
                jws.verify(jwk).map_err(jws_error)?;
                wfe.redeem(&jws)?;
                Revoker::CertificateKey(jwk)
            }
        };
        let request: RevokeCert = jws.payload_json().map_err(jws_error)?;
        wfe.ra.revoke(by, request).await?;
        Ok(wfe.reply(StatusCode::OK, Body::empty(), "text/plain"))
    }
    .await;
    answer(&wfe, result)
}

/// ARI (RFC 9773 §4.2): a plain GET, as the certID is no secret.
async fn renewal_info<S: AcmeStore>(State(wfe): St<S>, Path(id): Path<String>) -> Response {
    let result = async {
        let now = crate::ca::unix_seconds(std::time::SystemTime::now());
        let window = wfe.ra.renewal_window(&id, now).await?;
        let info = RenewalInfo {
            suggested_window: SuggestedWindow {
                start: rfc3339(window.start),
                end: rfc3339(window.end),
            },
        };
        let mut response = wfe.json(StatusCode::OK, &info, None);
        let headers = response.headers_mut();
        headers.insert(
            header::RETRY_AFTER,
            header_value(&ARI_RETRY_AFTER.as_secs().to_string()),
        );
        Ok(response)
    }
    .await;
    answer(&wfe, result)
}

/// A CA's CRL (draft-barnes-mimi-identity-arch §4.3), DER: what providers
/// fetch and relay to clients, who trust it only once its signature and
/// freshness are checked.
async fn crl<S: AcmeStore>(State(wfe): St<S>, Path(issuer): Path<String>) -> Response {
    let result = crl_at(&wfe, &issuer).await;
    answer(&wfe, result)
}

/// `/acme/crl/phone-ca/<n>`: a domain CA's n-th phone-number CA.
async fn crl_numbered<S: AcmeStore>(
    State(wfe): St<S>,
    Path((issuer, n)): Path<(String, String)>,
) -> Response {
    let result = crl_at(&wfe, &format!("{issuer}/{n}")).await;
    answer(&wfe, result)
}

async fn crl_at<S: AcmeStore>(wfe: &Wfe<S>, path: &str) -> Result<Response, AcmeError> {
    let issuers = &wfe.ra.issuers;
    let issuer = issuers.crl_issuer_at(path).ok_or_else(|| {
        let offered: Vec<String> = issuers
            .crl_issuers()
            .into_iter()
            .filter_map(|i| issuers.crl_path(i))
            .map(|p| wfe.url(&format!("/acme/crl/{p}")))
            .collect();
        AcmeError::not_found(format!(
            "there is no CRL {}; the CRLs are {}",
            crate::ra::shorten(path),
            offered.join(" and ")
        ))
    })?;
    let der = wfe.ra.crl(issuer).await?;
    let mut response = Response::new(Body::from(der));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    // Caches may keep it but must ask again: a revocation re-signs it at
    // once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// mimiNewEab (docs/enrollment.md): the registrar account asks for an EAB
/// key that pre-authorizes one client account for some identifiers.
async fn mimi_new_eab<S: AcmeStore>(State(wfe): St<S>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let (jws, account, _) = account_request(&wfe, &headers, MIMI_NEW_EAB, body).await?;
        let request: NewEab = jws.payload_json().map_err(jws_error)?;
        let grant = wfe.ra.new_eab(&account, request).await?;
        let reply = NewEabResponse {
            kid: grant.kid,
            hmac_key: base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &grant.hmac_key,
            ),
            identifiers: grant.identifiers,
            expires: rfc3339(grant.expires),
        };
        Ok(wfe.json(StatusCode::CREATED, &reply, None))
    }
    .await;
    answer(&wfe, result)
}

/// A method a resource does not take, such as a GET where POST-as-GET is
/// required: RFC 8555 §6.3 asks for 405 with type malformed (axum's own 405
/// has no problem document and no nonce).
async fn method_not_allowed<S: AcmeStore>(State(wfe): St<S>, method: Method) -> Response {
    let e = AcmeError::malformed(format!(
        "this resource does not take {method}; only the directory, newNonce, renewal information and the CRLs answer GET, everything else is POSTed a JWS, and read with POST-as-GET: a POST whose JWS payload is empty (RFC 8555 §6.3)"
    ))
    .with_status(405);
    wfe.problem(&e)
}

/// A URL this server never handed out.
async fn no_such_resource<S: AcmeStore>(State(wfe): St<S>) -> Response {
    let e = AcmeError::not_found(format!(
        "no such resource; start from the directory at {}",
        wfe.url("/acme/directory")
    ));
    wfe.problem(&e)
}

fn require_post_as_get(jws: &Jws) -> Result<(), AcmeError> {
    if jws.is_post_as_get() {
        Ok(())
    } else {
        Err(AcmeError::malformed(
            "this resource is read with POST-as-GET (an empty payload)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::objects::format_rfc3339 as rfc3339;

    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_564_800), "2026-11-25T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
