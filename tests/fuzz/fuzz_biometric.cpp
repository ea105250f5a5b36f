// libFuzzer: biometric-data pages (GET /biometric-data, /ver1, /ver2).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::ef45;
  auto item = [](const BiometricData& b) { return ToJson(b, Biometrics::kInclude); };
  fuzz::ParseAndRoundTrip<Collection<BiometricData>>(
      "biometric-data", fuzz::Text(data, size),
      [&](const auto& page) { return ToJson(page, item); });
  return 0;
}
