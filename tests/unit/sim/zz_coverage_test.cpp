// Proof of coverage: every (method, path) of shared/ef45/openapi.yaml was exercised by some
// test above and answered by a handler (not 501, not 405). This file is linked last and its
// test registered last, so it runs after the conformance tests.
#include <gtest/gtest.h>

#include "sim_test_support.hpp"

namespace {

TEST(OpenapiCoverage, SpecListsEightyOneOperations) {
  EXPECT_EQ(simtest::OpenapiOperations().size(), 81u);
}

TEST(OpenapiCoverage, ZzEveryOperationHasAConformanceTest) {
  const auto* unit = ::testing::UnitTest::GetInstance();
  if (unit->test_to_run_count() != unit->total_test_count() || GTEST_FLAG_GET(shuffle)) {
    GTEST_SKIP() << "needs the whole suite, in order";
  }
  std::vector<std::string> missing;
  for (const auto& operation : simtest::OpenapiOperations()) {
    if (!simtest::Covered().count(operation)) {
      missing.push_back(operation.first + " " + operation.second);
    }
  }
  EXPECT_TRUE(missing.empty()) << [&] {
    std::string text = "not covered:";
    for (const auto& m : missing) text += "\n  " + m;
    return text;
  }();
}

}  // namespace
