#include "poll/backoff.hpp"

#include <gtest/gtest.h>

#include <set>

namespace gw::poll {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyWithinJitterBoundsUpToMax) {
  Backoff b(milliseconds(100), milliseconds(1000), 7);
  const std::int64_t limits[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (auto limit : limits) {
    auto d = b.Next().count();
    EXPECT_GE(d, limit / 2);
    EXPECT_LE(d, limit);
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 100);
}

TEST(Backoff, JitterDiffersBetweenReaders) {
  std::set<std::int64_t> delays;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Backoff b(milliseconds(1000), milliseconds(60000), seed);
    for (int i = 0; i < 5; ++i) b.Next();
    delays.insert(b.Next().count());
  }
  EXPECT_GT(delays.size(), 10u);  // 20 readers failing together do not retry in lockstep
}

TEST(Backoff, SpreadStaysInsideThePeriod) {
  Backoff b(milliseconds(1), milliseconds(1), 3);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    auto s = b.Spread(milliseconds(500)).count();
    ASSERT_GE(s, 0);
    ASSERT_LT(s, 500);
    seen.insert(s / 100);
  }
  EXPECT_EQ(seen.size(), 5u);  // every fifth of the interval gets first polls
}

}  // namespace
}  // namespace gw::poll
