#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/users.hpp"
#include "sync/plan.hpp"

// The importer's conflict rule (SCHEMA.md "User sync"), as a pure function of the gateway's
// user, what the gateway recorded for the reader, and the reader's copy: no I/O, unit-tested
// directly. The importer reads both sides, asks DecideImport, then writes what it says.

namespace gw::sync {

/// What a change seen at a reader (its UserData log entry) means for the canonical user.
enum class ImportVerdict {
  kInSync,       ///< the reader holds the gateway's current version: nothing to import
  kOwnEcho,      ///< the reader holds what the gateway pushed there earlier: our own change
  kGatewayWins,  ///< the gateway's record is as new or newer: it goes back to the reader
  kReaderWins,   ///< the reader's change is newer (or the user is new): it becomes canonical
};
/// "InSync", "OwnEcho", "GatewayWins", "ReaderWins". The last two are the `info` of the
/// SyncConflict event the store records for a conflict.
std::string_view ImportVerdictName(ImportVerdict verdict) noexcept;
/// Inverse of ImportVerdictName; nullopt for anything else.
std::optional<ImportVerdict> ParseImportVerdict(std::string_view name) noexcept;

struct ImportDecision {
  ImportVerdict verdict = ImportVerdict::kInSync;
  /// kInSync: the reader holds the current version but this reader's state does not say so
  /// yet: record it as applied (no new version).
  bool record_applied = false;
  /// kGatewayWins always; kReaderWins when a gateway version not yet applied on this reader is
  /// overwritten (not for a user new to the gateway, a tombstone, or a reader catching up):
  /// a SyncConflict event is recorded.
  bool conflict = false;
};

/// The conflict rule. `user`: the gateway's user, tombstone included (nullptr: unknown to the
/// gateway); `state`: what the gateway recorded for this reader (nullptr: nothing);
/// `reader_print`: Fingerprint of the reader's copy; `occurred_at`: the reader's log time of the
/// change; `reader`: its record_version (groups are not looked at). Newest wins, a tie goes to
/// the gateway.
ImportDecision DecideImport(const store::UserSummary* user, const store::DeviceUserState* state,
                            const std::string& reader_print, store::TimePoint occurred_at,
                            const ReaderView& reader);

/// The summary (no record) of a stored user.
store::UserSummary SummaryOf(const store::StoredUser& user);

}  // namespace gw::sync
