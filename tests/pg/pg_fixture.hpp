#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/event.hpp"
#include "store/event_writer.hpp"
#include "store/migrate.hpp"

namespace gw::test {

/// The DSN of the test cluster (EF45GW_TEST_PG_DSN), or nullopt.
std::optional<std::string> TestPgDsn();

/// `base` with another database name (later keywords win in a libpq connection string).
std::string WithDbName(const std::string& base, const std::string& db);

/// Runs SQL on `dsn` and returns the rows as text (NULL -> "<null>"). Blocking; test-only.
std::vector<std::vector<std::string>> Query(const std::string& dsn, const std::string& sql);
std::string Scalar(const std::string& dsn, const std::string& sql);
void Exec(const std::string& dsn, const std::string& sql);

/// The real migration files from the source tree.
std::vector<store::Migration> SourceMigrations();

/// A fresh database per test on the test cluster, dropped at TearDown. A missing
/// EF45GW_TEST_PG_DSN fails the test under CI=true and skips it otherwise.
class PgTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  /// Applies the real migrations (most tests want the schema).
  virtual bool Migrated() const { return true; }
  const std::string& Dsn() const { return dsn_; }

 private:
  std::string admin_dsn_;
  std::string db_name_;
  std::string dsn_;
};

/// An io_context running on its own thread for the test's coroutines.
class IoThread {
 public:
  IoThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    guard_.reset();
    thread_.join();
  }
  boost::asio::io_context& Io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

/// Hands `batch` to `writer` from a coroutine on `io`; the future is the Write result.
std::future<boost::system::error_code> WriteAsync(boost::asio::io_context& io,
                                                  store::EventWriter& writer,
                                                  store::DeviceBatch batch);

/// Stops the writer from `io` and waits for it.
void StopWriter(boost::asio::io_context& io, store::EventWriter& writer,
                std::chrono::milliseconds deadline = std::chrono::seconds(10));

/// A reader log entry as the poller would hand it over (~300 bytes of payload).
store::Event LogEvent(std::int64_t log_id, std::int64_t epoch = 0, std::string user = "u-1");
/// A match-data item pointing at log entry `log_id`.
store::Event MatchEvent(std::int64_t log_id, const std::string& encounter, std::int64_t epoch = 0,
                        std::string user = "u-1");

}  // namespace gw::test
