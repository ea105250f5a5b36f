#include "store/users.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "crypto/data_keys.hpp"
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

/// What authenticates a user's sealed record: a sealed record moved to another row does not open.
std::string SealContext(std::string_view user_uuid) { return "user:" + std::string(user_uuid); }

/// A sealed record as `record::text` shows it: a JSON string of the sealed form (base64 and the
/// key id need no escaping).
constexpr std::string_view kSealedJsonPrefix = "\"gwenc1:";

/// The record, the card lookup keys and the key id of `user` as they are stored.
struct ForStorage {
  std::string record;                 ///< jsonb text: the record, or the sealed JSON string
  std::optional<std::string> key_id;  ///< nullopt: plaintext
  std::string mac;                    ///< keyed fingerprint of the record ("" in plaintext)
  std::vector<std::string> cards;     ///< fingerprints, or the cards in plaintext
};

ForStorage Prepare(const crypto::DataKeys* keys, const UserWrite& user) {
  if (!keys) return {user.record, std::nullopt, "", user.cards};
  ForStorage out;
  out.record = "\"" + keys->Seal(user.record, SealContext(user.user_uuid)) + "\"";
  out.key_id = keys->current_id();
  out.mac = keys->Fingerprint(user.record);
  out.cards.reserve(user.cards.size());
  for (const auto& c : user.cards) out.cards.push_back(keys->Fingerprint(c));
  return out;
}

/// Opens a stored record (plaintext records pass through). A record that does not open is left
/// empty with the reason in `record_error` (no key material, no data).
void OpenRecord(const crypto::DataKeys* keys, StoredUser& u, std::string stored) {
  if (stored.rfind(kSealedJsonPrefix, 0) != 0) {
    u.record = std::move(stored);
    return;
  }
  if (!keys) {
    u.record_error = "the record is encrypted and no data key is configured";
    return;
  }
  std::string_view sealed(stored);
  sealed = sealed.substr(1, sealed.size() >= 2 ? sealed.size() - 2 : 0);
  auto opened = keys->Open(sealed, SealContext(u.user_uuid));
  if (opened.plaintext) {
    u.record = std::move(*opened.plaintext);
  } else {
    u.record_error = opened.error;
  }
}

StoredUser ReadUser(const pqxx::row& r, const crypto::DataKeys* keys) {
  StoredUser u;
  u.user_uuid = r[0].as<std::string>();
  u.version = r[1].as<std::int64_t>();
  u.deleted = r[2].as<bool>();
  OpenRecord(keys, u, r[3].as<std::string>());
  u.digest = r[4].as<std::string>();
  u.digest_no_templates = r[5].as<std::string>();
  u.record_version = OptInt32(r[6]);
  u.groups = Split(r[7]);
  u.source = r[8].as<std::string>();
  u.updated_at = detail::FromMicros(r[9].as<std::int64_t>());
  return u;
}

std::vector<StoredUser> ReadUsers(const pqxx::result& result, const crypto::DataKeys* keys) {
  std::vector<StoredUser> out;
  out.reserve(result.size());
  for (const auto& r : result) out.push_back(ReadUser(r, keys));
  return out;
}

// Writes `user` as the next version (or the first). Returns the version written.
std::int64_t WriteUser(pqxx::work& tx, const crypto::DataKeys* keys, const UserWrite& user,
                       std::optional<std::int64_t> previous) {
  std::optional<std::string> rv;
  if (user.record_version) rv = std::to_string(*user.record_version);
  const ForStorage stored = Prepare(keys, user);
  if (!previous) {
    tx.exec_params(
        "INSERT INTO users (user_uuid, version, record, deleted, digest, digest_no_templates, "
        "record_version, reader_groups, cards, source, key_id, record_mac) "
        "VALUES ($1, 1, $2::jsonb, false, $3, $4, $5::int, $6::text[], $7::text[], $8, $9, $10)",
        user.user_uuid, stored.record, user.digest, user.digest_no_templates, OrNull(rv),
        ArrayOf(user.groups), ArrayOf(stored.cards), user.source, OrNull(stored.key_id),
        stored.mac);
    return 1;
  }
  tx.exec_params(
      "UPDATE users SET version = version + 1, record = $2::jsonb, deleted = false, digest = $3, "
      "digest_no_templates = $4, record_version = $5::int, reader_groups = $6::text[], "
      "cards = $7::text[], source = $8, key_id = $9, record_mac = $10, updated_at = now() "
      "WHERE user_uuid = $1",
      user.user_uuid, stored.record, user.digest, user.digest_no_templates, OrNull(rv),
      ArrayOf(user.groups), ArrayOf(stored.cards), user.source, OrNull(stored.key_id), stored.mac);
  return *previous + 1;
}

}  // namespace

