// Settings, door status and relay, firmware upload, manual control, card input, APB, operation.
#include <gtest/gtest.h>

#include "sim_test_support.hpp"

namespace {

using simtest::Json;

class ReaderDevice : public simtest::ReaderTest {};

TEST_F(ReaderDevice, SettingsAreTypedAndRanged) {
  auto got = Do("GET", "/config/launcher.device.door.duration/int");
  ASSERT_EQ(got.status, 200);
  auto value = Json(got);
  EXPECT_EQ(value.at("title").as_string(), "launcher.device.door.duration");
  EXPECT_EQ(value.at("int").as_int64(), 3);

  EXPECT_EQ(Do("PUT", "/config/launcher.device.door.duration/int", "", R"({"int":7})").status, 204);
  EXPECT_EQ(Json(Do("GET", "/config/launcher.device.door.duration/int")).at("int").as_int64(), 7);
  EXPECT_EQ(Do("PUT", "/config/launcher.device.door.duration/int", "", R"({"int":11})").status,
            417);
  EXPECT_EQ(Do("PUT", "/config/launcher.device.door.duration/int", "", R"({"int":-1})").status,
            417);
  EXPECT_EQ(
      Do("PUT", "/config/launcher.device.bio.iris.mindistance/int", "", R"({"int":29})").status,
      417);
  EXPECT_EQ(Do("PUT", "/config/launcher.device.door.duration/int", "", R"({"int":"5"})").status,
            400);
  EXPECT_EQ(Do("PUT", "/config/launcher.device.door.duration/int", "", R"({"bool":true})").status,
            400);
  EXPECT_EQ(Do("GET", "/config/launcher.device.door.duration/bool").status, 400);
  EXPECT_EQ(Do("GET", "/config/launcher.device.door.duration/double").status, 400);
  EXPECT_EQ(Do("GET", "/config/launcher.no.such/int").status, 404);

  EXPECT_EQ(Do("PUT", "/config/launcher.network.tcpip.dhcp/bool", "", R"({"bool":true})").status,
            204);
  EXPECT_TRUE(Json(Do("GET", "/config/launcher.network.tcpip.dhcp/bool")).at("bool").as_bool());
  EXPECT_EQ(
      Do("PUT", "/config/launcher.device.deviceinfo.devicename/string", "", R"({"string":"Lobby"})")
          .status,
      204);
  EXPECT_EQ(Json(Do("GET", "/config/launcher.device.deviceinfo.devicename/string"))
                .at("string")
                .as_string(),
            "Lobby");
  // Device info is read-only, and aliases read the same property.
  EXPECT_EQ(Json(Do("GET", "/config/launcher.device.deviceinfo.deviceid/string"))
                .at("string")
                .as_string(),
            "OA1405A000001");
  EXPECT_EQ(
      Json(Do("GET", "/config/launcher.device.deviceinfo.mac/string")).at("string").as_string(),
      "50:3F:98:00:01:09");
  EXPECT_EQ(
      Do("PUT", "/config/launcher.device.deviceinfo.serialnumber/string", "", R"({"string":"X"})")
          .status,
      417);
  EXPECT_EQ(Do("DELETE", "/config/launcher.device.door.duration/int").status, 405);
}

TEST_F(ReaderDevice, SettingChangedAtTheReaderIsWhatTheApiReads) {
  // A technician at the reader (control API): what the reader API answers afterwards.
  EXPECT_EQ(
      reader_->ChangeSettingAtReader(R"({"title":"launcher.device.door.duration","value":9})"), "");
  EXPECT_EQ(Json(Do("GET", "/config/launcher.device.door.duration/int")).at("int").as_int64(), 9);
  EXPECT_NE(reader_->SettingJson("launcher.device.door.duration").find("\"value\":9"),
            std::string::npos);
  EXPECT_EQ(reader_->ChangeSettingAtReader(
                R"({"title":"launcher.network.server.manualMode","value":false})"),
            "");  // an alias
  EXPECT_FALSE(
      Json(Do("GET", "/config/launcher.network.server.manualcommand/bool")).at("bool").as_bool());
  // The same checks as the reader's own menu: type, range, read-only, unknown.
  EXPECT_NE(
      reader_->ChangeSettingAtReader(R"({"title":"launcher.device.door.duration","value":11})"),
      "");
  EXPECT_NE(
      reader_->ChangeSettingAtReader(R"({"title":"launcher.device.door.duration","value":"5"})"),
      "");
  EXPECT_NE(
      reader_->ChangeSettingAtReader(R"({"title":"launcher.device.deviceinfo.model","value":"X"})"),
      "");
  EXPECT_EQ(reader_->ChangeSettingAtReader(R"({"title":"launcher.no.such","value":1})"),
            "unknown setting");
  EXPECT_NE(reader_->ChangeSettingAtReader(R"({"title":"launcher.device.door.duration"})"), "");
  EXPECT_EQ(Json(Do("GET", "/config/launcher.device.door.duration/int")).at("int").as_int64(), 9);
  EXPECT_EQ(reader_->SettingJson("launcher.no.such"), "");
}

TEST_F(ReaderDevice, DoorStatusAndRelayTimer) {
  auto status = Json(Do("GET", "/config/door-status"));
  EXPECT_EQ(status.at("door_sensor").as_int64(), 0);
  EXPECT_EQ(status.at("relay").as_int64(), 0);
  EXPECT_EQ(status.at("tamper").as_int64(), 0);
  EXPECT_EQ(status.at("rte").as_int64(), 0);

  EXPECT_EQ(Do("PUT", "/config/relay", "forced=true&duration=5").status, 200);
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("relay").as_int64(), 1);
  clock_.Advance(std::chrono::seconds(4));
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("relay").as_int64(), 1);
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("relay").as_int64(), 0);

  // No duration: launcher.device.door.duration (3 s). forced=false releases at once.
  EXPECT_EQ(Do("PUT", "/config/relay").status, 200);
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("relay").as_int64(), 1);
  EXPECT_EQ(Do("PUT", "/config/relay", "forced=False").status, 200);
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("relay").as_int64(), 0);
  EXPECT_EQ(Do("PUT", "/config/relay", "duration=-2").status, 500);

  // Relay disabled: 417.
  ASSERT_EQ(Do("PUT", "/config/launcher.device.door.relay/int", "", R"({"int":0})").status, 204);
  EXPECT_EQ(Do("PUT", "/config/relay", "forced=true&duration=5").status, 417);

  // The hot path and the general router give the same answer.
  EXPECT_EQ(simtest::Call(*reader_, "GET", "/1.0//config/door-status?lock_uid=" + lock_).body,
            Do("GET", "/config/door-status").body);

  reader_->GenerateDoorChange();
  EXPECT_EQ(Json(Do("GET", "/config/door-status")).at("door_sensor").as_int64(), 1);
  EXPECT_EQ(Json(Do("GET", "/config/other")).at("cur_door_status").as_int64(), 1);
  EXPECT_EQ(reader_->GetStats().door_changes_generated, 1u);
  EXPECT_EQ(Do("POST", "/config/door-status").status, 405);
}

