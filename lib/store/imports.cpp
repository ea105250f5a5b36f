#include "store/imports.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "crypto/data_keys.hpp"
#include "store/pg.hpp"
#include "store/users_tx.hpp"

namespace gw::store {

namespace {

/// What authenticates a held record: sealed for one user's import, it opens for no other row.
std::string ImportContext(const std::string& user_uuid) { return "import:" + user_uuid; }

}  // namespace

std::string EncodeImportRecord(Database& db, const std::string& user_uuid,
                               const std::string& record) {
  const crypto::DataKeys* keys = db.Keys();
  return keys ? keys->Seal(record, ImportContext(user_uuid)) : record;
}

Result<std::string> DecodeImportRecord(Database& db, const std::string& user_uuid,
                                       const std::string& stored) {
  if (!crypto::DataKeys::IsSealed(stored)) return stored;
  const crypto::DataKeys* keys = db.Keys();
  if (!keys) return boost::system::error_code(Errc::kBadRequest);
  auto opened = keys->Open(stored, ImportContext(user_uuid));
  if (!opened.plaintext) return boost::system::error_code(Errc::kBadRequest);
  return std::move(*opened.plaintext);
}
Result<int> RekeyImportsStepBlocking(Database& db, int limit, int* failed) {
  const crypto::DataKeys* keys = db.Keys();
  if (!keys) return boost::system::error_code(Errc::kBadRequest);
  return detail::WithConnectionBlocking<int>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    int moved = 0;
    // Records that do not open are skipped by id (`failed` of them), so they are not selected
    // again: the caller stops when a step moves nothing.
    auto rows = tx.exec_params(
        "SELECT id, user_uuid, record FROM sync_imports WHERE status = 'pending' "
        "AND record NOT LIKE 'gwenc1:' || $1 || ':%' ORDER BY id OFFSET $2 LIMIT $3 FOR UPDATE",
        keys->current_id(), *failed, std::max(1, limit));
    for (const auto& r : rows) {
      auto plain = DecodeImportRecord(db, r[1].as<std::string>(), r[2].as<std::string>());
      if (!plain) {
        ++*failed;
        continue;
      }
      tx.exec_params("UPDATE sync_imports SET record = $2 WHERE id = $1", r[0].as<std::int64_t>(),
                     EncodeImportRecord(db, r[1].as<std::string>(), *plain));
      ++moved;
    }
    tx.commit();
    return moved;
  });
}

std::string_view ImportStatusName(ImportStatus status) noexcept {
  switch (status) {
    case ImportStatus::kPending: return "pending";
    case ImportStatus::kApproved: return "approved";
    case ImportStatus::kRejected: return "rejected";
  }
  return "pending";
}

