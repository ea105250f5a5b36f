// Every operation of shared/ef45/openapi.yaml, through gw::ef45::Client, against the emulator
// over loopback. zz_coverage_test.cpp (linked last) checks that each one really round-tripped.

#include <gtest/gtest.h>

#include "client_support.hpp"
#include "ef45/encode.hpp"

namespace gw::ef45 {
namespace {

using test::RunOn;
using test::Sim;
using test::Why;

class ClientRoundTrip : public ::testing::Test {
 protected:
  static ef45sim::FleetOptions Small() {
    ef45sim::FleetOptions options;
    options.biometric_kb = 64;
    return options;
  }

  ClientRoundTrip() : sim_(Small()), client_(io_.get_executor(), test::OptionsFor(sim_)) {}
  ~ClientRoundTrip() override {
    if (!client_.lock_uid().empty()) RunOn(io_, client_.Unlock());
  }

  /// Runs `task` and returns its value; a failed reply fails the test and aborts it.
  template <class T>
  T Ok(boost::asio::awaitable<Reply<T>> task, const char* what) {
    Reply<T> reply = RunOn(io_, std::move(task));
    if (!reply) throw std::runtime_error(std::string(what) + ": " + Why(reply.error()));
    if constexpr (!std::is_void_v<T>) return std::move(*reply);
  }

