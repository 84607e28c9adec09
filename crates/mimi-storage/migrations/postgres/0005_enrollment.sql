-- Enrollment at the provider (mimi-storage 0005, docs/enrollment.md "The
-- provider side"). Keep in step with ../sqlite/0005_enrollment.sql: the
-- same tables, columns and constraints.

-- One-time invites an operator created for a user's first device. Only the
-- SHA-256 of the code is stored, so a copy of the database gives no code.
CREATE TABLE invites (
    code_hash BYTEA PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    user_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL CHECK (created_at_ms >= 0),
    expires_at_ms BIGINT NOT NULL CHECK (expires_at_ms >= 0),
    -- Set once, by the enrollment that spent the invite.
    used_at_ms BIGINT CHECK (used_at_ms >= 0)
);
CREATE INDEX invites_by_user ON invites (user_id);

-- A device the provider asked its domain CA to pre-authorize, until it
-- registers with the certificate it got (or the enrollment expires): the
-- key it must be certified for, and whether it is its user's first device.
CREATE TABLE pending_enrollments (
    device_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    signature_key BYTEA NOT NULL,
    first_device BOOLEAN NOT NULL,
    created_at_ms BIGINT NOT NULL CHECK (created_at_ms >= 0),
    expires_at_ms BIGINT NOT NULL CHECK (expires_at_ms >= 0)
);
CREATE INDEX pending_enrollments_by_user ON pending_enrollments (user_id);
