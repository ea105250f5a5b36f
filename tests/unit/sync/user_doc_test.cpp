#include "sync/user_doc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace gw::sync {
namespace {

namespace json = boost::json;

constexpr char kDoc[] = R"({
  "user_uuid": "u1",
  "subject": {"first_name": "Ada", "record_version": 8976, "access_allowed": true,
              "left_eye_template": "TEZU", "wiegand_code": 12},
  "user_info": {"card": "65 D8 A1 BD", "pin": "1234", "indivisual": 1},
  "faces": [{"sub_id": 2, "face_score": 0.5, "face_feature": "RkFD"},
            {"sub_id": 0, "face_LED_state": 1}],
  "cards": [{"sub_id": 1, "card": "01 02 03 04", "remarks": "spare"}],
  "groups": ["lobby", "lab", "lobby"]
})";

UserDoc Parse(std::string_view text, std::string* problem = nullptr) {
  std::string p;
  auto doc = ParseUserDoc("u1", text, problem ? problem : &p);
  EXPECT_TRUE(doc) << p;
  return doc ? *doc : UserDoc{};
}

TEST(UserDoc, ParsesEveryPartWithTheReadersFieldNames) {
  auto doc = Parse(kDoc);
  ASSERT_TRUE(doc.subject);
  EXPECT_EQ(doc.subject->first_name, "Ada");
  EXPECT_EQ(doc.subject->record_version, 8976);
  EXPECT_EQ(doc.subject->user_uuid, "u1");
  ASSERT_TRUE(doc.user_info);
  EXPECT_EQ(doc.user_info->indivisual, 1);
  ASSERT_EQ(doc.faces.size(), 2u);
  EXPECT_EQ(doc.faces[0].sub_id, 0);  // sorted by sub_id
  EXPECT_EQ(doc.faces[0].face_led_state, 1);
  EXPECT_EQ(doc.faces[1].face_feature, "RkFD");
  ASSERT_EQ(doc.cards.size(), 1u);
  EXPECT_EQ(doc.groups, (std::vector<std::string>{"lab", "lobby"}));
  EXPECT_EQ(AllCards(doc), (std::vector<std::string>{"01 02 03 04", "65 D8 A1 BD"}));
  EXPECT_EQ(TemplateVersion(doc), 8976);
}

TEST(UserDoc, MissingPartsMeanNone) {
  auto doc = Parse(R"({"user_uuid":"u1"})");
  EXPECT_FALSE(doc.subject);
  EXPECT_FALSE(doc.user_info);
  EXPECT_TRUE(doc.faces.empty());
  EXPECT_FALSE(HasTemplates(doc));
  EXPECT_FALSE(TemplateVersion(doc));
}

TEST(UserDoc, RejectsBadInputNamingTheField) {
  struct Case {
    const char* body;
    const char* field;
  } cases[] = {
      {R"({"subject":{"wiegand_code":"12"}})", "subject.wiegand_code"},
      {R"({"subject":{"frist_name":"x"}})", "subject.frist_name"},
      {R"({"user_uuid":"other"})", "user_uuid"},
      {R"({"faces":[{"face_score":1}]})", "faces[0].sub_id"},
      {R"({"faces":[{"sub_id":9}]})", "faces[0].sub_id"},
      {R"({"faces":[{"sub_id":1},{"sub_id":1}]})", "faces[1].sub_id"},
      {R"({"cards":[{"sub_id":1}]})", "cards[0].card"},
      {R"({"user_info":{"admin":4294967296}})", "user_info.admin"},
      {R"({"extra":1})", "extra"},
      {R"([1])", "body"},
  };
  for (const auto& c : cases) {
    std::string problem;
    auto doc = ParseUserDoc("u1", c.body, &problem);
    EXPECT_FALSE(doc) << c.body;
    EXPECT_EQ(problem.substr(0, problem.find(':')), c.field) << c.body;
  }
}

