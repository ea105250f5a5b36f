#include "config/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "support/process.hpp"
#include "support/wait.hpp"

namespace gw::config {
namespace {

EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::vector<Problem> ProblemsOf(const std::string& yaml) {
  try {
    LoadString(yaml, "test.yaml", NoEnv());
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

bool HasProblem(const std::vector<Problem>& problems, const std::string& path, int line) {
  for (const auto& p : problems) {
    if (p.path == path && p.line == line) return true;
  }
  return false;
}

TEST(Config, MinimalConfigGetsDocumentedDefaults) {
  auto c = LoadString("database: { dsn: 'host=db' }\n", "t", NoEnv());
  EXPECT_EQ(c.database.dsn, "host=db");
  EXPECT_EQ(c.polling.door.count(), 1000);
  EXPECT_EQ(c.polling.match.count(), 500);
  EXPECT_EQ(c.polling.logs.count(), 2000);
  EXPECT_EQ(c.polling.health.count(), 30000);
  EXPECT_EQ(c.polling.timeout.count(), 3000);
  EXPECT_EQ(c.lock.on_conflict, OnConflict::kWait);
  EXPECT_EQ(c.api.listen_host, "127.0.0.1");
  EXPECT_EQ(c.api.listen_port, 8080);
  EXPECT_TRUE(c.readers.empty());
}

TEST(Config, ReadersInheritGlobalPollingAndOverrideIt) {
  auto c = LoadString(R"(
database: { dsn: "host=db" }
polling: { door_ms: 2000, timeout_ms: 1500 }
lock: { on_conflict: steal }
readers:
  - { id: lobby-1, host: 127.0.0.1, port: 20000 }
  - id: lobby-2
    host: 127.0.0.1
    port: 20001
    polling: { door_ms: 250 }
    lock: { on_conflict: wait }
)",
                      "t", NoEnv());
  ASSERT_EQ(c.readers.size(), 2u);
  EXPECT_EQ(c.readers[0].polling.door.count(), 2000);
  EXPECT_EQ(c.readers[0].lock.on_conflict, OnConflict::kSteal);
  EXPECT_EQ(c.readers[1].polling.door.count(), 250);
  EXPECT_EQ(c.readers[1].polling.timeout.count(), 1500);
  EXPECT_EQ(c.readers[1].lock.on_conflict, OnConflict::kWait);
  EXPECT_EQ(c.readers[1].port, 20001);
}

TEST(Config, EnvironmentDsnOverridesFile) {
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "EF45GW_DATABASE_DSN") return "host=secret";
    return std::nullopt;
  };
  EXPECT_EQ(LoadString("database: { dsn: 'host=file' }\n", "t", env).database.dsn, "host=secret");
  EXPECT_EQ(LoadString("readers: []\n", "t", env).database.dsn, "host=secret");
}

TEST(Config, ReportsEveryProblemWithPathAndLine) {
  auto problems = ProblemsOf(R"(database: { dsn: "x" }
polling:
  door_ms: -5
  colour: blue
api: { listen: "nonsense" }
readers:
  - { id: a, host: h, port: 1 }
  - { id: a, host: h, port: 2 }
  - { id: "b c", host: h, port: 1 }
  - { id: d, host: h, port: 70000 }
  - { id: e, port: 3 }
lock: { on_conflict: maybe }
)");
  EXPECT_TRUE(HasProblem(problems, "polling.door_ms", 3));
  EXPECT_TRUE(HasProblem(problems, "polling.colour", 4));
  EXPECT_TRUE(HasProblem(problems, "api.listen", 5));
  EXPECT_TRUE(HasProblem(problems, "readers[1].id", 8));  // duplicate id
  EXPECT_TRUE(HasProblem(problems, "readers[2].id", 9));  // invalid id
  EXPECT_TRUE(HasProblem(problems, "readers[2]", 9));     // duplicate h:1
  EXPECT_TRUE(HasProblem(problems, "readers[3].port", 10));
  EXPECT_TRUE(HasProblem(problems, "readers[4].host", 11));
  EXPECT_TRUE(HasProblem(problems, "lock.on_conflict", 12));
  EXPECT_EQ(problems.size(), 9u);
}

TEST(Config, MaxLogJumpDefaultsToAMillionAndIsValidated) {
  auto c = LoadString("database: { dsn: 'host=db' }\n", "t", NoEnv());
  EXPECT_EQ(c.polling.max_log_jump, 1'000'000);
  auto big = LoadString(
      "database: { dsn: 'host=db' }\npolling: { max_log_jump: 5000000000 }\n"
      "readers:\n  - { id: a, host: h, port: 1, polling: { max_log_jump: 10 } }\n",
      "t", NoEnv());
  EXPECT_EQ(big.polling.max_log_jump, 5'000'000'000);
  EXPECT_EQ(big.readers[0].polling.max_log_jump, 10);
  auto problems = ProblemsOf("database: { dsn: x }\npolling:\n  max_log_jump: 0\n");
  EXPECT_TRUE(HasProblem(problems, "polling.max_log_jump", 3));
  problems = ProblemsOf("database: { dsn: x }\npolling:\n  max_log_jump: lots\n");
  EXPECT_TRUE(HasProblem(problems, "polling.max_log_jump", 3));
}

TEST(Config, IoThreadsDefaultsToOneAndIsValidated) {
  EXPECT_EQ(LoadString("database: { dsn: 'host=db' }\n", "t", NoEnv()).io_threads, 1);
  EXPECT_EQ(LoadString("database: { dsn: 'host=db' }\nio_threads: 2\n", "t", NoEnv()).io_threads,
            2);
  EXPECT_TRUE(HasProblem(ProblemsOf("database: { dsn: x }\nio_threads: 0\n"), "io_threads", 2));
  EXPECT_TRUE(HasProblem(ProblemsOf("database: { dsn: x }\nio_threads: many\n"), "io_threads", 2));
}

TEST(Config, BacklogFetchesDefaultsTo32AndIsValidated) {
  EXPECT_EQ(LoadString("database: { dsn: 'host=db' }\n", "t", NoEnv()).store.backlog_fetches, 32);
  EXPECT_EQ(
      LoadString("database: { dsn: 'host=db' }\nstore: { backlog_fetches: 4 }\n", "t", NoEnv())
          .store.backlog_fetches,
      4);
  EXPECT_TRUE(HasProblem(ProblemsOf("database: { dsn: x }\nstore:\n  backlog_fetches: 0\n"),
                         "store.backlog_fetches", 3));
}

TEST(Config, StreamWindowBytesDefaultsTo8MiBAndIsValidated) {
  auto c = LoadString("database: { dsn: 'host=db' }\n", "t", NoEnv());
  EXPECT_EQ(c.api.stream_window_bytes, 8 << 20);
  auto big = LoadString("database: { dsn: 'host=db' }\napi: { stream_window_bytes: 5000000000 }\n",
                        "t", NoEnv());
  EXPECT_EQ(big.api.stream_window_bytes, 5'000'000'000);
  auto problems = ProblemsOf("database: { dsn: x }\napi:\n  stream_window_bytes: 1000\n");
  EXPECT_TRUE(HasProblem(problems, "api.stream_window_bytes", 3));
  problems = ProblemsOf("database: { dsn: x }\napi:\n  stream_window_bytes: 8MB\n");
  EXPECT_TRUE(HasProblem(problems, "api.stream_window_bytes", 3));
}

TEST(Config, MissingDsnIsAnError) {
  auto problems = ProblemsOf("readers: []\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "database.dsn");
}

TEST(Config, WrongTypesAreErrors) {
  auto problems = ProblemsOf(R"(database: { dsn: "x", migrate_on_start: yes, pool_size: four }
readers: { id: a }
)");
  EXPECT_TRUE(HasProblem(problems, "database.migrate_on_start", 1));
  EXPECT_TRUE(HasProblem(problems, "database.pool_size", 1));
  EXPECT_TRUE(HasProblem(problems, "readers", 2));
}

TEST(Config, SyntaxErrorNamesTheLine) {
  auto problems = ProblemsOf("database:\n  dsn: [unclosed\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_GT(problems[0].line, 0);
}

TEST(Config, ExampleConfigIsValid) {
  auto c = LoadFile(gw::test::SourceDir() + "/config/gateway.example.yaml", NoEnv());
  EXPECT_FALSE(c.readers.empty());
}

TEST(Config, UnreadableFileIsAConfigError) {
  EXPECT_THROW(LoadFile("/nonexistent/gateway.yaml", NoEnv()), ConfigError);
}

TEST(Config, ApiTokensTlsAndOpenEndpoints) {
  const std::string hash(64, 'a');
  auto c = LoadString(
      "database: { dsn: 'x' }\n"
      "api:\n"
      "  open_metrics: false\n"
      "  tokens:\n"
      "    - { name: acs, role: operate, sha256: " +
          hash +
          " }\n"
          "  tls: { cert: /c.pem, key: /k.pem }\n",
      "t", [](const std::string& name) -> std::optional<std::string> {
        if (name == "EF45GW_API_TOKENS") return "ops:admin:" + std::string(64, 'b');
        return std::nullopt;
      });
  ASSERT_EQ(c.api.tokens.size(), 2u);
  EXPECT_EQ(c.api.tokens[0].name, "acs");
  EXPECT_EQ(c.api.tokens[0].role, TokenRole::kOperate);
  EXPECT_EQ(c.api.tokens[1].name, "ops");
  EXPECT_EQ(c.api.tokens[1].role, TokenRole::kAdmin);
  EXPECT_FALSE(c.api.open_metrics);
  EXPECT_TRUE(c.api.open_health);
  EXPECT_TRUE(c.api.tls.enabled());
  EXPECT_EQ(c.api.tls.key_file, "/k.pem");
}

TEST(Config, BadTokensAreReportedWithoutEchoingThem) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\n"
      "api:\n"
      "  tokens:\n"
      "    - { name: acs, role: root, sha256: ABC }\n"
      "  tls: { cert: /c.pem }\n");
  EXPECT_TRUE(HasProblem(problems, "api.tokens[0].role", 4));
  EXPECT_TRUE(HasProblem(problems, "api.tokens[0].sha256", 4));
  EXPECT_TRUE(HasProblem(problems, "api.tls", 5));
}

TEST(Config, SyncClusterAndReaderGroups) {
  auto c = LoadString(
      "database: { dsn: 'x' }\n"
      "sync: { policy: mirror, import: auto, audit_ms: 5000, max_ops_per_second: 7 }\n"
      "cluster: { node_id: gw-a, lease_ms: 6000, renew_ms: 2000 }\n"
      "readers:\n"
      "  - { id: r1, host: 127.0.0.1, groups: [lobby, east] }\n",
      "t", NoEnv());
  EXPECT_EQ(c.sync.policy, SyncPolicy::kMirror);
  EXPECT_EQ(c.sync.import, ImportPolicy::kAuto);
  EXPECT_EQ(c.sync.audit.count(), 5000);
  EXPECT_EQ(c.sync.max_ops_per_second, 7);
  EXPECT_TRUE(c.cluster.enabled());
  EXPECT_EQ(c.cluster.lease.count(), 6000);
  ASSERT_EQ(c.readers.size(), 1u);
  EXPECT_EQ(c.readers[0].groups, (std::vector<std::string>{"lobby", "east"}));
  EXPECT_FALSE(LoadString("database: { dsn: 'x' }\n", "t", NoEnv()).cluster.enabled());
  // Changes made at readers wait for review unless the operator says otherwise.
  EXPECT_EQ(LoadString("database: { dsn: 'x' }\n", "t", NoEnv()).sync.import,
            ImportPolicy::kReview);
}

TEST(Config, ClusterRenewMustBeWellInsideTheLease) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\n"
      "cluster: { node_id: gw-a, lease_ms: 4000, renew_ms: 2000 }\n"
      "sync: { policy: sometimes, import: yes }\n");
  EXPECT_TRUE(HasProblem(problems, "cluster.renew_ms", 2));
  EXPECT_TRUE(HasProblem(problems, "sync.policy", 3));
  EXPECT_TRUE(HasProblem(problems, "sync.import", 3));
}

std::string Hash(char c) { return std::string(64, c); }

TEST(ConfigSafeDefaults, LoopbackWithoutTokensStartsAsTheQuickStartDoes) {
  for (const char* host : {"127.0.0.1", "127.0.0.2", "[::1]", "localhost"}) {
    auto c =
        LoadString(std::string("database: { dsn: 'x' }\napi: { listen: \"") + host + ":8080\" }\n",
                   "t", NoEnv());
    EXPECT_TRUE(c.api.tokens.empty()) << host;
    EXPECT_FALSE(c.api.insecure_open) << host;
  }
}

TEST(ConfigSafeDefaults, NonLoopbackWithoutTokensIsRefusedWithTheReason) {
  for (const char* host : {"0.0.0.0", "10.0.0.5", "[::]"}) {
    SCOPED_TRACE(host);
    const std::string base =
        std::string("database: { dsn: 'x' }\napi:\n  listen: \"") + host + ":8080\"\n";
    auto problems = ProblemsOf(base + "  allow_plaintext: true\n");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "api.listen");
    EXPECT_EQ(problems[0].line, 3);
    EXPECT_NE(problems[0].message.find("without tokens"), std::string::npos);
    EXPECT_NE(problems[0].message.find("api.insecure_open"), std::string::npos);
    // The explicit key opens it.
    auto c = LoadString(base + "  allow_plaintext: true\n  insecure_open: true\n", "t", NoEnv());
    EXPECT_TRUE(c.api.insecure_open);
  }
}

