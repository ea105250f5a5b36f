#include "ef45/parse.hpp"

#include <gtest/gtest.h>

#include <string>

namespace gw::ef45 {
namespace {

// The full DOC sample of a log page (API.md section 11).
constexpr const char* kLogPageSample =
    R"({"status_code":200,"reason_phrase":"OK","items":[{"id":68,"event_type":"Recognition",)"
    R"("timestamp":"2018-05-28T14:26:26Z","user_uuid":"111","info":"Recog/BioOnly/IrisOk",)"
    R"("additional_data":"Allowed","matched_faceimage_data":""},{"id":69,"event_type":"UserData",)"
    R"("timestamp":"2018-05-28T14:45:57Z","user_uuid":"111","info":"DeleteUsers",)"
    R"("additional_data":"Success","matched_faceimage_data":""}],"page":1,"page_size":50,)"
    R"("has_more":false,"total":7})";

std::string MatchItem(int i, const std::string& log_id) {
  return R"({"encounter_id":"e)" + std::to_string(i) + R"(","timestamp":"2018-05-28T14:26:26Z",)" +
         R"("serial_number":"OA1405A031576","uuid":"111","log_id":)" + log_id +
         R"(,"left_eye":"AAAA","left_eye__iris_template":"TFQ=","left_eye_usable_iris_area":81.5,)" +
         R"("left_eye_quality_score":90,"left_eye_quality_ok":true,"right_eye_iris_template":"UlQ=",)" +
         R"("far_off_face":"RkFDRQ==","far_off_face_LED_state":2,"far_off_face_score":0.75,)" +
         R"("near_on_face_feature_size":1024})";
}

std::string Envelope(const std::string& items) {
  return R"({"status_code":200,"reason_phrase":"OK","items":[)" + items +
         R"(],"page":1,"page_size":50,"has_more":false,"total":)" + "1}";
}

template <class T>
Reply<T> ParseText(const std::string& op, std::string text) {
  ResponseParser parser;
  return parser.Parse<T>(op, text);
}

TEST(ResponseParser, ReadsTheDocLogPageSample) {
  auto page = ParseText<Collection<LogEntry>>("logs", kLogPageSample);
  ASSERT_TRUE(page) << page.error().detail;
  EXPECT_EQ(page->status_code, 200);
  EXPECT_EQ(page->reason_phrase, "OK");
  EXPECT_EQ(page->page, 1);
  EXPECT_EQ(page->page_size, 50);
  EXPECT_FALSE(page->has_more);
  EXPECT_EQ(page->total, 7);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, 68);
  EXPECT_EQ(page->items[0].event_type, "Recognition");
  EXPECT_EQ(page->items[0].timestamp, "2018-05-28T14:26:26Z");
  EXPECT_EQ(page->items[0].info, "Recog/BioOnly/IrisOk");
  EXPECT_EQ(page->items[0].additional_data, "Allowed");
  EXPECT_EQ(page->items[1].id, 69);
  EXPECT_EQ(page->items[1].info, "DeleteUsers");
  EXPECT_EQ(page->items[1].matched_faceimage_data, "");
}

TEST(ResponseParser, ReadsTheDocSingleObjectSamples) {
  auto lock =
      ParseText<LockResponse>("lock", R"({"lock_uid":"13dbb896-ed1e-11e6-9822-503f98000109"})");
  ASSERT_TRUE(lock);
  EXPECT_EQ(lock->lock_uid, "13dbb896-ed1e-11e6-9822-503f98000109");

  auto camera = ParseText<CameraConfiguration>(
      "camera", R"({"serial_number":"OA1405A031576","camera_mode":"Slave","audio_enabled":true})");
  ASSERT_TRUE(camera);
  EXPECT_EQ(camera->camera_mode, "Slave");
  EXPECT_TRUE(camera->audio_enabled);

  auto control = ParseText<CameraControlResponse>("camera-stop",
                                                  R"({"success":false,"status":"Not capturing"})");
  ASSERT_TRUE(control);
  EXPECT_FALSE(control->success);
  EXPECT_EQ(control->status, "Not capturing");

  auto door =
      ParseText<DoorStatus>("door-status", R"({"door_sensor":1,"relay":0,"tamper":0,"rte":1})");
  ASSERT_TRUE(door);
  EXPECT_EQ(*door, (DoorStatus{1, 0, 0, 1}));

  auto version = ParseText<RecordVersion>("record-version", R"({"record_version":8976})");
  ASSERT_TRUE(version);
  EXPECT_EQ(version->record_version, 8976);

  auto upload = ParseText<UploadResult>("update-done", R"({"file":"Upload fail"})");
  ASSERT_TRUE(upload);
  EXPECT_FALSE(upload->ok());
}

TEST(ResponseParser, ReadsSettingOfTheRequestedType) {
  ResponseParser parser;
  std::string body = R"({"title":"launcher.device.door.duration","int":3})";
  auto setting = parser.ParseSetting("setting-get", body, SettingType::kInt);
  ASSERT_TRUE(setting) << setting.error().detail;
  EXPECT_EQ(setting->title, "launcher.device.door.duration");
  EXPECT_EQ(std::get<std::int32_t>(setting->value), 3);

  auto wrong = parser.ParseSetting("setting-get", body, SettingType::kBool);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().detail, "setting-get: bool: missing");

