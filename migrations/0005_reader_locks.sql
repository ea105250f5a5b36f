-- 0005_reader_locks: the reader session lock (API.md 1.2) each reader granted this gateway.
-- Forward only. A lock lasts until it is replaced, deleted or the reader restarts; it does not
-- die with the process that took it. Recording the lock_uid before using it lets a gateway that
-- restarts after a crash (or a cluster node that takes a reader over) try its own lock first,
-- instead of meeting it as "another client holds the lock" (DESIGN.md invariant 8).
CREATE TABLE reader_locks (
  device_id   text PRIMARY KEY REFERENCES devices (device_id),
  lock_uid    text NOT NULL CHECK (length(lock_uid) BETWEEN 1 AND 128),
  -- The address that granted it: a recorded lock is only tried on the same reader.
  host        text NOT NULL,
  port        integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  acquired_at timestamptz NOT NULL DEFAULT now()
);
