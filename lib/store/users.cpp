#include "store/users.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "store/pg.hpp"
#include "store/users_tx.hpp"

namespace gw::store {

std::string_view SyncStatusName(SyncStatus status) noexcept {
  switch (status) {
    case SyncStatus::kPending: return "pending";
    case SyncStatus::kApplied: return "applied";
    case SyncStatus::kFailed: return "failed";
  }
  return "pending";
}

std::optional<SyncStatus> ParseSyncStatus(std::string_view name) noexcept {
  for (SyncStatus s : {SyncStatus::kPending, SyncStatus::kApplied, SyncStatus::kFailed}) {
    if (SyncStatusName(s) == name) return s;
  }
  return std::nullopt;
}
namespace {

// Group names and cards travel as one text joined by the unit separator: simpler than
// libpqxx 6's array parser, and neither may contain control characters.
constexpr char kSep = '\x1f';

std::vector<std::string> Split(const pqxx::field& f) {
  std::vector<std::string> out;
  if (f.is_null()) return out;
  std::string text = f.as<std::string>();
  if (text.empty()) return out;
  std::size_t start = 0;
  while (true) {
    auto pos = text.find(kSep, start);
    out.push_back(text.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string ArrayOf(const std::vector<std::string>& values) {
  detail::ArrayLiteral a;
  for (const auto& v : values) a.Add(v);
  return a.Finish();
}

std::optional<std::int32_t> OptInt32(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::int32_t>();
}

std::optional<std::string> OptText(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

const char* OrNull(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

const std::string& UserColumns() {
  static const std::string kColumns =
      "user_uuid, version, deleted, record::text, digest, digest_no_templates, record_version, "
      "array_to_string(reader_groups, E'\\x1f'), source, " +
      detail::MicrosOf("updated_at");
  return kColumns;
}

StoredUser ReadUser(const pqxx::row& r) {
  StoredUser u;
  u.user_uuid = r[0].as<std::string>();
  u.version = r[1].as<std::int64_t>();
  u.deleted = r[2].as<bool>();
  u.record = r[3].as<std::string>();
  u.digest = r[4].as<std::string>();
  u.digest_no_templates = r[5].as<std::string>();
  u.record_version = OptInt32(r[6]);
  u.groups = Split(r[7]);
  u.source = r[8].as<std::string>();
  u.updated_at = detail::FromMicros(r[9].as<std::int64_t>());
  return u;
}

std::vector<StoredUser> ReadUsers(const pqxx::result& result) {
  std::vector<StoredUser> out;
  out.reserve(result.size());
  for (const auto& r : result) out.push_back(ReadUser(r));
  return out;
}

// Writes `user` as the next version (or the first). Returns the version written.
std::int64_t WriteUser(pqxx::work& tx, const UserWrite& user,
                       std::optional<std::int64_t> previous) {
  std::optional<std::string> rv;
  if (user.record_version) rv = std::to_string(*user.record_version);
  if (!previous) {
    tx.exec_params(
        "INSERT INTO users (user_uuid, version, record, deleted, digest, digest_no_templates, "
        "record_version, reader_groups, cards, source) "
        "VALUES ($1, 1, $2::jsonb, false, $3, $4, $5::int, $6::text[], $7::text[], $8)",
        user.user_uuid, user.record, user.digest, user.digest_no_templates, OrNull(rv),
        ArrayOf(user.groups), ArrayOf(user.cards), user.source);
    return 1;
  }
  tx.exec_params(
      "UPDATE users SET version = version + 1, record = $2::jsonb, deleted = false, digest = $3, "
      "digest_no_templates = $4, record_version = $5::int, reader_groups = $6::text[], "
      "cards = $7::text[], source = $8, updated_at = now() WHERE user_uuid = $1",
      user.user_uuid, user.record, user.digest, user.digest_no_templates, OrNull(rv),
      ArrayOf(user.groups), ArrayOf(user.cards), user.source);
  return *previous + 1;
}

}  // namespace

Result<PutOutcome> PutUserBlocking(Database& db, const UserWrite& user) {
  return detail::WithConnectionBlocking<PutOutcome>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto row = tx.exec_params(
        "SELECT version, deleted, record = $2::jsonb AND reader_groups = $3::text[] "
        "FROM users WHERE user_uuid = $1 FOR UPDATE",
        user.user_uuid, user.record, ArrayOf(user.groups));
    PutOutcome out;
    if (row.empty()) {
      out.version = WriteUser(tx, user, std::nullopt);
      out.created = out.changed = true;
    } else if (!row[0][1].as<bool>() && row[0][2].as<bool>()) {
      out.version = row[0][0].as<std::int64_t>();
      return out;
    } else {
      out.version = WriteUser(tx, user, row[0][0].as<std::int64_t>());
      out.changed = true;
    }
    tx.commit();
    return out;
  });
}

boost::asio::awaitable<Result<PutOutcome>> PutUser(Database& db, UserWrite user) {
  Database* d = &db;
  auto fn = [d, u = std::move(user)] { return PutUserBlocking(*d, u); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::optional<PutOutcome>> DeleteUserBlocking(Database& db, const std::string& user_uuid) {
  return detail::WithConnectionBlocking<std::optional<PutOutcome>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<PutOutcome> {
        pqxx::work tx(c);
        auto r = tx.exec_params(
            "UPDATE users SET version = version + 1, deleted = true, updated_at = now(), "
            "source = 'api' WHERE user_uuid = $1 AND NOT deleted RETURNING version",
            user_uuid);
        if (r.empty()) return std::nullopt;
        tx.commit();
        return PutOutcome{r[0][0].as<std::int64_t>(), false, true};
      });
}

boost::asio::awaitable<Result<std::optional<PutOutcome>>> DeleteUser(Database& db,
                                                                     std::string user_uuid) {
  Database* d = &db;
  auto fn = [d, u = std::move(user_uuid)] { return DeleteUserBlocking(*d, u); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::optional<StoredUser>> GetUserBlocking(Database& db, const std::string& user_uuid) {
  return detail::WithConnectionBlocking<std::optional<StoredUser>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<StoredUser> {
        pqxx::read_transaction tx(c);
        auto r = tx.exec_params("SELECT " + UserColumns() + " FROM users WHERE user_uuid = $1",
                                user_uuid);
        if (r.empty()) return std::nullopt;
        return ReadUser(r[0]);
      });
}

boost::asio::awaitable<Result<std::optional<StoredUser>>> GetUser(Database& db,
                                                                  std::string user_uuid) {
  Database* d = &db;
  auto fn = [d, u = std::move(user_uuid)] { return GetUserBlocking(*d, u); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::vector<StoredUser>> ListUsersPageBlocking(Database& db, const std::string& after_uuid,
                                                      int limit) {
  int n = std::clamp(limit, 1, 1000);
  return detail::WithConnectionBlocking<std::vector<StoredUser>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return ReadUsers(tx.exec_params("SELECT " + UserColumns() +
                                            " FROM users WHERE user_uuid > $1 AND NOT deleted "
                                            "ORDER BY user_uuid LIMIT $2",
                                        after_uuid, n));
      });
}

boost::asio::awaitable<Result<std::vector<StoredUser>>> ListUsersPage(Database& db,
                                                                      std::string after_uuid,
                                                                      int limit) {
  Database* d = &db;
  auto fn = [d, a = std::move(after_uuid), limit] { return ListUsersPageBlocking(*d, a, limit); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::vector<StoredUser>> UsersByCardBlocking(Database& db, const std::string& card) {
  return detail::WithConnectionBlocking<std::vector<StoredUser>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return ReadUsers(tx.exec_params("SELECT " + UserColumns() +
                                            " FROM users WHERE cards @> ARRAY[$1::text] "
                                            "AND NOT deleted ORDER BY user_uuid LIMIT 100",
                                        card));
      });
}

boost::asio::awaitable<Result<std::vector<StoredUser>>> UsersByCard(Database& db,
                                                                    std::string card) {
  Database* d = &db;
  auto fn = [d, c = std::move(card)] { return UsersByCardBlocking(*d, c); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::vector<StoredUser>> UsersByUuidBlocking(Database& db,
                                                    const std::vector<std::string>& uuids) {
  return detail::WithConnectionBlocking<std::vector<StoredUser>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return ReadUsers(tx.exec_params(
            "SELECT " + UserColumns() + " FROM users WHERE user_uuid = ANY($1::text[])",
            ArrayOf(uuids)));
      });
}

Result<std::vector<UserSummary>> UserSummariesBlocking(Database& db,
                                                       const std::optional<TimePoint>& since) {
  static const std::string kSql =
      "SELECT user_uuid, version, deleted, digest, digest_no_templates, record_version, "
      "array_to_string(reader_groups, E'\\x1f'), " +
      detail::MicrosOf("updated_at") +
      " FROM users WHERE $1::text IS NULL OR updated_at >= $1::timestamptz";
  std::optional<std::string> when;
  if (since) when = detail::FormatTime(*since);
  return detail::WithConnectionBlocking<std::vector<UserSummary>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<UserSummary> out;
        auto result = tx.exec_params(kSql, OrNull(when));
        out.reserve(result.size());
        for (const auto& r : result) {
          UserSummary s;
          s.user_uuid = r[0].as<std::string>();
          s.version = r[1].as<std::int64_t>();
          s.deleted = r[2].as<bool>();
          s.digest = r[3].as<std::string>();
          s.digest_no_templates = r[4].as<std::string>();
          s.record_version = OptInt32(r[5]);
          s.groups = Split(r[6]);
          s.updated_at = detail::FromMicros(r[7].as<std::int64_t>());
          out.push_back(std::move(s));
        }
        return out;
      });
}

namespace {

const std::string& StateSql() {
  static const std::string kSql =
      "SELECT user_uuid, device_id, applied_version, status, applied_digest, last_error, note, "
      "attempts, " +
      detail::MicrosOf("updated_at") + " FROM user_device_state ";
  return kSql;
}

std::vector<DeviceUserState> ReadStates(const pqxx::result& result) {
  std::vector<DeviceUserState> out;
  out.reserve(result.size());
  for (const auto& r : result) {
    DeviceUserState s;
    s.user_uuid = r[0].as<std::string>();
    s.device_id = r[1].as<std::string>();
    if (!r[2].is_null()) s.applied_version = r[2].as<std::int64_t>();
    // The column's CHECK admits only the three names.
    s.status = ParseSyncStatus(r[3].as<std::string>()).value_or(SyncStatus::kPending);
    s.applied_digest = OptText(r[4]);
    s.last_error = OptText(r[5]);
    s.note = OptText(r[6]);
    s.attempts = r[7].as<int>();
    s.updated_at = detail::FromMicros(r[8].as<std::int64_t>());
    out.push_back(std::move(s));
  }
  return out;
}

void EnsureDevice(pqxx::work& tx, const std::string& device_id) {
  tx.exec_params("INSERT INTO devices (device_id) VALUES ($1) ON CONFLICT DO NOTHING", device_id);
}

}  // namespace

Result<std::vector<DeviceUserState>> DeviceStatesOfBlocking(Database& db,
                                                            const std::string& device_id) {
  return detail::WithConnectionBlocking<std::vector<DeviceUserState>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return ReadStates(tx.exec_params(StateSql() + "WHERE device_id = $1", device_id));
      });
}

Result<std::vector<DeviceUserState>> UserStatesBlocking(Database& db,
                                                        const std::string& user_uuid) {
  return detail::WithConnectionBlocking<std::vector<DeviceUserState>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return ReadStates(
            tx.exec_params(StateSql() + "WHERE user_uuid = $1 ORDER BY device_id", user_uuid));
      });
}

