#include "sync/import_rule.hpp"

#include <gtest/gtest.h>

#include "sync/error.hpp"
#include "sync/status.hpp"

namespace gw::sync {
namespace {

using std::chrono::seconds;

constexpr store::TimePoint kT0{std::chrono::seconds(1'700'000'000)};

store::UserSummary User(std::int64_t version, const std::string& digest,
                        store::TimePoint updated_at, bool deleted = false) {
  store::UserSummary u;
  u.user_uuid = "u";
  u.version = version;
  u.deleted = deleted;
  u.digest = digest;
  u.digest_no_templates = digest + "-bare";
  u.updated_at = updated_at;
  return u;
}

store::DeviceUserState State(SyncStatus status, std::optional<std::int64_t> version,
                             std::optional<std::string> digest = std::nullopt) {
  store::DeviceUserState s;
  s.user_uuid = "u";
  s.device_id = "r1";
  s.status = status;
  s.applied_version = version;
  s.applied_digest = std::move(digest);
  return s;
}

TEST(ImportRule, ReaderHoldingTheRecordedCurrentVersionIsInSync) {
  auto user = User(3, "d3", kT0);
  auto state = State(SyncStatus::kApplied, 3, "d3");
  auto d = DecideImport(&user, &state, "d3", kT0 + seconds(10), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kInSync);
  EXPECT_FALSE(d.record_applied);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, ReaderHoldingTheCurrentVersionUnrecordedIsRecordedAsApplied) {
  auto user = User(3, "d3", kT0);
  auto failed = State(SyncStatus::kFailed, 2, "d2");
  for (const store::DeviceUserState* state :
       {static_cast<const store::DeviceUserState*>(nullptr),
        static_cast<const store::DeviceUserState*>(&failed)}) {
    auto d = DecideImport(&user, state, "d3", kT0 + seconds(10), ReaderView{});
    EXPECT_EQ(d.verdict, ImportVerdict::kInSync);
    EXPECT_TRUE(d.record_applied);
    EXPECT_FALSE(d.conflict);
  }
}

TEST(ImportRule, TheExpectedDigestFollowsTheReadersRecordVersion) {
  auto user = User(3, "d3", kT0);
  user.record_version = 2;
  // The reader runs another algorithm version: it holds the record without templates.
  auto d = DecideImport(&user, nullptr, "d3-bare", kT0 + seconds(10), ReaderView{{}, 3});
  EXPECT_EQ(d.verdict, ImportVerdict::kInSync);
  d = DecideImport(&user, nullptr, "d3", kT0 + seconds(10), ReaderView{{}, 3});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
}

TEST(ImportRule, WhatTheGatewayPushedThereEarlierIsItsOwnEcho) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 3, "d3");
  auto d = DecideImport(&user, &state, "d3", kT0 + seconds(10), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kOwnEcho);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, AGatewayChangeAsNewOrNewerWinsATie) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 4, "d4");
  for (auto occurred : {kT0, kT0 - seconds(1)}) {
    auto d = DecideImport(&user, &state, "reader-edit", occurred, ReaderView{});
    EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins);
    EXPECT_TRUE(d.conflict);
    EXPECT_FALSE(d.record_applied);
  }
}

