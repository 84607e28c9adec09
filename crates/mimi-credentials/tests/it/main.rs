//! Tests of mimi-credentials through its public API.

mod csr;
mod keys;
mod mimi_rules;
mod openssl;
mod parse_fuzz;
mod pki;
mod profiles;
mod tls;
mod tnauthlist;
