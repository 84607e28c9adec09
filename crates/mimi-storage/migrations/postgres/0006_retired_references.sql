-- Retired queue references (mimi-storage 0006; docs/wire-spec.md §11.5).
-- Keep in step with ../sqlite/0006_retired_references.sql: the same
-- table, columns and constraints.

-- A client's queue reference it asked its provider to refuse deliveries
-- for: SHA-256 over the TLS encoding of the reference's HPKECiphertext,
-- and the queue it opens to. Rows are never deleted: a leaf node carrying
-- the reference may stay in a room for ever.
CREATE TABLE retired_references (
    digest BYTEA PRIMARY KEY CHECK (octet_length(digest) = 32),
    queue_id BYTEA NOT NULL REFERENCES queues (queue_id)
);
