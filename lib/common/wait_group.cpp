#include "common/wait_group.hpp"

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
  {
    std::lock_guard lock(mutex_);
    assert(count_ > 0);
    if (count_ == 0 || --count_ != 0) return;
    ready.swap(waiters_);
  }
  // Outside the lock, and posted: a waiter that resumes may destroy the group at once.
  for (auto& w : ready) asio::post(w.work, std::move(w.handler));
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

}  // namespace gw
