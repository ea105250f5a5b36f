#include "sync/plan.hpp"

#include <algorithm>

#include "sync/status.hpp"

namespace gw::sync {

std::string_view OpName(OpKind kind) noexcept {
  switch (kind) {
    case OpKind::kAdd: return "add";
    case OpKind::kUpdate: return "update";
    case OpKind::kDelete: return "delete";
    case OpKind::kDeleteUnknown: return "delete_unknown";
    case OpKind::kReportUnknown: return "report_unknown";
    case OpKind::kAdopt: return "adopt";
  }
  return "unknown";
}

std::int64_t Plan::Count(OpKind kind) const {
  return std::count_if(ops.begin(), ops.end(),
                       [&](const PlannedOp& op) { return op.kind == kind; });
}

std::string OwnGroup(const std::string& device_id) { return "reader:" + device_id; }

std::vector<std::string> ReaderGroups(const std::string& device_id,
                                      std::vector<std::string> configured) {
  configured.push_back(OwnGroup(device_id));
  return configured;
}

bool InScope(const std::vector<std::string>& user_groups, const ReaderView& reader) {
  if (user_groups.empty()) return true;
  for (const auto& g : user_groups) {
    if (std::find(reader.groups.begin(), reader.groups.end(), g) != reader.groups.end()) {
      return true;
    }
  }
  return false;
}

std::pair<std::string, bool> ExpectedDigest(const store::UserSummary& user,
                                            const ReaderView& reader) {
  bool strip = user.record_version && reader.record_version &&
               *user.record_version != *reader.record_version &&
               user.digest != user.digest_no_templates;
  return {strip ? user.digest_no_templates : user.digest, strip};
}

namespace {

bool Is(const store::DeviceUserState* state, SyncStatus status) {
  return state && state->status == status;
}

/// Applied on this reader at the user's current version, as recorded.
bool AppliedNow(const store::DeviceUserState* state, const store::UserSummary& user) {
  return Is(state, SyncStatus::kApplied) && state->applied_version == user.version;
}

/// Incremental round: what we recorded is trusted.
void PlanRecorded(const PlanInput& in, const store::UserSummary& user,
                  const store::DeviceUserState* state, bool wanted, PlannedOp op, Plan& plan) {
  if (AppliedNow(state, user) || (Is(state, SyncStatus::kFailed) && !in.retry_failed)) {
    ++plan.in_sync;
    return;
  }
  if (wanted) {
    // A reader that had it gets an in-place update; otherwise an add (409: in place).
    op.kind = state && state->applied_version ? OpKind::kUpdate : OpKind::kAdd;
    op.reason = state ? "changed at the gateway" : "new for this reader";
  } else if (state) {
    op.kind = OpKind::kDelete;  // a reader without it answers 404: fine
    op.digest.clear();
    op.reason = user.deleted ? "deleted at the gateway" : "not in this reader's groups";
  } else {
    ++plan.in_sync;  // never pushed here
    return;
  }
  if (op.strip_templates) ++plan.templates_skipped;
  plan.ops.push_back(std::move(op));
}

/// Full round, a user the reader should hold: compared with the reader's copy.
void PlanWanted(const PlanInput& in, const store::UserSummary& user,
                const store::DeviceUserState* state, PlannedOp op, Plan& plan) {
  auto it = in.actual->find(user.user_uuid);
  if (it == in.actual->end()) {
    op.kind = OpKind::kAdd;
    op.reason = "missing on the reader";
  } else if (it->second != op.digest && in.pending_import &&
             in.pending_import->count(user.user_uuid)) {
    ++plan.waiting_import;  // changed at the reader: the importer decides first
    return;
  } else if (it->second != op.digest) {
    op.kind = OpKind::kUpdate;
    op.reason = "the reader's copy differs";
  } else if (AppliedNow(state, user)) {
    ++plan.in_sync;
    return;
  } else if (Is(state, SyncStatus::kApplied) && state->applied_version &&
             *state->applied_version < user.version) {
    // Same subject, user info and faces, newer version: cards changed (not readable).
    op.kind = OpKind::kUpdate;
    op.reason = "changed at the gateway (cards)";
  } else {
    op.kind = OpKind::kAdopt;
    op.reason = "the reader already matches";
  }
  if (op.strip_templates) ++plan.templates_skipped;
  plan.ops.push_back(std::move(op));
}

/// Full round, a user the reader should not hold (deleted, or outside its groups).
void PlanUnwanted(const PlanInput& in, const store::UserSummary& user,
                  const store::DeviceUserState* state, PlannedOp op, Plan& plan) {
  op.digest.clear();
  op.strip_templates = false;
  if (in.actual->count(user.user_uuid)) {
    op.kind = OpKind::kDelete;
    op.reason = user.deleted ? "deleted at the gateway" : "not in this reader's groups";
    plan.ops.push_back(std::move(op));
  } else if (state && !AppliedNow(state, user)) {
    op.kind = OpKind::kAdopt;  // already gone: record the tombstone as applied
    op.reason = "already absent from the reader";
    plan.ops.push_back(std::move(op));
  } else {
    ++plan.in_sync;
  }
}

/// Full round: the reader's users the gateway does not know (deletes of them last).
void PlanUnknown(const PlanInput& in, const std::set<std::string>& known, Plan& plan) {
  for (const auto& [uuid, digest] : *in.actual) {
    if (known.count(uuid)) continue;
    if (in.held && in.held->count(uuid)) {
      ++plan.held_for_review;
      continue;
    }
    if (in.pending_import && in.pending_import->count(uuid)) {
      ++plan.waiting_import;
      continue;
    }
    PlannedOp op{OpKind::kReportUnknown, uuid, 0, false, {}, "unknown to the gateway"};
    if (in.policy == Policy::kMirror && (!in.unknown_ripe || in.unknown_ripe->count(uuid) > 0)) {
      op.kind = OpKind::kDeleteUnknown;
    }
    plan.ops.push_back(std::move(op));
  }
}

}  // namespace

Plan ComputePlan(const PlanInput& in) {
  Plan plan;
  std::set<std::string> known;
  for (const auto& user : *in.desired) {
    known.insert(user.user_uuid);
    const store::DeviceUserState* state = nullptr;
    if (in.states) {
      auto it = in.states->find(user.user_uuid);
      if (it != in.states->end()) state = &it->second;
    }
    if (!user.deleted && in.held && in.held->count(user.user_uuid)) {
      ++plan.held_for_review;
      continue;
    }
    bool wanted = !user.deleted && InScope(user.groups, in.reader);
    auto [digest, strip] = ExpectedDigest(user, in.reader);
    PlannedOp op{OpKind::kAdd, user.user_uuid, user.version, strip, digest, {}};
    if (!in.actual) {
      PlanRecorded(in, user, state, wanted, std::move(op), plan);
    } else if (wanted) {
      PlanWanted(in, user, state, std::move(op), plan);
    } else {
      PlanUnwanted(in, user, state, std::move(op), plan);
    }
  }
  if (in.actual) PlanUnknown(in, known, plan);
  return plan;
}

}  // namespace gw::sync
