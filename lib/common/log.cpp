#include "common/log.hpp"

#include <unistd.h>

#include "common/log_escape.hpp"

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

namespace {

/// Length of the valid UTF-8 sequence at the start of `s` (1-4), or 0 if it is not one.
std::size_t Utf8Length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char min2 = 0x80;
  unsigned char max2 = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) min2 = 0xa0;  // overlong
    if (c == 0xed) max2 = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) min2 = 0x90;  // overlong
    if (c == 0xf4) max2 = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < min2 || b(1) > max2) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    const std::size_t n = Utf8Length(text);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      // One line per event, and nothing a terminal or a log parser would interpret.
      out.append("\\x").push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
      text.remove_prefix(1);
      continue;
    }
    out.append(text.substr(0, n));
    text.remove_prefix(n);
  }
  return out;
}

std::string Cut(std::string_view value) {
  if (value.size() <= kMaxValueBytes) return std::string(value);
  std::size_t end = kMaxValueBytes;
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xc0) == 0x80) --end;
  return std::string(value.substr(0, end)) + "...(+" + std::to_string(value.size() - end) +
         " bytes)";
}

void Write(Level level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(message.size() + component.size() + 16);
  line.append(Prefix(level)).append(component).append(": ").append(Escape(message));
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
