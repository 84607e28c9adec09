//! Integration tests of the client's durable MLS state: real OpenMLS clients
//! on real SQLite files.

mod bounds;
mod content;
mod discard;
mod harness;
mod restart;