  std::string mistyped = R"({"title":"x","bool":"yes"})";
  auto bad = parser.ParseSetting("setting-get", mistyped, SettingType::kBool);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail, "setting-get: bool: expected boolean");
}

TEST(ResponseParser, KeepsFirmwareKeySpellingsOfMatchData) {
  auto page = ParseText<Collection<MatchData>>("match-data", Envelope(MatchItem(0, "68")));
  ASSERT_TRUE(page) << page.error().detail;
  ASSERT_EQ(page->items.size(), 1u);
  const MatchData& m = page->items[0];
  EXPECT_EQ(m.encounter_id, "e0");
  EXPECT_EQ(m.log_id, 68);
  EXPECT_EQ(m.uuid, "111");
  EXPECT_EQ(m.left_eye.iris_template, "TFQ=");  // from left_eye__iris_template
  EXPECT_EQ(m.right_eye.iris_template, "UlQ=");
  EXPECT_EQ(m.left_eye.usable_iris_area, 81.5);
  EXPECT_EQ(m.left_eye.quality_score, 90.0);  // an integer where a number is expected is fine
  EXPECT_EQ(m.left_eye.quality_ok, true);
  const FaceCapture& far_off = m.faces[static_cast<int>(FaceSlot::kFarOff)];
  EXPECT_EQ(far_off.image, "RkFDRQ==");
  EXPECT_EQ(far_off.led_state, 2);  // from far_off_face_LED_state
  EXPECT_EQ(far_off.score, 0.75);
  EXPECT_EQ(m.faces[static_cast<int>(FaceSlot::kNearOn)].feature_size, 1024);
  EXPECT_FALSE(m.faces[static_cast<int>(FaceSlot::kIrisOff)].image.has_value());
}

TEST(ResponseParser, ShapeOnlyKeepsNoBiometricStringButChecksTheirType) {
  ResponseParser parser;
  std::string body = Envelope(MatchItem(0, "68"));
  auto page = parser.Parse<Collection<MatchData>>("match-data", body, BiometricStrings::kShapeOnly);
  ASSERT_TRUE(page) << page.error().detail;
  const MatchData& m = page->items[0];
  EXPECT_EQ(m.left_eye.image, kBiometricNotKept);
  EXPECT_EQ(m.left_eye.iris_template, kBiometricNotKept);
  EXPECT_EQ(m.right_eye.iris_template, kBiometricNotKept);
  const FaceCapture& far_off = m.faces[static_cast<int>(FaceSlot::kFarOff)];
  EXPECT_EQ(far_off.image, kBiometricNotKept);
  // Everything else is read as usual.
  EXPECT_EQ(m.encounter_id, "e0");
  EXPECT_EQ(m.log_id, 68);
  EXPECT_EQ(m.left_eye.usable_iris_area, 81.5);
  EXPECT_EQ(far_off.score, 0.75);
  EXPECT_EQ(far_off.led_state, 2);
  EXPECT_FALSE(m.faces[static_cast<int>(FaceSlot::kIrisOff)].image.has_value());

  // Not a string: refused all the same, with the field named.
  std::string mistyped = Envelope(R"({"encounter_id":"e1","far_off_face":17})");
  auto bad =
      parser.Parse<Collection<MatchData>>("match-data", mistyped, BiometricStrings::kShapeOnly);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail, "match-data: items[0].far_off_face: expected string");

  // A log entry's face image: an empty one stays empty, a present one is not copied.
  std::string logs = Envelope(
      R"({"id":1,"event_type":"Recognition","timestamp":"t","matched_faceimage_data":"/9j/4AAQ"},)"
      R"({"id":2,"event_type":"UserData","timestamp":"t","matched_faceimage_data":""})");
  auto entries = parser.Parse<Collection<LogEntry>>("logs", logs, BiometricStrings::kShapeOnly);
  ASSERT_TRUE(entries) << entries.error().detail;
  EXPECT_EQ(entries->items[0].matched_faceimage_data, kBiometricNotKept);
  EXPECT_EQ(entries->items[1].matched_faceimage_data, "");
}

