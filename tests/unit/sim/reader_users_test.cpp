// Subjects, user info, faces and the /user bundle.
#include <gtest/gtest.h>

#include "sim_test_support.hpp"

namespace {

using simtest::Json;

class ReaderUsers : public simtest::ReaderTest {
 protected:
  ReaderUsers() : ReaderTest(Options()) {}
  static ef45sim::ReaderOptions Options() {
    ef45sim::ReaderOptions options;
    options.preenrolled_users = 0;
    return options;
  }
  std::string LastLogInfo() {
    auto list = Json(Do("GET", "/logs", "page=1&page_size=1&order=desc"));
    auto& items = list.at("items").as_array();
    if (items.empty()) return {};
    return std::string(items[0].at("info").as_string()) + "/" +
           std::string(items[0].at("user_uuid").as_string());
  }
};

constexpr const char* kSubject111 =
    R"({"user_uuid":"111","record_version":8976,"first_name":"Ada","last_name":"abc",)"
    R"("access_allowed":true,"wiegand_facility":-1,"wiegand_site":-1,"wiegand_code":-1,)"
    R"("left_eye_template":"TEVGVA==","right_eye_template":"UklHSFQ="})";

TEST_F(ReaderUsers, SubjectCrudWithStatusCodes) {
  EXPECT_EQ(Do("POST", "/subjects", "", kSubject111).status, 201);
  EXPECT_EQ(LastLogInfo(), "AddUsers/111");
  EXPECT_EQ(Do("POST", "/subjects", "", kSubject111).status, 409);  // exists

  auto got = Do("GET", "/subjects/111");
  ASSERT_EQ(got.status, 200);
  auto subject = Json(got);
  EXPECT_EQ(subject.at("last_name").as_string(), "abc");
  EXPECT_EQ(subject.at("wiegand_site").as_int64(), -1);
  EXPECT_EQ(subject.at("left_image_path").as_string(),
            "/usr/local/share/CMITECH/Images/111_lefteye.jpg");
  EXPECT_EQ(Do("GET", "/subjects/222").status, 404);

  EXPECT_EQ(Do("PUT", "/subjects/111", "", R"({"user_uuid":"111","last_name":"xyz"})").status, 204);
  EXPECT_EQ(Json(Do("GET", "/subjects/111")).at("last_name").as_string(), "xyz");
  EXPECT_EQ(LastLogInfo(), "UpdateUsers/111");
  EXPECT_EQ(Do("PUT", "/subjects/222", "", R"({"user_uuid":"222"})").status, 400);
  EXPECT_EQ(Do("PUT", "/subjects/111", "", R"({"access_allowed":"yes"})").status, 400);

  EXPECT_EQ(Do("DELETE", "/subjects/111").status, 204);
  EXPECT_EQ(LastLogInfo(), "DeleteUsers/111");
  EXPECT_EQ(Do("DELETE", "/subjects/111").status, 404);
  EXPECT_EQ(Do("POST", "/subjects/111").status, 405);
  EXPECT_EQ(reader_->GetStats().users, 0u);
}

TEST_F(ReaderUsers, SubjectWithoutUuidOrWithWrongTypesIs400) {
  EXPECT_EQ(Do("POST", "/subjects", "", R"({"last_name":"abc"})").status, 400);
  EXPECT_EQ(Do("POST", "/subjects", "", R"({"user_uuid":"1","wiegand_code":"12"})").status, 400);
  EXPECT_EQ(Do("POST", "/subjects", "", R"({"user_uuid":1})").status, 400);
}

TEST_F(ReaderUsers, DuplicateTemplateUnderAnotherUuidConflicts) {
  ASSERT_EQ(Do("POST", "/subjects", "", kSubject111).status, 201);
  // PUT of another subject carrying 111's template: 409 with the duplicate's uuid.
  ASSERT_EQ(Do("POST", "/subjects", "", R"({"user_uuid":"222","left_eye_template":"QUJD"})").status,
            201);
  auto put = Do("PUT", "/subjects/222", "", R"({"left_eye_template":"TEVGVA=="})");
  EXPECT_EQ(put.status, 409);
  EXPECT_EQ(Json(put).at("duplicate_uuid").as_string(), "111");
  // Re-sending your own template is not a duplicate.
  EXPECT_EQ(Do("PUT", "/subjects/111", "", kSubject111).status, 204);
  // POST of a new subject with a known template.
  auto post = Do("POST", "/subjects", "", R"({"user_uuid":"333","right_eye_template":"UklHSFQ="})");
  EXPECT_EQ(post.status, 409);
  EXPECT_EQ(Json(post).at("duplicate_uuid").as_string(), "111");
}

TEST_F(ReaderUsers, DuplicationCheckReportsTheEnrolledUuid) {
  ASSERT_EQ(Do("POST", "/subjects", "", kSubject111).status, 201);
  auto hit = Do("PUT", "/subjects/duplication/check", "", R"({"left_eye_template":"UklHSFQ="})");
  ASSERT_EQ(hit.status, 200);
  EXPECT_EQ(Json(hit).at("duplicate_uuid").as_string(), "111");
  auto miss = Do("PUT", "/subjects/duplication/check", "", R"({"left_eye_template":"WFla"})");
  ASSERT_EQ(miss.status, 200);
  EXPECT_EQ(Json(miss).at("duplicate_uuid").as_string(), "");
}

TEST_F(ReaderUsers, RecordVersionIs8976AndVacuumAnswers200) {
  auto response = Do("GET", "/subjects/record-version");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(Json(response).at("record_version").as_int64(), 8976);
  EXPECT_EQ(Do("POST", "/subjects/vacuum").status, 200);
}

TEST_F(ReaderUsers, SubjectListIsPagedAndLightListNamesUsers) {
  for (int i = 0; i < 7; ++i) {
    std::string body = R"({"user_uuid":"u)" + std::to_string(i) +
                       R"(","first_name":"F","last_name":"L)" + std::to_string(i) + R"("})";
    ASSERT_EQ(Do("POST", "/subjects", "", body).status, 201);
  }
  auto page = Json(Do("GET", "/subjects", "page=2&page_size=3"));
  EXPECT_EQ(page.at("items").as_array().size(), 3u);
  EXPECT_EQ(page.at("page").as_int64(), 2);
  EXPECT_EQ(page.at("page_size").as_int64(), 3);
  EXPECT_EQ(page.at("total").as_int64(), 7);
  EXPECT_TRUE(page.at("has_more").as_bool());
  EXPECT_EQ(page.at("items").as_array()[0].at("user_uuid").as_string(), "u3");

  auto light = Json(Do("GET", "/subjects/light/list"));
  EXPECT_EQ(light.at("page_size").as_int64(), 1000);
  EXPECT_EQ(light.at("items").as_array().size(), 7u);
  EXPECT_EQ(light.at("items").as_array()[0].at("user_name").as_string(), "F L0");
}

