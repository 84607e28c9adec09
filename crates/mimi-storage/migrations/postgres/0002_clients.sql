-- The client registry (mimi-storage 0002). Keep in step with
-- ../sqlite/0002_clients.sql: the same tables, columns and constraints.

-- A handle belongs to the first user who registered it; that user's
-- clients may share it, no other user's may.
CREATE TABLE handles (
    handle TEXT PRIMARY KEY,
    user_id TEXT NOT NULL
);

-- One row per registered client, with the queue created for it in the same
-- transaction. The client row is inserted first (the unique client ID is
-- what concurrent registrations of one client meet on), so the foreign keys
-- of its handle and queue, inserted after it, are checked at commit.
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    handle TEXT REFERENCES handles (handle) DEFERRABLE INITIALLY DEFERRED,
    signature_key BYTEA NOT NULL,
    -- PEM, leaf first: what key discovery hands out.
    certificate_chain TEXT NOT NULL,
    queue_id BYTEA NOT NULL UNIQUE
        REFERENCES queues (queue_id) DEFERRABLE INITIALLY DEFERRED,
    registered_at_ms BIGINT NOT NULL CHECK (registered_at_ms >= 0)
);
CREATE INDEX clients_by_user ON clients (user_id);
