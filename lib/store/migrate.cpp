#include "store/migrate.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "common/log.hpp"
#include "common/run_blocking.hpp"
#include "store/pg.hpp"

namespace gw::store {
namespace {

// Different from the seq lock: migrations and event writes must not wait on each other's key.
constexpr std::int64_t kMigrateLockKey = 73352673;

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
))sql";

struct Applied {
  std::string name;
  std::string checksum;
};

std::map<int, Applied> ReadApplied(pqxx::transaction_base& tx) {
  std::map<int, Applied> applied;
  auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return applied;
  for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
    applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

SchemaStatus Compare(const std::map<int, Applied>& applied, const std::vector<Migration>& known) {
  SchemaStatus s;
  std::map<int, const Migration*> by_version;
  for (const auto& m : known) {
    by_version[m.version] = &m;
    s.latest = std::max(s.latest, m.version);
  }
  for (const auto& [version, a] : applied) {
    s.current = std::max(s.current, version);
    auto it = by_version.find(version);
    if (it == by_version.end()) {
      s.unknown.push_back(version);
    } else if (a.checksum != MigrationChecksum(it->second->sql)) {
      s.mismatched.push_back(version);
    }
  }
  for (const auto& m : known) {
    if (!applied.count(m.version)) s.pending.push_back(m.version);
  }
  return s;
}

std::string Describe(const SchemaStatus& s) {
  std::ostringstream out;
  if (!s.unknown.empty()) {
    out << "the database schema is newer than this binary: applied migration " << s.unknown.back()
        << " is unknown here (this binary knows up to " << s.latest
        << "); run a newer ef45-gatewayd";
  } else if (!s.mismatched.empty()) {
    out << "migration " << s.mismatched.front()
        << " was applied from a different file than the one this binary ships (checksum "
           "mismatch); migrations must never be edited once applied";
  }
  return out.str();
}

}  // namespace

std::string MigrationChecksum(const std::string& sql) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : sql) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::vector<Migration>> LoadMigrationsBlocking(const std::string& dir,
                                                      std::string* problem) {
  namespace fs = std::filesystem;
  static const std::regex kName(R"(^([0-9]{4})_([A-Za-z0-9_]+)\.sql$)");
  std::vector<Migration> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (problem) *problem = "cannot read migrations directory " + dir + ": " + ec.message();
    return boost::system::error_code(Errc::kNotFound);
  }
  for (const auto& entry : it) {
    std::string file = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    std::smatch m;
    if (!std::regex_match(file, m, kName)) {
      if (problem) *problem = "migration file name is not NNNN_name.sql: " + file;
      return boost::system::error_code(Errc::kBadRequest);
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.good() && !in.eof()) {
      if (problem) *problem = "cannot read " + entry.path().string();
      return boost::system::error_code(Errc::kNotFound);
    }
    out.push_back({std::stoi(m[1].str()), file.substr(0, file.size() - 4), text.str()});
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      if (problem) *problem = "two migrations with version " + std::to_string(out[i].version);
      return boost::system::error_code(Errc::kBadRequest);
    }
  }
  return out;
}

Result<SchemaStatus> CheckSchemaBlocking(const std::string& dsn,
                                         const std::vector<Migration>& known) {
  try {
    pqxx::connection conn(detail::DecorateDsn(dsn, 5));
    pqxx::read_transaction tx(conn);
    return Compare(ReadApplied(tx), known);
  } catch (...) {
    auto f = detail::ClassifyException(std::current_exception());
    GW_LOG(kWarn, "store") << "schema check failed: " << f.message;
    return boost::system::error_code(f.code);
  }
}

boost::asio::awaitable<Result<SchemaStatus>> CheckSchema(Database& db,
                                                         const std::vector<Migration>& known) {
  Database* d = &db;
  const std::vector<Migration>* k = &known;
  co_return co_await RunBlocking(db.BlockingPool(), [d, k] {
    return detail::WithConnectionBlocking<SchemaStatus>(d->Connections(), [k](pqxx::connection& c) {
      pqxx::read_transaction tx(c);
      return Compare(ReadApplied(tx), *k);
    });
  });
}

Result<MigrateReport> MigrateBlocking(const std::string& dsn, const std::vector<Migration>& known,
                                      std::string* problem) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(detail::DecorateDsn(dsn, 5));
  } catch (...) {
    auto f = detail::ClassifyException(std::current_exception());
    if (problem) *problem = "cannot connect to PostgreSQL: " + f.message;
    return boost::system::error_code(f.code);
  }
  MigrateReport report;
  const Migration* current = nullptr;
  try {
    {
      pqxx::nontransaction tx(*conn);
      tx.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrateLockKey) + ")");
    }
    {
      pqxx::work tx(*conn);
      tx.exec("SET LOCAL client_min_messages = warning");
      tx.exec(kCreateTable);
      tx.commit();
    }
    std::map<int, Applied> applied;
    {
      pqxx::read_transaction tx(*conn);
      applied = ReadApplied(tx);
    }
    SchemaStatus status = Compare(applied, known);
    report.from = status.current;
    report.to = status.current;
    if (!status.unknown.empty() || !status.mismatched.empty()) {
      if (problem) *problem = Describe(status);
      pqxx::nontransaction tx(*conn);
      tx.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrateLockKey) + ")");
      return boost::system::error_code(Errc::kConflict);
    }
    for (const auto& m : known) {
      if (applied.count(m.version)) continue;
      current = &m;
      pqxx::work tx(*conn);
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                     m.version, m.name, MigrationChecksum(m.sql));
      tx.commit();
      report.applied.push_back(m.name);
      report.to = m.version;
      GW_LOG(kInfo, "store") << "applied migration " << m.name;
    }
    current = nullptr;
    pqxx::nontransaction tx(*conn);
    tx.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrateLockKey) + ")");
  } catch (...) {
    auto f = detail::ClassifyException(std::current_exception());
    if (problem) {
      *problem = current ? "migration " + current->name + " failed: " + f.message
                         : "migration failed: " + f.message;
    }
    // Closing the connection (at return) releases the session lock if it is still held.
    return boost::system::error_code(current && f.code == Errc::kBadRequest ? Errc::kBadRequest
                                                                            : f.code);
  }
  return report;
}

}  // namespace gw::store
