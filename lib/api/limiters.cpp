#include "api/limiters.hpp"

#include <utility>

namespace gw::api {

ReaderOpLimiter::Slot::Slot(Slot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), reader_id_(std::move(other.reader_id_)) {}

ReaderOpLimiter::Slot& ReaderOpLimiter::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    reader_id_ = std::move(other.reader_id_);
  }
  return *this;
}

ReaderOpLimiter::Slot::~Slot() { Release(); }

void ReaderOpLimiter::Slot::Release() noexcept {
  if (!limiter_) return;
  std::lock_guard lock(limiter_->mutex_);
  auto it = limiter_->in_flight_.find(reader_id_);
  if (it != limiter_->in_flight_.end() && --it->second == 0) limiter_->in_flight_.erase(it);
  limiter_ = nullptr;
}

ReaderOpLimiter::Slot ReaderOpLimiter::TryAcquire(std::string_view reader_id) {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(reader_id);
  const int now = it == in_flight_.end() ? 0 : it->second;
  if (now >= limit_) return Slot();
  if (it == in_flight_.end()) it = in_flight_.emplace(std::string(reader_id), 0).first;
  ++it->second;
  return Slot(this, std::string(reader_id));
}

int ReaderOpLimiter::InFlight(std::string_view reader_id) const {
  std::lock_guard lock(mutex_);
  auto it = in_flight_.find(reader_id);
  return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace gw::api
