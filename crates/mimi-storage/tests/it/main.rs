//! The storage test suite: every test is written once, generic over a
//! [`harness::Backend`], and `both_backends!` runs it against SQLite (a fresh
//! file per test) and PostgreSQL (a fresh database per test, on the server
//! that `MIMI_TEST_POSTGRES_URL` names; scripts/test starts one).

mod harness;

mod clients;
mod deliver;
mod durability;
mod enrollment;
mod groups;
mod key_packages;
mod notifications;
mod outbox;
mod queues;
mod references;
mod replay;
mod revocation;
