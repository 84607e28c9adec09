//! `mimi`: the MIMI command-line tool.
//!
//! Today it reads and converts MIMI identifiers (`mimi id`) and shows a short
//! tour of them (`mimi demo`); the client commands join it as the client
//! library lands (see ARCHITECTURE.md).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cert;
mod demo;
mod id;

/// MIMI (More Instant Messaging Interoperability) tool.
///
/// Identifiers follow draft-mahy-mimi-identity; their mimi:// URIs follow
/// draft-ietf-mimi-protocol. Try `mimi demo` for a tour, or
/// `mimi id parse @alice@example.com`.
#[derive(Debug, Parser)]
#[command(name = "mimi", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read, explain and convert MIMI identifiers.
    #[command(subcommand)]
    Id(id::IdCommand),
    /// Show certificates and verify MIMI credential chains.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// A short tour of MIMI identifiers and their forms.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Id(cmd) => id::run(cmd),
        Command::Cert(cmd) => cert::run(cmd),
        Command::Demo => demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
