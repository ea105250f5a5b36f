#include "config/config.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "common/identifier.hpp"
#include "common/time.hpp"
#include "config/setting_catalog.hpp"

namespace gw::config {

std::string Problem::ToString() const {
  std::string out = path.empty() ? "(top level)" : path;
  if (line > 0) out += " (line " + std::to_string(line) + ")";
  return out + ": " + message;
}

namespace {

std::string JoinProblems(const std::vector<Problem>& problems) {
  std::string out = "invalid configuration:";
  for (const auto& p : problems) out += "\n  " + p.ToString();
  return out;
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

int LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  auto mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

/// Walks a YAML document, validating as it reads; collects problems instead of stopping at the
/// first, so `check-config` can list everything at once.
class Reader {
 public:
  explicit Reader(std::vector<Problem>& problems) : problems_(problems) {}

  void Fail(const std::string& path, const YAML::Node& at, std::string message) {
    problems_.push_back(Problem{path, LineOf(at), std::move(message)});
  }

  /// True if `node` is a map (or absent); reports keys outside `allowed`.
  bool Map(const YAML::Node& node, const std::string& path,
           std::initializer_list<std::string_view> allowed) {
    if (!node.IsDefined() || node.IsNull()) return false;
    if (!node.IsMap()) {
      Fail(path, node, "must be a mapping");
      return false;
    }
    for (const auto& kv : node) {
      auto key = kv.first.as<std::string>();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string known;
        for (auto k : allowed) known += (known.empty() ? "" : ", ") + std::string(k);
        Fail(Join(path, key), kv.first, "unknown key (known: " + known + ")");
      }
    }
    return true;
  }

  void Int(const YAML::Node& map, const std::string& key, const std::string& path, int& out,
           long long min, long long max) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    auto full = Join(path, key);
    long long value = 0;
    if (!node.IsScalar() || !ParseInteger(node.Scalar(), value)) {
      Fail(full, node, "must be an integer");
      return;
    }
    if (value < min || value > max) {
      Fail(full, node, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = static_cast<int>(value);
  }

  void Int64(const YAML::Node& map, const std::string& key, const std::string& path,
             std::int64_t& out, long long min, long long max) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    auto full = Join(path, key);
    long long value = 0;
    if (!node.IsScalar() || !ParseInteger(node.Scalar(), value)) {
      Fail(full, node, "must be an integer");
      return;
    }
    if (value < min || value > max) {
      Fail(full, node, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = value;
  }

  void Millis(const YAML::Node& map, const std::string& key, const std::string& path,
              milliseconds& out, long long min, long long max) {
    int value = static_cast<int>(out.count());
    Int(map, key, path, value, min, max);
    out = milliseconds(value);
  }

  void Port(const YAML::Node& map, const std::string& key, const std::string& path,
            std::uint16_t& out) {
    int value = out;
    Int(map, key, path, value, 1, 65535);
    out = static_cast<std::uint16_t>(value);
  }

  void Bool(const YAML::Node& map, const std::string& key, const std::string& path, bool& out) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    const auto& s = node.IsScalar() ? node.Scalar() : std::string();
    if (s == "true")
      out = true;
    else if (s == "false")
      out = false;
    else
      Fail(Join(path, key), node, "must be true or false");
  }

  void StringList(const YAML::Node& map, const std::string& key, const std::string& path,
                  std::vector<std::string>& out) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    if (!node.IsSequence()) {
      Fail(Join(path, key), node, "must be a list of strings");
      return;
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar() || node[i].Scalar().empty()) {
        Fail(Join(path, key) + "[" + std::to_string(i) + "]", node[i], "must be a string");
        continue;
      }
      out.push_back(node[i].Scalar());
    }
  }

  /// Reads `key` as one of `names` (index into it); anything else is a problem.
  template <typename Enum, std::size_t N>
  void Choice(const YAML::Node& map, const std::string& key, const std::string& path, Enum& out,
              const std::array<std::pair<std::string_view, Enum>, N>& names) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    std::string listed;
    for (const auto& [name, value] : names) {
      if (node.IsScalar() && node.Scalar() == name) {
        out = value;
        return;
      }
      listed += (listed.empty() ? "" : " | ") + std::string(name);
    }
    Fail(Join(path, key), node, "must be " + listed);
  }

