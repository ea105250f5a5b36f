// What the pollers store of a reader's face images (issue 17): that there was one, never the
// image. Nothing the gateway stores holds a face image, so there is nothing for a retention
// period to purge.
#include "poll/convert.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace gw::poll
