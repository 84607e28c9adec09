//! What the two back ends share for [`crate::EnrollmentStore`]: the SQL
//! both run unchanged and the decoding of rows.

use crate::enrollment::{INVITE_HASH_LEN, Invite, PendingEnrollment, RevokedClient};
use crate::{R, StorageError, from_db};

/// Statements both back ends run unchanged.
pub(crate) mod sql {
    pub const INSERT_INVITE: &str =
        "INSERT INTO invites (code_hash, user_id, created_at_ms, expires_at_ms, phone_numbers)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING";

    pub const INVITES_OF_USER: &str = "SELECT code_hash, user_id, created_at_ms, expires_at_ms,
             used_at_ms, phone_numbers FROM invites
         WHERE user_id = $1 ORDER BY created_at_ms DESC, code_hash LIMIT $2";

    /// Spends an invite: one statement, so of two enrollments spending it
    /// at once exactly one updates the row.
    pub const USE_INVITE: &str = "UPDATE invites SET used_at_ms = $1
         WHERE code_hash = $2 AND user_id = $3 AND used_at_ms IS NULL AND expires_at_ms > $1";

    pub const CLIENT_REGISTERED: &str = "SELECT COUNT(*) FROM clients WHERE client_id = $1";

    pub const USER_HAS_CLIENT: &str = "SELECT COUNT(*) FROM clients WHERE user_id = $1";

    pub const OTHER_LIVE_FIRST_DEVICE: &str = "SELECT COUNT(*) FROM pending_enrollments
         WHERE user_id = $1 AND first_device AND device_id <> $2 AND expires_at_ms > $3";

    pub const UPSERT_PENDING: &str = "INSERT INTO pending_enrollments
         (device_id, user_id, signature_key, first_device, created_at_ms, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device_id) DO UPDATE SET user_id = excluded.user_id,
             signature_key = excluded.signature_key, first_device = excluded.first_device,
             created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms";

    /// The columns of a [`super::PendingRow`], in its order.
    macro_rules! pending_columns {
        () => {
            "device_id, user_id, signature_key, first_device, created_at_ms, expires_at_ms"
        };
    }

    pub const PENDING: &str = concat!(
        "SELECT ",
        pending_columns!(),
        " FROM pending_enrollments WHERE device_id = $1"
    );

    pub const PENDING_FIRST_DEVICE: &str = concat!(
        "SELECT ",
        pending_columns!(),
        " FROM pending_enrollments WHERE user_id = $1 AND first_device AND expires_at_ms > $2
         ORDER BY device_id LIMIT 1"
    );

    pub const DELETE_PENDING: &str = "DELETE FROM pending_enrollments WHERE device_id = $1";

    /// Compare-and-set on the old key: a concurrent renewal makes this
    /// update nothing.
    pub const REPLACE_CLIENT_KEY: &str =
        "UPDATE clients SET signature_key = $1, certificate_chain = $2
         WHERE client_id = $3 AND signature_key = $4";

    pub const PURGE_INVITES: &str = "DELETE FROM invites WHERE expires_at_ms <= $1";

    pub const PURGE_PENDING: &str = "DELETE FROM pending_enrollments WHERE expires_at_ms <= $1";

    pub const INSERT_REVOKED: &str = "INSERT INTO revoked_clients
         (client_id, user_id, serial, reason, revoked_at_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING";

    pub const REVOKED: &str =
        "SELECT client_id, user_id, serial, reason, revoked_at_ms FROM revoked_clients
         WHERE client_id = $1";

    pub const LATEST_REVOCATION: &str = "SELECT MAX(revoked_at_ms) FROM revoked_clients";

    pub const DELETE_QUEUE_MESSAGES: &str = "DELETE FROM queue_messages WHERE queue_id = $1";

    pub const DELETE_CLIENT_KEY_PACKAGES: &str =
        "DELETE FROM key_packages WHERE user_id = $1 AND client_id = $2";

    pub const DELETE_CLIENT: &str = "DELETE FROM clients WHERE client_id = $1";
}

/// An `invites` row as both back ends decode it.
pub(crate) type InviteRow = (Vec<u8>, String, i64, i64, Option<i64>, String);

/// The `phone_numbers` column: numbers separated by one space.
pub(crate) fn phone_numbers_column(numbers: &[String]) -> String {
    numbers.join(" ")
}

pub(crate) fn invite(row: InviteRow) -> R<Invite> {
    let (code_hash, user_id, created_at_ms, expires_at_ms, used_at_ms, phone_numbers) = row;
    let code_hash = <[u8; INVITE_HASH_LEN]>::try_from(code_hash.as_slice()).map_err(|_| {
        StorageError::Corrupt(format!(
            "an invite of {user_id:?} has a hash of {} bytes, not {INVITE_HASH_LEN}",
            code_hash.len()
        ))
    })?;
    Ok(Invite {
        code_hash,
        created_at_ms: from_db("a creation time", created_at_ms)?,
        expires_at_ms: from_db("an expiry time", expires_at_ms)?,
        used_at_ms: used_at_ms.map(|t| from_db("a use time", t)).transpose()?,
        user_id,
        phone_numbers: phone_numbers
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

/// A `revoked_clients` row as both back ends decode it.
pub(crate) type RevokedRow = (String, String, Vec<u8>, i64, i64);

pub(crate) fn revoked(row: RevokedRow) -> R<RevokedClient> {
    let (client_id, user_id, serial, reason, revoked_at_ms) = row;
    let reason = u8::try_from(reason).map_err(|_| {
        StorageError::Corrupt(format!(
            "the revocation of {client_id:?} has the reason {reason}"
        ))
    })?;
    Ok(RevokedClient {
        revoked_at_ms: from_db("a revocation time", revoked_at_ms)?,
        client_id,
        user_id,
        serial,
        reason,
    })
}

/// A `pending_enrollments` row as both back ends decode it.
pub(crate) type PendingRow = (String, String, Vec<u8>, bool, i64, i64);

pub(crate) fn pending(row: PendingRow) -> R<PendingEnrollment> {
    let (device_id, user_id, signature_key, first_device, created_at_ms, expires_at_ms) = row;
    Ok(PendingEnrollment {
        device_id,
        user_id,
        signature_key,
        first_device,
        created_at_ms: from_db("a creation time", created_at_ms)?,
        expires_at_ms: from_db("an expiry time", expires_at_ms)?,
    })
}
