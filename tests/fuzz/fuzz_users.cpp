// libFuzzer: subjects, user info and faces (lists and single objects).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::ef45;
  auto subject = [](const Subject& s) { return ToJson(s, Biometrics::kInclude); };
  auto info = [](const UserInfo& u) { return ToJson(u); };
  auto face = [](const Face& f) { return ToJson(f, Biometrics::kInclude); };
  const std::string text = fuzz::Text(data, size);
  fuzz::ParseAndRoundTrip<Collection<Subject>>(
      "subjects", text, [&](const auto& page) { return ToJson(page, subject); });
  fuzz::ParseAndRoundTrip<Subject>("subject-get", text, subject);
  fuzz::ParseAndRoundTrip<Collection<UserInfo>>(
      "user-info", text, [&](const auto& page) { return ToJson(page, info); });
  fuzz::ParseAndRoundTrip<UserInfo>("user-info-by-uuid", text, info);
  fuzz::ParseAndRoundTrip<Collection<Face>>("faces", text,
                                            [&](const auto& page) { return ToJson(page, face); });
  std::string body = text;
  (void)fuzz::Parser().ParseOneOrMany<Face>("faces-of-user", body);
  return 0;
}
