#include "common/log.hpp"

#include <gtest/gtest.h>

namespace gw::log {
namespace {

TEST(RateLimit, AllowsBurstThenCountsSuppressed) {
  RateLimit limit(2, std::chrono::seconds(3600));
  long suppressed = -1;
  EXPECT_TRUE(limit.Allow(suppressed));
  EXPECT_EQ(suppressed, 0);
  EXPECT_TRUE(limit.Allow(suppressed));
  EXPECT_FALSE(limit.Allow(suppressed));
  EXPECT_FALSE(limit.Allow(suppressed));
}

TEST(Level, ParsesNames) {
  Level level{};
  EXPECT_TRUE(ParseLevel("warn", level));
  EXPECT_EQ(level, Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud", level));
}

}  // namespace
}  // namespace gw::log
