-- KeyPackages by cipher suite (mimi-storage 0003). Keep in step with
-- ../postgres/0003_key_package_suites.sql.
--
-- A claim now names the room's MLS cipher suite and gets only KeyPackages
-- of it. KeyPackages stored before this migration have no recorded suite,
-- so they are dropped rather than guessed: a client sees its count at 0
-- and uploads new ones (KeyPackages are replenished by design).
DROP TABLE key_packages;

CREATE TABLE key_packages (
    -- Upload order: a claim hands out the oldest one-time KeyPackage first.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- RFC 9420 §17.1, the KeyPackage's cipher_suite.
    cipher_suite INTEGER NOT NULL CHECK (cipher_suite BETWEEN 0 AND 65535),
    kp_ref BLOB NOT NULL,
    key_package BLOB NOT NULL,
    last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
    UNIQUE (user_id, client_id, kp_ref)
) STRICT;
CREATE INDEX key_packages_claim
    ON key_packages (user_id, cipher_suite, client_id, last_resort, id);
-- At most one last-resort KeyPackage per client and suite.
CREATE UNIQUE INDEX key_packages_one_last_resort
    ON key_packages (user_id, client_id, cipher_suite) WHERE last_resort = 1;