  void String(const YAML::Node& map, const std::string& key, const std::string& path,
              std::string& out) {
    const YAML::Node node = map[key];
    if (!node.IsDefined() || node.IsNull()) return;
    if (!node.IsScalar()) {
      Fail(Join(path, key), node, "must be a string");
      return;
    }
    out = node.Scalar();
  }

 private:
  static bool ParseInteger(const std::string& text, long long& out) {
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtoll(text.c_str(), &end, 10);
    return errno == 0 && end == text.c_str() + text.size();
  }

  std::vector<Problem>& problems_;
};

void ReadPolling(Reader& r, const YAML::Node& node, const std::string& path, PollingConfig& p) {
  if (!r.Map(node, path,
             {"door_ms", "match_ms", "logs_ms", "health_ms", "timeout_ms", "logs_page",
              "max_log_jump", "backoff_max_ms"})) {
    return;
  }
  r.Millis(node, "door_ms", path, p.door, 50, 3'600'000);
  r.Millis(node, "match_ms", path, p.match, 50, 3'600'000);
  r.Millis(node, "logs_ms", path, p.logs, 50, 3'600'000);
  r.Millis(node, "health_ms", path, p.health, 1000, 3'600'000);
  r.Millis(node, "timeout_ms", path, p.timeout, 100, 600'000);
  r.Int(node, "logs_page", path, p.logs_page, 1, 1000);
  r.Int64(node, "max_log_jump", path, p.max_log_jump, 1, 1'000'000'000'000'000);
  r.Millis(node, "backoff_max_ms", path, p.backoff_max, 100, 3'600'000);
}

void ReadLock(Reader& r, const YAML::Node& node, const std::string& path, LockConfig& lock) {
  if (!r.Map(node, path, {"on_conflict", "retry_ms"})) return;
  std::string mode;
  r.String(node, "on_conflict", path, mode);
  if (mode == "wait")
    lock.on_conflict = OnConflict::kWait;
  else if (mode == "steal")
    lock.on_conflict = OnConflict::kSteal;
  else if (!mode.empty() || node["on_conflict"].IsDefined()) {
    r.Fail(Join(path, "on_conflict"), node["on_conflict"], "must be wait or steal");
  }
  r.Millis(node, "retry_ms", path, lock.retry, 100, 3'600'000);
}

bool ValidReaderId(const std::string& id) { return ValidIdentifier(id); }

bool SplitHostPort(const std::string& text, std::string& host, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  long value = std::stol(digits);
  if (value < 0 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

void ReadReaders(Reader& r, const YAML::Node& node, Config& config) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) {
    r.Fail("readers", node, "must be a list of readers");
    return;
  }
  std::set<std::string> ids;
  std::set<std::string> addresses;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = "readers[" + std::to_string(i) + "]";
    ReaderConfig reader;
    reader.polling = config.polling;
    reader.lock = config.lock;
    reader.line = LineOf(item);
    if (!r.Map(item, path, {"id", "host", "port", "polling", "lock", "groups"})) {
      if (!item.IsMap()) r.Fail(path, item, "must be a mapping with id, host and port");
      continue;
    }
    r.String(item, "id", path, reader.id);
    r.String(item, "host", path, reader.host);
    r.Port(item, "port", path, reader.port);
    ReadPolling(r, item["polling"], path + ".polling", reader.polling);
    ReadLock(r, item["lock"], path + ".lock", reader.lock);
    r.StringList(item, "groups", path, reader.groups);
    if (!ValidReaderId(reader.id)) {
      r.Fail(path + ".id", item["id"].IsDefined() ? item["id"] : item,
             "required: " + std::string(kIdentifierRule));
    } else if (!ids.insert(reader.id).second) {
      r.Fail(path + ".id", item["id"], "duplicate reader id '" + reader.id + "'");
    }
    if (reader.host.empty()) {
      r.Fail(path + ".host", item, "required");
    } else {
      auto address = reader.host + ":" + std::to_string(reader.port);
      if (!addresses.insert(address).second) {
        r.Fail(path, item, "duplicate reader address " + address);
      }
    }
    config.readers.push_back(std::move(reader));
  }
}

bool IsSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

constexpr std::array<std::pair<std::string_view, TokenRole>, 3> kRoles = {
    {{"read", TokenRole::kRead}, {"operate", TokenRole::kOperate}, {"admin", TokenRole::kAdmin}}};

/// EF45GW_API_TOKENS: "name:role:sha256" entries separated by commas, added to the file's.
void TokensFromEnv(Reader& r, const std::string& text, std::vector<ApiToken>& tokens) {
  std::istringstream in(text);
  std::string entry;
  for (int i = 0; std::getline(in, entry, ','); ++i) {
    if (entry.empty()) continue;
    const std::string where = "EF45GW_API_TOKENS[" + std::to_string(i) + "]";
    auto first = entry.find(':');
    auto second = first == std::string::npos ? first : entry.find(':', first + 1);
    if (second == std::string::npos) {
      r.Fail(where, YAML::Node(), "must be name:role:sha256");
      continue;
    }
    ApiToken token{entry.substr(0, first), entry.substr(second + 1), TokenRole::kRead,
                   std::nullopt};
    const std::string role = entry.substr(first + 1, second - first - 1);
    bool known = false;
    for (const auto& [name, value] : kRoles) {
      if (role == name) {
        token.role = value;
        known = true;
      }
    }
    if (!known) r.Fail(where, YAML::Node(), "role must be read | operate | admin");
    if (!IsSha256Hex(token.sha256)) {
      r.Fail(where, YAML::Node(), "the hash must be 64 lower-case hex digits (sha256sum)");
    }
    if (known && IsSha256Hex(token.sha256)) tokens.push_back(std::move(token));
  }
}

/// A list of {name, sha256, role, expires} (api.tokens, or the whole tokens_file).
void ReadTokenList(Reader& r, const YAML::Node& tokens, const std::string& where,
                   std::vector<ApiToken>& out) {
  if (!tokens.IsDefined() || tokens.IsNull()) return;
  if (!tokens.IsSequence()) {
    r.Fail(where, tokens, "must be a list of {name, sha256, role}");
    return;
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string path = where + "[" + std::to_string(i) + "]";
    const YAML::Node item = tokens[i];
    if (!r.Map(item, path, {"name", "sha256", "role", "expires"})) {
      if (!item.IsMap()) r.Fail(path, item, "must be a mapping with name, sha256 and role");
      continue;
    }
    ApiToken token;
    r.String(item, "name", path, token.name);
    r.String(item, "sha256", path, token.sha256);
    r.Choice(item, "role", path, token.role, kRoles);
    if (token.name.empty()) r.Fail(path + ".name", item, "required");
    if (!item["role"].IsDefined()) r.Fail(path + ".role", item, "required");
    if (!IsSha256Hex(token.sha256)) {
      r.Fail(path + ".sha256", item["sha256"].IsDefined() ? item["sha256"] : item,
             "required: 64 lower-case hex digits (printf %s TOKEN | sha256sum)");
    }
    std::string expires;
    r.String(item, "expires", path, expires);
    if (!expires.empty()) {
      auto t = ParseIso8601(expires);
      if (!t) {
        r.Fail(path + ".expires", item["expires"],
               "must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z");
      } else {
        token.expires = std::chrono::system_clock::time_point(t->time_since_epoch());
      }
    }
    out.push_back(std::move(token));
  }
}

/// api.tokens_file: the same list as api.tokens, in a file only its owner may read.
void ReadTokensFile(Reader& r, const std::string& file, const YAML::Node& at,
                    std::vector<ApiToken>& out) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    r.Fail("api.tokens_file", at, "cannot read " + file);
    return;
  }
  if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
    r.Fail("api.tokens_file", at,
           file + " must not be readable or writable by group or others (chmod 600)");
    return;
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    r.Fail("api.tokens_file", at, file + ": " + e.msg);
    return;
  }
  if (!root.IsSequence()) {
    r.Fail("api.tokens_file", at, file + " must hold a list of {name, sha256, role, expires}");
    return;
  }
  ReadTokenList(r, root, file, out);
}

