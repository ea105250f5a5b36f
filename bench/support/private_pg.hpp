#pragma once

// A private PostgreSQL for a benchmark: tests/support/pg.sh (fsync off, like the tests) in a
// scratch directory, with one fresh database. Stopped and removed on destruction. The target
// defines EF45GW_PG_SH (the path of pg.sh) and links PkgConfig::PQXX and gw::store.

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <stdexcept>
#include <string>

#include "store/migrate.hpp"

namespace gw::bench {

class PrivatePg {
 public:
  /// Starts the cluster and creates `database`; `migrate`: apply the embedded migrations too
  /// (else the program under test does it). Throws std::runtime_error on failure.
  PrivatePg(const std::string& database, bool migrate) {
    char tmpl[] = "/tmp/gw-bench-pg.XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    // Reachable for `postgres` when we are root (pg.sh runs the server as that user).
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    try {
      Ctl("start");
      admin_dsn_ = ReadDsn();
      {
        pqxx::connection c(admin_dsn_);
        pqxx::nontransaction tx(c);
        tx.exec("CREATE DATABASE " + tx.quote_name(database));
      }
      dsn_ = admin_dsn_ + " dbname=" + database;
      std::string problem;
      if (migrate && !gw::store::MigrateBlocking(dsn_, gw::store::EmbeddedMigrations(), &problem)) {
        throw std::runtime_error("migrations: " + problem);
      }
    } catch (...) {
      Cleanup();
      throw;
    }
  }
  ~PrivatePg() { Cleanup(); }
  PrivatePg(const PrivatePg&) = delete;
  PrivatePg& operator=(const PrivatePg&) = delete;

  const std::string& admin_dsn() const { return admin_dsn_; }
  const std::string& dsn() const { return dsn_; }  ///< the fresh database

 private:
  void Ctl(const std::string& cmd) const {
    std::string line = std::string(EF45GW_PG_SH) + " " + cmd + " " + dir_ + " >/dev/null 2>&1";
    if (std::system(line.c_str()) != 0) throw std::runtime_error("pg.sh " + cmd + " failed");
  }
  std::string ReadDsn() const {
    std::ifstream env(dir_ + "/env");
    std::string line;
    std::smatch m;
    const std::regex re(R"re(^export EF45GW_TEST_PG_DSN="(.*)"$)re");
    while (std::getline(env, line)) {
      if (std::regex_match(line, m, re)) return m[1];
    }
    throw std::runtime_error("pg.sh wrote no DSN");
  }
  void Cleanup() noexcept {
    try {
      Ctl("stop");
    } catch (...) {
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string dir_;
  std::string admin_dsn_;
  std::string dsn_;
};

}  // namespace gw::bench
