#include "poll/fetch_gate.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace gw::poll {

namespace asio = boost::asio;

FetchGate::FetchGate(int slots) : slots_(std::max(1, slots)), free_(slots_) {}

FetchGate::Waiter::Waiter(const asio::any_io_executor& executor)
    : timer(executor, std::chrono::steady_clock::time_point::max()) {}

FetchGate::Slot& FetchGate::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (gate_) gate_->Release();
    gate_ = other.gate_;
    other.gate_ = nullptr;
  }
  return *this;
}

FetchGate::Slot::~Slot() {
  if (gate_) gate_->Release();
}

asio::awaitable<FetchGate::Slot> FetchGate::Acquire(asio::any_io_executor executor,
                                                    std::shared_ptr<Waiter>* waiting) {
  auto waiter = std::make_shared<Waiter>(executor);
  {
    std::lock_guard lock(mutex_);
    if (free_ > 0 && queue_.empty()) {
      --free_;
      co_return Slot(this);
    }
    queue_.push_back(waiter);
  }
  if (waiting) *waiting = waiter;
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (waiting) waiting->reset();
  std::lock_guard lock(mutex_);
  if (waiter->granted) co_return Slot(this);
  // Cancelled: out of the line (a slot given to it meanwhile was seen above as granted).
  queue_.erase(std::remove(queue_.begin(), queue_.end(), waiter), queue_.end());
  co_return Slot();
}

void FetchGate::Cancel(const std::shared_ptr<Waiter>& waiter) {
  if (waiter) waiter->timer.cancel();
}

void FetchGate::Release() {
  std::shared_ptr<Waiter> next;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      ++free_;
      return;
    }
    next = std::move(queue_.front());
    queue_.pop_front();
    next->granted = true;
  }
  // On the waiter's executor: its timer is touched only there.
  asio::post(next->timer.get_executor(), [next] { next->timer.cancel(); });
}

std::size_t FetchGate::InUse() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(slots_ - free_);
}

std::size_t FetchGate::Waiting() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace gw::poll
