// Staged firmware rollout (issue 20) through the real gateway: an image is stored once, a
// rollout installs it on a canary reader and then in batches through each reader's worker,
// the readers being upgraded show `maintenance`, a reader whose install fails halts the rollout
// (max_failures), and a gateway stopped or killed in the middle resumes the rollout from
// PostgreSQL without flashing any reader twice.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr int kReaders = 10;
constexpr const char* kOldVersion = "1.2.34";  // what ef45-sim reports before any install
constexpr const char* kNewVersion = "2.0.0";

/// A test image: arbitrary bytes around the label ef45-sim reads the version from.
std::string Image(const std::string& version) {
  std::string image;
  for (int i = 0; i < 200000; ++i) image += static_cast<char>((i * 7919) & 0xff);
  image += "EF45-FIRMWARE-VERSION=" + version + "\n";
  for (int i = 0; i < 1000; ++i) image += static_cast<char>(i & 0xff);
  return image;
}

class RolloutTest : public GatewayTest {
 protected:
  void StartFleet(const std::string& install_seconds) {
    sim_args_ = {"--install-seconds", install_seconds};
    StartSim(kReaders, 0.0, 0.0);
    // Quick recovery after the reboot, and a rollout engine that looks often.
    WriteConfig(Range(kReaders),
                "polling: { backoff_max_ms: 500, health_ms: 2000 }\nfirmware: { check_ms: 200 }\n");
    StartGateway();
    ASSERT_TRUE(WaitReady()) << gateway_.Log();
    ASSERT_TRUE(WaitFor(
        [&] {
          auto devices = GatewayGet("/api/v1/devices");
          if (!devices.is_object()) return false;
          int up = 0;
          for (const auto& d : devices.at("items").as_array()) {
            up += d.at("state").as_string() == "up" ? 1 : 0;
          }
          return up == kReaders;
        },
        30s))
        << gateway_.Log();
  }

  HttpResult Post(const std::string& target, const std::string& body,
                  const std::string& type = "application/json") {
    return HttpRequest(api_port_, "POST", target, body, {{"Content-Type", type}});
  }

  /// Stores the image; returns its sha256.
  std::string Upload(const std::string& version) {
    auto r = Post("/api/v1/fleet/firmware?version=" + version, Image(version),
                  "application/octet-stream");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("image").as_string());
  }

  std::int64_t StartRollout(const std::string& image, int max_failures, int window_s) {
    auto r = Post("/api/v1/fleet/rollouts",
                  json::serialize(json::object{{"image", image},
                                               {"canary", 1},
                                               {"batch", 3},
                                               {"health_window_s", window_s},
                                               {"max_failures", max_failures}}));
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return 0;
    return json::parse(r.body).at("id").as_int64();
  }

  json::value Rollout(std::int64_t id) {
    return GatewayGet("/api/v1/fleet/rollouts/" + std::to_string(id));
  }

  std::string State(std::int64_t id) {
    auto r = Rollout(id);
    return r.is_object() ? std::string(r.at("state").as_string()) : "";
  }

  /// reader id -> its rollout row.
  std::map<std::string, json::object> Steps(const json::value& rollout) {
    std::map<std::string, json::object> out;
    for (const auto& r : rollout.at("readers").as_array()) {
      out[std::string(r.at("device_id").as_string())] = r.as_object();
    }
    return out;
  }

  std::string SimVersion(int reader) {
    return std::string(
        SimGet("/sim/readers/" + std::to_string(reader)).at("app_version").as_string());
  }
  std::int64_t SimInstalls(int reader) {
    return SimGet("/sim/readers/" + std::to_string(reader))
        .at("installs")
        .to_number<std::int64_t>();
  }

  /// Saves the rollout's status JSON (for the closing note) where EF45GW_ROLLOUT_STATUS_OUT
  /// says, if set.
  void SaveStatus(const json::value& status, const char* name) {
    const char* dir = std::getenv("EF45GW_ROLLOUT_STATUS_OUT");
    if (!dir) return;
    std::ofstream(std::string(dir) + "/" + name) << json::serialize(status) << "\n";
  }
};