TEST(ResponseParser, NamesTheItemAndFieldOfAMistypedValue) {
  std::string items;
  for (int i = 0; i < 5; ++i) {
    if (i) items += ',';
    items += MatchItem(i, i == 3 ? R"("68")" : std::to_string(60 + i));
  }
  auto page = ParseText<Collection<MatchData>>("match-data", Envelope(items));
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().reason(), Errc::kBadResponse);
  EXPECT_EQ(page.error().detail, "match-data: items[3].log_id: expected integer");
}

TEST(ResponseParser, NamesAMissingRequiredField) {
  auto door = ParseText<DoorStatus>("door-status", R"({"door_sensor":1,"relay":0,"tamper":0})");
  ASSERT_FALSE(door);
  EXPECT_EQ(door.error().reason(), Errc::kBadResponse);
  EXPECT_EQ(door.error().detail, "door-status: rte: missing");

  auto logs =
      ParseText<Collection<LogEntry>>("logs", Envelope(R"({"id":1,"event_type":"Recognition"})"));
  ASSERT_FALSE(logs);
  EXPECT_EQ(logs.error().detail, "logs: items[0].timestamp: missing");
}

TEST(ResponseParser, RejectsNullForARequiredField) {
  auto lock = ParseText<LockResponse>("lock-acquire", R"({"lock_uid":null})");
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.error().detail, "lock-acquire: lock_uid: expected string");
}

TEST(ResponseParser, ReadsNullOptionalFieldsAsAbsent) {
  auto info = ParseText<UserInfo>("user-info",
                                  R"({"user_uuid":"u1","card":null,"indivisual":2,"pin":"1234"})");
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_FALSE(info->card.has_value());
  EXPECT_EQ(info->indivisual, 2);
  EXPECT_EQ(info->pin, "1234");
  EXPECT_FALSE(info->admin.has_value());
}

TEST(ResponseParser, IgnoresUnknownFieldsOfAnyShape) {
  auto door = ParseText<DoorStatus>(
      "door-status",
      R"({"x":{"deep":[1,[2,{"y":null}]]},"door_sensor":0,"relay":1,"new_field":"s","tamper":0,"rte":0,"z":[]})");
  ASSERT_TRUE(door) << door.error().detail;
  EXPECT_EQ(door->relay, 1);
}

TEST(ResponseParser, UnescapesStrings) {
  auto version = ParseText<VersionInfo>("version", R"({"version":"1.2.\"34\"\u00e9\n"})");
  ASSERT_TRUE(version);
  EXPECT_EQ(version->version, "1.2.\"34\"\xc3\xa9\n");
}

TEST(ResponseParser, RejectsTruncatedJson) {
  std::string full = kLogPageSample;
  for (std::size_t cut :
       {std::size_t{0}, std::size_t{1}, std::size_t{30}, full.size() / 2, full.size() - 1}) {
    auto page = ParseText<Collection<LogEntry>>("logs", full.substr(0, cut));
    ASSERT_FALSE(page) << "cut at " << cut;
    EXPECT_EQ(page.error().reason(), Errc::kBadResponse) << "cut at " << cut;
    EXPECT_EQ(page.error().detail.rfind("logs: ", 0), 0u) << page.error().detail;
  }
}