Result<PutOutcome> PutUserBlocking(Database& db, const UserWrite& user) {
  return detail::WithConnectionBlocking<PutOutcome>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    // Sealed records differ at each write (random nonce): the keyed fingerprint of the
    // plaintext tells a repeated PUT instead.
    const crypto::DataKeys* keys = db.Keys();
    auto row = keys ? tx.exec_params(
                          "SELECT version, deleted, record_mac = $2 AND reader_groups = $3::text[] "
                          "FROM users WHERE user_uuid = $1 FOR UPDATE",
                          user.user_uuid, keys->Fingerprint(user.record), ArrayOf(user.groups))
                    : tx.exec_params(
                          "SELECT version, deleted, record = $2::jsonb AND key_id IS NULL "
                          "AND reader_groups = $3::text[] FROM users WHERE user_uuid = $1 "
                          "FOR UPDATE",
                          user.user_uuid, user.record, ArrayOf(user.groups));
    PutOutcome out;
    if (row.empty()) {
      out.version = WriteUser(tx, keys, user, std::nullopt);
      out.created = out.changed = true;
    } else if (!row[0][1].as<bool>() && row[0][2].as<bool>()) {
      out.version = row[0][0].as<std::int64_t>();
      return out;
    } else {
      out.version = WriteUser(tx, keys, user, row[0][0].as<std::int64_t>());
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
        // Deletion is erasure: the tombstone keeps what sync needs (uuid, version, groups).
        auto r = tx.exec_params(
            "UPDATE users SET version = version + 1, deleted = true, updated_at = now(), "
            "source = 'api', record = jsonb_build_object('user_uuid', user_uuid), cards = '{}', "
            "digest = '', digest_no_templates = '', record_version = NULL, key_id = NULL, "
            "record_mac = '' WHERE user_uuid = $1 AND NOT deleted RETURNING version",
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
        return ReadUser(r[0], db.Keys());
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
                                        after_uuid, n),
                         db.Keys());
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
        // Under data keys `cards` holds fingerprints: one per key (rows rekey has not moved
        // yet), and the card itself (rows stored before a key was configured).
        std::vector<std::string> wanted{card};
        if (const auto* keys = db.Keys()) {
          for (auto& print : keys->Fingerprints(card)) wanted.push_back(std::move(print));
        }
        return ReadUsers(tx.exec_params("SELECT " + UserColumns() +
                                            " FROM users WHERE cards && $1::text[] "
                                            "AND NOT deleted ORDER BY user_uuid LIMIT 100",
                                        ArrayOf(wanted)),
                         db.Keys());
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
        return ReadUsers(tx.exec_params("SELECT " + UserColumns() +
                                            " FROM users WHERE user_uuid = ANY($1::text[])",
                                        ArrayOf(uuids)),
                         db.Keys());
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

std::optional<std::int64_t> ImportUserTx(pqxx::work& tx, const crypto::DataKeys* keys,
                                         const ImportWrite& w) {
  auto row =
      tx.exec_params("SELECT version FROM users WHERE user_uuid = $1 FOR UPDATE", w.user_uuid);
  std::optional<std::int64_t> current;
  if (!row.empty()) current = row[0][0].as<std::int64_t>();
  if (current != w.expected_version) return std::nullopt;  // lost a race: caller retries
  std::int64_t version = current.value_or(0);
  if (w.user) version = WriteUser(tx, keys, *w.user, current);
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
        auto version = detail::ImportUserTx(tx, db.Keys(), w);
        if (version) tx.commit();
        return version;
      });
  if (!r) return r.error();
  if (!*r) return boost::system::error_code(Errc::kConflict);
  return **r;
}