TEST_F(RolloutTest, CanaryThenBatchesHaltsOnAFailedInstallAndShowsEachReadersVersion) {
  StartFleet("1");
  const auto image = Upload(kNewVersion);
  // The same bytes again: stored once (200, same id); under another label: refused.
  auto again = Post(std::string("/api/v1/fleet/firmware?version=") + kNewVersion,
                    Image(kNewVersion), "application/octet-stream");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body).at("image").as_string(), image);
  EXPECT_EQ(
      Post("/api/v1/fleet/firmware?version=9.9", Image(kNewVersion), "application/octet-stream")
          .status,
      409);
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM firmware_images"), "1");

  // sim-2 is in the first batch (sim-1..sim-3, after the canary sim-0): its install fails.
  Fault(2, R"({"firmware_fail": true})");
  const auto id = StartRollout(image, /*max_failures=*/0, /*window_s=*/30);
  ASSERT_GT(id, 0);

  // While the canary installs, the devices list shows it in maintenance (never down).
  bool saw_maintenance = false;
  bool saw_down = false;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto devices = GatewayGet("/api/v1/devices");
        if (devices.is_object()) {
          for (const auto& d : devices.at("items").as_array()) {
            if (d.at("id").as_string() != DeviceId(0)) continue;
            saw_maintenance |= d.at("state").as_string() == "maintenance";
            saw_down |= d.at("state").as_string() == "down";
          }
        }
        // Halted at once; the rest of the batch finishes its installs.
        auto r = Rollout(id);
        return r.is_object() && r.at("state").as_string() == "halted" &&
               r.at("readers_by_step").at("installing").as_int64() == 0 &&
               r.at("readers_by_step").at("verifying").as_int64() == 0;
      },
      90s, 50ms))
      << gateway_.Log();
  EXPECT_TRUE(saw_maintenance);
  EXPECT_FALSE(saw_down);

  auto status = Rollout(id);
  auto steps = Steps(status);
  ASSERT_EQ(steps.size(), static_cast<std::size_t>(kReaders));
  for (int i : {0, 1, 3}) {
    EXPECT_EQ(steps[DeviceId(i)].at("step").as_string(), "done") << json::serialize(status);
    EXPECT_EQ(steps[DeviceId(i)].at("reported_version").as_string(), kNewVersion);
    EXPECT_EQ(SimVersion(i), kNewVersion);
  }
  EXPECT_EQ(steps[DeviceId(0)].at("wave").as_int64(), 0);
  EXPECT_EQ(steps[DeviceId(3)].at("wave").as_int64(), 1);
  EXPECT_EQ(steps[DeviceId(2)].at("step").as_string(), "failed");
  EXPECT_NE(std::string(steps[DeviceId(2)].at("error").as_string()).find("Upload fail"),
            std::string::npos)
      << json::serialize(steps[DeviceId(2)]);
  EXPECT_EQ(SimVersion(2), kOldVersion);
  // Halted: the later batches never started.
  for (int i = 4; i < kReaders; ++i) {
    EXPECT_EQ(steps[DeviceId(i)].at("step").as_string(), "pending");
    EXPECT_EQ(SimVersion(i), kOldVersion);
    EXPECT_EQ(SimInstalls(i), 0);
  }
  // Every reader's version as its health poll sees it (the upgraded ones after their next one).
  ASSERT_TRUE(WaitFor(
      [&] {
        status = Rollout(id);
        for (const auto& [device, step] : Steps(status)) {
          const bool upgraded = step.at("step").as_string() == "done";
          if (step.at("polled_version") != json::value(upgraded ? kNewVersion : kOldVersion)) {
            return false;
          }
        }
        return true;
      },
      10s))
      << json::serialize(status);
  SaveStatus(status, "rollout_status_example.json");
  EXPECT_EQ(status.at("readers_by_step").at("done").as_int64(), 3);
  EXPECT_EQ(status.at("readers_by_step").at("failed").as_int64(), 1);
  EXPECT_EQ(status.at("readers_by_step").at("pending").as_int64(), 6);

  // No reader stays in maintenance.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto devices = GatewayGet("/api/v1/devices");
        for (const auto& d : devices.at("items").as_array()) {
          if (d.at("state").as_string() == "maintenance") return false;
        }
        return true;
      },
      10s));

  // The progress metric, and every action and install on the audit trail.
  // (The gauge follows the rollout's rows at the engine's next round.)
  const std::string done_series =
      "ef45gw_fleet_rollout_readers{rollout=\"" + std::to_string(id) + "\",step=\"done\"} 3";
  EXPECT_TRUE(WaitFor(
      [&] {
        return HttpRequest(api_port_, "GET", "/metrics").body.find(done_series) !=
               std::string::npos;
      },
      5s))
      << done_series << " not in:\n"
      << HttpRequest(api_port_, "GET", "/metrics").body;
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM events WHERE kind = 'audit' AND payload->>'method' = "
                   "'INSTALL' AND payload->>'status' = '202'"),
            "4");  // canary + the first batch
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM events WHERE kind = 'audit' AND payload->>'route' = "
                   "'/api/v1/fleet/rollouts'"),
            "1");

  // Abort: final; a second abort conflicts.
  EXPECT_EQ(Post("/api/v1/fleet/rollouts/" + std::to_string(id) + "/abort", "").status, 200);
  EXPECT_EQ(State(id), "aborted");
  EXPECT_EQ(Post("/api/v1/fleet/rollouts/" + std::to_string(id) + "/abort", "").status, 409);
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM events WHERE kind = 'audit' AND payload->>'route' = "
                   "'/api/v1/fleet/rollouts/{rollout_id}/abort'"),
            "2");
}

