#include "poll/reader_health.hpp"

#include <gtest/gtest.h>

namespace gw::poll {
namespace {

const auto kT0 = ReaderHealth::Clock::time_point(std::chrono::seconds(1'700'000'000));

TEST(ReaderHealth, StartsDownUntilFirstSuccess) {
  ReaderHealth h;
  EXPECT_EQ(h.state(), ReaderState::kDown);
  EXPECT_EQ(h.reason(), "starting");
  EXPECT_TRUE(h.RecordSuccess(PollKind::kDoor, kT0));
  EXPECT_EQ(h.state(), ReaderState::kUp);
  EXPECT_EQ(h.reason(), "");
  EXPECT_EQ(h.last_success(), kT0);
}

TEST(ReaderHealth, DegradesThenGoesDownAfterConsecutiveFailures) {
  ReaderHealth h(3);
  h.RecordSuccess(PollKind::kDoor, kT0);
  EXPECT_TRUE(h.RecordFailure(PollKind::kDoor, "timeout", kT0));
  EXPECT_EQ(h.state(), ReaderState::kDegraded);
  EXPECT_EQ(h.reason(), "timeout");
  EXPECT_FALSE(h.RecordFailure(PollKind::kMatch, "timeout", kT0));
  EXPECT_TRUE(h.RecordFailure(PollKind::kLogs, "refused", kT0));
  EXPECT_EQ(h.state(), ReaderState::kDown);
  EXPECT_EQ(h.reason(), "refused");
  EXPECT_EQ(h.errors(PollKind::kDoor), 1u);
}

TEST(ReaderHealth, OneKindFailingWhileOthersWorkIsDegraded) {
  ReaderHealth h;
  h.RecordFailure(PollKind::kLogs, "bad_response", kT0);
  h.RecordSuccess(PollKind::kDoor, kT0);
  EXPECT_EQ(h.state(), ReaderState::kDegraded);
  EXPECT_EQ(h.reason(), "bad_response");
  h.RecordSuccess(PollKind::kLogs, kT0);
  EXPECT_EQ(h.state(), ReaderState::kUp);
}

TEST(ReaderHealth, NoSessionIsDownAtOnce) {
  ReaderHealth h;
  h.RecordSuccess(PollKind::kDoor, kT0);
  h.RecordFailure(PollKind::kSession, "lock_conflict", kT0);
  EXPECT_EQ(h.state(), ReaderState::kDown);
  EXPECT_EQ(h.reason(), "lock_conflict");
}

TEST(ReaderHealth, ASuccessfulPollEndsALockConflict) {
  ReaderHealth h;
  h.RecordSuccess(PollKind::kDoor, kT0);
  h.RecordFailure(PollKind::kSession, "lock_conflict", kT0);
  ASSERT_EQ(h.state(), ReaderState::kDown);
  // The other client's lock went away and a door poll got through under our new lock.
  EXPECT_TRUE(h.RecordSuccess(PollKind::kDoor, kT0));
  EXPECT_EQ(h.state(), ReaderState::kUp);
  EXPECT_EQ(h.reason(), "");
}

TEST(ReaderHealth, StoppedIsDownWithItsReason) {
  ReaderHealth h;
  h.RecordSuccess(PollKind::kDoor, kT0);
  EXPECT_TRUE(h.MarkStopped("stopped"));
  EXPECT_EQ(h.state(), ReaderState::kDown);
  EXPECT_EQ(h.reason(), "stopped");
}

}  // namespace
}  // namespace gw::poll
