#include "webhook/target.hpp"

#include <gtest/gtest.h>

namespace gw::webhook {
namespace {

Url Parse(const std::string& text) {
  std::string why;
  auto url = ParseUrl(text, why);
  EXPECT_TRUE(url) << text << ": " << why;
  return url.value_or(Url{});
}

bool Refused(const std::string& text) {
  std::string why;
  return !ParseUrl(text, why).has_value();
}

TEST(WebhookUrl, ParsesHostPortAndTarget) {
  auto u = Parse("http://Hooks.Example.com:8080/in/ef45?x=1");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "hooks.example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/in/ef45?x=1");
  EXPECT_EQ(Parse("https://h").port, 443);
  EXPECT_EQ(Parse("http://h").target, "/");
  EXPECT_EQ(Parse("http://h?q").target, "/?q");
  auto v6 = Parse("http://[::1]:9/x");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.HostPort(), "[::1]:9");
}

TEST(WebhookUrl, RefusesWhatIsNotAPlainHttpUrl) {
  EXPECT_TRUE(Refused("ftp://h/"));
  EXPECT_TRUE(Refused("h/x"));
  EXPECT_TRUE(Refused("http://user:pw@h/"));
  EXPECT_TRUE(Refused("http:///x"));
  EXPECT_TRUE(Refused("http://h:0/"));
  EXPECT_TRUE(Refused("http://h:70000/"));
  EXPECT_TRUE(Refused("http://h/x#frag"));
  EXPECT_TRUE(Refused("http://h x/"));
  EXPECT_TRUE(Refused("http://[::1/"));
}

TEST(WebhookAllowList, EmptyAllowsNothing) {
  std::string why;
  auto list = AllowList::Parse({}, why);
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->Refusal(Parse("http://127.0.0.1/")));
  EXPECT_TRUE(list->Refusal(Parse("http://hooks.example.com/")));
}

TEST(WebhookAllowList, CidrsAndNames) {
  std::string why;
  auto list = AllowList::Parse(
      {"10.1.0.0/16", "192.168.5.7", "fd00::/8", "hooks.example.com", "*.siem.example.net"}, why);
  ASSERT_TRUE(list) << why;
  auto addr = [](const char* a) { return boost::asio::ip::make_address(a); };
  EXPECT_TRUE(list->AllowsAddress(addr("10.1.200.3")));
  EXPECT_FALSE(list->AllowsAddress(addr("10.2.0.1")));
  EXPECT_TRUE(list->AllowsAddress(addr("192.168.5.7")));
  EXPECT_FALSE(list->AllowsAddress(addr("192.168.5.8")));
  EXPECT_TRUE(list->AllowsAddress(addr("fd12::1")));
  EXPECT_TRUE(list->AllowsAddress(addr("::ffff:10.1.0.1")));
  EXPECT_FALSE(list->AllowsAddress(addr("169.254.169.254")));
  EXPECT_TRUE(list->AllowsName("HOOKS.example.com"));
  EXPECT_TRUE(list->AllowsName("a.siem.example.net"));
  EXPECT_FALSE(list->AllowsName("siem.example.net.evil"));
  EXPECT_FALSE(list->AllowsName("evilsiem.example.net"));
  EXPECT_FALSE(list->Refusal(Parse("http://10.1.2.3:8080/")));
  EXPECT_TRUE(list->Refusal(Parse("http://127.0.0.1/")));
  // A name not listed is checked at each connection against the CIDRs (there are some).
  EXPECT_FALSE(list->Refusal(Parse("http://other.example.org/")));
}

TEST(WebhookAllowList, NamesOnlyRefuseOtherNamesAtCreation) {
  std::string why;
  auto list = AllowList::Parse({"hooks.example.com"}, why);
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->Refusal(Parse("http://hooks.example.com/")));
  EXPECT_TRUE(list->Refusal(Parse("http://other.example.com/")));
  EXPECT_TRUE(list->Refusal(Parse("http://10.0.0.1/")));
}

TEST(WebhookAllowList, BadEntriesAreNamed) {
  std::string why;
  EXPECT_FALSE(AllowList::Parse({"10.0.0.0/40"}, why));
  EXPECT_NE(why.find("10.0.0.0/40"), std::string::npos);
  EXPECT_FALSE(AllowList::Parse({"http://x"}, why));
}

}  // namespace
}  // namespace gw::webhook
