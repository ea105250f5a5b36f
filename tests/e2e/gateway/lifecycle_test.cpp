// Start-up, SIGTERM, SIGHUP and check-config of the real binary.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

TEST_F(GatewayTest, SigtermReleasesEveryLockAndExitsZero) {
  StartSim(5, 1.0);
  WriteConfig({0, 1, 2, 3, 4});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  ASSERT_TRUE(WaitFor([&] { return !LockIsFree(0) && !LockIsFree(4); }, 20s));
  gateway_.Signal(SIGTERM);
  auto status = gateway_.Wait(15s);
  ASSERT_TRUE(status.has_value()) << "did not exit within the deadline";
  EXPECT_EQ(*status, 0) << gateway_.Log();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(LockIsFree(i)) << "reader " << i << " still locked";
}

TEST_F(GatewayTest, SighupAddsAndRemovesReadersWithoutDisturbingOthers) {
  StartSim(4, 2.0);
  WriteConfig({0, 1, 2});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  ASSERT_TRUE(WaitFor([&] { return !LockIsFree(0) && !LockIsFree(2); }, 20s));
  auto before = GatewayGet("/api/v1/devices/sim-1");
  ASSERT_FALSE(before.is_null());
  auto committed_before = before.at("events_committed").to_number<std::int64_t>();

  WriteConfig({0, 1, 3});  // 2 removed, 3 added, 0 and 1 unchanged
  gateway_.Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return !GatewayGet("/api/v1/devices/sim-3").is_null(); }, 20s));
  EXPECT_TRUE(WaitFor([&] { return LockIsFree(2); }, 20s)) << "removed reader still locked";
  EXPECT_TRUE(GatewayGet("/api/v1/devices/sim-2").is_null());
  EXPECT_TRUE(WaitFor([&] { return !LockIsFree(3); }, 20s)) << "added reader not polled";
  // Unchanged readers kept their worker: its counter did not restart from zero.
  auto after = GatewayGet("/api/v1/devices/sim-1");
  ASSERT_FALSE(after.is_null());
  EXPECT_GE(after.at("events_committed").to_number<std::int64_t>(), committed_before);
  EXPECT_TRUE(gateway_.Running());
}

TEST_F(GatewayTest, ReaderDownShowsStateAndReasonThenRecovers) {
  StartSim(2, 1.0);
  WriteConfig({0, 1}, "polling: { timeout_ms: 500, door_ms: 200 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  auto state = [&](const char* id) {
    auto v = GatewayGet(std::string("/api/v1/devices/") + id);
    return v.is_null() ? std::string() : std::string(v.at("state").as_string());
  };
  ASSERT_TRUE(WaitFor([&] { return state("sim-1") == "up"; }, 20s));
  Fault(1, R"({"hang": true})");
  ASSERT_TRUE(WaitFor([&] { return state("sim-1") == "down"; }, 30s));
  auto v = GatewayGet("/api/v1/devices/sim-1");
  EXPECT_EQ(v.at("reason").as_string(), "timeout");
  EXPECT_EQ(state("sim-0"), "up");  // one hung reader does not stall the others
  Fault(1, "{}");
  EXPECT_TRUE(WaitFor([&] { return state("sim-1") == "up"; }, 90s));
}

TEST_F(GatewayTest, MeasuresReaderClockSkewOnHealthChecks) {
  StartSim(2, 0.0);
  Fault(1, R"({"clock_skew_s": -120})");
  WriteConfig({0, 1}, "polling: { health_ms: 1000 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  auto skew = [&](const char* id) -> std::optional<double> {
    auto v = GatewayGet(std::string("/api/v1/devices/") + id);
    if (v.is_null() || v.at("clock_skew_s").is_null()) return std::nullopt;
    return v.at("clock_skew_s").to_number<double>();
  };
  ASSERT_TRUE(WaitFor([&] { return skew("sim-0") && skew("sim-1"); }, 20s));
  EXPECT_NEAR(*skew("sim-0"), 0.0, 1.5);
  EXPECT_NEAR(*skew("sim-1"), -120.0, 1.5);
  auto metrics = HttpRequest(api_port_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("ef45gw_reader_clock_skew_seconds{reader=\"sim-1\"} -1"),
            std::string::npos);
}

/// Collects sd_notify datagrams sent to a socket of ours (what systemd would receive).
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  ~NotifySocket() { ::close(fd_); }
  /// Everything received so far, one message per line.
  std::string Drain() {
    char buf[4096];
    while (true) {
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n)).push_back('\n');
    }
    return received_;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string received_;
};

