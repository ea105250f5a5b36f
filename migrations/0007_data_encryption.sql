-- 0007_data_encryption: biometric data and credentials encrypted at rest (issue 17). See
-- lib/store/SCHEMA.md, "Encryption at rest". Forward only.
--
-- With a data key configured, users.record holds a JSON string "gwenc1:<key id>:<base64>"
-- (AES-256-GCM, the user's uuid authenticated with it) instead of the record, `cards` holds
-- keyed fingerprints of the cards instead of the cards, and `digest` / `digest_no_templates`
-- are keyed fingerprints. `key_id` names the key of all three (NULL: stored in plaintext,
-- security.plaintext_biometrics); `record_mac` is the keyed fingerprint of the plaintext record
-- (a repeated PUT of the same user is recognised without decrypting).
ALTER TABLE users
  ADD COLUMN key_id text,
  ADD COLUMN record_mac text NOT NULL DEFAULT '';
-- Start-up lists the key ids in use; rekey finds the rows not under the newest key.
CREATE INDEX users_key_id ON users (key_id);

-- Deletion is erasure: a tombstone keeps what sync needs (uuid, version, groups), nothing of the
-- person. Tombstones written before this migration lose their record and cards here.
UPDATE users
   SET record = jsonb_build_object('user_uuid', user_uuid), cards = '{}', digest = '',
       digest_no_templates = '', record_version = NULL
 WHERE deleted;
