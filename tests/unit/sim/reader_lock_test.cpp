// Session lock, version/heartbeat, the no-handler answer and the query/path quirks.
#include <gtest/gtest.h>

#include <regex>

#include "sim_test_support.hpp"

namespace {

using simtest::Call;
using simtest::Json;

ef45sim::Reader NewReader(std::uint64_t seed = 7) {
  return ef45sim::Reader(simtest::TestIdentity(), seed);
}

TEST(ReaderLock, PostGrantsV1UuidWithMacNode) {
  auto reader = NewReader();
  auto response = Call(reader, "POST", "/1.0/lock");
  ASSERT_EQ(response.status, 200);
  std::string uid(Json(response).at("lock_uid").as_string());
  // 8-4-4-4-12, version 1, RFC 4122 variant, node = the reader's MAC (50:3f:98:00:01:09).
  EXPECT_TRUE(std::regex_match(
      uid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-503f98000109")))
      << uid;
}

TEST(ReaderLock, LockUidsAreUniqueAndTimeOrdered) {
  auto reader = NewReader();
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto response = Call(reader, "PUT", "/1.0/lock");
    ASSERT_EQ(response.status, 200);
    EXPECT_TRUE(seen.insert(std::string(Json(response).at("lock_uid").as_string())).second);
  }
}

TEST(ReaderLock, SecondPostConflictsUntilReleased) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "POST", "/1.0/lock").status, 409);
  EXPECT_TRUE(Call(reader, "POST", "/1.0/lock").body.empty());
  EXPECT_EQ(Call(reader, "DELETE", "/1.0/lock/" + uid).status, 200);
  EXPECT_FALSE(reader.GetStats().locked);
  EXPECT_EQ(Call(reader, "POST", "/1.0/lock").status, 200);
}

TEST(ReaderLock, PutStealsAndInvalidatesTheOldUid) {
  auto reader = NewReader();
  std::string old_uid = simtest::TakeLock(reader);
  auto response = Call(reader, "PUT", "/1.0/lock");
  ASSERT_EQ(response.status, 200);
  std::string new_uid(Json(response).at("lock_uid").as_string());
  EXPECT_NE(new_uid, old_uid);
  auto stale = Call(reader, "GET", "/1.0/config/door-status?lock_uid=" + old_uid);
  EXPECT_EQ(stale.status, 501);
  EXPECT_EQ(stale.content_type, "text/html");
  EXPECT_NE(stale.body.find("501"), std::string::npos);
  EXPECT_EQ(Call(reader, "GET", "/1.0/config/door-status?lock_uid=" + new_uid).status, 200);
}

TEST(ReaderLock, DeleteWithMismatchedUidIs200AndKeepsTheLock) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "DELETE", "/1.0/lock/13dbb896-ed1e-11e6-9822-503f98000109").status, 200);
  EXPECT_TRUE(reader.GetStats().locked);
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?lock_uid=" + uid).status, 200);
}

TEST(ReaderLock, DeleteWithoutUidSegmentIs500) {
  auto reader = NewReader();
  simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "DELETE", "/1.0/lock").status, 500);
  EXPECT_EQ(Call(reader, "GET", "/1.0/lock").status, 405);
}

TEST(ReaderLock, MissingOrStaleLockGetsPocoNotImplemented) {
  auto reader = NewReader();
  // No lock held at all.
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs").status, 501);
  std::string uid = simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs").status, 501);
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?lock_uid=").status, 501);
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?lock_uid=" + uid.substr(1)).status, 501);
  auto response = Call(reader, "GET", "/1.0/subjects?lock_uid=nope");
  EXPECT_EQ(response.status, 501);
  EXPECT_EQ(response.content_type, "text/html");
  // The lock check runs before the method check: no handler, so no 405 either.
  EXPECT_EQ(Call(reader, "PATCH", "/1.0/logs").status, 501);
}

TEST(ReaderLock, LockUidIsFoundBySubstringAnywhereInTheQuery) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?page=1&lock_uid=" + uid + "&page_size=5").status, 200);
  // A prefix on the name still matches: the firmware searches for "lock_uid=" as raw text.
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?xlock_uid=" + uid).status, 200);
  // The value is not URL-decoded: an encoded '-' no longer equals the uid.
  std::string encoded = uid;
  encoded.replace(8, 1, "%2D");
  EXPECT_EQ(Call(reader, "GET", "/1.0/logs?lock_uid=" + encoded).status, 501);
}

TEST(ReaderLock, UnknownPrefixOrResourceHasNoHandler) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  EXPECT_EQ(Call(reader, "GET", "/2.0/logs?lock_uid=" + uid).status, 501);
  EXPECT_EQ(Call(reader, "GET", "/1.0/nothing?lock_uid=" + uid).status, 501);
  EXPECT_EQ(Call(reader, "GET", "/1.0/?lock_uid=" + uid).status, 501);
  EXPECT_EQ(Call(reader, "GET", "/").status, 501);
}

TEST(ReaderVersion, NeedsNoLock) {
  auto reader = NewReader();
  auto response = Call(reader, "GET", "/1.0/version");
  ASSERT_EQ(response.status, 200);
  EXPECT_FALSE(std::string(Json(response).at("version").as_string()).empty());
  EXPECT_EQ(Call(reader, "POST", "/1.0/version").status, 405);
}

TEST(ReaderHeartbeat, NeedsNoLockAndAnswers200) {
  auto reader = NewReader();
  EXPECT_EQ(Call(reader, "POST", "/1.0/heartbeat").status, 200);
  EXPECT_EQ(Call(reader, "GET", "/1.0/heartbeat").status, 405);
}

TEST(ReaderRobustness, BadJsonBodiesAre400NeverAThrow) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  for (const char* path : {"/1.0/subjects", "/1.0/user-info", "/1.0/faces", "/1.0/user"}) {
    for (const char* body : {"", "{", "[1,2]", "{\"user_uuid\":", "null", "\xff\xfe"}) {
      EXPECT_EQ(Call(reader, "POST", std::string(path) + "?lock_uid=" + uid, body).status, 400)
          << path << " " << body;
    }
  }
  EXPECT_EQ(Call(reader, "PUT", "/1.0/config/launcher.device.door.duration/int?lock_uid=" + uid,
                 "{\"int\":")
                .status,
            400);
}

TEST(ReaderRobustness, CountsEveryRequest) {
  auto reader = NewReader();
  Call(reader, "GET", "/1.0/version");
  Call(reader, "GET", "/nothing");
  EXPECT_EQ(reader.GetStats().requests, 2u);
}

}  // namespace
