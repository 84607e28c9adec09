-- OpenMLS's storage as key/value rows: the key is the storage version, an
-- entity label and the serialized OpenMLS key; the value is the entity's
-- serde_json encoding (see src/store.rs).
CREATE TABLE mls_kv (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
