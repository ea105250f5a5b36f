// What the pollers store of a reader's face images (issue 17): that there was one, never the
// image. Nothing the gateway stores holds a face image, so there is nothing for a retention
// period to purge.
#include "poll/convert.hpp"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <iterator>
#include <limits>
#include <random>
#include <string>

namespace gw::poll {
namespace {

const std::string kImage(4096, 'Q');

TEST(Convert, ALogEntryKeepsThatThereWasAFaceImageNotTheImage) {
  ef45::LogEntry entry;
  entry.id = 7;
  entry.event_type = "Recognition";
  entry.user_uuid = "u1";
  entry.timestamp = "2026-12-03T10:00:00Z";
  entry.matched_faceimage_data = kImage;
  auto e = FromLog(entry, 0, Micros(std::chrono::microseconds(1)));
  EXPECT_NE(e.payload.find("\"has_face_image\":true"), std::string::npos) << e.payload;
  EXPECT_EQ(e.payload.find("QQQQ"), std::string::npos);
  EXPECT_EQ(e.additional_data.value_or("").find("QQQQ"), std::string::npos);
}

TEST(Convert, AMatchDataItemNeverCarriesItsImagesOrTemplates) {
  ef45::MatchData item;
  item.encounter_id = "e1";
  item.log_id = 7;
  item.uuid = "u1";
  item.left_eye.image = kImage;
  item.left_eye.iris_template = kImage;
  item.faces[0].image = kImage;
  item.faces[0].feature = kImage;
  auto e = FromMatch(item, 0, Micros(std::chrono::microseconds(1)));
  EXPECT_EQ(e.payload.find("QQQQ"), std::string::npos) << e.payload;
}

// The payloads are written straight into a string (issue 18): the text must be what
// boost::json wrote before, field for field and number for number, whatever the reader sends.
std::string AsBoostJsonWroteIt(const ef45::MatchData& item) {
  boost::json::object o;
  o["match"] = true;
  auto eye = [&o](std::string p, const ef45::EyeCapture& e) {
    if (e.usable_iris_area) o[p + "_usable_iris_area"] = *e.usable_iris_area;
    if (e.quality_score) o[p + "_quality_score"] = *e.quality_score;
    if (e.quality_ok) o[p + "_quality_ok"] = *e.quality_ok;
  };
  eye("left_eye", item.left_eye);
  eye("right_eye", item.right_eye);
  for (std::size_t i = 0; i < item.faces.size(); ++i) {
    std::string p = ef45::kFaceSlotKeys[i];
    if (item.faces[i].score) o[p + "_score"] = *item.faces[i].score;
    if (item.faces[i].frontal_score) o[p + "_frontal_score"] = *item.faces[i].frontal_score;
  }
  return boost::json::serialize(o);
}

TEST(Convert, AMatchPayloadIsWhatBoostJsonWroteForAnyScores) {
  std::mt19937_64 random(18);
  const double specials[] = {0.0,
                             -0.0,
                             1.0,
                             100.0,
                             0.1,
                             1e-7,
                             1e21,
                             123456789.125,
                             -3.5,
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::denorm_min()};
  auto any = [&]() -> std::optional<double> {
    switch (random() % 4) {
      case 0: return std::nullopt;
      case 1: return specials[random() % std::size(specials)];
      case 2: return static_cast<double>(static_cast<std::int64_t>(random() % 2001) - 1000);
      default: return std::ldexp(static_cast<double>(random() >> 11), -40);
    }
  };
  for (int n = 0; n < 5000; ++n) {
    ef45::MatchData item;
    item.encounter_id = "e";
    item.log_id = n;
    for (auto* eye : {&item.left_eye, &item.right_eye}) {
      eye->usable_iris_area = any();
      eye->quality_score = any();
      if (random() % 3) eye->quality_ok = random() % 2 == 0;
    }
    for (auto& face : item.faces) {
      face.score = any();
      face.frontal_score = any();
    }
    auto e = FromMatch(item, 0, Micros(std::chrono::microseconds(1)));
    ASSERT_EQ(e.payload, AsBoostJsonWroteIt(item)) << "item " << n;
  }
}

TEST(Convert, ALogPayloadIsWhatBoostJsonWrote) {
  ef45::LogEntry entry;
  entry.id = 1;
  entry.event_type = "Recognition";
  entry.timestamp = "2026-12-03T10:00:00Z";
  EXPECT_EQ(FromLog(entry, 0, Micros(std::chrono::microseconds(1))).payload, "{}");
  entry.matched_faceimage_data = "";
  EXPECT_EQ(FromLog(entry, 0, Micros(std::chrono::microseconds(1))).payload, "{}");
  entry.matched_faceimage_data = kImage;
  EXPECT_EQ(FromLog(entry, 0, Micros(std::chrono::microseconds(1))).payload,
            R"({"has_face_image":true})");
  entry.timestamp = "not \"a\" time";
  EXPECT_EQ(FromLog(entry, 0, Micros(std::chrono::microseconds(1))).payload,
            R"({"device_timestamp":"not \"a\" time","has_face_image":true})");
}

// The match poll reads the logs poll's page after its match-data GET (issue 18). A
// recognition past the GET's newest item may have an item the GET did not have: stored now it
// would commit without it (and be revised when its item comes), so the page ends before it.
store::DeviceBatch PageOf(std::initializer_list<std::pair<std::int64_t, const char*>> entries) {
  store::DeviceBatch batch;
  for (const auto& [id, type] : entries) {
    ef45::LogEntry entry;
    entry.id = id;
    entry.event_type = type;
    entry.timestamp = "2026-12-03T10:00:00Z";
    batch.events.push_back(FromLog(entry, 0, Micros(std::chrono::microseconds(1))));
  }
  batch.cursor = store::Cursor{entries.size() ? std::prev(entries.end())->first : 0, 0};
  return batch;
}

TEST(Convert, APageOfLogsEndsBeforeARecognitionPastTheItemsOfTheMatchDataGet) {
  auto batch = PageOf({{11, "Recognition"}, {12, "UserData"}, {14, "Recognition"}, {15, "Door"}});
  EXPECT_FALSE(EndBeforeUnmatched(batch, 11));
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].device_log_id, 11);
  EXPECT_EQ(batch.events[1].device_log_id, 12);
  ASSERT_TRUE(batch.cursor);
  EXPECT_EQ(batch.cursor->last_log_id, 13) << "the next page starts at the recognition";
}

TEST(Convert, APageOfLogsWithNoRecognitionPastTheItemsIsKeptWhole) {
  auto batch = PageOf({{11, "Recognition"}, {12, "Recognition"}, {13, "UserData"}, {15, "Door"}});
  EXPECT_TRUE(EndBeforeUnmatched(batch, 12));
  EXPECT_EQ(batch.events.size(), 4u);
  ASSERT_TRUE(batch.cursor);
  EXPECT_EQ(batch.cursor->last_log_id, 15);
}

TEST(Convert, APageOfLogsStartingWithAnUnmatchedRecognitionKeepsNothing) {
  auto batch = PageOf({{21, "Recognition"}, {22, "Door"}});
  EXPECT_FALSE(EndBeforeUnmatched(batch, 20));
  EXPECT_TRUE(batch.events.empty());
  ASSERT_TRUE(batch.cursor);
  EXPECT_EQ(batch.cursor->last_log_id, 20);
}

}  // namespace
}  // namespace gw::poll