TEST_F(GatewayTest, NotifiesSystemdWhenReadyPingsTheWatchdogAndSaysStopping) {
  StartSim(2, 0.0);
  WriteConfig({0, 1});
  NotifySocket notify(dir_->File("notify.sock"));
  gateway_ = Process(
      {BinaryDir() + "/daemon/ef45-gatewayd", "run", "--config", dir_->File("gateway.yaml")},
      dir_->File("gateway.log"),
      {"NOTIFY_SOCKET=" + dir_->File("notify.sock"), "WATCHDOG_USEC=400000"});
  ASSERT_TRUE(WaitFor([&] { return notify.Drain().find("READY=1") != std::string::npos; }, 60s))
      << gateway_.Log();
  // Ready means migrated: the schema is there when systemd is told so.
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) > 0 FROM schema_migrations"), "t");
  // Pinged every WatchdogSec/2 from the event loop.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto all = notify.Drain();
        std::size_t n = 0;
        for (auto pos = all.find("WATCHDOG=1"); pos != std::string::npos;
             pos = all.find("WATCHDOG=1", pos + 1)) {
          ++n;
        }
        return n >= 3;
      },
      10s));
  gateway_.Signal(SIGTERM);
  EXPECT_EQ(gateway_.Wait(15s), 0);
  EXPECT_NE(notify.Drain().find("STOPPING=1"), std::string::npos);
}

TEST_F(GatewayTest, MigrateAppliesOnceAndRefusesANewerSchema) {
  WriteFile(dir_->File("gateway.yaml"), "database: { dsn: \"" + dsn_ + "\" }\n");
  auto migrate = [&](const std::string& log) {
    Process p(
        {BinaryDir() + "/daemon/ef45-gatewayd", "migrate", "--config", dir_->File("gateway.yaml")},
        dir_->File(log));
    auto status = p.Wait(60s);
    return std::make_pair(status.value_or(-1), p.Log());
  };
  auto [first, first_log] = migrate("m1.log");
  EXPECT_EQ(first, 0) << first_log;
  EXPECT_NE(first_log.find("applied 0001_initial"), std::string::npos) << first_log;
  auto [again, again_log] = migrate("m2.log");
  EXPECT_EQ(again, 0) << again_log;
  EXPECT_NE(again_log.find("schema is current"), std::string::npos) << again_log;
  // Every file in migrations/ applied once, none twice.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/migrations")) {
    if (entry.path().extension() == ".sql") ++files;
  }
  EXPECT_GE(files, 1);
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM schema_migrations"), std::to_string(files));
  EXPECT_EQ(Scalar(dsn_, "SELECT count(DISTINCT version) FROM schema_migrations"),
            std::to_string(files));
  // A database migrated by a newer gateway: this binary must not touch it, nor run on it.
  Exec(dsn_,
       "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, "
       "'9999_future', 'x')");
  auto [newer, newer_log] = migrate("m3.log");
  EXPECT_EQ(newer, 1);
  EXPECT_NE(newer_log.find("newer"), std::string::npos) << newer_log;
  StartSim(1, 0.0);
  WriteConfig({0});
  StartGateway();
  EXPECT_EQ(gateway_.Wait(30s), 1) << gateway_.Log();
  EXPECT_NE(gateway_.Log().find("newer"), std::string::npos) << gateway_.Log();
}

TEST(GatewayCheckConfig, RejectsBrokenConfigsWithPathAndLine) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"readers: []\n", "database.dsn"},
      {"database: { dsn: x }\npolling: { door_ms: 0 }\n", "polling.door_ms (line 2)"},
      {"database: { dsn: x }\nreaders:\n  - { id: a, host: h, port: 1 }\n  - { id: a, host: h, "
       "port: 2 }\n",
       "duplicate reader id"},
      {"database: { dsn: x }\nreaders:\n  - { id: a, host: h, port: 1 }\n  - { id: b, host: h, "
       "port: 1 }\n",
       "duplicate reader address h:1"},
      {"database: { dsn: x }\nlock: { on_conflict: maybe }\n", "lock.on_conflict (line 2)"},
      {"database: { dsn: x }\nspeling: 1\n", "speling (line 2): unknown key"},
      {"database: [\n", "line"},
  };
  for (const auto& c : cases) {
    WriteFile(dir.File("bad.yaml"), c.yaml);
    Process p(
        {BinaryDir() + "/daemon/ef45-gatewayd", "check-config", "--config", dir.File("bad.yaml")},
        dir.File("out.log"));
    auto status = p.Wait(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 1) << c.yaml;
    EXPECT_NE(p.Log().find(c.expected), std::string::npos) << c.yaml << "\n" << p.Log();
    std::remove(dir.File("out.log").c_str());
  }
  // The example names /etc/ef45-gateway/data.keys; the environment points at a test key.
  WriteDataKeys(dir.File("data.keys"));
  Process ok({BinaryDir() + "/daemon/ef45-gatewayd", "check-config", "--config",
              SourceDir() + "/config/gateway.example.yaml"},
             dir.File("ok.log"), {"EF45GW_DATA_KEYS_FILE=" + dir.File("data.keys")});
  EXPECT_EQ(ok.Wait(10s), 0) << ok.Log();
  // A key file others may read is refused, naming the file.
  std::filesystem::permissions(dir.File("data.keys"), std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  Process loose({BinaryDir() + "/daemon/ef45-gatewayd", "check-config", "--config",
                 SourceDir() + "/config/gateway.example.yaml"},
                dir.File("loose.log"), {"EF45GW_DATA_KEYS_FILE=" + dir.File("data.keys")});
  EXPECT_EQ(loose.Wait(10s), 1) << loose.Log();
  EXPECT_NE(loose.Log().find(dir.File("data.keys")), std::string::npos) << loose.Log();
}

}  // namespace
}  // namespace gw::test