TEST(UserDoc, RecordRoundTripsExactly) {
  auto doc = Parse(kDoc);
  auto record = ToRecordJson(doc);
  auto again = Parse(record);
  EXPECT_EQ(ToRecordJson(again), record);
  EXPECT_EQ(Fingerprint(again, nullptr), Fingerprint(doc, nullptr));
}

TEST(UserDoc, RedactsTemplatesForNonAdmins) {
  auto doc = Parse(kDoc);
  auto text = json::serialize(ToApiJson(doc, false));
  EXPECT_EQ(text.find("TEZU"), std::string::npos);
  EXPECT_EQ(text.find("RkFD"), std::string::npos);
  EXPECT_NE(text.find("<redacted 4 bytes>"), std::string::npos);
  EXPECT_NE(json::serialize(ToApiJson(doc, true)).find("TEZU"), std::string::npos);
}

TEST(UserDoc, HugeNumbersAreAProblemNotUndefinedBehaviour) {
  std::string problem;
  EXPECT_FALSE(ParseUserDoc("u1", R"({"subject":{"wiegand_code":4.4e52}})", &problem));
  EXPECT_NE(problem.find("subject.wiegand_code"), std::string::npos) << problem;
  EXPECT_FALSE(
      ParseUserDoc("u1", R"({"faces":[{"sub_id":0,"face_feature_size":-1e300}]})", &problem));
  EXPECT_TRUE(ParseUserDoc("u1", R"({"subject":{"wiegand_code":7.0}})", &problem)) << problem;
}

TEST(UserDoc, RedactsCredentialsForNonAdmins) {
  auto doc = Parse(kDoc);
  auto redacted = ToApiJson(doc, false);
  EXPECT_EQ(redacted.at("user_info").at("pin"), "<redacted>");
  EXPECT_EQ(redacted.at("user_info").at("card"), "<redacted>");
  EXPECT_EQ(redacted.at("subject").at("wiegand_code"), "<redacted>");
  EXPECT_EQ(redacted.at("cards").at(0).at("card"), "<redacted>");
  EXPECT_EQ(redacted.at("cards").at(0).at("remarks"), "spare");  // not a credential
  EXPECT_EQ(redacted.at("subject").at("first_name"), "Ada");
  auto text = json::serialize(redacted);
  for (const char* secret : {"1234", "65 D8 A1 BD", "01 02 03 04"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  auto admin = ToApiJson(doc, true);
  EXPECT_EQ(admin.at("user_info").at("pin"), "1234");
  EXPECT_EQ(admin.at("subject").at("wiegand_code"), 12);
  EXPECT_EQ(admin.at("cards").at(0).at("card"), "01 02 03 04");
}

TEST(UserDoc, FingerprintTreatsAbsentFieldsAsTheReadersDefaults) {
  // A reader fills every column: what it returns must print like what we sent.
  auto sent = Parse(R"({"subject":{"first_name":"Ada"},"faces":[{"sub_id":0}]})");
  auto held = Parse(R"({"subject":{"first_name":"Ada","last_name":"","wiegand_code":0,
      "access_allowed":false,"left_image_path":"/usr/local/share/x.jpg"},
      "user_info":{"card":"","pin":"","admin":0},
      "faces":[{"sub_id":0,"face_score":0.0,"face_feature":""}]})");
  EXPECT_EQ(Fingerprint(sent, nullptr), Fingerprint(held, nullptr));
  auto other = Parse(R"({"subject":{"first_name":"Bob"},"faces":[{"sub_id":0}]})");
  EXPECT_NE(Fingerprint(sent, nullptr), Fingerprint(other, nullptr));
  auto no_face = Parse(R"({"subject":{"first_name":"Ada"}})");
  EXPECT_NE(Fingerprint(sent, nullptr), Fingerprint(no_face, nullptr));
}

