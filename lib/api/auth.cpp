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

TokenAuthenticator::TokenAuthenticator(const std::vector<config::ApiToken>& tokens) {
  for (const auto& t : tokens) by_hash_[t.sha256] = Entry{t.name, ToRole(t.role)};
}

const TokenAuthenticator::Entry* TokenAuthenticator::Find(std::string_view authorization) const {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return nullptr;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return nullptr;
  }
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return nullptr;
  auto it = by_hash_.find(Sha256Hex(token));
  return it == by_hash_.end() ? nullptr : &it->second;
}

Role TokenAuthenticator::Authenticate(std::string_view authorization) const {
  const Entry* e = Find(authorization);
  return e ? e->role : Role::kNone;
}

std::string TokenAuthenticator::NameOf(std::string_view authorization) const {
  const Entry* e = Find(authorization);
  return e ? e->name : std::string();
}

}  // namespace gw::api
