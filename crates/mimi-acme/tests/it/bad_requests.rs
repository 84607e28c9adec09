//! Bad requests, as a table: each gets a precise problem document (HTTP
//! status, Content-Type, the exact `type`, a `detail` naming the problem, a
//! fresh Replay-Nonce) and leaves the database exactly as it was — except
//! the few whose change is the point (a wrong sms-link-00 code counts an
//! attempt; an expired code ends its challenge), which name the exact change.
//! After the table: a failed http-01 validation, which changes state by
//! design, and the rate limits.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use mimi_acme::{AcmeStore, Limit, Limits, SqliteStore};
use mimi_credentials::{TelephoneNumber, TnAuthList, TnEntry};
use mimi_identifiers::PhoneNumber;
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{Authority, PROVIDER, PROVIDER_DOMAIN};
use crate::raw_client::{
    Account, AccountKey, RawClient, Reply, Request, b64, cert_id, csr, csr_with, csr_with_tn, eab,
    hs256, jws_with, leaf_der, order_payload, payload_bytes, phone_order_payload, signed,
    sms_key_authorization, tn_value,
};

const MAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Checks the rows a request changed: (rows gone, rows new), sorted.
pub(crate) type ChangeCheck = Box<dyn Fn(&[String], &[String])>;

/// What a bad request must get back.
pub(crate) struct Expect {
    status: u16,
    /// The error type, after `urn:ietf:params:acme:error:`.
    kind: &'static str,
    /// Pieces the detail must contain: what names the problem.
    detail: Vec<String>,
    /// The change the request must make; none if `None`.
    changes: Option<ChangeCheck>,
}

pub(crate) fn expect(status: u16, kind: &'static str, detail: &[&str]) -> Expect {
    Expect {
        status,
        kind,
        detail: detail.iter().map(|s| (*s).to_owned()).collect(),
        changes: None,
    }
}

impl Expect {
    /// The request must change exactly what `check` accepts.
    pub(crate) fn changing(mut self, check: impl Fn(&[String], &[String]) + 'static) -> Expect {
        self.changes = Some(Box::new(check));
        self
    }
}

pub(crate) struct Case {
    pub name: &'static str,
    pub request: Request,
    pub expect: Expect,
}

/// What the database holds: the row counts asked for, and every row's id
/// and state, so that a status change shows as well as a new row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    counts: Vec<(&'static str, i64)>,
    rows: BTreeSet<String>,
}

impl Snapshot {
    pub(crate) async fn take(store: &SqliteStore) -> Snapshot {
        let pool = store.pool();
        let mut counts = Vec::new();
        for (name, sql) in [
            ("accounts", "SELECT COUNT(*) FROM accounts"),
            ("orders", "SELECT COUNT(*) FROM orders"),
            ("authorizations", "SELECT COUNT(*) FROM authorizations"),
            ("challenges", "SELECT COUNT(*) FROM challenges"),
            ("certificates", "SELECT COUNT(*) FROM certificates"),
            ("bound EAB keys", "SELECT COUNT(account_id) FROM eab_keys"),
        ] {
            let n: i64 = sqlx::query(sql).fetch_one(pool).await.unwrap().get(0);
            counts.push((name, n));
        }
        let mut rows = BTreeSet::new();
        for sql in [
            "SELECT 'account ' || id || ' ' || status || ' ' || contact FROM accounts",
            "SELECT 'order ' || id || ' ' || status || ' error=' || IFNULL(error, '-')
                    || ' cert=' || IFNULL(certificate_id, '-') FROM orders",
            "SELECT 'authz ' || id || ' ' || status FROM authorizations",
            "SELECT 'challenge ' || id || ' ' || status || ' error=' || IFNULL(error, '-')
                    || ' validated=' || IFNULL(validated, '-') FROM challenges",
            "SELECT 'certificate ' || id || ' ' || serial FROM certificates",
            "SELECT 'eab ' || kid || ' account=' || IFNULL(account_id, '-') FROM eab_keys",
            // Keys (rollover), bindings, revocations, replacements, CRL
            // numbers: separate rows, so the rows above keep their shape.
            "SELECT 'account-key ' || id || ' ' || key_thumbprint || ' ' || jwk
                    || ' eab=' || IFNULL(eab_binding, '-') FROM accounts",
            "SELECT 'revocation ' || id || ' at=' || IFNULL(revoked_at, '-')
                    || ' reason=' || IFNULL(revocation_reason, '-') FROM certificates",
            "SELECT 'replaces ' || id || ' ' || IFNULL(replaces, '-')
                    || ' cert=' || IFNULL(replaces_cert_id, '-') FROM orders",
            "SELECT 'crl ' || issuer || ' ' || number FROM crl_numbers",
            // What a domain CA's EAB keys allow (docs/enrollment.md).
            "SELECT 'eab-grant ' || kid || ' ' || kind || ' ' || IFNULL(identifiers, '-')
                    || ' expires=' || IFNULL(expires, '-') || ' by=' || IFNULL(created_by, '-')
                    FROM eab_keys",
            // The sms-link-00 columns, which no response shows.
            "SELECT 'sms ' || id || ' attempts=' || attempts || ' code='
                    || CASE WHEN code_digest IS NULL THEN '-' ELSE hex(code_digest) END
                    || ' expires=' || IFNULL(code_expires, '-') FROM challenges",
        ] {
            for row in sqlx::query(sql).fetch_all(pool).await.unwrap() {
                rows.insert(row.get::<String, _>(0));
            }
        }
        Snapshot { counts, rows }
    }

    /// Rows in `self` but not in `other`.
    fn minus(&self, other: &Snapshot) -> Vec<String> {
        self.rows.difference(&other.rows).cloned().collect()
    }
}

/// Checks a problem response against `expect`; returns the problem document.
pub(crate) fn assert_problem(name: &str, reply: &Reply, expect: &Expect) -> Value {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, expect.status, "{name}: HTTP status ({body})");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{name}: Content-Type ({body})"
    );
    let nonce = reply
        .header("replay-nonce")
        .unwrap_or_else(|| panic!("{name}: no Replay-Nonce"));
    assert!(
        !nonce.is_empty() && URL_SAFE_NO_PAD.decode(nonce).is_ok(),
        "{name}: Replay-Nonce {nonce:?}"
    );
    let problem = reply.json();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert_eq!(
        problem["type"],
        format!("urn:ietf:params:acme:error:{}", expect.kind),
        "{name}: type (detail {detail:?})"
    );
    assert_eq!(problem["status"], expect.status, "{name}: status member");
    for needle in &expect.detail {
        assert!(
            detail.contains(needle.as_str()),
            "{name}: detail {detail:?} does not say {needle:?}"
        );
    }
    problem
}

/// Sends every case; each must fail as expected and change nothing.
/// Returns the problem documents by case name.
pub(crate) async fn run(
    client: &RawClient,
    store: &SqliteStore,
    cases: Vec<Case>,
) -> BTreeMap<&'static str, (Reply, Value)> {
    let mut out = BTreeMap::new();
    for case in cases {
        let before = Snapshot::take(store).await;
        let reply = client.send(&case.request).await;
        let problem = assert_problem(case.name, &reply, &case.expect);
        let after = Snapshot::take(store).await;
        if let Some(check) = &case.expect.changes {
            assert_eq!(
                before.counts, after.counts,
                "{}: rows came or went",
                case.name
            );
            check(&before.minus(&after), &after.minus(&before));
        } else {
            assert!(
                before == after,
                "{}: the database changed: gone {:?}, new {:?}",
                case.name,
                before.minus(&after),
                after.minus(&before),
            );
        }
        assert!(
            out.insert(case.name, (reply, problem)).is_none(),
            "two cases are named {:?}",
            case.name
        );
    }
    out
}

/// A phone-ca order whose sms-link-00 challenge a case answers.
struct SmsSetup {
    order_url: String,
    authz_url: String,
    challenge_url: String,
    token: String,
}

async fn sms_setup(c: &RawClient, account: &Account, number: &str) -> SmsSetup {
    let (order_url, order) = c.phone_order(account, number, PROVIDER_DOMAIN).await;
    let (challenge_url, token) = c.sms_challenge(account, &order).await;
    SmsSetup {
        order_url,
        // The TNAuthList identifier comes first in the order, so its
        // authorization does too.
        authz_url: order["authorizations"][0].as_str().unwrap().to_owned(),
        challenge_url,
        token,
    }
}