TEST(UserDoc, WithoutTemplatesDropsIrisTemplatesAndFaceFeatures) {
  auto doc = Parse(kDoc);
  ASSERT_TRUE(HasTemplates(doc));
  auto bare = WithoutTemplates(doc);
  EXPECT_FALSE(HasTemplates(bare));
  EXPECT_EQ(bare.subject->first_name, "Ada");
  EXPECT_NE(Fingerprint(bare, nullptr), Fingerprint(doc, nullptr));
  auto enroll = ToEnrollUser(bare);
  EXPECT_EQ(enroll.subject.user_uuid, "u1");
  EXPECT_EQ(enroll.info.user_uuid, "u1");
  EXPECT_FALSE(enroll.subject.left_eye_template);
  EXPECT_EQ(enroll.cards.size(), 1u);
}

TEST(UserDoc, KeyedFingerprintsNeedTheKeyAndFollowTheStoredOnesKey) {
  auto old_key = crypto::DataKeys::Parse(
      "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", "test");
  auto both = crypto::DataKeys::Parse(
      "k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "k2 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n",
      "test");
  auto doc = Parse(kDoc);
  auto other = doc;
  other.user_info->pin = "1235";
  const std::string under_k1 = Fingerprint(doc, &old_key);
  EXPECT_EQ(under_k1.rfind("k1:", 0), 0u);
  EXPECT_NE(under_k1, Fingerprint(doc, nullptr));
  EXPECT_NE(Fingerprint(other, &old_key), under_k1);  // one PIN digit apart
  // The newest key prints new fingerprints; one stored under k1 is compared under k1.
  EXPECT_EQ(Fingerprint(doc, &both).rfind("k2:", 0), 0u);
  EXPECT_EQ(Fingerprint(doc, &both, under_k1), under_k1);
  EXPECT_EQ(Fingerprint(doc, &both, "0123456789abcdef00000010").rfind("k2:", 0), 0u);
  auto w = ToUserWrite(doc, "api", &both);
  EXPECT_EQ(w.digest, Fingerprint(doc, &both));
  EXPECT_EQ(w.digest_no_templates, Fingerprint(WithoutTemplates(doc), &both));
}

TEST(UserDoc, ToUserWriteFillsEveryFieldOfTheStoredRecord) {
  auto doc = Parse(kDoc);
  auto w = ToUserWrite(doc, "device:r1", nullptr);
  EXPECT_EQ(w.user_uuid, "u1");
  EXPECT_EQ(w.source, "device:r1");
  EXPECT_EQ(w.record, ToRecordJson(doc));
  std::string problem;
  auto stored = ParseUserDoc("u1", w.record, &problem);
  ASSERT_TRUE(stored) << problem;
  EXPECT_EQ(ToRecordJson(*stored), w.record);
  EXPECT_EQ(w.digest, Fingerprint(doc, nullptr));
  EXPECT_EQ(w.digest_no_templates, Fingerprint(WithoutTemplates(doc), nullptr));
  EXPECT_NE(w.digest, w.digest_no_templates);  // the document has templates
  EXPECT_EQ(w.record_version, std::optional<std::int32_t>(8976));
  EXPECT_EQ(w.groups, doc.groups);
  EXPECT_FALSE(w.groups.empty());
  std::vector<std::string> cards = w.cards;
  std::sort(cards.begin(), cards.end());
  EXPECT_EQ(cards, (std::vector<std::string>{"01 02 03 04", "65 D8 A1 BD"}));
}

TEST(UserDoc, ToUserWriteOfABareUserHasNoTemplateVersionGroupsOrCards) {
  auto w = ToUserWrite(Parse(R"({"user_uuid": "u1"})"), "api", nullptr);
  EXPECT_EQ(w.user_uuid, "u1");
  EXPECT_EQ(w.source, "api");
  EXPECT_EQ(w.record_version, std::nullopt);
  EXPECT_TRUE(w.groups.empty());
  EXPECT_TRUE(w.cards.empty());
  EXPECT_EQ(w.digest, w.digest_no_templates);
}

