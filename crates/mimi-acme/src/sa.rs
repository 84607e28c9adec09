//! The storage authority (Boulder's SA): every read and write of ACME state
//! goes through [`AcmeStore`]. [`SqliteStore`] is the embedded default; the
//! trait keeps SQL out of the rest of the crate so PostgreSQL can follow.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{Connection, Row};

use crate::objects::{Identifier, Status};
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the external account binding key {0} is unknown or already used")]
    EabUnavailable(String),
    #[error("an account with this key already exists")]
    DuplicateAccount,
    #[error("an external account binding key named {0} exists already; choose another kid")]
    DuplicateEab(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: i64,
    pub jwk: serde_json::Value,
    pub status: Status,
    pub contact: Vec<String>,
    pub eab_kid: Option<String>,
    /// The externalAccountBinding JWS as the client sent it, which the
    /// account object echoes (RFC 8555 §7.1.2).
    pub eab_binding: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: i64,
    pub account_id: i64,
    pub status: Status,
    pub identifiers: Vec<Identifier>,
    pub profile: String,
    pub expires: i64,
    pub error: Option<Problem>,
    pub certificate_id: Option<i64>,
    /// ARI (RFC 9773 §5): the certID of the certificate this order replaces.
    pub replaces: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzRecord {
    pub id: i64,
    pub order_id: i64,
    pub account_id: i64,
    pub identifier: Identifier,
    pub status: Status,
    pub expires: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    pub id: i64,
    pub authz_id: i64,
    pub type_: String,
    pub token: String,
    pub status: Status,
    pub validated: Option<i64>,
    pub error: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    pub id: i64,
    pub order_id: i64,
    pub account_id: i64,
    pub serial: String,
    pub chain_pem: String,
    pub not_after: i64,
    pub issued_at: i64,
    /// Which root signed it, and so whose CRL lists it once revoked.
    pub issuer: CrlIssuer,
    pub revoked_at: Option<i64>,
    /// The RFC 5280 reason code given at revocation.
    pub revocation_reason: Option<i64>,
}

/// The CAs that sign certificates here, each with its own CRL: the
/// authority's two roots, or a domain CA and its phone-number CAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrlIssuer {
    /// Signs domain CAs and phone-number CAs.
    IdentityRoot,
    /// Signs TLS server certificates.
    TlsRoot,
    /// A domain CA: signs its domain's user, user-CA and device certificates.
    DomainCa,
    /// A phone-number CA held by a domain CA: signs device certificates
    /// carrying its numbers.
    PhoneCa(PhoneCaId),
}

/// Names a phone-number CA by its key (the first 8 bytes of SHA-256 of its
/// SubjectPublicKeyInfo), not by its place in a config file: reordering the
/// config must not move a revocation to another CA's CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneCaId(pub [u8; 8]);

impl CrlIssuer {
    /// The identity authority's issuers.
    pub const AUTHORITY: [CrlIssuer; 2] = [CrlIssuer::IdentityRoot, CrlIssuer::TlsRoot];

    /// The name in the database (and, for the authority's roots and the
    /// domain CA, in the CRL's URL `/acme/crl/<name>`).
    pub fn name(self) -> String {
        match self {
            CrlIssuer::IdentityRoot => "identity-root".into(),
            CrlIssuer::TlsRoot => "tls-root".into(),
            CrlIssuer::DomainCa => "domain-ca".into(),
            CrlIssuer::PhoneCa(PhoneCaId(id)) => {
                let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
                format!("phone-ca/{hex}")
            }
        }
    }

    /// Reads a name written by [`CrlIssuer::name`].
    pub fn parse(s: &str) -> Option<CrlIssuer> {
        match s {
            "identity-root" => Some(CrlIssuer::IdentityRoot),
            "tls-root" => Some(CrlIssuer::TlsRoot),
            "domain-ca" => Some(CrlIssuer::DomainCa),
            _ => {
                let hex = s.strip_prefix("phone-ca/")?;
                let bytes = crate::ca::unhex(hex)?;
                Some(CrlIssuer::PhoneCa(PhoneCaId(bytes.try_into().ok()?)))
            }
        }
    }
}

