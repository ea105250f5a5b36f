-- 0006_audit: operator actions through the API are events of kind 'audit' (issue 15). They live
-- in the same table as reader events, so they share the seq order, /events, the stream and
-- retention. Forward only. (0005 is taken by another change.)
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
  CHECK (kind IN ('recognition', 'user_data', 'log', 'door', 'device', 'gap', 'audit'));
