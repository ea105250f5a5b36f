#pragma once

// Shared by the libFuzzer targets: one ResponseParser reused across inputs (as one Client
// reuses it across replies), and a round-trip property: whatever parses, written back with
// ToJson and parsed again, must give the same JSON.

#include <boost/json/serialize.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ef45/encode.hpp"
#include "ef45/parse.hpp"

namespace gw::ef45::fuzz {

inline ResponseParser& Parser() {
  static ResponseParser parser;
  return parser;
}

inline std::string Text(const std::uint8_t* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

/// Parses `body` as T; if it parses, checks the ToJson round trip.
template <class T, class ToJsonFn>
void ParseAndRoundTrip(std::string_view op, std::string body, ToJsonFn to_json) {
  auto first = Parser().Parse<T>(op, body);
  if (!first) {
    if (first.error().detail.rfind(std::string(op) + ": ", 0) != 0) std::abort();
    return;
  }
  std::string written = boost::json::serialize(to_json(*first));
  auto second = Parser().Parse<T>(op, written);
  if (!second) std::abort();  // our own output must parse
  if (boost::json::serialize(to_json(*second)) != written) std::abort();
}

}  // namespace gw::ef45::fuzz
