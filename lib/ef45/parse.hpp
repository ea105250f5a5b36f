#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ef45/models.hpp"
#include "ef45/reply.hpp"

namespace gw::ef45 {

/// Arrays in a reply may hold at most this many elements (a log page of 1,000 fits with room
/// to spare). Bounds the memory a hostile or broken reader can make us allocate per reply.
inline constexpr std::size_t kMaxArrayElements = 10'000;

/// Spare capacity a body string should have after its text so that parsing needs no copy
/// (simdjson reads up to this many bytes past the end).
inline constexpr std::size_t kJsonPadding = 64;

/// What a parse does with biometric strings (iris images and templates, face images and
/// features). kShapeOnly: each must still be a string (or null), but its content is not copied; a
/// non-empty one reads as kBiometricNotKept. For the pollers, which store none of it (DESIGN.md
/// invariant 6): no copy of a template passes through their memory, and a recognition costs no
/// allocation per image.
enum class BiometricStrings { kKeep, kShapeOnly };
inline constexpr std::string_view kBiometricNotKept = "(not kept)";

/// Parses reader reply bodies into models with simdjson on-demand. Unknown fields are ignored;
/// a missing or mistyped required field, malformed JSON, trailing content or a wrong envelope is
/// an Error with code `kBadResponse` (arrays over kMaxArrayElements: `kTooLarge`) and a detail
/// naming the operation and the field (`match-data: items[3].log_id: expected integer`).
///
/// One ResponseParser per Client (per reader strand), never shared between threads; the simdjson
/// parser and its buffers behind it are one per thread (parsing never suspends), so 1,000 readers
/// do not keep 1,000 sets of buffers. Not thread-safe. Never blocks. Never logs.
class ResponseParser {
 public:
  ResponseParser();
  ~ResponseParser();
  ResponseParser(ResponseParser&&) noexcept;
  ResponseParser& operator=(ResponseParser&&) noexcept;

  /// Parses a whole reply body as `T` (a model from models.hpp or `Collection<model>`).
  /// `op` names the operation in error details. `body` keeps its content but its capacity may
  /// grow by a few bytes (simdjson needs padding after the text).
  template <class T>
  Reply<T> Parse(std::string_view op, std::string& body,
                 BiometricStrings biometrics = BiometricStrings::kKeep);

  /// For replies whose shape the spec leaves open (`GET /logs/{id}`, `GET /faces/{u}?subId=`):
  /// accepts either a bare `T` or a collection envelope of `T`.
  template <class T>
  Reply<std::vector<T>> ParseOneOrMany(std::string_view op, std::string& body);

  /// `{"title": t, "<type>": v}` of `GET /config/{title}/{type}`; the member named after
  /// `expected` is required and must have that type.
  Reply<Setting> ParseSetting(std::string_view op, std::string& body, SettingType expected);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The simdjson On-Demand kernel compiled into the parsers ("fallback" without -m flags) and the
/// one simdjson picked at run time, as "builtin/active". For start-up logs and benchmarks.
std::string_view JsonKernelName();

/// RawJson: any well-formed JSON object or array, kept as text.
template <>
Reply<RawJson> ResponseParser::Parse<RawJson>(std::string_view op, std::string& body,
                                              BiometricStrings biometrics);

}  // namespace gw::ef45
