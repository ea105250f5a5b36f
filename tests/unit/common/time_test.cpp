#include "common/time.hpp"

#include <gtest/gtest.h>

namespace gw {
namespace {

using namespace std::chrono;

TEST(Time, ParsesReaderTimestamps) {
  auto t = ParseIso8601("2018-05-28T14:26:26Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(duration_cast<seconds>(t->time_since_epoch()).count(), 1527517586);
  EXPECT_EQ(FormatIso8601(*t), "2018-05-28T14:26:26Z");
}

TEST(Time, ParsesFractionsAndOffsets) {
  auto t = ParseIso8601("2018-05-28T16:26:26.5+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatIso8601(*t), "2018-05-28T14:26:26.500000Z");
  EXPECT_TRUE(ParseIso8601("2018-05-28T14:26:26"));  // no offset: UTC
}

TEST(Time, RejectsMalformedTimestamps) {
  for (const char* bad : {"", "2018-05-28", "2018-13-01T00:00:00Z", "2018-02-30T00:00:00Z",
                          "2018-05-28T25:00:00Z", "2018-05-28T14:26:26Zjunk",
                          "2018-05-28T14:26:26.Z", "yesterday", "2018-05-28T14:26:26+2:00"}) {
    EXPECT_FALSE(ParseIso8601(bad)) << bad;
  }
}

TEST(Time, ParsesHttpDate) {
  auto t = ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(t);
  EXPECT_EQ(duration_cast<seconds>(t->time_since_epoch()).count(), 784111777);
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 CET"));
  EXPECT_FALSE(ParseHttpDate("garbage"));
}

}  // namespace
}  // namespace gw
