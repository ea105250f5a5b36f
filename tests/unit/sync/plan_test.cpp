#include "sync/plan.hpp"

#include <gtest/gtest.h>

#include "sync/status.hpp"
#include "sync/sync_manager.hpp"

namespace gw::sync {
namespace {

store::UserSummary User(std::string uuid, std::int64_t version, const std::string& digest,
                        bool deleted = false, std::vector<std::string> groups = {}) {
  store::UserSummary u;
  u.user_uuid = std::move(uuid);
  u.version = version;
  u.deleted = deleted;
  u.digest = digest;
  u.digest_no_templates = digest + "-bare";
  u.groups = std::move(groups);
  return u;
}

store::DeviceUserState Applied(std::string uuid, std::int64_t version) {
  store::DeviceUserState s;
  s.user_uuid = std::move(uuid);
  s.status = SyncStatus::kApplied;
  s.applied_version = version;
  return s;
}

std::map<std::string, OpKind> Kinds(const Plan& plan) {
  std::map<std::string, OpKind> out;
  for (const auto& op : plan.ops) out[op.user_uuid] = op.kind;
  return out;
}

struct Fixture {
  std::vector<store::UserSummary> desired;
  std::map<std::string, store::DeviceUserState> states;
  std::map<std::string, std::string> actual;
  std::set<std::string> pending;
  PlanInput Full(Policy policy = Policy::kAdditive) {
    PlanInput in;
    in.desired = &desired;
    in.states = &states;
    in.actual = &actual;
    in.pending_import = &pending;
    in.policy = policy;
    return in;
  }
};

TEST(SyncPlan, FullRoundAddsMissingUpdatesDifferentAndKeepsMatching) {
  Fixture f;
  f.desired = {User("a", 1, "da"), User("b", 2, "db"), User("c", 1, "dc"), User("d", 3, "dd")};
  f.states = {{"c", Applied("c", 1)}, {"b", Applied("b", 1)}};
  f.actual = {{"b", "old"}, {"c", "dc"}, {"d", "dd"}};
  auto plan = ComputePlan(f.Full());
  auto kinds = Kinds(plan);
  EXPECT_EQ(kinds.at("a"), OpKind::kAdd);
  EXPECT_EQ(kinds.at("b"), OpKind::kUpdate);
  EXPECT_EQ(kinds.count("c"), 0u);           // applied at its version, same content
  EXPECT_EQ(kinds.at("d"), OpKind::kAdopt);  // already there, never recorded: no reader call
  EXPECT_EQ(plan.in_sync, 1);
}

TEST(SyncPlan, TombstonesAreDeletedWhereTheReaderStillHasThem) {
  Fixture f;
  f.desired = {User("gone", 4, "", true), User("absent", 2, "", true)};
  f.states = {{"absent", Applied("absent", 1)}};
  f.actual = {{"gone", "x"}};
  auto kinds = Kinds(ComputePlan(f.Full(Policy::kMirror)));
  EXPECT_EQ(kinds.at("gone"), OpKind::kDelete);
  EXPECT_EQ(kinds.at("absent"), OpKind::kAdopt);  // already absent: recorded as applied
}

TEST(SyncPlan, UnknownUsersAreDeletedUnderMirrorAndReportedUnderAdditive) {
  Fixture f;
  f.actual = {{"stranger", "x"}, {"enrolling", "y"}};
  f.pending = {"enrolling"};  // its UserData event has not been imported yet
  auto mirror = ComputePlan(f.Full(Policy::kMirror));
  EXPECT_EQ(Kinds(mirror).at("stranger"), OpKind::kDeleteUnknown);
  EXPECT_EQ(Kinds(mirror).count("enrolling"), 0u);
  EXPECT_EQ(mirror.waiting_import, 1);
  auto additive = ComputePlan(f.Full(Policy::kAdditive));
  EXPECT_EQ(Kinds(additive).at("stranger"), OpKind::kReportUnknown);
  // Mirror with a grace period: only ripe ones go.
  std::set<std::string> ripe;
  auto in = f.Full(Policy::kMirror);
  in.unknown_ripe = &ripe;
  EXPECT_EQ(Kinds(ComputePlan(in)).at("stranger"), OpKind::kReportUnknown);
}

TEST(SyncPlan, GroupsKeepUsersOffOtherReaders) {
  Fixture f;
  f.desired = {User("lab", 1, "d1", false, {"lab"}), User("all", 1, "d2")};
  f.actual = {{"lab", "d1"}};
  f.states = {{"lab", Applied("lab", 1)}};
  auto in = f.Full();
  in.reader.groups = {"lobby"};
  auto kinds = Kinds(ComputePlan(in));
  EXPECT_EQ(kinds.at("lab"), OpKind::kDelete);
  EXPECT_EQ(kinds.at("all"), OpKind::kAdd);
  EXPECT_TRUE(InScope({}, in.reader));
  EXPECT_TRUE(InScope({"x", "lobby"}, in.reader));
  EXPECT_FALSE(InScope({"lab"}, in.reader));
}

TEST(SyncPlan, TemplatesOfAnotherRecordVersionAreWithheld) {
  Fixture f;
  auto u = User("a", 1, "full");
  u.record_version = 1234;
  f.desired = {u};
  f.actual = {{"a", "full-bare"}};
  auto in = f.Full();
  in.reader.record_version = 8976;
  auto plan = ComputePlan(in);
  ASSERT_EQ(plan.ops.size(), 1u);
  EXPECT_EQ(plan.ops[0].kind, OpKind::kAdopt);  // the reader holds the bare copy: that is right
  EXPECT_TRUE(plan.ops[0].strip_templates);
  EXPECT_EQ(plan.templates_skipped, 1);
  in.reader.record_version = 1234;
  EXPECT_EQ(ComputePlan(in).ops[0].kind, OpKind::kUpdate);
}

TEST(SyncPlan, IncrementalRoundTrustsRecordedState) {
  Fixture f;
  f.desired = {User("new", 1, "d"), User("changed", 3, "d"), User("same", 2, "d"),
               User("deleted", 5, "", true), User("never", 2, "", true)};
  f.states = {{"changed", Applied("changed", 2)},
              {"same", Applied("same", 2)},
              {"deleted", Applied("deleted", 4)}};
  auto in = f.Full();
  in.actual = nullptr;
  auto kinds = Kinds(ComputePlan(in));
  EXPECT_EQ(kinds.at("new"), OpKind::kAdd);
  EXPECT_EQ(kinds.at("changed"), OpKind::kUpdate);
  EXPECT_EQ(kinds.count("same"), 0u);
  EXPECT_EQ(kinds.at("deleted"), OpKind::kDelete);
  EXPECT_EQ(kinds.count("never"), 0u);  // never pushed here: nothing to delete
}

TEST(SyncPlan, FailedUsersWaitForTheNextFullRoundInIncrementalRounds) {
  Fixture f;
  f.desired = {User("f", 1, "d")};
  store::DeviceUserState failed;
  failed.user_uuid = "f";
  failed.status = SyncStatus::kFailed;
  f.states = {{"f", failed}};
  auto in = f.Full();
  in.actual = nullptr;
  in.retry_failed = false;
  EXPECT_TRUE(ComputePlan(in).ops.empty());
  in.retry_failed = true;
  EXPECT_EQ(ComputePlan(in).ops.size(), 1u);
}

TEST(SyncPlan, UsersChangedAtTheReaderWaitForTheImporter) {
  Fixture f;
  f.desired = {User("a", 1, "da")};
  f.states = {{"a", Applied("a", 1)}};
  f.actual = {{"a", "changed-at-reader"}};
  f.pending = {"a"};
  auto plan = ComputePlan(f.Full());
  EXPECT_TRUE(plan.ops.empty());
  EXPECT_EQ(plan.waiting_import, 1);
  f.pending.clear();
  EXPECT_EQ(Kinds(ComputePlan(f.Full())).at("a"), OpKind::kUpdate);
}

TEST(SyncPlan, ACopyHeldForReviewIsNeitherOverwrittenNorDeletedUntilDecided) {
  Fixture f;
  // "a": known, changed at the reader (held); "n": new at the reader (held, unknown to the
  // gateway); "t": held, then deleted at the gateway (a deletion is final: it goes).
  f.desired = {User("a", 2, "da"), User("t", 3, "dt", /*deleted=*/true)};
  f.states = {{"a", Applied("a", 1)}, {"t", Applied("t", 2)}};
  f.actual = {{"a", "reader-edit"}, {"n", "dn"}, {"t", "dt"}};
  std::set<std::string> held = {"a", "n", "t"};
  for (auto policy : {Policy::kMirror, Policy::kAdditive}) {
    auto in = f.Full(policy);
    in.held = &held;
    auto plan = ComputePlan(in);
    auto kinds = Kinds(plan);
    EXPECT_EQ(kinds.count("a"), 0u);
    EXPECT_EQ(kinds.count("n"), 0u);
    EXPECT_EQ(kinds.at("t"), OpKind::kDelete);
    EXPECT_EQ(plan.held_for_review, 2);
    // Incremental rounds too.
    in.actual = nullptr;
    plan = ComputePlan(in);
    EXPECT_EQ(Kinds(plan).count("a"), 0u);
    EXPECT_EQ(Kinds(plan).at("t"), OpKind::kDelete);
  }
  // Not held: the gateway's record goes over it.
  auto plan = ComputePlan(f.Full(Policy::kMirror));
  EXPECT_EQ(Kinds(plan).at("a"), OpKind::kUpdate);
  EXPECT_EQ(Kinds(plan).at("n"), OpKind::kDeleteUnknown);
}

TEST(SyncPlan, EveryReaderIsInItsOwnGroup) {
  ReaderView lobby{ReaderGroups("r1", {"lobby"}), {}};
  ReaderView other{ReaderGroups("r2", {}), {}};
  EXPECT_TRUE(InScope({OwnGroup("r1")}, lobby));
  EXPECT_FALSE(InScope({OwnGroup("r1")}, other));
  EXPECT_TRUE(InScope({"lobby"}, lobby));
  EXPECT_TRUE(InScope({}, other));
}

}  // namespace
}  // namespace gw::sync

namespace gw::sync {
namespace {

// Reconcilers started together take their first turns spread out (issue 18: the whole fleet's
// first rounds at once were the start-up's memory peak), 5 ms apart and within 10 s in all.
TEST(StartSpacing, SpreadsFirstTurnsWithinTheirWindow) {
  using std::chrono::milliseconds;
  EXPECT_EQ(StartSpacing(0), std::chrono::steady_clock::duration::zero());
  EXPECT_EQ(StartSpacing(1), std::chrono::steady_clock::duration::zero());
  EXPECT_EQ(StartSpacing(2), milliseconds(5));
  EXPECT_EQ(StartSpacing(1000), milliseconds(5));
  EXPECT_EQ(StartSpacing(5000), milliseconds(2));
  EXPECT_LE(StartSpacing(5000) * 5000, kStartSpread);
}

}  // namespace
}  // namespace gw::sync
