#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
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
  milliseconds door{1000};     ///< GET /config/door-status
  milliseconds match{500};     ///< GET /match-data
  milliseconds logs{2000};     ///< GET /logs/from/to
  milliseconds health{30000};  ///< GET /version + lock check + clock skew
  milliseconds timeout{3000};  ///< deadline of one request to a reader
  int logs_page = 500;         ///< log ids asked for per request (1..1000)
  /// A reader's newest log id more than this above our cursor (or below it: a reset) is acted on
  /// only when two consecutive checks agree (a broken or rogue reader must not flood the store).
  std::int64_t max_log_jump = 1'000'000;
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
  std::vector<std::string> groups;  ///< reader groups (user sync: a user may be limited to some)
  PollingConfig polling;            ///< the global polling block, with this reader's overrides
  LockConfig lock;
  int line = 0;  ///< where it was declared (for messages on reload)
};

struct DatabaseConfig {
  std::string dsn;  ///< libpq connection string; EF45GW_DATABASE_DSN overrides it
  int pool_size = 4;
  bool migrate_on_start = true;
};

/// Roles of API callers, each including the ones before it (see lib/api).
enum class TokenRole { kRead, kOperate, kAdmin };

/// One API bearer token. Only the SHA-256 of the token is configured, never the token.
struct ApiToken {
  std::string name;    ///< who holds it (logs, metrics and audit events never show the token)
  std::string sha256;  ///< lower-case hex SHA-256 of the token, 64 characters
  TokenRole role = TokenRole::kRead;
  /// From then on the token is refused (401), as if unknown. Unset: never expires.
  std::optional<std::chrono::system_clock::time_point> expires;
};

struct TlsConfig {
  std::string cert_file;  ///< PEM certificate chain; empty: plain HTTP
  std::string key_file;   ///< PEM private key
  bool enabled() const { return !cert_file.empty(); }
};

struct ApiConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  int max_connections = 256;
  int max_streams = 1000;     ///< concurrent event-stream subscribers; more get 429
  int max_reader_ops = 8;     ///< API operations waiting for one reader; more get 429
  int stream_window = 20000;  ///< newest events kept in memory for the event streams
  /// ... and at most this many bytes of them (rendered frames + a fixed cost per event): the
  /// oldest go first, whichever bound is reached. A resume from before the window reads
  /// PostgreSQL.
  std::int64_t stream_window_bytes = 8 << 20;
  /// No tokens: the API is open (every caller is admin). Allowed only on a loopback address,
  /// or with `insecure_open` (then the daemon warns and exports ef45gw_api_insecure 1).
  /// Includes the tokens of `tokens_file` and EF45GW_API_TOKENS. Two tokens with one hash are a
  /// config error.
  std::vector<ApiToken> tokens;
  /// A YAML file holding a list of tokens like `api.tokens` (keeps the hashes out of
  /// gateway.yaml). Must not be readable by group or others. Re-read on SIGHUP.
  std::string tokens_file;
  bool insecure_open = false;       ///< allow no tokens on a non-loopback listen address
  bool allow_plaintext = false;     ///< allow a non-loopback listen address without TLS
  int max_connections_per_ip = 64;  ///< open connections from one client address at most
  bool open_metrics = true;         ///< /metrics needs no token
  bool open_health = true;          ///< /healthz and /readyz need no token
  TlsConfig tls;
};

enum class SyncPolicy {
  kMirror,   ///< users on a reader unknown to the gateway are deleted from it
  kAdditive  ///< ... are only reported
};

/// What becomes of changes made at a reader (enrolments, edits): a reader is not an authority.
enum class ImportPolicy {
  kReview,  ///< held until an admin approves or rejects them (/api/v1/sync/imports)
  kAuto,    ///< imported at once; a new user reaches only the source reader's groups
  kOff      ///< never imported: the gateway's record goes back to the reader
};

struct SyncConfig {
  bool enabled = true;
  SyncPolicy policy = SyncPolicy::kAdditive;
  ImportPolicy import = ImportPolicy::kReview;
  milliseconds audit{300000};     ///< full drift audit of every reader this often
  milliseconds inventory{60000};  ///< import enrolments done at readers this often
  int max_ops_per_second = 50;    ///< reader calls per second one reconciler may make
  int page_size = 100;            ///< subjects / user info / faces read per request
};

/// Several gateways sharing one fleet through leases in PostgreSQL (off when node_id is empty).
struct ClusterConfig {
  std::string node_id;        ///< unique per instance; empty: one instance owns every reader
  milliseconds lease{15000};  ///< a reader's lease lasts this long unless renewed
  milliseconds renew{5000};   ///< renew (and rebalance) this often; must be < lease / 2
  std::string advertise_url;  ///< this instance's API base URL, for redirects of reader ops
  bool enabled() const { return !node_id.empty(); }
};