boost::asio::awaitable<Result<std::vector<DeviceUserState>>> UserStates(Database& db,
                                                                        std::string user_uuid) {
  Database* d = &db;
  auto fn = [d, u = std::move(user_uuid)] { return UserStatesBlocking(*d, u); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<void> RecordStatesBlocking(Database& db, const std::string& device_id,
                                  const std::vector<StateUpdate>& updates) {
  if (updates.empty()) return {};
  detail::ArrayLiteral uuids, statuses, versions, digests, errors, notes;
  for (const auto& u : updates) {
    uuids.Add(u.user_uuid);
    statuses.Add(SyncStatusName(u.status));
    versions.AddOptInt(u.applied_version);
    digests.AddOpt(u.applied_digest);
    errors.AddOpt(u.error);
    notes.AddOpt(u.note);
  }
  // A failure keeps the version and digest the reader had; other outcomes replace them.
  static const std::string kSql =
      "INSERT INTO user_device_state AS s (user_uuid, device_id, applied_version, status, "
      "applied_digest, last_error, note, attempts, updated_at) "
      "SELECT x.u, $1, x.v, x.s, x.d, x.e, x.n, CASE WHEN x.s = 'failed' THEN 1 ELSE 0 END, now() "
      "FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[]) "
      "AS x(u, s, v, d, e, n) JOIN users ON users.user_uuid = x.u "
      "ON CONFLICT (user_uuid, device_id) DO UPDATE SET "
      "status = excluded.status, "
      "applied_version = CASE WHEN excluded.status = 'failed' "
      "  THEN coalesce(excluded.applied_version, s.applied_version) "
      "  ELSE excluded.applied_version END, "
      "applied_digest = CASE WHEN excluded.status = 'failed' "
      "  THEN coalesce(excluded.applied_digest, s.applied_digest) "
      "  ELSE excluded.applied_digest END, "
      "last_error = excluded.last_error, note = excluded.note, "
      "attempts = CASE WHEN excluded.status = 'failed' THEN s.attempts + 1 ELSE 0 END, "
      "updated_at = now()";
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    EnsureDevice(tx, device_id);
    tx.exec_params(kSql, device_id, uuids.Finish(), statuses.Finish(), versions.Finish(),
                   digests.Finish(), errors.Finish(), notes.Finish());
    tx.commit();
  });
}

