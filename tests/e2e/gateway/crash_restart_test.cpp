// DESIGN.md invariant 8 under the default lock policy (`wait`): a gateway killed with SIGKILL
// and started again (systemd's Restart=on-failure after a crash, an OOM kill, a power cut)
// resumes the reader locks it recorded, so every reader is polled again at once and every event
// is stored exactly once. A lock a third party took is never stolen: that reader stays
// lock_conflict (held by another client) until the lock is gone, then continues exactly once.
#include <boost/json/serialize.hpp>
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

/// The value of one sample line of the gateway's /metrics (`name{labels}`), or -1.
double Sample(std::uint16_t port, const std::string& series) {
  auto text = HttpRequest(port, "GET", "/metrics").body;
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + series.size() + 2));
}

class CrashRestartTest : public GatewayTest {
 protected:
  /// Reader i as GET /api/v1/devices shows it (empty if missing).
  boost::json::object Device(const boost::json::value& devices, int reader) {
    if (!devices.is_object() || !devices.as_object().contains("items")) return {};
    for (const auto& d : devices.at("items").as_array()) {
      if (d.at("id").as_string() == DeviceId(reader)) return d.as_object();
    }
    return {};
  }
};

TEST_F(CrashRestartTest, AKilledGatewayResumesItsOwnLocksUnderTheDefaultPolicy) {
  constexpr int kReaders = 10;
  constexpr int kThirdParty = 3;  // a technician's tool takes this reader over
  StartSim(kReaders, 5.0);
  WriteConfig(Range(kReaders));  // lock.on_conflict defaults to wait
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto devices = GatewayGet("/api/v1/devices");
        for (int i = 0; i < kReaders; ++i) {
          auto d = Device(devices, i);
          if (d.empty() || d.at("lock_holder").as_string() != "gateway") return false;
        }
        return true;
      },
      30s))
      << gateway_.Log();
  // Every lock was on record before it was used.
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM reader_locks"), std::to_string(kReaders));
  LetRun(3s);

  KillGateway();
  // Readers keep generating recognitions and match-data while nobody polls them, and one of
  // them is taken over by another client meanwhile.
  Fault(kThirdParty, R"({"steal_lock": true})");
  std::this_thread::sleep_for(2s);
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  const auto started = std::chrono::steady_clock::now();

  // Every other reader is up with the lock it had, without a POST /lock and without stealing;
  // polled again within one door interval (1 s) of start-up, plus the spread of first polls.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto devices = GatewayGet("/api/v1/devices");
        for (int i = 0; i < kReaders; ++i) {
          if (i == kThirdParty) continue;
          auto d = Device(devices, i);
          if (d.empty() || d.at("state").as_string() != "up" ||
              d.at("lock_holder").as_string() != "gateway" || d.at("last_seen").is_null()) {
            return false;
          }
        }
        return true;
      },
      20s, 50ms))
      << gateway_.Log();
  auto took = std::chrono::steady_clock::now() - started;
  RecordProperty(
      "readers_up_after_restart_ms",
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  for (int i = 0; i < kReaders; ++i) {
    if (i == kThirdParty) continue;
    EXPECT_EQ(Sample(api_port_, "ef45gw_reader_lock_resumed_total{reader=\"" + DeviceId(i) + "\"}"),
              1)
        << DeviceId(i);
  }

  // The reader someone else took stays theirs: lock_conflict, held by another client.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto d = Device(GatewayGet("/api/v1/devices"), kThirdParty);
        return !d.empty() && d.at("reason").is_string() &&
               d.at("reason").as_string() == "lock_conflict" &&
               d.at("lock_holder").as_string() == "other_client";
      },
      20s))
      << gateway_.Log();
  LetRun(3s);
  {
    auto d = Device(GatewayGet("/api/v1/devices"), kThirdParty);
    EXPECT_EQ(d.at("lock_holder").as_string(), "other_client");
    EXPECT_TRUE(SimGet("/sim/readers/" + std::to_string(kThirdParty)).at("locked").as_bool());
    auto metrics = HttpRequest(api_port_, "GET", "/metrics").body;
    EXPECT_NE(metrics.find("ef45gw_reader_state{lock=\"other_client\",reader=\"" +
                           DeviceId(kThirdParty) + "\""),
              std::string::npos);
  }
  // The other client's lock goes away (the reader reboots): the reader continues exactly once.
  Fault(kThirdParty, R"({"reboot": true})");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto d = Device(GatewayGet("/api/v1/devices"), kThirdParty);
        return !d.empty() && d.at("state").as_string() == "up" &&
               d.at("lock_holder").as_string() == "gateway";
      },
      30s))
      << boost::json::serialize(Device(GatewayGet("/api/v1/devices"), kThirdParty)) << "\n"
      << gateway_.Log();
  LetRun(3s);

  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(kReaders), 90s)) << gateway_.Log();
  for (int i = 0; i < kReaders; ++i) ExpectExactlyOnce(i);
  auto sim = SimGet("/sim/readers");
  for (const auto& r : sim.as_array()) EXPECT_EQ(r.at("match_pending").to_number<int>(), 0);
}

TEST_F(CrashRestartTest, ACleanStopForgetsTheLocksItReleased) {
  constexpr int kReaders = 3;
  StartSim(kReaders, 1.0);
  WriteConfig(Range(kReaders));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  ASSERT_TRUE(WaitFor(
      [&] { return Scalar(dsn_, "SELECT count(*) FROM reader_locks") == std::to_string(kReaders); },
      30s));
  gateway_.Signal(SIGTERM);
  ASSERT_EQ(gateway_.Wait(20s), 0) << gateway_.Log();
  for (int i = 0; i < kReaders; ++i) EXPECT_TRUE(LockIsFree(i));
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM reader_locks"), "0");
}

}  // namespace
}  // namespace gw::test
