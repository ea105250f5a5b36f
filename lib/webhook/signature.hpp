#pragma once
// Standard Webhooks signing (https://www.standardwebhooks.com): the receiver recomputes
// HMAC-SHA256(key, id + "." + timestamp + "." + body), key = base64-decoded secret after `whsec_`.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::webhook {

/// A new secret: `whsec_` + base64 of 32 random bytes (OpenSSL RAND_bytes). Throws if the
/// system has no randomness to give (a bug or a broken host, not an input error).
std::string NewSecret();

/// The signing key of `secret` (`whsec_<base64>`); nullopt if it is not of that form.
std::optional<std::string> SecretKey(std::string_view secret);

/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` for one secret; nullopt for a malformed
/// secret. Pure.
std::optional<std::string> Sign(std::string_view secret, std::string_view id,
                                std::int64_t timestamp, std::string_view body);

/// The `webhook-signature` header: one signature per secret, space separated (during a
/// rotation, the new secret's first). Malformed secrets are left out.
std::string SignatureHeader(const std::vector<std::string>& secrets, std::string_view id,
                            std::int64_t timestamp, std::string_view body);

std::string Base64(std::string_view bytes);
/// nullopt when `text` is not valid base64 (with padding).
std::optional<std::string> Unbase64(std::string_view text);

}  // namespace gw::webhook
