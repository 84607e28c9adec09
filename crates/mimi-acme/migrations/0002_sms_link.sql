-- sms-link-00 (draft-peterson-mimi-idprover §4, docs/sms-link-00.md): what the
-- server must remember between sending a code and the client's answer. None
-- of these columns is ever part of a response.
--   code_digest   SHA-256(code || token || "." || account key thumbprint): the
--                 keyAuthorization the client must send, decoded; NULL when no
--                 code is outstanding (before the first send, after the
--                 challenge is decided, after a failed send).
--   code_expires  Unix seconds after which the code no longer counts.
--   attempts      wrong answers so far (across resends after gateway failures).
ALTER TABLE challenges ADD COLUMN code_digest BLOB;
ALTER TABLE challenges ADD COLUMN code_expires INTEGER;
ALTER TABLE challenges ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
