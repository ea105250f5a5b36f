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

TEST(ReaderLock, SuccessiveLockUidsAreDistinct) {
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

TEST(ReaderRobustness, ArbitraryRequestsNeverCrashOrThrow) {
  // Requests stitched from real path pieces, methods, queries and bodies, valid or not.
  auto reader = NewReader(11);
  std::string uid = simtest::TakeLock(reader);
  const std::vector<std::string> pieces = {"lock",
                                           "logs",
                                           "from",
                                           "to",
                                           "count",
                                           "db",
                                           "vacuum",
                                           "1",
                                           "-1",
                                           "99999999999",
                                           "subjects",
                                           "record-version",
                                           "user-info",
                                           "uuid",
                                           "card",
                                           "65%20D8",
                                           "schedule",
                                           "user",
                                           "faces",
                                           "config",
                                           "door-status",
                                           "relay",
                                           "launcher.device.door.duration",
                                           "int",
                                           "bool",
                                           "string",
                                           "float",
                                           "match-data",
                                           "camera",
                                           "control",
                                           "start",
                                           "stop",
                                           "setDeviceTime",
                                           "052014402018.30",
                                           "biometric-data",
                                           "ver1",
                                           "ver2",
                                           "save-8bmp",
                                           "load-file",
                                           "preview",
                                           "selected-face",
                                           "update",
                                           "done",
                                           "apb",
                                           "clear",
                                           "clearall",
                                           "operation",
                                           "active",
                                           "imagecapture",
                                           "version",
                                           "heartbeat",
                                           "%",
                                           "%zz",
                                           ""};
  const std::vector<std::string> methods = {"GET", "POST", "PUT", "DELETE", "PATCH"};
  const std::vector<std::string> queries = {"",
                                            "&page=0",
                                            "&page=-3&page_size=99999",
                                            "&min=5&max=1",
                                            "&subId=x",
                                            "&subId=2",
                                            "&forced=TRUE&duration=1",
                                            "&filename=a.bmp",
                                            "&face_mode=true",
                                            "&from=1&count=0",
                                            "&order=desc&page_size=1"};
  const std::vector<std::string> bodies = {"",
                                           "{",
                                           "[]",
                                           "null",
                                           "{\"int\":5}",
                                           "{\"user_uuid\":\"z\",\"sub_id\":2}",
                                           "{\"camera_mode\":\"Slave\"}",
                                           "{\"users\":[{\"id\":1}]}",
                                           "{\"faces\":{}}",
                                           "AAAA",
                                           "{\"user_uuid\":\"q\\\"\",\"cards\":[1]}"};
  std::uint64_t state = 12345;
  auto next = [&](std::size_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>((state >> 33) % n);
  };
  int answered = 0;
  for (int i = 0; i < 20000; ++i) {
    if (i % 50 == 0) reader.GenerateRecognition();
    std::string path = "/1.0";
    for (std::size_t k = 0, n = 1 + next(4); k < n; ++k) path += "/" + pieces[next(pieces.size())];
    std::string target = path + "?lock_uid=" + uid + queries[next(queries.size())];
    ef45sim::Response response;
    ASSERT_NO_THROW(response = reader.Handle(ef45sim::Request{methods[next(methods.size())], target,
                                                              bodies[next(bodies.size())]}))
        << target;
    ASSERT_GE(response.status, 200) << target;
    ASSERT_LT(response.status, 600) << target;
    // 500 only where the firmware answers it (DELETE /lock without uid); anything else would
    // be an exception caught inside Handle().
    if (response.status == 500) {
      std::string collapsed;
      for (char c : path) {
        if (c != '/' || collapsed.empty() || collapsed.back() != '/') collapsed += c;
      }
      if (!collapsed.empty() && collapsed.back() == '/') collapsed.pop_back();
      ASSERT_EQ(collapsed, "/1.0/lock") << "unexpected 500 for " << target;
    }
    if (!response.content_type.empty() && response.content_type == "application/json") {
      simtest::Json(response);
    }
    if (response.body.rfind("{\"lock_uid\":", 0) == 0) {
      uid = std::string(Json(response).at("lock_uid").as_string());  // a PUT /lock stole it
    }
    if (!reader.GetStats().locked) uid = simtest::TakeLock(reader);
    if (response.status != 501) ++answered;
  }
  EXPECT_GT(answered, 4000);  // most requests reached a handler, not just the lock check
}

TEST(ReaderRobustness, StringsFromClientsAreEscapedInJson) {
  auto reader = NewReader();
  std::string uid = simtest::TakeLock(reader);
  ASSERT_EQ(Call(reader, "POST", "/1.0/subjects?lock_uid=" + uid,
                 R"({"user_uuid":"a\"b\\c\n","last_name":"x"})")
                .status,
            201);
  auto logs = Json(Call(reader, "GET", "/1.0/logs?lock_uid=" + uid));
  EXPECT_EQ(logs.at("items").as_array()[0].at("user_uuid").as_string(), "a\"b\\c\n");
}

TEST(ReaderRobustness, CountsEveryRequest) {
  auto reader = NewReader();
  Call(reader, "GET", "/1.0/version");
  Call(reader, "GET", "/nothing");
  EXPECT_EQ(reader.GetStats().requests, 2u);
}

}  // namespace