/// What an external account binding key is for (docs/enrollment.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EabKind {
    /// Issued by the identity authority's operator to a vetted provider.
    Operator,
    /// A domain CA's registrar: its account may create client keys
    /// (mimiNewEab) and revoke any certificate of the CA, but not order.
    Registrar,
    /// Made by mimiNewEab: its account is pre-authorized for the key's
    /// identifiers.
    Client,
}

impl EabKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EabKind::Operator => "operator",
            EabKind::Registrar => "registrar",
            EabKind::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<EabKind> {
        [EabKind::Operator, EabKind::Registrar, EabKind::Client]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An external account binding key (RFC 8555 §7.3.4) and what it allows.
#[derive(Clone, PartialEq, Eq)]
pub struct EabRecord {
    pub kid: String,
    pub hmac_key: Vec<u8>,
    pub kind: EabKind,
    /// [`EabKind::Client`]: the identifiers, canonical.
    pub identifiers: Vec<Identifier>,
    /// Unix seconds from which an unused key binds nothing.
    pub expires: Option<i64>,
    /// The account the key bound, once used.
    pub account_id: Option<i64>,
}

impl std::fmt::Debug for EabRecord {
    // The HMAC key would let whoever reads a log bind an account.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EabRecord")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .field("kind", &self.kind)
            .field("identifiers", &self.identifiers)
            .field("expires", &self.expires)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// A new external account binding key.
#[derive(Clone)]
pub struct NewEab {
    pub kid: String,
    pub hmac_key: Vec<u8>,
    pub kind: EabKind,
    pub identifiers: Vec<Identifier>,
    pub expires: Option<i64>,
    /// The registrar account that asked for it (client keys).
    pub created_by: Option<i64>,
    pub created_at: i64,
}

impl std::fmt::Debug for NewEab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewEab")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .field("kind", &self.kind)
            .field("identifiers", &self.identifiers)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// A revoked certificate, as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedRecord {
    /// The serial's bytes, hex, as in [`CertificateRecord::serial`].
    pub serial: String,
    pub revoked_at: i64,
}

/// The outstanding code of an `sms-link-00` challenge (docs/sms-link-00.md).
/// Deliberately not part of [`ChallengeRecord`]: nothing the front end
/// serializes ever holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsCodeRecord {
    /// SHA-256(code || token || "." || thumbprint), the decoded
    /// keyAuthorization expected; `None` when no code is outstanding.
    pub digest: Option<Vec<u8>>,
    /// Unix seconds from which the code no longer counts.
    pub expires: Option<i64>,
    /// Wrong answers so far.
    pub attempts: i64,
}

impl std::fmt::Debug for SmsCodeRecord {
    // The digest would let whoever reads a log try the million codes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsCodeRecord")
            .field("digest", &self.digest.as_ref().map(|_| "<redacted>"))
            .field("expires", &self.expires)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// What an order is created with: per identifier, its challenges (type, token).
#[derive(Debug, Clone)]
pub struct NewOrderRecord {
    pub account_id: i64,
    pub profile: String,
    pub expires: i64,
    pub authorizations: Vec<(Identifier, Vec<(String, String)>)>,
    /// ARI: the certificate replaced, as (its row id, the certID the client
    /// sent).
    pub replaces: Option<(i64, String)>,
    /// Pre-authorized (a domain CA's EAB accounts): the authorizations are
    /// created valid, without challenges, and the order ready.
    pub authorized: bool,
}

/// A certificate to store as an order's result.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub order_id: i64,
    pub account_id: i64,
    pub serial: String,
    pub chain_pem: String,
    pub not_after: i64,
    pub issued_at: i64,
    pub issuer: CrlIssuer,
}

type R<T> = Result<T, StoreError>;

