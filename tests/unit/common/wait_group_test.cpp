#include "common/wait_group.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/task_failure.hpp"

namespace gw {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  co_await t.async_wait(asio::use_awaitable);
}

TEST(WaitGroup, WaitCompletesAtOnceWhenNothingRuns) {
  asio::io_context io;
  WaitGroup group;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await group.Wait();
        done = true;
      },
      Rethrow);
  io.run();
  EXPECT_TRUE(done);
}

TEST(WaitGroup, WaitEndsAfterTheLastDone) {
  asio::io_context io;
  WaitGroup group;
  int finished = 0;
  int seen_by_waiter = -1;
  for (int i = 1; i <= 3; ++i) {
    group.Add();
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          co_await Sleep(std::chrono::milliseconds(10 * i));
          ++finished;
          group.Done();
        },
        Rethrow);
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await group.Wait();
        seen_by_waiter = finished;
      },
      Rethrow);
  io.run();  // returns only if the parked waiter was resumed (it holds work while it waits)
  EXPECT_EQ(seen_by_waiter, 3);
  EXPECT_EQ(group.count(), 0u);
}

TEST(WaitGroup, WaitForEndsAtTheLastDoneOrAtItsBound) {
  asio::io_context io;
  WaitGroup group;
  group.Add(2);
  std::vector<std::pair<bool, std::chrono::steady_clock::duration>> results;
  auto waiter = [&](std::chrono::milliseconds bound) -> asio::awaitable<void> {
    auto start = std::chrono::steady_clock::now();
    bool done = co_await group.WaitFor(bound);
    results.emplace_back(done, std::chrono::steady_clock::now() - start);
  };
  asio::co_spawn(io, waiter(20ms), Rethrow);  // gives up before the tasks end
  asio::co_spawn(io, waiter(5s), Rethrow);    // sees them end
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await Sleep(60ms);
        group.Done();
        co_await Sleep(20ms);
        group.Done();
      },
      Rethrow);
  io.run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(results[0].first);
  EXPECT_LT(results[0].second, 60ms);
  EXPECT_TRUE(results[1].first);
  EXPECT_GE(results[1].second, 80ms);
  EXPECT_LT(results[1].second, 2s);
  // Nothing running: at once.
  bool at_once = false;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { at_once = co_await group.WaitFor(5s); }, Rethrow);
  io.restart();
  io.run();
  EXPECT_TRUE(at_once);
}

TEST(WaitGroup, EveryWaiterResumesOnItsOwnStrand) {
  asio::thread_pool pool(2);
  auto strand_a = asio::make_strand(pool.get_executor());
  auto strand_b = asio::make_strand(pool.get_executor());
  WaitGroup group;
  group.Add(2);
  auto waiter = [&](asio::strand<asio::thread_pool::executor_type>& s) {
    return asio::co_spawn(
        s,
        [&]() -> asio::awaitable<bool> {
          co_await group.Wait();
          co_return s.running_in_this_thread();
        },
        asio::use_future);
  };
  auto a = waiter(strand_a);
  auto b = waiter(strand_b);
  // Done from plain threads, not from either strand.
  std::thread([&] { group.Done(); }).join();
  EXPECT_EQ(a.wait_for(50ms), std::future_status::timeout) << "resumed before the last Done";
  std::thread([&] { group.Done(); }).join();
  ASSERT_EQ(a.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(b.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(a.get());
  EXPECT_TRUE(b.get());
  pool.join();
}

TEST(WaitGroup, AWaiterMayDestroyTheGroupOnceResumed) {
  asio::io_context io;
  auto group = std::make_unique<WaitGroup>();
  group->Add();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await group->Wait();
        group.reset();
      },
      Rethrow);
  asio::co_spawn(
      io,
      [g = group.get()]() -> asio::awaitable<void> {
        co_await Sleep(5ms);
        g->Done();
      },
      Rethrow);
  io.run();
  EXPECT_EQ(group, nullptr);
}

TEST(TaskFailure, CountsEveryFailureByTask) {
  auto before = TaskFailures();
  auto handler = LogFailure("test", "wait_group_test_task");
  handler(nullptr);  // a clean end counts nothing
  handler(std::make_exception_ptr(std::runtime_error("boom")));
  ReportTaskFailure("test", "wait_group_test_task", std::make_exception_ptr(std::logic_error("x")),
                    "r1");
  auto after = TaskFailures();
  EXPECT_EQ(after["wait_group_test_task"], before["wait_group_test_task"] + 2);
}

}  // namespace
}  // namespace gw