Result<SyncCounts> SyncCountsBlocking(Database& db, const std::string& device_id,
                                      const std::vector<std::string>& reader_groups) {
  static const std::string kSql =
      "SELECT count(*) FILTER (WHERE s.status = 'applied' AND s.applied_version = u.version), "
      "count(*) FILTER (WHERE s.status = 'failed'), "
      "count(*) FILTER (WHERE s.user_uuid IS NULL OR (s.status <> 'failed' AND "
      "  (s.status = 'pending' OR s.applied_version IS DISTINCT FROM u.version))) "
      "FROM users u LEFT JOIN user_device_state s "
      "  ON s.user_uuid = u.user_uuid AND s.device_id = $1 "
      "WHERE (NOT u.deleted AND (cardinality(u.reader_groups) = 0 "
      "       OR u.reader_groups && $2::text[])) "
      "   OR (s.user_uuid IS NOT NULL AND s.applied_version IS DISTINCT FROM u.version)";
  return detail::WithConnectionBlocking<SyncCounts>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto r = tx.exec_params(kSql, device_id, ArrayOf(reader_groups));
    return SyncCounts{r[0][0].as<std::int64_t>(), r[0][1].as<std::int64_t>(),
                      r[0][2].as<std::int64_t>()};
  });
}

Result<std::int64_t> ImportCursorBlocking(Database& db, const std::string& device_id) {
  return detail::WithConnectionBlocking<std::int64_t>(
      db.Connections(), [&](pqxx::connection& c) -> std::int64_t {
        pqxx::read_transaction tx(c);
        auto r = tx.exec_params("SELECT last_seq FROM sync_import_cursors WHERE device_id = $1",
                                device_id);
        return r.empty() ? 0 : r[0][0].as<std::int64_t>();
      });
}