TEST(ResponseParser, RejectsNumbersOutOfRange) {
  auto big32 = ParseText<DoorStatus>("door-status",
                                     R"({"door_sensor":4294967296,"relay":0,"tamper":0,"rte":0})");
  ASSERT_FALSE(big32);
  EXPECT_EQ(big32.error().detail, "door-status: door_sensor: integer out of range");

  auto big64 = ParseText<Collection<LogEntry>>(
      "logs",
      Envelope(R"({"id":123456789012345678901234567890,"event_type":"R","timestamp":"t"})"));
  ASSERT_FALSE(big64);
  EXPECT_EQ(big64.error().detail, "logs: items[0].id: number out of range");

  auto fraction =
      ParseText<DoorStatus>("door-status", R"({"door_sensor":1.5,"relay":0,"tamper":0,"rte":0})");
  ASSERT_FALSE(fraction);
  EXPECT_EQ(fraction.error().detail, "door-status: door_sensor: expected integer");

  auto huge_double = ParseText<Face>("face", R"({"user_uuid":"u","sub_id":0,"face_score":1e400})");
  ASSERT_FALSE(huge_double);
  EXPECT_EQ(huge_double.error().reason(), Errc::kBadResponse);
}

TEST(ResponseParser, RejectsAWrongEnvelope) {
  auto bare = ParseText<Collection<LogEntry>>(
      "logs", R"({"id":68,"event_type":"Recognition","timestamp":"t"})");
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().detail, "logs: status_code: missing");

  auto not_array = ParseText<Collection<LogEntry>>(
      "logs",
      R"({"status_code":200,"reason_phrase":"OK","items":{},"page":1,"page_size":50,"has_more":false,"total":0})");
  ASSERT_FALSE(not_array);
  EXPECT_EQ(not_array.error().detail, "logs: items: expected array");

  auto array_root = ParseText<Collection<LogEntry>>("logs", "[]");
  ASSERT_FALSE(array_root);
  EXPECT_EQ(array_root.error().detail, "logs: expected a JSON object");

  auto html = ParseText<DoorStatus>("door-status", "<html><body>501</body></html>");
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().reason(), Errc::kBadResponse);

  auto empty = ParseText<DoorStatus>("door-status", "");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().reason(), Errc::kBadResponse);
}

TEST(ResponseParser, RejectsTrailingContent) {
  auto door =
      ParseText<DoorStatus>("door-status", R"({"door_sensor":0,"relay":0,"tamper":0,"rte":0} {})");
  ASSERT_FALSE(door);
  EXPECT_EQ(door.error().detail, "door-status: trailing content after the JSON value");

  auto spaces = ParseText<DoorStatus>(
      "door-status", "{\"door_sensor\":0,\"relay\":0,\"tamper\":0,\"rte\":0}\r\n ");
  EXPECT_TRUE(spaces);
}

TEST(ResponseParser, BoundsTheNumberOfArrayElements) {
  std::string items;
  for (std::size_t i = 0; i <= kMaxArrayElements; ++i) {
    if (i) items += ',';
    items += R"({"id":1,"event_type":"R","timestamp":"t"})";
  }
  auto page = ParseText<Collection<LogEntry>>("logs", Envelope(items));
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().reason(), Errc::kTooLarge);
  EXPECT_EQ(page.error().detail, "logs: items: more than 10000 elements");
}

TEST(ResponseParser, AcceptsABareObjectOrACollectionWhereTheSpecIsOpen) {
  ResponseParser parser;
  std::string bare = R"({"id":68,"event_type":"Recognition","timestamp":"t"})";
  auto one = parser.ParseOneOrMany<LogEntry>("log-get", bare);
  ASSERT_TRUE(one) << one.error().detail;
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, 68);

  std::string many = kLogPageSample;
  auto both = parser.ParseOneOrMany<LogEntry>("log-get", many);
  ASSERT_TRUE(both) << both.error().detail;
  EXPECT_EQ(both->size(), 2u);

  std::string bad = R"({"id":"x","event_type":"R","timestamp":"t"})";
  auto wrong = parser.ParseOneOrMany<LogEntry>("log-get", bad);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().detail, "log-get: id: expected integer");
}

