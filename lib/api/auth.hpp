#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/http_types.hpp"
#include "config/config.hpp"

namespace gw::api {

/// Lower-case hex SHA-256 of `data` (what `sha256sum` prints).
std::string Sha256Hex(std::string_view data);

/// Bearer-token authentication against the configured tokens. Only hashes are kept: a request's
/// token is hashed and looked up, so neither the config nor memory holds a usable token, and the
/// lookup compares hashes (a timing difference reveals nothing about the token).
class TokenAuthenticator {
 public:
  explicit TokenAuthenticator(const std::vector<config::ApiToken>& tokens);

  /// The role of `authorization` ("Bearer <token>", scheme case-insensitive); kNone when the
  /// header is absent, malformed or the token unknown.
  Role Authenticate(std::string_view authorization) const;
  /// The configured name of the token in `authorization`, or "" (for logs: never the token).
  std::string NameOf(std::string_view authorization) const;

 private:
  struct Entry {
    std::string name;
    Role role;
  };
  const Entry* Find(std::string_view authorization) const;

  std::unordered_map<std::string, Entry> by_hash_;
};

Role ToRole(config::TokenRole role);

}  // namespace gw::api
