// /metrics of the running gateway: values move as they must, and Prometheus accepts the text.
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

/// The value of the first sample whose line starts with `series` (name + labels).
std::optional<double> Sample(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return std::nullopt;
  auto start = pos + series.size() + 2;
  return std::stod(text.substr(start, text.find('\n', start) - start));
}

/// Sum of every sample of `name` with label reader="id".
double SumForReader(const std::string& text, const std::string& name, const std::string& id) {
  double sum = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + "{", 0) == 0 && line.find("reader=\"" + id + "\"") != std::string::npos) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

TEST_F(GatewayTest, MetricsFollowReadersAndMatchTheDatabase) {
  StartSim(3, 5.0);
  WriteConfig({0, 1, 2}, "polling: { health_ms: 5000, timeout_ms: 500 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  auto scrape = [&] { return "\n" + HttpRequest(api_port_, "GET", "/metrics").body; };
  ASSERT_TRUE(
      WaitFor([&] { return Sample(scrape(), "ef45gw_reader_up{reader=\"sim-2\"}") == 1.0; }, 20s));

  // A reader that stops answering shows up 0, with its reason, within two health intervals.
  Fault(2, R"({"hang": true})");
  ASSERT_TRUE(
      WaitFor([&] { return Sample(scrape(), "ef45gw_reader_up{reader=\"sim-2\"}") == 0.0; }, 10s));
  auto text = scrape();
  // The lock we held before the hang is still ours as far as we know.
  EXPECT_NE(text.find("ef45gw_reader_state{lock=\"gateway\",reader=\"sim-2\",reason=\"timeout\","
                      "state=\"down\"} 1"),
            std::string::npos)
      << text;
  EXPECT_GT(SumForReader(text, "ef45gw_poll_errors_total", "sim-2"), 0);
  EXPECT_EQ(Sample(text, "ef45gw_reader_up{reader=\"sim-0\"}"), 1.0);
  Fault(2, "{}");

  // Counters agree with PostgreSQL once the fleet is drained.
  PauseGeneration();
  ASSERT_TRUE(WaitDrained({0, 1, 2}, 90s)) << gateway_.Log();
  text = scrape();
  EXPECT_EQ(Sample(text, "ef45gw_store_rows_total{result=\"inserted\"}"),
            std::stod(Scalar(dsn_, "SELECT count(*) FROM events")));
  for (int i = 0; i < 3; ++i) {
    // One count per event a batch carried: an event enriched by a later batch counts twice.
    auto expected = std::stod(Scalar(
        dsn_, "SELECT count(*) + coalesce(sum(revision - 1), 0) FROM events WHERE device_id = '" +
                  DeviceId(i) + "'"));
    EXPECT_EQ(SumForReader(text, "ef45gw_events_ingested_total", DeviceId(i)), expected)
        << DeviceId(i);
    EXPECT_EQ(Sample(text, "ef45gw_log_cursor{reader=\"" + DeviceId(i) + "\"}"),
              std::stod(Scalar(dsn_, "SELECT last_log_id FROM device_cursors WHERE device_id = '" +
                                         DeviceId(i) + "'")));
  }
  EXPECT_EQ(Sample(text, "ef45gw_db_up"), 1.0);
  EXPECT_GT(Sample(text, "ef45gw_store_commit_duration_seconds_count").value_or(0), 0);
  EXPECT_GT(Sample(text, "ef45gw_api_requests_total{code=\"2xx\",method=\"GET\",route=\"/readyz\"}")
                .value_or(0),
            0);

  // Poll durations: one histogram per kind for the whole fleet, a gauge per reader and kind
  // (a histogram per reader made /metrics ~8 MB at 1,000 readers).
  EXPECT_GT(Sample(text, "ef45gw_poll_duration_seconds_count{kind=\"door\"}").value_or(0), 0);
  EXPECT_TRUE(Sample(text, "ef45gw_poll_last_duration_seconds{kind=\"door\",reader=\"sim-0\"}"))
      << text;
  std::size_t reader_series = 0;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) {
      if (l.rfind("ef45gw_poll_duration_seconds", 0) == 0) {
        EXPECT_EQ(l.find("reader="), std::string::npos) << l;
      }
      if (l.rfind("#", 0) != 0 && l.find("reader=\"sim-0\"") != std::string::npos) {
        ++reader_series;
      }
    }
  }
  EXPECT_LE(reader_series, 35u) << "series per reader";

  // Every ef45gw_ metric the dashboard and the alert rules use is exported (histograms by
  // their _bucket/_count series).
  std::set<std::string> exported;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      auto name = line.substr(7, line.find(' ', 7) - 7);
      exported.insert(name);
      for (const char* suffix : {"_bucket", "_count", "_sum"}) exported.insert(name + suffix);
    }
  }
  for (const char* file : {"/deploy/grafana/ef45-gateway.json", "/deploy/prometheus/alerts.yml"}) {
    auto content = ReadFile(SourceDir() + file);
    ASSERT_FALSE(content.empty()) << file;
    std::regex name_re("ef45gw_[a-z_]+");
    for (auto it = std::sregex_iterator(content.begin(), content.end(), name_re);
         it != std::sregex_iterator(); ++it) {
      // Exported in cluster mode only: tests/e2e/cluster checks those.
      if (it->str().rfind("ef45gw_cluster_", 0) == 0) continue;
      // Exported once a webhook subscription exists: tests/e2e/webhook checks those.
      if (it->str().rfind("ef45gw_webhook_", 0) == 0) continue;
      // Exported once fleet.profiles or fleet.time_sync is set (tests/e2e/fleet checks
      // those) or once a firmware rollout exists (tests/e2e/rollout).
      if (it->str().rfind("ef45gw_fleet_", 0) == 0) continue;
      EXPECT_TRUE(exported.count(it->str()))
          << file << " uses " << it->str() << ", which the gateway does not export";
    }
  }

  // What Prometheus itself would say about the exposition.
  WriteFile(dir_->File("metrics.txt"), text.substr(1));
  EXPECT_EQ(Shell("promtool check metrics < " + dir_->File("metrics.txt") + " > " +
                  dir_->File("promtool.txt") + " 2>&1"),
            0)
      << ReadFile(dir_->File("promtool.txt"));
}

}  // namespace
}  // namespace gw::test
