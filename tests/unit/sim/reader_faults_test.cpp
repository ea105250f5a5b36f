// Faults (reboot, stolen lock, log wipe, clock skew), generation and determinism.
#include <gtest/gtest.h>

#include "ef45/client.hpp"
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

TEST_F(ReaderFaults, PoisonNulPutsANulIntoInfoOfTheNextRecognitionOnly) {
  reader_->PoisonNextLog(ef45sim::LogDefect::kNul);
  reader_->GenerateRecognition();
  reader_->GenerateRecognition();
  std::string first(Json(Do("GET", "/logs/1")).at("info").as_string());
  std::string second(Json(Do("GET", "/logs/2")).at("info").as_string());
  EXPECT_NE(first.find('\0'), std::string::npos);
  EXPECT_EQ(second.find('\0'), std::string::npos);
  const auto& generated = reader_->Generated();
  ASSERT_EQ(generated.size(), 2u);
  EXPECT_EQ(generated[0].defect, ef45sim::LogDefect::kNul);
  EXPECT_EQ(generated[0].info, first);
  EXPECT_EQ(generated[1].defect, ef45sim::LogDefect::kNone);
  EXPECT_EQ(reader_->GetStats().recognitions_generated, 2u);
}

TEST_F(ReaderFaults, PoisonYear0WritesTimestampYearZero) {
  reader_->PoisonNextLog(ef45sim::LogDefect::kYear0);
  reader_->GenerateRecognition();
  reader_->GenerateRecognition();
  auto page = Json(Do("GET", "/logs/from/to", "min=1&max=2"));
  const auto& items = page.at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("timestamp").as_string(), "0000-01-01 00:00:00");
  EXPECT_EQ(items[1].at("timestamp").as_string(), "2026-01-15T10:00:00Z");
  EXPECT_EQ(reader_->Generated()[0].timestamp, "0000-01-01 00:00:00");
}

TEST_F(ReaderFaults, PoisonHugeMakesEveryPageHoldingTheEntryExceedTheClientsPageLimit) {
  // GET /logs/from/to is BodyClass::kPage in the gateway's client (lib/ef45/operations.cpp).
  const std::size_t limit = gw::ef45::ClientOptions{}.page_body_limit;
  for (int i = 0; i < 200; ++i) reader_->GenerateRecognition();
  reader_->PoisonNextLog(ef45sim::LogDefect::kHuge);
  for (int i = 0; i < 300; ++i) reader_->GenerateRecognition();
  auto page = Do("GET", "/logs/from/to", "min=1&max=500&page_size=500");
  ASSERT_EQ(page.status, 200);
  EXPECT_GT(page.body.size(), limit);
  auto one = Do("GET", "/logs/from/to", "min=201&max=201&page_size=500");
  EXPECT_GT(one.body.size(), limit);
  EXPECT_EQ(Json(one).at("items").as_array().size(), 1u);
  auto before = Do("GET", "/logs/from/to", "min=1&max=200&page_size=500");
  EXPECT_LT(before.body.size(), std::size_t{1} << 20);
  EXPECT_EQ(reader_->Generated()[200].defect, ef45sim::LogDefect::kHuge);
  EXPECT_EQ(reader_->GetStats().recognitions_generated, 500u);
}

TEST_F(ReaderFaults, SkipLogIdsMakesTheNextIdJump) {
  reader_->GenerateRecognition();
  reader_->SkipLogIds(1000);
  reader_->GenerateRecognition();
  reader_->GenerateRecognition();
  const auto& generated = reader_->Generated();
  ASSERT_EQ(generated.size(), 3u);
  EXPECT_EQ(generated[1].log_id, 1002);
  EXPECT_EQ(generated[2].log_id, 1003);
}

TEST_F(ReaderFaults, PhantomNewestIsReportedOnceByTheDescendingList) {
  reader_->GenerateRecognition();
  reader_->ReportPhantomNewest(1'000'000'000'000);
  EXPECT_TRUE(reader_->GetStats().phantom_newest_pending);
  auto newest = [&] {
    auto page = Json(Do("GET", "/logs", "order=desc&page=1&page_size=1"));
    return page.at("items").as_array().at(0).at("id").as_int64();
  };
  EXPECT_EQ(newest(), 1'000'000'000'000);
  EXPECT_FALSE(reader_->GetStats().phantom_newest_pending);
  EXPECT_EQ(newest(), 1);
  EXPECT_EQ(reader_->Generated().size(), 1u);
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