TEST(ConfigSafeDefaults, NonLoopbackWithoutTlsIsRefusedUnlessPlaintextIsAllowed) {
  const std::string base =
      "database: { dsn: 'x' }\napi:\n  listen: \"0.0.0.0:8080\"\n"
      "  tokens: [{ name: a, role: read, sha256: " +
      Hash('a') + " }]\n";
  auto problems = ProblemsOf(base);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "api.listen");
  EXPECT_NE(problems[0].message.find("api.allow_plaintext"), std::string::npos);
  EXPECT_NO_THROW(LoadString(base + "  allow_plaintext: true\n", "t", NoEnv()));
  EXPECT_NO_THROW(LoadString(base + "  tls: { cert: /c.pem, key: /k.pem }\n", "t", NoEnv()));
  // Both missing: both reasons.
  EXPECT_EQ(ProblemsOf("database: { dsn: 'x' }\napi: { listen: \"0.0.0.0:8080\" }\n").size(), 2u);
}

TEST(ConfigTokens, DuplicateHashIsAConfigError) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\napi:\n  tokens:\n"
      "    - { name: a, role: read, sha256: " +
      Hash('a') +
      " }\n"
      "    - { name: b, role: admin, sha256: " +
      Hash('a') + " }\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "api.tokens");
  EXPECT_NE(problems[0].message.find("'b'"), std::string::npos);
  // Also across the file and the environment.
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "EF45GW_API_TOKENS") return "c:read:" + Hash('a');
    return std::nullopt;
  };
  EXPECT_THROW(LoadString("database: { dsn: 'x' }\napi:\n  tokens:\n"
                          "    - { name: a, role: read, sha256: " +
                              Hash('a') + " }\n",
                          "t", env),
               ConfigError);
}