TEST(UserDocInPlace, ReaderCopyEqualToTheDocumentNeedsNoWrite) {
  auto doc = Parse(kDoc);
  auto copy = doc;
  copy.cards.clear();  // a reader cannot list them
  copy.groups.clear();
  copy.subject->left_image_path = "/data/u1_l.bmp";  // the reader fills image paths in
  EXPECT_TRUE(DiffForUpdate(copy, doc).Empty());
}

TEST(UserDocInPlace, OnlyTheDifferingPartsAreWritten) {
  auto reader = Parse(kDoc);
  auto wanted = reader;
  wanted.user_info->pin = "9999";
  auto diff = DiffForUpdate(reader, wanted);
  EXPECT_EQ(diff.user_info, InPlaceUpdate::Write::kUpdate);
  EXPECT_EQ(diff.subject, InPlaceUpdate::Write::kNone);
  EXPECT_TRUE(diff.update_faces.empty());
  EXPECT_TRUE(diff.add_faces.empty());
  EXPECT_TRUE(diff.delete_faces.empty());

  wanted = reader;
  wanted.subject->left_eye_template = "TkVX";
  diff = DiffForUpdate(reader, wanted);
  EXPECT_EQ(diff.subject, InPlaceUpdate::Write::kUpdate);
  EXPECT_EQ(diff.user_info, InPlaceUpdate::Write::kNone);
}

TEST(UserDocInPlace, FacesAreUpdatedAddedAndDeletedBySubId) {
  auto reader = Parse(kDoc);  // faces 0 and 2
  auto wanted = Parse(R"({"faces": [{"sub_id": 2, "face_score": 0.75, "face_feature": "RkFD"},
                                    {"sub_id": 4, "face_feature": "TkVX"}],
                          "subject": {"first_name": "Ada", "record_version": 8976,
                                      "access_allowed": true, "left_eye_template": "TEZU",
                                      "wiegand_code": 12},
                          "user_info": {"card": "65 D8 A1 BD", "pin": "1234",
                                        "indivisual": 1}})");
  auto diff = DiffForUpdate(reader, wanted);
  EXPECT_EQ(diff.update_faces, std::vector<std::int32_t>{2});
  EXPECT_EQ(diff.add_faces, std::vector<std::int32_t>{4});
  EXPECT_EQ(diff.delete_faces, std::vector<std::int32_t>{0});
  EXPECT_EQ(diff.subject, InPlaceUpdate::Write::kNone);
  EXPECT_EQ(diff.user_info, InPlaceUpdate::Write::kNone);
}

TEST(UserDocInPlace, PartsTheReaderLacksAreAddedAndAbsentMeansDefaults) {
  auto wanted = Parse(kDoc);
  UserDoc reader;
  reader.user_uuid = "u1";
  reader.subject = wanted.subject;  // e.g. user info deleted at the reader
  auto diff = DiffForUpdate(reader, wanted);
  EXPECT_EQ(diff.subject, InPlaceUpdate::Write::kNone);
  EXPECT_EQ(diff.user_info, InPlaceUpdate::Write::kAdd);
  EXPECT_EQ(diff.add_faces, (std::vector<std::int32_t>{0, 2}));

  // A document without user info wants the reader's defaults: a default row needs nothing, a
  // filled one is reset with a PUT.
  auto bare = Parse(R"({"subject": {"first_name": "Ada"}})");
  UserDoc held = bare;
  held.user_info.emplace();
  held.user_info->user_uuid = "u1";
  EXPECT_EQ(DiffForUpdate(held, bare).user_info, InPlaceUpdate::Write::kNone);
  held.user_info->pin = "1234";
  EXPECT_EQ(DiffForUpdate(held, bare).user_info, InPlaceUpdate::Write::kUpdate);
}

}  // namespace
}  // namespace gw::sync
