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
  auto path = testing::TempDir() + "/metrics.txt";
  std::ofstream(path) << registry.Serialize();
  auto cmd = "promtool check metrics < " + path + " > " + path + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream out(path + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), {});
  EXPECT_EQ(rc, 0) << report;
  std::remove(path.c_str());
}

// The per-reader families live in shards of their own (issue 18: a scrape copies one registry at
// a time); the exposition is the same: each family once, with every reader's series, and the
// fleet-wide families beside them.
TEST(PollMetrics, ShardedFamiliesAppearOnceWithEveryReadersSeries) {
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

}  // namespace
}  // namespace gw::metrics