TEST(ConfigTokens, ExpiresIsAnRfc3339Time) {
  auto c = LoadString(
      "database: { dsn: 'x' }\napi:\n  tokens:\n"
      "    - { name: a, role: read, sha256: " +
          Hash('a') +
          ", expires: \"2030-01-31T08:00:00Z\" }\n"
          "    - { name: b, role: read, sha256: " +
          Hash('b') + " }\n",
      "t", NoEnv());
  ASSERT_EQ(c.api.tokens.size(), 2u);
  ASSERT_TRUE(c.api.tokens[0].expires.has_value());
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::seconds>(c.api.tokens[0].expires->time_since_epoch())
          .count(),
      1896076800);
  EXPECT_FALSE(c.api.tokens[1].expires.has_value());
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\napi:\n  tokens:\n"
      "    - { name: a, role: read, sha256: " +
      Hash('a') + ", expires: tomorrow }\n");
  EXPECT_TRUE(HasProblem(problems, "api.tokens[0].expires", 4));
}

TEST(ConfigTokens, TokensFileMustBePrivate) {
  gw::test::TempDir dir;
  const std::string file = dir.File("tokens.yaml");
  {
    std::ofstream out(file);
    out << "- { name: acs, role: read, sha256: " << Hash('c') << " }\n"
        << "- { name: root, role: admin, sha256: " << Hash('d')
        << ", expires: \"2031-01-01T00:00:00Z\" }\n";
  }
  const std::string yaml = "database: { dsn: 'x' }\napi: { tokens_file: \"" + file + "\" }\n";
  ::chmod(file.c_str(), 0644);
  auto problems = ProblemsOf(yaml);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "api.tokens_file");
  EXPECT_NE(problems[0].message.find("group or others"), std::string::npos);
  ::chmod(file.c_str(), 0600);
  auto c = LoadString(yaml, "t", NoEnv());
  ASSERT_EQ(c.api.tokens.size(), 2u);
  EXPECT_EQ(c.api.tokens[1].name, "root");
  EXPECT_EQ(c.api.tokens[1].role, TokenRole::kAdmin);
  EXPECT_TRUE(c.api.tokens[1].expires.has_value());
  // A bad entry in the file names the file and the entry.
  {
    std::ofstream out(file);
    out << "- { name: acs, role: read, sha256: nothex }\n";
  }
  problems = ProblemsOf(yaml);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, file + "[0].sha256");
}

