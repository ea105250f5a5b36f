#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
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
/// Thread-safe: Replace (SIGHUP) may run while requests are authenticated.
class TokenAuthenticator {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  explicit TokenAuthenticator(const std::vector<config::ApiToken>& tokens,
                              Clock clock = std::chrono::system_clock::now);

  /// The caller of `authorization` ("Bearer <token>", scheme case-insensitive): role and token
  /// name; role kNone (and no name) when the header is absent, malformed, the token unknown or
  /// past its `expires`.
  Caller Identify(std::string_view authorization) const;
  /// Identify(authorization).role.
  Role Authenticate(std::string_view authorization) const;
  /// The configured name of the token in `authorization`, or "" (for logs: never the token).
  std::string NameOf(std::string_view authorization) const;

  /// Swaps in a new token list (config reload): revoked tokens stop working at once.
  void Replace(const std::vector<config::ApiToken>& tokens);
  std::size_t size() const;

 private:
  struct Entry {
    std::string name;
    Role role;
    std::optional<std::chrono::system_clock::time_point> expires;
  };
  using Table = std::unordered_map<std::string, Entry>;
  static std::shared_ptr<const Table> Build(const std::vector<config::ApiToken>& tokens);

  Clock clock_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Table> by_hash_;
};

Role ToRole(config::TokenRole role);

}  // namespace gw::api
