-- The hub's stores (mimi-storage 0004). Keep in step with
-- ../postgres/0004_hub.sql: the same tables, columns and constraints.

-- One row per group the hub owns: small and updated by every operation
-- (under SQLite's write lock; on PostgreSQL its row lock serialises the
-- group's operations). The state blob lives in hub_group_states, so that a
-- message, which leaves the state alone, rewrites no blob.
CREATE TABLE hub_groups (
    group_id BLOB PRIMARY KEY CHECK (length(group_id) BETWEEN 1 AND 255),
    epoch INTEGER NOT NULL CHECK (epoch >= 0),
    -- 1 when created, one more per state change.
    state_version INTEGER NOT NULL CHECK (state_version >= 1),
    -- The last sequence number assigned; the creation is 1.
    last_seq INTEGER NOT NULL CHECK (last_seq >= 1),
    created_at_ms INTEGER NOT NULL CHECK (created_at_ms >= 0)
) STRICT;

CREATE TABLE hub_group_states (
    group_id BLOB PRIMARY KEY REFERENCES hub_groups (group_id),
    state BLOB NOT NULL,
    group_info BLOB NOT NULL
) STRICT;

-- Requests accepted, per group: the replay key. Recorded before the group
-- row exists in create_group, hence the deferred foreign key.
CREATE TABLE hub_requests (
    group_id BLOB NOT NULL REFERENCES hub_groups (group_id) DEFERRABLE INITIALLY DEFERRED,
    request_id BLOB NOT NULL CHECK (length(request_id) = 16),
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, request_id)
) STRICT;
CREATE INDEX hub_requests_expiry ON hub_requests (expires_at_ms);

-- Each epoch's ratchet tree for the clients a commit added, and who they are.
CREATE TABLE hub_joiner_trees (
    group_id BLOB NOT NULL REFERENCES hub_groups (group_id),
    epoch INTEGER NOT NULL CHECK (epoch >= 0),
    ratchet_tree BLOB NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, epoch)
) STRICT;
CREATE INDEX hub_joiner_trees_expiry ON hub_joiner_trees (expires_at_ms);

CREATE TABLE hub_joiners (
    group_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    signature_key BLOB NOT NULL,
    provider_domain TEXT NOT NULL,
    PRIMARY KEY (group_id, epoch, signature_key, provider_domain),
    FOREIGN KEY (group_id, epoch) REFERENCES hub_joiner_trees (group_id, epoch)
) STRICT;

-- Messages with deliveries pending, each stored once; deleted with their
-- last outbox entry.
CREATE TABLE hub_messages (
    group_id BLOB NOT NULL REFERENCES hub_groups (group_id),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    timestamp_ms INTEGER NOT NULL CHECK (timestamp_ms >= 0),
    message BLOB NOT NULL,
    PRIMARY KEY (group_id, seq)
) STRICT;

-- One row per pending delivery of a message to a destination provider,
-- handed out per destination in outbox_id order (never reused).
CREATE TABLE hub_outbox (
    outbox_id INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL,
    group_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    recipients BLOB NOT NULL,
    -- Random, fixed when appended: the receiver's de-duplication key.
    event_id BLOB NOT NULL CHECK (length(event_id) = 16),
    FOREIGN KEY (group_id, seq) REFERENCES hub_messages (group_id, seq)
) STRICT;
CREATE INDEX hub_outbox_by_destination ON hub_outbox (destination, outbox_id);
CREATE INDEX hub_outbox_by_message ON hub_outbox (group_id, seq);

-- Destinations whose last attempt failed (a success deletes the row).
CREATE TABLE hub_outbox_backoff (
    destination TEXT PRIMARY KEY,
    failures INTEGER NOT NULL CHECK (failures >= 1),
    next_attempt_at_ms INTEGER NOT NULL,
    -- For operators.
    last_error TEXT NOT NULL
) STRICT;