TEST(ConfigApi, MaxConnectionsPerIpDefaultsTo64) {
  EXPECT_EQ(LoadString("database: { dsn: 'x' }\n", "t", NoEnv()).api.max_connections_per_ip, 64);
  EXPECT_EQ(LoadString("database: { dsn: 'x' }\napi: { max_connections_per_ip: 3 }\n", "t", NoEnv())
                .api.max_connections_per_ip,
            3);
}

TEST(ConfigCluster, AdvertiseUrlMustBeAnHttpUrlWithTheNodesScheme) {
  auto load = [](const std::string& url, const std::string& tls = "") {
    return ProblemsOf("database: { dsn: 'x' }\n" +
                      (tls.empty() ? std::string() : "api: { tls: " + tls + " }\n") +
                      "cluster: { node_id: a, advertise_url: \"" + url + "\" }\n");
  };
  EXPECT_TRUE(load("http://10.0.0.5:8080").empty());
  EXPECT_TRUE(load("http://gw-a.example/base").empty());
  EXPECT_TRUE(load("https://10.0.0.5:8443", "{ cert: /c, key: /k }").empty());
  for (const char* bad :
       {"https://10.0.0.5:8080", "ftp://x", "javascript:alert(1)", "http://user@evil.example",
        "http://", "http://a b", "//evil.example", "http://x/?next=y"}) {
    auto problems = load(bad);
    ASSERT_EQ(problems.size(), 1u) << bad;
    EXPECT_EQ(problems[0].path, "cluster.advertise_url") << bad;
  }
  EXPECT_EQ(load("http://10.0.0.5:8080", "{ cert: /c, key: /k }").size(), 1u);
  EXPECT_TRUE(ValidAdvertiseUrl("https://a:1", true));
  EXPECT_FALSE(ValidAdvertiseUrl("http://a:1", true));
}

