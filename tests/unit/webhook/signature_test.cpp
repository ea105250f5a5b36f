// Standard Webhooks signing against vectors computed outside this code base:
//  - the specification's own example (standardwebhooks.com, libraries' test suites);
//  - a fixed key/id/timestamp/body whose HMAC was computed with
//    `printf '%s' 'evt_42.1700000000.{"seq":42}' | openssl dgst -sha256 -mac HMAC
//     -macopt hexkey:000102...1e1f -binary | base64` and with python's hmac module (same value).
#include "webhook/signature.hpp"

#include <gtest/gtest.h>

namespace gw::webhook {
namespace {

TEST(WebhookSignature, MatchesTheStandardWebhooksExample) {
  auto signature = Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                        1614265330, R"({"test": 2432232314})");
  ASSERT_TRUE(signature);
  EXPECT_EQ(*signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, MatchesAnOpensslComputedVector) {
  const std::string secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
  auto key = SecretKey(secret);
  ASSERT_TRUE(key);
  ASSERT_EQ(key->size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(static_cast<unsigned char>((*key)[i]), i);
  EXPECT_EQ(Sign(secret, "evt_42", 1700000000, R"({"seq":42})").value_or(""),
            "v1,gmKTKIIMGAyXiHEHwbW2zonH9gUmBgqCWr+QADsObRk=");
}

TEST(WebhookSignature, DuringARotationBothSecretsSignSpaceSeparated) {
  const std::string current = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::string previous = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  auto header = SignatureHeader({current, previous}, "evt_42", 1700000000, R"({"seq":42})");
  EXPECT_EQ(header, "v1,gmKTKIIMGAyXiHEHwbW2zonH9gUmBgqCWr+QADsObRk= " +
                        Sign(previous, "evt_42", 1700000000, R"({"seq":42})").value());
}

TEST(WebhookSignature, ASignatureChangesWithEveryPart) {
  const std::string secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const auto base = Sign(secret, "evt_42", 1700000000, "{}").value();
  EXPECT_NE(Sign(secret, "evt_43", 1700000000, "{}").value(), base);
  EXPECT_NE(Sign(secret, "evt_42", 1700000001, "{}").value(), base);
  EXPECT_NE(Sign(secret, "evt_42", 1700000000, "{ }").value(), base);
}

TEST(WebhookSignature, NewSecretsHaveTheStandardFormAndDiffer) {
  auto a = NewSecret();
  auto b = NewSecret();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("whsec_", 0), 0u);
  ASSERT_TRUE(SecretKey(a));
  EXPECT_EQ(SecretKey(a)->size(), 32u);
}

TEST(WebhookSignature, MalformedSecretsSignNothing) {
  EXPECT_FALSE(Sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", 1, "{}"));
  EXPECT_FALSE(Sign("whsec_not base64!", "id", 1, "{}"));
  EXPECT_EQ(SignatureHeader({"bad"}, "id", 1, "{}"), "");
}

TEST(WebhookSignature, Base64RoundTrips) {
  for (const std::string& s :
       std::vector<std::string>{"a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Unbase64(Base64(s)).value_or("?"), s);
  }
  EXPECT_FALSE(Unbase64("abc"));
}

}  // namespace
}  // namespace gw::webhook
