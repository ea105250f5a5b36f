#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>

namespace gw::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

/// Process-wide minimum level (default info). Thread-safe.
void SetLevel(Level level);
Level GetLevel();
bool ParseLevel(std::string_view text, Level& out);

/// Writes one line to stderr: `<level> <component>: <message>`, prefixed with a systemd
/// priority (`<4>`) so journald keeps the severity. Thread-safe; one write(2) per line.
/// Never pass secrets or biometric data.
void Write(Level level, std::string_view component, std::string_view message);

/// Builds one log line with `<<` and writes it when destroyed.
class Line {
 public:
  Line(Level level, std::string_view component) : level_(level), component_(component) {}
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line() { Write(level_, component_, stream_.str()); }

  template <class T>
  Line& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  Level level_;
  std::string_view component_;
  std::ostringstream stream_;
};

/// Allows at most `burst` lines per `period`, then counts what it suppressed and reports the
/// count with the next allowed line. One per reader (or per noisy source). Thread-safe.
class RateLimit {
 public:
  explicit RateLimit(int burst = 5, std::chrono::seconds period = std::chrono::seconds(60))
      : burst_(burst), period_(period) {}

  /// True if a line may be written now; `suppressed` receives how many were dropped since the
  /// last allowed line.
  bool Allow(long& suppressed);

 private:
  std::mutex mutex_;
  int burst_;
  std::chrono::seconds period_;
  std::chrono::steady_clock::time_point window_start_{};
  int used_ = 0;
  long suppressed_ = 0;
};

}  // namespace gw::log

#define GW_LOG_ENABLED(level) (::gw::log::Level::level >= ::gw::log::GetLevel())
/// `GW_LOG(kWarn, "poll") << "reader " << id << " down: " << reason;`
#define GW_LOG(level, component) \
  if (!GW_LOG_ENABLED(level)) {  \
  } else                         \
    ::gw::log::Line(::gw::log::Level::level, component)
