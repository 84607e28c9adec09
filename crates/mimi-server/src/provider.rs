//! `mimi-server provider --config provider.toml`: one provider, until Ctrl-C
//! or SIGTERM. The config format is `crates/mimi-provider/provider.example.toml`.
//!
//! `mimi-server provider rotate-key --config provider.toml [--overlap 24h]`:
//! makes the next S2S signing key in the provider's data directory (offline:
//! the provider need not run; a running one picks it up within a minute).
//!
//! `mimi-server provider invite --config provider.toml <user> [--expires 7d]`:
//! creates a one-time invite code for the first device of `<user>`
//! (docs/enrollment.md, "The provider side"); only its hash is stored.
//! `--phone +12025550123` (repeatable) pre-authorizes that device for the
//! number too.
//!
//! `mimi-server provider revoke-device --config provider.toml <device>
//! [--reason keyCompromise]`: revokes the device's certificate at the
//! domain CA (the provider is its registrar), removes the client and keeps
//! it revoked; a running provider refreshes its CRLs within a minute.

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
    /// Creates a one-time invite for a user's first device (`[enrollment]`
    /// with `registration = "invite"`): prints the code to hand to the user.
    Invite(InviteArgs),
    /// Revokes a device: its certificate at the domain CA (as registrar),
    /// and the client here (refused from now on, its queue and KeyPackages
    /// deleted); then the relayed CRLs are refreshed.
    RevokeDevice(RevokeArgs),
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// The provider's TOML config file (`[enrollment]` is required).
    #[arg(long)]
    config: PathBuf,
    /// The device: mimi://<domain>/d/<user>/<device>, or <user>/<device>.
    device: String,
    /// The RFC 5280 reason: unspecified, keyCompromise, affiliationChanged,
    /// superseded or cessationOfOperation.
    #[arg(long, default_value = "unspecified")]
    reason: String,
}

#[derive(Debug, clap::Args)]
struct InviteArgs {
    /// The provider's TOML config file (its storage holds the invites).
    #[arg(long)]
    config: PathBuf,
    /// The user: a user name of the provider's domain (alice) or its
    /// mimi:// user URI.
    user: String,
    /// How long the invite is valid: a number with s, m, h or d (e.g. 7d;
    /// at most 90d).
    #[arg(long, default_value = "7d", value_parser = parse_expiry)]
    expires: Duration,
    /// An E.164 number (+12025550123) the first device is certified for
    /// too (TNAuthList); repeat for several (at most 6). The domain CA must
    /// hold a phone-number CA covering them.
    #[arg(long = "phone")]
    phone: Vec<String>,
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
        (Some(Command::Invite(invite)), _) => create_invite(&invite).await,
        (Some(Command::RevokeDevice(revoke)), _) => revoke_device(&revoke).await,
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

async fn create_invite(args: &InviteArgs) -> anyhow::Result<()> {
    let settings = ProviderConfig::load(&args.config)?;
    let invite =
        mimi_provider::enrollment::invite(&settings, &args.user, args.expires, &args.phone)
            .await
            .context("cannot create the invite")?;
    println!("invite for {}: {}", invite.user, invite.code);
    if !invite.phone_numbers.is_empty() {
        println!("with phone numbers {}", invite.phone_numbers.join(", "));
    }
    println!(
        "valid once, until Unix time {} ({} s from now); hand it to the user for their first device's enroll_user",
        invite.expires_at_ms / 1000,
        args.expires.as_secs()
    );
    Ok(())
}

async fn revoke_device(args: &RevokeArgs) -> anyhow::Result<()> {
    let settings = ProviderConfig::load(&args.config)?;
    let reason = mimi_provider::revocation::parse_reason(&args.reason)?;
    let done = mimi_provider::revocation::revoke(&settings, &args.device, reason)
        .await
        .context("cannot revoke the device")?;
    let serial: String = done
        .revoked
        .serial
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "revoked {} (certificate serial {serial}){}",
        done.revoked.client_id,
        if done.already_revoked_at_ca {
            "; the domain CA had revoked it already"
        } else {
            ""
        }
    );
    println!(
        "its requests are refused from now on, its queue and KeyPackages are deleted; a running provider relays the new CRL within {} s",
        mimi_provider::revocation::REVOCATION_POLL.as_secs()
    );
    Ok(())
}

/// An invite's lifetime: `<n>s`, `<n>m`, `<n>h` or `<n>d`, at most
/// [`MAX_INVITE_LIFETIME`](mimi_provider::enrollment::MAX_INVITE_LIFETIME).
fn parse_expiry(text: &str) -> Result<Duration, String> {
    let lifetime = parse_duration(text)?;
    let max = mimi_provider::enrollment::MAX_INVITE_LIFETIME;
    if lifetime.is_zero() || lifetime > max {
        return Err(format!(
            "an invite lives 1s to {} days, not {text}",
            max.as_secs() / (24 * 3600)
        ));
    }
    Ok(lifetime)
}

/// `<n>s`, `<n>m`, `<n>h` or `<n>d`, at most [`MAX_OVERLAP`].
fn parse_overlap(text: &str) -> Result<Duration, String> {
    let overlap = parse_duration(text)?;
    if overlap > MAX_OVERLAP {
        return Err(format!(
            "an overlap of {text} is longer than the {} days allowed",
            MAX_OVERLAP.as_secs() / (24 * 3600)
        ));
    }
    Ok(overlap)
}

/// `<n>s`, `<n>m`, `<n>h` or `<n>d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
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
    Ok(Duration::from_secs(
        number.checked_mul(unit).ok_or_else(bad)?,
    ))
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

    #[test]
    fn invite_lifetimes_parse_or_say_why_not() {
        assert_eq!(parse_expiry("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_expiry("90d"), Ok(Duration::from_secs(90 * 86400)));
        assert!(parse_expiry("0s").unwrap_err().contains("1s to 90 days"));
        assert!(parse_expiry("91d").unwrap_err().contains("1s to 90 days"));
        assert!(parse_expiry("7x").unwrap_err().contains("not a duration"));
    }
}