Result<KeyInventory> KeyInventoryBlocking(Database& db) {
  return detail::WithConnectionBlocking<KeyInventory>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    KeyInventory out;
    for (const auto& r : tx.exec(
             "SELECT key_id, count(*) FROM users WHERE NOT deleted GROUP BY key_id ORDER BY 1")) {
      if (r[0].is_null()) {
        out.plaintext = r[1].as<std::int64_t>();
      } else {
        out.key_ids.push_back(r[0].as<std::string>());
      }
    }
    // Changes held for review hold a reader's record too (imports.hpp), and webhooks their
    // signing secrets (webhooks.hpp).
    for (const auto& r : tx.exec(
             "SELECT CASE WHEN v LIKE 'gwenc1:%' THEN split_part(v, ':', 2) END, count(*) FROM ("
             "SELECT record AS v FROM sync_imports WHERE status = 'pending' "
             "UNION ALL SELECT secret FROM webhooks "
             "UNION ALL SELECT previous_secret FROM webhooks WHERE previous_secret IS NOT NULL"
             ") AS sealed GROUP BY 1 ORDER BY 1")) {
      if (r[0].is_null()) {
        out.plaintext += r[1].as<std::int64_t>();
      } else if (std::find(out.key_ids.begin(), out.key_ids.end(), r[0].as<std::string>()) ==
                 out.key_ids.end()) {
        out.key_ids.push_back(r[0].as<std::string>());
      }
    }
    return out;
  });
}

Result<RekeyStep> RekeyStepBlocking(Database& db, const std::string& after_uuid, int limit,
                                    const Reprint& reprint) {
  const crypto::DataKeys* keys = db.Keys();
  if (!keys) return boost::system::error_code(Errc::kBadRequest);
  return detail::WithConnectionBlocking<RekeyStep>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    RekeyStep step;
    auto rows = tx.exec_params("SELECT " + UserColumns() +
                                   " FROM users WHERE user_uuid > $1 AND NOT deleted "
                                   "AND key_id IS DISTINCT FROM $2 ORDER BY user_uuid LIMIT $3 "
                                   "FOR UPDATE",
                               after_uuid, keys->current_id(), std::max(1, limit));
    for (const auto& r : rows) {
      StoredUser old = ReadUser(r, keys);
      step.last_uuid = old.user_uuid;
      std::optional<UserWrite> fresh;
      if (old.record_error.empty()) fresh = reprint(old.user_uuid, old.record);
      if (!fresh) {
        ++step.failed;
        continue;
      }
      fresh->user_uuid = old.user_uuid;
      fresh->groups = old.groups;
      const ForStorage stored = Prepare(keys, *fresh);
      tx.exec_params(
          "UPDATE users SET record = $2::jsonb, digest = $3, digest_no_templates = $4, "
          "cards = $5::text[], key_id = $6, record_mac = $7 WHERE user_uuid = $1",
          old.user_uuid, stored.record, fresh->digest, fresh->digest_no_templates,
          ArrayOf(stored.cards), OrNull(stored.key_id), stored.mac);
      tx.exec_params(
          "UPDATE user_device_state SET applied_digest = CASE applied_digest "
          "WHEN $2 THEN $4 WHEN $3 THEN $5 END "
          "WHERE user_uuid = $1 AND applied_digest IS NOT NULL",
          old.user_uuid, old.digest, old.digest_no_templates, fresh->digest,
          fresh->digest_no_templates);
      ++step.moved;
    }
    tx.commit();
    if (static_cast<int>(rows.size()) < std::max(1, limit)) step.last_uuid.clear();
    return step;
  });
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