TEST_F(ReaderUsers, DeleteAllWipesEveryUserTable) {
  ASSERT_EQ(
      Do("POST", "/user", "", R"({"user_uuid":"1","card":"65 D8 A1 BD","faces":[{"sub_id":1}]})")
          .status,
      201);
  ASSERT_EQ(Do("POST", "/subjects", "", kSubject111).status, 201);
  EXPECT_EQ(Do("DELETE", "/subjects/x-delete%20all-x").status, 204);
  EXPECT_EQ(Json(Do("GET", "/subjects")).at("total").as_int64(), 0);
  EXPECT_EQ(Json(Do("GET", "/user-info")).at("total").as_int64(), 0);
  EXPECT_EQ(Json(Do("GET", "/faces")).at("total").as_int64(), 0);
}

TEST_F(ReaderUsers, UserInfoByUuidAndByDecodedCard) {
  EXPECT_EQ(Do("POST", "/user-info", "",
               R"({"user_uuid":"111","card":"65 D8 A1 BD","pin":"1234","indivisual":2})")
                .status,
            201);
  EXPECT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"111"})").status, 409);
  EXPECT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"222","card":"65 D8 A1 BD"})").status,
            409);

  auto by_card = Do("GET", "/user-info/card/65%20D8%20A1%20BD");
  ASSERT_EQ(by_card.status, 200);
  auto info = Json(by_card);
  EXPECT_EQ(info.at("user_uuid").as_string(), "111");
  EXPECT_EQ(info.at("indivisual").as_int64(), 2);  // sic
  EXPECT_EQ(Do("GET", "/user-info/card/65%20D8%20A1%20BE").status, 404);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/111")).at("pin").as_string(), "1234");
  EXPECT_EQ(Do("GET", "/user-info/uuid/222").status, 404);

  EXPECT_EQ(Do("PUT", "/user-info/uuid/111", "", R"({"card":"01 02 03 04","pin":"9"})").status,
            204);
  EXPECT_EQ(Do("PUT", "/user-info/card/01%2002%2003%2004", "", R"({"card":"01 02 03 05"})").status,
            204);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/111")).at("card").as_string(), "01 02 03 05");
  EXPECT_EQ(Do("PUT", "/user-info/uuid/222", "", "{}").status, 404);
  EXPECT_EQ(Do("PUT", "/user-info/uuid/111", "", "{").status, 400);
  EXPECT_EQ(Json(Do("GET", "/user-info")).at("total").as_int64(), 1);

  EXPECT_EQ(Do("DELETE", "/user-info/card/01%2002%2003%2005").status, 204);
  EXPECT_EQ(Do("DELETE", "/user-info/uuid/111").status, 404);
  ASSERT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"111"})").status, 201);
  EXPECT_EQ(Do("DELETE", "/user-info/uuid/111").status, 204);
  EXPECT_EQ(Do("GET", "/user-info/other/111").status, 400);
}

