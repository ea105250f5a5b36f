#include "webhook/dispatcher.hpp"

#include <gtest/gtest.h>

namespace gw::webhook {
namespace {

using std::chrono::milliseconds;

TEST(WebhookRetry, DoublesFromHalfASecondUpToTheCeilingWithJitter) {
  const auto max = milliseconds(300000);
  EXPECT_EQ(RetryDelay(1, max, 0.999999).count(), 499);
  EXPECT_EQ(RetryDelay(1, max, 0.0).count(), 250);
  EXPECT_EQ(RetryDelay(2, max, 0.999999).count(), 999);
  EXPECT_EQ(RetryDelay(4, max, 0.0).count(), 2000);
  EXPECT_EQ(RetryDelay(30, max, 0.999999).count(), 299999);
  EXPECT_EQ(RetryDelay(1000, max, 0.0).count(), 150000);
  EXPECT_LE(RetryDelay(3, milliseconds(1000), 0.999999).count(), 1000);
}

TEST(WebhookMessageId, IsStableAndNamesTheSeqRange) {
  EXPECT_EQ(MessageId(42, 42, false), "evt_42");
  EXPECT_EQ(MessageId(42, 50, false), "evt_42-50");
  EXPECT_EQ(MessageId(7, 7, true), "gap_7-7");
}

}  // namespace
}  // namespace gw::webhook
