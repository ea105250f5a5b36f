#include "api/commit_signal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace gw::api {

namespace asio = boost::asio;

struct CommitSignal::Waiter {
  explicit Waiter(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
};

asio::awaitable<void> CommitSignal::Wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  waiter->timer.expires_after(timeout);
  std::list<std::shared_ptr<Waiter>>::iterator self;
  {
    // Checked under the lock Notify takes: a commit between the caller's query and this point
    // is never missed.
    std::lock_guard lock(mutex_);
    if (generation_.load() != seen) co_return;
    self = waiters_.insert(waiters_.end(), waiter);
  }
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  std::lock_guard lock(mutex_);
  waiters_.erase(self);
}

void CommitSignal::Notify() {
  std::lock_guard lock(mutex_);
  ++generation_;
  for (const auto& waiter : waiters_) {
    asio::post(waiter->timer.get_executor(), [waiter] { waiter->timer.cancel(); });
  }
}

std::size_t CommitSignal::waiters() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace gw::api
