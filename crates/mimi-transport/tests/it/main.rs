//! Integration tests of mimi-transport: providers a.example and b.example on
//! loopback over real TLS (certificates from a test TLS root), each with its own
//! SQLite replay table.

mod bad_input;
mod delivery;
mod harness;
mod keys;
mod rate_limits;
mod rotation;
