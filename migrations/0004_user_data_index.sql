-- The user-sync importer reads each reader's user_data events after its cursor
-- (lib/store/users.cpp UserDataEventsBlocking). With only events_device_seq that scans every
-- event of the reader after the cursor (73 ms per reader on a 1M-event history, repeated for
-- every reader at every import pass: ~0.8 PostgreSQL cores in bench/api); this partial index
-- holds the few user_data rows only.
CREATE INDEX events_user_data_device_seq ON events (device_id, seq) WHERE kind = 'user_data';