struct StoreConfig {
  int batch_max_events = 1000;       ///< events per transaction at most
  milliseconds batch_max_delay{20};  ///< how long a batch may wait to fill
  int queue_capacity = 20000;        ///< events waiting for the writer before producers wait
  /// Readers that may fetch a backlog at once (after a start-up or an outage, a full page of
  /// logs or many match-data items), fleet-wide: the others wait before fetching, their
  /// readers keeping the data (poll/fetch_gate.hpp).
  int backlog_fetches = 32;
  int retention_days = 0;  ///< delete events older than this; 0 = keep forever
};

/// Biometric data and credentials at rest (users' templates, faces, PINs, cards).
struct SecurityConfig {
  /// Key file: `<key id> <64 hex digits>` per line, readable by its owner only; the last key
  /// encrypts, every key decrypts (crypto/data_keys.hpp). EF45GW_DATA_KEYS_FILE overrides it.
  std::string data_keys_file;
  /// Store users in plaintext when no key file is configured (start-up refuses otherwise).
  bool plaintext_biometrics = false;
};

/// Webhook delivery (issue 19). Subscriptions themselves live in PostgreSQL (API).
struct WebhooksConfig {
  /// Where subscriptions may point: CIDRs (10.0.0.0/8, a bare address) and host names
  /// (hooks.example.com, *.example.com). Empty (the default): no webhook can be created.
  std::vector<std::string> allow;
  milliseconds timeout{5000};            ///< one request, connect to the last byte of the answer
  milliseconds max_backoff{300000};      ///< ceiling of the retry delay (exponential, jitter)
  milliseconds disable_after{86400000};  ///< failing this long disables a subscription
};

// ---- fleet: setting profiles and clock sync (issue 20) ----

/// A reader setting value; its alternative is the setting's type (bool, int, float, string).
using SettingValue = std::variant<bool, std::int32_t, double, std::string>;

struct ProfileSetting {
  std::string title;  ///< a title of API.md section 9 (config/setting_catalog.hpp)
  SettingValue value;
  int line = 0;
};

/// Desired reader settings for some reader groups.
struct SettingProfile {
  std::string name;
  std::vector<std::string> groups;  ///< readers in any of them; empty: every reader
  std::vector<ProfileSetting> settings;
  int line = 0;
};

struct FleetConfig {
  std::vector<SettingProfile> profiles;  ///< empty: no reader setting is read or written
  milliseconds audit{300000};            ///< read every reader's profiled settings this often
  bool enforce = false;                  ///< write the desired value back on drift
  /// Set a reader's clock when |skew| exceeds this many seconds; unset: never (off).
  std::optional<int> max_skew_s;
};

// ---- end fleet ----
// ---- firmware rollout (issue 20) ----
/// Staged firmware rollouts. Images and rollouts live in PostgreSQL (API /api/v1/fleet).
struct FirmwareConfig {
  /// Largest firmware image POST /api/v1/fleet/firmware accepts (bytes; larger = 413).
  std::int64_t max_image_bytes = 64 << 20;
  milliseconds check{1000};  ///< how often the rollout engine looks at the running rollouts
};
// ---- end firmware rollout ----

struct Config {
  std::string log_level = "info";
  DatabaseConfig database;
  ApiConfig api;
  PollingConfig polling;
  LockConfig lock;
  StoreConfig store;
  SyncConfig sync;
  ClusterConfig cluster;
  SecurityConfig security;
  WebhooksConfig webhooks;
  FleetConfig fleet;        ///< setting profiles and clock sync
  FirmwareConfig firmware;  // issue 20: firmware rollout
  milliseconds shutdown_deadline{10000};
  /// Threads running the event loop (`io_threads`): each reader, API connection and module
  /// keeps to its own strand, so more threads spread the pollers and the API over cores.
  int io_threads = 1;
  std::vector<ReaderConfig> readers;
};

/// True for a loopback listen address (127.0.0.0/8, ::1, localhost).
bool IsLoopback(const std::string& host);

/// True if `url` may be a node's cluster.advertise_url: an `https://` (with `tls`) or `http://`
/// URL with a host, optionally a port and path, no user info, query or fragment. The API
/// redirects reader operations only to such a URL.
bool ValidAdvertiseUrl(const std::string& url, bool tls);

/// Reads an environment variable; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnv();

/// Parses and validates YAML text. `source` names it in messages. Unknown keys, wrong types,
/// out-of-range values, duplicate reader ids or host:port pairs, duplicate token hashes and
/// unsafe API exposure (no tokens or no TLS off loopback without the explicit keys) are
/// problems; all of them are reported together in a ConfigError. Its only I/O is reading
/// `api.tokens_file` when one is configured.
Config LoadString(const std::string& yaml, const std::string& source,
                  const EnvLookup& env = ProcessEnv());

/// Reads `path` and calls LoadString. Throws ConfigError (also when the file cannot be read).
Config LoadFile(const std::string& path, const EnvLookup& env = ProcessEnv());

}  // namespace gw::config
