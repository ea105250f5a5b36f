-- 0001_initial: the first ef45-gateway schema. See lib/store/SCHEMA.md for the reasoning.
-- Forward only: never edit this file once released; add 0002_*.sql instead (the runner refuses a
-- database whose recorded checksum of an applied file differs from the file it ships).

-- Readers the gateway knows. Rows are created by the event writer on first contact (and later by
-- the daemon from its config); nothing is ever deleted automatically so history keeps its device.
CREATE TABLE devices (
  device_id   text PRIMARY KEY CHECK (length(device_id) BETWEEN 1 AND 64),
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz
);

-- The log cursor per reader: the newest reader log id stored, within a log epoch. The epoch grows
-- when the reader's log ids restart (factory reset, log wipe), so (epoch, id) only moves forward.
CREATE TABLE device_cursors (
  device_id   text PRIMARY KEY REFERENCES devices (device_id),
  log_epoch   bigint NOT NULL DEFAULT 0 CHECK (log_epoch >= 0),
  last_log_id bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Gateway-wide event order. Values are only ever taken through gw_next_event_seq(), which holds
-- a transaction-level advisory lock until commit: commit order = seq order (SCHEMA.md, "seq").
CREATE SEQUENCE events_seq AS bigint;

CREATE FUNCTION gw_next_event_seq() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- 0x45F45E0 = "ef45 seq"; re-entrant within a transaction, released at commit/rollback.
  PERFORM pg_advisory_xact_lock(73352672);
  RETURN nextval('events_seq');
END
$$;

CREATE TABLE events (
  seq             bigint PRIMARY KEY DEFAULT gw_next_event_seq(),
  device_id       text NOT NULL CHECK (length(device_id) BETWEEN 1 AND 64),
  -- Natural key within the device: 'log:<epoch>:<log id>' for anything that is (or will be) a
  -- reader log entry, 'enc:<encounter id>' for match-data without a log id, '<kind>:<key>' for
  -- door/device/gap events whose key the poller generates.
  event_key       text NOT NULL,
  kind            text NOT NULL
                  CHECK (kind IN ('recognition', 'user_data', 'log', 'door', 'device', 'gap')),
  -- Which sources have contributed to the row: 1 = reader log, 2 = match-data, 4 = poller.
  sources         smallint NOT NULL CHECK (sources > 0),
  revision        integer NOT NULL DEFAULT 1,
  device_log_id   bigint,
  log_epoch       bigint NOT NULL DEFAULT 0,
  encounter_id    text,
  event_type      text,
  info            text,
  additional_data text,
  user_uuid       text,
  device_time     timestamptz,
  received_at     timestamptz NOT NULL DEFAULT now(),
  stored_at       timestamptz NOT NULL DEFAULT now(),
  occurred_at     timestamptz GENERATED ALWAYS AS (coalesce(device_time, received_at)) STORED,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(payload) = 'object'),
  CONSTRAINT events_natural_key UNIQUE (device_id, event_key)
);

CREATE INDEX events_device_seq ON events (device_id, seq);
CREATE INDEX events_user_seq ON events (user_uuid, seq) WHERE user_uuid IS NOT NULL;
CREATE INDEX events_occurred_at ON events (occurred_at);
CREATE INDEX events_received_at ON events (received_at);

-- The last door status seen per reader (GET /config/door-status), raw fields kept as ints.
CREATE TABLE door_state (
  device_id   text PRIMARY KEY REFERENCES devices (device_id),
  door_sensor integer,
  relay       integer,
  tamper      integer,
  rte         integer,
  observed_at timestamptz NOT NULL,
  changed_at  timestamptz NOT NULL
);

-- Canonical users (filled by issue "user sync"): the whole record as the API took it, a version
-- that grows with every change, and a tombstone instead of a delete so readers converge.
CREATE TABLE users (
  user_uuid  text PRIMARY KEY CHECK (length(user_uuid) BETWEEN 1 AND 128),
  version    bigint NOT NULL DEFAULT 1 CHECK (version > 0),
  record     jsonb NOT NULL DEFAULT '{}'::jsonb,
  deleted    boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_updated_at ON users (updated_at);

-- Per reader and user: which version the reader has, and how the last attempt went.
CREATE TABLE user_device_state (
  user_uuid       text NOT NULL REFERENCES users (user_uuid),
  device_id       text NOT NULL REFERENCES devices (device_id),
  applied_version bigint,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'applied', 'failed')),
  last_error      text,
  attempts        integer NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_uuid, device_id)
);
CREATE INDEX user_device_state_device ON user_device_state (device_id, status);

-- Which gateway instance polls a reader (DESIGN.md section 9). epoch grows at every take-over so
-- a stale owner's writes can be fenced.
CREATE TABLE device_leases (
  device_id  text PRIMARY KEY REFERENCES devices (device_id),
  owner      text NOT NULL,
  epoch      bigint NOT NULL DEFAULT 1,
  expires_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
