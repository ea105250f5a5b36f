#include "support/wait.hpp"

#include <cstdlib>
#include <thread>

namespace gw::test {

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline,
             std::chrono::milliseconds step) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(step);
  }
}

std::string SourceDir() {
  const char* dir = std::getenv("EF45GW_SOURCE_DIR");
  return dir ? dir : EF45GW_DEFAULT_SOURCE_DIR;
}

std::string BinaryDir() {
  const char* dir = std::getenv("EF45GW_BINARY_DIR");
  return dir ? dir : EF45GW_DEFAULT_BINARY_DIR;
}

}  // namespace gw::test
