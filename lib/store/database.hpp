#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace gw::crypto {
class DataKeys;
}

namespace gw::store {

namespace detail {
class ConnectionPool;
}

/// How to reach PostgreSQL.
struct DatabaseOptions {
  std::string dsn;    ///< libpq connection string (keyword form or URI); never logged
  int pool_size = 4;  ///< connections, and threads of the blocking pool (one each)
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{30000};
  /// Data keys for biometric data and credentials (users.hpp); null: stored in plaintext
  /// (security.plaintext_biometrics). Shared by every Database of the process.
  std::shared_ptr<const crypto::DataKeys> keys{};
};

/// The store's blocking side: a dedicated thread pool and a small pool of libpqxx connections,
/// one per thread at most. Connections are opened lazily, dropped when broken and reopened on
/// the next use, so a PostgreSQL restart costs the calls in flight an error, nothing more.
///
/// Thread-safe. The destructor waits for the blocking work in flight.
class Database {
 public:
  explicit Database(DatabaseOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// The thread pool on which every libpqxx call runs (via gw::RunBlocking).
  boost::asio::thread_pool& BlockingPool() noexcept { return pool_; }

  /// `SELECT 1` on a pooled connection. Errc::kDbUnavailable when PostgreSQL cannot be reached.
  /// Runs on the blocking pool; resumes on the caller's executor.
  boost::asio::awaitable<boost::system::error_code> Ping();

  const DatabaseOptions& Options() const noexcept { return options_; }
  /// The data keys (null: plaintext mode).
  const crypto::DataKeys* Keys() const noexcept { return options_.keys.get(); }
  /// Connections opened since start; beyond `pool_size` they are reconnects (metrics).
  std::uint64_t ConnectionsOpened() const noexcept;
  detail::ConnectionPool& Connections() noexcept { return *connections_; }

 private:
  DatabaseOptions options_;
  boost::asio::thread_pool pool_;
  std::unique_ptr<detail::ConnectionPool> connections_;
};

}  // namespace gw::store