TEST_F(RolloutTest, AGatewayStoppedOrKilledMidRolloutResumesIt) {
  StartFleet("1.5");
  const auto image = Upload(kNewVersion);
  const auto id = StartRollout(image, 0, 60);
  ASSERT_GT(id, 0);

  // Pause and resume on the way (the canary installs whatever the pause).
  EXPECT_EQ(Post("/api/v1/fleet/rollouts/" + std::to_string(id) + "/pause", "").status, 200);
  EXPECT_EQ(State(id), "paused");
  EXPECT_EQ(Post("/api/v1/fleet/rollouts/" + std::to_string(id) + "/resume", "").status, 200);

  // In the middle of a batch: stop (SIGTERM), then start again.
  auto mid_wave = [&](int wave) {
    return [&, wave] {
      auto r = Rollout(id);
      if (!r.is_object() || r.at("wave").as_int64() < wave) return false;
      for (const auto& [device, step] : Steps(r)) {
        if (step.at("wave").as_int64() == wave && (step.at("step").as_string() == "installing" ||
                                                   step.at("step").as_string() == "verifying")) {
          return true;
        }
      }
      return false;
    };
  };
  ASSERT_TRUE(WaitFor(mid_wave(1), 60s, 20ms)) << gateway_.Log();
  gateway_.Signal(SIGTERM);
  const auto exit_code = gateway_.Wait(20s);
  ASSERT_TRUE(exit_code.has_value());
  EXPECT_EQ(*exit_code, 0) << "a clean stop in the middle of a rollout\n" << gateway_.Log();
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();

  // In the middle of the next batch: killed (SIGKILL), then started again.
  ASSERT_TRUE(WaitFor(mid_wave(2), 60s, 20ms)) << gateway_.Log();
  KillGateway();
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();

  ASSERT_TRUE(WaitFor([&] { return State(id) == "completed"; }, 120s)) << gateway_.Log();
  auto status = Rollout(id);
  SaveStatus(status, "rollout_status_restarted.json");
  for (const auto& [device, step] : Steps(status)) {
    EXPECT_EQ(step.at("step").as_string(), "done") << json::serialize(status);
    EXPECT_EQ(step.at("reported_version").as_string(), kNewVersion);
  }
  for (int i = 0; i < kReaders; ++i) {
    EXPECT_EQ(SimVersion(i), kNewVersion);
    EXPECT_EQ(SimInstalls(i), 1) << "reader " << i << " was flashed more than once";
  }
  // And a clean stop once it is over.
  gateway_.Signal(SIGTERM);
  const auto final_exit = gateway_.Wait(20s);
  ASSERT_TRUE(final_exit.has_value());
  EXPECT_EQ(*final_exit, 0) << gateway_.Log();
}

}  // namespace
}  // namespace gw::test
