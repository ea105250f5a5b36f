#include "sync/import_rule.hpp"

#include "sync/status.hpp"

namespace gw::sync {

std::string_view ImportVerdictName(ImportVerdict verdict) noexcept {
  switch (verdict) {
    case ImportVerdict::kInSync: return "InSync";
    case ImportVerdict::kOwnEcho: return "OwnEcho";
    case ImportVerdict::kGatewayWins: return "GatewayWins";
    case ImportVerdict::kReaderWins: return "ReaderWins";
  }
  return "InSync";
}

std::optional<ImportVerdict> ParseImportVerdict(std::string_view name) noexcept {
  for (ImportVerdict v : {ImportVerdict::kInSync, ImportVerdict::kOwnEcho,
                          ImportVerdict::kGatewayWins, ImportVerdict::kReaderWins}) {
    if (ImportVerdictName(v) == name) return v;
  }
  return std::nullopt;
}

ImportDecision DecideImport(const store::UserSummary* user, const store::DeviceUserState* state,
                            const std::string& reader_print, store::TimePoint occurred_at,
                            const ReaderView& reader) {
  if (!user) return {ImportVerdict::kReaderWins, false, false};  // new to the gateway
  auto expected = ExpectedDigest(*user, ReaderView{{}, reader.record_version}).first;
  if (!user->deleted && expected == reader_print) {
    bool recorded =
        state && state->status == SyncStatus::kApplied && state->applied_version == user->version;
    return {ImportVerdict::kInSync, !recorded, false};
  }
  if (state && state->applied_digest && *state->applied_digest == reader_print) {
    return {ImportVerdict::kOwnEcho, false, false};
  }
  if (user->updated_at >= occurred_at) return {ImportVerdict::kGatewayWins, false, true};
  bool gateway_change_lost = !user->deleted && (!state || state->applied_version != user->version);
  return {ImportVerdict::kReaderWins, false, gateway_change_lost};
}

store::UserSummary SummaryOf(const store::StoredUser& user) {
  return store::UserSummary{
      user.user_uuid,           user.version,        user.deleted, user.digest,
      user.digest_no_templates, user.record_version, user.groups,  user.updated_at};
}

}  // namespace gw::sync
