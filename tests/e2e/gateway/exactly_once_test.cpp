// Invariants 1 and 2 of DESIGN.md, end to end: every log entry a reader produced is stored once.
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

TEST_F(GatewayTest, StoresEveryRecognitionExactlyOnceAtSteadyLoad) {
  constexpr int kReaders = 20;
  StartSim(kReaders, 5.0);
  WriteConfig(Range(kReaders));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(60s);
  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(kReaders), 60s)) << gateway_.Log();
  for (int i = 0; i < kReaders; ++i) {
    ExpectExactlyOnce(i);
    ExpectMatchDataExactlyOnce(i);
  }
  // A recognition is one event carrying both the log entry and its match-data item.
  auto merged = std::stoll(Scalar(dsn_, "SELECT count(*) FROM events WHERE sources = 3"));
  auto recognitions =
      std::stoll(Scalar(dsn_, "SELECT count(*) FROM events WHERE kind = 'recognition'"));
  EXPECT_GT(recognitions, kReaders * 5 * 50);
  EXPECT_GT(merged, recognitions * 9 / 10);
}

TEST_F(GatewayTest, StoresEveryRecognitionExactlyOnceThroughFaults) {
  constexpr int kReaders = 10;
  UsePrivateCluster();
  StartSim(kReaders, 5.0);
  // The default lock policy (wait): the SIGKILL below must not need stealing (invariant 8).
  WriteConfig(Range(kReaders), "polling: { timeout_ms: 1000 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(5s);

  // Standing faults on some readers while the fleet keeps generating.
  Fault(1, R"({"reboot": true})");
  Fault(2, R"({"close_mid_response": 0.2})");
  Fault(3, R"({"latency_ms": 1500})");  // past the 1 s deadline: every request times out
  Fault(4, R"({"steal_lock": true})");
  Fault(5, R"({"malformed_json": 0.2})");
  Fault(6, R"({"error_rate": 0.3})");
  LetRun(10s);
  for (int i : {2, 3, 5, 6}) Fault(i, "{}");
  // Reader 4's lock was taken by another client: under `wait` it is never stolen back. That
  // client's lock goes when the reader restarts; then reader 4 continues where it stood.
  Fault(4, R"({"reboot": true})");

  // PostgreSQL restarts under load: the pollers stop draining, then resume on new connections.
  auto opened = [&] {
    auto text = HttpRequest(api_port_, "GET", "/metrics").body;
    auto pos = text.find("\nef45gw_store_connections_opened_total ");
    return pos == std::string::npos ? -1.0 : std::stod(text.substr(pos + 39));
  };
  auto opened_before = opened();
  ASSERT_GE(opened_before, 1.0);
  RestartDatabase();
  LetRun(5s);
  EXPECT_GT(opened(), opened_before) << "no reconnect counted after the restart";

  // The gateway dies without a chance to flush or release locks, and comes back.
  KillGateway();
  std::this_thread::sleep_for(2s);  // readers keep generating while nobody polls
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(5s);

  // A log wipe on reader 7 once what it had is stored: ids restart, nothing lost or doubled.
  PauseGeneration();
  ASSERT_TRUE(WaitDrained({7}, 60s));
  Fault(7, R"({"wipe_logs": true})");
  ResumeGeneration();
  LetRun(10s);

  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(kReaders), 90s)) << gateway_.Log();
  for (int i = 0; i < kReaders; ++i) {
    ExpectExactlyOnce(i);
    // Readers 1 and 4 rebooted: what their match buffers held then is gone (match_dropped).
    ExpectMatchDataExactlyOnce(i);
  }
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM events WHERE device_id = 'sim-7' AND "
                   "kind = 'device' AND event_type = 'log_reset'"),
            "1");
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM events WHERE kind = 'gap'"), "0");
  // Drained: no reader holds a match-data item any more (all were committed, then deleted).
  auto sim = SimGet("/sim/readers");
  for (const auto& r : sim.as_array()) EXPECT_EQ(r.at("match_pending").to_number<int>(), 0);
}

}  // namespace
}  // namespace gw::test
