//! The schema migration runner both back ends share. sqlx's own `migrate!`
//! needs its `macros` feature, which builds sqlx (and rustls) a second time;
//! this runner is small enough to read in one go.
//!
//! Each migration runs once, in its own transaction, and is recorded in
//! `schema_migrations` in that same transaction, so a failed migration
//! leaves the database at the previous version. Several processes may open
//! one database at the same time: each migration transaction first takes
//! the back end's lock, and recording the version is the claim, so exactly
//! one of them applies each migration.

use sqlx::{ColumnIndex, Database, Decode, Executor, Pool, Row, Type};

use crate::StorageError;

/// One schema step: `migrations/<backend>/<NNNN>_<name>.sql`.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// What differs between the back ends.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// Starts a migration transaction.
    pub begin: &'static str,
    /// Run first in every migration transaction to serialize concurrent
    /// openers (empty: `begin` already does).
    pub lock: &'static str,
    /// The migrations, by increasing version.
    pub migrations: &'static [Migration],
}

pub(crate) async fn run<DB>(pool: &Pool<DB>, dialect: &Dialect) -> Result<(), StorageError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let known = dialect.migrations.last().map_or(0, |m| m.version);

    let mut tx = pool.begin_with(dialect.begin).await?;
    lock(&mut tx, dialect).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY,
             name TEXT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await?;
    // A newer build's schema may mean anything to this one: refuse it
    // rather than write into it.
    let newest = sqlx::raw_sql("SELECT MAX(version) FROM schema_migrations")
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(row) = newest
        && let Some(found) = row.try_get::<Option<i64>, usize>(0)?
        && found > known
    {
        return Err(StorageError::SchemaTooNew { found, known });
    }
    tx.commit().await?;

    for migration in dialect.migrations {
        let mut tx = pool.begin_with(dialect.begin).await?;
        lock(&mut tx, dialect).await?;
        // Version and name are constants of this crate (the tests check
        // that names are plain words), so formatting them in is safe.
        let claim = format!(
            "INSERT INTO schema_migrations (version, name) VALUES ({}, '{}')
             ON CONFLICT DO NOTHING RETURNING version",
            migration.version, migration.name
        );
        let claimed = sqlx::raw_sql(sqlx::AssertSqlSafe(claim))
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if claimed {
            sqlx::raw_sql(migration.sql)
                .execute(&mut *tx)
                .await
                .map_err(|source| StorageError::Migration {
                    version: migration.version,
                    name: migration.name,
                    source,
                })?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn lock<DB>(tx: &mut sqlx::Transaction<'_, DB>, dialect: &Dialect) -> Result<(), StorageError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    if !dialect.lock.is_empty() {
        sqlx::raw_sql(dialect.lock).execute(&mut **tx).await?;
    }
    Ok(())
}
