// DESIGN.md invariant 8, end to end: no single bad entry, and no absurd answer from a broken
// reader, stops a reader's ingestion or floods the store.
#include <boost/json.hpp>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The logs interval the tests configure; every deadline below is a multiple of it.
constexpr auto kLogsInterval = 500ms;
constexpr auto kDeadline = 120 * kLogsInterval;

std::string DeviceWhere(const std::string& device) { return "device_id = '" + device + "'"; }

class BadEntryTest : public GatewayTest {
 protected:
  /// Log ids of reader i's ledger entries that fault poison_log spoiled.
  std::vector<std::int64_t> Poisoned(int reader) {
    std::vector<std::int64_t> out;
    auto v = SimGet("/sim/readers/" + std::to_string(reader) + "/generated?limit=10000");
    if (v.is_null()) return out;
    for (const auto& e : v.at("items").as_array()) {
      if (e.as_object().contains("poison")) out.push_back(e.at("log_id").to_number<std::int64_t>());
    }
    return out;
  }
  std::int64_t Cursor(int reader) {
    return std::stoll(
        Scalar(dsn_, "SELECT coalesce(max(last_log_id), -1) FROM device_cursors WHERE " +
                         DeviceWhere(DeviceId(reader))));
  }
  std::int64_t SimLastLogId(int reader) {
    auto v = SimGet("/sim/readers/" + std::to_string(reader));
    return v.is_null() ? -1 : v.at("last_log_id").to_number<std::int64_t>();
  }
  std::int64_t CountEvents(int reader, const std::string& where) {
    return std::stoll(Scalar(dsn_, "SELECT count(*) FROM events WHERE " +
                                       DeviceWhere(DeviceId(reader)) + " AND " + where));
  }
  /// The value of one /metrics series, or -1 when it is absent.
  double Metric(const std::string& series) {
    auto text = HttpRequest(api_port_, "GET", "/metrics").body;
    auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(text.substr(pos + series.size() + 2));
  }
  /// Waits until the gateway's cursor for `reader` is past what the reader had at the call
  /// (so at least one more logs cycle, and the checks in it, ran).
  bool WaitCursorPastNow(int reader) {
    auto target = SimLastLogId(reader) + 1;
    return WaitFor([&] { return Cursor(reader) >= target; }, kDeadline, 100ms);
  }
};

TEST_F(BadEntryTest, PoisonedEntriesAreStoredSanitisedOrAsGapsAndIngestionGoesOn) {
  StartSim(3, 4.0);
  WriteConfig({0, 1, 2}, "polling: { logs_ms: 500 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitCursorPastNow(i)) << gateway_.Log();

  Fault(0, R"({"poison_log": "nul"})");
  Fault(1, R"({"poison_log": "year0"})");
  Fault(2, R"({"poison_log": "huge"})");
  std::vector<std::int64_t> bad(3, -1);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 3; ++i) {
          auto p = Poisoned(i);
          if (p.empty()) return false;
          bad[static_cast<std::size_t>(i)] = p.front();
        }
        return true;
      },
      kDeadline, 100ms));
  // Later recognitions keep arriving past each poisoned entry.
  for (int i = 0; i < 3; ++i) {
    auto id = bad[static_cast<std::size_t>(i)];
    ASSERT_TRUE(
        WaitFor([&] { return CountEvents(i, "device_log_id > " + std::to_string(id)) >= 3; },
                kDeadline, 100ms))
        << DeviceId(i) << " stopped after poisoned log " << id << "\n"
        << gateway_.Log();
  }
  PauseGeneration();
  ASSERT_TRUE(WaitDrained({0, 1, 2}, kDeadline)) << gateway_.Log();
  for (int i = 0; i < 3; ++i) ExpectExactlyOnce(i);

  const std::string at0 = "device_log_id = " + std::to_string(bad[0]);
  const std::string at1 = "device_log_id = " + std::to_string(bad[1]);
  const std::string at2 = std::to_string(bad[2]);
  // nul: stored with the NUL replaced, the original kept escaped.
  EXPECT_EQ(CountEvents(0, at0 + " AND payload->'sanitized' ? 'info' AND info LIKE '%\xEF\xBF\xBD%'"
                                 " AND payload->'original'->>'info' LIKE '%\\\\x00%'"),
            1);
  // year0: the log's time is dropped (the original kept); the row's time is its match-data
  // item's, if any.
  EXPECT_EQ(
      CountEvents(1, at1 + " AND payload->'sanitized' ? 'device_time'"
                           " AND (device_time IS NULL OR extract(year FROM device_time) > 2000)"
                           " AND payload->'original'->>'device_time' LIKE '0000-01-01%'"),
      1);
  // huge: the log entry cannot be read at all; a gap names it (its match-data item is stored).
  EXPECT_EQ(CountEvents(2, "kind = 'gap' AND (payload->>'from_log_id')::int8 <= " + at2 +
                               " AND (payload->>'to_log_id')::int8 >= " + at2),
            1);
  EXPECT_EQ(CountEvents(2, "device_log_id = " + at2 + " AND sources = 2"), 1);
  // Match-data of every reader is drained (WaitDrained) and the quarantines are counted.
  EXPECT_EQ(Metric(R"(ef45gw_events_quarantined_total{reader="sim-0",reason="bad_text"})"), 1);
  EXPECT_EQ(Metric(R"(ef45gw_events_quarantined_total{reader="sim-1",reason="bad_time"})"), 1);
  EXPECT_EQ(Metric(R"(ef45gw_events_quarantined_total{reader="sim-2",reason="too_large"})"), 1);
}

