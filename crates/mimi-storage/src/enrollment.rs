//! [`EnrollmentStore`]: how a provider enrolls its users' devices at its
//! domain CA (docs/enrollment.md, "The provider side"): one-time invites
//! for a user's first device, enrollments pending until the device
//! registers with the certificate the domain CA issued it, and the renewal
//! of a registered client's key.

use std::future::Future;

use crate::{
    ClientRecord, MAX_CERTIFICATE_CHAIN_LEN, MAX_ID_LEN, MAX_SIGNATURE_KEY_LEN, R, StorageError,
    check_len, to_db,
};

/// The length of an invite's stored hash: SHA-256 of the code.
pub const INVITE_HASH_LEN: usize = 32;

/// The most invites [`EnrollmentStore::invites_of_user`] returns (the
/// newest): an operator creates a few per user, never thousands.
pub const MAX_INVITES_LISTED: u32 = 64;

/// A one-time invite for a user's first device. Only the hash of its code
/// is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// SHA-256 of the code the operator handed to the user.
    pub code_hash: [u8; INVITE_HASH_LEN],
    /// The `mimi://<domain>/u/<user>` URI the invite is for.
    pub user_id: String,
    /// Unix milliseconds.
    pub created_at_ms: u64,
    /// Unix milliseconds from which the invite is refused.
    pub expires_at_ms: u64,
    /// When an enrollment spent it, if one did.
    pub used_at_ms: Option<u64>,
    /// E.164 numbers (`+` and 1 to 15 digits), at most
    /// [`MAX_INVITE_PHONE_NUMBERS`]: the first device enrolled with the
    /// invite is pre-authorized for them too (TNAuthList identifiers).
    pub phone_numbers: Vec<String>,
}

/// The most phone numbers one invite carries: a binding names 1 to 8
/// identifiers, two of which are the user and the device.
pub const MAX_INVITE_PHONE_NUMBERS: usize = 6;

/// A device the provider revoked at its domain CA (docs/enrollment.md,
/// "Revoking a device"): kept for good, so that the device URI never
/// authenticates, registers or enrolls again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedClient {
    /// The `mimi://<domain>/d/<user>/<device>` URI (canonical).
    pub client_id: String,
    /// The `mimi://<domain>/u/<user>` URI of its user.
    pub user_id: String,
    /// The serial of the certificate revoked (its DER content bytes, 1 to
    /// 20).
    pub serial: Vec<u8>,
    /// RFC 5280 §5.3.1 CRLReason code (0 to 10).
    pub reason: u8,
    /// Unix milliseconds.
    pub revoked_at_ms: u64,
}

/// A device the provider asked its domain CA to pre-authorize, waiting for
/// the device to register with its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnrollment {
    /// The `mimi://<domain>/d/<user>/<device>` URI (canonical).
    pub device_id: String,
    /// The `mimi://<domain>/u/<user>` URI of its user.
    pub user_id: String,
    /// The key (DER SubjectPublicKeyInfo) the device proved it holds: the
    /// certificate it registers with must be for this key.
    pub signature_key: Vec<u8>,
    /// Whether it is its user's first device (enrolled with an invite or
    /// under open registration), rather than one added by a registered
    /// device of the user.
    pub first_device: bool,
    /// Unix milliseconds.
    pub created_at_ms: u64,
    /// Unix milliseconds from which it no longer counts.
    pub expires_at_ms: u64,
}

