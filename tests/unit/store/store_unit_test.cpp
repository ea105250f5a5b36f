// Pure parts of lib/store (no database): keys, validation, SQL literal encoding, time format.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include "store/event.hpp"
#include "store/event_writer.hpp"
#include "store/migrate.hpp"
#include "store/pg.hpp"
#include "store/queries.hpp"
#include "store/users.hpp"

namespace gw::store {
namespace {

Event Log(std::int64_t id, std::int64_t epoch = 0) {
  Event e;
  e.device_log_id = id;
  e.log_epoch = epoch;
  return e;
}

// Built out of line: g++ 12 -O2 warns falsely (maybe-uninitialized) about an optional<string>
// member assigned inside a test body.
[[gnu::noinline]] Event Match(std::optional<std::int64_t> log_id, std::int64_t epoch) {
  Event e;
  e.kind = EventKind::kRecognition;
  e.source = EventSource::kMatchData;
  e.encounter_id = std::string("enc-1");
  e.device_log_id = log_id;
  e.log_epoch = epoch;
  return e;
}

TEST(EventKey, MatchDataWithLogIdSharesTheLogEntrysKey) {
  const Event match = Match(42, 3);
  EXPECT_EQ(EventKey(match), EventKey(Log(42, 3)));
  EXPECT_EQ(EventKey(match), "log:3:42");
  EXPECT_NE(EventKey(Log(42, 3)), EventKey(Log(42, 4)));  // log ids restart in a new epoch
}

TEST(EventKey, FallsBackToEncounterThenPollerKey) {
  EXPECT_EQ(EventKey(Match(std::nullopt, 0)), "enc:enc-1");
  Event door;
  door.kind = EventKind::kDoor;
  door.natural_key = "2025-11-24T16:00:00Z";
  EXPECT_EQ(EventKey(door), "door:2025-11-24T16:00:00Z");
  EXPECT_EQ(EventKey(Event{}), "");
}

TEST(EventKind, NamesRoundTrip) {
  for (auto k : {EventKind::kRecognition, EventKind::kUserData, EventKind::kLog, EventKind::kDoor,
                 EventKind::kDevice, EventKind::kGap}) {
    EXPECT_EQ(ParseKind(KindName(k)), k);
  }
  EXPECT_FALSE(ParseKind("nonsense"));
}

TEST(SyncStatus, NamesAreTheStoredTextAndRoundTrip) {
  // migrations/0001_initial.sql: CHECK (status IN ('pending', 'applied', 'failed')).
  EXPECT_EQ(SyncStatusName(SyncStatus::kPending), "pending");
  EXPECT_EQ(SyncStatusName(SyncStatus::kApplied), "applied");
  EXPECT_EQ(SyncStatusName(SyncStatus::kFailed), "failed");
  for (auto s : {SyncStatus::kPending, SyncStatus::kApplied, SyncStatus::kFailed}) {
    EXPECT_EQ(ParseSyncStatus(SyncStatusName(s)), s);
  }
  EXPECT_FALSE(ParseSyncStatus("Applied"));
  EXPECT_FALSE(ParseSyncStatus(""));
}

TEST(ValidateBatch, AcceptsAWellFormedBatch) {
  DeviceBatch b{"lobby-1", {Log(1), Log(2)}, Cursor{2, 0}, {}};
  b.events[0].payload = R"({"score":0.9,"name":"Zoë"})";
  EXPECT_EQ(ValidateBatch(b), "");
}

TEST(ValidateBatch, NamesWhatIsWrong) {
  DeviceBatch no_device{"", {Log(1)}, {}, {}};
  EXPECT_NE(ValidateBatch(no_device).find("device_id"), std::string::npos);
  DeviceBatch no_key{"r", {Event{}}, {}, {}};
  EXPECT_NE(ValidateBatch(no_key).find("natural key"), std::string::npos);
  DeviceBatch bad_json{"r", {Log(1)}, {}, {}};
  bad_json.events[0].payload = "[1,2]";
  EXPECT_NE(ValidateBatch(bad_json).find("payload"), std::string::npos);
  bad_json.events[0].payload = R"({"a":"\u0000"})";
  EXPECT_NE(ValidateBatch(bad_json).find("payload"), std::string::npos);
  // Checked without a DOM: the grammar, one object, no NUL in a key or a string at any depth.
  for (const auto& bad : std::vector<std::string>{
           "", " ", "{", R"({"a":1)", "{} x", "{}{}", R"({"a":})", "null", R"("{}")",
           R"({"\u0000k":1})", R"({"a":[1,{"b":"x\u0000"}]})", std::string("{\"a\":\"\0\"}", 9),
           "{\"a\":\"\xC3\x28\"}", "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}"}) {
    bad_json.events[0].payload = bad;
    EXPECT_NE(ValidateBatch(bad_json).find("payload"), std::string::npos) << bad;
  }
  for (const auto& good : std::vector<std::string>{
           "{}", " \n{ } ", R"({"a":{"b":[1,2.5,-3,true,null,"\u0001"]},"c":"\u00e9"})"}) {
    bad_json.events[0].payload = good;
    EXPECT_EQ(ValidateBatch(bad_json), "") << good;
  }
  DeviceBatch bad_text{"r", {Log(1)}, {}, {}};
  bad_text.events[0].info = std::string("a\0b", 3);
  EXPECT_NE(ValidateBatch(bad_text).find("UTF-8"), std::string::npos);
  bad_text.events[0].info = "\xC3\x28";  // broken UTF-8
  EXPECT_NE(ValidateBatch(bad_text).find("UTF-8"), std::string::npos);
  bad_text.events[0].info = "\xED\xA0\x80";  // a surrogate
  EXPECT_NE(ValidateBatch(bad_text).find("UTF-8"), std::string::npos);
}

TEST(ArrayLiteral, QuotesAndEscapesElements) {
  detail::ArrayLiteral a;
  a.Add("plain");
  a.Add(R"(quo"te\back)");
  a.AddOpt(std::nullopt);
  a.Add("NULL");
  a.Add("{,}");
  EXPECT_EQ(a.Finish(), R"({"plain","quo\"te\\back",NULL,"NULL","{,}"})");
  detail::ArrayLiteral n;
  n.AddInt(-5);
  n.AddOptInt(std::nullopt);
  n.AddOptInt(7);
  EXPECT_EQ(n.Finish(), "{-5,NULL,7}");
  EXPECT_EQ(detail::ArrayLiteral().Finish(), "{}");
}

TEST(FormatTime, WritesUtcWithMicroseconds) {
  EXPECT_EQ(detail::FormatTime(TimePoint(std::chrono::microseconds(1764000000123456))),
            "2025-11-24T16:00:00.123456Z");
  EXPECT_EQ(detail::FormatTime(TimePoint(std::chrono::microseconds(-1))),
            "1969-12-31T23:59:59.999999Z");
}

// The digits written by hand agree with gmtime_r + snprintf over the years a reader can report,
// and the years beyond them still format.
TEST(FormatTime, AgreesWithTheCLibraryFromYearOneTo9999AndBeyond) {
  auto reference = [](std::int64_t us) {
    std::int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
      frac += 1000000;
      --secs;
    }
    std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(frac));
    return std::string(buf);
  };
  const std::int64_t year_one = -62135596800LL * 1000000;  // 0001-01-01T00:00:00Z
  const std::int64_t year_10000 = 253402300800LL * 1000000;
  std::vector<std::int64_t> cases = {year_one,
                                     year_one - 1,
                                     year_10000 - 1,
                                     year_10000,
                                     0,
                                     -1,
                                     951782400000000 /* 2000-02-29 */,
                                     -2203891200000000,
                                     4107542399999999 /* 2100-02-28T23:59:59.999999 */};
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    cases.push_back(year_one + static_cast<std::int64_t>(
                                   x % static_cast<std::uint64_t>(year_10000 - year_one)));
  }
  for (auto us : cases) {
    EXPECT_EQ(detail::FormatTime(TimePoint(std::chrono::microseconds(us))), reference(us)) << us;
  }
  EXPECT_EQ(detail::FormatTime(TimePoint(std::chrono::microseconds(year_10000))),
            "10000-01-01T00:00:00.000000Z");
}

