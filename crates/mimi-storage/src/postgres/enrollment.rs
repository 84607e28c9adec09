//! [`EnrollmentStore`] on PostgreSQL, at READ COMMITTED like the other
//! stores. The enrollments of one user serialise on a transaction-scoped
//! advisory lock named after the user, so that two first devices of one
//! user enrolling at once (from any process) cannot both pass the check
//! that the user is free; an invite is spent by one conditional update.

use super::PostgresStorage;
use crate::enrollment::{
    INVITE_HASH_LEN, Invite, MAX_INVITES_LISTED, PendingEnrollment, RevokedClient, check_invite,
    check_key_change, check_pending, check_revoked, clamp_now,
};
use crate::shared::enrollment::{
    InviteRow, PendingRow, RevokedRow, invite, pending, phone_numbers_column, revoked, sql,
};
use crate::shared::{ClientRow, client_record, sql as client_sql};
use crate::{ClientRecord, EnrollmentStore, MAX_ID_LEN, R, StorageError, check_len};

/// Waits for the user's other enrollments in progress, until commit.
const LOCK_USER: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended('mimi enrollment ' || $1, 0))";

impl EnrollmentStore for PostgresStorage {
    async fn add_invite(&self, new: &Invite) -> R<()> {
        let [created, expires] = check_invite(new)?;
        let done = sqlx::query(sql::INSERT_INVITE)
            .bind(&new.code_hash[..])
            .bind(&new.user_id)
            .bind(created)
            .bind(expires)
            .bind(phone_numbers_column(&new.phone_numbers))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::InviteExists);
        }
        Ok(())
    }

    async fn invites_of_user(&self, user_id: &str) -> R<Vec<Invite>> {
        check_len("a user ID", user_id.len(), MAX_ID_LEN)?;
        let rows: Vec<InviteRow> = sqlx::query_as(sql::INVITES_OF_USER)
            .bind(user_id)
            .bind(i64::from(MAX_INVITES_LISTED))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(invite).collect()
    }

    async fn begin_enrollment(
        &self,
        new: &PendingEnrollment,
        spent: Option<&[u8; INVITE_HASH_LEN]>,
        now_ms: u64,
    ) -> R<()> {
        let [created, expires] = check_pending(new)?;
        let now = clamp_now(now_ms);
        // Dropping the transaction on an error writes nothing (and frees
        // the lock).
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_USER)
            .bind(&new.user_id)
            .execute(&mut *tx)
            .await?;
        let registered: i64 = sqlx::query_scalar(sql::CLIENT_REGISTERED)
            .bind(&new.device_id)
            .fetch_one(&mut *tx)
            .await?;
        if registered > 0 {
            return Err(StorageError::ClientExists {
                client_id: new.device_id.clone(),
            });
        }
        if new.first_device {
            let clients: i64 = sqlx::query_scalar(sql::USER_HAS_CLIENT)
                .bind(&new.user_id)
                .fetch_one(&mut *tx)
                .await?;
            let others: i64 = sqlx::query_scalar(sql::OTHER_LIVE_FIRST_DEVICE)
                .bind(&new.user_id)
                .bind(&new.device_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            if clients > 0 || others > 0 {
                return Err(StorageError::UserTaken {
                    user_id: new.user_id.clone(),
                });
            }
        }
        if let Some(hash) = spent {
            let used = sqlx::query(sql::USE_INVITE)
                .bind(now)
                .bind(&hash[..])
                .bind(&new.user_id)
                .execute(&mut *tx)
                .await?;
            if used.rows_affected() != 1 {
                return Err(StorageError::InviteUnusable {
                    user_id: new.user_id.clone(),
                });
            }
        }
        sqlx::query(sql::UPSERT_PENDING)
            .bind(&new.device_id)
            .bind(&new.user_id)
            .bind(&new.signature_key)
            .bind(new.first_device)
            .bind(created)
            .bind(expires)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_enrollment(&self, device_id: &str) -> R<Option<PendingEnrollment>> {
        check_len("a device ID", device_id.len(), MAX_ID_LEN)?;
        let row: Option<PendingRow> = sqlx::query_as(sql::PENDING)
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(pending).transpose()
    }

    async fn pending_first_device(
        &self,
        user_id: &str,
        now_ms: u64,
    ) -> R<Option<PendingEnrollment>> {
        check_len("a user ID", user_id.len(), MAX_ID_LEN)?;
        let row: Option<PendingRow> = sqlx::query_as(sql::PENDING_FIRST_DEVICE)
            .bind(user_id)
            .bind(clamp_now(now_ms))
            .fetch_optional(&self.pool)
            .await?;
        row.map(pending).transpose()
    }

    async fn finish_enrollment(&self, device_id: &str) -> R<bool> {
        check_len("a device ID", device_id.len(), MAX_ID_LEN)?;
        let done = sqlx::query(sql::DELETE_PENDING)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_client_key(
        &self,
        client_id: &str,
        old_key: &[u8],
        new_key: &[u8],
        certificate_chain: &str,
    ) -> R<ClientRecord> {
        check_key_change(client_id, old_key, new_key, certificate_chain)?;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(sql::REPLACE_CLIENT_KEY)
            .bind(new_key)
            .bind(certificate_chain)
            .bind(client_id)
            .bind(old_key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let row: Option<ClientRow> = sqlx::query_as(client_sql::CLIENT)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StorageError::UnknownClient {
                client_id: client_id.to_owned(),
            });
        };
        if updated != 1 {
            return Err(StorageError::ClientKeyChanged {
                client_id: client_id.to_owned(),
            });
        }
        tx.commit().await?;
        client_record(row)
    }

    async fn purge_expired_enrollments(&self, now_ms: u64) -> R<u64> {
        let now = clamp_now(now_ms);
        let mut tx = self.pool.begin().await?;
        let invites = sqlx::query(sql::PURGE_INVITES)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let pending = sqlx::query(sql::PURGE_PENDING)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(invites + pending)
    }

    async fn revoke_client(&self, new: &RevokedClient) -> R<Option<ClientRecord>> {
        let revoked_at = check_revoked(new)?;
        // Dropping the transaction on an error writes nothing.
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(sql::INSERT_REVOKED)
            .bind(&new.client_id)
            .bind(&new.user_id)
            .bind(&new.serial)
            .bind(i64::from(new.reason))
            .bind(revoked_at)
            .execute(&mut *tx)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(StorageError::ClientRevoked {
                client_id: new.client_id.clone(),
            });
        }
        let row: Option<ClientRow> = sqlx::query_as(client_sql::CLIENT)
            .bind(&new.client_id)
            .fetch_optional(&mut *tx)
            .await?;
        let record = row.map(client_record).transpose()?;
        if let Some(record) = &record {
            sqlx::query(client_sql::RETIRE)
                .bind(&record.queue_id[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_QUEUE_MESSAGES)
                .bind(&record.queue_id[..])
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_CLIENT_KEY_PACKAGES)
                .bind(&record.user_id)
                .bind(&record.client_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(sql::DELETE_CLIENT)
                .bind(&record.client_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(sql::DELETE_PENDING)
            .bind(&new.client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn client_revocation(&self, client_id: &str) -> R<Option<RevokedClient>> {
        check_len("a client ID", client_id.len(), MAX_ID_LEN)?;
        let row: Option<RevokedRow> = sqlx::query_as(sql::REVOKED)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(revoked).transpose()
    }

    async fn latest_revocation_ms(&self) -> R<Option<u64>> {
        let latest: Option<i64> = sqlx::query_scalar(sql::LATEST_REVOCATION)
            .fetch_one(&self.pool)
            .await?;
        latest
            .map(|t| crate::from_db("a revocation time", t))
            .transpose()
    }
}
