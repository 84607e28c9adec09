//! The CRLs (draft-barnes-mimi-identity-arch §4.3): what the untrusted
//! provider relays to clients, so that a revoked certificate stops
//! verifying — the authority's roots' (domain CAs, phone-number CAs, TLS
//! servers) or a domain CA's and its phone-number CAs' (users and devices).
//! Each CA has one CRL listing its certificates that are revoked and not yet
//! expired, signed on demand and
//! cached: a CRL is re-signed when it is an hour old or a revocation has
//! happened since, with a CRL number one more than the last (kept in the
//! database, so a restart never reuses one).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;

use crate::ca::{CrlSigner, unix_seconds};
use crate::problem::AcmeError;
use crate::ra::store_error;
use crate::sa::{AcmeStore, CrlIssuer};

/// How long a CRL is valid (nextUpdate − thisUpdate): the most
/// mimi-credentials accepts, since a client offline for a day should not
/// lose every credential at once; re-signing hourly is what keeps CRLs
/// recent.
pub const CRL_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A cached CRL older than this is re-signed at the next request.
pub const CRL_RESIGN_AFTER: Duration = Duration::from_secs(3600);

/// The CRLs of every CA here, as last signed.
#[derive(Debug)]
pub struct CrlPublisher {
    slots: HashMap<CrlIssuer, Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Counts revocations: a CRL signed under an older count misses one.
    revocations: AtomicU64,
    /// One signer at a time, so that concurrent requests for a stale CRL
    /// sign it once.
    cached: tokio::sync::Mutex<Option<Signed>>,
}

#[derive(Debug)]
struct Signed {
    der: Bytes,
    this_update: SystemTime,
    revocations: u64,
}

impl Default for CrlPublisher {
    /// The identity authority's two roots.
    fn default() -> Self {
        CrlPublisher::for_issuers(CrlIssuer::AUTHORITY)
    }
}

impl CrlPublisher {
    /// The identity authority's CRLs.
    pub fn new() -> Self {
        CrlPublisher::default()
    }

    /// The CRLs of `issuers`.
    pub fn for_issuers(issuers: impl IntoIterator<Item = CrlIssuer>) -> Self {
        CrlPublisher {
            slots: issuers.into_iter().map(|i| (i, Slot::default())).collect(),
        }
    }

    fn slot(&self, issuer: CrlIssuer) -> Result<&Slot, AcmeError> {
        self.slots
            .get(&issuer)
            .ok_or_else(|| AcmeError::internal("no CRL is published for", issuer.name()))
    }

    /// Records that one of `issuer`'s certificates was revoked (after the
    /// database says so), so that the next request re-signs its CRL. A CA
    /// that is no longer configured (a phone-number CA removed from the
    /// config) publishes no CRL, so there is nothing to re-sign.
    pub fn revoked(&self, issuer: CrlIssuer) {
        if let Some(slot) = self.slots.get(&issuer) {
            slot.revocations.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// `issuer`'s current CRL (DER) at `now`: the cached one if it is
    /// younger than [`CRL_RESIGN_AFTER`] and no revocation happened since,
    /// else a new one, valid from `now` (whole seconds) for
    /// [`CRL_LIFETIME`].
    pub async fn current<S: AcmeStore>(
        &self,
        store: &S,
        issuers: &impl CrlSigner,
        issuer: CrlIssuer,
        now: SystemTime,
    ) -> Result<Bytes, AcmeError> {
        let slot = self.slot(issuer)?;
        let mut cached = slot.cached.lock().await;
        // Read before the database: a revocation committed after this read
        // bumps the count again, and the next request re-signs.
        let revocations = slot.revocations.load(Ordering::SeqCst);
        if let Some(signed) = cached.as_ref() {
            let age = now.duration_since(signed.this_update).unwrap_or_default();
            if signed.revocations == revocations && age < CRL_RESIGN_AFTER {
                return Ok(signed.der.clone());
            }
        }
        // Whole seconds: CRL times have no fractions, and a thisUpdate
        // rounded down keeps nextUpdate − thisUpdate at exactly the lifetime.
        let seconds = unix_seconds(now);
        let this_update = UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        let revoked: Vec<(String, i64)> = store
            .revoked_certificates(issuer, seconds)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|r| (r.serial, r.revoked_at))
            .collect();
        let number = store.next_crl_number(issuer).await.map_err(store_error)?;
        let number = u64::try_from(number)
            .map_err(|_| AcmeError::internal("a stored CRL number is negative", number))?;
        let crl = issuers.sign_crl(issuer, &revoked, this_update, CRL_LIFETIME, number)?;
        let der = Bytes::copy_from_slice(crl.der());
        *cached = Some(Signed {
            der: der.clone(),
            this_update,
            revocations,
        });
        Ok(der)
    }
}

#[cfg(test)]
mod tests;
