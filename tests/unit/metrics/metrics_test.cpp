#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <vector>

#include "common/version.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/poll_metrics.hpp"
#include "support/wait.hpp"

namespace gw::metrics {
namespace {

int Lines(const std::string& text, const std::string& prefix) {
  int n = 0;
  std::size_t at = 0;
  while ((at = text.find("\n" + prefix, at)) != std::string::npos) {
    ++n;
    ++at;
  }
  return n;
}

TEST(ApiMetrics, MadeUpMethodsShareOneLabel) {
  Registry registry;
  ApiMetrics api(registry.get());
  api.ObserveRequest("unmatched", "GET", 404, 0.001);
  api.ObserveRequest("unmatched", "BREW", 404, 0.001);
  const int before = Lines(registry.Serialize(), "ef45gw_api_requests_total{");
  for (int i = 0; i < 1000; ++i) {
    api.ObserveRequest("unmatched", "M" + std::to_string(i), 404, 0.001);
  }
  auto text = registry.Serialize();
  EXPECT_EQ(Lines(text, "ef45gw_api_requests_total{"), before);
  EXPECT_NE(text.find("method=\"other\""), std::string::npos);
  EXPECT_EQ(text.find("M999"), std::string::npos);
  EXPECT_NE(text.find("ef45gw_api_insecure 0"), std::string::npos);
  api.SetInsecure(true);
  EXPECT_NE(registry.Serialize().find("ef45gw_api_insecure 1"), std::string::npos);
}

TEST(Metrics, ExposesBuildInfoAndProcessMetrics) {
  Registry registry;
  BuildMetrics build(registry.get());
  auto text = registry.Serialize();
  EXPECT_NE(text.find("ef45gw_build_info{commit=\"" + std::string(GitCommit()) + "\",version=\"" +
                      std::string(Version()) + "\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("process_open_fds "), std::string::npos);
}

TEST(Metrics, ExpositionPassesPromtool) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (deploy/install-deps.sh installs it)";
  }
  Registry registry;
  BuildMetrics build(registry.get());
  auto& hist = prometheus::BuildHistogram()
                   .Name("ef45gw_test_duration_seconds")
                   .Help("A test histogram.")
                   .Register(registry.get());
  hist.Add({{"reader", "r1"}}, LatencyBuckets()).Observe(0.02);
  PollMetrics poll(registry);  // the reader table writes its own text
  ReaderMetrics reader(poll, "r1");
  reader.SetState("degraded", "timeout", "gateway", true);
  reader.CountError(2, "timeout");
  reader.CountEvents("recognition", 4);
  reader.CountQuarantined("bad_text", 1);
  auto path = testing::TempDir() + "/metrics.txt";
  std::ofstream(path) << registry.Serialize();
  auto cmd = "promtool check metrics < " + path + " > " + path + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream out(path + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), {});
  EXPECT_EQ(rc, 0) << report;
  std::remove(path.c_str());
}

// The per-reader series live in a table of their own (issue 18: ~0.4 KB a reader against ~8.5
// KB as prometheus-cpp series); the exposition is the same: each family once, with every
// reader's series, and the fleet-wide families beside them.
TEST(PollMetrics, EachFamilyAppearsOnceWithEveryReadersSeries) {
  Registry registry;
  PollMetrics families(registry);
  std::vector<std::unique_ptr<ReaderMetrics>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::make_unique<ReaderMetrics>(families, "r" + std::to_string(i)));
    readers.back()->SetCursor(10 + i);
    readers.back()->ObservePoll(1, 0.01);
  }
  auto text = registry.Serialize();
  EXPECT_EQ(Lines(text, "# TYPE ef45gw_log_cursor gauge"), 1) << text;
  EXPECT_EQ(Lines(text, "ef45gw_log_cursor{"), 3) << text;
  EXPECT_NE(text.find("ef45gw_log_cursor{reader=\"r2\"} 12"), std::string::npos) << text;
  EXPECT_EQ(Lines(text, "# TYPE ef45gw_poll_duration_seconds histogram"), 1) << text;
  readers.pop_back();  // a reader removed: its series go with it
  EXPECT_EQ(Lines(registry.Serialize(), "ef45gw_log_cursor{"), 2);
}

TEST(PollMetrics, ReaderSeriesHaveTheirLabelsInNameOrderWithValuesEscaped) {
  Registry registry;
  PollMetrics families(registry);
  ReaderMetrics r(families, "door-1");
  r.SetState("down", "bad \"reply\"\nhere", "gateway", false);
  r.CountError(1, "timeout");
  r.CountError(1, "timeout");
  r.CountError(2, "refused");
  r.CountEvents("recognition", 3);
  r.CountEvents("recognition", 2);
  r.SetDoor(1, 0, 0, 1);
  r.SetLastSuccess(1764756000.25);
  r.CountQuarantined("bad_text", 1);
  r.CountQuarantined("something_new", 2);
  CountQuarantined(families, "gone-7", "bad_time");  // a reader no worker polls any more
  auto text = registry.Serialize();
  for (
      const char* line : {
          R"(ef45gw_reader_up{reader="door-1"} 0)",
          R"(ef45gw_reader_state{lock="gateway",reader="door-1",reason="bad \"reply\"\nhere",state="down"} 1)",
          R"(ef45gw_poll_errors_total{kind="door",reader="door-1",reason="timeout"} 2)",
          R"(ef45gw_poll_errors_total{kind="match",reader="door-1",reason="refused"} 1)",
          R"(ef45gw_events_ingested_total{kind="recognition",reader="door-1"} 5)",
          R"(ef45gw_door_status{field="rte",reader="door-1"} 1)",
          R"(ef45gw_reader_last_success_timestamp_seconds{reader="door-1"} 1764756000.25)",
          R"(ef45gw_events_quarantined_total{reader="door-1",reason="bad_text"} 1)",
          R"(ef45gw_events_quarantined_total{reader="door-1",reason="too_large"} 0)",
          R"(ef45gw_events_quarantined_total{reader="door-1",reason="something_new"} 2)",
          R"(ef45gw_events_quarantined_total{reader="gone-7",reason="bad_time"} 1)",
          "# TYPE ef45gw_poll_errors_total counter",
      }) {
    EXPECT_EQ(Lines(text, std::string(line) + "\n"), 1) << line << "\n" << text;
  }
  r.SetState("up", "", "gateway", true);
  text = registry.Serialize();
  EXPECT_EQ(Lines(text, "ef45gw_reader_state{"), 1) << "one state series at a time";
  EXPECT_EQ(
      Lines(text, R"(ef45gw_reader_state{lock="gateway",reader="door-1",reason="",state="up"} 1)"),
      1);
}

TEST(PollMetrics, AReaderReAddedBeforeItsOldWorkerLeftKeepsItsSeries) {
  Registry registry;
  PollMetrics families(registry);
  auto old_worker = std::make_unique<ReaderMetrics>(families, "r1");
  ReaderMetrics new_worker(families, "r1");
  new_worker.SetCursor(42);
  old_worker.reset();
  EXPECT_EQ(Lines(registry.Serialize(), "ef45gw_log_cursor{reader=\"r1\"} 42"), 1);
}

}  // namespace
}  // namespace gw::metrics
