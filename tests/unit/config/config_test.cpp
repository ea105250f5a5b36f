#include "config/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

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
      "sync: { policy: mirror, audit_ms: 5000, max_ops_per_second: 7 }\n"
      "cluster: { node_id: gw-a, lease_ms: 6000, renew_ms: 2000 }\n"
      "readers:\n"
      "  - { id: r1, host: 127.0.0.1, groups: [lobby, east] }\n",
      "t", NoEnv());
  EXPECT_EQ(c.sync.policy, SyncPolicy::kMirror);
  EXPECT_EQ(c.sync.audit.count(), 5000);
  EXPECT_EQ(c.sync.max_ops_per_second, 7);
  EXPECT_TRUE(c.cluster.enabled());
  EXPECT_EQ(c.cluster.lease.count(), 6000);
  ASSERT_EQ(c.readers.size(), 1u);
  EXPECT_EQ(c.readers[0].groups, (std::vector<std::string>{"lobby", "east"}));
  EXPECT_FALSE(LoadString("database: { dsn: 'x' }\n", "t", NoEnv()).cluster.enabled());
}

TEST(Config, ClusterRenewMustBeWellInsideTheLease) {
  auto problems = ProblemsOf(
      "database: { dsn: 'x' }\n"
      "cluster: { node_id: gw-a, lease_ms: 4000, renew_ms: 2000 }\n"
      "sync: { policy: sometimes }\n");
  EXPECT_TRUE(HasProblem(problems, "cluster.renew_ms", 2));
  EXPECT_TRUE(HasProblem(problems, "sync.policy", 3));
}

}  // namespace
}  // namespace gw::config
