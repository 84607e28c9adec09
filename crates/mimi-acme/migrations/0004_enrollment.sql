-- Enrollment at a domain CA (docs/enrollment.md): external account binding
-- keys that say what the account they bind may do.

-- What a key is for:
--   'operator'   issued by the identity authority's operator (--eab): vetted
--                providers, as before this migration;
--   'registrar'  a domain CA's registrar (the provider of its domain): the
--                account it binds may call mimiNewEab and revoke any
--                certificate of this CA, and may not order certificates;
--   'client'     made by mimiNewEab: the account it binds is pre-authorized
--                for exactly `identifiers`.
ALTER TABLE eab_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'operator';
-- 'client' keys: the identifiers (JSON array, canonical) the account may order.
ALTER TABLE eab_keys ADD COLUMN identifiers TEXT;
-- Unix seconds from which an unused key binds nothing; NULL: it never expires.
ALTER TABLE eab_keys ADD COLUMN expires INTEGER;
-- 'client' keys: the registrar account that made the key, and when.
ALTER TABLE eab_keys ADD COLUMN created_by INTEGER REFERENCES accounts(id);
ALTER TABLE eab_keys ADD COLUMN created_at INTEGER;
