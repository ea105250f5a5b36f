#include "common/log.hpp"

#include <gtest/gtest.h>

#include "common/identifier.hpp"
#include "common/log_escape.hpp"

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

TEST(Escape, EscapesEveryC0ByteDelAndInvalidUtf8) {
  std::string all_c0;
  for (int c = 0; c < 0x20; ++c) all_c0.push_back(static_cast<char>(c));
  auto escaped = Escape(all_c0 + "\x7f");
  for (char c : escaped) {
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
    EXPECT_NE(c, '\x7f');
  }
  EXPECT_EQ(Escape("a\tb\x1b[31m\r\n"), "a\\x09b\\x1b[31m\\x0d\\x0a");
  // Valid UTF-8 passes; a lone continuation byte, an overlong form and a surrogate do not.
  EXPECT_EQ(Escape("T\xc3\xbcr \xe2\x82\xac"), "T\xc3\xbcr \xe2\x82\xac");
  EXPECT_EQ(Escape("\x80"), "\\x80");
  EXPECT_EQ(Escape("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(Escape("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(Escape("\xe2\x82"), "\\xe2\\x82");  // truncated sequence
}

TEST(Cut, ValuesAreCutAt256BytesOnACharacterBoundary) {
  EXPECT_EQ(Cut(std::string(256, 'a')), std::string(256, 'a'));
  auto cut = Cut(std::string(1000, 'a'));
  EXPECT_EQ(cut, std::string(256, 'a') + "...(+744 bytes)");
  std::string euros;
  for (int i = 0; i < 100; ++i) euros += "\xe2\x82\xac";  // 300 bytes, 3 per character
  auto c = Cut(euros);
  EXPECT_EQ(c.substr(0, 255), euros.substr(0, 255));
  EXPECT_EQ(c.substr(255, 4), "...(");
}

TEST(Identifier, AcceptsTheCharacterSetAndRefusesDotsSpacesAndLength) {
  EXPECT_TRUE(ValidIdentifier("lobby-1"));
  EXPECT_TRUE(ValidIdentifier("a.b_c-D9"));
  EXPECT_TRUE(ValidIdentifier("..."));
  EXPECT_TRUE(ValidIdentifier(std::string(64, 'x')));
  EXPECT_FALSE(ValidIdentifier(std::string(65, 'x')));
  EXPECT_FALSE(ValidIdentifier(""));
  EXPECT_FALSE(ValidIdentifier("."));
  EXPECT_FALSE(ValidIdentifier(".."));
  EXPECT_FALSE(ValidIdentifier("a b"));
  EXPECT_FALSE(ValidIdentifier("a/b"));
  EXPECT_FALSE(ValidIdentifier("a\nb"));
  EXPECT_FALSE(ValidIdentifier("caf\xc3\xa9"));
}

}  // namespace
}  // namespace gw::log