namespace {

ImportStatus ParseStatus(std::string_view text) {
  for (auto s : {ImportStatus::kPending, ImportStatus::kApproved, ImportStatus::kRejected}) {
    if (ImportStatusName(s) == text) return s;
  }
  return ImportStatus::kPending;  // the column's CHECK admits only the three names
}

std::vector<std::string> SplitUnit(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  std::size_t start = 0;
  while (true) {
    auto pos = text.find('\x1f', start);
    out.push_back(text.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

const std::string& ImportColumns() {
  static const std::string kColumns =
      "id, device_id, user_uuid, reader_digest, base_version, "
      "array_to_string(changed, E'\\x1f'), source_seq, " +
      detail::MicrosOf("occurred_at") + ", " + detail::MicrosOf("received_at") +
      ", status, decided_by, " + detail::MicrosOf("decided_at") + " ";
  return kColumns;
}

StoredImport ReadImport(const pqxx::row& r) {
  StoredImport i;
  i.id = r[0].as<std::int64_t>();
  i.device_id = r[1].as<std::string>();
  i.user_uuid = r[2].as<std::string>();
  i.reader_digest = r[3].as<std::string>();
  if (!r[4].is_null()) i.base_version = r[4].as<std::int64_t>();
  i.changed = SplitUnit(r[5].is_null() ? std::string() : r[5].as<std::string>());
  i.source_seq = r[6].as<std::int64_t>();
  i.occurred_at = detail::FromMicros(r[7].as<std::int64_t>());
  i.received_at = detail::FromMicros(r[8].as<std::int64_t>());
  i.status = ParseStatus(r[9].as<std::string>());
  if (!r[10].is_null()) i.decided_by = r[10].as<std::string>();
  if (!r[11].is_null()) i.decided_at = detail::FromMicros(r[11].as<std::int64_t>());
  return i;
}

/// The pending row `id`, locked; the outcome when it is missing or decided.
std::optional<DecisionOutcome> LockPending(pqxx::work& tx, std::int64_t id, StoredImport& out) {
  auto r = tx.exec_params(
      "SELECT " + ImportColumns() + "FROM sync_imports WHERE id = $1 FOR UPDATE", id);
  if (r.empty()) return DecisionOutcome::kNotFound;
  out = ReadImport(r[0]);
  if (out.status != ImportStatus::kPending) return DecisionOutcome::kAlreadyDecided;
  return std::nullopt;
}

void Decide(pqxx::work& tx, const StoredImport& i, ImportStatus status, const std::string& actor,
            const std::string& detail) {
  tx.exec_params(
      "UPDATE sync_imports SET status = $2, decided_by = $3, decided_at = now(), record = '' "
      "WHERE id = $1",
      i.id, std::string(ImportStatusName(status)), actor);
  const bool approved = status == ImportStatus::kApproved;
  tx.exec_params(
      "INSERT INTO events (device_id, event_key, kind, sources, event_type, info, "
      "additional_data, user_uuid) VALUES ($1, 'import:' || $2 || ':' || $3, 'user_data', 4, $4, "
      "$5, $6, $7) ON CONFLICT DO NOTHING",
      i.device_id, std::to_string(i.id), std::string(ImportStatusName(status)),
      approved ? "ImportApproved" : "ImportRejected", approved ? "Approved" : "Rejected", detail,
      i.user_uuid);
}

}  // namespace

Result<std::int64_t> HoldImportBlocking(Database& db, const HeldImport& h) {
  detail::ArrayLiteral changed;
  for (const auto& c : h.changed) changed.Add(c);
  std::optional<std::string> base;
  if (h.base_version) base = std::to_string(*h.base_version);
  const std::string stored = EncodeImportRecord(db, h.user_uuid, h.record);
  return detail::WithConnectionBlocking<std::int64_t>(
      db.Connections(), [&](pqxx::connection& c) -> std::int64_t {
        pqxx::work tx(c);
        tx.exec_params("INSERT INTO devices (device_id) VALUES ($1) ON CONFLICT DO NOTHING",
                       h.device_id);
        auto r = tx.exec_params(
            "INSERT INTO sync_imports AS i (device_id, user_uuid, record, reader_digest, "
            "base_version, changed, source_seq, occurred_at, received_at) VALUES ($1, $2, $3, $4, "
            "$5::int8, $6::text[], $7, $8::timestamptz, $9::timestamptz) "
            "ON CONFLICT (device_id, user_uuid) WHERE status = 'pending' DO UPDATE SET "
            "record = excluded.record, reader_digest = excluded.reader_digest, "
            "base_version = excluded.base_version, changed = excluded.changed, "
            "source_seq = excluded.source_seq, occurred_at = excluded.occurred_at, "
            "received_at = excluded.received_at RETURNING id",
            h.device_id, h.user_uuid, stored, h.reader_digest, base ? base->c_str() : nullptr,
            changed.Finish(), h.source_seq, detail::FormatTime(h.occurred_at),
            detail::FormatTime(h.received_at));
        tx.commit();
        return r[0][0].as<std::int64_t>();
      });
}

Result<std::vector<StoredImport>> PendingImportsPageBlocking(Database& db, std::int64_t after_id,
                                                             int limit) {
  int n = std::clamp(limit, 1, 1000);
  return detail::WithConnectionBlocking<std::vector<StoredImport>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<StoredImport> out;
        for (const auto& r : tx.exec_params("SELECT " + ImportColumns() +
                                                "FROM sync_imports WHERE status = 'pending' "
                                                "AND id > $1 ORDER BY id LIMIT $2",
                                            after_id, n)) {
          out.push_back(ReadImport(r));
        }
        return out;
      });
}

Result<std::optional<StoredImport>> GetImportBlocking(Database& db, std::int64_t id) {
  auto row = detail::WithConnectionBlocking<std::optional<std::pair<StoredImport, std::string>>>(
      db.Connections(),
      [&](pqxx::connection& c) -> std::optional<std::pair<StoredImport, std::string>> {
        pqxx::read_transaction tx(c);
        auto r = tx.exec_params(
            "SELECT " + ImportColumns() + ", record FROM sync_imports WHERE id = $1", id);
        if (r.empty()) return std::nullopt;
        return std::pair{ReadImport(r[0]), r[0][12].as<std::string>()};
      });
  if (!row) return row.error();
  if (!*row) return std::optional<StoredImport>();
  auto& [import, stored] = **row;
  auto record = DecodeImportRecord(db, import.user_uuid, stored);
  if (!record) return record.error();
  import.record = std::move(*record);
  return std::optional<StoredImport>(std::move(import));
}

Result<std::vector<std::string>> HeldUsersBlocking(Database& db, const std::string& device_id) {
  return detail::WithConnectionBlocking<std::vector<std::string>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<std::string> out;
        for (const auto& r : tx.exec_params(
                 "SELECT user_uuid FROM sync_imports WHERE device_id = $1 AND status = 'pending'",
                 device_id)) {
          out.push_back(r[0].as<std::string>());
        }
        return out;
      });
}