TEST(ImportRule, ANewerReaderChangeWinsAndIsAConflictOnlyWhenAGatewayVersionIsLost) {
  auto user = User(4, "d4", kT0);
  auto caught_up = State(SyncStatus::kApplied, 4, "d4");
  auto d = DecideImport(&user, &caught_up, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_FALSE(d.conflict);  // the reader had the gateway's version: nothing of ours is lost

  auto behind = State(SyncStatus::kApplied, 3, "d3");
  d = DecideImport(&user, &behind, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_TRUE(d.conflict);  // version 4 never reached this reader

  d = DecideImport(&user, nullptr, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_TRUE(d.conflict);
}

TEST(ImportRule, AUserNewToTheGatewayIsImportedWithoutConflict) {
  auto d = DecideImport(nullptr, nullptr, "reader-edit", kT0, ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, ATombstoneIsNeverInSyncAndLosesToANewerReaderChangeWithoutConflict) {
  auto tomb = User(5, "d5", kT0, /*deleted=*/true);
  auto d = DecideImport(&tomb, nullptr, "d5", kT0 - seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins);
  d = DecideImport(&tomb, nullptr, "d5", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, VerdictNamesRoundTripAndAreTheStoredConflictKinds) {
  EXPECT_EQ(ImportVerdictName(ImportVerdict::kGatewayWins), "GatewayWins");
  EXPECT_EQ(ImportVerdictName(ImportVerdict::kReaderWins), "ReaderWins");
  for (auto v : {ImportVerdict::kInSync, ImportVerdict::kOwnEcho, ImportVerdict::kGatewayWins,
                 ImportVerdict::kReaderWins}) {
    EXPECT_EQ(ParseImportVerdict(ImportVerdictName(v)), v);
  }
  EXPECT_FALSE(ParseImportVerdict("gatewaywins"));
}

TEST(SyncStatus, NamesAreTheStoredTextAndRoundTrip) {
  EXPECT_EQ(SyncStatusName(SyncStatus::kPending), "pending");
  EXPECT_EQ(SyncStatusName(SyncStatus::kApplied), "applied");
  EXPECT_EQ(SyncStatusName(SyncStatus::kFailed), "failed");
  for (auto s : {SyncStatus::kPending, SyncStatus::kApplied, SyncStatus::kFailed}) {
    EXPECT_EQ(ParseSyncStatus(SyncStatusName(s)), s);
  }
  EXPECT_FALSE(ParseSyncStatus(""));
}

TEST(SyncError, DescribesEachSourceAsTheStatusRowsAlwaysHave) {
  EXPECT_EQ(Describe(DatabaseError(make_error_code(Errc::kDbUnavailable))),
            "database: db_unavailable");
  auto reader = ReaderError(ef45::MakeError(Errc::kHttpStatus, "PUT /subjects", 500));
  EXPECT_EQ(Describe(reader), "http_status 500: PUT /subjects");
  EXPECT_FALSE(reader.IsUnanswered());
  EXPECT_EQ(Describe(Prefixed(ReaderError(ef45::MakeError(Errc::kTimeout, ""), "adding face 2"),
                              "not attempted")),
            "not attempted: adding face 2: timeout");
  EXPECT_TRUE(ReaderError(ef45::MakeError(Errc::kTimeout, "")).IsUnanswered());
  EXPECT_TRUE(ReaderError(ef45::MakeError(Errc::kHttpStatus, "", 404)).IsNotFound());
  auto own = SyncError(Errc::kCancelled, "stopping");
  EXPECT_EQ(Describe(own), "stopping");
  EXPECT_FALSE(own.IsUnanswered());
}

TEST(SyncError, OnlyAnHttpStatusOrAMalformedBodyIsAnAnswerFromTheReader) {
  for (int v = 0; v <= static_cast<int>(Errc::kQueueFull); ++v) {
    const Errc e = static_cast<Errc>(v);
    if (e == Errc::kOk) continue;
    const auto reader = ReaderError(ef45::MakeError(e, ""));
    const bool answer = e == Errc::kHttpStatus || e == Errc::kBadResponse;
    EXPECT_EQ(reader.IsUnanswered(), !answer) << ReasonName(e);
    EXPECT_TRUE(!IsTransport(e) || reader.IsUnanswered()) << ReasonName(e);
    EXPECT_FALSE(DatabaseError(make_error_code(e)).IsUnanswered()) << ReasonName(e);
    EXPECT_FALSE(SyncError(e, "x").IsUnanswered()) << ReasonName(e);
  }
  // Where sync and the pollers part: a body over its limit leaves the user's part unknown here.
  EXPECT_FALSE(IsTransport(Errc::kTooLarge));
  EXPECT_TRUE(ReaderError(ef45::MakeError(Errc::kTooLarge, "")).IsUnanswered());
}

}  // namespace
}  // namespace gw::sync
