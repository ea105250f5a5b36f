#include "sync/import_diff.hpp"

#include <gtest/gtest.h>

namespace gw::sync {
namespace {

using Parts = std::vector<std::string>;

UserDoc Doc() {
  std::string problem;
  auto doc = ParseUserDoc("u1",
                          R"({"subject": {"first_name": "Ada", "record_version": 8976,
                                "access_allowed": true, "left_eye_template": "TEZU"},
                              "user_info": {"card": "65 D8 A1 BD", "pin": "1234", "admin": 0},
                              "faces": [{"sub_id": 0, "face_score": 0.5, "face_feature": "RkFD"}]})",
                          &problem);
  EXPECT_TRUE(doc) << problem;
  return *doc;
}

TEST(ImportDiff, NamesEachChangedPartAndNothingElse) {
  const UserDoc gateway = Doc();
  EXPECT_EQ(ChangedParts(&gateway, gateway), Parts{});
  UserDoc reader = gateway;
  reader.user_info->pin = "9999";
  EXPECT_EQ(ChangedParts(&gateway, reader), Parts{"pin"});
  reader = gateway;
  reader.user_info->card = "01 02 03 04";
  EXPECT_EQ(ChangedParts(&gateway, reader), Parts{"cards"});
  reader = gateway;
  reader.subject->left_eye_template = "OTHER";
  reader.faces[0].face_feature = "OTHER";
  EXPECT_EQ(ChangedParts(&gateway, reader), (Parts{"templates", "faces"}));
  reader = gateway;
  reader.subject->last_name = "Lovelace";
  reader.subject->access_allowed = false;
  reader.user_info->admin = 1;
  EXPECT_EQ(ChangedParts(&gateway, reader), (Parts{"subject", "name", "user_info"}));
}

TEST(ImportDiff, ANewUserShowsEveryPartTheReaderHolds) {
  EXPECT_EQ(ChangedParts(nullptr, Doc()),
            (Parts{"subject", "name", "templates", "faces", "cards", "pin"}));
}

TEST(ImportDiff, NeverCarriesAValue) {
  const UserDoc gateway = Doc();
  UserDoc reader = gateway;
  reader.user_info->pin = "9999";
  reader.subject->left_eye_template = "SECRET-TEMPLATE";
  for (const auto& part : ChangedParts(&gateway, reader)) {
    EXPECT_EQ(part.find("9999"), std::string::npos);
    EXPECT_EQ(part.find("SECRET"), std::string::npos);
  }
}

}  // namespace
}  // namespace gw::sync
