-- ACME server state (RFC 8555 objects). Times are Unix seconds.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    key_thumbprint  TEXT    NOT NULL UNIQUE,
    jwk             TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    contact         TEXT    NOT NULL,
    eab_kid         TEXT,
    created_at      INTEGER NOT NULL
);

-- External account binding keys (RFC 8555 §7.3.4), each usable once.
CREATE TABLE eab_keys (
    kid         TEXT PRIMARY KEY,
    hmac_key    BLOB    NOT NULL,
    account_id  INTEGER REFERENCES accounts(id)
);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      INTEGER NOT NULL REFERENCES accounts(id),
    status          TEXT    NOT NULL,
    identifiers     TEXT    NOT NULL,
    profile         TEXT    NOT NULL,
    expires         INTEGER NOT NULL,
    error           TEXT,
    certificate_id  INTEGER
);
CREATE INDEX orders_by_account ON orders(account_id);

CREATE TABLE authorizations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id          INTEGER NOT NULL REFERENCES orders(id),
    account_id        INTEGER NOT NULL REFERENCES accounts(id),
    identifier_type   TEXT    NOT NULL,
    identifier_value  TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    expires           INTEGER NOT NULL
);
CREATE INDEX authorizations_by_order ON authorizations(order_id);

CREATE TABLE challenges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    authz_id    INTEGER NOT NULL REFERENCES authorizations(id),
    type        TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    validated   INTEGER,
    error       TEXT
);
CREATE INDEX challenges_by_authz ON challenges(authz_id);

CREATE TABLE certificates (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id           INTEGER NOT NULL REFERENCES orders(id),
    account_id         INTEGER NOT NULL REFERENCES accounts(id),
    serial             TEXT    NOT NULL UNIQUE,
    chain_pem          TEXT    NOT NULL,
    not_after          INTEGER NOT NULL,
    issued_at          INTEGER NOT NULL,
    revoked_at         INTEGER,
    revocation_reason  INTEGER
);
