#pragma once
// Internal to lib/store: libpqxx plumbing. Not included by any public header.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "store/event.hpp"

namespace gw::store::detail {

/// Adds libpq timeouts and keepalives to a DSN (keyword or URI form) unless already present.
std::string DecorateDsn(const std::string& dsn, int connect_timeout_s);

/// Idle libpqxx connections, at most `size` open at once. Blocking; thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(std::string dsn, int size, int statement_timeout_ms);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  /// A connection borrowed from the pool; returned on destruction unless Discard()ed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> conn, bool fresh)
        : pool_(pool), conn_(std::move(conn)), fresh_(fresh) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    /// Drop the connection (it is broken or in an unknown state).
    void Discard();
    /// True if the connection was opened for this lease (not reused).
    bool Fresh() const noexcept { return fresh_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool fresh_;
  };

  /// Borrows an idle connection or opens one; waits while `size` are borrowed. Throws
  /// pqxx::broken_connection when PostgreSQL cannot be reached.
  Lease AcquireBlocking();
  /// Connections opened since start (a reconnect after a PostgreSQL restart counts too).
  std::uint64_t Opened() const noexcept { return opened_.load(std::memory_order_relaxed); }

 private:
  void Release(std::unique_ptr<pqxx::connection> conn);
  void Forget();

  std::string dsn_;
  int size_;
  int statement_timeout_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;
  std::atomic<std::uint64_t> opened_{0};
};

/// What a database exception means for us.
struct Failure {
  Errc code = Errc::kDbUnavailable;  ///< kDbUnavailable (retry later) or kBadRequest (data)
  bool connection_broken = false;    ///< drop the connection
  std::string message;               ///< for logs: SQLSTATE and message, never query data
};
Failure ClassifyException(std::exception_ptr e);

/// Runs `fn(pqxx::connection&)` on a pooled connection and maps exceptions to error codes. A
/// broken connection that was reused from the pool (stale after a server restart) is retried
/// once on a fresh connection. Blocking.
template <class T, class F>
Result<T> WithConnectionBlocking(ConnectionPool& pool, F&& fn) {
  for (int attempt = 0;; ++attempt) {
    std::optional<ConnectionPool::Lease> lease;
    try {
      lease.emplace(pool.AcquireBlocking());
      if constexpr (std::is_void_v<T>) {
        fn(**lease);
        return {};
      } else {
        return fn(**lease);
      }
    } catch (...) {
      Failure f = ClassifyException(std::current_exception());
      bool reused = lease && !lease->Fresh();
      if (lease && f.connection_broken) lease->Discard();
      if (f.connection_broken && reused && attempt == 0) continue;
      return boost::system::error_code(f.code);
    }
  }
}

/// PostgreSQL array literal builder: {"a","b",NULL}.
class ArrayLiteral {
 public:
  void Add(std::string_view text);
  void AddOpt(const std::optional<std::string>& text);
  void AddNull();
  void AddInt(std::int64_t value);
  void AddOptInt(const std::optional<std::int64_t>& value);
  std::string Finish();

 private:
  void Separator();
  std::string out_ = "{";
  bool first_ = true;
};

/// "2026-11-25T17:45:48.123456Z"
std::string FormatTime(TimePoint t);
/// Room for any FormatTime text (years beyond 9999 and before 1 included) and its NUL.
using TimeText = std::array<char, 48>;
/// FormatTime into `out`, NUL-terminated, without an allocation; returns the length.
std::size_t FormatTimeTo(TimePoint t, TimeText& out);
/// SQL expression giving a timestamptz column as microseconds since the epoch (int8).
std::string MicrosOf(std::string_view column);
inline TimePoint FromMicros(std::int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

/// A nullable column: nullopt for NULL.
template <class T>
std::optional<T> Opt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}
/// A nullable MicrosOf() column as a time point.
inline std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromMicros(f.as<std::int64_t>());
}

/// The advisory lock key that orders event commits (see migrations/0001 gw_next_event_seq).
/// Splits a comma-joined list (string_agg / array_to_string) back. Identifiers and kind names
/// hold no comma (ValidIdentifier), so a joined list splits back exactly.
inline std::vector<std::string> Split(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < joined.size()) {
    auto end = joined.find(',', start);
    if (end == std::string::npos) end = joined.size();
    out.push_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

inline constexpr std::int64_t kSeqLockKey = 73352672;

}  // namespace gw::store::detail
