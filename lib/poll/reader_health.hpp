#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace gw::poll {

/// What a reader's poller does; each kind has its own cadence and its own error count.
enum class PollKind { kSession = 0, kDoor, kMatch, kLogs, kHealth };
inline constexpr std::size_t kPollKinds = 5;
std::string_view PollKindName(PollKind kind);

/// The state the API and metrics show per reader.
enum class ReaderState { kUp, kDegraded, kDown, kMaintenance };  // maintenance: issue 20
std::string_view ReaderStateName(ReaderState state);

/// Tracks a reader's health from poll outcomes: `up` while polls succeed; `degraded` after a
/// failure (or while one poll kind keeps failing and others work); `down` after
/// `down_after` consecutive failures with no success in between, or while no session can be
/// held. `reason` is the most recent failure class ("timeout", "refused", "lock_conflict",
/// "http_status", "bad_response", ...), empty when up. A reader that answers but has no events
/// stays `up` with a fresh `last_success`: quiet never looks like "not polling".
/// Not thread-safe: lives on the reader's strand.
class ReaderHealth {
 public:
  using Clock = std::chrono::system_clock;

  explicit ReaderHealth(int down_after = 3) : down_after_(down_after) {}

  /// Returns true when the state or reason changed (the caller logs and updates metrics).
  bool RecordSuccess(PollKind kind, Clock::time_point now);
  bool RecordFailure(PollKind kind, std::string_view reason, Clock::time_point now);
  /// The reader is not being polled on purpose (stopping, lease moved to another node).
  bool MarkStopped(std::string_view reason);

  ReaderState state() const { return state_; }
  const std::string& reason() const { return reason_; }
  Clock::time_point last_success() const { return last_success_; }
  Clock::time_point last_failure() const { return last_failure_; }
  int consecutive_failures() const { return consecutive_failures_; }
  std::uint64_t errors(PollKind kind) const { return errors_[static_cast<std::size_t>(kind)]; }

 private:
  bool Update(ReaderState state, std::string_view reason);

  int down_after_;
  ReaderState state_ = ReaderState::kDown;  // until the first success
  std::string reason_ = "starting";
  Clock::time_point last_success_{};
  Clock::time_point last_failure_{};
  int consecutive_failures_ = 0;
  std::array<bool, kPollKinds> failing_{};
  std::array<std::uint64_t, kPollKinds> errors_{};
};

}  // namespace gw::poll