TEST_F(ReaderUsers, ScheduleAssignmentIsAllOrNothing) {
  ASSERT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"1"})").status, 201);
  EXPECT_EQ(
      Do("PUT", "/user-info/schedule", "",
         R"({"size":2,"users":[{"id":"1","time_schedule_code":4},{"id":"9","time_schedule_code":4}]})")
          .status,
      412);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/1")).at("time_schedule_code").as_int64(), 0);
  EXPECT_EQ(Do("PUT", "/user-info/schedule", "",
               R"({"size":1,"users":[{"id":"1","time_schedule_code":4}]})")
                .status,
            204);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/1")).at("time_schedule_code").as_int64(), 4);
  EXPECT_EQ(Do("PUT", "/user-info/schedule", "", R"({"users":3})").status, 400);
}

TEST_F(ReaderUsers, FacesBySubIdWithFirmwareSpelling) {
  EXPECT_EQ(Do("POST", "/faces", "",
               R"({"user_uuid":"111","sub_id":1,"face_LED_state":1,"face_score":0.75})")
                .status,
            201);
  EXPECT_EQ(Do("POST", "/faces", "", R"({"user_uuid":"111","sub_id":1})").status, 409);
  EXPECT_EQ(Do("POST", "/faces", "", R"({"user_uuid":"111","sub_id":6})").status, 400);
  ASSERT_EQ(Do("POST", "/faces", "", R"({"user_uuid":"111","sub_id":3})").status, 201);

  auto all = Json(Do("GET", "/faces/111"));
  EXPECT_EQ(all.at("total").as_int64(), 2);
  auto one = Do("GET", "/faces/111", "subId=1");
  ASSERT_EQ(one.status, 200);
  auto face = Json(one);
  EXPECT_EQ(face.at("face_LED_state").as_int64(), 1);
  EXPECT_DOUBLE_EQ(face.at("face_score").as_double(), 0.75);
  EXPECT_FALSE(face.as_object().contains("items"));  // bare object with subId
  EXPECT_EQ(Do("GET", "/faces/111", "subId=2").status, 404);
  EXPECT_EQ(Do("GET", "/faces/999").status, 404);

  // `sub_id` (the DOC's spelling) is not what the firmware reads.
  EXPECT_EQ(Do("PUT", "/faces/111", "sub_id=1", R"({"face_score":0.5})").status, 400);
  EXPECT_EQ(Do("PUT", "/faces/111", "subId=1", R"({"face_score":0.5})").status, 204);
  EXPECT_DOUBLE_EQ(Json(Do("GET", "/faces/111", "subId=1")).at("face_score").as_double(), 0.5);
  EXPECT_EQ(Do("PUT", "/faces/111", "subId=4", "{}").status, 404);
  EXPECT_EQ(Do("DELETE", "/faces/111", "subId=1").status, 204);
  EXPECT_EQ(Do("DELETE", "/faces/111", "subId=1").status, 404);
  EXPECT_EQ(Do("DELETE", "/faces/111").status, 400);
  EXPECT_EQ(Json(Do("GET", "/faces")).at("total").as_int64(), 1);
}

