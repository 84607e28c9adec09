//! Accounts after creation (RFC 8555 §7.3.2-7.3.6): contact updates,
//! deactivation, the external account binding in the account object, key
//! rollover; and the resources that answer both GET and POST-as-GET (§6.3).

use instant_acme::{Account, ExternalAccountKey, Identifier, NewOrder};
use mimi_acme::AcmeStore;
use serde_json::json;
use sqlx::Row;

use crate::harness::{Authority, PROVIDER};
use crate::instant_acme_flows::{account, retries, solve_http01};
use crate::raw_client::{self, AccountKey, RawClient, eab, order_payload};

const MAC_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

async fn account_row(authority: &Authority, kid: &str, column: &str) -> String {
    let id: i64 = kid.rsplit('/').next().unwrap().parse().unwrap();
    sqlx::query("SELECT contact, status, key_thumbprint FROM accounts WHERE id = ?")
        .bind(id)
        .fetch_one(authority.store.pool())
        .await
        .unwrap()
        .get::<String, _>(column)
}

#[tokio::test]
async fn contacts_change_and_deactivation_is_final() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let a = c.account(None).await;

    let reply = c
        .post_as(
            &a,
            &a.kid,
            Some(&json!({"contact": ["mailto:new@a.example"]})),
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["contact"], json!(["mailto:new@a.example"]));
    assert_eq!(reply.location(), a.kid);
    assert_eq!(
        account_row(&authority, &a.kid, "contact").await,
        r#"["mailto:new@a.example"]"#
    );
    // Clients send the account object back with their change: its status
    // and orders are ignored, the contacts taken.
    let mut object = c.fetch(&a, &a.kid).await;
    object["contact"] = json!([]);
    let reply = c.post_as(&a, &a.kid, Some(&object)).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["contact"], json!([]));
    assert_eq!(reply.json()["status"], "valid");

    // Deactivation cancels the pending order and is final.
    let (order_url, _) = c.order(&a, &[PROVIDER]).await;
    let reply = c
        .post_as(&a, &a.kid, Some(&json!({"status": "deactivated"})))
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["status"], "deactivated");
    let order_id: i64 = order_url.rsplit('/').next().unwrap().parse().unwrap();
    let (order_status, authz_status): (String, String) = {
        let row = sqlx::query(
            "SELECT o.status, z.status FROM orders o JOIN authorizations z ON z.order_id = o.id WHERE o.id = ?",
        )
        .bind(order_id)
        .fetch_one(authority.store.pool())
        .await
        .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        (order_status.as_str(), authz_status.as_str()),
        ("invalid", "deactivated")
    );
    for (url, payload) in [
        (a.kid.clone(), None),
        (order_url.clone(), None),
        (c.url("/acme/new-order"), Some(order_payload(&[PROVIDER]))),
        (a.kid.clone(), Some(json!({"status": "deactivated"}))),
    ] {
        let reply = c.post_as(&a, &url, payload.as_ref()).await;
        assert_eq!(reply.status, 401, "{url}");
        assert_eq!(
            reply.json()["type"],
            "urn:ietf:params:acme:error:unauthorized"
        );
    }
    // newAccount with the key finds the account, deactivated.
    let reply = c
        .new_account_with(&a.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "deactivated");
    assert_eq!(reply.location(), a.kid);
}

#[tokio::test]
async fn instant_acme_updates_its_contacts_and_deactivates() {
    let authority = Authority::start().await;
    let (account, credentials) = Account::builder_with_http(authority.acme_http())
        .create(
            &instant_acme::NewAccount {
                contact: &["mailto:ops@a.example"],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            authority.directory.clone(),
            None,
        )
        .await
        .unwrap();
    account
        .update_contacts(&["mailto:noc@a.example", "mailto:ops@a.example"])
        .await
        .unwrap();
    assert_eq!(
        account_row(&authority, account.id(), "contact").await,
        r#"["mailto:noc@a.example","mailto:ops@a.example"]"#
    );
    let err = account
        .update_contacts(&["tel:+15555550100"])
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unsupportedContact"), "{err}");

    let kid = account.id().to_owned();
    account.deactivate().await.unwrap();
    assert_eq!(account_row(&authority, &kid, "status").await, "deactivated");
    // The same account, loaded again, can do nothing more.
    let again = Account::builder_with_http(authority.acme_http())
        .from_credentials(credentials)
        .await
        .unwrap();
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let err = again.new_order(&NewOrder::new(&ids)).await.err().unwrap();
    assert!(
        err.to_string().contains("the account is deactivated"),
        "{err}"
    );
}

#[tokio::test]
async fn the_account_object_echoes_its_external_account_binding() {
    let authority = Authority::start().await;
    authority
        .store
        .add_eab_key("vetted", MAC_KEY)
        .await
        .unwrap();
    let c = RawClient::new(&authority);
    let key = AccountKey::generate();
    let binding = eab("vetted", MAC_KEY, &key.jwk(), &c.url("/acme/new-account"));
    let payload = json!({"termsOfServiceAgreed": true, "externalAccountBinding": binding});

    let created = c.new_account_with(&key, &payload).await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.json()["externalAccountBinding"], binding);
    let account = raw_client::Account {
        kid: created.location(),
        key,
    };
    // On every later read of the account, and on newAccount again.
    assert_eq!(
        c.fetch(&account, &account.kid).await["externalAccountBinding"],
        binding
    );
    let again = c
        .new_account_with(&account.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["externalAccountBinding"], binding);
    // Not updatable: a binding in an update is ignored.
    let other = eab(
        "other",
        MAC_KEY,
        &account.key.jwk(),
        &c.url("/acme/new-account"),
    );
    let updated = c
        .post_as(
            &account,
            &account.kid,
            Some(&json!({"externalAccountBinding": other})),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["externalAccountBinding"], binding);

    // An account without a binding has none.
    let plain = c.account(None).await;
    assert!(
        c.fetch(&plain, &plain.kid)
            .await
            .get("externalAccountBinding")
            .is_none()
    );
}