TEST(DecorateDsn, AddsTimeoutsWithoutOverridingTheOperator) {
  auto kw = detail::DecorateDsn("host=db connect_timeout=9", 5);
  EXPECT_NE(kw.find("connect_timeout=9"), std::string::npos);
  EXPECT_EQ(kw.find("connect_timeout=5"), std::string::npos);
  EXPECT_NE(kw.find(" keepalives=1"), std::string::npos);
  auto uri = detail::DecorateDsn("postgresql://u@db/gw", 5);
  EXPECT_EQ(uri.rfind("postgresql://u@db/gw?connect_timeout=5&keepalives=1", 0), 0u) << uri;
}

TEST(EmbeddedMigrations, AreOrderedAndNonEmpty) {
  const auto& all = EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().name, "0001_initial");
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_FALSE(all[i].sql.empty());
    if (i) {
      EXPECT_LT(all[i - 1].version, all[i].version);
    }
  }
  EXPECT_EQ(MigrationChecksum("abc"), MigrationChecksum("abc"));
  EXPECT_NE(MigrationChecksum("abc"), MigrationChecksum("abd"));
}

TEST(Matches, AppliesTheListingFiltersToAnEventInMemory) {
  using std::chrono::hours;
  EventRow e;
  e.seq = 7;
  e.device_id = "r1";
  e.kind = EventKind::kRecognition;
  e.user_uuid = "u1";
  e.received_at = TimePoint(hours(100));
  e.device_time = TimePoint(hours(90));  // occurred_at = reader time when known
  EventQuery q;
  EXPECT_TRUE(Matches(q, e));
  auto only = [](auto set) {
    EventQuery one;
    set(one);
    return one;
  };
  q.device_id = "r1";
  q.kind = EventKind::kRecognition;
  q.user_uuid = "u1";
  q.since = TimePoint(hours(90));  // inclusive
  q.until = TimePoint(hours(91));  // exclusive
  EXPECT_TRUE(Matches(q, e));
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.device_id = "r2"; }), e));
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.kind = EventKind::kDoor; }), e));
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.user_uuid = "u2"; }), e));
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.until = TimePoint(hours(90)); }), e));
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.since = TimePoint(hours(95)); }), e));
  e.device_time.reset();  // then the receive time
  EXPECT_TRUE(Matches(only([](EventQuery& x) { x.since = TimePoint(hours(95)); }), e));
  e.user_uuid.reset();
  EXPECT_FALSE(Matches(only([](EventQuery& x) { x.user_uuid = "u1"; }), e));
}

}  // namespace
}  // namespace gw::store
