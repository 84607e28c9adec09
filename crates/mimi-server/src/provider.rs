//! `mimi-server provider --config provider.toml`: one provider, until Ctrl-C
//! or SIGTERM. The config format is `crates/mimi-provider/provider.example.toml`.
//!
//! `mimi-server provider rotate-key --config provider.toml [--overlap 24h]`:
//! makes the next S2S signing key in the provider's data directory (offline:
//! the provider need not run; a running one picks it up within a minute).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mimi_provider::ProviderConfig;
use mimi_provider::signing_keys::{self, MAX_OVERLAP};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// The provider's TOML config file.
    #[arg(long, required = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Creates the next S2S signing key: published from now, signing from
    /// now + overlap; the current key stays published until the switch +
    /// overlap (draft-kohbrok-mimi-transport §5.1, docs/wire-spec.md §9).
    RotateKey(RotateArgs),
}

#[derive(Debug, clap::Args)]
struct RotateArgs {
    /// The provider's TOML config file (its `data_dir` holds the keys).
    #[arg(long)]
    config: PathBuf,
    /// How long peers see both keys before the switch, and the old key after
    /// it: a number with s, m, h or d (e.g. 30m, 24h, 7d; at most 30d).
    #[arg(long, default_value = "24h", value_parser = parse_overlap)]
    overlap: Duration,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    match (args.command, args.config) {
        (Some(Command::RotateKey(rotate)), _) => rotate_key(&rotate),
        (None, Some(config)) => {
            let settings = ProviderConfig::load(&config)?;
            mimi_provider::run(settings, shutdown_signal())
                .await
                .context("the provider could not start")
        }
        (None, None) => anyhow::bail!("give --config provider.toml"),
    }
}

fn rotate_key(args: &RotateArgs) -> anyhow::Result<()> {
    let settings = ProviderConfig::load(&args.config)?;
    let now = signing_keys::now_s();
    let rotation = signing_keys::rotate(&settings.data_dir, args.overlap, now)
        .context("cannot rotate the signing key")?;
    let new = rotation.new;
    println!(
        "created signing key {} in {}: published from now, signing from Unix time {} (in {} s)",
        new.id,
        rotation.file.display(),
        new.signs_from,
        new.signs_from.saturating_sub(now)
    );
    for old in &rotation.retiring {
        println!(
            "key {} ({}) stays published until Unix time {}",
            old.id,
            old.file_name(),
            old.not_after
        );
    }
    for old in &rotation.dropped {
        println!(
            "key {} ({}) had expired: its record and file are removed",
            old.id,
            old.file_name()
        );
    }
    println!(
        "a running provider picks this up within {} s; copy the data directory's signing-key*.p8 and {} to every other process of this provider",
        signing_keys::RELOAD_INTERVAL.as_secs(),
        signing_keys::RECORDS_FILE
    );
    Ok(())
}

/// `<n>s`, `<n>m`, `<n>h` or `<n>d`, at most [`MAX_OVERLAP`].
fn parse_overlap(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: write a number with s, m, h or d, e.g. 24h");
    if text.len() > 16 {
        return Err(bad());
    }
    let split = text.len().saturating_sub(1);
    let (number, unit) = text.split_at(
        text.is_char_boundary(split)
            .then_some(split)
            .ok_or_else(bad)?,
    );
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 24 * 3600,
        _ => return Err(bad()),
    };
    let overlap = Duration::from_secs(number.checked_mul(unit).ok_or_else(bad)?);
    if overlap > MAX_OVERLAP {
        return Err(format!(
            "an overlap of {text} is longer than the {} days allowed",
            MAX_OVERLAP.as_secs() / (24 * 3600)
        ));
    }
    Ok(overlap)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_parse_or_say_why_not() {
        assert_eq!(parse_overlap("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_overlap("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_overlap("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_overlap("30d"), Ok(MAX_OVERLAP));
        for bad in [
            "",
            "24",
            "h",
            "1.5h",
            "-1h",
            "24x",
            "1é",
            "99999999999999999d",
        ] {
            let e = parse_overlap(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
        assert!(
            parse_overlap("31d")
                .unwrap_err()
                .contains("longer than the 30 days")
        );
    }
}
