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

/// A change at the reader whose log entry reached the gateway long after its own time (so the
/// reader's time decides), under `policy` (auto: the rule as it was before review existed).
ImportDecision Decide(const store::UserSummary* user, const store::DeviceUserState* state,
                      const std::string& print, store::TimePoint occurred, ReaderView view,
                      ImportPolicy policy = ImportPolicy::kAuto) {
  return DecideImport(user, state, ReaderChange{print, occurred, occurred + std::chrono::hours(2)},
                      view, policy);
}

TEST(ImportRule, ReaderHoldingTheRecordedCurrentVersionIsInSync) {
  auto user = User(3, "d3", kT0);
  auto state = State(SyncStatus::kApplied, 3, "d3");
  auto d = Decide(&user, &state, "d3", kT0 + seconds(10), ReaderView{});
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
    auto d = Decide(&user, state, "d3", kT0 + seconds(10), ReaderView{});
    EXPECT_EQ(d.verdict, ImportVerdict::kInSync);
    EXPECT_TRUE(d.record_applied);
    EXPECT_FALSE(d.conflict);
  }
}

TEST(ImportRule, TheExpectedDigestFollowsTheReadersRecordVersion) {
  auto user = User(3, "d3", kT0);
  user.record_version = 2;
  // The reader runs another algorithm version: it holds the record without templates.
  auto d = Decide(&user, nullptr, "d3-bare", kT0 + seconds(10), ReaderView{{}, 3});
  EXPECT_EQ(d.verdict, ImportVerdict::kInSync);
  d = Decide(&user, nullptr, "d3", kT0 + seconds(10), ReaderView{{}, 3});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
}

TEST(ImportRule, WhatTheGatewayPushedThereEarlierIsItsOwnEcho) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 3, "d3");
  auto d = Decide(&user, &state, "d3", kT0 + seconds(10), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kOwnEcho);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, AGatewayChangeAsNewOrNewerWinsATie) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 4, "d4");
  for (auto occurred : {kT0, kT0 - seconds(1)}) {
    auto d = Decide(&user, &state, "reader-edit", occurred, ReaderView{});
    EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins);
    EXPECT_TRUE(d.conflict);
    EXPECT_FALSE(d.record_applied);
  }
}

TEST(ImportRule, ANewerReaderChangeWinsAndIsAConflictOnlyWhenAGatewayVersionIsLost) {
  auto user = User(4, "d4", kT0);
  auto caught_up = State(SyncStatus::kApplied, 4, "d4");
  auto d = Decide(&user, &caught_up, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_FALSE(d.conflict);  // the reader had the gateway's version: nothing of ours is lost

  auto behind = State(SyncStatus::kApplied, 3, "d3");
  d = Decide(&user, &behind, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_TRUE(d.conflict);  // version 4 never reached this reader

  d = Decide(&user, nullptr, "reader-edit", kT0 + seconds(1), ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_TRUE(d.conflict);
}

TEST(ImportRule, AUserNewToTheGatewayIsImportedWithoutConflict) {
  auto d = Decide(nullptr, nullptr, "reader-edit", kT0, ReaderView{});
  EXPECT_EQ(d.verdict, ImportVerdict::kReaderWins);
  EXPECT_FALSE(d.conflict);
}

TEST(ImportRule, ATombstoneBeatsAReaderChangeWhateverItsClockSays) {
  auto tomb = User(5, "d5", kT0, /*deleted=*/true);
  for (auto policy : {ImportPolicy::kReview, ImportPolicy::kAuto, ImportPolicy::kOff}) {
    for (auto occurred : {kT0 - seconds(1), kT0 + seconds(1), kT0 + std::chrono::hours(1)}) {
      // The reader's clock may even be believed (received later still): the deletion is final.
      auto d = DecideImport(&tomb, nullptr, ReaderChange{"d5", occurred, occurred + seconds(5)},
                            ReaderView{}, policy);
      EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins) << ImportPolicyName(policy);
      EXPECT_TRUE(d.conflict);
      EXPECT_FALSE(d.reason.empty());
    }
  }
}

TEST(ImportRule, AReaderClockAnHourAheadCannotWinOverAGatewayChange) {
  // The gateway changed the user at kT0; the reader's change reaches us 10 s earlier (kT0 - 10 s)
  // but claims kT0 + 1 h: its receive time counts, and the gateway's newer change wins.
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 3, "d3");
  ReaderChange ahead{"reader-edit", kT0 + std::chrono::hours(1), kT0 - seconds(10)};
  for (auto policy : {ImportPolicy::kReview, ImportPolicy::kAuto, ImportPolicy::kOff}) {
    auto d = DecideImport(&user, &state, ahead, ReaderView{}, policy);
    EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins) << ImportPolicyName(policy);
    EXPECT_TRUE(d.conflict);
  }
  // The same change received after the gateway's: it is newer by our own clock.
  ahead.received_at = kT0 + seconds(10);
  EXPECT_EQ(DecideImport(&user, &state, ahead, ReaderView{}, ImportPolicy::kAuto).verdict,
            ImportVerdict::kReaderWins);
}