Result<std::int64_t> PendingImportCountBlocking(Database& db, const std::string& device_id) {
  return detail::WithConnectionBlocking<std::int64_t>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    auto r = tx.exec_params(
        "SELECT count(*) FROM sync_imports WHERE device_id = $1 AND status = 'pending'", device_id);
    return r[0][0].as<std::int64_t>();
  });
}

Result<Decided> ApproveImportBlocking(Database& db, std::int64_t id, const UserWrite& user,
                                      const std::string& actor) {
  return detail::WithConnectionBlocking<Decided>(
      db.Connections(), [&](pqxx::connection& c) -> Decided {
        pqxx::work tx(c);
        StoredImport i;
        if (auto refused = LockPending(tx, id, i))
          return Decided{*refused, 0, i.user_uuid, i.device_id};
        if (user.user_uuid != i.user_uuid)
          return Decided{DecisionOutcome::kStale, 0, i.user_uuid, i.device_id};
        ImportWrite w;
        w.device_id = i.device_id;
        w.user_uuid = i.user_uuid;
        w.expected_version = i.base_version;
        w.user = user;
        w.applied_digest = i.reader_digest;
        w.source_seq = i.source_seq;
        auto version = detail::ImportUserTx(tx, db.Keys(), w);
        if (!version) return Decided{DecisionOutcome::kStale, 0, i.user_uuid, i.device_id};
        Decide(tx, i, ImportStatus::kApproved, actor,
               "import " + std::to_string(i.id) + " approved by " + actor + ": version " +
                   std::to_string(*version));
        tx.commit();
        return Decided{DecisionOutcome::kDone, *version, i.user_uuid, i.device_id};
      });
}

Result<Decided> RejectImportBlocking(Database& db, std::int64_t id, const std::string& actor) {
  return detail::WithConnectionBlocking<
      Decided>(db.Connections(), [&](pqxx::connection& c) -> Decided {
    pqxx::work tx(c);
    StoredImport i;
    if (auto refused = LockPending(tx, id, i))
      return Decided{*refused, 0, i.user_uuid, i.device_id};
    Decide(tx, i, ImportStatus::kRejected, actor,
           "import " + std::to_string(i.id) + " rejected by " + actor);
    tx.commit();
    return Decided{DecisionOutcome::kDone, i.base_version.value_or(0), i.user_uuid, i.device_id};
  });
}

Result<std::vector<ToRestore>> ImportsToRestoreBlocking(Database& db,
                                                        const std::string& device_id) {
  return detail::WithConnectionBlocking<std::vector<ToRestore>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<ToRestore> out;
        for (const auto& r :
             tx.exec_params("SELECT id, user_uuid FROM sync_imports WHERE device_id = $1 AND "
                            "status = 'rejected' AND restored_at IS NULL ORDER BY id LIMIT 1000",
                            device_id)) {
          out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>()});
        }
        return out;
      });
}

Result<void> MarkRestoredBlocking(Database& db, const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return {};
  detail::ArrayLiteral a;
  for (auto id : ids) a.AddInt(id);
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("UPDATE sync_imports SET restored_at = now() WHERE id = ANY($1::int8[])",
                   a.Finish());
    tx.commit();
  });
}

// Awaitable forms: each runs its blocking form on the database's blocking pool (the lambda is
// named first: see RunBlocking on GCC 12).

boost::asio::awaitable<Result<std::int64_t>> HoldImport(Database& db, HeldImport held) {
  Database* d = &db;
  auto fn = [d, h = std::move(held)] { return HoldImportBlocking(*d, h); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<StoredImport>>> PendingImportsPage(Database& db,
                                                                             std::int64_t after_id,
                                                                             int limit) {
  Database* d = &db;
  auto fn = [d, after_id, limit] { return PendingImportsPageBlocking(*d, after_id, limit); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::optional<StoredImport>>> GetImport(Database& db,
                                                                      std::int64_t id) {
  Database* d = &db;
  auto fn = [d, id] { return GetImportBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<std::string>>> HeldUsers(Database& db,
                                                                   std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return HeldUsersBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::int64_t>> PendingImportCount(Database& db,
                                                                std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return PendingImportCountBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<Decided>> ApproveImport(Database& db, std::int64_t id, UserWrite user,
                                                      std::string actor) {
  Database* d = &db;
  auto fn = [d, id, u = std::move(user), a = std::move(actor)] {
    return ApproveImportBlocking(*d, id, u, a);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<Decided>> RejectImport(Database& db, std::int64_t id,
                                                     std::string actor) {
  Database* d = &db;
  auto fn = [d, id, a = std::move(actor)] { return RejectImportBlocking(*d, id, a); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<std::vector<ToRestore>>> ImportsToRestore(Database& db,
                                                                        std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return ImportsToRestoreBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

boost::asio::awaitable<Result<void>> MarkRestored(Database& db, std::vector<std::int64_t> ids) {
  Database* d = &db;
  auto fn = [d, i = std::move(ids)] { return MarkRestoredBlocking(*d, i); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

}  // namespace gw::store