TEST_F(ReaderUsers, UserBundleCreatesEveryPartAndDeletesThemTogether) {
  const char* bundle =
      R"({"user_uuid":"1","record_version":0,"last_name":"abc","card":"65 D8 A1 BD",)"
      R"("left_eye_template":"QUFB","faces":[{"sub_id":1,"face_eye_width":0},{"sub_id":0}],)"
      R"("cards":[{"sub_id":0,"card":"65 D8 A1 BD","remarks":"main"}]})";
  EXPECT_EQ(Do("POST", "/user", "", bundle).status, 201);
  EXPECT_EQ(Do("POST", "/user", "", bundle).status, 409);
  EXPECT_EQ(Json(Do("GET", "/subjects/1")).at("record_version").as_int64(), 0);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/1")).at("card").as_string(), "65 D8 A1 BD");
  EXPECT_EQ(Json(Do("GET", "/faces/1")).at("total").as_int64(), 2);

  auto list = Json(Do("GET", "/user"));
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  const auto& user = list.at("items").as_array()[0];
  EXPECT_EQ(user.at("last_name").as_string(), "abc");
  EXPECT_EQ(user.at("card").as_string(), "65 D8 A1 BD");
  EXPECT_EQ(user.at("faces").as_array().size(), 2u);
  EXPECT_EQ(user.at("cards").as_array()[0].at("remarks").as_string(), "main");

  // A biometric duplicate: 200 with the uuid, nothing stored.
  auto duplicate = Do("POST", "/user", "", R"({"user_uuid":"2","right_eye_template":"QUFB"})");
  EXPECT_EQ(duplicate.status, 200);
  EXPECT_EQ(Json(duplicate).at("duplicate_uuid").as_string(), "1");
  EXPECT_EQ(Do("GET", "/subjects/2").status, 404);

  EXPECT_EQ(Do("POST", "/user", "", R"({"user_uuid":"3","faces":[{"face_score":1}]})").status, 400);
  EXPECT_EQ(Do("DELETE", "/user/1").status, 204);
  EXPECT_EQ(Do("GET", "/subjects/1").status, 404);
  EXPECT_EQ(Do("GET", "/user-info/uuid/1").status, 404);
  EXPECT_EQ(Do("GET", "/faces/1").status, 404);
  EXPECT_EQ(Do("DELETE", "/user/1").status, 404);
  EXPECT_EQ(Do("DELETE", "/user").status, 400);
}

TEST_F(ReaderUsers, EveryApiChangeWritesAUserDataLog) {
  ASSERT_EQ(Do("POST", "/subjects", "", kSubject111).status, 201);
  ASSERT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"111"})").status, 201);
  ASSERT_EQ(Do("POST", "/faces", "", R"({"user_uuid":"111","sub_id":0})").status, 201);
  ASSERT_EQ(Do("DELETE", "/user/111").status, 204);
  const auto& generated = reader_->Generated();
  ASSERT_EQ(generated.size(), 4u);
  for (const auto& event : generated) {
    EXPECT_EQ(event.event_type, "UserData");
    EXPECT_EQ(event.additional_data, "Success");
    EXPECT_EQ(event.user_uuid, "111");
    EXPECT_TRUE(event.encounter_id.empty());
  }
  EXPECT_EQ(generated.back().info, "DeleteUsers");
  EXPECT_EQ(reader_->GetStats().user_data_logs_generated, 4u);
}

}  // namespace
