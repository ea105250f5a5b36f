#include "crypto/data_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

namespace gw::crypto {

namespace {

constexpr std::string_view kPrefix = "gwenc1:";
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
constexpr std::string_view kFingerprintInfo = "ef45gw fingerprint v1";

bool ValidId(std::string_view id) {
  return !id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseKey(std::string_view hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != 64) return false;
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = HexDigit(hex[2 * i]);
    int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

std::string Base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> Unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::array<unsigned char, 32> DeriveFingerprintKey(const std::array<unsigned char, 32>& key) {
  std::array<unsigned char, 32> out{};
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  std::size_t size = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), key.data(), static_cast<int>(key.size())) <= 0 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(),
                                  reinterpret_cast<const unsigned char*>(kFingerprintInfo.data()),
                                  static_cast<int>(kFingerprintInfo.size())) <= 0 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &size) <= 0 || size != out.size()) {
    throw DataKeyError("data keys: HKDF-SHA256 is not available from OpenSSL");
  }
  return out;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCipher() { return CipherCtx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free); }

}  // namespace

DataKeys::Key::~Key() {
  OPENSSL_cleanse(seal.data(), seal.size());
  OPENSSL_cleanse(fingerprint.data(), fingerprint.size());
}

DataKeys DataKeys::LoadFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw DataKeyError("data keys file " + path + ": cannot be read (missing?)");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw DataKeyError("data keys file " + path +
                       ": group or others have access; it must be readable by its owner only "
                       "(chmod 600)");
  }
  std::ifstream in(path);
  if (!in) throw DataKeyError("data keys file " + path + ": cannot be opened");
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

DataKeys DataKeys::Parse(std::string_view text, std::string_view source) {
  DataKeys keys;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto where = std::string(source) + " line " + std::to_string(line_no);
    auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) {
      throw DataKeyError(where + ": expected `<key id> <64 hex digits>`");
    }
    std::string_view id = line.substr(0, space);
    std::string_view hex = line.substr(line.find_first_not_of(" \t", space));
    if (!ValidId(id)) {
      throw DataKeyError(where + ": the key id must be 1-32 characters of A-Z a-z 0-9 _ -");
    }
    Key key;
    key.id = std::string(id);
    if (!ParseKey(hex, key.seal)) {
      throw DataKeyError(where + " (key " + key.id + "): the key must be 64 hex digits (256 bits)");
    }
    if (keys.Has(id)) throw DataKeyError(where + ": key id " + key.id + " appears twice");
    key.fingerprint = DeriveFingerprintKey(key.seal);
    keys.keys_.push_back(std::move(key));
  }
  if (keys.keys_.empty()) throw DataKeyError(std::string(source) + ": no key in the file");
  return keys;
}

std::vector<std::string> DataKeys::ids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.id);
  return out;
}

const DataKeys::Key* DataKeys::Find(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

std::string DataKeys::Seal(std::string_view plaintext, std::string_view context) const {
  const Key& key = keys_.back();
  std::string blob(kNonce + plaintext.size() + kTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(blob.data());
  if (RAND_bytes(bytes, static_cast<int>(kNonce)) != 1) {
    throw std::runtime_error("data keys: no random bytes from OpenSSL for a nonce");
  }
  auto ctx = NewCipher();
  int n = 0;
  int tail = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.seal.data(), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonce, &n,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonce + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag),
                          bytes + kNonce + plaintext.size()) != 1) {
    throw std::runtime_error("data keys: AES-256-GCM failed in OpenSSL");
  }
  std::string out(kPrefix);
  out += key.id;
  out += ':';
  out += Base64(bytes, blob.size());
  return out;
}

bool DataKeys::IsSealed(std::string_view value) { return value.starts_with(kPrefix); }

std::optional<std::string> DataKeys::KeyIdOf(std::string_view sealed) {
  if (!IsSealed(sealed)) return std::nullopt;
  sealed.remove_prefix(kPrefix.size());
  auto colon = sealed.find(':');
  if (colon == std::string_view::npos || !ValidId(sealed.substr(0, colon))) return std::nullopt;
  return std::string(sealed.substr(0, colon));
}

Opened DataKeys::Open(std::string_view sealed, std::string_view context) const {
  auto id = KeyIdOf(sealed);
  if (!id) return {std::nullopt, "not a sealed value"};
  const Key* key = Find(*id);
  if (!key) return {std::nullopt, "sealed under key " + *id + ", which the key file lacks"};
  auto blob = Unbase64(sealed.substr(kPrefix.size() + id->size() + 1));
  if (!blob || blob->size() < kNonce + kTag) return {std::nullopt, "sealed value is truncated"};
  const auto* bytes = reinterpret_cast<const unsigned char*>(blob->data());
  const std::size_t size = blob->size() - kNonce - kTag;
  std::string plaintext(size, '\0');
  auto ctx = NewCipher();
  int n = 0;
  int tail = 0;
  std::array<unsigned char, kTag> tag{};
  std::copy_n(bytes + kNonce + size, kTag, tag.begin());
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key->seal.data(), bytes) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &n,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &n,
                        bytes + kNonce, static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag.data()) ==
          1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + n,
                          &tail) == 1;
  if (!ok) {
    return {std::nullopt, "sealed value does not open under key " + *id +
                              " (altered, or moved from another record)"};
  }
  return {std::move(plaintext), {}};
}

std::string DataKeys::Fingerprint(std::string_view data) const {
  return PrintWith(keys_.back(), data);
}

std::optional<std::string> DataKeys::FingerprintUnder(std::string_view id,
                                                      std::string_view data) const {
  const Key* key = Find(id);
  if (!key) return std::nullopt;
  return PrintWith(*key, data);
}

std::vector<std::string> DataKeys::Fingerprints(std::string_view data) const {
  std::vector<std::string> out;
  out.reserve(keys_.size());
  for (const auto& k : keys_) out.push_back(PrintWith(k, data));
  return out;
}

std::optional<std::string> DataKeys::KeyIdOfFingerprint(std::string_view print) {
  auto colon = print.find(':');
  if (colon == std::string_view::npos || !ValidId(print.substr(0, colon))) return std::nullopt;
  return std::string(print.substr(0, colon));
}

std::string DataKeys::PrintWith(const Key& key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.fingerprint.data(), static_cast<int>(key.fingerprint.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &size)) {
    throw std::runtime_error("data keys: HMAC-SHA256 failed in OpenSSL");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = key.id + ":";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

}  // namespace gw::crypto
