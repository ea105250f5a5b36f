#include "ef45/encode.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json/parse.hpp>
#include <set>
#include <string>

#include "ef45/operations.hpp"
#include "support/wait.hpp"

namespace gw::ef45 {
namespace {

namespace json = boost::json;

TEST(Encode, PercentEncodesCardNumbersInPaths) {
  EXPECT_EQ(EncodePathSegment("65 D8 A1 BD"), "65%20D8%20A1%20BD");
  EXPECT_EQ(EncodePathSegment("a/b?c&d=e%"), "a%2Fb%3Fc%26d%3De%25");
  EXPECT_EQ(EncodePathSegment("13dbb896-ed1e-11e6-9822-503f98000109"),
            "13dbb896-ed1e-11e6-9822-503f98000109");
  EXPECT_EQ(EncodePathSegment("\xc3\xa9"), "%C3%A9");
}

TEST(Encode, AcceptsOnlyQueryValuesThatNeedNoEncoding) {
  EXPECT_TRUE(IsSafeQueryValue("lefteye.bmp"));
  EXPECT_TRUE(IsSafeQueryValue("13dbb896-ed1e-11e6-9822-503f98000109"));
  EXPECT_TRUE(IsSafeQueryValue("a_b~c"));
  EXPECT_FALSE(IsSafeQueryValue("a b"));
  EXPECT_FALSE(IsSafeQueryValue("a&b"));
  EXPECT_FALSE(IsSafeQueryValue("a=b"));
  EXPECT_FALSE(IsSafeQueryValue("a%20b"));
  EXPECT_FALSE(IsSafeQueryValue("../x"));
  EXPECT_FALSE(IsSafeQueryValue("caf\xc3\xa9"));
}

TEST(Encode, FormatsDeviceTimeAsTheDocExample) {
  // 2018-05-20 14:40:30 UTC -> 052014402018.30 (API.md 1.5).
  auto time = std::chrono::system_clock::from_time_t(1526827230);
  EXPECT_EQ(FormatDeviceTime(time), "052014402018.30");
}

TEST(Encode, Base64MatchesRfc4648Vectors) {
  auto b64 = [](std::string_view s) {
    return Base64Encode({reinterpret_cast<const unsigned char*>(s.data()), s.size()});
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b64(std::string("\0", 1)), "AA==");
}

TEST(Encode, WritesOnlyTheMembersThatAreSet) {
  Subject subject;
  subject.user_uuid = "1";
  subject.record_version = 0;
  subject.last_name = "abc";
  EXPECT_EQ(json::parse(Encode(subject)),
            json::parse(R"({"user_uuid":"1","record_version":0,"last_name":"abc"})"));
}

TEST(Encode, KeepsFirmwareKeySpellings) {
  UserInfo info;
  info.user_uuid = "u";
  info.indivisual = 1;
  info.card = "65 D8 A1 BD";
  EXPECT_EQ(json::parse(Encode(info)),
            json::parse(R"({"user_uuid":"u","card":"65 D8 A1 BD","indivisual":1})"));

  Face face;
  face.user_uuid = "u";
  face.sub_id = 1;
  face.face_led_state = 3;
  EXPECT_EQ(json::parse(Encode(face)),
            json::parse(R"({"user_uuid":"u","sub_id":1,"face_LED_state":3})"));
}

TEST(Encode, MergesAnEnrolUserIntoOneObject) {
  EnrollUser user;
  user.subject.user_uuid = "1";
  user.subject.record_version = 0;
  user.subject.last_name = "abc";
  user.info.user_uuid = "ignored";
  user.info.pin = "42";
  Face face;
  face.sub_id = 1;
  face.face_eye_width = 0;
  user.faces.push_back(face);
  user.cards.push_back(CardEntry{0, "65 D8", "badge"});
  EXPECT_EQ(json::parse(Encode(user)), json::parse(R"({"user_uuid":"1","record_version":0,
      "last_name":"abc","pin":"42","faces":[{"sub_id":1,"face_eye_width":0}],
      "cards":[{"sub_id":0,"card":"65 D8","remarks":"badge"}]})"));
}

TEST(Encode, NamesTheSettingBodyAfterItsType) {
  EXPECT_EQ(Encode(SettingValue{std::int32_t{3}}), R"({"int":3})");
  EXPECT_EQ(Encode(SettingValue{true}), R"({"bool":true})");
  EXPECT_EQ(json::parse(Encode(SettingValue{2.5})), json::parse(R"({"float":2.5})"));
  EXPECT_EQ(Encode(SettingValue{std::string("door")}), R"({"string":"door"})");
}

TEST(Encode, WritesScheduleAssignmentsWithTheirSize) {
  UserScheduleAssignment a;
  a.users.push_back({"u1", 2});
  a.users.push_back({"u2", 3});
  EXPECT_EQ(json::parse(Encode(a)), json::parse(R"({"size":2,"users":[
      {"id":"u1","time_schedule_code":2},{"id":"u2","time_schedule_code":3}]})"));
}

/// The client's operation table is the spec: same method + path pairs, no more, no less.
TEST(Operations, MatchOpenApiExactly) {
  YAML::Node spec = YAML::LoadFile(test::SourceDir() + "/../shared/ef45/openapi.yaml");
  std::set<std::string> in_spec;
  for (const auto& path : spec["paths"]) {
    for (const auto& method : path.second) {
      std::string m = method.first.as<std::string>();
      if (m != "get" && m != "put" && m != "post" && m != "delete") continue;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      in_spec.insert(m + " " + path.first.as<std::string>());
    }
  }
  std::set<std::string> in_client;
  std::set<std::string> names;
  for (const Operation& op : Operations()) {
    in_client.insert(std::string(op.method) + " " + std::string(op.path));
    EXPECT_TRUE(names.insert(std::string(op.name)).second) << "duplicate name " << op.name;
    EXPECT_EQ(&Op(static_cast<OpId>(&op - Operations().data())), &op);
  }
  EXPECT_EQ(in_spec.size(), 81u);
  EXPECT_EQ(in_client, in_spec);
}

}  // namespace
}  // namespace gw::ef45
