//! The ACME server over real HTTPS on loopback, driven by ACME clients that
//! nobody here wrote.

mod harness;
mod instant_acme_flows;