void ReadApi(Reader& r, const YAML::Node& api, const EnvLookup& env, ApiConfig& out) {
  if (r.Map(api, "api",
            {"listen", "max_connections", "max_connections_per_ip", "max_streams", "max_reader_ops",
             "stream_window", "stream_window_bytes", "tokens", "tokens_file", "insecure_open",
             "allow_plaintext", "open_metrics", "open_health", "tls"})) {
    std::string listen;
    r.String(api, "listen", "api", listen);
    if (!listen.empty() && !SplitHostPort(listen, out.listen_host, out.listen_port)) {
      r.Fail("api.listen", api["listen"], "must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
    r.Int(api, "max_connections", "api", out.max_connections, 1, 100000);
    r.Int(api, "max_streams", "api", out.max_streams, 1, 100000);
    r.Int(api, "max_reader_ops", "api", out.max_reader_ops, 1, 1000);
    r.Int(api, "stream_window", "api", out.stream_window, 1, 1'000'000);
    r.Int64(api, "stream_window_bytes", "api", out.stream_window_bytes, 65536,
            std::int64_t{1} << 34);
    r.Bool(api, "open_metrics", "api", out.open_metrics);
    r.Bool(api, "open_health", "api", out.open_health);
    ReadTokenList(r, api["tokens"], "api.tokens", out.tokens);
    r.String(api, "tokens_file", "api", out.tokens_file);
    r.Bool(api, "insecure_open", "api", out.insecure_open);
    r.Bool(api, "allow_plaintext", "api", out.allow_plaintext);
    r.Int(api, "max_connections_per_ip", "api", out.max_connections_per_ip, 1, 100000);
    if (!out.tokens_file.empty())
      ReadTokensFile(r, out.tokens_file, api["tokens_file"], out.tokens);
    const YAML::Node tls = api["tls"];
    if (r.Map(tls, "api.tls", {"cert", "key"})) {
      r.String(tls, "cert", "api.tls", out.tls.cert_file);
      r.String(tls, "key", "api.tls", out.tls.key_file);
      if (out.tls.cert_file.empty() != out.tls.key_file.empty()) {
        r.Fail("api.tls", tls, "cert and key go together");
      }
    }
  }
  if (auto from_env = env("EF45GW_API_TOKENS"); from_env && !from_env->empty()) {
    TokensFromEnv(r, *from_env, out.tokens);
  }
}

void ReadSync(Reader& r, const YAML::Node& node, SyncConfig& out) {
  if (!r.Map(node, "sync",
             {"enabled", "policy", "import", "audit_ms", "inventory_ms", "max_ops_per_second",
              "page_size"})) {
    return;
  }
  r.Bool(node, "enabled", "sync", out.enabled);
  constexpr std::array<std::pair<std::string_view, SyncPolicy>, 2> kPolicies = {
      {{"mirror", SyncPolicy::kMirror}, {"additive", SyncPolicy::kAdditive}}};
  r.Choice(node, "policy", "sync", out.policy, kPolicies);
  constexpr std::array<std::pair<std::string_view, ImportPolicy>, 3> kImports = {
      {{"review", ImportPolicy::kReview},
       {"auto", ImportPolicy::kAuto},
       {"off", ImportPolicy::kOff}}};
  r.Choice(node, "import", "sync", out.import, kImports);
  r.Millis(node, "audit_ms", "sync", out.audit, 1000, 86'400'000);
  r.Millis(node, "inventory_ms", "sync", out.inventory, 1000, 86'400'000);
  r.Int(node, "max_ops_per_second", "sync", out.max_ops_per_second, 1, 100000);
  r.Int(node, "page_size", "sync", out.page_size, 1, 1000);
}

void ReadSecurity(Reader& r, const YAML::Node& node, const EnvLookup& env, SecurityConfig& out) {
  if (r.Map(node, "security", {"data_keys_file", "plaintext_biometrics"})) {
    r.String(node, "data_keys_file", "security", out.data_keys_file);
    r.Bool(node, "plaintext_biometrics", "security", out.plaintext_biometrics);
  }
  if (auto from_env = env("EF45GW_DATA_KEYS_FILE"); from_env && !from_env->empty()) {
    out.data_keys_file = *from_env;
  }
  if (!out.data_keys_file.empty() && out.plaintext_biometrics) {
    r.Fail("security.plaintext_biometrics", node["plaintext_biometrics"],
           "must not be true when security.data_keys_file is set (one or the other)");
  }
}

void ReadCluster(Reader& r, const YAML::Node& node, const EnvLookup& env, ClusterConfig& out) {
  if (r.Map(node, "cluster", {"node_id", "lease_ms", "renew_ms", "advertise_url"})) {
    r.String(node, "node_id", "cluster", out.node_id);
    r.Millis(node, "lease_ms", "cluster", out.lease, 1000, 3'600'000);
    r.Millis(node, "renew_ms", "cluster", out.renew, 100, 3'600'000);
    r.String(node, "advertise_url", "cluster", out.advertise_url);
    if (out.renew * 2 >= out.lease) {
      r.Fail("cluster.renew_ms", node["renew_ms"].IsDefined() ? node["renew_ms"] : node,
             "must be less than half of lease_ms");
    }
  }
  if (auto from_env = env("EF45GW_CLUSTER_NODE_ID"); from_env && !from_env->empty()) {
    out.node_id = *from_env;
  }
  if (!out.node_id.empty() && !ValidReaderId(out.node_id)) {
    r.Fail("cluster.node_id", node["node_id"], std::string(kIdentifierRule));
  }
}

/// `webhooks.allow` entries: a CIDR or address, or a host name (optionally `*.` + a name).
bool ValidAllowEntry(const std::string& entry) {
  const auto slash = entry.find('/');
  const std::string address = entry.substr(0, slash);
  unsigned char buffer[16];
  const bool v4 = inet_pton(AF_INET, address.c_str(), buffer) == 1;
  const bool v6 = !v4 && inet_pton(AF_INET6, address.c_str(), buffer) == 1;
  if (slash != std::string::npos) {
    const std::string prefix = entry.substr(slash + 1);
    if (!(v4 || v6) || prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(),
                     [](unsigned char c) { return std::isdigit(c); })) {
      return false;
    }
    return std::stoi(prefix) <= (v4 ? 32 : 128);
  }
  if (v4 || v6) return true;
  std::string_view name = entry;
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  return !name.empty() && name.size() <= 253 &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

void ReadWebhooks(Reader& r, const YAML::Node& node, WebhooksConfig& out) {
  if (!r.Map(node, "webhooks", {"allow", "timeout_ms", "max_backoff_ms", "disable_after_ms"})) {
    return;
  }
  r.StringList(node, "allow", "webhooks", out.allow);
  for (std::size_t i = 0; i < out.allow.size(); ++i) {
    if (!ValidAllowEntry(out.allow[i])) {
      r.Fail("webhooks.allow[" + std::to_string(i) + "]", node["allow"][i],
             "must be a CIDR (10.0.0.0/8), an address or a host name (hooks.example.com, "
             "*.example.com)");
    }
  }
  r.Millis(node, "timeout_ms", "webhooks", out.timeout, 100, 600'000);
  r.Millis(node, "max_backoff_ms", "webhooks", out.max_backoff, 1000, 86'400'000);
  r.Millis(node, "disable_after_ms", "webhooks", out.disable_after, 60'000, 604'800'000);
}

// ---- firmware rollout (issue 20) ----
void ReadFirmware(Reader& r, const YAML::Node& node, FirmwareConfig& out) {
  if (!r.Map(node, "firmware", {"max_image_bytes", "check_ms"})) return;
  r.Int64(node, "max_image_bytes", "firmware", out.max_image_bytes, 1024, std::int64_t{1} << 30);
  r.Millis(node, "check_ms", "firmware", out.check, 100, 60'000);
}
// ---- end firmware rollout ----

/// An http(s) URL with a host and no user info, whitespace or control bytes.
bool ValidBaseUrl(const std::string& url, const std::string& scheme) {
  const std::string prefix = scheme + "://";
  if (url.rfind(prefix, 0) != 0 || url.size() > 2048) return false;
  const std::string rest = url.substr(prefix.size());
  const auto host_end = rest.find_first_of("/?#");
  const std::string authority = rest.substr(0, host_end);
  if (authority.empty() || authority.front() == ':') return false;
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\' || c == '"' || c == '<' || c == '>') return false;
  }
  return authority.find('@') == std::string::npos && rest.find_first_of("?#") == std::string::npos;
}

// ---- fleet: setting profiles and clock sync (issue 20) ----

/// One profile setting's YAML value, checked against the reader's catalogue (type, range,
/// read-only). False (with a problem) when it does not fit.
bool ReadSettingValue(Reader& r, const std::string& path, const YAML::Node& node,
                      const SettingSpec& spec, SettingValue& out) {
  const std::string kind = SettingKindName(spec.kind);
  if (spec.read_only) {
    r.Fail(path, node, "is read-only on the reader (device information)");
    return false;
  }
  if (!node.IsScalar()) {
    r.Fail(path, node, "must be a " + kind + " value");
    return false;
  }
  const std::string& text = node.Scalar();
  switch (spec.kind) {
    case SettingKind::kBool:
      if (text != "true" && text != "false") {
        r.Fail(path, node, "must be true or false (type bool)");
        return false;
      }
      out = text == "true";
      return true;
    case SettingKind::kInt: {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || errno != 0 || end != text.c_str() + text.size() ||
          v < std::numeric_limits<std::int32_t>::min() ||
          v > std::numeric_limits<std::int32_t>::max()) {
        r.Fail(path, node, "must be an integer (type int)");
        return false;
      }
      if (spec.ranged && (v < spec.min || v > spec.max)) {
        r.Fail(path, node,
               "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max) +
                   " (the reader refuses other values)");
        return false;
      }
      out = static_cast<std::int32_t>(v);
      return true;
    }
    case SettingKind::kFloat: {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || errno != 0 || end != text.c_str() + text.size()) {
        r.Fail(path, node, "must be a number (type float)");
        return false;
      }
      out = v;
      return true;
    }
    case SettingKind::kString:
      if (text.size() > 255) {
        r.Fail(path, node, "must be at most 255 characters (type string)");
        return false;
      }
      out = text;
      return true;
  }
  return false;
}

void ReadProfiles(Reader& r, const YAML::Node& node, std::vector<SettingProfile>& out) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsSequence()) {
    r.Fail("fleet.profiles", node, "must be a list of {name, groups, settings}");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = "fleet.profiles[" + std::to_string(i) + "]";
    SettingProfile profile;
    profile.line = LineOf(item);
    if (!r.Map(item, path, {"name", "groups", "settings"})) {
      if (!item.IsMap()) r.Fail(path, item, "must be a mapping with name, groups and settings");
      continue;
    }
    r.String(item, "name", path, profile.name);
    if (!ValidReaderId(profile.name)) {
      r.Fail(path + ".name", item["name"].IsDefined() ? item["name"] : item,
             "required: " + std::string(kIdentifierRule));
    } else if (!names.insert(profile.name).second) {
      r.Fail(path + ".name", item["name"], "duplicate profile name '" + profile.name + "'");
    }
    r.StringList(item, "groups", path, profile.groups);
    const YAML::Node settings = item["settings"];
    if (!settings.IsDefined() || settings.IsNull() || !settings.IsMap() || settings.size() == 0) {
      r.Fail(path + ".settings", settings.IsDefined() ? settings : item,
             "required: a mapping of setting title to value, e.g. "
             "launcher.device.door.duration: 5");
    } else {
      for (const auto& kv : settings) {
        const std::string title = kv.first.as<std::string>();
        const std::string setting_path = path + ".settings." + title;
        const SettingSpec* spec = FindSettingSpec(title);
        if (!spec) {
          r.Fail(setting_path, kv.first,
                 "unknown setting title (the reader's titles are listed in API.md section 9)");
          continue;
        }
        ProfileSetting setting{title, false, LineOf(kv.second)};
        if (ReadSettingValue(r, setting_path, kv.second, *spec, setting.value)) {
          profile.settings.push_back(std::move(setting));
        }
      }
    }
    out.push_back(std::move(profile));
  }
}

