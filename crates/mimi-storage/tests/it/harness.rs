//! Where each test's database comes from, and the macro that instantiates a
//! generic test for both back ends.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use mimi_storage::{PostgresStorage, SqliteStorage, Storage, StorageError};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The environment variable naming the PostgreSQL server to test against.
pub const POSTGRES_URL_VAR: &str = "MIMI_TEST_POSTGRES_URL";

/// One test's database, on one back end.
pub trait Backend: Clone + Send + Sync + 'static {
    type Storage: Storage + Clone;

    /// A new handle on this test's database (its own connections), with
    /// the schema migrated: open twice to test what survives a restart.
    fn try_open(&self) -> impl Future<Output = Result<Self::Storage, StorageError>> + Send;

    /// [`Backend::try_open`], for tests that expect it to work.
    fn open(&self) -> impl Future<Output = Self::Storage> + Send {
        async {
            self.try_open()
                .await
                .unwrap_or_else(|e| panic!("cannot open the test database: {e}"))
        }
    }

    /// How many rows `table` holds, counted in the database itself.
    fn rows(
        &self,
        storage: &Self::Storage,
        table: &'static str,
    ) -> impl Future<Output = i64> + Send;

    /// Runs `sql` on the database directly (for states the API cannot
    /// make).
    fn execute(
        &self,
        storage: &Self::Storage,
        sql: &'static str,
    ) -> impl Future<Output = ()> + Send;

    /// The one of two spellings of a statement that this back end needs.
    fn pick(sqlite: &'static str, postgres: &'static str) -> &'static str;

    /// The back end's `close`.
    fn close(storage: &Self::Storage) -> impl Future<Output = ()> + Send;
}

#[derive(Debug, Clone)]
pub struct Sqlite {
    // Kept alive (and removed at the end) by whoever holds a clone.
    dir: Arc<tempfile::TempDir>,
}

impl Sqlite {
    fn path(&self) -> PathBuf {
        self.dir.path().join("provider.db")
    }
}

impl Backend for Sqlite {
    type Storage = SqliteStorage;

    async fn try_open(&self) -> Result<SqliteStorage, StorageError> {
        SqliteStorage::open(&self.path()).await
    }

    async fn rows(&self, storage: &SqliteStorage, table: &'static str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(storage.pool())
            .await
            .unwrap()
    }

    async fn execute(&self, storage: &SqliteStorage, sql: &'static str) {
        sqlx::raw_sql(sql).execute(storage.pool()).await.unwrap();
    }

    fn pick(sqlite: &'static str, _: &'static str) -> &'static str {
        sqlite
    }

    async fn close(storage: &SqliteStorage) {
        storage.close().await;
    }
}

#[derive(Debug, Clone)]
pub struct Postgres {
    url: String,
}

impl Backend for Postgres {
    type Storage = PostgresStorage;

    async fn try_open(&self) -> Result<PostgresStorage, StorageError> {
        PostgresStorage::connect(&self.url).await
    }

    async fn rows(&self, storage: &PostgresStorage, table: &'static str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(storage.pool())
            .await
            .unwrap()
    }

    async fn execute(&self, storage: &PostgresStorage, sql: &'static str) {
        sqlx::raw_sql(sql).execute(storage.pool()).await.unwrap();
    }

    fn pick(_: &'static str, postgres: &'static str) -> &'static str {
        postgres
    }

    async fn close(storage: &PostgresStorage) {
        storage.close().await;
    }
}

/// Runs `test` on a fresh SQLite file in a temporary directory.
pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Sqlite) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    test(Sqlite { dir: Arc::new(dir) }).await;
}

/// Runs `test` on a fresh database `mimi_test_<random>` on the server that
/// `MIMI_TEST_POSTGRES_URL` names, and drops that database afterwards, also
/// when the test fails.
pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Postgres) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        panic!(
            "{POSTGRES_URL_VAR} is not set: run scripts/test, which starts a throwaway PostgreSQL"
        );
    };
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to {POSTGRES_URL_VAR}={admin_url}: {e}; \
             is that PostgreSQL running? scripts/test starts one"
        )
    });
    let name = format!("mimi_test_{:016x}", random_u64());
    execute(&mut admin, format!("CREATE DATABASE {name}")).await;

    // A panic inside the spawned task comes back as an error here, so the
    // database is dropped before the panic goes on.
    let outcome = tokio::spawn(test(Postgres {
        url: with_database(&admin_url, &name),
    }))
    .await;
    // FORCE: handles the test dropped without closing may still be
    // connected.
    execute(&mut admin, format!("DROP DATABASE {name} WITH (FORCE)")).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn execute(conn: &mut PgConnection, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..authority_end])
}

fn random_u64() -> u64 {
    // RandomState is seeded randomly per process; the clock and process
    // ID keep names apart even if two processes drew the same seed.
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

#[test]
fn database_names_are_replaced_in_urls() {
    for (url, expected) in [
        (
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://postgres@127.0.0.1:5432/t",
        ),
        (
            "postgres://postgres@127.0.0.1:5432",
            "postgres://postgres@127.0.0.1:5432/t",
        ),
        (
            "postgres://u:p@h/db?sslmode=disable",
            "postgres://u:p@h/t?sslmode=disable",
        ),
    ] {
        assert_eq!(with_database(url, "t"), expected);
    }
}

/// Instantiates each named generic test `async fn name<B: Backend>(b: B)` of
/// the calling module twice: `sqlite::name` and `postgres::name`.
macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::harness::with_sqlite(super::$test::<crate::harness::Sqlite>).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::harness::with_postgres(super::$test::<crate::harness::Postgres>).await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;
