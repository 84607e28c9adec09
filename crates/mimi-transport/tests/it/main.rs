//! Integration tests of mimi-transport: providers a.example and b.example on
//! loopback over real TLS (certificates from a test TLS root), each with its own
//! SQLite replay table.

mod bad_input;
mod deliver_message;
mod delivery;
mod first_contact;
mod harness;
mod keys;
mod purge;
mod rate_limits;
mod rotation;
mod shutdown;
