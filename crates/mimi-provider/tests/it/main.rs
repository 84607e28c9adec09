//! The provider's integration tests: real providers on loopback (real TLS,
//! real HTTP, real OpenMLS KeyPackages), built with `mimi_provider::testing`.
//! Each test that starts providers runs on SQLite and on PostgreSQL (a fresh
//! database per provider on the server of `MIMI_TEST_POSTGRES_URL`, which
//! scripts/test starts; without it those tests fail, they never skip).

mod harness;

mod bad_input;
mod config;
mod discovery;
mod enrollment;
mod federation;
mod hub;
mod key_packages;
mod key_rotation;
mod metrics;
mod not_implemented;
mod replay;
mod restart;
mod retire;
mod revocation;
mod scale_out;
