#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"

namespace gw::store {

/// One forward-only schema change: `migrations/NNNN_name.sql`.
struct Migration {
  int version = 0;   ///< NNNN
  std::string name;  ///< the file name without ".sql", e.g. "0001_initial"
  std::string sql;
};

/// The migrations compiled into this binary (generated from migrations/*.sql at build time), in
/// version order. An installed daemon needs no migrations directory.
const std::vector<Migration>& EmbeddedMigrations();

/// Reads `dir`/NNNN_name.sql files, in version order. Errc::kBadRequest for a malformed name or
/// a duplicate version, Errc::kNotFound if `dir` cannot be read. Blocking (file I/O).
Result<std::vector<Migration>> LoadMigrationsBlocking(const std::string& dir, std::string* problem);

/// Where a database stands relative to a set of migrations.
struct SchemaStatus {
  int current = 0;              ///< highest applied version (0: none)
  int latest = 0;               ///< highest version known to the binary
  std::vector<int> pending;     ///< known but not applied
  std::vector<int> unknown;     ///< applied but not known: the database is newer
  std::vector<int> mismatched;  ///< applied with a different checksum than the known file
  bool Current() const { return pending.empty() && unknown.empty() && mismatched.empty(); }
};

/// Reads `schema_migrations` (absent = nothing applied) and compares it with `known`. Does not
/// change anything. Errc::kDbUnavailable when PostgreSQL cannot be reached. Blocking: call it
/// at start-up or through gw::RunBlocking.
Result<SchemaStatus> CheckSchemaBlocking(const std::string& dsn,
                                         const std::vector<Migration>& known);

/// CheckSchemaBlocking on a pooled connection of `db`, run on its blocking pool (for /readyz).
/// `known` must outlive the call (EmbeddedMigrations() does).
boost::asio::awaitable<Result<SchemaStatus>> CheckSchema(Database& db,
                                                         const std::vector<Migration>& known);

/// What Migrate did.
struct MigrateReport {
  int from = 0;
  int to = 0;
  std::vector<std::string> applied;  ///< names, in order
};

/// Applies the pending `known` migrations in order, each in its own transaction together with
/// its `schema_migrations` row, under a session advisory lock so that concurrent gateways (or
/// `migrate` runs) apply each file once. Running it again changes nothing.
/// Refuses (Errc::kConflict, `problem` says why) a database with a migration this binary does not
/// know (a newer schema) or whose recorded checksum differs from the file. A failing migration
/// rolls back and returns Errc::kBadRequest with the server's message in `problem`.
/// Blocking: for `ef45-gatewayd migrate` and start-up.
Result<MigrateReport> MigrateBlocking(const std::string& dsn, const std::vector<Migration>& known,
                                      std::string* problem);

/// The checksum recorded per migration (hex FNV-1a 64 of the SQL text).
std::string MigrationChecksum(const std::string& sql);

}  // namespace gw::store
