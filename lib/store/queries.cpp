#include "store/queries.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "store/event_rows.hpp"
#include "store/event_writer.hpp"
#include "store/pg.hpp"

namespace gw::store {
namespace {

const char* OrNull(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

using detail::Opt;
using detail::OptTime;

}  // namespace

namespace detail {

const std::string& EventRowColumns() {
  static const std::string kColumns =
      "seq, device_id, event_key, kind, sources, revision, device_log_id, log_epoch, "
      "encounter_id, event_type, info, additional_data, user_uuid, " +
      MicrosOf("device_time") + ", " + MicrosOf("received_at") + ", " + MicrosOf("stored_at") +
      ", payload::text";
  return kColumns;
}

EventRow ReadEventRow(const pqxx::row& r) {
  EventRow e;
  e.seq = r[0].as<std::int64_t>();
  e.device_id = r[1].as<std::string>();
  e.event_key = r[2].as<std::string>();
  e.kind = ParseKind(r[3].as<std::string>()).value_or(EventKind::kLog);
  e.sources = r[4].as<int>();
  e.revision = r[5].as<int>();
  e.device_log_id = Opt<std::int64_t>(r[6]);
  e.log_epoch = r[7].as<std::int64_t>();
  e.encounter_id = Opt<std::string>(r[8]);
  e.event_type = Opt<std::string>(r[9]);
  e.info = Opt<std::string>(r[10]);
  e.additional_data = Opt<std::string>(r[11]);
  e.user_uuid = Opt<std::string>(r[12]);
  e.device_time = OptTime(r[13]);
  e.received_at = FromMicros(r[14].as<std::int64_t>());
  e.stored_at = FromMicros(r[15].as<std::int64_t>());
  e.payload = r[16].as<std::string>();
  return e;
}

}  // namespace detail

Result<EventPage> ListEventsBlocking(Database& db, const EventQuery& q) {
  static const std::string kSql =
      "SELECT " + detail::EventRowColumns() +
      " FROM events WHERE seq > $1 "
      "AND ($2::text IS NULL OR device_id = $2) AND ($3::text IS NULL OR kind = $3) "
      "AND ($4::text IS NULL OR user_uuid = $4) "
      "AND ($5::text IS NULL OR occurred_at >= $5::timestamptz) "
      "AND ($6::text IS NULL OR occurred_at < $6::timestamptz) "
      "ORDER BY seq LIMIT $7";
  int limit = std::clamp(q.limit, 1, kMaxEventPage);
  std::optional<std::string> kind, since, until;
  if (q.kind) kind = std::string(KindName(*q.kind));
  if (q.since) since = detail::FormatTime(*q.since);
  if (q.until) until = detail::FormatTime(*q.until);
  return detail::WithConnectionBlocking<EventPage>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto result = tx.exec_params(kSql, q.after, OrNull(q.device_id), OrNull(kind),
                                 OrNull(q.user_uuid), OrNull(since), OrNull(until), limit);
    EventPage page;
    page.next = q.after;
    page.events.reserve(result.size());
    for (const auto& r : result) {
      EventRow e = detail::ReadEventRow(r);
      page.next = e.seq;
      page.events.push_back(std::move(e));
    }
    return page;
  });
}

Result<std::vector<EventHead>> EventHeadsBlocking(Database& db, std::int64_t after, int limit) {
  return detail::WithConnectionBlocking<std::vector<EventHead>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        auto result =
            tx.exec_params("SELECT seq, device_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                           after, std::clamp(limit, 1, kMaxEventPage));
        std::vector<EventHead> heads;
        heads.reserve(result.size());
        for (const auto& r : result) {
          heads.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>()});
        }
        return heads;
      });
}

boost::asio::awaitable<Result<std::vector<EventHead>>> EventHeads(Database& db, std::int64_t after,
                                                                  int limit) {
  Database* d = &db;
  co_return co_await RunBlocking(
      db.BlockingPool(), [d, after, limit] { return EventHeadsBlocking(*d, after, limit); });
}

