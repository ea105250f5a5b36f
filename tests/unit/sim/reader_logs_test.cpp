// Logs (G1-G8), match data (M1-M2), recognition generation and the envelope.
#include <gtest/gtest.h>

#include <regex>

#include "sim_test_support.hpp"

namespace {

using simtest::Json;

class ReaderLogs : public simtest::ReaderTest {
 protected:
  ReaderLogs() : ReaderTest(Options()) {}
  static ef45sim::ReaderOptions Options() {
    ef45sim::ReaderOptions options;
    options.match_capacity = 5;
    return options;
  }
  std::vector<std::int64_t> Ids(const boost::json::value& list) {
    std::vector<std::int64_t> ids;
    for (const auto& item : list.at("items").as_array()) ids.push_back(item.at("id").as_int64());
    return ids;
  }
  void Generate(int n) {
    for (int i = 0; i < n; ++i) reader_->GenerateRecognition();
  }
};

TEST_F(ReaderLogs, ListHasTheDocumentedEnvelopeAndEntryShape) {
  Generate(1);
  reader_->Enroll();
  auto response = Do("GET", "/logs");
  ASSERT_EQ(response.status, 200);
  auto list = Json(response);
  const auto& object = list.as_object();
  for (const char* key :
       {"status_code", "reason_phrase", "items", "page", "page_size", "has_more", "total"}) {
    EXPECT_TRUE(object.contains(key)) << key;
  }
  EXPECT_EQ(object.at("status_code").as_int64(), 200);
  EXPECT_EQ(object.at("reason_phrase").as_string(), "OK");
  EXPECT_EQ(object.at("page").as_int64(), 1);
  EXPECT_EQ(object.at("page_size").as_int64(), 50);
  EXPECT_FALSE(object.at("has_more").as_bool());
  EXPECT_EQ(object.at("total").as_int64(), 2);
  const auto& first = object.at("items").as_array()[0].as_object();
  for (const char* key : {"id", "event_type", "timestamp", "user_uuid", "info", "additional_data",
                          "matched_faceimage_data"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_EQ(first.at("event_type").as_string(), "Recognition");
  // Reader clock in ISO-8601 UTC: the fake clock reads 2026-01-15 10:00:00.
  EXPECT_EQ(first.at("timestamp").as_string(), "2026-01-15T10:00:00Z");
  EXPECT_TRUE(std::regex_match(
      std::string(first.at("info").as_string()),
      std::regex("(Recog|In|Out|Leave|Return)/[A-Za-z-]+/(IrisOk|FaceOk|IrisFail)")));
  const auto& second = object.at("items").as_array()[1].as_object();
  EXPECT_EQ(second.at("event_type").as_string(), "UserData");
  EXPECT_EQ(second.at("info").as_string(), "AddUsers");
  EXPECT_EQ(second.at("additional_data").as_string(), "Success");
}

TEST_F(ReaderLogs, PagingAscDescAndEdgeCases) {
  Generate(7);
  auto page2 = Json(Do("GET", "/logs", "page=2&page_size=3"));
  EXPECT_EQ(Ids(page2), (std::vector<std::int64_t>{4, 5, 6}));
  EXPECT_TRUE(page2.at("has_more").as_bool());
  EXPECT_EQ(page2.at("total").as_int64(), 7);
  auto last = Json(Do("GET", "/logs", "page=3&page_size=3"));
  EXPECT_EQ(Ids(last), (std::vector<std::int64_t>{7}));
  EXPECT_FALSE(last.at("has_more").as_bool());
  auto beyond = Json(Do("GET", "/logs", "page=9&page_size=3"));
  EXPECT_TRUE(Ids(beyond).empty());
  EXPECT_FALSE(beyond.at("has_more").as_bool());
  EXPECT_EQ(beyond.at("total").as_int64(), 7);

  auto newest = Json(Do("GET", "/logs", "page=1&page_size=2&order=desc"));
  EXPECT_EQ(Ids(newest), (std::vector<std::int64_t>{7, 6}));
  EXPECT_EQ(Ids(Json(Do("GET", "/logs", "page_size=2&order=DESC"))),
            (std::vector<std::int64_t>{7, 6}));
  EXPECT_EQ(Ids(Json(Do("GET", "/logs", "page_size=2&order=sideways"))),
            (std::vector<std::int64_t>{1, 2}));
  // stoi semantics: "2abc" is 2; garbage and non-positive values fall back to the defaults.
  EXPECT_EQ(Ids(Json(Do("GET", "/logs", "page=2abc&page_size=3"))),
            (std::vector<std::int64_t>{4, 5, 6}));
  auto fallback = Json(Do("GET", "/logs", "page=x&page_size=0"));
  EXPECT_EQ(fallback.at("page").as_int64(), 1);
  EXPECT_EQ(fallback.at("page_size").as_int64(), 50);
  EXPECT_EQ(Ids(fallback).size(), 7u);
  // Parameters are found by raw substring search: "xpage=" is read as "page=".
  EXPECT_EQ(Ids(Json(Do("GET", "/logs", "xpage=2&page_size=3"))),
            (std::vector<std::int64_t>{4, 5, 6}));
  // Values are not URL-decoded: "%32" is not 2.
  EXPECT_EQ(Json(Do("GET", "/logs", "page=%32&page_size=3")).at("page").as_int64(), 1);
}

TEST_F(ReaderLogs, FromToSelectsAnIdRangeWithPaging) {
  Generate(10);
  auto range = Json(Do("GET", "/logs/from/to", "page=1&min=3&max=8&page_size=4"));
  EXPECT_EQ(Ids(range), (std::vector<std::int64_t>{3, 4, 5, 6}));
  EXPECT_EQ(range.at("total").as_int64(), 6);
  EXPECT_TRUE(range.at("has_more").as_bool());
  EXPECT_EQ(Ids(Json(Do("GET", "/logs/from/to", "page=2&min=3&max=8&page_size=4"))),
            (std::vector<std::int64_t>{7, 8}));
  EXPECT_TRUE(Ids(Json(Do("GET", "/logs/from/to", "min=11&max=20"))).empty());
  // The firmware checks only "from": any last segment but "count" is the range query.
  EXPECT_EQ(Ids(Json(Do("GET", "/logs/from/anything", "min=9&max=99"))),
            (std::vector<std::int64_t>{9, 10}));
}

TEST_F(ReaderLogs, FromCountReturnsCountLogsStartingAtAnId) {
  Generate(10);
  auto list = Json(Do("GET", "/logs/from/count", "from=4&count=3"));
  EXPECT_EQ(Ids(list), (std::vector<std::int64_t>{4, 5, 6}));
  EXPECT_TRUE(list.at("has_more").as_bool());
  EXPECT_EQ(Do("GET", "/logs/from/count", "from=4").status, 400);
}

TEST_F(ReaderLogs, SingleEntryIsABareObject) {
  Generate(3);
  auto response = Do("GET", "/logs/2");
  ASSERT_EQ(response.status, 200);
  auto entry = Json(response);
  EXPECT_EQ(entry.at("id").as_int64(), 2);
  EXPECT_FALSE(entry.as_object().contains("items"));
  EXPECT_EQ(Do("GET", "/logs/99").status, 404);
  EXPECT_EQ(Do("GET", "/logs/abc").status, 400);
}

TEST_F(ReaderLogs, DeleteRangeOneAndAll) {
  Generate(10);
  EXPECT_EQ(Do("DELETE", "/logs", "min=3&max=5").status, 204);
  EXPECT_EQ(Ids(Json(Do("GET", "/logs/from/to", "min=1&max=7"))),
            (std::vector<std::int64_t>{1, 2, 6, 7}));
  EXPECT_EQ(Do("DELETE", "/logs", "min=3&max=5").status, 404);
  EXPECT_EQ(Do("DELETE", "/logs", "min=3").status, 400);
  EXPECT_EQ(Do("DELETE", "/logs", "min=5&max=3").status, 400);
  EXPECT_EQ(Do("DELETE", "/logs/6").status, 204);
  EXPECT_EQ(Do("DELETE", "/logs/6").status, 404);
  // Deleting the newest never makes an id come back.
  EXPECT_EQ(Do("DELETE", "/logs", "min=8&max=10").status, 204);
  Generate(1);
  EXPECT_EQ(reader_->GetStats().last_log_id, 11);
  EXPECT_EQ(Do("POST", "/logs/vacuum").status, 200);
  EXPECT_EQ(Do("DELETE", "/logs/db").status, 200);
  EXPECT_EQ(reader_->GetStats().log_count, 0);
  Generate(1);
  EXPECT_EQ(reader_->GetStats().last_log_id, 1);
  EXPECT_EQ(reader_->Generated().back().log_epoch, 1);
  EXPECT_EQ(Do("PUT", "/logs").status, 405);
}

TEST_F(ReaderLogs, LogIdsIncreaseStrictly) {
  Generate(5);
  reader_->Enroll();
  Generate(5);
  auto ids = Ids(Json(Do("GET", "/logs")));
  ASSERT_EQ(ids.size(), 11u);
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]);
}

TEST_F(ReaderLogs, MatchDataCarriesTheLogIdOfItsEntry) {
  Generate(3);
  auto list = Json(Do("GET", "/match-data"));
  ASSERT_EQ(list.at("items").as_array().size(), 3u);
  for (const auto& item : list.at("items").as_array()) {
    const auto& match = item.as_object();
    auto log = Json(Do("GET", "/logs/" + std::to_string(match.at("log_id").as_int64())));
    EXPECT_EQ(log.at("event_type").as_string(), "Recognition");
    EXPECT_EQ(log.at("user_uuid").as_string(), match.at("uuid").as_string());
    EXPECT_EQ(log.at("timestamp").as_string(), match.at("timestamp").as_string());
    EXPECT_TRUE(match.contains("left_eye__iris_template"));  // sic
    EXPECT_TRUE(match.contains("right_eye_iris_template"));
    EXPECT_TRUE(match.contains("near_on_face_LED_state"));
    EXPECT_FALSE(match.contains("left_eye_duplicate_uuid"));
    EXPECT_EQ(match.at("serial_number").as_string(), "OA1405A000001");
  }
  const auto& generated = reader_->Generated();
  ASSERT_EQ(generated.size(), 3u);
  EXPECT_EQ(generated[0].encounter_id,
            list.at("items").as_array()[0].at("encounter_id").as_string());
}

TEST_F(ReaderLogs, MatchItemsReadTheSameEveryTimeAndCarryTheEnrolledTemplate) {
  Generate(5);
  auto first = Do("GET", "/match-data");
  EXPECT_EQ(first.body, Do("GET", "/match-data").body);
  int known = 0;
  auto list = Json(first);
  for (const auto& item : list.at("items").as_array()) {
    std::string uuid(item.at("uuid").as_string());
    if (uuid.empty()) continue;
    ++known;
    auto subject = Json(Do("GET", "/subjects/" + uuid));
    EXPECT_EQ(item.at("left_eye__iris_template").as_string(),
              subject.at("left_eye_template").as_string());
    EXPECT_EQ(item.at("right_eye_iris_template").as_string(),
              subject.at("right_eye_template").as_string());
  }
  EXPECT_GT(known, 0);
}

TEST_F(ReaderLogs, DeleteMatchDataByEncounterId) {
  Generate(2);
  auto list = Json(Do("GET", "/match-data"));
  std::string id(list.at("items").as_array()[0].at("encounter_id").as_string());
  EXPECT_EQ(Do("DELETE", "/match-data/" + id).status, 200);
  EXPECT_EQ(Do("DELETE", "/match-data/" + id).status, 400);
  EXPECT_EQ(Do("DELETE", "/match-data").status, 400);
  EXPECT_EQ(reader_->GetStats().match_pending, 1u);
  // [C1]'s GET /match-data/{x}: extra segments are ignored.
  EXPECT_EQ(Json(Do("GET", "/match-data/" + id)).at("total").as_int64(), 1);
  EXPECT_EQ(Do("POST", "/match-data").status, 405);
}

TEST_F(ReaderLogs, FullMatchBufferStillLogsButDropsTheItem) {
  Generate(7);  // capacity 5
  auto stats = reader_->GetStats();
  EXPECT_EQ(stats.match_pending, 5u);
  EXPECT_EQ(stats.match_overflowed, 2u);
  EXPECT_EQ(stats.log_count, 7);
  EXPECT_EQ(stats.recognitions_generated, 7u);
  const auto& generated = reader_->Generated();
  EXPECT_FALSE(generated[4].encounter_id.empty());
  EXPECT_TRUE(generated[5].encounter_id.empty());
  EXPECT_TRUE(generated[6].encounter_id.empty());
}

TEST_F(ReaderLogs, RecognitionsCoverKnownAndUnknownUsers) {
  Generate(200);
  int known = 0, unknown = 0, allowed = 0, denied = 0;
  for (const auto& event : reader_->Generated()) {
    EXPECT_EQ(event.event_type, "Recognition");
    (event.user_uuid.empty() ? unknown : known)++;
    (event.additional_data == "Allowed" ? allowed : denied)++;
    if (event.user_uuid.empty()) {
      EXPECT_EQ(event.additional_data, "Denied");
    }
  }
  EXPECT_GT(known, 0);
  EXPECT_GT(unknown, 0);
  EXPECT_GT(allowed, 0);
  EXPECT_GT(denied, 0);
}

TEST(ReaderLogCapacity, OldestLogsAreDroppedBeyondCapacity) {
  ef45sim::ReaderOptions options;
  options.log_capacity = 10;
  ef45sim::Reader reader(simtest::TestIdentity(), 3, options);
  for (int i = 0; i < 25; ++i) reader.GenerateRecognition();
  auto stats = reader.GetStats();
  EXPECT_EQ(stats.log_count, 10);
  EXPECT_EQ(stats.last_log_id, 25);
  EXPECT_LE(reader.Generated().size(), 10u + 10u / 4 + 16);
  EXPECT_EQ(reader.Generated().back().log_id, 25);
}

}  // namespace
