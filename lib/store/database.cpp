#include "store/database.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/log.hpp"
#include "common/run_blocking.hpp"
#include "store/pg.hpp"

namespace gw::store {

namespace detail {

std::string DecorateDsn(const std::string& dsn, int connect_timeout_s) {
  // Keepalives make a silently dead server (host gone, no RST) a broken connection within ~30 s
  // instead of a hang; connect_timeout bounds reconnect attempts while PostgreSQL is down.
  const std::pair<const char*, std::string> extras[] = {
      {"connect_timeout", std::to_string(connect_timeout_s)},
      {"keepalives", "1"},
      {"keepalives_idle", "10"},
      {"keepalives_interval", "5"},
      {"keepalives_count", "3"},
      {"application_name", "ef45-gatewayd"},
  };
  bool uri = dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0;
  std::string out = dsn;
  for (const auto& [key, value] : extras) {
    if (dsn.find(std::string(key) + "=") != std::string::npos) continue;
    if (uri) {
      out += out.find('?') == std::string::npos ? '?' : '&';
      out += std::string(key) + "=" + value;
    } else {
      out += " " + std::string(key) + "=" + value;
    }
  }
  return out;
}

ConnectionPool::ConnectionPool(std::string dsn, int size, int statement_timeout_ms)
    : dsn_(std::move(dsn)), size_(std::max(1, size)), statement_timeout_ms_(statement_timeout_ms) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

void ConnectionPool::Lease::Discard() {
  if (!conn_) return;
  conn_.reset();
  pool_->Forget();
}

ConnectionPool::Lease ConnectionPool::AcquireBlocking() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn), false);
  }
  ++open_;
  lock.unlock();
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn_);
    pqxx::nontransaction tx(*conn);
    tx.exec(
        // UTF-8 whatever PGCLIENTENCODING says: the EventWriter escapes its COPY text per
        // byte, which is sound only in an encoding whose multibyte characters hold no ASCII.
        "SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'; SET statement_timeout = " +
        std::to_string(statement_timeout_ms_) +
        // Our transactions only ever wait on PostgreSQL: one idle inside a transaction belongs to
        // a paused or partitioned process, whose row locks (a cluster lease, DESIGN.md section 9)
        // and commit-order lock must not outlive it by much.
        "; SET idle_in_transaction_session_timeout = 5000" +
        // The EventWriter's staging table: COPY target, emptied at every commit.
        "; CREATE TEMP TABLE gw_stage (ord int, dev text, k text, kd text, src int2, "
        "lid int8, ep int8, enc text, et text, inf text, ad text, uu text, dt timestamptz, "
        "ra timestamptz, p jsonb) ON COMMIT DELETE ROWS");
    opened_.fetch_add(1, std::memory_order_relaxed);
    return Lease(this, std::move(conn), true);
  } catch (...) {
    Forget();
    throw;
  }
}

void ConnectionPool::Release(std::unique_ptr<pqxx::connection> conn) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

void ConnectionPool::Forget() {
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  cv_.notify_one();
}

Failure ClassifyException(std::exception_ptr e) {
  Failure f;
  try {
    std::rethrow_exception(e);
  } catch (const pqxx::broken_connection& ex) {
    f = {Errc::kDbUnavailable, true, std::string("connection: ") + ex.what()};
  } catch (const pqxx::in_doubt_error& ex) {
    // The commit may or may not have happened. Every write is idempotent, so retrying is safe.
    f = {Errc::kDbUnavailable, true, std::string("commit in doubt: ") + ex.what()};
  } catch (const pqxx::sql_error& ex) {
    const std::string& state = ex.sqlstate();
    std::string cls = state.substr(0, 2);
    bool broken = cls == "08" || state == "57P01" || state == "57P02" || state == "57P03";
    bool transient = broken || cls == "40" || cls == "53" || state == "55P03" || state == "57014" ||
                     cls == "58" || state.empty();
    // Only the SQLSTATE and the server's first line: never the query or its parameters.
    std::string what = ex.what();
    what = what.substr(0, what.find('\n'));
    f = {transient ? Errc::kDbUnavailable : Errc::kBadRequest, broken || state.empty(),
         "sqlstate " + state + ": " + what};
  } catch (const pqxx::failure& ex) {
    f = {Errc::kDbUnavailable, true, std::string("failure: ") + ex.what()};
  } catch (const std::exception& ex) {
    f = {Errc::kDbUnavailable, true, std::string("error: ") + ex.what()};
  }
  return f;
}

