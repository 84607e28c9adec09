-- The provider's stores (mimi-storage 0001). Keep in step with
-- ../postgres/0001_stores.sql: the same tables, columns and constraints.

-- One row per queue ever created; retired queues stay as tombstones so
-- that their IDs are never reused and late deliveries get a clear error.
CREATE TABLE queues (
    queue_id BLOB PRIMARY KEY CHECK (length(queue_id) = 16),
    -- The sequence number the next message gets; 1 for an empty new queue.
    next_seq INTEGER NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1))
) STRICT;

-- Messages not yet acknowledged.
CREATE TABLE queue_messages (
    queue_id BLOB NOT NULL REFERENCES queues (queue_id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    message BLOB NOT NULL,
    PRIMARY KEY (queue_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE key_packages (
    -- Upload order: a claim hands out the oldest one-time KeyPackage first.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kp_ref BLOB NOT NULL,
    key_package BLOB NOT NULL,
    last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
    UNIQUE (user_id, client_id, kp_ref)
) STRICT;
CREATE INDEX key_packages_claim ON key_packages (user_id, client_id, last_resort, id);
-- At most one last-resort KeyPackage per client.
CREATE UNIQUE INDEX key_packages_one_last_resort ON key_packages (user_id, client_id)
    WHERE last_resort = 1;

-- S2S events already accepted (the receiver's replay defence).
CREATE TABLE replay_seen (
    sender_domain TEXT NOT NULL,
    message_id BLOB NOT NULL CHECK (length(message_id) = 16),
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (sender_domain, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX replay_seen_expiry ON replay_seen (expires_at_ms);
