// The pure decisions of a staged firmware rollout (lib/fleet/rollout.hpp): waves, when a wave
// starts, when the rollout halts or completes, and the health gate of one reader.
#include "fleet/rollout.hpp"

#include <gtest/gtest.h>

namespace gw::fleet {
namespace {

using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

store::RolloutRow Rollout(int wave, int max_failures) {
  store::RolloutRow r;
  r.wave = wave;
  r.max_failures = max_failures;
  return r;
}

/// Readers r0..r(n-1) with the waves of canary 1, batch 3 and the given steps.
std::vector<store::RolloutReaderRow> Readers(const std::vector<std::string>& steps) {
  auto waves = AssignWaves(steps.size(), 1, 3);
  std::vector<store::RolloutReaderRow> out;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    store::RolloutReaderRow r;
    r.device_id = "r" + std::to_string(i);
    r.position = static_cast<int>(i);
    r.wave = waves[i];
    r.step = steps[i];
    out.push_back(r);
  }
  return out;
}

TEST(RolloutWaves, CanaryFirstThenBatches) {
  EXPECT_EQ(AssignWaves(10, 1, 3), (std::vector<int>{0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(AssignWaves(5, 2, 2), (std::vector<int>{0, 0, 1, 1, 2}));
  // No canary: the first batch is wave 1 (wave 0 is empty and skipped).
  EXPECT_EQ(AssignWaves(4, 0, 3), (std::vector<int>{1, 1, 1, 2}));
  // A canary larger than the fleet: everything is canary.
  EXPECT_EQ(AssignWaves(3, 5, 1), (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(AssignWaves(0, 1, 3).empty());
}

TEST(RolloutPlan, StartsTheCanaryAlone) {
  auto readers = Readers(std::vector<std::string>(10, "pending"));
  auto a = PlanAdvance(Rollout(0, 0), readers);
  EXPECT_EQ(a.start, (std::vector<std::string>{"r0"}));
  EXPECT_FALSE(a.state);
  EXPECT_FALSE(a.wave);
}

TEST(RolloutPlan, WaitsWhileAWaveIsInFlight) {
  auto readers = Readers({"verifying", "pending", "pending", "pending"});
  auto a = PlanAdvance(Rollout(0, 0), readers);
  EXPECT_TRUE(a.start.empty());
  EXPECT_FALSE(a.wave);
  EXPECT_FALSE(a.state);
  readers[0].step = "installing";
  EXPECT_TRUE(PlanAdvance(Rollout(0, 0), readers).start.empty());
}

TEST(RolloutPlan, NextBatchStartsOnceTheWaveIsDone) {
  auto readers = Readers({"done", "pending", "pending", "pending", "pending"});
  auto a = PlanAdvance(Rollout(0, 0), readers);
  EXPECT_EQ(a.wave, 1);
  EXPECT_EQ(a.start, (std::vector<std::string>{"r1", "r2", "r3"}));
  EXPECT_FALSE(a.state);
}

TEST(RolloutPlan, ResumedWaveRestartsItsPendingReaders) {
  // Paused (or restarted) in wave 1: two readers went back to pending, one is done.
  auto readers = Readers({"done", "done", "pending", "pending", "pending"});
  auto a = PlanAdvance(Rollout(1, 0), readers);
  EXPECT_EQ(a.start, (std::vector<std::string>{"r2", "r3"}));
  EXPECT_FALSE(a.wave);
}

TEST(RolloutPlan, HaltsWhenFailuresExceedMaxFailures) {
  auto readers = Readers({"done", "done", "failed", "verifying", "pending"});
  auto a = PlanAdvance(Rollout(1, 0), readers);
  EXPECT_EQ(a.state, "halted");
  EXPECT_TRUE(a.start.empty());
  EXPECT_NE(a.reason.find("exceed max_failures (0)"), std::string::npos) << a.reason;
}

TEST(RolloutPlan, FailuresUpToMaxFailuresGoOn) {
  auto readers = Readers({"done", "done", "failed", "done", "pending"});
  auto a = PlanAdvance(Rollout(1, 1), readers);
  EXPECT_FALSE(a.state);
  EXPECT_EQ(a.wave, 2);
  EXPECT_EQ(a.start, (std::vector<std::string>{"r4"}));
}

TEST(RolloutPlan, CompletesWhenEveryWaveIsFinished) {
  auto readers = Readers({"done", "done", "failed", "done"});
  auto a = PlanAdvance(Rollout(1, 1), readers);
  EXPECT_EQ(a.state, "completed");
  EXPECT_EQ(a.reason, "3 of 4 readers upgraded");
}

TEST(RolloutVerify, DoneOnlyWhenUpWithTheExpectedVersion) {
  const auto now = Clock::now();
  const auto deadline = now + 10s;
  EXPECT_EQ(Verify({true, "2.0.0"}, "2.0.0", now, deadline), Verdict::kDone);
  EXPECT_EQ(Verify({true, "1.2.34"}, "2.0.0", now, deadline), Verdict::kWait);
  EXPECT_EQ(Verify({false, "2.0.0"}, "2.0.0", now, deadline), Verdict::kWait);
  EXPECT_EQ(Verify({true, std::nullopt}, "2.0.0", now, deadline), Verdict::kWait);
  // The health window is over: failed, unless it made it.
  EXPECT_EQ(Verify({true, "1.2.34"}, "2.0.0", deadline + 1s, deadline), Verdict::kFailed);
  EXPECT_EQ(Verify({false, std::nullopt}, "2.0.0", deadline + 1s, deadline), Verdict::kFailed);
  EXPECT_EQ(Verify({true, "2.0.0"}, "2.0.0", deadline + 1s, deadline), Verdict::kDone);
}

TEST(RolloutVersionLabel, Rules) {
  EXPECT_TRUE(ValidVersionLabel("2.0.0"));
  EXPECT_TRUE(ValidVersionLabel("umx-0.1.81+rc_1"));
  EXPECT_FALSE(ValidVersionLabel(""));
  EXPECT_FALSE(ValidVersionLabel("1 2"));
  EXPECT_FALSE(ValidVersionLabel("a/b"));
  EXPECT_FALSE(ValidVersionLabel(std::string(65, '1')));
}

}  // namespace
}  // namespace gw::fleet
