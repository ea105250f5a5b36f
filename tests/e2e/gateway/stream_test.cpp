// The live event stream: resumable, in seq order, exactly once across reconnects.
#include <sstream>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

/// The ids of the complete events (terminated by a blank line) in a raw SSE response.
std::vector<std::int64_t> CompleteEventIds(const std::string& raw) {
  std::vector<std::int64_t> ids;
  auto body = raw.find("\r\n\r\n");
  if (body == std::string::npos) return ids;
  std::size_t pos = body + 4;
  while (true) {
    auto end = raw.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::istringstream block(raw.substr(pos, end - pos));
    std::string line;
    while (std::getline(block, line)) {
      if (line.rfind("id: ", 0) == 0) ids.push_back(std::stoll(line.substr(4)));
    }
    pos = end + 2;
  }
  return ids;
}

class StreamTest : public GatewayTest {
 protected:
  /// Three connections, each cut by the client, each resuming where the last ended; then every
  /// stored event must have been delivered once, in seq order. `before`: how long events
  /// accumulate before the first connection.
  void ResumeExactlyOnce(std::chrono::seconds before);
};

TEST_F(StreamTest, ResumesWithLastEventIdExactlyOnceInSeqOrder) { ResumeExactlyOnce(0s); }

TEST_F(StreamTest, ResumesThroughPostgresWhenBehindTheSharedWindow) {
  // A window of 50 events: the first connection (from seq 0, after ~8 s of events) and each
  // resume start behind it, read PostgreSQL, then switch to the shared feed.
  api_extra_ = ", stream_window: 50";
  ResumeExactlyOnce(8s);
}

void StreamTest::ResumeExactlyOnce(std::chrono::seconds before) {
  StartSim(3, 5.0);
  WriteConfig({0, 1, 2});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  if (before.count() > 0) LetRun(before);
  std::vector<std::int64_t> seen;
  std::string last_id;
  // Three connections, each cut by the client after a while; each resumes where the last ended.
  for (int round = 0; round < 3; ++round) {
    HttpClient client("127.0.0.1", api_port_, 2s);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!last_id.empty()) headers.emplace_back("Last-Event-ID", last_id);
    auto raw = client.RequestRaw("GET", "/api/v1/events/stream", 4 << 20, headers);
    ASSERT_NE(raw.find("text/event-stream"), std::string::npos) << raw.substr(0, 300);
    auto ids = CompleteEventIds(raw);
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!seen.empty()) last_id = std::to_string(seen.back());
  }
  PauseGeneration();
  ASSERT_TRUE(WaitDrained({0, 1, 2}, 60s));
  HttpClient client("127.0.0.1", api_port_, 2s);
  auto rest = CompleteEventIds(
      client.RequestRaw("GET", "/api/v1/events/stream", 4 << 20, {{"Last-Event-ID", last_id}}));
  seen.insert(seen.end(), rest.begin(), rest.end());

  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) {
    ASSERT_LT(seen[i - 1], seen[i]) << "not strictly increasing at " << i;
  }
  std::vector<std::int64_t> stored;
  for (const auto& row : Query(dsn_, "SELECT seq FROM events ORDER BY seq")) {
    stored.push_back(std::stoll(row[0]));
  }
  EXPECT_EQ(seen, stored);  // every committed event, once, in seq order
}

TEST_F(GatewayTest, StreamFiltersAndRejectsBadInput) {
  StartSim(2, 5.0);
  WriteConfig({0, 1});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  HttpClient client("127.0.0.1", api_port_, 2s);
  auto raw =
      client.RequestRaw("GET", "/api/v1/events/stream?device=sim-1&kind=recognition", 1 << 20);
  auto ids = CompleteEventIds(raw);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(raw.find("\"device_id\":\"sim-0\""), std::string::npos);
  EXPECT_EQ(raw.find("event: door"), std::string::npos);
  auto bad = HttpRequest(api_port_, "GET", "/api/v1/events/stream?kind=bogus");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"field\":\"kind\""), std::string::npos);
  auto bad_id =
      HttpRequest(api_port_, "GET", "/api/v1/events/stream", "", {{"Last-Event-ID", "x"}});
  EXPECT_EQ(bad_id.status, 400);
}

}  // namespace
}  // namespace gw::test