Result<std::int64_t> MaxSeqBlocking(Database& db) {
  return detail::WithConnectionBlocking<std::int64_t>(db.Connections(), [](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    return tx.exec1("SELECT coalesce(max(seq), 0) FROM events")[0].as<std::int64_t>();
  });
}

boost::asio::awaitable<Result<std::int64_t>> MaxSeq(Database& db) {
  Database* d = &db;
  co_return co_await RunBlocking(db.BlockingPool(), [d] { return MaxSeqBlocking(*d); });
}

bool Matches(const EventQuery& q, const EventRow& e) {
  if (q.device_id && e.device_id != *q.device_id) return false;
  if (q.kind && e.kind != *q.kind) return false;
  if (q.user_uuid && e.user_uuid != q.user_uuid) return false;
  const TimePoint occurred = e.device_time.value_or(e.received_at);  // events.occurred_at
  if (q.since && occurred < *q.since) return false;
  if (q.until && !(occurred < *q.until)) return false;
  return true;
}

boost::asio::awaitable<Result<EventPage>> ListEvents(Database& db, EventQuery query) {
  Database* d = &db;
  auto fn = [d, q = std::move(query)] { return ListEventsBlocking(*d, q); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::optional<Cursor>> ReadCursorBlocking(Database& db, const std::string& device_id) {
  return detail::WithConnectionBlocking<std::optional<Cursor>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<Cursor> {
        pqxx::read_transaction tx(c);
        auto r = tx.exec_params(
            "SELECT last_log_id, log_epoch FROM device_cursors WHERE device_id = $1", device_id);
        if (r.empty()) return std::nullopt;
        return Cursor{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>()};
      });
}

boost::asio::awaitable<Result<std::optional<Cursor>>> ReadCursor(Database& db,
                                                                 std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return ReadCursorBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

namespace {

// One reader per row; `where` selects them ($1).
const std::string& DeviceStateSql(bool by_list) {
  auto sql = [](const char* where) {
    return "SELECT d.device_id, c.last_log_id, c.log_epoch, " + detail::MicrosOf("c.updated_at") +
           ", s.door_sensor, s.relay, s.tamper, s.rte, " + detail::MicrosOf("s.observed_at") +
           ", " + detail::MicrosOf("s.changed_at") +
           ", (SELECT max(seq) FROM events e WHERE e.device_id = d.device_id) "
           "FROM devices d LEFT JOIN device_cursors c USING (device_id) "
           "LEFT JOIN door_state s USING (device_id) WHERE " +
           std::string(where) + " ORDER BY d.device_id";
  };
  static const std::string kOne = sql("$1::text IS NULL OR d.device_id = $1");
  static const std::string kList = sql("d.device_id = ANY($1::text[])");
  return by_list ? kList : kOne;
}

// `param` is $1 (nullptr: NULL).
Result<std::vector<DeviceState>> ReadDeviceStates(Database& db, const std::string& sql,
                                                  const char* param) {
  return detail::WithConnectionBlocking<std::vector<DeviceState>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<DeviceState> out;
        for (const auto& r : tx.exec_params(sql, param)) {
          DeviceState s;
          s.device_id = r[0].as<std::string>();
          if (!r[1].is_null()) {
            s.cursor = Cursor{r[1].as<std::int64_t>(), r[2].as<std::int64_t>()};
            s.cursor_updated_at = OptTime(r[3]);
          }
          if (!r[4].is_null()) {
            DoorState door;
            door.door_sensor = r[4].as<int>();
            door.relay = r[5].as<int>();
            door.tamper = r[6].as<int>();
            door.rte = r[7].as<int>();
            door.observed_at = detail::FromMicros(r[8].as<std::int64_t>());
            s.door = door;
            s.door_changed_at = OptTime(r[9]);
          }
          s.last_seq = Opt<std::int64_t>(r[10]);
          out.push_back(std::move(s));
        }
        return out;
      });
}

}  // namespace

