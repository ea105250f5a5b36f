#include "poll/reader_health.hpp"

#include <algorithm>

namespace gw::poll {

std::string_view PollKindName(PollKind kind) {
  switch (kind) {
    case PollKind::kSession: return "session";
    case PollKind::kDoor: return "door";
    case PollKind::kMatch: return "match";
    case PollKind::kLogs: return "logs";
    case PollKind::kHealth: return "health";
  }
  return "unknown";
}

std::string_view ReaderStateName(ReaderState state) {
  switch (state) {
    case ReaderState::kUp: return "up";
    case ReaderState::kDegraded: return "degraded";
    case ReaderState::kDown: return "down";
    case ReaderState::kMaintenance: return "maintenance";
  }
  return "unknown";
}

bool ReaderHealth::Update(ReaderState state, std::string_view reason) {
  bool changed = state != state_ || reason != reason_;
  state_ = state;
  reason_ = reason;
  return changed;
}

bool ReaderHealth::RecordSuccess(PollKind kind, Clock::time_point now) {
  last_success_ = now;
  consecutive_failures_ = 0;
  failing_[static_cast<std::size_t>(kind)] = false;
  // Every poll kind runs under the session lock: any success proves the session works again
  // (e.g. another client's lock went away), even though no "session" poll of its own ran.
  failing_[static_cast<std::size_t>(PollKind::kSession)] = false;
  bool any_failing = std::any_of(failing_.begin(), failing_.end(), [](bool f) { return f; });
  if (any_failing) return Update(ReaderState::kDegraded, reason_);
  return Update(ReaderState::kUp, "");
}

bool ReaderHealth::RecordFailure(PollKind kind, std::string_view reason, Clock::time_point now) {
  last_failure_ = now;
  ++consecutive_failures_;
  ++errors_[static_cast<std::size_t>(kind)];
  failing_[static_cast<std::size_t>(kind)] = true;
  // Without a session nothing can be polled: that is down at once, not degraded.
  bool down = consecutive_failures_ >= down_after_ || kind == PollKind::kSession;
  return Update(down ? ReaderState::kDown : ReaderState::kDegraded, reason);
}

bool ReaderHealth::MarkStopped(std::string_view reason) {
  failing_.fill(false);
  consecutive_failures_ = 0;
  return Update(ReaderState::kDown, reason);
}

}  // namespace gw::poll
