-- 0008_import_review: changes made at a reader that wait for an admin's review (sync.import:
-- review). See lib/store/SCHEMA.md, "User sync". Forward only.

-- One row per change held for review: the reader's record (through store::EncodeImportRecord,
-- never logged), the gateway version it was compared with (NULL: the user was new to the
-- gateway), which parts differ (names only, never values), the reader's time and our receive
-- time. At most one pending row per (reader, user): a newer change at that reader replaces it.
CREATE TABLE sync_imports (
  id            bigserial PRIMARY KEY,
  device_id     text NOT NULL REFERENCES devices (device_id),
  user_uuid     text NOT NULL,
  record        text NOT NULL,
  reader_digest text NOT NULL,
  base_version  bigint,
  changed       text[] NOT NULL DEFAULT '{}',
  source_seq    bigint NOT NULL,
  occurred_at   timestamptz NOT NULL,
  received_at   timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by    text,
  decided_at    timestamptz,
  -- A rejection is carried out by the reader's reconciler (the gateway's record pushed back, or
  -- the user deleted there): set once done.
  restored_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX sync_imports_one_pending ON sync_imports (device_id, user_uuid)
  WHERE status = 'pending';
CREATE INDEX sync_imports_to_restore ON sync_imports (device_id)
  WHERE status = 'rejected' AND restored_at IS NULL;