Result<std::vector<UserDataEvent>> UserDataEventsBlocking(Database& db,
                                                          const std::string& device_id,
                                                          std::int64_t after_seq, int limit) {
  static const std::string kSql =
      "SELECT seq, coalesce(user_uuid, ''), coalesce(info, ''), " +
      detail::MicrosOf("occurred_at") + ", " + detail::MicrosOf("received_at") +
      " FROM events WHERE device_id = $1 AND seq > $2 AND kind = 'user_data' "
      "AND event_key LIKE 'log:%' ORDER BY seq LIMIT $3";
  return detail::WithConnectionBlocking<std::vector<UserDataEvent>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<UserDataEvent> out;
        for (const auto& r : tx.exec_params(kSql, device_id, after_seq, std::max(1, limit))) {
          out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                         detail::FromMicros(r[3].as<std::int64_t>()),
                         detail::FromMicros(r[4].as<std::int64_t>())});
        }
        return out;
      });
}

Result<void> SetImportCursorBlocking(Database& db, const std::string& device_id,
                                     std::int64_t last_seq) {
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    EnsureDevice(tx, device_id);
    tx.exec_params(
        "INSERT INTO sync_import_cursors (device_id, last_seq) VALUES ($1, $2) "
        "ON CONFLICT (device_id) DO UPDATE SET last_seq = greatest(sync_import_cursors.last_seq, "
        "excluded.last_seq), updated_at = now()",
        device_id, last_seq);
    tx.commit();
  });
}

