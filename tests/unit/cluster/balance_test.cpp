#include "cluster/balance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "store/leases.hpp"

namespace gw::cluster {
namespace {

std::vector<store::HeldLease> Held(int n) {
  std::vector<store::HeldLease> out;
  for (int i = 0; i < n; ++i) out.push_back({"r" + std::to_string(i), 3});
  return out;
}

std::vector<std::string> Ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("r" + std::to_string(i));
  return out;
}

TEST(FairShare, IsTheCeilingOfReadersPerLiveNode) {
  EXPECT_EQ(store::FairShare(40, 2), 20);
  EXPECT_EQ(store::FairShare(40, 3), 14);
  EXPECT_EQ(store::FairShare(1, 3), 1);
  EXPECT_EQ(store::FairShare(0, 3), 0);
  EXPECT_EQ(store::FairShare(7, 0), 7);  // no live node seen yet counts as this one
}

TEST(PlanOwnership, ReleasesUnconfiguredReadersAndTheExcessAboveTheShare) {
  auto plan = PlanOwnership(Held(8), Ids(7), 4, "a");  // r7 removed from the config
  EXPECT_EQ(plan.keep.size(), 4u);
  ASSERT_EQ(plan.release.size(), 4u);
  EXPECT_TRUE(std::any_of(plan.release.begin(), plan.release.end(),
                          [](const auto& l) { return l.device_id == "r7"; }));
  std::set<std::string> all;
  for (const auto& l : plan.keep) all.insert(l.device_id);
  for (const auto& l : plan.release) all.insert(l.device_id);
  EXPECT_EQ(all.size(), 8u) << "every held lease is either kept or released";
}

TEST(PlanOwnership, IsStableAcrossRounds) {
  auto first = PlanOwnership(Held(10), Ids(10), 6, "a");
  auto again = PlanOwnership(Held(10), Ids(10), 6, "a");
  EXPECT_EQ(first.release, again.release);
  EXPECT_EQ(first.keep, again.keep);
  // Another node would pick differently: two nodes above their share do not release the same
  // readers in the same order.
  auto other = PlanOwnership(Held(10), Ids(10), 6, "b");
  EXPECT_EQ(other.keep.size(), 6u);
}

TEST(PlanOwnership, KeepsEverythingConfiguredAtOrBelowTheShare) {
  auto plan = PlanOwnership(Held(5), Ids(5), 5, "a");
  EXPECT_EQ(plan.keep.size(), 5u);
  EXPECT_TRUE(plan.release.empty());
  auto none = PlanOwnership(Held(3), Ids(5), 0, "a");
  EXPECT_TRUE(none.keep.empty());
  EXPECT_EQ(none.release.size(), 3u);
}

}  // namespace
}  // namespace gw::cluster
