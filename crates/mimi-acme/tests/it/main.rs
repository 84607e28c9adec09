//! The ACME server over real HTTPS on loopback, driven by ACME clients that
//! nobody here wrote.

mod account_lifecycle;
mod bad_requests;
mod domain_ca;
mod harness;
mod instant_acme_flows;
mod phone_ca;
mod pyacme;
mod raw_client;
mod revocation;
