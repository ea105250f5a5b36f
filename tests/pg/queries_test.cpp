#include "store/queries.hpp"

#include <gtest/gtest.h>

#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"

namespace gw::test {
namespace {

class Queries : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = std::make_unique<store::Database>(store::DatabaseOptions{Dsn(), 2});
  }
  void TearDown() override {
    db_.reset();
    PgTest::TearDown();
  }
  void Put(store::DeviceBatch b) {
    std::vector<const store::DeviceBatch*> one{&b};
    auto r = store::WriteBatchesBlocking(*db_, one);
    ASSERT_TRUE(r) << r.error().message();
  }
  std::vector<std::int64_t> AllPages(store::EventQuery q) {
    std::vector<std::int64_t> ids;
    for (int guard = 0; guard < 1000; ++guard) {
      auto page = store::ListEventsBlocking(*db_, q);
      EXPECT_TRUE(page);
      if (!page) break;
      for (const auto& e : page->events) ids.push_back(*e.device_log_id);
      if (page->events.size() < static_cast<std::size_t>(q.limit)) break;
      q.after = page->next;
    }
    return ids;
  }
  std::unique_ptr<store::Database> db_;
};

store::TimePoint T(int s) { return store::TimePoint(std::chrono::seconds(1764000000 + s)); }

TEST_F(Queries, PagesByKeysetWithFilters) {
  // 60 log entries: 3 readers, 2 users, kinds alternating, device times 0..59 s.
  for (int dev = 0; dev < 3; ++dev) {
    store::DeviceBatch b;
    b.device_id = "r" + std::to_string(dev);
    for (int i = 0; i < 20; ++i) {
      int id = dev * 20 + i;
      auto e = LogEvent(id, 0, id % 2 ? "alice" : "bob");
      e.kind = id % 3 ? store::EventKind::kRecognition : store::EventKind::kUserData;
      e.device_time = T(id);
      b.events.push_back(e);
    }
    Put(b);
  }
  auto expect = [](auto pred) {
    std::vector<std::int64_t> ids;
    for (int id = 0; id < 60; ++id) {
      if (pred(id)) ids.push_back(id);
    }
    return ids;
  };
  store::EventQuery q;
  q.limit = 7;
  EXPECT_EQ(AllPages(q), expect([](int) { return true; }));
  q.device_id = "r1";
  EXPECT_EQ(AllPages(q), expect([](int id) { return id >= 20 && id < 40; }));
  q.device_id.reset();
  q.user_uuid = "alice";
  q.kind = store::EventKind::kUserData;
  EXPECT_EQ(AllPages(q), expect([](int id) { return id % 2 && id % 3 == 0; }));
  q = {};
  q.limit = 4;
  q.since = T(10);
  q.until = T(25);
  EXPECT_EQ(AllPages(q), expect([](int id) { return id >= 10 && id < 25; }));

  // The page carries the next cursor; an empty page keeps the caller's.
  store::EventQuery first;
  first.limit = 5;
  auto page = store::ListEventsBlocking(*db_, first);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 5u);
  EXPECT_EQ(page->next, page->events.back().seq);
  store::EventQuery end;
  end.after = 1'000'000;
  auto empty = store::ListEventsBlocking(*db_, end);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
  EXPECT_EQ(empty->next, 1'000'000);
  // Limits are clamped.
  store::EventQuery huge;
  huge.limit = 1'000'000;
  EXPECT_EQ(store::ListEventsBlocking(*db_, huge)->events.size(), 60u);
}

