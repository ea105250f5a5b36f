#include "poll/fetch_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace gw::poll {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs `io` until `done` or a deadline; true if `done`.
template <class Pred>
bool RunUntil(asio::io_context& io, Pred done, std::chrono::seconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(10ms);
  }
  return true;
}

TEST(FetchGate, GrantsFreeSlotsAtOnceThenInTheOrderAsked) {
  asio::io_context io;
  FetchGate gate(2);
  std::vector<std::optional<FetchGate::Slot>> held(5);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          held[i] = co_await gate.Acquire(io.get_executor());
          order.push_back(i);
        },
        asio::detached);
  }
  ASSERT_TRUE(RunUntil(io, [&] { return order.size() == 2 && gate.Waiting() == 3; }));
  EXPECT_EQ(gate.InUse(), 2U);
  EXPECT_TRUE(*held[0]);
  EXPECT_TRUE(*held[1]);

  held[1].reset();  // one slot back: the first in line gets it, nobody else
  ASSERT_TRUE(RunUntil(io, [&] { return order.size() == 3; }));
  EXPECT_EQ(order[2], 2);
  EXPECT_EQ(gate.InUse(), 2U);
  EXPECT_EQ(gate.Waiting(), 2U);

  held[0].reset();
  held[2].reset();
  ASSERT_TRUE(RunUntil(io, [&] { return order.size() == 5; }));
  EXPECT_EQ(order[3], 3);
  EXPECT_EQ(order[4], 4);
  held[3].reset();
  held[4].reset();
  EXPECT_EQ(gate.InUse(), 0U);
  EXPECT_EQ(gate.Waiting(), 0U);
}

TEST(FetchGate, ACancelledWaitLeavesTheLineAndTakesNoSlot) {
  asio::io_context io;
  FetchGate gate(1);
  std::optional<FetchGate::Slot> first;
  std::optional<FetchGate::Slot> cancelled;
  std::optional<FetchGate::Slot> third;
  std::shared_ptr<FetchGate::Waiter> waiting;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { first = co_await gate.Acquire(io.get_executor()); },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        cancelled = co_await gate.Acquire(io.get_executor(), &waiting);
      },
      asio::detached);
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { third = co_await gate.Acquire(io.get_executor()); },
      asio::detached);
  ASSERT_TRUE(RunUntil(io, [&] { return first && gate.Waiting() == 2 && waiting; }));

  FetchGate::Cancel(waiting);
  ASSERT_TRUE(RunUntil(io, [&] { return cancelled.has_value(); }));
  EXPECT_FALSE(*cancelled) << "a cancelled wait came back with a slot";
  EXPECT_EQ(waiting, nullptr) << "the handle outlived the wait";
  EXPECT_EQ(gate.Waiting(), 1U);

  first.reset();  // goes to the third, not to the one that left
  ASSERT_TRUE(RunUntil(io, [&] { return third.has_value(); }));
  EXPECT_TRUE(*third);
  EXPECT_EQ(gate.InUse(), 1U);
  third.reset();
  EXPECT_EQ(gate.InUse(), 0U);
}

// Waiters on strands of a four-thread pool: never more holders than slots, and every waiter
// gets its turn.
TEST(FetchGate, NeverMoreHoldersThanSlotsAcrossThreads) {
  asio::thread_pool pool(4);
  FetchGate gate(3);
  std::atomic<int> holders{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  constexpr int kTasks = 200;
  for (int i = 0; i < kTasks; ++i) {
    auto strand = asio::make_strand(pool.get_executor());
    asio::co_spawn(
        strand,
        [&, strand]() -> asio::awaitable<void> {
          for (int round = 0; round < 5; ++round) {
            auto slot = co_await gate.Acquire(strand);
            EXPECT_TRUE(slot);
            const int now = ++holders;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            --holders;
          }
          ++done;
        },
        asio::detached);
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (done.load() < kTasks && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  pool.join();
  EXPECT_EQ(done.load(), kTasks);
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(gate.InUse(), 0U);
  EXPECT_EQ(gate.Waiting(), 0U);
}

}  // namespace
}  // namespace gw::poll
