#include "common/wait_group.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cassert>
#include <utility>

namespace gw {

namespace asio = boost::asio;

void WaitGroup::Add(std::size_t n) {
  std::lock_guard lock(mutex_);
  count_ += n;
}

void WaitGroup::Done() {
  std::vector<Waiter> ready;
  std::map<std::uint64_t, std::shared_ptr<asio::steady_timer>> timed;
  {
    std::lock_guard lock(mutex_);
    assert(count_ > 0);
    if (count_ == 0 || --count_ != 0) return;
    ready.swap(waiters_);
    timed.swap(timed_);
  }
  // Outside the lock, and posted: a waiter that resumes may destroy the group at once.
  for (auto& w : ready) asio::post(w.work, std::move(w.handler));
  for (auto& entry : timed) {
    auto timer = entry.second;  // (a structured binding cannot be captured before C++20 in clang)
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
}

std::size_t WaitGroup::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

void WaitGroup::Park(asio::any_completion_handler<void()> handler, asio::any_io_executor executor) {
  auto work = asio::prefer(std::move(executor), asio::execution::outstanding_work.tracked);
  {
    std::lock_guard lock(mutex_);
    if (count_ != 0) {
      waiters_.push_back(Waiter{std::move(handler), std::move(work)});
      return;
    }
  }
  asio::post(work, std::move(handler));
}

asio::awaitable<void> WaitGroup::Wait() {
  // The initiation captures nothing with a destructor: GCC 12 destroys a lambda temporary in a
  // co_await expression twice (see common/run_blocking.hpp); a captured executor would release
  // its strand twice. The waiter's executor comes from the handler instead.
  auto park = [this](auto handler) {
    auto executor = asio::get_associated_executor(handler);
    Park(std::move(handler), std::move(executor));
  };
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(park, asio::use_awaitable);
}

asio::awaitable<bool> WaitGroup::WaitFor(std::chrono::steady_clock::duration timeout) {
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, timeout);
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (count_ == 0) co_return true;
    id = ++next_timed_;
    timed_.emplace(id, timer);
  }
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lock(mutex_);
  timed_.erase(id);
  co_return count_ == 0;
}

}  // namespace gw
