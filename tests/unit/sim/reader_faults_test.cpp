// Faults (reboot, stolen lock, log wipe, clock skew), generation and determinism.
#include <gtest/gtest.h>

#include "sim_test_support.hpp"

namespace {

using simtest::Json;

class ReaderFaults : public simtest::ReaderTest {};

TEST_F(ReaderFaults, RebootClearsMatchBufferAndLockButKeepsLogs) {
  for (int i = 0; i < 3; ++i) reader_->GenerateRecognition();
  ASSERT_EQ(Do("POST", "/camera", "", R"({"camera_mode":"Slave","audio_enabled":true})").status,
            200);
  ASSERT_EQ(Do("POST", "/camera/control/start", "face_mode=true").status, 200);
  reader_->Reboot();
  auto stats = reader_->GetStats();
  EXPECT_FALSE(stats.locked);
  EXPECT_EQ(stats.match_pending, 0u);
  EXPECT_EQ(stats.log_count, 3);
  EXPECT_EQ(Do("GET", "/logs").status, 501);  // the old lock is gone
  lock_ = simtest::TakeLock(*reader_);
  EXPECT_EQ(Json(Do("GET", "/logs")).at("total").as_int64(), 3);
  EXPECT_EQ(Json(Do("GET", "/camera/control")).at("status").as_string(), "Not capturing");
  EXPECT_EQ(Json(Do("GET", "/biometric-data")).at("total").as_int64(), 0);
}

TEST_F(ReaderFaults, StolenLockMakesOurUidStaleAndPostConflict) {
  reader_->StealLock();
  EXPECT_TRUE(reader_->GetStats().locked);
  EXPECT_EQ(Do("GET", "/config/door-status").status, 501);
  EXPECT_EQ(simtest::Call(*reader_, "POST", "/1.0/lock").status, 409);
  auto taken = simtest::Call(*reader_, "PUT", "/1.0/lock");
  ASSERT_EQ(taken.status, 200);
  lock_ = std::string(Json(taken).at("lock_uid").as_string());
  EXPECT_EQ(Do("GET", "/config/door-status").status, 200);
}

TEST_F(ReaderFaults, WipeRestartsIdsAndBumpsTheEpoch) {
  for (int i = 0; i < 4; ++i) reader_->GenerateRecognition();
  reader_->WipeLogs();
  EXPECT_EQ(reader_->GetStats().log_count, 0);
  EXPECT_EQ(reader_->GetStats().last_log_id, 0);
  reader_->GenerateRecognition();
  const auto& generated = reader_->Generated();
  ASSERT_EQ(generated.size(), 5u);
  EXPECT_EQ(generated[3].log_id, 4);
  EXPECT_EQ(generated[3].log_epoch, 0);
  EXPECT_EQ(generated[4].log_id, 1);
  EXPECT_EQ(generated[4].log_epoch, 1);
  EXPECT_EQ(reader_->GetStats().recognitions_generated, 5u);
}

TEST_F(ReaderFaults, ClockSkewShiftsTimestamps) {
  reader_->SetClockSkew(std::chrono::seconds(-3600));
  reader_->GenerateRecognition();
  EXPECT_EQ(reader_->Generated().back().timestamp, "2026-01-15T09:00:00Z");
  EXPECT_EQ(reader_->GetStats().clock_skew_s, -3600);
  auto log = Json(Do("GET", "/logs/1"));
  EXPECT_EQ(log.at("timestamp").as_string(), "2026-01-15T09:00:00Z");
}

TEST_F(ReaderFaults, EnrollAddsAUserWithAllPartsAndALog) {
  std::size_t before = reader_->GetStats().users;
  std::string uuid = reader_->Enroll();
  ASSERT_FALSE(uuid.empty());
  EXPECT_EQ(reader_->GetStats().users, before + 1);
  EXPECT_EQ(Do("GET", "/subjects/" + uuid).status, 200);
  EXPECT_EQ(Do("GET", "/user-info/uuid/" + uuid).status, 200);
  EXPECT_EQ(Do("GET", "/faces/" + uuid).status, 200);
  EXPECT_EQ(reader_->Generated().back().info, "AddUsers");
  EXPECT_EQ(reader_->Generated().back().user_uuid, uuid);
}

TEST(ReaderPreenrolment, StartsWithFiveUsersAndNoLogs) {
  ef45sim::Reader reader(simtest::TestIdentity(), 9);
  EXPECT_EQ(reader.GetStats().users, 5u);
  EXPECT_EQ(reader.GetStats().log_count, 0);
  EXPECT_TRUE(reader.Generated().empty());
}

std::vector<std::string> Transcript(std::uint64_t seed, int index) {
  simtest::FakeClock clock;
  ef45sim::ReaderOptions options;
  options.clock = clock.Fn();
  ef45sim::Reader reader(simtest::TestIdentity(index), seed, options);
  for (int i = 0; i < 30; ++i) {
    reader.GenerateRecognition();
    if (i % 7 == 0) reader.GenerateDoorChange();
    if (i % 10 == 0) reader.Enroll();
    clock.Advance(std::chrono::seconds(1));
  }
  std::vector<std::string> out;
  for (const auto& event : reader.Generated()) {
    out.push_back(std::to_string(event.log_id) + "|" + event.info + "|" + event.additional_data +
                  "|" + event.user_uuid + "|" + event.timestamp + "|" + event.encounter_id);
  }
  std::string lock = simtest::TakeLock(reader);
  out.push_back(
      reader.Handle({"GET", "/1.0/match-data?lock_uid=" + lock + "&page_size=100", ""}).body);
  out.push_back(reader.Handle({"GET", "/1.0/config/door-status?lock_uid=" + lock, ""}).body);
  return out;
}

TEST(ReaderDeterminism, SameSeedSameEvents) {
  auto a = Transcript(1234, 0);
  auto b = Transcript(1234, 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, Transcript(1235, 0));
  // One fleet seed still gives different readers.
  EXPECT_NE(a, Transcript(1234, 1));
}

}  // namespace
