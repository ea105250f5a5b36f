-- Seeds :events events over :devices readers (ids sim-000, sim-001, ...) into a freshly migrated
-- ef45-gateway database, for the API benchmarks. Usage (run.sh does this):
--   psql -v events=1000000 -v devices=100 -f seed.sql
-- Rows look like what the pollers write (lib/poll/convert.cpp): ~80% recognitions merged from
-- the reader log and match-data (sources 3, revision 2, key log:0:<id>), ~15% door changes
-- (sources 4, key door:<micros>), ~5% user_data logs (AddUsers). Reader times run over the 30
-- days before now in seq order. The history is in log epoch 0 and every reader's cursor is set
-- to epoch 1, id 0: the emulated readers start with empty logs, so the live events of the SSE
-- run (keys log:1:<id>) never collide with the history (as after a reader factory reset).
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO devices (device_id, created_at, last_seen_at)
SELECT 'sim-' || lpad(d::text, 3, '0'), now() - interval '31 days', now()
FROM generate_series(0, :devices - 1) AS d;
INSERT INTO device_cursors (device_id, log_epoch, last_log_id)
SELECT device_id, 1, 0 FROM devices;

-- The column default takes seq values through gw_next_event_seq() (the commit-order lock), as
-- any writer must.
INSERT INTO events (device_id, event_key, kind, sources, revision, device_log_id, log_epoch,
                    encounter_id, event_type, info, additional_data, user_uuid, device_time,
                    received_at, stored_at, payload)
SELECT 'sim-' || lpad(x.d::text, 3, '0'),
       CASE WHEN x.kind = 'door' THEN 'door:' || (extract(epoch FROM x.t) * 1e6)::bigint
            ELSE 'log:0:' || x.k END,
       x.kind,
       CASE x.kind WHEN 'recognition' THEN 3 WHEN 'door' THEN 4 ELSE 1 END,
       CASE x.kind WHEN 'recognition' THEN 2 ELSE 1 END,
       CASE WHEN x.kind = 'door' THEN NULL ELSE x.k END,
       0,
       CASE WHEN x.kind = 'recognition' THEN md5('enc' || x.n)::uuid::text END,
       CASE x.kind WHEN 'recognition' THEN 'Recognition'
                   WHEN 'user_data' THEN 'UserData'
                   ELSE CASE WHEN x.n % 2 = 0 THEN 'door_opened' ELSE 'door_closed' END END,
       CASE x.kind
         WHEN 'recognition' THEN
           (ARRAY['Recog', 'Recog', 'In', 'Out', 'Leave', 'Return'])[1 + x.n % 6] || '/' ||
           (ARRAY['BioOnly', 'Bio-Card', 'Bio-Id', 'Bio-Pin', 'CardOnly', 'Card-Bio'])
             [1 + (x.n / 7) % 6] || '/' ||
           CASE WHEN x.n % 10 < 7 THEN 'IrisOk' ELSE 'FaceOk' END
         WHEN 'user_data' THEN 'AddUsers' END,
       CASE x.kind WHEN 'recognition' THEN CASE WHEN x.n % 10 = 3 THEN 'Denied' ELSE 'Allowed' END
                   WHEN 'user_data' THEN 'Success' END,
       CASE WHEN x.kind <> 'door' THEN md5('user' || (x.n::bigint * 7919) % 5000)::uuid::text END,
       CASE WHEN x.kind <> 'door' THEN date_trunc('second', x.t) END,
       x.t,
       x.t + interval '20 ms',
       CASE x.kind
         WHEN 'recognition' THEN jsonb_build_object(
           'match', true,
           'left_eye_usable_iris_area', 55 + x.n % 45, 'left_eye_quality_score', 40 + x.n % 60,
           'left_eye_quality_ok', true,
           'right_eye_usable_iris_area', 50 + x.n % 50, 'right_eye_quality_score', 45 + x.n % 55,
           'right_eye_quality_ok', x.n % 17 <> 0,
           'near_on_face_score', 60 + x.n % 40, 'near_on_face_frontal_score', 70 + x.n % 30)
         WHEN 'door' THEN jsonb_build_object(
           'door_sensor', x.n % 2, 'relay', 0, 'tamper', 0, 'rte', 0,
           'previous', jsonb_build_object('door_sensor', 1 - x.n % 2, 'relay', 0, 'tamper', 0,
                                          'rte', 0))
         ELSE '{}'::jsonb END
FROM (
  SELECT n, (n - 1) % :devices AS d, (n - 1) / :devices + 1 AS k,
         CASE WHEN (n * 37) % 100 < 80 THEN 'recognition'
              WHEN (n * 37) % 100 < 95 THEN 'door' ELSE 'user_data' END AS kind,
         now() - interval '30 days' + (n * (interval '30 days' / :events)) - interval '1 hour' AS t
  FROM generate_series(1, :events) AS n
) AS x
ORDER BY x.n;
COMMIT;
VACUUM ANALYZE events;
VACUUM ANALYZE devices;
VACUUM ANALYZE device_cursors;
