// Camera configuration and control, biometric data, image files, preview, imagecapture.
#include <gtest/gtest.h>

#include "sim_test_support.hpp"

namespace {

using simtest::Json;

class ReaderCamera : public simtest::ReaderTest {
 protected:
  std::string Status(const ef45sim::Response& response) {
    return std::string(Json(response).at("status").as_string());
  }
  bool Success(const ef45sim::Response& response) { return Json(response).at("success").as_bool(); }
  void SetSlave() {
    ASSERT_EQ(Do("POST", "/camera", "",
                 R"({"serial_number":"OA1405A031576","camera_mode":"Slave","audio_enabled":true})")
                  .status,
              200);
  }
};

TEST_F(ReaderCamera, ConfigurationModeIsCaseSensitive) {
  auto config = Json(Do("GET", "/camera"));
  EXPECT_EQ(config.at("serial_number").as_string(), "OA1405A000001");
  EXPECT_EQ(config.at("camera_mode").as_string(), "Recog");
  auto bad = Do("POST", "/camera", "", R"({"camera_mode":"slave","audio_enabled":true})");
  EXPECT_EQ(bad.status, 200);
  EXPECT_FALSE(Success(bad));
  EXPECT_EQ(Status(bad), "Fail to set mode");
  auto good = Do("POST", "/camera", "", R"({"camera_mode":"Enrol","audio_enabled":false})");
  EXPECT_TRUE(Success(good));
  EXPECT_EQ(Status(good), "Success set mode");
  EXPECT_EQ(Json(Do("GET", "/camera")).at("camera_mode").as_string(), "Enrol");
  EXPECT_FALSE(Json(Do("GET", "/camera")).at("audio_enabled").as_bool());
  auto put = Do("PUT", "/camera", "", R"({"camera_mode":"Slave","audio_enabled":true})");
  EXPECT_EQ(put.status, 200);
  EXPECT_TRUE(put.body.empty());
  EXPECT_EQ(Do("PUT", "/camera", "", R"({"camera_mode":"Other"})").status, 400);
  EXPECT_EQ(Do("POST", "/camera", "", "{oops").status, 400);
  EXPECT_EQ(Do("DELETE", "/camera").status, 405);
}

TEST_F(ReaderCamera, StartNeedsSlaveModeAndAModeFlag) {
  auto not_slave = Do("POST", "/camera/control/start", "face_mode=true");
  EXPECT_FALSE(Success(not_slave));
  EXPECT_EQ(Status(not_slave), "Please first chagne mode to Slave(Enrollment)");
  SetSlave();
  auto no_flag = Do("POST", "/camera/control/start", "streaming_mode=true");
  EXPECT_EQ(no_flag.status, 400);
  EXPECT_EQ(Status(no_flag), "Invalid Operation Requested");
  // `1` is not a bool for the firmware: still no mode flag.
  EXPECT_EQ(Do("POST", "/camera/control/start", "face_mode=1").status, 400);
  EXPECT_EQ(Status(Do("POST", "/camera/control/start", "face_mode=false")), "Unknown start mode");
  auto started = Do("POST", "/camera/control/start", "both_eye_mode=TRUE&recog_mode=false");
  EXPECT_TRUE(Success(started));
  EXPECT_EQ(Status(started), "Started camera");
  EXPECT_EQ(Status(Do("POST", "/camera/control/start", "face_mode=true")), "Already started");
  EXPECT_EQ(Status(Do("GET", "/camera/control")), "Started camera");
  EXPECT_EQ(Status(Do("POST", "/camera/control/stop")), "Stopped camera");
  auto again = Do("POST", "/camera/control/stop");
  EXPECT_FALSE(Success(again));
  EXPECT_EQ(Status(again), "Not capturing");
  EXPECT_EQ(Status(Do("GET", "/camera/control")), "Not capturing");
}

TEST_F(ReaderCamera, StartProducesBiometricDataInThreeViews) {
  SetSlave();
  ASSERT_TRUE(Success(Do("POST", "/camera/control/start", "face_mode=true")));
  auto v0 = Json(Do("GET", "/biometric-data"));
  ASSERT_EQ(v0.at("items").as_array().size(), 1u);
  const auto& item = v0.at("items").as_array()[0].as_object();
  EXPECT_TRUE(item.contains("left_eye_enrol_template"));
  EXPECT_TRUE(item.contains("far_on_face_LED_state"));
  EXPECT_TRUE(item.contains("near_off_face_duplicate_uuid"));
  EXPECT_TRUE(item.contains("error_message"));
  EXPECT_FALSE(item.contains("record_version"));
  // Size: close to the configured 64 KiB of Base64.
  std::size_t bytes = Do("GET", "/biometric-data").body.size();
  EXPECT_GT(bytes, 50u * 1024);
  EXPECT_LT(bytes, 90u * 1024);

  auto v1 = Json(Do("GET", "/biometric-data/ver1")).at("items").as_array()[0];
  EXPECT_EQ(v1.at("record_version").as_int64(), 8976);
  EXPECT_FALSE(v1.as_object().contains("server_matching_key"));
  auto v2 = Json(Do("GET", "/biometric-data/ver2")).at("items").as_array()[0];
  EXPECT_EQ(v2.at("record_version").as_int64(), 8976);
  EXPECT_TRUE(v2.as_object().contains("server_matching_key"));

  std::string id(item.at("encounter_id").as_string());
  EXPECT_EQ(Do("DELETE", "/biometric-data/" + id).status, 200);
  EXPECT_EQ(Do("DELETE", "/biometric-data/" + id).status, 400);
  EXPECT_EQ(Json(Do("GET", "/biometric-data")).at("total").as_int64(), 0);
}

TEST(ReaderCameraSize, BiometricSizeIsConfigurable) {
  ef45sim::ReaderOptions options;
  options.biometric_bytes = 5 * 1024 * 1024;
  ef45sim::Reader reader(simtest::TestIdentity(), 1, options);
  std::string lock = simtest::TakeLock(reader);
  simtest::Call(reader, "POST", "/1.0/camera?lock_uid=" + lock, R"({"camera_mode":"Slave"})");
  simtest::Call(reader, "POST", "/1.0/camera/control/start?lock_uid=" + lock + "&face_mode=true");
  auto response = simtest::Call(reader, "GET", "/1.0/biometric-data?lock_uid=" + lock);
  EXPECT_GT(response.body.size(), 5u * 1000 * 1000);
  EXPECT_LT(response.body.size(), 6u * 1000 * 1000);
}

TEST_F(ReaderCamera, PreviewFramesThen204AndSelectedFaceClearsOnRead) {
  EXPECT_EQ(Do("GET", "/preview").status, 204);
  SetSlave();
  ASSERT_TRUE(Success(Do("POST", "/camera/control/start", "glasses_mode=true")));
  int frames = 0;
  while (true) {
    auto frame = Do("GET", "/preview");
    if (frame.status == 204) break;
    ASSERT_EQ(frame.status, 200);
    auto preview = Json(frame);
    EXPECT_TRUE(preview.as_object().contains("face_image"));
    EXPECT_TRUE(preview.as_object().contains("switch_flag"));
    ASSERT_LT(++frames, 100);
  }
  EXPECT_GT(frames, 0);
  auto face = Json(Do("GET", "/preview/selected-face"));
  EXPECT_FALSE(std::string(face.at("face_off").as_string()).empty());
  EXPECT_EQ(face.at("width").as_int64(), 64);
  EXPECT_TRUE(
      std::string(Json(Do("GET", "/preview/selected-face")).at("face_off").as_string()).empty());
  EXPECT_EQ(Do("DELETE", "/preview/selected-face").status, 204);
  EXPECT_EQ(Do("DELETE", "/preview").status, 404);
}

TEST_F(ReaderCamera, SetDeviceTimeMovesTheReaderClock) {
  auto ok = Do("POST", "/camera/control/setDeviceTime/052014402018.30");
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(Success(ok));
  reader_->GenerateRecognition();
  EXPECT_EQ(reader_->Generated().back().timestamp, "2018-05-20T14:40:30Z");
  clock_.Advance(std::chrono::seconds(90));
  reader_->GenerateRecognition();
  EXPECT_EQ(reader_->Generated().back().timestamp, "2018-05-20T14:42:00Z");
  for (const char* bad : {"052014402018", "132014402018.30", "023014402018.30", "05201440201a.30",
                          "052024402018.30"}) {
    auto response = Do("POST", std::string("/camera/control/setDeviceTime/") + bad);
    EXPECT_EQ(response.status, 400) << bad;
    EXPECT_EQ(Status(response), "Invalid Operation Requested");
  }
}

TEST_F(ReaderCamera, MatchTemplateStartLogsTheOutcome) {
  auto bad = Do("POST", "/camera/control/start/template/not-a-uuid", "", "{}");
  EXPECT_EQ(bad.status, 400);
  auto ok = Do("POST", "/camera/control/start/template/6c45cc76-6291-11e8-b384-503f98000288", "",
               R"({"left_eye_template":"bm9ib2R5"})");
  EXPECT_EQ(Status(ok), "Started matching template");
  EXPECT_EQ(reader_->Generated().back().event_type, "Recognition");
  EXPECT_EQ(reader_->Generated().back().additional_data, "Denied");
}

TEST_F(ReaderCamera, WidePoweroffAndReboot) {
  EXPECT_EQ(Status(Do("POST", "/camera/control/wide")), "Started capture");
  EXPECT_TRUE(Success(Do("POST", "/camera/control/reboot")));
  EXPECT_FALSE(reader_->GetStats().locked);
  lock_ = simtest::TakeLock(*reader_);
  EXPECT_TRUE(Success(Do("POST", "/camera/control/poweroff")));
  EXPECT_FALSE(reader_->GetStats().locked);
  lock_ = simtest::TakeLock(*reader_);
  EXPECT_EQ(Do("POST", "/camera/control/fly").status, 400);
}

TEST_F(ReaderCamera, ImageFilesSaveAndLoad) {
  EXPECT_EQ(Do("PUT", "/biometric-data/save-8bmp", "",
               R"({"filename":"lefteye.bmp","image":"AAEC","width":3,"height":1})")
                .status,
            204);
  EXPECT_EQ(Do("PUT", "/biometric-data/save-24bmp", "",
               R"({"filename":"faroff.bmp","image":"AAECAwQF","width":2,"height":1})")
                .status,
            204);
  EXPECT_EQ(Do("PUT", "/biometric-data/save-8bmp", "",
               R"({"filename":"x.bmp","image":"not base64!","width":3,"height":1})")
                .status,
            400);
  EXPECT_EQ(Do("PUT", "/biometric-data/save-24bmp", "", R"({"filename":"x.bmp"})").status, 400);
  EXPECT_EQ(Do("POST", "/biometric-data/save-8bmp").status, 405);

  auto loaded = Do("GET", "/biometric-data/load-file", "filename=lefteye.bmp");
  ASSERT_EQ(loaded.status, 200);
  EXPECT_EQ(Json(loaded).at("file").as_string(), "AAEC");
  EXPECT_EQ(Json(loaded).at("size").as_int64(), 3);

  EXPECT_EQ(
      Do("PUT", "/biometric-data/save-file", "filename=logo.jpg", R"({"file":"aGVsbG8=","size":5})")
          .status,
      204);
  EXPECT_EQ(Json(Do("GET", "/biometric-data/load-file", "filename=logo.jpg")).at("size").as_int64(),
            5);
  EXPECT_EQ(
      Do("PUT", "/biometric-data/save-file", "filename=logo.jpg", R"({"file":"aGVsbG8=","size":4})")
          .status,
      400);
  EXPECT_EQ(Do("PUT", "/biometric-data/save-file", "", R"({"file":"aGVsbG8="})").status, 400);
  EXPECT_EQ(Do("GET", "/biometric-data/load-file", "filename=none.jpg").status, 404);
}

TEST_F(ReaderCamera, ImageCaptureListsEachCapture) {
  EXPECT_EQ(Json(Do("GET", "/imagecapture")).at("image_captures").as_array().size(), 0u);
  SetSlave();
  ASSERT_TRUE(Success(Do("POST", "/camera/control/start", "either_eye_mode=true")));
  auto list = Json(Do("GET", "/imagecapture")).at("image_captures").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("id").as_int64(), 1);
  EXPECT_EQ(list[0].at("serial_number").as_string(), "OA1405A000001");
}

}  // namespace
