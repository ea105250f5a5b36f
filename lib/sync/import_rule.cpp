#include "sync/import_rule.hpp"

#include <algorithm>

#include "sync/status.hpp"

namespace gw::sync {

std::string_view ImportPolicyName(ImportPolicy policy) noexcept {
  switch (policy) {
    case ImportPolicy::kReview: return "review";
    case ImportPolicy::kAuto: return "auto";
    case ImportPolicy::kOff: return "off";
  }
  return "review";
}

std::optional<ImportPolicy> ParseImportPolicy(std::string_view name) noexcept {
  for (ImportPolicy p : {ImportPolicy::kReview, ImportPolicy::kAuto, ImportPolicy::kOff}) {
    if (ImportPolicyName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view ImportVerdictName(ImportVerdict verdict) noexcept {
  switch (verdict) {
    case ImportVerdict::kInSync: return "InSync";
    case ImportVerdict::kOwnEcho: return "OwnEcho";
    case ImportVerdict::kGatewayWins: return "GatewayWins";
    case ImportVerdict::kReaderWins: return "ReaderWins";
    case ImportVerdict::kHeld: return "Held";
    case ImportVerdict::kNotImported: return "NotImported";
  }
  return "InSync";
}

std::optional<ImportVerdict> ParseImportVerdict(std::string_view name) noexcept {
  for (ImportVerdict v :
       {ImportVerdict::kInSync, ImportVerdict::kOwnEcho, ImportVerdict::kGatewayWins,
        ImportVerdict::kReaderWins, ImportVerdict::kHeld, ImportVerdict::kNotImported}) {
    if (ImportVerdictName(v) == name) return v;
  }
  return std::nullopt;
}

store::TimePoint EffectiveTime(const ReaderChange& change) noexcept {
  return std::min(change.occurred_at, change.received_at);
}

ImportDecision DecideImport(const store::UserSummary* user, const store::DeviceUserState* state,
                            const ReaderChange& change, const ReaderView& reader,
                            ImportPolicy policy) {
  const std::string& reader_print = change.reader_print;
  if (!user) {
    switch (policy) {
      case ImportPolicy::kReview: return {ImportVerdict::kHeld, false, false, {}};
      case ImportPolicy::kAuto: return {ImportVerdict::kReaderWins, false, false, {}};
      case ImportPolicy::kOff: return {ImportVerdict::kNotImported, false, false, {}};
    }
  }
  auto expected = ExpectedDigest(*user, ReaderView{{}, reader.record_version}).first;
  if (!user->deleted && expected == reader_print) {
    bool recorded =
        state && state->status == SyncStatus::kApplied && state->applied_version == user->version;
    return {ImportVerdict::kInSync, !recorded, false, {}};
  }
  if (state && state->applied_digest && *state->applied_digest == reader_print) {
    return {ImportVerdict::kOwnEcho, false, false, {}};
  }
  if (user->deleted) {
    return {ImportVerdict::kGatewayWins, false, true, "the user is deleted at the gateway"};
  }
  if (user->updated_at >= EffectiveTime(change)) {
    return {ImportVerdict::kGatewayWins, false, true, "the gateway's version is as new or newer"};
  }
  if (policy == ImportPolicy::kOff) {
    return {ImportVerdict::kGatewayWins, false, true, "sync.import is off"};
  }
  if (policy == ImportPolicy::kReview) return {ImportVerdict::kHeld, false, false, {}};
  bool gateway_change_lost = !state || state->applied_version != user->version;
  return {ImportVerdict::kReaderWins, false, gateway_change_lost, {}};
}

store::UserSummary SummaryOf(const store::StoredUser& user) {
  return store::UserSummary{
      user.user_uuid,           user.version,        user.deleted, user.digest,
      user.digest_no_templates, user.record_version, user.groups,  user.updated_at};
}

}  // namespace gw::sync