TEST(ConfigIdentifiers, ReaderAndNodeIdsRefuseDots) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\ncluster: { node_id: \"..\" }\n"
      "readers:\n  - { id: \".\", host: h }\n");
  EXPECT_TRUE(HasProblem(problems, "cluster.node_id", 2));
  EXPECT_TRUE(HasProblem(problems, "readers[0].id", 4));
}

}  // namespace
}  // namespace gw::config

namespace gw::config {
namespace {

TEST(ConfigWebhooks, DefaultsAllowNothingAndKeysAreRead) {
  auto d = LoadString("database: { dsn: 'x' }\n", "t", NoEnv());
  EXPECT_TRUE(d.webhooks.allow.empty());
  EXPECT_EQ(d.webhooks.timeout, milliseconds(5000));
  EXPECT_EQ(d.webhooks.max_backoff, milliseconds(300000));
  EXPECT_EQ(d.webhooks.disable_after, milliseconds(86400000));
  auto c = LoadString(
      "database: { dsn: 'x' }\n"
      "webhooks: { allow: [10.0.0.0/8, 192.0.2.7, 'fd00::/8', siem.example.com, '*.example.net'],"
      " timeout_ms: 800, max_backoff_ms: 2000, disable_after_ms: 60000 }\n",
      "t", NoEnv());
  EXPECT_EQ(c.webhooks.allow.size(), 5u);
  EXPECT_EQ(c.webhooks.timeout, milliseconds(800));
  EXPECT_EQ(c.webhooks.max_backoff, milliseconds(2000));
  EXPECT_EQ(c.webhooks.disable_after, milliseconds(60000));
}

TEST(ConfigWebhooks, BadValuesNameTheirPath) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\n"
      "webhooks: { allow: [10.0.0.0/33, 'http://x', ok.example.com], timeout_ms: 0, colour: red "
      "}\n");
  EXPECT_TRUE(HasProblem(problems, "webhooks.allow[0]", 2));
  EXPECT_TRUE(HasProblem(problems, "webhooks.allow[1]", 2));
  EXPECT_FALSE(HasProblem(problems, "webhooks.allow[2]", 2));
  EXPECT_TRUE(HasProblem(problems, "webhooks.timeout_ms", 2));
  EXPECT_TRUE(HasProblem(problems, "webhooks.colour", 2));
}