void ReadFleet(Reader& r, const YAML::Node& node, FleetConfig& out) {
  if (!r.Map(node, "fleet", {"profiles", "audit_ms", "enforce", "time_sync"})) return;
  ReadProfiles(r, node["profiles"], out.profiles);
  r.Millis(node, "audit_ms", "fleet", out.audit, 1000, 86'400'000);
  r.Bool(node, "enforce", "fleet", out.enforce);
  const YAML::Node time_sync = node["time_sync"];
  if (r.Map(time_sync, "fleet.time_sync", {"max_skew_s"})) {
    int max_skew = 0;
    r.Int(time_sync, "max_skew_s", "fleet.time_sync", max_skew, 1, 86400);
    if (max_skew > 0) out.max_skew_s = max_skew;
  }
}

/// Two profiles that apply to one reader must not want different values of one setting.
void CheckProfileConflicts(Reader& r, const YAML::Node& root, const Config& config) {
  const auto& profiles = config.fleet.profiles;
  auto applies = [](const SettingProfile& p, const ReaderConfig& reader) {
    if (p.groups.empty()) return true;
    return std::any_of(p.groups.begin(), p.groups.end(), [&](const std::string& g) {
      return std::find(reader.groups.begin(), reader.groups.end(), g) != reader.groups.end();
    });
  };
  std::set<std::pair<std::size_t, std::string>> reported;
  for (const auto& reader : config.readers) {
    std::map<std::string, std::pair<const SettingProfile*, const ProfileSetting*>> seen;
    for (std::size_t i = 0; i < profiles.size(); ++i) {
      if (!applies(profiles[i], reader)) continue;
      for (const auto& s : profiles[i].settings) {
        auto [it, fresh] = seen.emplace(s.title, std::pair{&profiles[i], &s});
        if (fresh || it->second.second->value == s.value) continue;
        if (!reported.insert({i, s.title}).second) continue;
        const YAML::Node at = root["fleet"]["profiles"][i]["settings"][s.title];
        r.Fail("fleet.profiles[" + std::to_string(i) + "].settings." + s.title, at,
               "conflicts with profile '" + it->second.first->name + "' on reader '" + reader.id +
                   "' (one reader, one desired value)");
      }
    }
  }
}

