//! Integration tests of the client's durable MLS state: real OpenMLS clients
//! on real SQLite files.

mod bounds;
mod discard;
mod harness;
mod restart;