TEST(ImportRule, TheReadersTimeCountsOnlyWhereItIsEarlierThanTheReceiveTime) {
  ReaderChange c{"p", kT0 + seconds(30), kT0 + seconds(40)};
  EXPECT_EQ(EffectiveTime(c), kT0 + seconds(30));  // a log read late: the reader's own time
  c.occurred_at = kT0 + seconds(50);
  EXPECT_EQ(EffectiveTime(c), kT0 + seconds(40));  // a clock ahead: our receive time
  // A reader clock behind makes its change older: the gateway's change at kT0 + 20 s wins.
  auto user = User(2, "d2", kT0 + seconds(20));
  auto state = State(SyncStatus::kApplied, 2, "d2");
  ReaderChange behind{"edit", kT0 + seconds(10), kT0 + seconds(40)};
  EXPECT_EQ(DecideImport(&user, &state, behind, ReaderView{}, ImportPolicy::kAuto).verdict,
            ImportVerdict::kGatewayWins);
}

TEST(ImportRule, UnderReviewAChangeTheReaderWouldWinIsHeldAndANewUserToo) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 4, "d4");
  auto d =
      Decide(&user, &state, "reader-edit", kT0 + seconds(1), ReaderView{}, ImportPolicy::kReview);
  EXPECT_EQ(d.verdict, ImportVerdict::kHeld);
  EXPECT_FALSE(d.conflict);
  d = Decide(nullptr, nullptr, "new", kT0, ReaderView{}, ImportPolicy::kReview);
  EXPECT_EQ(d.verdict, ImportVerdict::kHeld);
  // What is not a change at the reader is not held.
  EXPECT_EQ(
      Decide(&user, &state, "d4", kT0 + seconds(1), ReaderView{}, ImportPolicy::kReview).verdict,
      ImportVerdict::kInSync);
  auto behind = State(SyncStatus::kApplied, 3, "d3");
  EXPECT_EQ(
      Decide(&user, &behind, "d3", kT0 + seconds(1), ReaderView{}, ImportPolicy::kReview).verdict,
      ImportVerdict::kOwnEcho);
}

TEST(ImportRule, WithImportsOffTheGatewayWinsAndUnknownUsersAreLeftToThePlan) {
  auto user = User(4, "d4", kT0);
  auto state = State(SyncStatus::kApplied, 4, "d4");
  auto d = Decide(&user, &state, "reader-edit", kT0 + seconds(1), ReaderView{}, ImportPolicy::kOff);
  EXPECT_EQ(d.verdict, ImportVerdict::kGatewayWins);
  EXPECT_TRUE(d.conflict);
  EXPECT_EQ(Decide(nullptr, nullptr, "new", kT0, ReaderView{}, ImportPolicy::kOff).verdict,
            ImportVerdict::kNotImported);
}

TEST(ImportRule, PolicyNamesAreTheConfigValues) {
  for (auto p : {ImportPolicy::kReview, ImportPolicy::kAuto, ImportPolicy::kOff}) {
    EXPECT_EQ(ParseImportPolicy(ImportPolicyName(p)), p);
  }
  EXPECT_EQ(ImportPolicyName(ImportPolicy::kReview), "review");
  EXPECT_FALSE(ParseImportPolicy("Review"));
}

TEST(ImportRule, VerdictNamesRoundTripAndAreTheStoredConflictKinds) {
  EXPECT_EQ(ImportVerdictName(ImportVerdict::kGatewayWins), "GatewayWins");
  EXPECT_EQ(ImportVerdictName(ImportVerdict::kReaderWins), "ReaderWins");
  for (auto v : {ImportVerdict::kInSync, ImportVerdict::kOwnEcho, ImportVerdict::kGatewayWins,
                 ImportVerdict::kReaderWins, ImportVerdict::kHeld, ImportVerdict::kNotImported}) {
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