// ---- end fleet ----

/// Invariant 7: off loopback the API needs tokens and TLS unless the operator says otherwise.
void CheckExposure(Reader& r, const YAML::Node& root, const Config& config) {
  const YAML::Node api = root["api"];
  const YAML::Node at = api.IsDefined() && api["listen"].IsDefined() ? api["listen"] : api;
  const ApiConfig& a = config.api;
  const bool loopback = IsLoopback(a.listen_host);
  if (a.tokens.empty() && !loopback && !a.insecure_open) {
    r.Fail("api.listen", at,
           "refusing to serve an API without tokens on " + a.listen_host +
               ": anyone who reaches it could open doors. Configure api.tokens (or "
               "api.tokens_file), listen on 127.0.0.1, or set api.insecure_open: true");
  }
  if (!loopback && !a.tls.enabled() && !a.allow_plaintext) {
    r.Fail("api.listen", at,
           "refusing plain HTTP on " + a.listen_host +
               ": bearer tokens would cross the network in clear. Configure api.tls, listen "
               "on 127.0.0.1, or set api.allow_plaintext: true");
  }
  std::set<std::string> hashes;
  for (const auto& t : a.tokens) {
    if (IsSha256Hex(t.sha256) && !hashes.insert(t.sha256).second) {
      r.Fail("api.tokens", api.IsDefined() ? api["tokens"] : root,
             "token '" + t.name + "' has the same hash as an earlier token (one token, one name)");
    }
  }
  const ClusterConfig& c = config.cluster;
  if (c.enabled() && !c.advertise_url.empty()) {
    const std::string scheme = a.tls.enabled() ? "https" : "http";
    if (!ValidBaseUrl(c.advertise_url, scheme)) {
      const YAML::Node cluster = root["cluster"];
      r.Fail("cluster.advertise_url",
             cluster.IsDefined() && cluster["advertise_url"].IsDefined() ? cluster["advertise_url"]
                                                                         : root,
             "must be an " + scheme + ":// URL (this node's own scheme) with a host, e.g. " +
                 scheme + "://10.0.0.5:8080");
    }
  }
}

}  // namespace

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool ValidAdvertiseUrl(const std::string& url, bool tls) {
  return ValidBaseUrl(url, tls ? "https" : "http");
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : std::runtime_error(JoinProblems(problems)), problems_(std::move(problems)) {}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Config LoadString(const std::string& yaml, const std::string& source, const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError({Problem{source, e.mark.is_null() ? 0 : e.mark.line + 1, e.msg}});
  }
  std::vector<Problem> problems;
  Reader r(problems);
  Config config;
  if (!root.IsDefined() || root.IsNull()) {
    problems.push_back(Problem{"", 0, source + " is empty"});
  } else if (r.Map(root, "",
                   {"log", "database", "api", "polling", "lock", "store", "sync", "cluster",
                    "security", "webhooks", "fleet", "firmware", "shutdown", "readers",
                    "io_threads"})) {
    r.Int(root, "io_threads", "", config.io_threads, 1, 64);
    if (r.Map(root["log"], "log", {"level"})) {
      r.String(root["log"], "level", "log", config.log_level);
      if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
          config.log_level != "error") {
        r.Fail("log.level", root["log"]["level"], "must be debug, info, warn or error");
      }
    }
    const YAML::Node db = root["database"];
    if (r.Map(db, "database", {"dsn", "pool_size", "migrate_on_start"})) {
      r.String(db, "dsn", "database", config.database.dsn);
      r.Int(db, "pool_size", "database", config.database.pool_size, 1, 64);
      r.Bool(db, "migrate_on_start", "database", config.database.migrate_on_start);
    }
    if (auto from_env = env("EF45GW_DATABASE_DSN"); from_env && !from_env->empty()) {
      config.database.dsn = *from_env;
    }
    if (config.database.dsn.empty()) {
      r.Fail("database.dsn", db.IsDefined() ? db : root,
             "required (or set EF45GW_DATABASE_DSN in the environment)");
    }
    ReadApi(r, root["api"], env, config.api);
    ReadPolling(r, root["polling"], "polling", config.polling);
    ReadLock(r, root["lock"], "lock", config.lock);
    const YAML::Node store = root["store"];
    if (r.Map(store, "store",
              {"batch_max_events", "batch_max_delay_ms", "queue_capacity", "backlog_fetches",
               "retention_days"})) {
      r.Int(store, "batch_max_events", "store", config.store.batch_max_events, 1, 100000);
      r.Millis(store, "batch_max_delay_ms", "store", config.store.batch_max_delay, 0, 10000);
      r.Int(store, "queue_capacity", "store", config.store.queue_capacity, 1, 10'000'000);
      r.Int(store, "backlog_fetches", "store", config.store.backlog_fetches, 1, 100'000);
      r.Int(store, "retention_days", "store", config.store.retention_days, 0, 36500);
    }
    ReadSync(r, root["sync"], config.sync);
    ReadCluster(r, root["cluster"], env, config.cluster);
    ReadSecurity(r, root["security"], env, config.security);
    ReadWebhooks(r, root["webhooks"], config.webhooks);
    ReadFirmware(r, root["firmware"], config.firmware);
    const YAML::Node shutdown = root["shutdown"];
    if (r.Map(shutdown, "shutdown", {"deadline_ms"})) {
      r.Millis(shutdown, "deadline_ms", "shutdown", config.shutdown_deadline, 100, 600'000);
    }
    ReadReaders(r, root["readers"], config);
    ReadFleet(r, root["fleet"], config.fleet);
    CheckProfileConflicts(r, root, config);
    CheckExposure(r, root, config);
  } else if (!root.IsMap()) {
    problems.push_back(Problem{"", LineOf(root), "the top level must be a mapping"});
  }
  if (!problems.empty()) {
    std::stable_sort(problems.begin(), problems.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    throw ConfigError(std::move(problems));
  }
  return config;
}

Config LoadFile(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path);
  if (!in) throw ConfigError({Problem{path, 0, "cannot read the file"}});
  std::ostringstream text;
  text << in.rdbuf();
  return LoadString(text.str(), path, env);
}

}  // namespace gw::config
