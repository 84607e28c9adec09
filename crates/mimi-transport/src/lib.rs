//! HTTPS between MIMI servers (draft-kohbrok-mimi-transport §2): rustls with
//! TLS 1.3 only, certificates checked against configured TLS roots (never the
//! identity roots), and a resolver map so that several servers can run on
//! loopback, each under its own domain name.
//!
//! Today: serving an axum `Router` over TLS and building a client. The signed
//! `S2SMessage` framing joins this crate with the federation work.

pub mod https;
