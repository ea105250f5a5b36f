// libFuzzer: match-data pages (GET /match-data), firmware key spellings included.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::ef45;
  auto item = [](const MatchData& m) { return ToJson(m, Biometrics::kInclude); };
  fuzz::ParseAndRoundTrip<Collection<MatchData>>(
      "match-data", fuzz::Text(data, size), [&](const auto& page) { return ToJson(page, item); });
  return 0;
}
