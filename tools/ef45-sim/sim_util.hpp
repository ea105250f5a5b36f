#pragma once
// Small helpers for the reader state machine: the firmware's query/path parsing quirks, response
// builders, JSON string building, Base64, the deterministic PRNG and the reader's time format.

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reader.hpp"

namespace ef45sim::util {

// --- request parsing (API.md 1.3) ---

/// Splits `path` on '/', drops empty segments and percent-decodes each one (Poco
/// `getPathSegments` semantics: path segments ARE decoded).
std::vector<std::string> SplitPath(std::string_view path);

/// Percent-decodes `text` ('+' is kept as is). Malformed escapes are kept verbatim.
std::string PercentDecode(std::string_view text);

/// The firmware's query lookup: raw substring search for `name=` and the value up to the next
/// '&' (or the end). Values are NOT decoded. nullopt when `name=` does not occur.
std::optional<std::string_view> QueryValue(std::string_view query, std::string_view name);

/// `std::stoi` semantics: leading whitespace, optional sign, digits, trailing garbage ignored.
/// nullopt when there is no digit or the value does not fit an int.
std::optional<int> ParseStoi(std::string_view text);

/// `tolower` + `std::boolalpha` extraction: only the words true/false (any case) parse.
std::optional<bool> ParseBool(std::string_view text);

/// Bool query parameter: nullopt when absent or unparseable.
std::optional<bool> QueryBool(std::string_view query, std::string_view name);
/// Int query parameter: nullopt when absent or unparseable.
std::optional<int> QueryInt(std::string_view query, std::string_view name);

// --- responses ---

Response Empty(int status);
Response Json(int status, std::string body);
Response JsonValue(int status, const boost::json::value& value);
/// Poco's own answer when no handler is produced (bad prefix, missing/stale lock_uid).
Response NoHandler();
/// `{"success":..,"status":".."}` (CameraControlResponse).
Response ControlResult(int status, bool success, std::string_view text);

// --- JSON building ---

/// Appends `"text"` with JSON escaping.
void AppendJsonString(std::string& out, std::string_view text);
void AppendInt(std::string& out, std::int64_t value);
/// Shortest round-trip decimal form (std::to_chars); non-finite values as 0.
void AppendDouble(std::string& out, double value);

/// Parses a request body as a JSON object. nullopt on bad JSON or a non-object.
std::optional<boost::json::object> ParseObject(std::string_view body);

// --- Base64 ---

std::string Base64Encode(std::string_view bytes);
void AppendBase64(std::string& out, std::string_view bytes);
/// Strict decoding (length multiple of 4, valid alphabet, '=' only at the end). nullopt on error.
std::optional<std::string> Base64Decode(std::string_view text);

// --- PRNG: xoshiro256** seeded with splitmix64; deterministic for a seed ---

class Prng {
 public:
  explicit Prng(std::uint64_t seed = 0);
  std::uint64_t Next();
  /// Uniform in [0, n); n > 0.
  std::uint64_t Below(std::uint64_t n);
  /// True with probability per_mille / 1000.
  bool Chance(unsigned per_mille);
  double Between(double lo, double hi);
  std::string Bytes(std::size_t n);
  /// Like Bytes() into `out` (reusing its capacity).
  void Fill(std::string& out, std::size_t n);
  /// A random (v4) UUID, 8-4-4-4-12 lower-case hex.
  std::string Uuid4();

 private:
  std::uint64_t s_[4];
};

std::uint64_t SplitMix64(std::uint64_t& state);

/// A random card number as the firmware writes them: 4 hex bytes with spaces (`65 D8 A1 BD`).
std::string RandomCard(Prng& rng);

// --- time ---

/// `2018-05-28T14:26:26Z` (ISO-8601 UTC) for seconds since the Unix epoch.
std::string IsoUtc(std::int64_t unix_seconds);
/// Parses the device time format `MMddhhmmyyyy.ss`; nullopt when malformed or not a real date.
std::optional<std::int64_t> ParseDeviceTime(std::string_view text);

/// True when `text` looks like a UUID 8-4-4-4-12 (hex digits, any case).
bool IsUuid(std::string_view text);

}  // namespace ef45sim::util
