// libFuzzer: log pages and single log entries (GET /logs, /logs/from/to, /logs/{id}).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::ef45;
  auto item = [](const LogEntry& e) { return ToJson(e, Biometrics::kInclude); };
  fuzz::ParseAndRoundTrip<Collection<LogEntry>>(
      "logs", fuzz::Text(data, size), [&](const auto& page) { return ToJson(page, item); });
  fuzz::ParseAndRoundTrip<LogEntry>("log-get", fuzz::Text(data, size), item);
  std::string body = fuzz::Text(data, size);
  (void)fuzz::Parser().ParseOneOrMany<LogEntry>("log-get", body);
  return 0;
}