TEST_F(ReaderDevice, LegacyConfigSummary) {
  auto config = Json(Do("GET", "/config"));
  EXPECT_EQ(config.at("delayInterval").as_int64(), 3);
  EXPECT_TRUE(config.at("relay").as_bool());
  EXPECT_TRUE(config.as_object().contains("threshold"));
  EXPECT_TRUE(config.as_object().contains("mode"));
}

TEST_F(ReaderDevice, FirmwareUploadSucceedsThenReboots) {
  reader_->GenerateRecognition();
  ASSERT_EQ(reader_->GetStats().match_pending, 1u);
  EXPECT_EQ(Do("POST", "/update/start").status, 200);
  EXPECT_EQ(Do("POST", "/update/data", "", "AAECAwQF").status, 200);
  EXPECT_EQ(Do("POST", "/update/data", "", "\"BgcICQ==\"\n").status, 200);
  auto done = Do("POST", "/update/done", "", "CgsM");
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(Json(done).at("file").as_string(), "Upload success");
  auto stats = reader_->GetStats();
  EXPECT_FALSE(stats.locked);
  EXPECT_EQ(stats.match_pending, 0u);
  EXPECT_EQ(stats.log_count, 1);  // logs survive the reboot
}

// Issue 20: an image carrying EF45-FIRMWARE-VERSION=<label> installs <label>; firmware_fail
// refuses the next image and keeps the version.
TEST_F(ReaderDevice, FirmwareImageWithAVersionLabelInstallsThatVersion) {
  auto version = [&] { return Json(Do("GET", "/version")).at("version").as_string(); };
  auto fwversion = [&] {
    return Json(Do("GET", "/config/launcher.device.deviceinfo.fwversion/string"))
        .at("string")
        .as_string();
  };
  EXPECT_EQ(version(), "1.2.34");
  // "xxEF45-FIRMWARE-VERSION=2.0.0\n" in two units.
  EXPECT_EQ(Do("POST", "/update/start").status, 200);
  EXPECT_EQ(Do("POST", "/update/data", "", "eHhFRjQ1LUZJUk1XQVJFLVZF").status, 200);
  auto done = Do("POST", "/update/done", "", "UlNJT049Mi4wLjAK");
  EXPECT_EQ(Json(done).at("file").as_string(), "Upload success");
  auto pending = reader_->TakePendingInstall();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(*pending, "2.0.0");
  EXPECT_FALSE(reader_->TakePendingInstall().has_value());  // once
  EXPECT_EQ(version(), "1.2.34");                           // until the install is over
  reader_->FinishInstall(*pending);
  EXPECT_FALSE(reader_->GetStats().locked);  // it rebooted
  lock_ = simtest::TakeLock(*reader_);
  EXPECT_EQ(version(), "2.0.0");
  EXPECT_EQ(fwversion(), "2.0.0");
  EXPECT_EQ(reader_->GetStats().installs, 1u);

  reader_->FailNextInstall();
  EXPECT_EQ(Do("POST", "/update/start").status, 200);
  done = Do("POST", "/update/done", "", "eHhFRjQ1LUZJUk1XQVJFLVZFUlNJT049My4wCg==");
  EXPECT_EQ(Json(done).at("file").as_string(), "Upload fail");
  EXPECT_FALSE(reader_->TakePendingInstall().has_value());
  EXPECT_EQ(version(), "2.0.0");
}

