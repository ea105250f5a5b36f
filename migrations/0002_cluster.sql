-- 0002_cluster: several ef45-gatewayd instances sharing one fleet (DESIGN.md section 9, issue 10).
-- Forward only. See lib/cluster/lease_manager.hpp for how the rows are used.

-- One row per gateway instance (cluster.node_id), renewed by its heartbeat. A node is live while
-- expires_at > now() on the database clock: the fair share of readers is
-- ceil(configured readers / live nodes). advertise_url is where reader operations are redirected.
CREATE TABLE cluster_nodes (
  node_id       text PRIMARY KEY CHECK (length(node_id) BETWEEN 1 AND 64),
  advertise_url text NOT NULL DEFAULT '',
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);

-- device_leases (0001) rows are never deleted, so a reader's epoch only grows: every claim
-- (first claim, take-over after expiry, claim after a graceful release) sets epoch = epoch + 1,
-- and each write of the event writer checks (owner, epoch, expires_at > now()) in its own
-- transaction. owner = '' means released (or never claimed): claimable at once.
ALTER TABLE device_leases ADD COLUMN claimed_at timestamptz;
CREATE INDEX device_leases_owner ON device_leases (owner);
