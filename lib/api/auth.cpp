#include "api/auth.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <stdexcept>

namespace gw::api {

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

Role ToRole(config::TokenRole role) {
  switch (role) {
    case config::TokenRole::kRead: return Role::kRead;
    case config::TokenRole::kOperate: return Role::kOperate;
    case config::TokenRole::kAdmin: return Role::kAdmin;
  }
  return Role::kNone;
}

TokenAuthenticator::TokenAuthenticator(const std::vector<config::ApiToken>& tokens, Clock clock)
    : clock_(std::move(clock)), by_hash_(Build(tokens)) {}

std::shared_ptr<const TokenAuthenticator::Table> TokenAuthenticator::Build(
    const std::vector<config::ApiToken>& tokens) {
  auto table = std::make_shared<Table>();
  for (const auto& t : tokens) (*table)[t.sha256] = Entry{t.name, ToRole(t.role), t.expires};
  return table;
}

void TokenAuthenticator::Replace(const std::vector<config::ApiToken>& tokens) {
  auto table = Build(tokens);
  std::lock_guard lock(mutex_);
  by_hash_ = std::move(table);
}

std::size_t TokenAuthenticator::size() const {
  std::lock_guard lock(mutex_);
  return by_hash_->size();
}

Caller TokenAuthenticator::Identify(std::string_view authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return {};
  const auto hash = Sha256Hex(token);
  std::shared_ptr<const Table> table;
  {
    std::lock_guard lock(mutex_);
    table = by_hash_;
  }
  auto it = table->find(hash);
  if (it == table->end()) return {};
  if (it->second.expires && clock_() >= *it->second.expires) return {};
  return Caller(it->second.role, it->second.name);
}

Role TokenAuthenticator::Authenticate(std::string_view authorization) const {
  return Identify(authorization).role;
}

std::string TokenAuthenticator::NameOf(std::string_view authorization) const {
  return Identify(authorization).name;
}

}  // namespace gw::api
