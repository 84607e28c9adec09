//! The client against the real authority over HTTPS on loopback, and
//! against small misbehaving servers.

mod authority;
mod domain_ca;
mod flows;
mod misbehaving;
mod tls;