void ArrayLiteral::Separator() {
  if (!first_) out_ += ',';
  first_ = false;
}

void ArrayLiteral::Add(std::string_view text) {
  Separator();
  out_ += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out_ += '\\';
    out_ += c;
  }
  out_ += '"';
}

void ArrayLiteral::AddOpt(const std::optional<std::string>& text) {
  if (text) {
    Add(std::string_view(*text));
  } else {
    AddNull();
  }
}

void ArrayLiteral::AddNull() {
  Separator();
  out_ += "NULL";
}

void ArrayLiteral::AddInt(std::int64_t value) {
  Separator();
  out_ += std::to_string(value);
}

void ArrayLiteral::AddOptInt(const std::optional<std::int64_t>& value) {
  if (value) {
    AddInt(*value);
  } else {
    AddNull();
  }
}

std::string ArrayLiteral::Finish() {
  out_ += '}';
  return std::move(out_);
}

std::size_t FormatTimeTo(TimePoint t, TimeText& out) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{sys_days(day)};
  const int y = static_cast<int>(ymd.year());
  if (y < 1 || y > 9999) {
    // Out of the common range (a reader clock gone wrong): the general, slower path.
    auto us = t.time_since_epoch().count();
    std::int64_t secs = us / 1000000;
    std::int64_t frac = us % 1000000;
    if (frac < 0) {
      frac += 1000000;
      --secs;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    const int n = std::snprintf(out.data(), out.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                                tm.tm_sec, static_cast<long long>(frac));
    return n < 0 ? 0 : std::min(static_cast<std::size_t>(n), out.size() - 1);
  }
  // Digits by hand: this runs twice per stored event, and gmtime_r + snprintf were ~3,800
  // instructions of it (issue 18).
  const hh_mm_ss<microseconds> hms{t - day};
  char* p = out.data();
  auto put = [&p](std::int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    p += width;
  };
  put(y, 4);
  *p++ = '-';
  put(static_cast<unsigned>(ymd.month()), 2);
  *p++ = '-';
  put(static_cast<unsigned>(ymd.day()), 2);
  *p++ = 'T';
  put(hms.hours().count(), 2);
  *p++ = ':';
  put(hms.minutes().count(), 2);
  *p++ = ':';
  put(hms.seconds().count(), 2);
  *p++ = '.';
  put(hms.subseconds().count(), 6);
  *p++ = 'Z';
  *p = '\0';
  return static_cast<std::size_t>(p - out.data());
}

std::string FormatTime(TimePoint t) {
  TimeText text;
  return std::string(text.data(), FormatTimeTo(t, text));
}

std::string MicrosOf(std::string_view column) {
  return "(extract(epoch from " + std::string(column) + ") * 1000000)::int8";
}

}  // namespace detail

Database::Database(DatabaseOptions options)
    : options_(std::move(options)),
      pool_(static_cast<std::size_t>(std::max(1, options_.pool_size))),
      connections_(std::make_unique<detail::ConnectionPool>(
          detail::DecorateDsn(options_.dsn, static_cast<int>(options_.connect_timeout.count())),
          options_.pool_size, static_cast<int>(options_.statement_timeout.count()))) {}

Database::~Database() { pool_.join(); }

std::uint64_t Database::ConnectionsOpened() const noexcept { return connections_->Opened(); }

boost::asio::awaitable<boost::system::error_code> Database::Ping() {
  detail::ConnectionPool* conns = connections_.get();
  auto r = co_await RunBlocking(pool_, [conns] {
    return detail::WithConnectionBlocking<void>(*conns, [](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      tx.exec("SELECT 1");
    });
  });
  co_return r ? boost::system::error_code() : r.error();
}

}  // namespace gw::store