/// All ACME state. Every method is one transaction: a request either changes
/// what it should or nothing.
pub trait AcmeStore: Send + Sync + 'static {
    fn add_eab_key(&self, kid: &str, key: &[u8]) -> impl Future<Output = R<()>> + Send;
    /// Stores a new EAB key of any kind; [`StoreError::DuplicateEab`] if the
    /// kid is taken.
    fn add_eab(&self, eab: &NewEab) -> impl Future<Output = R<()>> + Send;
    /// The key of an unused EAB kid.
    fn unused_eab_key(&self, kid: &str) -> impl Future<Output = R<Option<Vec<u8>>>> + Send;
    /// An EAB key, used or not.
    fn eab(&self, kid: &str) -> impl Future<Output = R<Option<EabRecord>>> + Send;
    /// Creates an account; with an external account binding (its kid and
    /// the binding JWS as sent), atomically marks that key used, if it is
    /// unused and not expired at `now`.
    fn create_account(
        &self,
        thumbprint: &str,
        jwk: &serde_json::Value,
        contact: &[String],
        eab: Option<(&str, &serde_json::Value)>,
        now: i64,
    ) -> impl Future<Output = R<i64>> + Send;
    fn account(&self, id: i64) -> impl Future<Output = R<Option<AccountRecord>>> + Send;
    fn account_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> impl Future<Output = R<Option<AccountRecord>>> + Send;
    /// Replaces the contacts of a valid account; returns whether it was
    /// valid (and so changed).
    fn update_contact(&self, id: i64, contact: &[String]) -> impl Future<Output = R<bool>> + Send;
    /// Deactivates a valid account (RFC 8555 §7.3.6) and cancels what it
    /// had pending: its pending and ready orders become invalid, their
    /// pending authorizations deactivated. Returns whether it was valid.
    fn deactivate_account(&self, id: i64) -> impl Future<Output = R<bool>> + Send;
    /// Key rollover (RFC 8555 §7.3.5): replaces the key of account `id` if
    /// it is still `old_thumbprint`'s; returns whether it did.
    /// [`StoreError::DuplicateAccount`] if another account has the new key.
    fn update_account_key(
        &self,
        id: i64,
        old_thumbprint: &str,
        new_thumbprint: &str,
        jwk: &serde_json::Value,
    ) -> impl Future<Output = R<bool>> + Send;
    fn create_order(&self, order: &NewOrderRecord) -> impl Future<Output = R<i64>> + Send;
    fn order(&self, id: i64) -> impl Future<Output = R<Option<OrderRecord>>> + Send;
    fn authorizations_of_order(
        &self,
        order_id: i64,
    ) -> impl Future<Output = R<Vec<AuthzRecord>>> + Send;
    fn authorization(&self, id: i64) -> impl Future<Output = R<Option<AuthzRecord>>> + Send;
    fn challenges_of(&self, authz_id: i64) -> impl Future<Output = R<Vec<ChallengeRecord>>> + Send;
    fn challenge(&self, id: i64) -> impl Future<Output = R<Option<ChallengeRecord>>> + Send;
    /// Moves a challenge from `from` to `to` if it is still in `from`;
    /// returns whether it did (so that two requests cannot both start it).
    fn transition_challenge(
        &self,
        id: i64,
        from: Status,
        to: Status,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Records a validation result: the challenge, its authorization and,
    /// when that decides it, the order.
    fn record_validation(
        &self,
        challenge_id: i64,
        outcome: Result<i64, Problem>,
    ) -> impl Future<Output = R<()>> + Send;
    fn transition_order(
        &self,
        id: i64,
        from: Status,
        to: Status,
        error: Option<&Problem>,
    ) -> impl Future<Output = R<bool>> + Send;
    /// The code state of an `sms-link-00` challenge.
    fn sms_code(&self, challenge_id: i64) -> impl Future<Output = R<Option<SmsCodeRecord>>> + Send;
    /// Moves a challenge from pending to processing with a new code's
    /// digest and expiry, if it is still pending; returns whether it did.
    fn start_sms_code(
        &self,
        challenge_id: i64,
        digest: &[u8],
        expires: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Moves a challenge back from processing to pending and forgets its
    /// code, if that code is still `digest` (the SMS could not be sent).
    fn abort_sms_code(
        &self,
        challenge_id: i64,
        digest: &[u8],
    ) -> impl Future<Output = R<bool>> + Send;
    /// Counts one wrong answer, if the challenge is still processing with
    /// the code `seen.digest` and `seen.attempts` wrong answers; returns
    /// whether it did (a concurrent answer got there first otherwise).
    fn count_sms_attempt(
        &self,
        challenge_id: i64,
        seen: &SmsCodeRecord,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Decides an `sms-link-00` challenge like [`AcmeStore::record_validation`]
    /// (the challenge, its authorization and, when that decides it, the
    /// order), setting its wrong answers to `attempts` and forgetting the
    /// code — if it is still in the state `seen`; returns whether it did.
    fn finish_sms_code(
        &self,
        challenge_id: i64,
        seen: &SmsCodeRecord,
        attempts: i64,
        outcome: Result<i64, Problem>,
    ) -> impl Future<Output = R<bool>> + Send;
    /// Stores the certificate and makes its order valid.
    fn store_certificate(&self, cert: &NewCertificate) -> impl Future<Output = R<i64>> + Send;
    fn certificate(&self, id: i64) -> impl Future<Output = R<Option<CertificateRecord>>> + Send;
    /// The certificate with this serial (hex of its bytes).
    fn certificate_by_serial(
        &self,
        serial: &str,
    ) -> impl Future<Output = R<Option<CertificateRecord>>> + Send;
    /// Marks a certificate revoked at `at` for `reason`, if it is not
    /// revoked yet; returns whether it did.
    fn revoke_certificate(
        &self,
        id: i64,
        at: i64,
        reason: i64,
    ) -> impl Future<Output = R<bool>> + Send;
    /// The certificates of `issuer` that are revoked and not expired at
    /// `now`, by serial: what its CRL lists.
    fn revoked_certificates(
        &self,
        issuer: CrlIssuer,
        now: i64,
    ) -> impl Future<Output = R<Vec<RevokedRecord>>> + Send;
    /// The next CRL number of `issuer`: one more than the last, starting at 1.
    fn next_crl_number(&self, issuer: CrlIssuer) -> impl Future<Output = R<i64>> + Send;
    /// A valid (finalized) order that replaced certificate `cert_id`, if any.
    fn replacing_order(&self, cert_id: i64) -> impl Future<Output = R<Option<i64>>> + Send;
}

/// The embedded store: one SQLite file (WAL) or an in-memory database.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// The schema, in order. Each runs once, in its own transaction, and is
/// recorded in `schema_migrations` (a small runner of our own: sqlx's
/// `migrate!` needs its `macros` feature, which builds sqlx twice).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_acme.sql")),
    (2, include_str!("../migrations/0002_sms_link.sql")),
    (3, include_str!("../migrations/0003_lifecycle.sql")),
    (4, include_str!("../migrations/0004_enrollment.sql")),
];

async fn migrate(conn: &mut SqliteConnection) -> R<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
        .execute(&mut *conn)
        .await?;
    for (version, sql) in MIGRATIONS {
        let mut tx = conn.begin().await?;
        let done = sqlx::query("SELECT 1 FROM schema_migrations WHERE version = ?")
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> R<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        // Migrate on a connection of its own, closed before the pool opens
        // any: a pooled connection that had read the schema before a
        // migration changed a table makes sqlx-sqlite panic on that table's
        // `SELECT *` (it keeps the old column count while SQLite, having
        // re-prepared the statement, returns the new one).
        let mut conn = SqliteConnection::connect_with(&options).await?;
        migrate(&mut conn).await?;
        conn.close().await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> R<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to :memory: is its own database,
        // so it is also the one that migrates, and the only one.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        migrate(&mut *pool.acquire().await?).await?;
        Ok(SqliteStore { pool })
    }

    /// The pool, for tests that assert on the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn status(s: &str) -> R<Status> {
    Status::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> R<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn opt_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> R<Option<T>> {
    s.map(|s| json(&s)).transpose()
}

fn to_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn account_row(row: &sqlx::sqlite::SqliteRow) -> R<AccountRecord> {
    Ok(AccountRecord {
        id: row.try_get("id")?,
        jwk: json(&row.try_get::<String, _>("jwk")?)?,
        status: status(&row.try_get::<String, _>("status")?)?,
        contact: json(&row.try_get::<String, _>("contact")?)?,
        eab_kid: row.try_get("eab_kid")?,
        eab_binding: opt_json(row.try_get("eab_binding")?)?,
    })
}

fn order_row(row: &sqlx::sqlite::SqliteRow) -> R<OrderRecord> {
    Ok(OrderRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        status: status(&row.try_get::<String, _>("status")?)?,
        identifiers: json(&row.try_get::<String, _>("identifiers")?)?,
        profile: row.try_get("profile")?,
        expires: row.try_get("expires")?,
        error: opt_json(row.try_get("error")?)?,
        certificate_id: row.try_get("certificate_id")?,
        replaces: row.try_get("replaces")?,
    })
}

