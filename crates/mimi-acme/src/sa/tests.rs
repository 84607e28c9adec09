//! Migrations on a database that already holds data.

use sqlx::Row;

use super::{AcmeStore, CrlIssuer, MIGRATIONS, SqliteStore};

/// A database written by the schema before 0003 (accounts, orders and
/// certificates of each root) gets each certificate's issuer from its
/// order's profile, and the rest of 0003 with empty values.
#[tokio::test]
async fn migration_3_backfills_each_certificate_issuer_from_its_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acme.db");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
             INSERT INTO schema_migrations (version) VALUES (1), (2);",
        )
        .execute(&pool)
        .await
        .unwrap();
        for (version, sql) in MIGRATIONS.iter().take(2) {
            assert!(*version <= 2);
            sqlx::raw_sql(*sql).execute(&pool).await.unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO accounts (id, key_thumbprint, jwk, status, contact, created_at)
                  VALUES (1, 't', '{}', 'valid', '[]', 0);
             INSERT INTO orders (id, account_id, status, identifiers, profile, expires)
                  VALUES (1, 1, 'valid', '[]', 'tls-server', 0),
                         (2, 1, 'valid', '[]', 'domain-ca', 0),
                         (3, 1, 'valid', '[]', 'phone-ca', 0);
             INSERT INTO certificates (id, order_id, account_id, serial, chain_pem, not_after, issued_at)
                  VALUES (1, 1, 1, '01', '', 0, 0), (2, 2, 1, '02', '', 0, 0), (3, 3, 1, '03', '', 0, 0);",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let issuers: Vec<(i64, String)> =
        sqlx::query("SELECT id, issuer FROM certificates ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(
        issuers,
        [
            (1, "tls-root".to_owned()),
            (2, "identity-root".to_owned()),
            (3, "identity-root".to_owned())
        ]
    );
    let cert = store.certificate(1).await.unwrap().unwrap();
    assert_eq!(cert.issuer, CrlIssuer::TlsRoot);
    assert_eq!((cert.revoked_at, cert.revocation_reason), (None, None));
    let account = store.account(1).await.unwrap().unwrap();
    assert_eq!(account.eab_binding, None);
    let order = store.order(1).await.unwrap().unwrap();
    assert_eq!(order.replaces, None);
    assert_eq!(store.next_crl_number(CrlIssuer::TlsRoot).await.unwrap(), 1);
}
