-- 0009_webhooks: push subscriptions (issue 19). Forward only. Each subscription delivers the
-- events after its cursor, in seq order, to one URL, signed with its secret (Standard Webhooks).
-- The cursor moves only after the receiver answered 2xx, in the statement that checks this
-- node's lease: a restart or a take-over resumes from it (at least once, never a skip).
CREATE TABLE webhooks (
  id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  -- Filters: empty array = every kind / every reader.
  kinds           text[] NOT NULL DEFAULT '{}',
  devices         text[] NOT NULL DEFAULT '{}',
  description     text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  batch_max       integer NOT NULL DEFAULT 1 CHECK (batch_max BETWEEN 1 AND 100),
  -- The signing secrets, 'whsec_<base64 of 32 bytes>'. A credential: the API shows it only in
  -- the create and rotate responses; the daemon never logs it. During a rotation the previous
  -- secret also signs until previous_secret_expires_at.
  secret          text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  -- active: delivering (or idle); failing: retrying since failing_since; paused: by an operator;
  -- disabled: 410 Gone or failing longer than webhooks.disable_after (resume with PATCH).
  state           text NOT NULL DEFAULT 'active'
                  CHECK (state IN ('active', 'failing', 'paused', 'disabled')),
  cursor_seq      bigint NOT NULL DEFAULT 0 CHECK (cursor_seq >= 0),
  -- Grows at every change through the API (filters, pause, replay, rotation): a delivery read
  -- before the change cannot commit its cursor after it.
  revision        bigint NOT NULL DEFAULT 1,
  last_error      text,
  last_success_at timestamptz,
  next_attempt_at timestamptz,
  failing_since   timestamptz,
  -- The node delivering this subscription (cluster: like device_leases). A node claims a row
  -- whose lease expired; every cursor update checks owner and epoch.
  owner           text,
  lease_epoch     bigint NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The highest seq retention ever deleted: a subscription whose cursor is below it may have
-- missed events, and gets one `gap` message naming the range instead of a silent skip.
CREATE TABLE events_retention (
  id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
  deleted_through_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO events_retention DEFAULT VALUES;

CREATE FUNCTION gw_events_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE events_retention
     SET deleted_through_seq = greatest(deleted_through_seq, (SELECT coalesce(max(seq), 0) FROM gone));
  RETURN NULL;
END
$$;

CREATE TRIGGER events_deleted AFTER DELETE ON events
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION gw_events_deleted();
