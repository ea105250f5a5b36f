#include "store/reader_locks.hpp"

#include <gtest/gtest.h>

#include "pg_fixture.hpp"
#include "store/database.hpp"

namespace gw::test {
namespace {

class ReaderLocks : public PgTest {
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
  std::unique_ptr<store::Database> db_;
};

TEST_F(ReaderLocks, TheNewestGrantedLockIsOnRecordPerReader) {
  auto none = store::ReadReaderLockBlocking(*db_, "door-1");
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(*none);

  // A reader seen for the first time: its devices row comes with the lock.
  ASSERT_TRUE(store::RecordReaderLockBlocking(*db_, "door-1", {"uid-a", "10.0.0.5", 9980}));
  ASSERT_TRUE(store::RecordReaderLockBlocking(*db_, "door-2", {"uid-x", "10.0.0.6", 9980}));
  ASSERT_TRUE(store::RecordReaderLockBlocking(*db_, "door-1", {"uid-b", "10.0.0.5", 9981}));
  auto one = store::ReadReaderLockBlocking(*db_, "door-1");
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->lock_uid, "uid-b");
  EXPECT_EQ((*one)->host, "10.0.0.5");
  EXPECT_EQ((*one)->port, 9981);
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM devices"), "2");
}

TEST_F(ReaderLocks, ForgettingOnlyRemovesTheLockItNames) {
  ASSERT_TRUE(store::RecordReaderLockBlocking(*db_, "door-1", {"uid-new", "h", 9980}));
  // A node releasing an older lock (e.g. after a take-over) must not erase the new owner's.
  ASSERT_TRUE(store::ForgetReaderLockBlocking(*db_, "door-1", "uid-old"));
  auto kept = store::ReadReaderLockBlocking(*db_, "door-1");
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->lock_uid, "uid-new");
  ASSERT_TRUE(store::ForgetReaderLockBlocking(*db_, "door-1", "uid-new"));
  auto gone = store::ReadReaderLockBlocking(*db_, "door-1");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
}

TEST_F(ReaderLocks, AnUnreachableDatabaseIsAnErrorValue) {
  store::Database down(store::DatabaseOptions{"host=127.0.0.1 port=1 connect_timeout=1", 1});
  auto r = store::RecordReaderLockBlocking(down, "door-1", {"uid", "h", 9980});
  ASSERT_FALSE(r);
  EXPECT_EQ(Classify(r.error()), Errc::kDbUnavailable);
}

}  // namespace
}  // namespace gw::test