TEST_F(Queries, ReturnsEveryStoredField) {
  auto e = MatchEvent(3, "enc-3", 2, "carol");
  e.received_at = T(100);
  Put(store::DeviceBatch{"r9", {e, LogEvent(3, 2, "carol")}, store::Cursor{3, 2}, {}});
  auto page = store::ListEventsBlocking(*db_, store::EventQuery{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 1u);
  const auto& row = page->events[0];
  EXPECT_EQ(row.device_id, "r9");
  EXPECT_EQ(row.event_key, "log:2:3");
  EXPECT_EQ(row.kind, store::EventKind::kRecognition);
  EXPECT_EQ(row.sources, 3);
  EXPECT_EQ(row.device_log_id, 3);
  EXPECT_EQ(row.log_epoch, 2);
  EXPECT_EQ(row.encounter_id, "enc-3");
  EXPECT_EQ(row.event_type, "Recognition");
  EXPECT_EQ(row.info, "Recog/BioOnly/IrisOk");
  EXPECT_EQ(row.additional_data, "Allowed");
  EXPECT_EQ(row.user_uuid, "carol");
  EXPECT_EQ(row.device_time, T(3));
  EXPECT_EQ(row.received_at, T(100));
  EXPECT_NE(row.payload.find("\"left_eye_quality_score\": 92"), std::string::npos) << row.payload;
}

TEST_F(Queries, DeviceStatesShowCursorDoorAndLastEvent) {
  store::DoorState open{1, 1, 0, 0, T(5)};
  Put(store::DeviceBatch{"r1", {LogEvent(1), LogEvent(2)}, store::Cursor{2, 0}, open});
  Put(store::DeviceBatch{"r2", {}, {}, {}});
  auto states = store::DeviceStatesBlocking(*db_, std::nullopt);
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 2u);
  const auto& r1 = (*states)[0];
  EXPECT_EQ(r1.device_id, "r1");
  EXPECT_EQ(r1.cursor, (store::Cursor{2, 0}));
  ASSERT_TRUE(r1.door);
  EXPECT_EQ(*r1.door, open);
  EXPECT_EQ(r1.door_changed_at, T(5));
  EXPECT_TRUE(r1.last_seq);
  EXPECT_FALSE((*states)[1].cursor);
  EXPECT_FALSE((*states)[1].door);

  // Same state observed later: changed_at stays; a change moves it; an older report is ignored.
  store::DoorState same = open;
  same.observed_at = T(6);
  ASSERT_TRUE(store::UpsertDoorStateBlocking(*db_, "r1", same));
  store::DoorState closed{0, 0, 0, 0, T(8)};
  ASSERT_TRUE(store::UpsertDoorStateBlocking(*db_, "r1", closed));
  store::DoorState stale{1, 1, 1, 1, T(7)};
  ASSERT_TRUE(store::UpsertDoorStateBlocking(*db_, "r1", stale));
  auto after = store::DeviceStatesBlocking(*db_, std::string("r1"));
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(*(*after)[0].door, closed);
  EXPECT_EQ((*after)[0].door_changed_at, T(8));
}

TEST_F(Queries, RetentionDeletesOnlyOldEventsInBoundedBatches) {
  store::DeviceBatch b{"r1", {}, {}, {}};
  for (int i = 1; i <= 35; ++i) {
    auto e = LogEvent(i);
    e.received_at = T(i <= 25 ? 0 : 1000);  // 25 old, 10 recent
    b.events.push_back(e);
  }
  Put(b);
  // Two batches of 10: stops after 20 even though 25 are old.
  auto first = store::DeleteEventsBeforeBlocking(*db_, T(500), 10, 2);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 20);
  auto rest = store::DeleteEventsBeforeBlocking(*db_, T(500), 10, 100);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, 5);
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) || '/' || min(device_log_id) FROM events"), "10/26");
  auto none = store::DeleteEventsBeforeBlocking(*db_, T(500), 10, 100);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
}

TEST_F(Queries, ReportDatabaseUnavailableInsteadOfThrowing) {
  store::Database nowhere(
      store::DatabaseOptions{"host=127.0.0.1 port=1 dbname=x user=x", 1, std::chrono::seconds(1)});
  auto page = store::ListEventsBlocking(nowhere, store::EventQuery{});
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error(), Errc::kDbUnavailable);
  auto cursor = store::ReadCursorBlocking(nowhere, "r1");
  ASSERT_FALSE(cursor);
  EXPECT_EQ(cursor.error(), Errc::kDbUnavailable);
}

}  // namespace
}  // namespace gw::test