fn authz_row(row: &sqlx::sqlite::SqliteRow) -> R<AuthzRecord> {
    Ok(AuthzRecord {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        account_id: row.try_get("account_id")?,
        identifier: Identifier {
            type_: row.try_get("identifier_type")?,
            value: row.try_get("identifier_value")?,
        },
        status: status(&row.try_get::<String, _>("status")?)?,
        expires: row.try_get("expires")?,
    })
}

fn challenge_row(row: &sqlx::sqlite::SqliteRow) -> R<ChallengeRecord> {
    Ok(ChallengeRecord {
        id: row.try_get("id")?,
        authz_id: row.try_get("authz_id")?,
        type_: row.try_get("type")?,
        token: row.try_get("token")?,
        status: status(&row.try_get::<String, _>("status")?)?,
        validated: row.try_get("validated")?,
        error: opt_json(row.try_get("error")?)?,
    })
}

/// Applies a decided challenge to its authorization and, when that decides
/// it, to the order: a valid challenge makes the authorization valid and the
/// order ready once none of its authorizations is left that is not valid; an
/// invalid one makes both invalid, with the challenge's error on the order.
async fn decide_authorization(
    tx: &mut sqlx::SqliteConnection,
    challenge_id: i64,
    outcome: &Result<i64, Problem>,
) -> R<()> {
    let authz_id: i64 = sqlx::query("SELECT authz_id FROM challenges WHERE id = ?")
        .bind(challenge_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("authz_id")?;
    let order_id: i64 = sqlx::query("SELECT order_id FROM authorizations WHERE id = ?")
        .bind(authz_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("order_id")?;
    match outcome {
        Ok(_) => {
            sqlx::query("UPDATE authorizations SET status = 'valid' WHERE id = ?")
                .bind(authz_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE orders SET status = 'ready' WHERE id = ? AND status = 'pending'
                 AND NOT EXISTS (SELECT 1 FROM authorizations
                                 WHERE order_id = ? AND status != 'valid')",
            )
            .bind(order_id)
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        }
        Err(problem) => {
            sqlx::query("UPDATE authorizations SET status = 'invalid' WHERE id = ?")
                .bind(authz_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE orders SET status = 'invalid', error = ? WHERE id = ? AND status = 'pending'",
            )
            .bind(to_json(problem))
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

impl AcmeStore for SqliteStore {
    async fn add_eab_key(&self, kid: &str, key: &[u8]) -> R<()> {
        sqlx::query("INSERT INTO eab_keys (kid, hmac_key) VALUES (?, ?)")
            .bind(kid)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn add_eab(&self, eab: &NewEab) -> R<()> {
        let done = sqlx::query(
            "INSERT INTO eab_keys (kid, hmac_key, kind, identifiers, expires, created_by, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&eab.kid)
        .bind(&eab.hmac_key)
        .bind(eab.kind.as_str())
        .bind((!eab.identifiers.is_empty()).then(|| to_json(&eab.identifiers)))
        .bind(eab.expires)
        .bind(eab.created_by)
        .bind(eab.created_at)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateEab(eab.kid.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn eab(&self, kid: &str) -> R<Option<EabRecord>> {
        let row = sqlx::query(
            "SELECT kid, hmac_key, kind, identifiers, expires, account_id FROM eab_keys WHERE kid = ?",
        )
        .bind(kid)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(EabRecord {
                kid: r.try_get("kid")?,
                hmac_key: r.try_get("hmac_key")?,
                kind: EabKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("unknown EAB kind {kind:?}")))?,
                identifiers: opt_json(r.try_get("identifiers")?)?.unwrap_or_default(),
                expires: r.try_get("expires")?,
                account_id: r.try_get("account_id")?,
            })
        })
        .transpose()
    }

    async fn unused_eab_key(&self, kid: &str) -> R<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT hmac_key FROM eab_keys WHERE kid = ? AND account_id IS NULL")
            .bind(kid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("hmac_key")).transpose()?)
    }

    async fn create_account(
        &self,
        thumbprint: &str,
        jwk: &serde_json::Value,
        contact: &[String],
        eab: Option<(&str, &serde_json::Value)>,
        now: i64,
    ) -> R<i64> {
        let eab_kid = eab.map(|(kid, _)| kid);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO accounts
             (key_thumbprint, jwk, status, contact, eab_kid, eab_binding, created_at)
             VALUES (?, ?, 'valid', ?, ?, ?, ?)",
        )
        .bind(thumbprint)
        .bind(to_json(jwk))
        .bind(to_json(&contact))
        .bind(eab_kid)
        .bind(eab.map(|(_, binding)| to_json(binding)))
        .bind(now)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::DuplicateAccount);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(kid) = eab_kid {
            let bound = sqlx::query(
                "UPDATE eab_keys SET account_id = ?
                 WHERE kid = ? AND account_id IS NULL AND (expires IS NULL OR expires > ?)",
            )
            .bind(id)
            .bind(kid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if bound.rows_affected() != 1 {
                // Dropping the transaction rolls the account back too.
                return Err(StoreError::EabUnavailable(kid.to_owned()));
            }
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn account(&self, id: i64) -> R<Option<AccountRecord>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_row).transpose()
    }

    async fn account_by_thumbprint(&self, thumbprint: &str) -> R<Option<AccountRecord>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE key_thumbprint = ?")
            .bind(thumbprint)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_row).transpose()
    }

    async fn update_contact(&self, id: i64, contact: &[String]) -> R<bool> {
        let done = sqlx::query("UPDATE accounts SET contact = ? WHERE id = ? AND status = 'valid'")
            .bind(to_json(&contact))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn deactivate_account(&self, id: i64) -> R<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE accounts SET status = 'deactivated' WHERE id = ? AND status = 'valid'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE authorizations SET status = 'deactivated'
             WHERE account_id = ? AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE orders SET status = 'invalid'
             WHERE account_id = ? AND status IN ('pending', 'ready')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn update_account_key(
        &self,
        id: i64,
        old_thumbprint: &str,
        new_thumbprint: &str,
        jwk: &serde_json::Value,
    ) -> R<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET key_thumbprint = ?, jwk = ?
             WHERE id = ? AND key_thumbprint = ? AND status = 'valid'",
        )
        .bind(new_thumbprint)
        .bind(to_json(jwk))
        .bind(id)
        .bind(old_thumbprint)
        .execute(&self.pool)
        .await;
        match done {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::DuplicateAccount)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn create_order(&self, order: &NewOrderRecord) -> R<i64> {
        let identifiers: Vec<&Identifier> = order.authorizations.iter().map(|(i, _)| i).collect();
        let mut tx = self.pool.begin().await?;
        let order_id = sqlx::query(
            "INSERT INTO orders
             (account_id, status, identifiers, profile, expires, replaces, replaces_cert_id)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(order.account_id)
        .bind(if order.authorized { "ready" } else { "pending" })
        .bind(to_json(&identifiers))
        .bind(&order.profile)
        .bind(order.expires)
        .bind(order.replaces.as_ref().map(|(_, cert_id)| cert_id.as_str()))
        .bind(order.replaces.as_ref().map(|(id, _)| *id))
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        for (identifier, challenges) in &order.authorizations {
            let authz_id = sqlx::query(
                "INSERT INTO authorizations
                 (order_id, account_id, identifier_type, identifier_value, status, expires)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(order_id)
            .bind(order.account_id)
            .bind(&identifier.type_)
            .bind(&identifier.value)
            .bind(if order.authorized { "valid" } else { "pending" })
            .bind(order.expires)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
            for (type_, token) in challenges {
                sqlx::query(
                    "INSERT INTO challenges (authz_id, type, token, status) VALUES (?, ?, ?, 'pending')",
                )
                .bind(authz_id)
                .bind(type_)
                .bind(token)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(order_id)
    }

    async fn order(&self, id: i64) -> R<Option<OrderRecord>> {
        let row = sqlx::query("SELECT * FROM orders WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(order_row).transpose()
    }

    async fn authorizations_of_order(&self, order_id: i64) -> R<Vec<AuthzRecord>> {
        let rows = sqlx::query("SELECT * FROM authorizations WHERE order_id = ? ORDER BY id")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(authz_row).collect()
    }

    async fn authorization(&self, id: i64) -> R<Option<AuthzRecord>> {
        let row = sqlx::query("SELECT * FROM authorizations WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(authz_row).transpose()
    }

    async fn challenges_of(&self, authz_id: i64) -> R<Vec<ChallengeRecord>> {
        let rows = sqlx::query("SELECT * FROM challenges WHERE authz_id = ? ORDER BY id")
            .bind(authz_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(challenge_row).collect()
    }

    async fn challenge(&self, id: i64) -> R<Option<ChallengeRecord>> {
        let row = sqlx::query("SELECT * FROM challenges WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(challenge_row).transpose()
    }

    async fn transition_challenge(&self, id: i64, from: Status, to: Status) -> R<bool> {
        let done = sqlx::query("UPDATE challenges SET status = ? WHERE id = ? AND status = ?")
            .bind(to.as_str())
            .bind(id)
            .bind(from.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_validation(&self, challenge_id: i64, outcome: Result<i64, Problem>) -> R<()> {
        let mut tx = self.pool.begin().await?;
        match &outcome {
            Ok(validated) => {
                sqlx::query("UPDATE challenges SET status = 'valid', validated = ? WHERE id = ?")
                    .bind(validated)
                    .bind(challenge_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Err(problem) => {
                sqlx::query("UPDATE challenges SET status = 'invalid', error = ? WHERE id = ?")
                    .bind(to_json(problem))
                    .bind(challenge_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        decide_authorization(&mut tx, challenge_id, &outcome).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn transition_order(
        &self,
        id: i64,
        from: Status,
        to: Status,
        error: Option<&Problem>,
    ) -> R<bool> {
        let done = sqlx::query(
            "UPDATE orders SET status = ?, error = COALESCE(?, error) WHERE id = ? AND status = ?",
        )
        .bind(to.as_str())
        .bind(error.map(to_json))
        .bind(id)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sms_code(&self, challenge_id: i64) -> R<Option<SmsCodeRecord>> {
        let row =
            sqlx::query("SELECT code_digest, code_expires, attempts FROM challenges WHERE id = ?")
                .bind(challenge_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(SmsCodeRecord {
                digest: r.try_get("code_digest")?,
                expires: r.try_get("code_expires")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .transpose()
    }

    async fn start_sms_code(&self, challenge_id: i64, digest: &[u8], expires: i64) -> R<bool> {
        let done = sqlx::query(
            "UPDATE challenges SET status = 'processing', code_digest = ?, code_expires = ?
             WHERE id = ? AND status = 'pending'",
        )
        .bind(digest)
        .bind(expires)
        .bind(challenge_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn abort_sms_code(&self, challenge_id: i64, digest: &[u8]) -> R<bool> {
        let done = sqlx::query(
            "UPDATE challenges SET status = 'pending', code_digest = NULL, code_expires = NULL
             WHERE id = ? AND status = 'processing' AND code_digest = ?",
        )
        .bind(challenge_id)
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_sms_attempt(&self, challenge_id: i64, seen: &SmsCodeRecord) -> R<bool> {
        let done = sqlx::query(
            "UPDATE challenges SET attempts = attempts + 1
             WHERE id = ? AND status = 'processing' AND attempts = ? AND code_digest = ?",
        )
        .bind(challenge_id)
        .bind(seen.attempts)
        .bind(seen.digest.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_sms_code(
        &self,
        challenge_id: i64,
        seen: &SmsCodeRecord,
        attempts: i64,
        outcome: Result<i64, Problem>,
    ) -> R<bool> {
        let mut tx = self.pool.begin().await?;
        let (status, validated, error) = match &outcome {
            Ok(validated) => ("valid", Some(*validated), None),
            Err(problem) => ("invalid", None, Some(to_json(problem))),
        };
        let done = sqlx::query(
            "UPDATE challenges SET status = ?, validated = ?, error = ?, attempts = ?,
                    code_digest = NULL, code_expires = NULL
             WHERE id = ? AND status = 'processing' AND attempts = ? AND code_digest = ?",
        )
        .bind(status)
        .bind(validated)
        .bind(error)
        .bind(attempts)
        .bind(challenge_id)
        .bind(seen.attempts)
        .bind(seen.digest.as_deref())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        decide_authorization(&mut tx, challenge_id, &outcome).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn store_certificate(&self, cert: &NewCertificate) -> R<i64> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query(
            "INSERT INTO certificates
             (order_id, account_id, serial, chain_pem, not_after, issued_at, issuer)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(cert.order_id)
        .bind(cert.account_id)
        .bind(&cert.serial)
        .bind(&cert.chain_pem)
        .bind(cert.not_after)
        .bind(cert.issued_at)
        .bind(cert.issuer.name())
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
        sqlx::query(
            "UPDATE orders SET status = 'valid', certificate_id = ? WHERE id = ? AND status = 'processing'",
        )
        .bind(id)
        .bind(cert.order_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn certificate(&self, id: i64) -> R<Option<CertificateRecord>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(certificate_row).transpose()
    }

    async fn certificate_by_serial(&self, serial: &str) -> R<Option<CertificateRecord>> {
        let row = sqlx::query("SELECT * FROM certificates WHERE serial = ?")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(certificate_row).transpose()
    }

    async fn revoke_certificate(&self, id: i64, at: i64, reason: i64) -> R<bool> {
        let done = sqlx::query(
            "UPDATE certificates SET revoked_at = ?, revocation_reason = ?
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoked_certificates(&self, issuer: CrlIssuer, now: i64) -> R<Vec<RevokedRecord>> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at FROM certificates
             WHERE issuer = ? AND revoked_at IS NOT NULL AND not_after > ?
             ORDER BY serial",
        )
        .bind(issuer.name())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RevokedRecord {
                    serial: r.try_get("serial")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    async fn next_crl_number(&self, issuer: CrlIssuer) -> R<i64> {
        let row = sqlx::query(
            "INSERT INTO crl_numbers (issuer, number) VALUES (?, 1)
             ON CONFLICT (issuer) DO UPDATE SET number = number + 1
             RETURNING number",
        )
        .bind(issuer.name())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("number")?)
    }

    async fn replacing_order(&self, cert_id: i64) -> R<Option<i64>> {
        let row = sqlx::query(
            "SELECT id FROM orders WHERE replaces_cert_id = ? AND status = 'valid' LIMIT 1",
        )
        .bind(cert_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }
}

fn certificate_row(r: &sqlx::sqlite::SqliteRow) -> R<CertificateRecord> {
    let issuer: String = r.try_get("issuer")?;
    Ok(CertificateRecord {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        account_id: r.try_get("account_id")?,
        serial: r.try_get("serial")?,
        chain_pem: r.try_get("chain_pem")?,
        not_after: r.try_get("not_after")?,
        issued_at: r.try_get("issued_at")?,
        issuer: CrlIssuer::parse(&issuer)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown certificate issuer {issuer:?}")))?,
        revoked_at: r.try_get("revoked_at")?,
        revocation_reason: r.try_get("revocation_reason")?,
    })
}

#[cfg(test)]
mod tests;
