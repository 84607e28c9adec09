-- The provider's stores (mimi-storage 0001). Keep in step with
-- ../sqlite/0001_stores.sql: the same tables, columns and constraints.

-- One row per queue ever created; retired queues stay as tombstones so
-- that their IDs are never reused and late deliveries get a clear error.
-- Enqueues lock the queue's row: that is what keeps sequence numbers
-- gap-free under concurrent writers.
CREATE TABLE queues (
    queue_id BYTEA PRIMARY KEY CHECK (octet_length(queue_id) = 16),
    -- The sequence number the next message gets; 1 for an empty new queue.
    next_seq BIGINT NOT NULL DEFAULT 1 CHECK (next_seq >= 1),
    retired BOOLEAN NOT NULL DEFAULT FALSE
);

-- Messages not yet acknowledged.
CREATE TABLE queue_messages (
    queue_id BYTEA NOT NULL REFERENCES queues (queue_id),
    seq BIGINT NOT NULL CHECK (seq >= 1),
    message BYTEA NOT NULL,
    PRIMARY KEY (queue_id, seq)
);

CREATE TABLE key_packages (
    -- Upload order: a claim hands out the oldest one-time KeyPackage first.
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kp_ref BYTEA NOT NULL,
    key_package BYTEA NOT NULL,
    last_resort BOOLEAN NOT NULL,
    UNIQUE (user_id, client_id, kp_ref)
);
CREATE INDEX key_packages_claim ON key_packages (user_id, client_id, last_resort, id);
-- At most one last-resort KeyPackage per client.
CREATE UNIQUE INDEX key_packages_one_last_resort ON key_packages (user_id, client_id)
    WHERE last_resort;

-- S2S events already accepted (the receiver's replay defence).
CREATE TABLE replay_seen (
    sender_domain TEXT NOT NULL,
    message_id BYTEA NOT NULL CHECK (octet_length(message_id) = 16),
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (sender_domain, message_id)
);
CREATE INDEX replay_seen_expiry ON replay_seen (expires_at_ms);