// ---- fleet: setting profiles and clock sync (issue 20) ----

TEST(Config, FleetDefaultsReadAndWriteNothing) {
  auto c = LoadString("database: { dsn: 'x' }\n", "t", NoEnv());
  EXPECT_TRUE(c.fleet.profiles.empty());
  EXPECT_FALSE(c.fleet.enforce);
  EXPECT_FALSE(c.fleet.max_skew_s.has_value());
  EXPECT_EQ(c.fleet.audit, std::chrono::minutes(5));
}

TEST(Config, FleetProfilesAreTypedByTheReaderCatalogue) {
  auto c = LoadString(R"(database: { dsn: 'x' }
fleet:
  audit_ms: 2000
  enforce: true
  time_sync: { max_skew_s: 2 }
  profiles:
    - name: doors
      groups: [lobby]
      settings:
        launcher.device.door.duration: 5
        launcher.device.bio.iris.fastrecogmode: true
        launcher.device.deviceinfo.devicename: "Lobby 1"
)",
                      "t", NoEnv());
  ASSERT_EQ(c.fleet.profiles.size(), 1u);
  const auto& p = c.fleet.profiles[0];
  EXPECT_EQ(p.name, "doors");
  EXPECT_EQ(p.groups, std::vector<std::string>{"lobby"});
  ASSERT_EQ(p.settings.size(), 3u);
  EXPECT_EQ(p.settings[0].value, SettingValue(std::int32_t{5}));
  EXPECT_EQ(p.settings[1].value, SettingValue(true));
  EXPECT_EQ(p.settings[2].value, SettingValue(std::string("Lobby 1")));
  EXPECT_TRUE(c.fleet.enforce);
  EXPECT_EQ(c.fleet.max_skew_s, 2);
  EXPECT_EQ(c.fleet.audit, std::chrono::milliseconds(2000));
}

TEST(Config, BadFleetProfilesNameThePathAndLine) {
  auto problems = ProblemsOf(R"(database: { dsn: 'x' }
fleet:
  profiles:
    - name: doors
      settings:
        launcher.device.door.duration: 11
        launcher.device.door.nosuchthing: 1
        launcher.device.bio.iris.fastrecogmode: maybe
        launcher.device.deviceinfo.serialnumber: "X"
        launcher.device.volume.devicevolume: loud
    - name: doors
      settings: {}
  time_sync: { max_skew_s: 0 }
  colour: red
)");
  EXPECT_TRUE(HasProblem(problems, "fleet.profiles[0].settings.launcher.device.door.duration", 6));
  EXPECT_TRUE(
      HasProblem(problems, "fleet.profiles[0].settings.launcher.device.door.nosuchthing", 7));
  EXPECT_TRUE(
      HasProblem(problems, "fleet.profiles[0].settings.launcher.device.bio.iris.fastrecogmode", 8));
  EXPECT_TRUE(HasProblem(problems,
                         "fleet.profiles[0].settings.launcher.device.deviceinfo.serialnumber", 9));
  EXPECT_TRUE(
      HasProblem(problems, "fleet.profiles[0].settings.launcher.device.volume.devicevolume", 10));
  EXPECT_TRUE(HasProblem(problems, "fleet.profiles[1].name", 11));
  EXPECT_TRUE(HasProblem(problems, "fleet.profiles[1].settings", 12));
  EXPECT_TRUE(HasProblem(problems, "fleet.time_sync.max_skew_s", 13));
  EXPECT_TRUE(HasProblem(problems, "fleet.colour", 14));
}

TEST(Config, ProfilesThatDisagreeOnOneReaderAreRefused) {
  const std::string yaml = R"(database: { dsn: 'x' }
fleet:
  profiles:
    - name: everyone
      settings: { launcher.device.door.duration: 3 }
    - name: lobby
      groups: [lobby]
      settings:
        launcher.device.door.duration: 5
readers:
  - { id: r1, host: 10.0.0.1, groups: [GROUP] }
)";
  auto with = [&](const std::string& group) {
    std::string y = yaml;
    y.replace(y.find("GROUP"), 5, group);
    return y;
  };
  EXPECT_TRUE(HasProblem(ProblemsOf(with("lobby")),
                         "fleet.profiles[1].settings.launcher.device.door.duration", 9));
  EXPECT_TRUE(ProblemsOf(with("garage")).empty());
}

// ---- end fleet ----

}  // namespace
}  // namespace gw::config
