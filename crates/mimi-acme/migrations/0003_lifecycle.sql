-- Account updates, key rollover, revocation, CRLs and ARI (RFC 8555 §7.3.2-7.3.6,
-- §7.6; RFC 9773).

-- The externalAccountBinding JWS exactly as the client sent it (JSON text), which
-- the account object must carry from then on (RFC 8555 §7.1.2, §7.3.4). NULL for
-- accounts created without one.
ALTER TABLE accounts ADD COLUMN eab_binding TEXT;

-- Which root signed the certificate, and so whose CRL lists it once revoked:
-- 'identity-root' (domain-ca, phone-ca) or 'tls-root' (tls-server).
ALTER TABLE certificates ADD COLUMN issuer TEXT NOT NULL DEFAULT 'identity-root';
UPDATE certificates SET issuer = 'tls-root'
 WHERE order_id IN (SELECT id FROM orders WHERE profile = 'tls-server');
-- revoked_at and revocation_reason exist since 0001; a CRL lists what is revoked
-- and not yet expired, per issuer.
CREATE INDEX certificates_revoked ON certificates(issuer, revoked_at)
 WHERE revoked_at IS NOT NULL;

-- ARI (RFC 9773 §5): the certificate an order replaces, as the client named it
-- (the certID, which the order object echoes) and as a row.
ALTER TABLE orders ADD COLUMN replaces TEXT;
ALTER TABLE orders ADD COLUMN replaces_cert_id INTEGER REFERENCES certificates(id);
CREATE INDEX orders_by_replaced ON orders(replaces_cert_id)
 WHERE replaces_cert_id IS NOT NULL;

-- The last CRL number each root used (RFC 5280 §5.2.3: monotonically increasing),
-- kept here so that a restart never reuses one.
CREATE TABLE crl_numbers (
    issuer  TEXT    PRIMARY KEY,
    number  INTEGER NOT NULL
);