TEST_F(ReaderDevice, FirmwareUploadWithBadBase64Fails) {
  EXPECT_EQ(Do("PUT", "/update/start").status, 200);
  EXPECT_EQ(Do("PUT", "/update/data", "", "%%%not-base64").status, 200);
  auto done = Do("PUT", "/update/done", "", "CgsM");
  EXPECT_EQ(Json(done).at("file").as_string(), "Upload fail");
  EXPECT_TRUE(reader_->GetStats().locked);
  // A new start clears the failure.
  EXPECT_EQ(Do("PUT", "/update/start").status, 200);
  EXPECT_EQ(Json(Do("PUT", "/update/done", "", "CgsM")).at("file").as_string(), "Upload success");
}

TEST_F(ReaderDevice, FirmwareDoneWithoutStartFails) {
  EXPECT_EQ(Json(Do("POST", "/update/done", "", "CgsM")).at("file").as_string(), "Upload fail");
  EXPECT_EQ(Do("GET", "/update/start").status, 405);
}

TEST_F(ReaderDevice, ManualControlNeedsTheSettingAndAField) {
  auto empty = Json(Do("POST", "/control", "", "{}"));
  EXPECT_FALSE(empty.at("success").as_bool());
  EXPECT_EQ(empty.at("status").as_string(), "Fail");
  auto ok = Json(Do("POST", "/control", "", R"({"result":true,"uuid":"111"})"));
  EXPECT_TRUE(ok.at("success").as_bool());
  EXPECT_EQ(ok.at("status").as_string(), "Success");
  EXPECT_FALSE(Json(Do("POST", "/control", "", R"({"result":"yes"})")).at("success").as_bool());
  ASSERT_EQ(
      Do("PUT", "/config/launcher.network.server.manualMode/bool", "", R"({"bool":false})").status,
      204);
  EXPECT_FALSE(Json(Do("POST", "/control", "", R"({"result":true})")).at("success").as_bool());
  EXPECT_EQ(Do("GET", "/control").status, 405);
}

TEST_F(ReaderDevice, CardInputNeedsSlaveMode) {
  auto refused = Json(Do("POST", "/control/card/start"));
  EXPECT_FALSE(refused.at("success").as_bool());
  ASSERT_EQ(Do("POST", "/camera", "", R"({"camera_mode":"Slave","audio_enabled":true})").status,
            200);
  EXPECT_TRUE(Json(Do("POST", "/control/card/start")).at("success").as_bool());
  std::string card(Json(Do("GET", "/control/card/data")).at("card").as_string());
  EXPECT_EQ(card.size(), 11u);  // "65 D8 A1 BD"
  EXPECT_EQ(card[2], ' ');
  EXPECT_EQ(Do("POST", "/control/card/stop").status, 200);
  EXPECT_EQ(Do("GET", "/control/card/start").status, 405);
}

TEST_F(ReaderDevice, ApbClearSetsStatusOne) {
  ASSERT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"a","apb_status":2})").status, 201);
  ASSERT_EQ(Do("POST", "/user-info", "", R"({"user_uuid":"b","apb_status":3})").status, 201);
  EXPECT_EQ(Do("POST", "/control/apb/clear/a").status, 200);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/a")).at("apb_status").as_int64(), 1);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/b")).at("apb_status").as_int64(), 3);
  EXPECT_EQ(Do("POST", "/control/apb/clear/zzz").status, 404);
  EXPECT_EQ(Do("POST", "/control/apb/clearall").status, 200);
  EXPECT_EQ(Json(Do("GET", "/user-info/uuid/b")).at("apb_status").as_int64(), 1);
}

TEST_F(ReaderDevice, OperationModeActiveAndInactive) {
  auto initial = Json(Do("GET", "/control/operation"));
  EXPECT_EQ(initial.at("op_mode").as_int64(), 0);
  EXPECT_EQ(Do("PUT", "/control/operation/active", "",
               R"({"host":"10.0.0.5","port":8080,"request_uri":"/iris-api/ef45/commute"})")
                .status,
            200);
  auto active = Json(Do("GET", "/control/operation"));
  EXPECT_EQ(active.at("op_mode").as_int64(), 1);
  EXPECT_EQ(active.at("host").as_string(), "10.0.0.5");
  EXPECT_EQ(active.at("port").as_int64(), 8080);
  EXPECT_EQ(Do("PUT", "/control/operation/in-active", "", "{}").status, 200);
  EXPECT_EQ(Json(Do("GET", "/control/operation")).at("op_mode").as_int64(), 0);
  EXPECT_EQ(Do("PUT", "/control/operation/sideways", "", "{}").status, 400);
  EXPECT_EQ(Do("PUT", "/control/operation/active", "", R"({"port":"x"})").status, 400);
}

}  // namespace
