-- 0003_user_sync: what user sync (lib/sync) needs beyond the users / user_device_state tables of
-- 0001. See lib/store/SCHEMA.md, "User sync". Forward only.

-- Canonical users: the fingerprints the reconcilers compare a reader's copy with (as a reader
-- stores the record, and the same without templates for readers of another algorithm version),
-- the templates' algorithm version, the reader groups the user is limited to (empty = every
-- reader), every card of the user (for GET /users/by-card) and where the last change came from.
ALTER TABLE users
  ADD COLUMN digest text NOT NULL DEFAULT '',
  ADD COLUMN digest_no_templates text NOT NULL DEFAULT '',
  ADD COLUMN record_version integer,
  ADD COLUMN reader_groups text[] NOT NULL DEFAULT '{}',
  ADD COLUMN cards text[] NOT NULL DEFAULT '{}',
  ADD COLUMN source text NOT NULL DEFAULT 'api' CHECK (length(source) BETWEEN 1 AND 80);
CREATE INDEX users_cards ON users USING gin (cards);

-- Per reader and user: the fingerprint of what was applied (to tell our own pushes from changes
-- made at the reader) and a note for partial pushes (templates of another record_version).
ALTER TABLE user_device_state
  ADD COLUMN applied_digest text,
  ADD COLUMN note text;

-- Per reader: the newest `user_data` event (events.seq) the importer has looked at.
CREATE TABLE sync_import_cursors (
  device_id  text PRIMARY KEY REFERENCES devices (device_id),
  last_seq   bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