namespace detail {

std::optional<std::int64_t> ImportUserTx(pqxx::work& tx, const ImportWrite& w) {
  auto row =
      tx.exec_params("SELECT version FROM users WHERE user_uuid = $1 FOR UPDATE", w.user_uuid);
  std::optional<std::int64_t> current;
  if (!row.empty()) current = row[0][0].as<std::int64_t>();
  if (current != w.expected_version) return std::nullopt;  // lost a race: caller retries
  std::int64_t version = current.value_or(0);
  if (w.user) version = WriteUser(tx, *w.user, current);
  if (w.conflict_info) {
    tx.exec_params(
        "INSERT INTO events (device_id, event_key, kind, sources, event_type, info, "
        "additional_data, user_uuid) VALUES ($1, 'sync-conflict:' || $2 || ':' || $3, "
        "'user_data', 4, 'SyncConflict', $4, $5, $6) ON CONFLICT DO NOTHING",
        w.device_id, std::to_string(w.source_seq), std::to_string(version), *w.conflict_info,
        w.conflict_detail.value_or(""), w.user_uuid);
  }
  if (w.applied_digest && version > 0) {
    EnsureDevice(tx, w.device_id);
    tx.exec_params(
        "INSERT INTO user_device_state (user_uuid, device_id, applied_version, status, "
        "applied_digest, attempts, updated_at) VALUES ($1, $2, $3, 'applied', $4, 0, now()) "
        "ON CONFLICT (user_uuid, device_id) DO UPDATE SET applied_version = $3, "
        "status = 'applied', applied_digest = $4, last_error = NULL, note = NULL, "
        "attempts = 0, updated_at = now()",
        w.user_uuid, w.device_id, version, *w.applied_digest);
  }
  return version;
}

}  // namespace detail

Result<std::int64_t> ImportUserBlocking(Database& db, const ImportWrite& w) {
  auto r = detail::WithConnectionBlocking<std::optional<std::int64_t>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<std::int64_t> {
        pqxx::work tx(c);
        auto version = detail::ImportUserTx(tx, w);
        if (version) tx.commit();
        return version;
      });
  if (!r) return r.error();
  if (!*r) return boost::system::error_code(Errc::kConflict);
  return **r;
}

// Awaitable forms: each runs its blocking form on the database's blocking pool and resumes on
// the caller's executor (the lambda is named first: see RunBlocking on GCC 12).

boost::asio::awaitable<Result<std::vector<StoredUser>>> UsersByUuid(
    Database& db, std::vector<std::string> uuids) {
  Database* d = &db;
  auto fn = [d, u = std::move(uuids)] { return UsersByUuidBlocking(*d, u); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<UserSummary>>> UserSummaries(
    Database& db, std::optional<TimePoint> since) {
  Database* d = &db;
  auto fn = [d, since] { return UserSummariesBlocking(*d, since); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<DeviceUserState>>> DeviceStatesOf(Database& db,
                                                                            std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return DeviceStatesOfBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<void>> RecordStates(Database& db, std::string device_id,
                                                  std::vector<StateUpdate> updates) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), u = std::move(updates)] {
    return RecordStatesBlocking(*d, id, u);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<SyncCounts>> SyncCountsOf(Database& db, std::string device_id,
                                                        std::vector<std::string> reader_groups) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), g = std::move(reader_groups)] {
    return SyncCountsBlocking(*d, id, g);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::int64_t>> ImportCursor(Database& db, std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return ImportCursorBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<UserDataEvent>>> UserDataEvents(Database& db,
                                                                          std::string device_id,
                                                                          std::int64_t after_seq,
                                                                          int limit) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), after_seq, limit] {
    return UserDataEventsBlocking(*d, id, after_seq, limit);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<void>> SetImportCursor(Database& db, std::string device_id,
                                                     std::int64_t last_seq) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), last_seq] {
    return SetImportCursorBlocking(*d, id, last_seq);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::int64_t>> ImportUser(Database& db, ImportWrite write) {
  Database* d = &db;
  auto fn = [d, w = std::move(write)] { return ImportUserBlocking(*d, w); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

}  // namespace gw::store
