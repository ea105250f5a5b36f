// Linked last in ef45_client_test, so it runs after every round-trip test of the binary.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cctype>

#include "client_support.hpp"

namespace gw::ef45 {
namespace {

/// Fails when an operation of openapi.yaml never completed a round trip with the emulator
/// (a 2xx reply recorded by ClientOptions::on_exchange) in the tests that ran before.
TEST(ZzClientCoverage, EveryOpenApiOperationRoundTrippedAgainstTheEmulator) {
  if (::testing::GTEST_FLAG(filter) != "*") {
    GTEST_SKIP() << "coverage is only meaningful when every test of the binary runs";
  }
  YAML::Node spec = YAML::LoadFile(gw::test::SourceDir() + "/../shared/ef45/openapi.yaml");
  std::set<std::string> missing;
  int count = 0;
  for (const auto& path : spec["paths"]) {
    for (const auto& method : path.second) {
      std::string m = method.first.as<std::string>();
      if (m != "get" && m != "put" && m != "post" && m != "delete") continue;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string key = m + " " + path.first.as<std::string>();
      ++count;
      if (!test::RoundTripped().count(key)) missing.insert(key);
    }
  }
  EXPECT_EQ(count, 81);
  std::string list;
  for (const auto& key : missing) list += "\n  " + key;
  EXPECT_TRUE(missing.empty()) << missing.size() << " operation(s) without a round trip:" << list;
}

}  // namespace
}  // namespace gw::ef45