TEST_F(BadEntryTest, AnAbsurdNewestLogIdCountsOnlyWhenTwoChecksAgreeAndGapsMerge) {
  StartSim(2, 4.0);
  WriteConfig({0, 1}, "polling: { logs_ms: 500, logs_page: 50, max_log_jump: 1000 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(WaitCursorPastNow(i)) << gateway_.Log();

  // Reader 0 reports an absurd newest id once: far ahead, then below the cursor. Neither is
  // confirmed by the next check, so nothing is skipped and no log epoch starts.
  for (const char* fault :
       {R"({"phantom_newest_log_id": 1000000000000})", R"({"phantom_newest_log_id": 1})"}) {
    Fault(0, fault);
    ASSERT_TRUE(WaitFor(
        [&] {
          auto v = SimGet("/sim/readers/0");
          return !v.is_null() && !v.at("phantom_newest_pending").as_bool();
        },
        kDeadline, 50ms))
        << fault;
    ASSERT_TRUE(WaitCursorPastNow(0)) << gateway_.Log();
    ASSERT_TRUE(WaitCursorPastNow(0)) << gateway_.Log();
  }
  EXPECT_EQ(CountEvents(0, "kind = 'gap'"), 0);
  EXPECT_EQ(CountEvents(0, "event_type = 'log_reset'"), 0);

  // Reader 1's ids really jump by 100,000 (> max_log_jump, 2,000 pages): once two checks agree,
  // one gap event covers the whole hole.
  Fault(1, R"({"skip_log_ids": 100000})");
  ASSERT_TRUE(WaitFor([&] { return SimLastLogId(1) > 100000; }, kDeadline, 50ms));
  ASSERT_TRUE(WaitCursorPastNow(1)) << gateway_.Log();

  PauseGeneration();
  ASSERT_TRUE(WaitDrained({0, 1}, kDeadline)) << gateway_.Log();
  for (int i = 0; i < 2; ++i) ExpectExactlyOnce(i);
  std::int64_t before_jump = -1;
  auto generated = Generated(1);
  for (std::size_t k = 1; k < generated.size(); ++k) {
    if (generated[k].second - generated[k - 1].second > 1) before_jump = generated[k - 1].second;
  }
  ASSERT_GT(before_jump, 0);
  EXPECT_EQ(CountEvents(1, "kind = 'gap'"), 1);
  EXPECT_EQ(
      CountEvents(1, "kind = 'gap' AND (payload->>'from_log_id')::int8 = " +
                         std::to_string(before_jump + 1) + " AND (payload->>'to_log_id')::int8 = " +
                         std::to_string(before_jump + 100000)),
      1);
  EXPECT_EQ(CountEvents(0, "kind = 'gap'"), 0);
  EXPECT_EQ(CountEvents(0, "event_type = 'log_reset'"), 0);
}

}  // namespace
}  // namespace gw::test
