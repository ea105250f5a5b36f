#include "api/auth.hpp"

#include <gtest/gtest.h>

namespace gw::api {
namespace {

config::ApiToken Token(std::string name, const std::string& secret, config::TokenRole role) {
  return config::ApiToken{std::move(name), Sha256Hex(secret), role, std::nullopt};
}

TEST(Sha256Hex, MatchesSha256sum) {
  // printf %s test | sha256sum
  EXPECT_EQ(Sha256Hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TokenAuthenticator, MapsBearerTokensToTheirRoles) {
  TokenAuthenticator auth({Token("acs", "s3cret-read", config::TokenRole::kRead),
                           Token("ops", "s3cret-op", config::TokenRole::kOperate),
                           Token("root", "s3cret-admin", config::TokenRole::kAdmin)});
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-read"), Role::kRead);
  EXPECT_EQ(auth.Authenticate("bearer s3cret-op"), Role::kOperate);
  EXPECT_EQ(auth.Authenticate("BEARER  s3cret-admin "), Role::kAdmin);
  EXPECT_EQ(auth.NameOf("Bearer s3cret-op"), "ops");
}

TEST(TokenAuthenticator, RejectsEverythingElse) {
  TokenAuthenticator auth({Token("acs", "s3cret-read", config::TokenRole::kRead)});
  EXPECT_EQ(auth.Authenticate(""), Role::kNone);
  EXPECT_EQ(auth.Authenticate("Bearer"), Role::kNone);
  EXPECT_EQ(auth.Authenticate("Bearer "), Role::kNone);
  EXPECT_EQ(auth.Authenticate("Basic s3cret-read"), Role::kNone);
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-rea"), Role::kNone);
  // The configured value is the hash: presenting the hash itself must not work.
  EXPECT_EQ(auth.Authenticate("Bearer " + Sha256Hex("s3cret-read")), Role::kNone);
  EXPECT_EQ(auth.NameOf("Bearer nope"), "");
}

TEST(TokenAuthenticator, ExpiredTokenIsRefused) {
  using std::chrono::system_clock;
  auto now = system_clock::now();
  auto token = Token("temp", "s3cret-temp", config::TokenRole::kOperate);
  token.expires = now + std::chrono::hours(1);
  auto clock = std::make_shared<system_clock::time_point>(now);
  TokenAuthenticator auth({token}, [clock] { return *clock; });
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-temp"), Role::kOperate);
  EXPECT_EQ(auth.Identify("Bearer s3cret-temp").name, "temp");
  *clock = now + std::chrono::hours(1);
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-temp"), Role::kNone);
  EXPECT_EQ(auth.Identify("Bearer s3cret-temp").name, "");
}

TEST(TokenAuthenticator, ReplaceRevokesAndAddsAtOnce) {
  TokenAuthenticator auth({Token("old", "s3cret-old", config::TokenRole::kAdmin)});
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-old"), Role::kAdmin);
  auth.Replace({Token("new", "s3cret-new", config::TokenRole::kRead)});
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-old"), Role::kNone);
  EXPECT_EQ(auth.Authenticate("Bearer s3cret-new"), Role::kRead);
  EXPECT_EQ(auth.size(), 1u);
}

}  // namespace
}  // namespace gw::api