TEST(ResponseParser, ReusesOneParserAcrossDocumentsOfDifferentSizes) {
  ResponseParser parser;
  std::string big =
      R"({"status_code":200,"reason_phrase":"OK","items":[{"encounter_id":"e1",)"
      R"("left_eye":")" +
      std::string(5 * 1024 * 1024, 'A') +
      R"(","record_version":8976,"server_matching_key":"k"}],"page":1,"page_size":50,)"
      R"("has_more":false,"total":1})";
  auto bio = parser.Parse<Collection<BiometricData>>("biometric-data-ver2", big);
  ASSERT_TRUE(bio) << bio.error().detail;
  ASSERT_EQ(bio->items.size(), 1u);
  EXPECT_EQ(bio->items[0].left_eye.image->size(), 5u * 1024 * 1024);
  EXPECT_EQ(bio->items[0].record_version, 8976);
  EXPECT_EQ(bio->items[0].server_matching_key, "k");

  std::string small = R"({"door_sensor":0,"relay":0,"tamper":1,"rte":0})";
  auto door = parser.Parse<DoorStatus>("door-status", small);
  ASSERT_TRUE(door);
  EXPECT_EQ(door->tamper, 1);
}

TEST(ResponseParser, ChecksThatRawJsonIsWellFormed) {
  auto ok = ParseText<RawJson>("user-list", R"({"a":[1,2,{"b":null}],"c":"d"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->json, R"({"a":[1,2,{"b":null}],"c":"d"})");
  auto bad = ParseText<RawJson>("user-list", R"({"a":[1,2,{"b":nul}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().reason(), Errc::kBadResponse);
  auto scalar = ParseText<RawJson>("user-list", "42");
  EXPECT_FALSE(scalar);
}

}  // namespace
}  // namespace gw::ef45

namespace gw::ef45 {
namespace {

// The simdjson parser is one per thread, shared by every ResponseParser on it, and started
// afresh after a document over 1 MB: a large reply, then small ones, then a large one again, from
// parsers used in turn, all parse in full.
TEST(ResponseParser, ParsersOnOneThreadTakeTurnsAcrossLargeAndSmallDocuments) {
  std::string template_b64(3 << 20, 'A');  // a 3 MB "template": the document is over 1 MB
  auto large = [&](int i) {
    return Envelope(R"({"encounter_id":"big)" + std::to_string(i) + R"(","log_id":5,)" +
                    R"("left_eye__iris_template":")" + template_b64 + R"("})");
  };
  ResponseParser a;
  ResponseParser b;
  for (int round = 0; round < 2; ++round) {
    std::string big = large(round);
    auto many = a.Parse<Collection<MatchData>>("match-data", big);
    ASSERT_TRUE(many) << many.error().detail;
    ASSERT_EQ(many->items.size(), 1u);
    EXPECT_EQ(many->items[0].encounter_id, "big" + std::to_string(round));
    ASSERT_TRUE(many->items[0].left_eye.iris_template);
    EXPECT_EQ(many->items[0].left_eye.iris_template->size(), template_b64.size());
    for (int i = 0; i < 3; ++i) {
      std::string small = Envelope(MatchItem(i, "7"));
      auto one = (i % 2 ? a : b).Parse<Collection<MatchData>>("match-data", small);
      ASSERT_TRUE(one) << one.error().detail;
      EXPECT_EQ(one->items.at(0).encounter_id, "e" + std::to_string(i));
      EXPECT_EQ(one->items.at(0).log_id, 7);
    }
    std::string page = kLogPageSample;
    auto logs = b.Parse<Collection<LogEntry>>("logs", page);
    ASSERT_TRUE(logs) << logs.error().detail;
    EXPECT_EQ(logs->items.size(), 2u);
  }
}

}  // namespace
}  // namespace gw::ef45
