#include "sync/plan.hpp"

#include <algorithm>

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

Plan ComputePlan(const PlanInput& in) {
  Plan plan;
  static const std::map<std::string, store::DeviceUserState> kNoStates;
  const auto& states = in.states ? *in.states : kNoStates;
  std::set<std::string> known;
  auto state_of = [&](const std::string& uuid) -> const store::DeviceUserState* {
    auto it = states.find(uuid);
    return it == states.end() ? nullptr : &it->second;
  };

  for (const auto& user : *in.desired) {
    known.insert(user.user_uuid);
    const auto* state = state_of(user.user_uuid);
    bool wanted = !user.deleted && InScope(user.groups, in.reader);
    auto [digest, strip] = ExpectedDigest(user, in.reader);
    PlannedOp op{OpKind::kAdd, user.user_uuid, user.version, strip, digest, {}};
    bool applied_now =
        state && state->status == "applied" && state->applied_version == user.version;
    bool failed = state && state->status == "failed";

    if (!in.actual) {
      // Incremental: trust what we recorded.
      if (applied_now || (failed && !in.retry_failed)) {
        ++plan.in_sync;
        continue;
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
        continue;
      }
      if (op.strip_templates) ++plan.templates_skipped;
      plan.ops.push_back(std::move(op));
      continue;
    }

    auto it = in.actual->find(user.user_uuid);
    bool present = it != in.actual->end();
    if (wanted) {
      if (!present) {
        op.kind = OpKind::kAdd;
        op.reason = "missing on the reader";
      } else if (it->second != digest && in.pending_import &&
                 in.pending_import->count(user.user_uuid)) {
        ++plan.waiting_import;  // changed at the reader: the importer decides first
        continue;
      } else if (it->second != digest) {
        op.kind = OpKind::kUpdate;
        op.reason = "the reader's copy differs";
      } else if (applied_now) {
        ++plan.in_sync;
        continue;
      } else if (state && state->status == "applied" && state->applied_version &&
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
    } else if (present) {
      op.kind = OpKind::kDelete;
      op.digest.clear();
      op.strip_templates = false;
      op.reason = user.deleted ? "deleted at the gateway" : "not in this reader's groups";
      plan.ops.push_back(std::move(op));
    } else if (state && (state->status != "applied" || state->applied_version != user.version)) {
      op.kind = OpKind::kAdopt;  // already gone: record the tombstone as applied
      op.digest.clear();
      op.strip_templates = false;
      op.reason = "already absent from the reader";
      plan.ops.push_back(std::move(op));
    } else {
      ++plan.in_sync;
    }
  }

  if (!in.actual) return plan;
  for (const auto& [uuid, digest] : *in.actual) {
    if (known.count(uuid)) continue;
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
  return plan;
}

}  // namespace gw::sync
