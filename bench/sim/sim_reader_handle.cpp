// Cost of ef45sim::Reader::Handle per request kind, in-process (no sockets): the budget is
// 3,500 requests/s for 1,000 readers on under half a core, mostly GET /config/door-status.
// Prints a table; not a test.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "reader.hpp"

namespace {

long RssKib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }

  return -1;
}

struct Case {
  const char* name;
  ef45sim::Request request;
  int iterations;
};

}  // namespace

int main() {
  ef45sim::Identity identity;
  identity.serial_number = "OA1405A000001";
  identity.mac = {0x50, 0x3f, 0x98, 0x00, 0x01, 0x09};
  ef45sim::Reader reader(identity, 1);
  std::string lock = reader.Handle({"POST", "/1.0/lock", ""}).body.substr(13, 36);
  for (int i = 0; i < 200; ++i) reader.GenerateRecognition();
  const std::string q = "?lock_uid=" + lock;

  std::vector<Case> cases = {
      {"GET /config/door-status", {"GET", "/1.0/config/door-status" + q, ""}, 2000000},
      {"GET /config/door-status (stale lock, 501)",
       {"GET", "/1.0/config/door-status?lock_uid=stale", ""},
       2000000},
      {"GET /version", {"GET", "/1.0/version", ""}, 1000000},
      {"GET /logs/from/to (50 of 200)",
       {"GET", "/1.0/logs/from/to" + q + "&min=100&max=149&page_size=50", ""},
       20000},
      {"GET /match-data (page of 50)", {"GET", "/1.0/match-data" + q, ""}, 20000},
      {"GET /subjects/{uuid} (404)", {"GET", "/1.0/subjects/nobody" + q, ""}, 500000},
  };
  std::printf("%-44s %10s %12s %10s\n", "request", "ns/call", "calls/s", "bytes");
  for (const auto& c : cases) {
    std::size_t bytes = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < c.iterations; ++i) bytes += reader.Handle(c.request).body.size();
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
        c.iterations;
    std::printf("%-44s %10.0f %12.0f %10zu\n", c.name, ns, 1e9 / ns,
                bytes / static_cast<std::size_t>(c.iterations));
  }

  // Memory: readers whose gateway is away (full match buffers, logs kept, events recorded).
  constexpr int kReaders = 200;
  constexpr int kRecognitions = 1000;
  long before = RssKib();
  std::vector<ef45sim::Reader> fleet;
  for (int i = 0; i < kReaders; ++i) {
    ef45sim::Identity id;
    id.index = i;
    fleet.emplace_back(id, 1);
  }
  long built = RssKib();
  for (auto& r : fleet) {
    for (int k = 0; k < kRecognitions; ++k) r.GenerateRecognition();
  }
  long full = RssKib();
  std::printf("\n%-44s %10s\n", "memory per reader", "KiB");
  std::printf("%-44s %10.1f\n", "idle (5 users, settings)",
              static_cast<double>(built - before) / kReaders);
  std::printf("%-44s %10.1f\n", "after 1000 recognitions (buffer full)",
              static_cast<double>(full - before) / kReaders);
  return 0;
}