  boost::asio::io_context io_;
  Sim sim_;
  Client client_;
};

std::string B64(std::string_view text) {
  return Base64Encode({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

TEST_F(ClientRoundTrip, TakesStealsAndReleasesTheLock) {
  Ok(client_.Lock(), "lock");
  const std::string first = client_.lock_uid();
  EXPECT_EQ(first.size(), 36u) << first;
  EXPECT_TRUE(sim_.State().at("locked").as_bool());

  Ok(client_.StealLock(), "steal");
  EXPECT_NE(client_.lock_uid(), first);

  auto version = Ok(client_.GetVersion(), "version");
  EXPECT_FALSE(version.version.empty());
  Ok(client_.Heartbeat(), "heartbeat");

  Ok(client_.Unlock(), "unlock");
  EXPECT_TRUE(client_.lock_uid().empty());
  EXPECT_FALSE(sim_.State().at("locked").as_bool());
}

TEST_F(ClientRoundTrip, DrivesTheCameraThroughAnEnrolmentCapture) {
  auto config = Ok(client_.GetCamera(), "camera-get");
  EXPECT_FALSE(config.serial_number.empty());
  config.camera_mode = "Slave";
  auto set = Ok(client_.SetCamera(config), "camera-set");
  EXPECT_TRUE(set.success) << set.status;
  Ok(client_.PutCamera(config), "camera-put");
  EXPECT_EQ(Ok(client_.GetCamera(), "camera-get").camera_mode, "Slave");

  auto time = Ok(client_.SetDeviceTime(FormatDeviceTime(std::chrono::system_clock::now())),
                 "set-device-time");
  EXPECT_TRUE(time.success) << time.status;

  CameraStartOptions start;
  start.both_eye_mode = true;
  start.face_mode = true;
  auto started = Ok(client_.StartCamera(start), "camera-start");
  EXPECT_TRUE(started.success) << started.status;
  Ok(client_.GetCameraControl(), "camera-control");

  auto preview = Ok(client_.GetPreview(), "preview");
  ASSERT_TRUE(preview.has_value());
  EXPECT_TRUE(preview->face_image.has_value());
  auto selected = Ok(client_.GetSelectedFace(), "selected-face");
  EXPECT_TRUE(selected.face_off.has_value());
  Ok(client_.DeleteSelectedFace(), "selected-face-delete");

  auto v0 = Ok(client_.GetBiometricData(), "biometric-data");
  ASSERT_EQ(v0.items.size(), 1u);
  const BiometricData& capture = v0.items[0];
  EXPECT_FALSE(capture.encounter_id.empty());
  EXPECT_TRUE(capture.left_eye.iris_template.has_value());
  EXPECT_TRUE(capture.faces[static_cast<int>(FaceSlot::kFarOff)].led_state.has_value());
  EXPECT_FALSE(capture.record_version.has_value());
  auto v1 = Ok(client_.GetBiometricDataVer1(), "biometric-data-ver1");
  ASSERT_EQ(v1.items.size(), 1u);
  EXPECT_EQ(v1.items[0].record_version, 8976);
  auto v2 = Ok(client_.GetBiometricDataVer2(), "biometric-data-ver2");
  ASSERT_EQ(v2.items.size(), 1u);
  EXPECT_TRUE(v2.items[0].server_matching_key.has_value());

  auto captures = Ok(client_.GetImageCaptures(), "imagecapture");
  EXPECT_FALSE(captures.image_captures.empty());

  Ok(client_.DeleteBiometricData(capture.encounter_id), "biometric-data-delete");
  EXPECT_TRUE(Ok(client_.GetBiometricData(), "biometric-data").items.empty());
  Ok(client_.StopCamera(), "camera-stop");

  Subject templates;
  templates.user_uuid = "match";
  templates.left_eye_template = B64("left template");
  auto matching =
      Ok(client_.StartMatchTemplate("template", "6c45cc76-6291-11e8-b384-503f98000288", templates),
         "start-match-template");
  EXPECT_FALSE(matching.status.empty());
  Ok(client_.CameraWide(), "camera-wide");
}

TEST_F(ClientRoundTrip, PowerOffAndRebootAreFollowedByATransparentRelock) {
  Ok(client_.CameraPowerOff(), "camera-poweroff");
  // The emulated device comes straight back without our lock: the next call re-acquires it.
  Ok(client_.GetDoorStatus(), "door-status after poweroff");
  Ok(client_.CameraReboot(), "camera-reboot");
  Ok(client_.GetDoorStatus(), "door-status after reboot");
}

TEST_F(ClientRoundTrip, SavesAndLoadsImageFiles) {
  ImageToSaveData image{"lefteye.bmp", B64("eight bit pixels"), 4, 4};
  Ok(client_.SaveImage8Bmp(image), "save-8bmp");
  ImageToSaveData face{"faroff.bmp", B64("twenty four bit pixels"), 2, 2};
  Ok(client_.SaveImage24Bmp(face), "save-24bmp");
  auto loaded = Ok(client_.LoadFile("lefteye.bmp"), "load-file");
  EXPECT_EQ(loaded.file, image.image);

  FileData file{B64("some file"), 9};
  Ok(client_.SaveFile("logo.jpg", file), "save-file");
  auto again = Ok(client_.LoadFile("logo.jpg"), "load-file");
  EXPECT_EQ(again.file, file.file);
  EXPECT_EQ(again.size, 9);
}

TEST_F(ClientRoundTrip, ManagesSubjects) {
  Subject s;
  s.user_uuid = "subject-1";
  s.record_version = 8976;
  s.first_name = "Ada";
  s.last_name = "Lovelace";
  s.access_allowed = true;
  s.wiegand_facility = -1;
  s.wiegand_site = -1;
  s.wiegand_code = -1;
  s.left_eye_template = B64("left iris of subject 1");
  s.right_eye_template = B64("right iris of subject 1");
  Ok(client_.AddSubject(s), "subject-add");

  auto got = Ok(client_.GetSubject("subject-1"), "subject-get");
  EXPECT_EQ(got.last_name, "Lovelace");
  EXPECT_EQ(got.left_eye_template, s.left_eye_template);

  s.last_name = "King";
  Ok(client_.UpdateSubject("subject-1", s), "subject-update");
  EXPECT_EQ(Ok(client_.GetSubject("subject-1"), "subject-get").last_name, "King");

  PageRequest page;
  page.page = 1;
  page.page_size = 1000;
  auto list = Ok(client_.ListSubjects(page), "subjects");
  bool found = false;
  for (const Subject& item : list.items) found = found || item.user_uuid == "subject-1";
  EXPECT_TRUE(found);

  Subject probe;
  probe.user_uuid = "probe";
  probe.left_eye_template = s.left_eye_template;
  probe.right_eye_template = s.right_eye_template;
  auto duplicate = Ok(client_.CheckDuplicate(probe), "duplication-check");
  EXPECT_EQ(duplicate.duplicate_uuid, "subject-1");

  EXPECT_EQ(Ok(client_.GetRecordVersion(), "record-version").record_version, 8976);
  Ok(client_.VacuumSubjects(), "subjects-vacuum");
  Ok(client_.DeleteSubject("subject-1"), "subject-delete");
  auto gone = RunOn(io_, client_.GetSubject("subject-1"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().reason(), Errc::kHttpStatus);
  EXPECT_EQ(gone.error().http_status, 404);
}

TEST_F(ClientRoundTrip, FindsUserInfoByACardNumberWithSpaces) {
  UserInfo info;
  info.user_uuid = "user-1";
  info.card = "65 D8 A1 BD";
  info.pin = "1234";
  info.indivisual = 1;
  info.apb_status = 0;
  Ok(client_.AddUserInfo(info), "user-info-add");

  auto by_card = Ok(client_.GetUserInfoByCard("65 D8 A1 BD"), "user-info-by-card");
  EXPECT_EQ(by_card.user_uuid, "user-1");
  EXPECT_EQ(by_card.indivisual, 1);

  info.pin = "4321";
  Ok(client_.UpdateUserInfoByCard("65 D8 A1 BD", info), "user-info-update-by-card");
  EXPECT_EQ(Ok(client_.GetUserInfo("user-1"), "user-info-by-uuid").pin, "4321");
  info.group_index = 2;
  Ok(client_.UpdateUserInfo("user-1", info), "user-info-update");
  EXPECT_EQ(Ok(client_.GetUserInfo("user-1"), "user-info-by-uuid").group_index, 2);

  auto list = Ok(client_.ListUserInfo(), "user-info");
  EXPECT_FALSE(list.items.empty());

  UserScheduleAssignment schedules;
  schedules.users.push_back({"user-1", 3});
  Ok(client_.AssignSchedules(schedules), "user-info-schedule");
  EXPECT_EQ(Ok(client_.GetUserInfo("user-1"), "user-info-by-uuid").time_schedule_code, 3);

  Ok(client_.ClearApb("user-1"), "apb-clear");
  EXPECT_EQ(Ok(client_.GetUserInfo("user-1"), "user-info-by-uuid").apb_status, 1);
  Ok(client_.ClearAllApb(), "apb-clear-all");

  Ok(client_.DeleteUserInfoByCard("65 D8 A1 BD"), "user-info-delete-by-card");
  info.user_uuid = "user-2";
  info.card = "01 02";
  Ok(client_.AddUserInfo(info), "user-info-add");
  Ok(client_.DeleteUserInfo("user-2"), "user-info-delete");
  auto gone = RunOn(io_, client_.GetUserInfo("user-2"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().http_status, 404);
}

TEST_F(ClientRoundTrip, EnrolsAUserAndManagesFaces) {
  EnrollUser user;
  user.subject.user_uuid = "enrolled-1";
  user.subject.record_version = 8976;
  user.subject.last_name = "abc";
  user.subject.left_eye_template = B64("left iris of enrolled 1");
  user.subject.right_eye_template = B64("right iris of enrolled 1");
  user.info.card = "0A 0B 0C 0D";
  user.info.pin = "0000";
  Face face;
  face.sub_id = 0;
  face.face_eye_width = 70;
  face.face_feature = B64("face feature");
  face.face_feature_size = 12;
  face.face_led_state = 1;
  user.faces.push_back(face);
  user.cards.push_back(CardEntry{0, "0A 0B 0C 0D", "badge"});
  auto enrolled = Ok(client_.EnrollUser(user), "user-enroll");
  EXPECT_FALSE(enrolled.has_value()) << enrolled->duplicate_uuid;

  auto users = Ok(client_.GetUsers(), "user-list");
  EXPECT_FALSE(users.json.empty());

  auto faces = Ok(client_.GetFaces("enrolled-1"), "faces-of-user");
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_EQ(faces[0].face_led_state, 1);

  Face second;
  second.user_uuid = "enrolled-1";
  second.sub_id = 2;
  second.face_score = 0.5;
  Ok(client_.AddFace(second), "face-add");
  auto one = Ok(client_.GetFace("enrolled-1", 2), "face-get");
  EXPECT_EQ(one.sub_id, 2);
  second.face_score = 0.75;
  Ok(client_.UpdateFace("enrolled-1", 2, second), "face-update");
  EXPECT_EQ(Ok(client_.GetFace("enrolled-1", 2), "face-get").face_score, 0.75);
  auto all = Ok(client_.ListFaces(), "faces");
  EXPECT_GE(all.items.size(), 2u);
  Ok(client_.DeleteFace("enrolled-1", 2), "face-delete");
  EXPECT_EQ(Ok(client_.GetFaces("enrolled-1"), "faces-of-user").size(), 1u);

  Ok(client_.DeleteUser("enrolled-1"), "user-delete");
  auto gone = RunOn(io_, client_.GetSubject("enrolled-1"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().http_status, 404);
}

TEST_F(ClientRoundTrip, ReadsAndWritesSettingsAndTheDoor) {
  const std::string title = "launcher.device.door.duration";
  Ok(client_.SetSetting(title, std::int32_t{7}), "setting-set");
  auto setting = Ok(client_.GetSetting(title, SettingType::kInt), "setting-get");
  EXPECT_EQ(setting.title, title);
  EXPECT_EQ(std::get<std::int32_t>(setting.value), 7);

  auto out_of_range = RunOn(io_, client_.SetSetting(title, std::int32_t{99}));
  ASSERT_FALSE(out_of_range);
  EXPECT_EQ(out_of_range.error().http_status, 417);

  auto door = Ok(client_.GetDoorStatus(), "door-status");
  EXPECT_GE(door.relay, 0);
  RelayOptions relay;
  relay.forced = false;
  relay.duration_s = 3;
  Ok(client_.DriveRelay(relay), "relay");
  Ok(client_.GetLegacyConfig(), "config-legacy");
}

TEST_F(ClientRoundTrip, ReadsAndClearsMatchDataAndLogs) {
  sim_.Control("POST", "/sim/readers/0/generate", R"({"recognitions":5})");
  auto matches = Ok(client_.GetMatchData(), "match-data");
  ASSERT_FALSE(matches.items.empty());
  auto logs = Ok(client_.GetLogsRange(1, 1000), "logs-range");
  ASSERT_GE(logs.items.size(), 5u);
  for (const MatchData& m : matches.items) {
    ASSERT_TRUE(m.log_id.has_value()) << m.encounter_id;
    bool in_logs = false;
    for (const LogEntry& e : logs.items) in_logs = in_logs || e.id == *m.log_id;
    EXPECT_TRUE(in_logs) << "log_id " << *m.log_id;
  }
  for (const MatchData& m : matches.items) {
    Ok(client_.DeleteMatchData(m.encounter_id), "match-data-delete");
  }
  EXPECT_TRUE(Ok(client_.GetMatchData(), "match-data").items.empty());

  const std::int64_t first = logs.items.front().id;
  const std::int64_t last = logs.items.back().id;
  EXPECT_EQ(Ok(client_.GetLog(first), "log-get").id, first);

  PageRequest page;
  page.page = 1;
  page.page_size = 2;
  auto newest = Ok(client_.ListLogs(page, LogOrder::kDesc), "logs");
  ASSERT_EQ(newest.items.size(), 2u);
  EXPECT_EQ(newest.items[0].id, last);

  auto counted = Ok(client_.GetLogsFromCount(first, 3), "logs-from-count");
  ASSERT_EQ(counted.items.size(), 3u);
  EXPECT_EQ(counted.items[0].id, first);

  Ok(client_.DeleteLog(first), "log-delete");
  Ok(client_.DeleteLogs(first + 1, first + 2), "logs-delete-range");
  Ok(client_.VacuumLogs(), "logs-vacuum");
  auto rest = Ok(client_.GetLogsRange(first, last), "logs-range");
  for (const LogEntry& e : rest.items) EXPECT_GT(e.id, first + 2);
  Ok(client_.DeleteAllLogs(), "logs-delete-all");
  EXPECT_TRUE(Ok(client_.GetLogsRange(1, 1000000), "logs-range").items.empty());
}

TEST_F(ClientRoundTrip, UploadsFirmwareNormallyAndForced) {
  for (bool forced : {false, true}) {
    Ok(client_.UpdateStart(forced), "update-start");
    Ok(client_.UpdateChunk(B64("first unit of the image"), forced), "update-chunk");
    auto done = Ok(client_.UpdateDone(B64("last unit"), forced), "update-done");
    EXPECT_TRUE(done.ok()) << done.file;
  }
}

TEST_F(ClientRoundTrip, ControlsTheDeviceCardInputAndOperationMode) {
  Ok(client_.SetSetting("launcher.network.server.manualcommand", true), "setting-set");
  ControlData control;
  control.result = true;
  control.wiegand_code = 12;
  auto shown = Ok(client_.Control(control), "control");
  EXPECT_TRUE(shown.success) << shown.status;

  CameraConfiguration slave{"", "Slave", true};
  Ok(client_.SetCamera(slave), "camera-set");
  Ok(client_.StartCardInput(), "card-start");
  Ok(client_.GetCardData(), "card-data");
  Ok(client_.StopCardInput(), "card-stop");

  OperationRequest op;
  op.op_mode = 1;
  op.host = "192.0.2.10";
  op.port = 8080;
  op.request_uri = "/iris-api/ef45/commute";
  Ok(client_.SetOperation(true, op), "operation-set");
  auto now = Ok(client_.GetOperation(), "operation-get");
  EXPECT_EQ(now.host, "192.0.2.10");
}

}  // namespace
}  // namespace gw::ef45