#[tokio::test]
async fn key_rollover_moves_the_account_to_the_new_key() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let old = c.account(None).await;
    let (order_url, _) = c.order(&old, &[PROVIDER]).await;
    let new_key = AccountKey::generate();

    let reply = c.key_change(&old, &new_key).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.location(), old.kid);
    assert_eq!(reply.json()["status"], "valid");
    let new = raw_client::Account {
        kid: old.kid.clone(),
        key: new_key,
    };
    assert_eq!(
        account_row(&authority, &new.kid, "key_thumbprint").await,
        new.key.thumbprint()
    );

    // The old key no longer signs for the account; the new one does, for
    // everything the account had.
    let reply = c.post_as(&old, &old.kid, None).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("signature does not verify")
    );
    assert_eq!(c.fetch(&new, &order_url).await["status"], "pending");
    let found = c
        .new_account_with(&new.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!((found.status, found.location()), (200, new.kid.clone()));
    let lost = c
        .new_account_with(&old.key, &json!({"onlyReturnExisting": true}))
        .await;
    assert_eq!(
        lost.json()["type"],
        "urn:ietf:params:acme:error:accountDoesNotExist"
    );
    // The old key is free again: it can make a new account.
    let reply = c
        .new_account_with(&old.key, &json!({"termsOfServiceAgreed": true}))
        .await;
    assert_eq!(reply.status, 201);
    assert_ne!(reply.location(), new.kid);

    // Key authorizations follow the new key.
    c.make_ready(&authority, &new, &order_url).await;
}

/// instant-acme's `Account::update_key` (code nobody here wrote) rolls the
/// key over, and the account goes on with the new one.
#[tokio::test]
async fn instant_acme_rolls_its_key_over() {
    let authority = Authority::start().await;
    authority.store.add_eab_key("roll", MAC_KEY).await.unwrap();
    let eab = ExternalAccountKey::new("roll".to_owned(), MAC_KEY);
    let mut account = account(&authority, Some(&eab)).await;
    let before = account.key_thumbprint().to_owned();

    let credentials = account.update_key().await.unwrap();
    assert_ne!(account.key_thumbprint(), before);
    assert_eq!(
        account_row(&authority, account.id(), "key_thumbprint").await,
        account.key_thumbprint()
    );

    // The updated handle orders and validates with the new key ...
    let ids = [Identifier::Dns(PROVIDER.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    solve_http01(&authority, &mut order).await;
    order.poll_ready(&retries()).await.unwrap();
    // ... and so does an account loaded from the credentials it returned.
    let reloaded = Account::builder_with_http(authority.acme_http())
        .from_credentials(credentials)
        .await
        .unwrap();
    assert_eq!(reloaded.id(), account.id());
    let mut order = reloaded
        .new_order(&NewOrder::new(&ids).profile("domain-ca"))
        .await
        .unwrap();
    solve_http01(&authority, &mut order).await;
    order.poll_ready(&retries()).await.unwrap();
}

/// RFC 8555 §6.3: the directory and newNonce take POST-as-GET as well as
/// GET.
#[tokio::test]
async fn the_directory_and_new_nonce_answer_get_and_post_as_get() {
    let authority = Authority::start().await;
    let c = RawClient::new(&authority);
    let a = c.account(None).await;

    let by_get = c.get(&authority.directory).await;
    assert_eq!(by_get.status, 200);
    let by_post = c.post_as(&a, &authority.directory, None).await;
    assert_eq!(
        by_post.status,
        200,
        "{}",
        String::from_utf8_lossy(&by_post.body)
    );
    assert_eq!(by_post.json(), by_get.json());
    assert_eq!(by_post.header("content-type"), Some("application/json"));
    assert!(by_post.header("replay-nonce").is_some());

    let new_nonce = c.url("/acme/new-nonce");
    let by_get = c.get(&new_nonce).await;
    assert_eq!(by_get.status, 204);
    let by_post = c.post_as(&a, &new_nonce, None).await;
    assert_eq!(
        by_post.status,
        204,
        "{}",
        String::from_utf8_lossy(&by_post.body)
    );
    assert_eq!(by_post.header("cache-control"), Some("no-store"));
    // The nonce it hands out works.
    let nonce = by_post.header("replay-nonce").unwrap().to_owned();
    let header = c.kid_header(&a, &a.kid, &nonce);
    let reply = c
        .send(&raw_client::Request::jose(
            &a.kid,
            &raw_client::signed(&a.key, &header, None),
        ))
        .await;
    assert_eq!(reply.status, 200);
}
