//! Tests of mimi-credentials through its public API.

mod mimi_rules;
mod openssl;
mod pki;
mod profiles;
mod tnauthlist;
