//! `mimi-server provider --config provider.toml`: one provider, until Ctrl-C
//! or SIGTERM. The config format is `crates/mimi-provider/provider.example.toml`.

use std::path::PathBuf;

use anyhow::Context;
use mimi_provider::ProviderConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The provider's TOML config file.
    #[arg(long)]
    config: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let settings = ProviderConfig::load(&args.config)?;
    mimi_provider::run(settings, shutdown_signal())
        .await
        .context("the provider could not start")
}

/// Ctrl-C, or SIGTERM where there is one.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