/// Another six-digit code than `code`.
fn other_code(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// A wrong sms-link-00 answer changes exactly one thing: the challenge's
/// count of wrong answers, from 0 to 1.
fn attempt_counted(challenge: i64) -> impl Fn(&[String], &[String]) {
    move |gone, new| {
        assert_eq!(gone.len(), 1, "gone {gone:?}, new {new:?}");
        assert_eq!(new.len(), 1, "gone {gone:?}, new {new:?}");
        let prefix = format!("sms {challenge} attempts=0 code=");
        assert!(
            gone[0].starts_with(&prefix) && !gone[0].contains("code=-"),
            "{gone:?}"
        );
        assert_eq!(new[0], gone[0].replacen("attempts=0", "attempts=1", 1));
    }
}

fn id_of(url: &str) -> i64 {
    url.rsplit('/').next().unwrap().parse().unwrap()
}

/// A request by `account` to `url`, with a fresh nonce.
async fn by(c: &RawClient, account: &Account, url: &str, payload: Option<&Value>) -> Request {
    let header = c.kid_header(account, url, &c.nonce().await);
    Request::jose(url, &signed(&account.key, &header, payload))
}

/// A newAccount for `key`, with a fresh nonce.
async fn new_account(c: &RawClient, key: &AccountKey, payload: &Value) -> Request {
    let url = c.url("/acme/new-account");
    let header = json!({"alg": "ES256", "jwk": key.jwk(), "nonce": c.nonce().await, "url": url});
    Request::jose(&url, &signed(key, &header, Some(payload)))
}

/// A newOrder by `account` whose protected header is the usual one with the
/// members of `patch` set (a null removes the member), still signed by the
/// account key: for the cases about the envelope.
async fn order_with_header(c: &RawClient, account: &Account, patch: Value) -> Request {
    let url = c.url("/acme/new-order");
    let mut header = c.kid_header(account, &url, &c.nonce().await);
    for (name, value) in patch.as_object().unwrap() {
        if value.is_null() {
            header.as_object_mut().unwrap().remove(name);
        } else {
            header[name] = value.clone();
        }
    }
    let payload = order_payload(&["envelope.a.example"]);
    Request::jose(&url, &signed(&account.key, &header, Some(&payload)))
}

#[tokio::test]
async fn bad_requests_get_precise_problems_and_change_nothing() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let store = &authority.store;

    // --- Setup: accounts, EAB keys, orders in each state, a certificate.
    store.add_eab_key("bound-key", MAC_KEY).await.unwrap();
    store.add_eab_key("fresh-key", MAC_KEY).await.unwrap();
    let a = c.account(None).await;
    let b = c.account(None).await;
    let _bound = c.account(Some(("bound-key", MAC_KEY))).await;
    let gone = c.account(None).await;
    sqlx::query("UPDATE accounts SET status = 'deactivated' WHERE id = ?")
        .bind(id_of(&gone.kid))
        .execute(store.pool())
        .await
        .unwrap();

    let (pending_url, pending) = c.order(&a, &[PROVIDER]).await;
    let (pending_challenge, _) = c.http01_challenges(&a, &pending).await.remove(0);
    let pending_authz = pending["authorizations"][0].as_str().unwrap().to_owned();
    let pending_finalize = pending["finalize"].as_str().unwrap().to_owned();

    let (ready_url, ready) = c.order(&a, &[PROVIDER, PROVIDER_DOMAIN]).await;
    c.make_ready(&authority, &a, &ready_url).await;
    let ready_finalize = ready["finalize"].as_str().unwrap().to_owned();

    let (valid_url, valid) = c.order(&a, &[PROVIDER]).await;
    c.make_ready(&authority, &a, &valid_url).await;
    let valid_finalize = valid["finalize"].as_str().unwrap().to_owned();
    let finalized = c
        .post_as(
            &a,
            &valid_finalize,
            Some(&json!({"csr": b64(&csr(&[PROVIDER]))})),
        )
        .await;
    assert_eq!(finalized.status, 200);
    let valid = c.wait_for(&a, &valid_url, "valid").await;
    let cert_url = valid["certificate"].as_str().unwrap().to_owned();

    // A nonce that has been used once.
    let used_nonce = c.nonce().await;
    let header = c.kid_header(&a, &a.kid, &used_nonce);
    let reply = c
        .send(&Request::jose(&a.kid, &signed(&a.key, &header, None)))
        .await;
    assert_eq!(reply.status, 200);

    let new_order = c.url("/acme/new-order");
    let new_account_url = c.url("/acme/new-account");
    let good_order = order_payload(&["envelope.a.example"]);
    let stranger = AccountKey::generate();

    // --- Setup for phone-ca: EAB accounts p and q, and an sms-link-00
    // challenge in each state the cases need, each for its own number.
    let number = |i: u32| format!("+1201555{i:04}");
    store.add_eab_key("phone-p", MAC_KEY).await.unwrap();
    store.add_eab_key("phone-q", MAC_KEY).await.unwrap();
    let p = c.account(Some(("phone-p", MAC_KEY))).await;
    let q = c.account(Some(("phone-q", MAC_KEY))).await;
    // Processing, no wrong answer yet (two of them).
    let wrong_code = sms_setup(&c, &p, &number(1)).await;
    c.send_code(&p, &wrong_code.challenge_url).await;
    let code1 = authority.latest_code(&number(1));
    let other_key = sms_setup(&c, &p, &number(2)).await;
    c.send_code(&p, &other_key.challenge_url).await;
    let code2 = authority.latest_code(&number(2));
    // Invalid after five wrong answers.
    let exhausted = sms_setup(&c, &p, &number(3)).await;
    c.send_code(&p, &exhausted.challenge_url).await;
    let code3 = authority.latest_code(&number(3));
    for _ in 0..5 {
        let reply = c
            .complete(
                &p,
                &exhausted.challenge_url,
                &exhausted.token,
                &other_code(&code3),
            )
            .await;
        assert_eq!(reply.status, 400);
    }
    assert_eq!(
        c.fetch(&p, &exhausted.challenge_url).await["status"],
        "invalid"
    );
    // Valid.
    let done = sms_setup(&c, &p, &number(4)).await;
    c.send_code(&p, &done.challenge_url).await;
    let code4 = authority.latest_code(&number(4));
    let reply = c
        .complete(&p, &done.challenge_url, &done.token, &code4)
        .await;
    assert_eq!(reply.status, 200);
    // Processing with a code that expired an hour ago (moving the clock
    // back in the database stands in for waiting ten minutes).
    let expired = sms_setup(&c, &p, &number(5)).await;
    c.send_code(&p, &expired.challenge_url).await;
    let code5 = authority.latest_code(&number(5));
    sqlx::query("UPDATE challenges SET code_expires = code_expires - 4200 WHERE id = ?")
        .bind(id_of(&expired.challenge_url))
        .execute(store.pool())
        .await
        .unwrap();
    // Pending: no code asked for yet.
    let unsent = sms_setup(&c, &p, &number(6)).await;
    // A phone-ca order ready to finalize.
    let (phone_ready_url, phone_ready) = c.phone_order(&p, &number(7), PROVIDER_DOMAIN).await;
    c.make_phone_ready(&authority, &p, &phone_ready_url, &number(7))
        .await;
    let phone_finalize = phone_ready["finalize"].as_str().unwrap().to_owned();
    // Five codes to one number use up its hour; a sixth challenge waits.
    for _ in 0..5 {
        let s = sms_setup(&c, &q, &number(8)).await;
        c.send_code(&q, &s.challenge_url).await;
    }
    let capped = sms_setup(&c, &q, &number(8)).await;

    // --- Setup for revocation and ARI: the DER of a's valid certificate;
    // a certificate of a's already revoked; a finalized order replacing the
    // valid certificate; a certificate this authority never issued.
    let cert_der = leaf_der(&String::from_utf8(c.post_as(&a, &cert_url, None).await.body).unwrap());
    let valid_cert_id = cert_id(&cert_der);
    let revoked_der = leaf_der(
        &c.issue(
            &authority,
            &a,
            &order_payload(&[PROVIDER]),
            &csr(&[PROVIDER]),
        )
        .await,
    );
    let revoke_url = c.url("/acme/revoke-cert");
    let reply = c
        .post_as(
            &a,
            &revoke_url,
            Some(&json!({"certificate": b64(&revoked_der)})),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let mut replacing = order_payload(&[PROVIDER]);
    replacing["replaces"] = json!(valid_cert_id);
    c.issue(&authority, &a, &replacing, &csr(&[PROVIDER])).await;
    let foreign_der = {
        let validity = mimi_credentials::Validity::starting_now(Duration::from_secs(3600));
        let root = mimi_credentials::CertificateAuthority::new_tls_root(
            "Not this authority",
            mimi_credentials::SignatureScheme::EcdsaP256Sha256,
            validity,
        )
        .unwrap();
        let key = mimi_credentials::KeyPair::generate(mimi_credentials::SignatureScheme::Ed25519)
            .unwrap();
        root.issue(
            &mimi_credentials::Subject::TlsServer {
                dns_names: vec![mimi_identifiers::Domain::parse(PROVIDER).unwrap()],
            },
            &key.public_key(),
            validity,
        )
        .unwrap()
        .der()
        .to_vec()
    };
    let key_change_url = c.url("/acme/key-change");

    // --- The table.
    let mut cases = Vec::new();

    // The JWS envelope (RFC 8555 §6.2-6.5).
    cases.push(Case {
        name: "body is not JSON",
        request: Request {
            body: b"protected=eyJ...".to_vec(),
            ..by(&c, &a, &new_order, Some(&good_order)).await
        },
        expect: expect(400, "malformed", &["not JSON"]),
    });
    cases.push(Case {
        name: "padded base64",
        request: {
            let mut text = c.kid_header(&a, &new_order, &c.nonce().await).to_string();
            // Make the padded encoding end in '='.
            while text.len().is_multiple_of(3) {
                text.push(' ');
            }
            let protected = URL_SAFE.encode(&text);
            assert!(protected.ends_with('='));
            let payload = b64(&payload_bytes(Some(&good_order)));
            let signature = a.key.sign(format!("{protected}.{payload}").as_bytes());
            let jws =
                json!({"protected": protected, "payload": payload, "signature": b64(&signature)});
            Request::jose(&new_order, &jws)
        },
        expect: expect(400, "malformed", &["not base64url without padding"]),
    });
    cases.push(Case {
        name: "unprotected header member",
        request: {
            let header = c.kid_header(&a, &new_order, &c.nonce().await);
            let mut jws = signed(&a.key, &header, Some(&good_order));
            jws["header"] = json!({"kid": a.kid});
            Request::jose(&new_order, &jws)
        },
        expect: expect(400, "malformed", &["unprotected \"header\""]),
    });
    cases.push(Case {
        name: "alg none",
        request: {
            let mut header = c.kid_header(&a, &new_order, &c.nonce().await);
            header["alg"] = json!("none");
            let jws = jws_with(
                &header.to_string(),
                &payload_bytes(Some(&good_order)),
                |_| Vec::new(),
            );
            Request::jose(&new_order, &jws)
        },
        expect: expect(400, "badSignatureAlgorithm", &["\"none\" is not supported"]),
    });
    cases.push(Case {
        name: "HS256 on a request",
        request: {
            let mut header = c.kid_header(&a, &new_order, &c.nonce().await);
            header["alg"] = json!("HS256");
            let jws = jws_with(
                &header.to_string(),
                &payload_bytes(Some(&good_order)),
                |m| hs256(MAC_KEY, m),
            );
            Request::jose(&new_order, &jws)
        },
        expect: expect(
            400,
            "badSignatureAlgorithm",
            &["HS256 is only for external account binding"],
        ),
    });
    cases.push(Case {
        name: "another MAC algorithm",
        request: {
            let mut header = c.kid_header(&a, &new_order, &c.nonce().await);
            header["alg"] = json!("HS512");
            let jws = jws_with(
                &header.to_string(),
                &payload_bytes(Some(&good_order)),
                |m| hs256(MAC_KEY, m),
            );
            Request::jose(&new_order, &jws)
        },
        expect: expect(
            400,
            "badSignatureAlgorithm",
            &["\"HS512\" is not supported"],
        ),
    });
    cases.push(Case {
        name: "jwk and kid together",
        request: order_with_header(&c, &a, json!({"jwk": a.key.jwk()})).await,
        expect: expect(400, "malformed", &["both \"jwk\" and \"kid\""]),
    });
    cases.push(Case {
        name: "url is not the request URL",
        request: order_with_header(&c, &a, json!({"url": pending_url})).await,
        expect: expect(403, "unauthorized", &["is not this request's URL"]),
    });
    cases.push(Case {
        name: "no nonce",
        request: order_with_header(&c, &a, json!({"nonce": null})).await,
        expect: expect(400, "badNonce", &["carries no nonce", "/acme/new-nonce"]),
    });
    cases.push(Case {
        name: "nonce is not base64url",
        request: order_with_header(&c, &a, json!({"nonce": "not a nonce!"})).await,
        expect: expect(400, "malformed", &["\"nonce\" is not base64url"]),
    });
    cases.push(Case {
        name: "nonce never issued",
        request: order_with_header(&c, &a, json!({"nonce": b64(&[7; 16])})).await,
        expect: expect(400, "badNonce", &["nonce is unknown, used or expired"]),
    });
    cases.push(Case {
        name: "nonce used before",
        request: order_with_header(&c, &a, json!({"nonce": used_nonce})).await,
        expect: expect(400, "badNonce", &["nonce is unknown, used or expired"]),
    });
    cases.push(Case {
        name: "kid of an account that does not exist",
        request: order_with_header(&c, &a, json!({"kid": c.url("/acme/acct/999999")})).await,
        expect: expect(
            400,
            "accountDoesNotExist",
            &["there is no account", "/acme/acct/999999"],
        ),
    });
    cases.push(Case {
        name: "kid of another server",
        request: order_with_header(
            &c,
            &a,
            json!({"kid": "https://ca.other.example/acme/acct/1"}),
        )
        .await,
        expect: expect(
            400,
            "malformed",
            &[
                "https://ca.other.example/acme/acct/1",
                "is not an account URL of this server",
            ],
        ),
    });
    cases.push(Case {
        name: "right kid, signed by another key",
        request: {
            let header = c.kid_header(&a, &new_order, &c.nonce().await);
            Request::jose(&new_order, &signed(&stranger, &header, Some(&good_order)))
        },
        expect: expect(400, "malformed", &["signature does not verify"]),
    });
    cases.push(Case {
        name: "deactivated account",
        request: by(&c, &gone, &new_order, Some(&good_order)).await,
        expect: expect(401, "unauthorized", &["the account is deactivated"]),
    });
    cases.push(Case {
        name: "Content-Type application/json",
        request: Request {
            content_type: Some("application/json".into()),
            ..by(&c, &a, &new_order, Some(&good_order)).await
        },
        expect: expect(
            415,
            "malformed",
            &[
                "Content-Type must be application/jose+json",
                "application/json",
            ],
        ),
    });
    cases.push(Case {
        name: "no Content-Type",
        request: Request {
            content_type: None,
            ..by(&c, &a, &new_order, Some(&good_order)).await
        },
        expect: expect(
            415,
            "malformed",
            &["Content-Type must be application/jose+json, there is none"],
        ),
    });
    cases.push(Case {
        name: "body over 64 KiB",
        request: {
            let mut request = by(&c, &a, &new_order, Some(&good_order)).await;
            // Trailing whitespace keeps it valid JSON: only the size is wrong.
            request.body.resize(64 * 1024 + 1, b' ');
            request
        },
        expect: expect(413, "malformed", &["over 65536 bytes"]),
    });
    cases.push(Case {
        name: "GET where POST-as-GET is required",
        request: Request {
            method: reqwest::Method::GET,
            url: pending_url.clone(),
            content_type: None,
            body: Vec::new(),
        },
        expect: expect(405, "malformed", &["does not take GET", "POST-as-GET"]),
    });
    // Replaces the former "endpoint not built yet" case (revoke-cert
    // answered 501): revokeCert is built, so `{}` is now a payload without
    // its certificate.
    cases.push(Case {
        name: "revokeCert without a certificate",
        request: by(&c, &a, &revoke_url, Some(&json!({}))).await,
        expect: expect(400, "malformed", &["missing field `certificate`"]),
    });
    cases.push(Case {
        name: "URL the server never handed out",
        request: by(&c, &a, &c.url("/acme/nowhere"), None).await,
        expect: expect(404, "malformed", &["no such resource"]),
    });

    // newAccount (RFC 8555 §7.3).
    cases.push(Case {
        name: "newAccount with a kid",
        request: {
            let header = c.kid_header(&a, &new_account_url, &c.nonce().await);
            Request::jose(&new_account_url, &signed(&a.key, &header, Some(&json!({}))))
        },
        expect: expect(400, "malformed", &["must carry the key as jwk"]),
    });
    cases.push(Case {
        name: "contact of two addresses",
        request: new_account(
            &c,
            &AccountKey::generate(),
            &json!({"contact": ["mailto:a@a.example,b@a.example"]}),
        )
        .await,
        expect: expect(
            400,
            "invalidContact",
            &["\"mailto:a@a.example,b@a.example\"", "exactly one address"],
        ),
    });
    cases.push(Case {
        name: "contact of another scheme",
        request: new_account(
            &c,
            &AccountKey::generate(),
            &json!({"contact": ["tel:+15555550100"]}),
        )
        .await,
        expect: expect(
            400,
            "unsupportedContact",
            &["\"tel:+15555550100\"", "only kind this server accepts"],
        ),
    });
    cases.push(Case {
        name: "onlyReturnExisting for an unknown key",
        request: new_account(
            &c,
            &AccountKey::generate(),
            &json!({"onlyReturnExisting": true}),
        )
        .await,
        expect: expect(
            400,
            "accountDoesNotExist",
            &["no account exists for this key"],
        ),
    });
    let eab_case =
        |binding: Value| json!({"externalAccountBinding": binding, "termsOfServiceAgreed": true});
    {
        let key = AccountKey::generate();
        let binding = eab("no-such-key", MAC_KEY, &key.jwk(), &new_account_url);
        cases.push(Case {
            name: "EAB with an unknown kid",
            request: new_account(&c, &key, &eab_case(binding)).await,
            expect: expect(
                403,
                "unauthorized",
                &["key no-such-key is unknown or already used"],
            ),
        });
    }
    {
        let key = AccountKey::generate();
        let binding = eab("bound-key", MAC_KEY, &key.jwk(), &new_account_url);
        cases.push(Case {
            name: "EAB key used before",
            request: new_account(&c, &key, &eab_case(binding)).await,
            expect: expect(
                403,
                "unauthorized",
                &["key bound-key is unknown or already used"],
            ),
        });
    }
    {
        let key = AccountKey::generate();
        let binding = eab(
            "fresh-key",
            b"another key entirely, 32 bytes!!",
            &key.jwk(),
            &new_account_url,
        );
        cases.push(Case {
            name: "EAB with the wrong MAC",
            request: new_account(&c, &key, &eab_case(binding)).await,
            expect: expect(
                403,
                "unauthorized",
                &["the MAC does not verify under key fresh-key"],
            ),
        });
    }
    {
        let key = AccountKey::generate();
        let other = AccountKey::generate();
        let binding = eab("fresh-key", MAC_KEY, &other.jwk(), &new_account_url);
        cases.push(Case {
            name: "EAB binding another key",
            request: new_account(&c, &key, &eab_case(binding)).await,
            expect: expect(403, "unauthorized", &["binds another key"]),
        });
    }
    {
        let key = AccountKey::generate();
        let protected = json!({"alg": "HS256", "kid": "fresh-key", "url": new_account_url, "nonce": c.nonce().await});
        let binding = jws_with(
            &protected.to_string(),
            &serde_json::to_vec(&key.jwk()).unwrap(),
            |m| hs256(MAC_KEY, m),
        );
        cases.push(Case {
            name: "EAB with a nonce",
            request: new_account(&c, &key, &eab_case(binding)).await,
            expect: expect(
                400,
                "malformed",
                &["externalAccountBinding: carries a nonce"],
            ),
        });
    }

    // newOrder (RFC 8555 §7.4).
    let order_case = |name, payload: Value, expect: Expect| (name, payload, expect);
    let eleven: Vec<String> = (0..11).map(|i| format!("n{i}.a.example")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    for (name, payload, expected) in [
        order_case(
            "identifier of an unknown type",
            json!({"identifiers": [{"type": "ip", "value": "192.0.2.1"}]}),
            expect(400, "unsupportedIdentifier", &["identifier type \"ip\""]),
        ),
        order_case(
            "wildcard identifier",
            order_payload(&["*.a.example"]),
            expect(
                400,
                "rejectedIdentifier",
                &["\"*.a.example\"", "wildcard names are not issued"],
            ),
        ),
        order_case(
            "identifier that is no domain name",
            order_payload(&["not a domain!"]),
            expect(
                400,
                "malformed",
                &["\"not a domain!\" is not a domain name"],
            ),
        ),
        order_case(
            "duplicate identifiers",
            order_payload(&[PROVIDER, PROVIDER]),
            expect(400, "malformed", &["provider.a.example is listed twice"]),
        ),
        order_case(
            "too many identifiers",
            order_payload(&eleven),
            expect(400, "malformed", &["11 identifiers", "at most 10"]),
        ),
        order_case(
            "no identifiers",
            json!({"identifiers": []}),
            expect(400, "malformed", &["at least one identifier"]),
        ),
        order_case(
            "unknown profile",
            json!({"identifiers": [{"type": "dns", "value": PROVIDER}], "profile": "gold-plated"}),
            expect(400, "invalidProfile", &["unknown profile \"gold-plated\""]),
        ),
        order_case(
            "domain-ca profile without EAB",
            json!({"identifiers": [{"type": "dns", "value": PROVIDER_DOMAIN}], "profile": "domain-ca"}),
            expect(
                403,
                "externalAccountRequired",
                &["only for accounts created with external account binding"],
            ),
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &a, &new_order, Some(&payload)).await,
            expect: expected,
        });
    }

    // finalize (RFC 8555 §7.4).
    let finalize = |der: &[u8]| json!({"csr": b64(der)});
    cases.push(Case {
        name: "finalize before the order is ready",
        request: by(
            &c,
            &a,
            &pending_finalize,
            Some(&finalize(&csr(&[PROVIDER]))),
        )
        .await,
        expect: expect(403, "orderNotReady", &["the order is pending"]),
    });
    cases.push(Case {
        name: "finalize an order already valid",
        request: by(&c, &a, &valid_finalize, Some(&finalize(&csr(&[PROVIDER])))).await,
        expect: expect(
            403,
            "orderNotReady",
            &["the order is valid", "finalized already"],
        ),
    });
    cases.push(Case {
        name: "CSR missing an identifier",
        request: by(&c, &a, &ready_finalize, Some(&finalize(&csr(&[PROVIDER])))).await,
        expect: expect(
            400,
            "badCSR",
            &[
                "the CSR names [\"provider.a.example\"]",
                "exactly the order's identifiers",
            ],
        ),
    });
    cases.push(Case {
        name: "CSR with an extra identifier",
        request: by(
            &c,
            &a,
            &ready_finalize,
            Some(&finalize(&csr(&[
                PROVIDER,
                PROVIDER_DOMAIN,
                "extra.a.example",
            ]))),
        )
        .await,
        expect: expect(
            400,
            "badCSR",
            &["extra.a.example", "exactly the order's identifiers"],
        ),
    });
    cases.push(Case {
        name: "CSR with a broken signature",
        request: {
            let mut der = csr(&[PROVIDER, PROVIDER_DOMAIN]);
            *der.last_mut().unwrap() ^= 1;
            by(&c, &a, &ready_finalize, Some(&finalize(&der))).await
        },
        expect: expect(400, "badCSR", &["signature does not verify"]),
    });
    cases.push(Case {
        name: "CSR with an RSA key",
        request: {
            let der = csr_with(&[PROVIDER, PROVIDER_DOMAIN], &rcgen::PKCS_RSA_SHA256);
            by(&c, &a, &ready_finalize, Some(&finalize(&der))).await
        },
        expect: expect(
            400,
            "badCSR",
            &["the CSR's key is RSA", "use an ECDSA P-256 or Ed25519 key"],
        ),
    });
    cases.push(Case {
        name: "CSR not in base64url",
        request: by(&c, &a, &ready_finalize, Some(&json!({"csr": "MIIB+/=="}))).await,
        expect: expect(400, "badCSR", &["not base64url"]),
    });

    // Challenges (RFC 8555 §7.5.1).
    cases.push(Case {
        name: "challenge response with a payload",
        request: by(
            &c,
            &a,
            &pending_challenge,
            Some(&json!({"keyAuthorization": "token.thumbprint"})),
        )
        .await,
        expect: expect(400, "malformed", &["answered with the empty object {}"]),
    });

    // Other accounts' objects: answered like missing ones.
    for (name, url, payload, what) in [
        ("another account's order", &pending_url, None, "no order"),
        (
            "another account's authorization",
            &pending_authz,
            None,
            "no authorization",
        ),
        (
            "another account's challenge",
            &pending_challenge,
            None,
            "no challenge",
        ),
        (
            "answering another account's challenge",
            &pending_challenge,
            Some(json!({})),
            "no challenge",
        ),
        (
            "another account's certificate",
            &cert_url,
            None,
            "no certificate",
        ),
        (
            "finalizing another account's order",
            &ready_finalize,
            Some(finalize(&csr(&[PROVIDER, PROVIDER_DOMAIN]))),
            "no order",
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &b, url, payload.as_ref()).await,
            expect: expect(
                404,
                "malformed",
                &[&format!("this account has {what} {}", id_of(url))],
            ),
        });
    }
    // The detail says "read or change" since accounts can be updated.
    cases.push(Case {
        name: "another account's account",
        request: by(&c, &b, &a.kid, None).await,
        expect: expect(
            403,
            "unauthorized",
            &["may only read or change its own account"],
        ),
    });

    // Objects that do not exist.
    for (name, path, what) in [
        (
            "order that does not exist",
            "/acme/order/999999",
            "no order",
        ),
        (
            "authorization that does not exist",
            "/acme/authz/999999",
            "no authorization",
        ),
        (
            "challenge that does not exist",
            "/acme/chall/999999",
            "no challenge",
        ),
        (
            "certificate that does not exist",
            "/acme/cert/999999",
            "no certificate",
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &a, &c.url(path), None).await,
            expect: expect(
                404,
                "malformed",
                &[&format!("this account has {what} 999999")],
            ),
        });
    }
    cases.push(Case {
        name: "object id that is no number",
        request: by(&c, &a, &c.url("/acme/order/first"), None).await,
        expect: expect(400, "malformed", &["\"first\" is not an object id"]),
    });
    cases.push(Case {
        name: "reading an order with a payload",
        request: by(&c, &a, &ready_url, Some(&json!({}))).await,
        expect: expect(400, "malformed", &["POST-as-GET"]),
    });

    // Account updates and deactivation (RFC 8555 §7.3.2, §7.3.6).
    for (name, payload, expected) in [
        (
            "account update with a contact of another scheme",
            json!({"contact": ["tel:+15555550100"]}),
            expect(400, "unsupportedContact", &["\"tel:+15555550100\""]),
        ),
        (
            "account update with a contact of two addresses",
            json!({"contact": ["mailto:a@a.example,b@a.example"]}),
            expect(400, "invalidContact", &["exactly one address"]),
        ),
        (
            "account update with five contacts",
            json!({"contact": ["mailto:1@a.example", "mailto:2@a.example", "mailto:3@a.example", "mailto:4@a.example", "mailto:5@a.example"]}),
            expect(400, "invalidContact", &["5 contacts given; send at most 4"]),
        ),
        (
            "account update to a status other than deactivated",
            json!({"status": "revoked"}),
            expect(
                400,
                "malformed",
                &[
                    "status \"revoked\" cannot be set",
                    "\"status\": \"deactivated\"",
                ],
            ),
        ),
        (
            "account update with contact not a list",
            json!({"contact": "mailto:ops@a.example"}),
            expect(400, "malformed", &["not the JSON expected here"]),
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &a, &a.kid, Some(&payload)).await,
            expect: expected,
        });
    }
    cases.push(Case {
        name: "deactivating another account",
        request: by(&c, &b, &a.kid, Some(&json!({"status": "deactivated"}))).await,
        expect: expect(
            403,
            "unauthorized",
            &["may only read or change its own account"],
        ),
    });
    cases.push(Case {
        name: "account update from a deactivated account",
        request: by(&c, &gone, &gone.kid, Some(&json!({"contact": []}))).await,
        expect: expect(401, "unauthorized", &["the account is deactivated"]),
    });

    // Key rollover (RFC 8555 §7.3.5): an inner JWS by the new key.
    let fresh = AccountKey::generate();
    let inner_with = |protected: Value, payload: Value, key: &AccountKey| {
        signed(key, &protected, Some(&payload))
    };
    let inner_header =
        |key: &AccountKey| json!({"alg": "ES256", "jwk": key.jwk(), "url": key_change_url});
    let rollover = json!({"account": a.kid, "oldKey": a.key.jwk()});
    cases.push(Case {
        name: "key rollover to another account's key",
        request: by(
            &c,
            &a,
            &key_change_url,
            Some(&c.key_change_inner(&a, &b.key)),
        )
        .await,
        expect: expect(
            409,
            "malformed",
            &["the new key is already the key of account", &b.kid],
        ),
    });
    cases.push(Case {
        name: "key rollover to a deactivated account's key",
        request: by(
            &c,
            &a,
            &key_change_url,
            Some(&c.key_change_inner(&a, &gone.key)),
        )
        .await,
        expect: expect(409, "malformed", &[&gone.kid]),
    });
    for (name, inner, expected) in [
        (
            "key rollover with a wrong oldKey",
            inner_with(
                inner_header(&fresh),
                json!({"account": a.kid, "oldKey": stranger.jwk()}),
                &fresh,
            ),
            expect(
                403,
                "unauthorized",
                &["oldKey is not the account's current key"],
            ),
        ),
        (
            "key rollover for another account",
            inner_with(
                inner_header(&fresh),
                json!({"account": b.kid, "oldKey": a.key.jwk()}),
                &fresh,
            ),
            expect(
                403,
                "unauthorized",
                &["the inner JWS is for the account", &b.kid],
            ),
        ),
        (
            "key rollover with a nonce in the inner JWS",
            {
                let mut header = inner_header(&fresh);
                header["nonce"] = json!(c.nonce().await);
                inner_with(header, rollover.clone(), &fresh)
            },
            expect(400, "malformed", &["the inner JWS carries a nonce"]),
        ),
        (
            "key rollover with another inner url",
            {
                let mut header = inner_header(&fresh);
                header["url"] = json!(new_order);
                inner_with(header, rollover.clone(), &fresh)
            },
            expect(
                400,
                "malformed",
                &["the inner JWS url", "is not the outer JWS url"],
            ),
        ),
        (
            "key rollover with an inner JWS signed by another key",
            inner_with(inner_header(&fresh), rollover.clone(), &stranger),
            expect(
                400,
                "malformed",
                &["key rollover: the inner JWS: the JWS signature does not verify"],
            ),
        ),
        (
            "key rollover with an inner kid",
            inner_with(
                json!({"alg": "ES256", "kid": a.kid, "url": key_change_url}),
                rollover.clone(),
                &fresh,
            ),
            expect(400, "malformed", &["names its key with kid"]),
        ),
        (
            "key rollover to the current key",
            inner_with(inner_header(&a.key), rollover.clone(), &a.key),
            expect(
                400,
                "malformed",
                &["the new key is the account's current key"],
            ),
        ),
        (
            "key rollover whose payload is not a JWS",
            rollover.clone(),
            expect(
                400,
                "malformed",
                &["key rollover: the payload is not the inner JWS"],
            ),
        ),
        (
            "key rollover whose inner payload lacks oldKey",
            inner_with(inner_header(&fresh), json!({"account": a.kid}), &fresh),
            expect(400, "malformed", &["missing field `oldKey`"]),
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &a, &key_change_url, Some(&inner)).await,
            expect: expected,
        });
    }
    cases.push(Case {
        name: "key rollover by POST-as-GET",
        request: by(&c, &a, &key_change_url, None).await,
        expect: expect(400, "malformed", &["the payload is empty"]),
    });
    cases.push(Case {
        name: "key rollover signed by jwk",
        request: {
            let header = c.jwk_header(&fresh, &key_change_url, &c.nonce().await);
            Request::jose(
                &key_change_url,
                &signed(&fresh, &header, Some(&c.key_change_inner(&a, &fresh))),
            )
        },
        expect: expect(400, "malformed", &["must name the account with kid"]),
    });

    // revokeCert (RFC 8555 §7.6).
    let revoke = |der: &[u8], reason: Option<i64>| match reason {
        Some(r) => json!({"certificate": b64(der), "reason": r}),
        None => json!({"certificate": b64(der)}),
    };
    for (reason, name) in [
        (6, "revokeCert with reason 6 (certificateHold)"),
        (7, "revokeCert with reason 7 (unassigned)"),
        (8, "revokeCert with reason 8 (removeFromCRL)"),
        (10, "revokeCert with reason 10 (aACompromise)"),
        (-1, "revokeCert with a negative reason"),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &a, &revoke_url, Some(&revoke(&cert_der, Some(reason)))).await,
            expect: expect(
                400,
                "badRevocationReason",
                &[&format!("reason {reason} is not accepted")],
            ),
        });
    }
    cases.push(Case {
        name: "revokeCert by another account",
        request: by(&c, &b, &revoke_url, Some(&revoke(&cert_der, None))).await,
        expect: expect(
            403,
            "unauthorized",
            &["this account did not order this certificate"],
        ),
    });
    cases.push(Case {
        name: "revokeCert signed by a key that is not the certificate's",
        request: {
            let header = c.jwk_header(&stranger, &revoke_url, &c.nonce().await);
            Request::jose(
                &revoke_url,
                &signed(&stranger, &header, Some(&revoke(&cert_der, None))),
            )
        },
        expect: expect(
            403,
            "unauthorized",
            &["the key that signs this request is not the certificate's key"],
        ),
    });
    cases.push(Case {
        name: "revokeCert of a certificate revoked already",
        request: by(&c, &a, &revoke_url, Some(&revoke(&revoked_der, Some(1)))).await,
        expect: expect(400, "alreadyRevoked", &["revoked already"]),
    });
    cases.push(Case {
        name: "revokeCert of a certificate issued elsewhere",
        request: by(&c, &a, &revoke_url, Some(&revoke(&foreign_der, None))).await,
        expect: expect(
            404,
            "malformed",
            &["this authority did not issue this certificate"],
        ),
    });
    cases.push(Case {
        name: "revokeCert of a tampered certificate",
        request: {
            let mut der = cert_der.clone();
            *der.last_mut().unwrap() ^= 1;
            by(&c, &a, &revoke_url, Some(&revoke(&der, None))).await
        },
        expect: expect(
            404,
            "malformed",
            &["this authority did not issue this certificate"],
        ),
    });
    cases.push(Case {
        name: "revokeCert with the certificate in PEM",
        request: by(
            &c,
            &a,
            &revoke_url,
            Some(&json!({"certificate": b64(
                mimi_credentials::Certificate::from_der(&cert_der).unwrap().pem().as_bytes()
            )})),
        )
        .await,
        expect: expect(
            400,
            "malformed",
            &["certificate is not an X.509 certificate", "not PEM"],
        ),
    });
    cases.push(Case {
        name: "revokeCert with the certificate not base64url",
        request: by(
            &c,
            &a,
            &revoke_url,
            Some(&json!({"certificate": "MIIB+/=="})),
        )
        .await,
        expect: expect(400, "malformed", &["certificate is not base64url"]),
    });
    cases.push(Case {
        name: "revokeCert by a deactivated account",
        request: by(&c, &gone, &revoke_url, Some(&revoke(&cert_der, None))).await,
        expect: expect(401, "unauthorized", &["the account is deactivated"]),
    });

    // ARI (RFC 9773): renewal information and `replaces`.
    let cert = mimi_credentials::Certificate::from_der(&cert_der).unwrap();
    let aki = mimi_acme::ca::authority_key_id(&cert_der).unwrap();
    let ari = |id: &str| Request {
        method: reqwest::Method::GET,
        url: c.url(&format!("/acme/renewal-info/{id}")),
        content_type: None,
        body: Vec::new(),
    };
    for (name, id, expected) in [
        (
            "renewal info for a serial never issued",
            mimi_acme::ca::cert_id(&aki, &[0x01; 16]),
            expect(
                404,
                "malformed",
                &["issued no certificate with this identifier"],
            ),
        ),
        (
            "renewal info naming another issuer's key",
            mimi_acme::ca::cert_id(&[0x42; 20], cert.serial()),
            expect(
                404,
                "malformed",
                &["issued no certificate with this identifier"],
            ),
        ),
        (
            "renewal info for something that is no certID",
            "not-a-cert-id".to_owned(),
            expect(
                400,
                "malformed",
                &[
                    "\"not-a-cert-id\" is not a certificate identifier",
                    "RFC 9773",
                ],
            ),
        ),
        (
            "renewal info with padded base64",
            format!("{}.{}=", b64(&aki), b64(cert.serial())),
            expect(400, "malformed", &["is not a certificate identifier"]),
        ),
    ] {
        cases.push(Case {
            name,
            request: ari(&id),
            expect: expected,
        });
    }
    let replace = |names: &[&str], id: &str| {
        let mut payload = order_payload(names);
        payload["replaces"] = json!(id);
        payload
    };
    for (name, account, payload, expected) in [
        (
            "replaces that is no certID",
            &a,
            replace(&[PROVIDER], "AAAA"),
            expect(
                400,
                "malformed",
                &["replaces \"AAAA\" is not a certificate identifier"],
            ),
        ),
        (
            "replaces naming another account's certificate",
            &b,
            replace(&[PROVIDER], &valid_cert_id),
            expect(
                400,
                "malformed",
                &["replaces names no certificate of this account"],
            ),
        ),
        (
            "replaces naming a certificate never issued",
            &a,
            replace(&[PROVIDER], &mimi_acme::ca::cert_id(&aki, &[0x01; 16])),
            expect(
                400,
                "malformed",
                &["replaces names no certificate of this account"],
            ),
        ),
        (
            "replaces a certificate sharing no identifier",
            &a,
            replace(&["other.a.example"], &valid_cert_id),
            expect(
                400,
                "malformed",
                &["shares no identifier with the certificate it replaces"],
            ),
        ),
        (
            "replaces a certificate replaced already",
            &a,
            replace(&[PROVIDER], &valid_cert_id),
            expect(
                409,
                "alreadyReplaced",
                &["the certificate was replaced already, by order"],
            ),
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, account, &new_order, Some(&payload)).await,
            expect: expected,
        });
    }

    // CRLs, and the resources that answer GET and POST-as-GET.
    cases.push(Case {
        name: "CRL of an issuer that does not exist",
        request: Request {
            method: reqwest::Method::GET,
            url: c.url("/acme/crl/domain-ca"),
            content_type: None,
            body: Vec::new(),
        },
        expect: expect(
            404,
            "malformed",
            &["there is no CRL \"domain-ca\"", "/acme/crl/identity-root"],
        ),
    });
    cases.push(Case {
        name: "CRL by POST",
        request: by(&c, &a, &c.url("/acme/crl/identity-root"), None).await,
        expect: expect(405, "malformed", &["does not take POST"]),
    });
    cases.push(Case {
        name: "directory by POST with a payload",
        request: by(&c, &a, &c.url("/acme/directory"), Some(&json!({}))).await,
        expect: expect(400, "malformed", &["POST-as-GET (an empty payload)"]),
    });
    cases.push(Case {
        name: "newNonce by POST-as-GET of a deactivated account",
        request: by(&c, &gone, &c.url("/acme/new-nonce"), None).await,
        expect: expect(401, "unauthorized", &["the account is deactivated"]),
    });
    cases.push(Case {
        name: "newNonce by POST-as-GET with a jwk",
        request: {
            let url = c.url("/acme/new-nonce");
            let header = c.jwk_header(&stranger, &url, &c.nonce().await);
            Request::jose(&url, &signed(&stranger, &header, None))
        },
        expect: expect(400, "malformed", &["must name the account with kid"]),
    });
    cases.push(Case {
        name: "newNonce by POST-as-GET signed by another key",
        request: {
            let url = c.url("/acme/new-nonce");
            let header = c.kid_header(&a, &url, &c.nonce().await);
            Request::jose(&url, &signed(&stranger, &header, None))
        },
        expect: expect(400, "malformed", &["signature does not verify"]),
    });

    // TNAuthList identifiers (RFC 9448) and the phone-ca profile.
    let tn = |entries: Vec<TnEntry>| b64(&TnAuthList::new(entries).unwrap().to_der());
    let one = |n: &str| TnEntry::One(TelephoneNumber::new(n).unwrap());
    let tn_der = |n: &str| TnAuthList::one(&PhoneNumber::parse(n).unwrap()).to_der();
    // SEQUENCE { [2] EXPLICIT IA5String "+12015550123" }: RFC 8226 allows no '+'.
    let plus_der = [&[0x30, 0x10, 0xa2, 0x0e, 0x16, 0x0c][..], b"+12015550123"].concat();
    let n1 = tn_value(&number(1));
    let dns = json!({"type": "dns", "value": PROVIDER_DOMAIN});
    let tn_id = |value: &str| json!({"type": "TNAuthList", "value": value});
    for (name, account, payload, expected) in [
        (
            "TNAuthList with two numbers",
            &p,
            phone_order_payload(
                &tn(vec![one("12015550123"), one("12015550124")]),
                PROVIDER_DOMAIN,
            ),
            expect(
                400,
                "rejectedIdentifier",
                &["holds 2 entries", "one number per order"],
            ),
        ),
        (
            "TNAuthList with a range",
            &p,
            phone_order_payload(
                &tn(vec![TnEntry::Range {
                    start: TelephoneNumber::new("12015550100").unwrap(),
                    count: 10,
                }]),
                PROVIDER_DOMAIN,
            ),
            expect(
                400,
                "rejectedIdentifier",
                &["holds a range (10 numbers from 12015550100)"],
            ),
        ),
        (
            "TNAuthList of a service provider code",
            &p,
            phone_order_payload(
                &tn(vec![TnEntry::ServiceProviderCode("1234".into())]),
                PROVIDER_DOMAIN,
            ),
            expect(400, "rejectedIdentifier", &["service provider code"]),
        ),
        (
            "TNAuthList number with a '+'",
            &p,
            phone_order_payload(&b64(&plus_der), PROVIDER_DOMAIN),
            expect(
                400,
                "malformed",
                &[
                    "not an RFC 8226 TNAuthList",
                    "\"+12015550123\" is not a TelephoneNumber",
                ],
            ),
        ),
        (
            "TNAuthList number with a non-digit",
            &p,
            phone_order_payload(&tn(vec![one("1201555#123")]), PROVIDER_DOMAIN),
            expect(
                400,
                "rejectedIdentifier",
                &["\"1201555#123\" is not an E.164 number"],
            ),
        ),
        (
            "TNAuthList number with country code 0",
            &p,
            phone_order_payload(&tn(vec![one("0123456789")]), PROVIDER_DOMAIN),
            expect(
                400,
                "rejectedIdentifier",
                &["\"0123456789\" is not an E.164 number"],
            ),
        ),
        (
            "TNAuthList value not base64url",
            &p,
            phone_order_payload("MB+/AA==", PROVIDER_DOMAIN),
            expect(
                400,
                "malformed",
                &["\"MB+/AA==\" is not base64url without padding"],
            ),
        ),
        (
            "phone-ca without EAB",
            &a,
            phone_order_payload(&n1, PROVIDER_DOMAIN),
            expect(
                403,
                "externalAccountRequired",
                &[
                    "the phone-ca profile is only for accounts created with external account binding",
                ],
            ),
        ),
        (
            "phone-ca without the dns identifier",
            &p,
            json!({"identifiers": [tn_id(&n1)], "profile": "phone-ca"}),
            expect(
                400,
                "malformed",
                &[
                    "exactly one dns identifier",
                    "this one names 1 TNAuthList and 0 dns",
                ],
            ),
        ),
        (
            "phone-ca without a number",
            &p,
            json!({"identifiers": [dns], "profile": "phone-ca"}),
            expect(400, "malformed", &["this one names 0 TNAuthList and 1 dns"]),
        ),
        (
            "phone-ca with two numbers",
            &p,
            json!({"identifiers": [tn_id(&n1), tn_id(&tn_value(&number(9))), dns], "profile": "phone-ca"}),
            expect(400, "malformed", &["this one names 2 TNAuthList and 1 dns"]),
        ),
        (
            "phone-ca with the same number twice",
            &p,
            json!({"identifiers": [tn_id(&n1), tn_id(&n1), dns], "profile": "phone-ca"}),
            expect(400, "malformed", &["+12015550001 is listed twice"]),
        ),
        (
            "TNAuthList in a tls-server order",
            &a,
            json!({"identifiers": [tn_id(&n1), dns]}),
            expect(
                400,
                "rejectedIdentifier",
                &["certified only in phone-ca orders, not in tls-server orders"],
            ),
        ),
        (
            "TNAuthList in a domain-ca order",
            &p,
            json!({"identifiers": [tn_id(&n1), dns], "profile": "domain-ca"}),
            expect(400, "rejectedIdentifier", &["not in domain-ca orders"]),
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, account, &new_order, Some(&payload)).await,
            expect: expected,
        });
    }

    // phone-ca finalize: the CSR carries exactly the order's TNAuthList and
    // DNS name.
    for (name, finalize_url, der, expected) in [
        (
            "phone-ca CSR with another number",
            &phone_finalize,
            csr_with_tn(&[PROVIDER_DOMAIN], Some(&tn_der(&number(99)))),
            expect(
                400,
                "badCSR",
                &["the CSR's TNAuthList (+12015550099) is not the order's (+12015550007)"],
            ),
        ),
        (
            "phone-ca CSR with a second number",
            &phone_finalize,
            csr_with_tn(
                &[PROVIDER_DOMAIN],
                Some(
                    &TnAuthList::new(vec![one("12015550007"), one("12015550099")])
                        .unwrap()
                        .to_der(),
                ),
            ),
            expect(
                400,
                "badCSR",
                &["(+12015550007, +12015550099) is not the order's (+12015550007)"],
            ),
        ),
        (
            "phone-ca CSR without the TNAuthList",
            &phone_finalize,
            csr_with_tn(&[PROVIDER_DOMAIN], None),
            expect(
                400,
                "badCSR",
                &["carries no TNAuthList extension", "+12015550007"],
            ),
        ),
        (
            "phone-ca CSR with another DNS name",
            &phone_finalize,
            csr_with_tn(&[PROVIDER], Some(&tn_der(&number(7)))),
            expect(
                400,
                "badCSR",
                &[
                    "the CSR names [\"provider.a.example\"]",
                    "exactly the order's identifiers",
                ],
            ),
        ),
        (
            "tls-server CSR with a TNAuthList",
            &ready_finalize,
            csr_with_tn(&[PROVIDER, PROVIDER_DOMAIN], Some(&tn_der(&number(7)))),
            expect(
                400,
                "badCSR",
                &[
                    "carries a TNAuthList extension, but this tls-server order certifies no telephone numbers",
                ],
            ),
        ),
    ] {
        let account = if finalize_url == &phone_finalize {
            &p
        } else {
            &a
        };
        cases.push(Case {
            name,
            request: by(&c, account, finalize_url, Some(&json!({"csr": b64(&der)}))).await,
            expect: expected,
        });
    }

    // sms-link-00 (docs/sms-link-00.md).
    let answer = |code: &str, s: &SmsSetup, key: &AccountKey| json!({"keyAuthorization": sms_key_authorization(code, &s.token, key)});
    cases.push(Case {
        name: "sms-link-00: wrong code",
        request: by(
            &c,
            &p,
            &wrong_code.challenge_url,
            Some(&answer(&other_code(&code1), &wrong_code, &p.key)),
        )
        .await,
        expect: expect(
            400,
            "incorrectResponse",
            &[
                "does not match the code sent and this account's key",
                "4 attempt(s) left",
            ],
        )
        .changing(attempt_counted(id_of(&wrong_code.challenge_url))),
    });
    cases.push(Case {
        name: "sms-link-00: keyAuthorization under another account key",
        request: by(
            &c,
            &p,
            &other_key.challenge_url,
            Some(&answer(&code2, &other_key, &stranger)),
        )
        .await,
        expect: expect(
            400,
            "incorrectResponse",
            &["does not match the code sent and this account's key"],
        )
        .changing(attempt_counted(id_of(&other_key.challenge_url))),
    });
    cases.push(Case {
        name: "sms-link-00: sixth attempt after five wrong",
        request: by(
            &c,
            &p,
            &exhausted.challenge_url,
            Some(&answer(&code3, &exhausted, &p.key)),
        )
        .await,
        expect: expect(
            400,
            "malformed",
            &[
                "the challenge is invalid (",
                "the last of 5 attempts",
                "takes no more answers; place a new order",
            ],
        ),
    });
    cases.push(Case {
        name: "sms-link-00: correct code replayed after success",
        request: by(
            &c,
            &p,
            &done.challenge_url,
            Some(&answer(&code4, &done, &p.key)),
        )
        .await,
        expect: expect(
            400,
            "malformed",
            &["the challenge is valid already and takes no more answers"],
        ),
    });
    {
        let (order, authz, challenge) = (
            id_of(&expired.order_url),
            id_of(&expired.authz_url),
            id_of(&expired.challenge_url),
        );
        cases.push(Case {
            name: "sms-link-00: code expired",
            request: by(
                &c,
                &p,
                &expired.challenge_url,
                Some(&answer(&code5, &expired, &p.key)),
            )
            .await,
            expect: expect(
                403,
                "unauthorized",
                &[
                    "the code has expired",
                    "place a new order to get a new code",
                ],
            )
            // The challenge, its authorization and the order become invalid
            // with the error, and the code is forgotten.
            .changing(move |gone, new| {
                assert_eq!(gone.len(), 4, "{gone:?}");
                assert_eq!(gone[0], format!("authz {authz} pending"));
                assert_eq!(
                    gone[1],
                    format!("challenge {challenge} processing error=- validated=-")
                );
                assert_eq!(gone[2], format!("order {order} pending error=- cert=-"));
                assert!(gone[3].starts_with(&format!("sms {challenge} attempts=0 code=")));
                assert_eq!(new.len(), 4, "{new:?}");
                assert_eq!(new[0], format!("authz {authz} invalid"));
                assert!(
                    new[1].starts_with(&format!("challenge {challenge} invalid error={{"))
                        && new[1].contains("error:unauthorized")
                        && new[1].ends_with("validated=-"),
                    "{new:?}"
                );
                assert!(
                    new[2].starts_with(&format!("order {order} invalid error={{"))
                        && new[2].contains("error:unauthorized"),
                    "{new:?}"
                );
                assert_eq!(
                    new[3],
                    format!("sms {challenge} attempts=0 code=- expires=-")
                );
            }),
        });
    }
    cases.push(Case {
        name: "sms-link-00: answered with {} twice",
        request: by(&c, &p, &wrong_code.challenge_url, Some(&json!({}))).await,
        expect: expect(
            400,
            "malformed",
            &[
                "has been sent already and is not sent again",
                "keyAuthorization",
            ],
        ),
    });
    cases.push(Case {
        name: "sms-link-00: answer before the code was sent",
        request: by(
            &c,
            &p,
            &unsent.challenge_url,
            Some(&answer("123456", &unsent, &p.key)),
        )
        .await,
        expect: expect(
            400,
            "malformed",
            &["no code has been sent for this challenge yet: POST {} to it first"],
        ),
    });
    for (name, payload, detail) in [
        (
            "sms-link-00: keyAuthorization not base64url",
            json!({"keyAuthorization": "not base64url!"}),
            "keyAuthorization is not base64url (without padding) of 32 bytes",
        ),
        (
            "sms-link-00: the bare code as keyAuthorization",
            json!({"keyAuthorization": code1}),
            "keyAuthorization is not base64url (without padding) of 32 bytes",
        ),
        (
            "sms-link-00: keyAuthorization not a string",
            json!({"keyAuthorization": 123456}),
            "keyAuthorization must be a string",
        ),
        (
            "sms-link-00: payload of neither kind",
            json!({"code": code1}),
            "this payload is neither",
        ),
        (
            "sms-link-00: payload not an object",
            json!([]),
            "answered with a JSON object",
        ),
    ] {
        cases.push(Case {
            name,
            request: by(&c, &p, &wrong_code.challenge_url, Some(&payload)).await,
            expect: expect(400, "malformed", &[detail]),
        });
    }
    cases.push(Case {
        name: "sms-link-00: another account's challenge",
        request: by(
            &c,
            &b,
            &wrong_code.challenge_url,
            Some(&answer(&code1, &wrong_code, &b.key)),
        )
        .await,
        expect: expect(
            404,
            "malformed",
            &[&format!(
                "this account has no challenge {}",
                id_of(&wrong_code.challenge_url)
            )],
        ),
    });
    cases.push(Case {
        name: "sms-link-00: codes per number over the cap",
        request: by(&c, &q, &capped.challenge_url, Some(&json!({}))).await,
        expect: expect(
            429,
            "rateLimited",
            &[
                "too many codes sent to +12015550008",
                "at most 5 at once, then one every 720 s",
                "by any account",
            ],
        ),
    });
    // The harness's gateway fails the next send (set just before the run):
    // the challenge is left as it was, pending, for the client to retry.
    cases.push(Case {
        name: "sms-link-00: SMS gateway down",
        request: by(&c, &p, &unsent.challenge_url, Some(&json!({}))).await,
        expect: expect(
            500,
            "serverInternal",
            &["could not send the SMS", "the challenge is pending again"],
        ),
    });

    authority
        .sms_failures
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let problems = run(&c, store, cases).await;
    assert_eq!(problems.len(), 142, "every case ran");

    // RFC 8555 §7.3.5: the 409 of a rollover to a key in use names the
    // account that holds it.
    assert_eq!(
        problems["key rollover to another account's key"]
            .0
            .header("location"),
        Some(b.kid.as_str())
    );
    assert_eq!(
        problems["key rollover to a deactivated account's key"]
            .0
            .header("location"),
        Some(gone.kid.as_str())
    );

    // RFC 8555 §6.2: badSignatureAlgorithm lists the algorithms accepted.
    for name in ["alg none", "HS256 on a request", "another MAC algorithm"] {
        assert_eq!(
            problems[name].1["algorithms"],
            json!(["ES256", "EdDSA", "RS256"]),
            "{name}"
        );
    }
    assert!(problems["body is not JSON"].1.get("algorithms").is_none());

    // Nothing above consumed the fresh EAB key or touched the pending
    // challenge: both still work.
    assert_eq!(c.fetch(&a, &pending_challenge).await["status"], "pending");
    c.account(Some(("fresh-key", MAC_KEY))).await;

    // The failing send was the only one; the challenge it left pending
    // takes a new request. The challenge with one wrong answer still takes
    // the right one.
    assert_eq!(
        authority
            .sms_failures
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    c.send_code(&p, &unsent.challenge_url).await;
    let reply = c
        .complete(&p, &wrong_code.challenge_url, &wrong_code.token, &code1)
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["status"], "valid");
}

