//! `mimi-server`: runs the server roles of a MIMI deployment from a config
//! file or flags. Wiring only: the work is done by the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod authority;
mod domain_ca;
mod keyfile;
mod provider;

/// MIMI server roles.
#[derive(Debug, Parser)]
#[command(name = "mimi-server", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// The identity authority: an ACME server issuing TLS server certificates
    /// (from its TLS root) and providers' domain CAs (from its identity root).
    Authority(authority::Args),
    /// A provider's domain CA: an ACME server issuing its domain's user,
    /// user-CA and device certificates to accounts its registrar
    /// pre-authorized (docs/enrollment.md).
    DomainCa(domain_ca::Args),
    /// A provider: queueing service, KeyPackage store, client API and the S2S
    /// endpoints of draft-kohbrok-mimi-transport, for one domain.
    Provider(provider::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIMI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.role {
            Role::Authority(args) => authority::run(args).await,
            Role::DomainCa(args) => domain_ca::run(args).await,
            Role::Provider(args) => provider::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
