#include "common/log.hpp"

#include <unistd.h>

namespace gw::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

std::string_view Prefix(Level level) {
  switch (level) {
    case Level::kDebug: return "<7>debug ";
    case Level::kInfo: return "<6>info ";
    case Level::kWarn: return "<4>warn ";
    case Level::kError: return "<3>error ";
  }
  return "<6>info ";
}

}  // namespace

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool ParseLevel(std::string_view text, Level& out) {
  if (text == "debug")
    out = Level::kDebug;
  else if (text == "info")
    out = Level::kInfo;
  else if (text == "warn")
    out = Level::kWarn;
  else if (text == "error")
    out = Level::kError;
  else
    return false;
  return true;
}

void Write(Level level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(message.size() + component.size() + 16);
  line.append(Prefix(level)).append(component).append(": ").append(message);
  // One line per event: newlines inside a message would split it in journald.
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line.push_back('\n');
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

bool RateLimit::Allow(long& suppressed) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= period_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ < burst_) {
    ++used_;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace gw::log