/// RFC 8555 §7.3: the server MUST ignore request fields it does not know
/// (and not reflect them).
#[tokio::test]
async fn unknown_request_fields_are_ignored() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let key = AccountKey::generate();
    let reply = c
        .new_account_with(
            &key,
            &json!({"termsOfServiceAgreed": true, "orders": "https://x.example/", "futureField": 1}),
        )
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.json().get("futureField").is_none());
    let account = Account {
        kid: reply.location(),
        key,
    };
    let mut payload = order_payload(&[PROVIDER]);
    payload["futureField"] = json!({"x": 1});
    let reply = c
        .post_as(&account, &c.url("/acme/new-order"), Some(&payload))
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.json().get("futureField").is_none());
}

/// A failed http-01 validation is a state change by design (RFC 8555
/// §7.1.6): the challenge, its authorization and the order become invalid,
/// and the challenge and the order carry the `incorrectResponse` error.
/// Nothing else changes.
#[tokio::test]
async fn a_failed_http01_validation_invalidates_challenge_authorization_and_order() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let a = c.account(None).await;
    let (order_url, order) = c.order(&a, &[PROVIDER]).await;
    let authz_url = order["authorizations"][0].as_str().unwrap().to_owned();
    let (challenge_url, token) = c.http01_challenges(&a, &order).await.remove(0);
    // The responder serves a key authorization for another account key.
    let wrong = format!("{token}.{}", AccountKey::generate().thumbprint());
    authority.tokens.lock().unwrap().insert(token, wrong);

    let before = Snapshot::take(&authority.store).await;
    let reply = c.post_as(&a, &challenge_url, Some(&json!({}))).await;
    assert_eq!(reply.status, 200, "the response itself is accepted");
    let mut challenge = Value::Null;
    for _ in 0..500 {
        challenge = c.fetch(&a, &challenge_url).await;
        if challenge["status"] == "invalid" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = Snapshot::take(&authority.store).await;

    let incorrect = "urn:ietf:params:acme:error:incorrectResponse";
    assert_eq!(challenge["status"], "invalid");
    assert_eq!(challenge["error"]["type"], incorrect);
    assert!(
        challenge["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("did not answer the expected key authorization"),
        "{challenge}"
    );
    assert_eq!(c.fetch(&a, &authz_url).await["status"], "invalid");
    let order = c.fetch(&a, &order_url).await;
    assert_eq!(order["status"], "invalid");
    assert_eq!(order["error"]["type"], incorrect);

    // Exactly those three rows changed, and no row came or went.
    assert_eq!(before.counts, after.counts);
    let (order_id, authz_id, challenge_id) =
        (id_of(&order_url), id_of(&authz_url), id_of(&challenge_url));
    let changed_from = before.minus(&after);
    let changed_to = after.minus(&before);
    assert_eq!(
        changed_from,
        vec![
            format!("authz {authz_id} pending"),
            format!("challenge {challenge_id} pending error=- validated=-"),
            format!("order {order_id} pending error=- cert=-"),
        ]
    );
    assert_eq!(changed_to.len(), 3, "{changed_to:?}");
    assert_eq!(changed_to[0], format!("authz {authz_id} invalid"));
    assert!(
        changed_to[1].starts_with(&format!("challenge {challenge_id} invalid error={{")),
        "{changed_to:?}"
    );
    assert!(changed_to[1].contains("incorrectResponse"));
    assert!(changed_to[1].ends_with("validated=-"));
    assert!(
        changed_to[2].starts_with(&format!("order {order_id} invalid error={{")),
        "{changed_to:?}"
    );
    assert!(changed_to[2].contains("incorrectResponse"));
}

/// The rate limits (RFC 8555 §6.6), configured low: 429, `rateLimited`,
/// `Retry-After` and nothing stored or spent.
#[tokio::test]
async fn requests_over_a_rate_limit_get_429_with_retry_after_and_change_nothing() {
    let hour = Duration::from_secs(3600);
    let limits = Limits {
        new_orders_per_account: Limit::new(2, hour),
        new_authorizations_per_identifier: Limit::new(1, 2 * hour),
        ..Limits::default()
    };
    let authority = Authority::start_with(limits).await;
    let c = RawClient::new(&authority);
    let new_order = c.url("/acme/new-order");

    // x spends its two orders; z spends its one authorization for
    // hot.a.example. y's order for the same name shows that the identifier
    // limit is per account: one account cannot lock others out of a name.
    let (x, y, z) = (
        c.account(None).await,
        c.account(None).await,
        c.account(None).await,
    );
    c.order(&x, &["one.a.example"]).await;
    c.order(&x, &["two.a.example"]).await;
    c.order(&z, &["hot.a.example"]).await;
    c.order(&y, &["hot.a.example"]).await;

    let cases = vec![
        Case {
            name: "newOrder over the account's limit",
            request: by(
                &c,
                &x,
                &new_order,
                Some(&order_payload(&["three.a.example"])),
            )
            .await,
            expect: expect(
                429,
                "rateLimited",
                &[
                    "too many new orders from this account",
                    "at most 2 at once, then one every 3600 s",
                    "retry after",
                ],
            ),
        },
        Case {
            name: "new authorization over the identifier's limit",
            request: by(&c, &z, &new_order, Some(&order_payload(&["hot.a.example"]))).await,
            expect: expect(
                429,
                "rateLimited",
                &[
                    "too many new authorizations for hot.a.example from this account",
                    "at most 1 at once, then one every 7200 s",
                ],
            ),
        },
    ];
    let problems = run(&c, &authority.store, cases).await;

    // Retry-After is when the request would succeed: one period after the
    // oldest spend, less the seconds this test has taken.
    let retry_after = |name: &str, range: RangeInclusive<u64>| {
        let (reply, problem) = &problems[name];
        let secs: u64 = reply
            .header("retry-after")
            .unwrap_or_else(|| panic!("{name}: no Retry-After"))
            .parse()
            .unwrap();
        assert!(range.contains(&secs), "{name}: Retry-After {secs}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.ends_with(&format!("retry after {secs} s")),
            "{detail}"
        );
    };
    retry_after("newOrder over the account's limit", 3500..=3600);
    retry_after("new authorization over the identifier's limit", 7100..=7200);

    // The refused order spent none of z's order tokens: it has one left.
    c.order(&z, &["cool.a.example"]).await;
    let reply = c
        .post_as(&z, &new_order, Some(&order_payload(&["cooler.a.example"])))
        .await;
    assert_eq!(reply.status, 429, "and now it has none");
}

/// The signature is checked before the nonce is redeemed (Boulder's order):
/// a request with someone else's nonce but not their signature is refused
/// and leaves the nonce usable by the client it was issued to.
#[tokio::test]
async fn a_forged_request_does_not_use_up_the_nonce() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let a = c.account(None).await;
    let forger = AccountKey::generate();
    let new_order = c.url("/acme/new-order");
    let payload = order_payload(&[PROVIDER]);

    // kid: a forged signature under a's kid, then a's own request with
    // the same nonce.
    let nonce = c.nonce().await;
    let header = c.kid_header(&a, &new_order, &nonce);
    let forged = c
        .send(&Request::jose(
            &new_order,
            &signed(&forger, &header, Some(&payload)),
        ))
        .await;
    assert_eq!(forged.status, 400);
    assert!(
        forged.json()["detail"]
            .as_str()
            .unwrap()
            .contains("signature does not verify")
    );
    let real = c
        .send(&Request::jose(
            &new_order,
            &signed(&a.key, &header, Some(&payload)),
        ))
        .await;
    assert_eq!(real.status, 201, "{}", String::from_utf8_lossy(&real.body));
    // Once redeemed, it is gone.
    let again = c
        .send(&Request::jose(
            &new_order,
            &signed(&a.key, &header, Some(&payload)),
        ))
        .await;
    assert_eq!(again.json()["type"], "urn:ietf:params:acme:error:badNonce");

    // jwk (newAccount): a signature that does not verify under the jwk
    // sent, then the real request.
    let key = AccountKey::generate();
    let url = c.url("/acme/new-account");
    let nonce = c.nonce().await;
    let header = c.jwk_header(&key, &url, &nonce);
    let payload = json!({"termsOfServiceAgreed": true});
    let forged = c
        .send(&Request::jose(
            &url,
            &signed(&forger, &header, Some(&payload)),
        ))
        .await;
    assert_eq!(forged.status, 400);
    let real = c
        .send(&Request::jose(&url, &signed(&key, &header, Some(&payload))))
        .await;
    assert_eq!(real.status, 201, "{}", String::from_utf8_lossy(&real.body));
}
