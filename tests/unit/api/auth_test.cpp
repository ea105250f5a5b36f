#include "api/auth.hpp"

#include <gtest/gtest.h>

namespace gw::api {
namespace {

config::ApiToken Token(std::string name, const std::string& secret, config::TokenRole role) {
  return config::ApiToken{std::move(name), Sha256Hex(secret), role};
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

}  // namespace
}  // namespace gw::api
