// lib/store user queries (user sync) on a real PostgreSQL with the real migrations.
#include "store/users.hpp"

#include <gtest/gtest.h>

#include "pg_fixture.hpp"
#include "store/database.hpp"

namespace gw::test {
namespace {

class Users : public PgTest {
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
  static store::UserWrite Write(std::string uuid, std::string record = R"({"a":1})") {
    store::UserWrite w;
    w.user_uuid = std::move(uuid);
    w.record = std::move(record);
    w.digest = "d";
    w.digest_no_templates = "b";
    w.record_version = 8976;
    w.groups = {"lab"};
    w.cards = {"65 D8 A1 BD", "01 02"};
    return w;
  }
  std::unique_ptr<store::Database> db_;
};

TEST_F(Users, VersionGrowsOnlyWhenTheUserChanges) {
  auto first = store::PutUserBlocking(*db_, Write("u1"));
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->version, 1);
  auto same = store::PutUserBlocking(*db_, Write("u1"));
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->changed);
  EXPECT_EQ(same->version, 1);
  auto changed = store::PutUserBlocking(*db_, Write("u1", R"({"a":2})"));
  ASSERT_TRUE(changed);
  EXPECT_TRUE(changed->changed);
  EXPECT_EQ(changed->version, 2);
  auto user = store::GetUserBlocking(*db_, "u1");
  ASSERT_TRUE(user && *user);
  EXPECT_EQ((*user)->groups, (std::vector<std::string>{"lab"}));
  EXPECT_EQ((*user)->record_version, 8976);
}

TEST_F(Users, DeleteLeavesATombstoneWithTheNextVersion) {
  ASSERT_TRUE(store::PutUserBlocking(*db_, Write("u1")));
  auto del = store::DeleteUserBlocking(*db_, "u1");
  ASSERT_TRUE(del && *del);
  EXPECT_EQ((*del)->version, 2);
  auto again = store::DeleteUserBlocking(*db_, "u1");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);  // no live user
  auto all = store::UserSummariesBlocking(*db_, std::nullopt);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE((*all)[0].deleted);
  auto page = store::ListUsersPageBlocking(*db_, "", 10);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->empty());
  // A PUT brings it back as the next version.
  auto back = store::PutUserBlocking(*db_, Write("u1"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, 3);
}

TEST_F(Users, FindsUsersByAnyOfTheirCards) {
  ASSERT_TRUE(store::PutUserBlocking(*db_, Write("u1")));
  auto w = Write("u2");
  w.cards = {"AA"};
  ASSERT_TRUE(store::PutUserBlocking(*db_, w));
  auto r = store::UsersByCardBlocking(*db_, "01 02");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].user_uuid, "u1");
  EXPECT_TRUE(store::UsersByCardBlocking(*db_, "zz")->empty());
}

TEST_F(Users, RecordsStatesAndCountsThemPerReader) {
  ASSERT_TRUE(store::PutUserBlocking(*db_, Write("u1")));
  ASSERT_TRUE(store::PutUserBlocking(*db_, Write("u2")));
  ASSERT_TRUE(store::PutUserBlocking(*db_, Write("u3")));
  std::vector<store::StateUpdate> updates = {
      {"u1", store::SyncStatus::kApplied, 1, std::string("d"), std::nullopt, std::nullopt},
      {"u2", store::SyncStatus::kFailed, std::nullopt, std::nullopt, std::string("http_status 500"),
       std::nullopt},
      {"nobody", store::SyncStatus::kApplied, 1, std::nullopt, std::nullopt,
       std::nullopt}};  // skipped
  ASSERT_TRUE(store::RecordStatesBlocking(*db_, "r1", updates));
  ASSERT_TRUE(store::RecordStatesBlocking(*db_, "r1", {updates[1]}));
  auto states = store::DeviceStatesOfBlocking(*db_, "r1");
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 2u);
  for (const auto& s : *states) {
    if (s.user_uuid == "u2") {
      EXPECT_EQ(s.attempts, 2);
      EXPECT_EQ(s.last_error, "http_status 500");
    } else {
      EXPECT_EQ(s.applied_digest, "d");
    }
  }
  auto counts = store::SyncCountsBlocking(*db_, "r1", {"lab"});
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->applied, 1);
  EXPECT_EQ(counts->failed, 1);
  EXPECT_EQ(counts->pending, 1);  // u3: never tried
  // A reader outside the users' groups has none of them in scope.
  auto other = store::SyncCountsBlocking(*db_, "r2", {"lobby"});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->pending, 0);
}

TEST_F(Users, ImportIsACompareAndSetAndRecordsTheConflictEvent) {
  auto w = Write("u1");
  store::ImportWrite imp;
  imp.device_id = "r1";
  imp.user_uuid = "u1";
  imp.expected_version = std::nullopt;
  imp.user = w;
  imp.applied_digest = "d";
  imp.source_seq = 42;
  auto v = store::ImportUserBlocking(*db_, imp);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1);
  // A second import expecting "no user" lost the race.
  auto lost = store::ImportUserBlocking(*db_, imp);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error(), Errc::kConflict);
  imp.expected_version = 1;
  imp.user.reset();
  imp.conflict_info = "GatewayWins";
  imp.conflict_detail = "test";
  ASSERT_TRUE(store::ImportUserBlocking(*db_, imp));
  EXPECT_EQ(Scalar(Dsn(), "SELECT info FROM events WHERE event_type = 'SyncConflict'"),
            "GatewayWins");
  auto states = store::UserStatesBlocking(*db_, "u1");
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  EXPECT_EQ((*states)[0].status, store::SyncStatus::kApplied);
}

TEST_F(Users, ImportCursorOnlyMovesForward) {
  EXPECT_EQ(*store::ImportCursorBlocking(*db_, "r1"), 0);
  ASSERT_TRUE(store::SetImportCursorBlocking(*db_, "r1", 10));
  ASSERT_TRUE(store::SetImportCursorBlocking(*db_, "r1", 5));
  EXPECT_EQ(*store::ImportCursorBlocking(*db_, "r1"), 10);
}

}  // namespace
}  // namespace gw::test
