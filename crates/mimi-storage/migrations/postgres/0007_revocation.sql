-- Revocation by the registrar and phone numbers in invites (mimi-storage
-- 0007, docs/enrollment.md "Revoking a device" and "Phone numbers"). Keep in
-- step with ../sqlite/0007_revocation.sql: the same tables, columns and
-- constraints.

-- The E.164 numbers (`+` and digits, separated by one space; empty for
-- none) an invite pre-authorizes besides the user and the device: the
-- first device enrolled with it asks the domain CA for their TNAuthList
-- identifiers too.
ALTER TABLE invites ADD COLUMN phone_numbers TEXT NOT NULL DEFAULT '';

-- Devices the provider revoked at its domain CA. A row is kept for good:
-- the device URI never authenticates, registers or enrolls again (its ACME
-- account at the domain CA stays pre-authorized for it, so a new
-- certificate must not bring it back). The client row, its KeyPackages and
-- its queue's messages are deleted in the transaction that writes this
-- row, and the queue is retired.
CREATE TABLE revoked_clients (
    client_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    -- The serial of the certificate revoked at the domain CA (DER content
    -- bytes, as in the certificate).
    serial BYTEA NOT NULL CHECK (octet_length(serial) BETWEEN 1 AND 20),
    -- RFC 5280 §5.3.1 CRLReason.
    reason BIGINT NOT NULL CHECK (reason BETWEEN 0 AND 10),
    revoked_at_ms BIGINT NOT NULL CHECK (revoked_at_ms >= 0)
);
CREATE INDEX revoked_clients_by_time ON revoked_clients (revoked_at_ms);