Result<std::vector<DeviceState>> DeviceStatesBlocking(Database& db,
                                                      const std::optional<std::string>& device_id) {
  return ReadDeviceStates(db, DeviceStateSql(false), OrNull(device_id));
}

Result<std::vector<DeviceState>> DeviceStatesOfBlocking(Database& db,
                                                        const std::vector<std::string>& ids) {
  if (ids.empty()) return std::vector<DeviceState>{};
  detail::ArrayLiteral list;
  for (const auto& id : ids) list.Add(id);
  const std::string ids_literal = list.Finish();
  return ReadDeviceStates(db, DeviceStateSql(true), ids_literal.c_str());
}

boost::asio::awaitable<Result<std::vector<DeviceState>>> DeviceStatesOf(
    Database& db, std::vector<std::string> ids) {
  Database* d = &db;
  auto fn = [d, list = std::move(ids)] { return DeviceStatesOfBlocking(*d, list); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<DeviceState>>> DeviceStates(
    Database& db, std::optional<std::string> device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return DeviceStatesBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<void> UpsertDoorStateBlocking(Database& db, const std::string& device_id,
                                     const DoorState& state) {
  DeviceBatch batch;
  batch.device_id = device_id;
  batch.door_state = state;
  std::vector<const DeviceBatch*> one{&batch};
  auto r = WriteBatchesBlocking(db, one);
  if (!r) return r.error();
  return {};
}

boost::asio::awaitable<Result<void>> UpsertDoorState(Database& db, std::string device_id,
                                                     DoorState state) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), state] {
    return UpsertDoorStateBlocking(*d, id, state);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::int64_t> InsertAuditBlocking(Database& db, const AuditEvent& e) {
  static const std::string kSql =
      "INSERT INTO events (device_id, event_key, kind, sources, user_uuid, event_type, payload) "
      "VALUES ($1, $2, 'audit', 4, $3, 'api', $4::jsonb) "
      "ON CONFLICT (device_id, event_key) DO UPDATE SET payload = events.payload "
      "RETURNING seq";
  return detail::WithConnectionBlocking<std::int64_t>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto row = tx.exec_params1(kSql, e.device_id, "audit:" + e.key, OrNull(e.user_uuid), e.payload);
    tx.commit();
    return row[0].as<std::int64_t>();
  });
}

boost::asio::awaitable<Result<std::int64_t>> InsertAudit(Database& db, AuditEvent e) {
  Database* d = &db;
  auto fn = [d, e = std::move(e)] { return InsertAuditBlocking(*d, e); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::int64_t> DeleteEventsBeforeBlocking(Database& db, TimePoint cutoff, int batch_size,
                                                int max_batches) {
  std::string when = detail::FormatTime(cutoff);
  int n = std::max(1, batch_size);
  std::int64_t total = 0;
  for (int i = 0; i < max_batches; ++i) {
    auto r = detail::WithConnectionBlocking<std::int64_t>(
        db.Connections(), [&](pqxx::connection& c) -> std::int64_t {
          pqxx::work tx(c);
          // The commit-order lock: the writers' row locks and ours are then never interleaved
          // (no deadlock with an enrichment of an old row). Held for one short batch.
          tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(detail::kSeqLockKey) + ")");
          auto res = tx.exec_params(
              "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
              "WHERE received_at < $1::timestamptz ORDER BY received_at LIMIT $2)",
              when, n);
          tx.commit();
          return static_cast<std::int64_t>(res.affected_rows());
        });
    if (!r) return r.error();
    total += *r;
    if (*r < n) break;
  }
  return total;
}

boost::asio::awaitable<Result<std::int64_t>> DeleteEventsBefore(Database& db, TimePoint cutoff,
                                                                int batch_size, int max_batches) {
  Database* d = &db;
  co_return co_await RunBlocking(db.BlockingPool(), [d, cutoff, batch_size, max_batches] {
    return DeleteEventsBeforeBlocking(*d, cutoff, batch_size, max_batches);
  });
}

}  // namespace gw::store
