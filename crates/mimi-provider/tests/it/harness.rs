//! What every test here shares: the two back ends, and checks of answers.

use std::time::Duration;

use mimi_provider::testing::{Backend, Problem, Reply, TestError};

/// How long a test waits for a pushed frame before it fails (a guard
/// against hanging, not a timing assertion).
pub const PUSH_WAIT: Duration = Duration::from_secs(30);

/// PostgreSQL from `MIMI_TEST_POSTGRES_URL`; the test fails, with how to get
/// one, if it is unset.
pub fn postgres() -> Backend {
    Backend::postgres_from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// The problem document of a refusal, checked to have `status` and `kind`.
#[track_caller]
pub fn assert_problem(reply: &Reply, status: u16, kind: &str) -> Problem {
    let problem = reply
        .problem()
        .unwrap_or_else(|e| panic!("expected a {status} {kind} problem document: {e}"));
    assert_eq!(
        (problem.status, problem.kind.as_str()),
        (status, kind),
        "{}",
        problem.detail
    );
    problem
}

/// The refusal of a test-kit call, checked like [`assert_problem`].
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, TestError>,
    status: u16,
    kind: &str,
) -> Problem {
    match result {
        Err(TestError::Refused(reply)) => assert_problem(&reply, status, kind),
        other => panic!("expected a {status} {kind} refusal, got {other:?}"),
    }
}

/// Instantiates each named test `async fn name(backend: Backend)` of the
/// calling module twice: `sqlite::name` and `postgres::name`.
macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(mimi_provider::testing::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::harness::postgres()).await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;
