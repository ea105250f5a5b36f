#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gw::config {

using std::chrono::milliseconds;

/// One thing wrong with a configuration: where (YAML path and 1-based line, 0 when unknown)
/// and what.
struct Problem {
  std::string path;  ///< e.g. "readers[2].port"
  int line = 0;
  std::string message;

  std::string ToString() const;  ///< "readers[2].port (line 14): must be 1..65535"
};

/// Thrown by the loaders with every problem found (not only the first).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

struct PollingConfig {
  milliseconds door{1000};          ///< GET /config/door-status
  milliseconds match{500};          ///< GET /match-data
  milliseconds logs{2000};          ///< GET /logs/from/to
  milliseconds health{30000};       ///< GET /version + lock check + clock skew
  milliseconds timeout{3000};       ///< deadline of one request to a reader
  int logs_page = 500;              ///< log ids asked for per request (1..1000)
  milliseconds backoff_max{60000};  ///< ceiling of the exponential backoff after failures
};

enum class OnConflict { kWait, kSteal };

struct LockConfig {
  OnConflict on_conflict = OnConflict::kWait;  ///< 409 on POST /lock: wait and retry, or steal
  milliseconds retry{5000};                    ///< how often to retry while waiting
};

struct ReaderConfig {
  std::string id;  ///< the reader's stable id in the gateway (events.device_id)
  std::string host;
  std::uint16_t port = 9980;
  PollingConfig polling;  ///< the global polling block, with this reader's overrides
  LockConfig lock;
  int line = 0;  ///< where it was declared (for messages on reload)
};

struct DatabaseConfig {
  std::string dsn;  ///< libpq connection string; EF45GW_DATABASE_DSN overrides it
  int pool_size = 4;
  bool migrate_on_start = true;
};

struct ApiConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  int max_connections = 256;
};

struct StoreConfig {
  int batch_max_events = 1000;       ///< events per transaction at most
  milliseconds batch_max_delay{20};  ///< how long a batch may wait to fill
  int queue_capacity = 20000;        ///< events waiting for the writer before producers wait
  int retention_days = 0;            ///< delete events older than this; 0 = keep forever
};

struct Config {
  std::string log_level = "info";
  DatabaseConfig database;
  ApiConfig api;
  PollingConfig polling;
  LockConfig lock;
  StoreConfig store;
  milliseconds shutdown_deadline{10000};
  std::vector<ReaderConfig> readers;
};

/// Reads an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

/// Parses and validates YAML text. `source` names it in messages. Unknown keys, wrong types,
/// out-of-range values, duplicate reader ids or host:port pairs are problems; all of them are
/// reported together in a ConfigError. Does not block beyond the parse; does no I/O.
Config LoadString(const std::string& yaml, const std::string& source,
                  const EnvLookup& env = ProcessEnv());

/// Reads `path` and calls LoadString. Throws ConfigError (also when the file cannot be read).
Config LoadFile(const std::string& path, const EnvLookup& env = ProcessEnv());

}  // namespace gw::config