/// Invites and pending enrollments. Every method is one transaction.
pub trait EnrollmentStore: Send + Sync + 'static {
    /// Stores a new, unused invite. A code hash stored before is
    /// [`StorageError::InviteExists`](crate::StorageError::InviteExists).
    fn add_invite(&self, invite: &Invite) -> impl Future<Output = R<()>> + Send;

    /// The invites of `user_id`, used and expired ones included, newest
    /// first, at most [`MAX_INVITES_LISTED`]: the caller compares the
    /// presented code's hash with each in constant time.
    fn invites_of_user(&self, user_id: &str) -> impl Future<Output = R<Vec<Invite>>> + Send;

    /// Records `pending` (replacing an earlier pending enrollment of the
    /// same device) in one transaction with what authorizes it, checked
    /// again under the transaction's lock:
    ///
    /// - `invite`, the hash of an invite it spends: the invite must be of
    ///   `pending.user_id`, unused and unexpired at `now_ms`; it is marked
    ///   used at `now_ms` (else
    ///   [`StorageError::InviteUnusable`](crate::StorageError::InviteUnusable));
    /// - for a first device: the user has no registered client and no live
    ///   (unexpired at `now_ms`) first-device enrollment of another device
    ///   (else [`StorageError::UserTaken`](crate::StorageError::UserTaken));
    /// - the device is not registered (else
    ///   [`StorageError::ClientExists`](crate::StorageError::ClientExists)).
    ///
    /// On any error nothing is written.
    fn begin_enrollment(
        &self,
        pending: &PendingEnrollment,
        invite: Option<&[u8; INVITE_HASH_LEN]>,
        now_ms: u64,
    ) -> impl Future<Output = R<()>> + Send;

    /// The pending enrollment of `device_id`, expired or not.
    fn pending_enrollment(
        &self,
        device_id: &str,
    ) -> impl Future<Output = R<Option<PendingEnrollment>>> + Send;

    /// The live (unexpired at `now_ms`) first-device enrollment of
    /// `user_id`, if any.
    fn pending_first_device(
        &self,
        user_id: &str,
        now_ms: u64,
    ) -> impl Future<Output = R<Option<PendingEnrollment>>> + Send;

    /// Deletes the pending enrollment of `device_id` (it registered);
    /// `false` if there was none.
    fn finish_enrollment(&self, device_id: &str) -> impl Future<Output = R<bool>> + Send;

    /// A registered client renewed its certificate with a new key: replaces
    /// its key and certificate chain if its key is still `old_key`, keeping
    /// its user, handle, queue and registration time, and returns the
    /// record. An unknown client is
    /// [`StorageError::UnknownClient`](crate::StorageError::UnknownClient);
    /// one whose key is no longer `old_key` (a concurrent renewal)
    /// [`StorageError::ClientKeyChanged`](crate::StorageError::ClientKeyChanged).
    fn replace_client_key(
        &self,
        client_id: &str,
        old_key: &[u8],
        new_key: &[u8],
        certificate_chain: &str,
    ) -> impl Future<Output = R<ClientRecord>> + Send;

    /// Deletes invites and pending enrollments whose expiry is at or
    /// before `now_ms`; returns how many rows went.
    fn purge_expired_enrollments(&self, now_ms: u64) -> impl Future<Output = R<u64>> + Send;

    /// Records that `revoked.client_id` was revoked, in one transaction
    /// with what follows from it: the client row, its KeyPackages, its
    /// pending enrollment and its queue's messages are deleted, and its
    /// queue is retired (deliveries to it are refused as to a retired
    /// queue). Returns the client record that was deleted (`None` if the
    /// device was not registered). A device revoked before is
    /// [`StorageError::ClientRevoked`](crate::StorageError::ClientRevoked)
    /// and changes nothing.
    fn revoke_client(
        &self,
        revoked: &RevokedClient,
    ) -> impl Future<Output = R<Option<ClientRecord>>> + Send;

    /// The revocation of `client_id`, if it was revoked.
    fn client_revocation(
        &self,
        client_id: &str,
    ) -> impl Future<Output = R<Option<RevokedClient>>> + Send;

    /// The time of the latest revocation (Unix milliseconds), if any: a
    /// provider process polls it to refresh its CRLs after a revocation
    /// made by another process (`mimi-server provider revoke-device`).
    fn latest_revocation_ms(&self) -> impl Future<Output = R<Option<u64>>> + Send;
}

pub(crate) fn check_invite(invite: &Invite) -> R<[i64; 2]> {
    check_len("a user ID", invite.user_id.len(), MAX_ID_LEN)?;
    if invite.phone_numbers.len() > MAX_INVITE_PHONE_NUMBERS {
        return Err(StorageError::TooManyPhoneNumbers {
            count: invite.phone_numbers.len(),
            max: MAX_INVITE_PHONE_NUMBERS,
        });
    }
    for number in &invite.phone_numbers {
        check_e164(number)?;
    }
    Ok([
        to_db("a creation time (ms)", invite.created_at_ms)?,
        to_db("an expiry time (ms)", invite.expires_at_ms)?,
    ])
}

/// `+` and 1 to 15 digits: stored space-separated, so nothing else may
/// appear in one.
fn check_e164(number: &str) -> R<()> {
    let digits = number.strip_prefix('+').unwrap_or("");
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StorageError::InvalidPhoneNumber {
            number: number.to_owned(),
        });
    }
    Ok(())
}

pub(crate) fn check_revoked(revoked: &RevokedClient) -> R<i64> {
    check_len("a client ID", revoked.client_id.len(), MAX_ID_LEN)?;
    check_len("a user ID", revoked.user_id.len(), MAX_ID_LEN)?;
    check_len("a certificate serial", revoked.serial.len(), 20)?;
    if revoked.reason > 10 {
        return Err(StorageError::InvalidRevocationReason {
            reason: revoked.reason,
        });
    }
    to_db("a revocation time (ms)", revoked.revoked_at_ms)
}

pub(crate) fn check_pending(pending: &PendingEnrollment) -> R<[i64; 2]> {
    check_len("a device ID", pending.device_id.len(), MAX_ID_LEN)?;
    check_len("a user ID", pending.user_id.len(), MAX_ID_LEN)?;
    check_len(
        "a signature key",
        pending.signature_key.len(),
        MAX_SIGNATURE_KEY_LEN,
    )?;
    Ok([
        to_db("a creation time (ms)", pending.created_at_ms)?,
        to_db("an expiry time (ms)", pending.expires_at_ms)?,
    ])
}

pub(crate) fn check_key_change(
    client_id: &str,
    old_key: &[u8],
    new_key: &[u8],
    certificate_chain: &str,
) -> R<()> {
    check_len("a client ID", client_id.len(), MAX_ID_LEN)?;
    check_len("a signature key", old_key.len(), MAX_SIGNATURE_KEY_LEN)?;
    check_len("a signature key", new_key.len(), MAX_SIGNATURE_KEY_LEN)?;
    check_len(
        "a certificate chain",
        certificate_chain.len(),
        MAX_CERTIFICATE_CHAIN_LEN,
    )
}

/// A time to compare stored times with: no stored time exceeds i64::MAX, so
/// clamping changes nothing.
pub(crate) fn clamp_now(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}
