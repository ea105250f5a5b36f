-- 0010_fleet_rollouts: staged firmware rollouts (issue 20). Forward only.
-- An image is stored once (keyed by its SHA-256) in PostgreSQL, so every cluster node can
-- install it and a backup holds it with the rollouts that name it.
CREATE TABLE firmware_images (
  sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  version     text NOT NULL CHECK (version ~ '^[A-Za-z0-9._+-]{1,64}$'),
  size_bytes  bigint NOT NULL CHECK (size_bytes > 0),
  data        bytea NOT NULL,
  uploaded_by text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One rollout of an image over a set of readers: a canary wave, then batches. The row is what
-- the nodes coordinate on: a wave starts in a transaction that locks it (FOR UPDATE).
CREATE TABLE fleet_rollouts (
  id              bigserial PRIMARY KEY,
  image           text NOT NULL REFERENCES firmware_images (sha256),
  version         text NOT NULL,
  groups          text[] NOT NULL DEFAULT '{}',
  canary          integer NOT NULL CHECK (canary >= 0),
  batch           integer NOT NULL CHECK (batch >= 1),
  health_window_s integer NOT NULL CHECK (health_window_s BETWEEN 1 AND 86400),
  max_failures    integer NOT NULL CHECK (max_failures >= 0),
  -- running: waves go on; paused / aborted: by an operator (installs in flight finish);
  -- halted: failures exceeded max_failures; completed: every reader done or failed.
  state           text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'paused', 'halted', 'aborted', 'completed')),
  wave            integer NOT NULL DEFAULT 0,  -- the newest wave started (0 = canary)
  reason          text,
  created_by      text NOT NULL DEFAULT '',
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX fleet_rollouts_active ON fleet_rollouts (id) WHERE state IN ('running', 'paused');

-- Each reader's step in a rollout. `node` is the instance that claimed the install (the one
-- owning the reader's lease; empty in single-instance mode); `deadline` bounds the step.
CREATE TABLE fleet_rollout_readers (
  rollout_id       bigint NOT NULL REFERENCES fleet_rollouts (id) ON DELETE CASCADE,
  device_id        text NOT NULL,
  position         integer NOT NULL,
  wave             integer NOT NULL,
  step             text NOT NULL DEFAULT 'pending'
                   CHECK (step IN ('pending', 'installing', 'verifying', 'done', 'failed')),
  error            text,
  reported_version text,
  node             text,
  claimed          boolean NOT NULL DEFAULT false,
  deadline         timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX fleet_rollout_readers_active ON fleet_rollout_readers (device_id)
  WHERE step IN ('installing', 'verifying');
