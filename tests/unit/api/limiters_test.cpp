#include "api/limiters.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace gw::api {
namespace {

TEST(ReaderOpLimiter, RefusesTheOperationOverTheLimitOfOneReaderOnly) {
  ReaderOpLimiter limiter(2);
  auto a = limiter.TryAcquire("r1");
  auto b = limiter.TryAcquire("r1");
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(limiter.TryAcquire("r1"));
  EXPECT_EQ(limiter.InFlight("r1"), 2);   // a refusal takes nothing
  EXPECT_TRUE(limiter.TryAcquire("r2"));  // another reader has its own bound
}

TEST(ReaderOpLimiter, AFinishedOperationFreesItsSlotExactlyOnce) {
  ReaderOpLimiter limiter(1);
  {
    auto a = limiter.TryAcquire("r1");
    ASSERT_TRUE(a);
    auto moved = std::move(a);  // the moved-from slot releases nothing
    EXPECT_FALSE(limiter.TryAcquire("r1"));
    ReaderOpLimiter::Slot assigned;
    assigned = std::move(moved);
    EXPECT_EQ(limiter.InFlight("r1"), 1);
  }
  EXPECT_EQ(limiter.InFlight("r1"), 0);
  auto again = limiter.TryAcquire("r1");
  EXPECT_TRUE(again);
  EXPECT_EQ(limiter.InFlight("r1"), 1);
}

TEST(ReaderOpLimiter, ALimitOfZeroRefusesEverything) {
  ReaderOpLimiter limiter(0);
  EXPECT_FALSE(limiter.TryAcquire("r1"));
  EXPECT_EQ(limiter.InFlight("r1"), 0);
}

TEST(ReaderOpLimiter, NeverExceedsTheLimitUnderConcurrentCallers) {
  ReaderOpLimiter limiter(3);
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto slot = limiter.TryAcquire("r1");
        if (!slot) continue;
        int now = ++held;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --held;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(limiter.InFlight("r1"), 0);
}

TEST(StreamLimiter, CountsOpenStreamsAndIsFullAtTheLimit) {
  StreamLimiter limiter(2);
  EXPECT_FALSE(limiter.Full());
  std::optional<StreamLimiter::Slot> a;
  a.emplace(limiter);
  EXPECT_FALSE(limiter.Full());
  {
    StreamLimiter::Slot b(limiter);
    EXPECT_TRUE(limiter.Full());
    EXPECT_EQ(limiter.open(), 2);
  }
  EXPECT_FALSE(limiter.Full());
  a.reset();
  EXPECT_EQ(limiter.open(), 0);
}

TEST(StreamLimiter, ALimitOfZeroIsAlwaysFull) {
  StreamLimiter limiter(0);
  EXPECT_TRUE(limiter.Full());
}

}  // namespace
}  // namespace gw::api
