#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/users.hpp"

// The reconciler's decision, as a pure function of desired state (PostgreSQL), what the gateway
// last recorded for the reader, and (in a full round) what the reader actually holds. No I/O:
// unit-tested directly and served as the dry run of GET /api/v1/sync/plan.

namespace gw::sync {

enum class Policy { kMirror, kAdditive };

enum class OpKind {
  kAdd,            ///< the reader lacks the user: POST /1.0/user
  kUpdate,         ///< the reader's copy is outdated: the differing parts in place (PUT/POST)
  kDelete,         ///< deleted at the gateway, or no longer in the reader's groups
  kDeleteUnknown,  ///< on the reader, unknown to the gateway, policy mirror
  kReportUnknown,  ///< on the reader, unknown to the gateway, policy additive (nothing is done)
  kAdopt,          ///< the reader already matches: record it as applied, no reader call
};
std::string_view OpName(OpKind kind) noexcept;

struct PlannedOp {
  OpKind kind = OpKind::kAdd;
  std::string user_uuid;
  std::int64_t version = 0;      ///< the gateway's version (0 for unknown users)
  bool strip_templates = false;  ///< templates of another record_version are not pushed
  std::string digest;            ///< fingerprint the reader will hold once applied
  std::string reason;            ///< why, for the plan and logs (no user data)
};

struct Plan {
  std::vector<PlannedOp> ops;          ///< deletes of unknown users last
  std::int64_t in_sync = 0;            ///< users needing nothing
  std::int64_t templates_skipped = 0;  ///< users pushed without templates (record_version)
  std::int64_t waiting_import = 0;     ///< users changed at the reader, import pending: left alone
  /// Users whose change at this reader waits for an admin's review: their copy there is left as
  /// the reader holds it (neither overwritten nor deleted) until the decision.
  std::int64_t held_for_review = 0;
  std::int64_t Count(OpKind kind) const;
};

/// The reader this plan is for.
struct ReaderView {
  std::vector<std::string> groups;             ///< the reader's groups (config)
  std::optional<std::int32_t> record_version;  ///< the reader's algorithm version, if known
};

/// The groups reader `device_id` belongs to: its configured groups and its own group
/// `reader:<id>` (a user limited to that group reaches only that reader; an enrolment imported
/// under `sync.import: auto` from a reader without groups is).
std::vector<std::string> ReaderGroups(const std::string& device_id,
                                      std::vector<std::string> configured);
/// The name of reader `device_id`'s own group.
std::string OwnGroup(const std::string& device_id);

/// True when a user limited to `user_groups` (empty = all readers) belongs on this reader.
bool InScope(const std::vector<std::string>& user_groups, const ReaderView& reader);

/// The fingerprint the reader should hold for `user`, and whether its templates are withheld.
std::pair<std::string, bool> ExpectedDigest(const store::UserSummary& user,
                                            const ReaderView& reader);

struct PlanInput {
  const std::vector<store::UserSummary>* desired = nullptr;  ///< users to consider
  /// What the gateway recorded for this reader, by uuid.
  const std::map<std::string, store::DeviceUserState>* states = nullptr;
  /// Full round: the reader's users (uuid -> fingerprint). nullptr: incremental round, the
  /// recorded state is trusted and only `desired` is considered.
  const std::map<std::string, std::string>* actual = nullptr;
  ReaderView reader;
  Policy policy = Policy::kAdditive;
  /// Users with reader events the importer has not handled yet: never deleted as unknown.
  const std::set<std::string>* pending_import = nullptr;
  /// Users with a change at this reader pending review (sync_imports): left alone there unless
  /// deleted at the gateway (a deletion is final).
  const std::set<std::string>* held = nullptr;
  /// Unknown users allowed to be deleted under mirror (seen unknown for long enough); nullptr =
  /// all of them.
  const std::set<std::string>* unknown_ripe = nullptr;
  /// Retry users whose last attempt failed (full rounds always do).
  bool retry_failed = true;
};

Plan ComputePlan(const PlanInput& in);

}  // namespace gw::sync
