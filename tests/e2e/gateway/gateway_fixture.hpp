#pragma once

#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"

namespace gw::test {

/// (log epoch, log id): what identifies a reader log entry across wipes.
using LogKey = std::pair<std::int64_t, std::int64_t>;

/// Reader indices [0, n): the whole fleet of a test.
inline std::vector<int> Range(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

/// Runs ef45-sim, PostgreSQL (shared test cluster, or a private one for tests that restart it)
/// and ef45-gatewayd for one test, and offers the checks the e2e tests share.
class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// A private PostgreSQL cluster for this test (call before StartGateway) so that restarting
  /// it does not disturb tests running in parallel.
  void UsePrivateCluster();
  void RestartDatabase();
  /// An outage of the private cluster: StopDatabase (fast shutdown: sessions are cut), then
  /// StartDatabase on the same port.
  void StopDatabase();
  void StartDatabase();

  void StartSim(int readers, double rate, double door_rate = 0.2);
  /// Writes the config for readers [0, count) (or `indices`) and starts the gateway.
  void WriteConfig(const std::vector<int>& indices, const std::string& extra_yaml = "");
  void StartGateway();
  void KillGateway();  ///< SIGKILL: no flush, no lock release
  bool WaitReady(std::chrono::milliseconds deadline = std::chrono::seconds(60));
  /// Lets the fleet run for `duration`, failing the test if the gateway dies meanwhile.
  void LetRun(std::chrono::seconds duration);

  boost::json::value SimGet(const std::string& target);
  int SimPost(const std::string& target, const std::string& body = "{}");
  void Fault(int reader, const std::string& json) {
    ASSERT_EQ(SimPost("/sim/readers/" + std::to_string(reader) + "/faults", json), 200) << json;
  }
  void PauseGeneration() { ASSERT_EQ(SimPost("/sim/generation/pause"), 200); }
  void ResumeGeneration() { ASSERT_EQ(SimPost("/sim/generation/resume"), 200); }
  boost::json::value GatewayGet(const std::string& target);

  /// Every log entry the simulator generated for reader i.
  std::vector<LogKey> Generated(int reader);
  /// Every reader log entry stored for reader i, with duplicates (there must be none).
  std::vector<LogKey> Stored(int reader);
  /// Waits until every listed reader's generated logs are all stored and its match buffer is
  /// empty (generation should be paused).
  bool WaitDrained(const std::vector<int>& readers, std::chrono::milliseconds deadline);
  /// The reader WaitDrained last found not drained (-1: none yet).
  int undrained_ = -1;
  /// Asserts that reader i's generated logs are stored exactly once each.
  void ExpectExactlyOnce(int reader);
  /// Asserts that every match-data item the simulator generated for reader i (its ledger's
  /// encounter ids) is stored exactly once: one events row with that encounter id, with the
  /// match-data source (sources & 2), and no stored encounter id that was never generated.
  /// Items a reboot emptied from the reader's RAM buffer (the ledger's match_dropped) are not
  /// expected, but must not be stored twice.
  void ExpectMatchDataExactlyOnce(int reader);

  std::string DeviceId(int reader) const { return "sim-" + std::to_string(reader); }
  bool LockIsFree(int reader);

  std::unique_ptr<TempDir> dir_;
  std::string admin_dsn_;
  std::string dsn_;
  std::string db_name_;
  std::string private_pg_;
  Process sim_;
  Process gateway_;
  std::uint16_t control_port_ = 0;
  std::vector<std::uint16_t> reader_ports_;
  std::uint16_t api_port_ = 0;
  std::vector<std::string> sim_args_;  ///< more ef45-sim arguments (e.g. --install-seconds)
  std::string api_extra_;  ///< more keys of the config's `api:` mapping, e.g. ", tokens: [...]"
  /// The config's `security:` line; empty: a data key file written in the test's directory.
  std::string security_yaml_;
  /// security_yaml_, writing the default key file first when it is empty.
  const std::string& SecurityYaml();
  int gateway_starts_ = 0;
  /// More environment for the gateway process ("NAME=value", e.g. SSL_CERT_FILE).
  std::vector<std::string> gateway_env_;
};

}  // namespace gw::test
