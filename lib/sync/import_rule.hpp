#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/users.hpp"
#include "sync/plan.hpp"

// The importer's conflict rule (SCHEMA.md "User sync"), as a pure function of the gateway's
// user, what the gateway recorded for the reader, the reader's copy and the import policy: no
// I/O, unit-tested directly. The importer reads both sides, asks DecideImport, then writes what
// it says.
//
// A reader is not an authority (DESIGN.md section 10): its clock is not trusted to run ahead of
// ours, a deletion at the gateway is final, and under `review` nothing it reports becomes
// canonical before an admin approves it.

namespace gw::sync {

/// What becomes of changes made at a reader (config `sync.import`).
enum class ImportPolicy {
  kReview,  ///< held as pending imports until an admin approves or rejects each one
  kAuto,    ///< imported at once; a user new to the gateway reaches only the source reader's
            ///< groups
  kOff,     ///< never imported: the gateway's record goes back to the reader
};
/// "review", "auto", "off" (the config values).
std::string_view ImportPolicyName(ImportPolicy policy) noexcept;
std::optional<ImportPolicy> ParseImportPolicy(std::string_view name) noexcept;

/// What a change seen at a reader (its UserData log entry) means for the canonical user.
enum class ImportVerdict {
  kInSync,       ///< the reader holds the gateway's current version: nothing to import
  kOwnEcho,      ///< the reader holds what the gateway pushed there earlier: our own change
  kGatewayWins,  ///< the gateway's record (or tombstone) goes back to the reader
  kReaderWins,   ///< the reader's change is newer (or the user is new): it becomes canonical
  kHeld,         ///< it would win, but waits for an admin's review (policy review)
  kNotImported,  ///< a user unknown to the gateway under policy off: left to the plan
};
/// "InSync", "OwnEcho", "GatewayWins", "ReaderWins", "Held", "NotImported". GatewayWins and
/// ReaderWins are the `info` of the SyncConflict event the store records for a conflict.
std::string_view ImportVerdictName(ImportVerdict verdict) noexcept;
/// Inverse of ImportVerdictName; nullopt for anything else.
std::optional<ImportVerdict> ParseImportVerdict(std::string_view name) noexcept;

struct ImportDecision {
  ImportVerdict verdict = ImportVerdict::kInSync;
  /// kInSync: the reader holds the current version but this reader's state does not say so
  /// yet: record it as applied (no new version).
  bool record_applied = false;
  /// kGatewayWins always; kReaderWins when a gateway version not yet applied on this reader is
  /// overwritten (not for a user new to the gateway or a reader catching up): a SyncConflict
  /// event is recorded.
  bool conflict = false;
  /// Why the gateway won, for the conflict event (no user data); empty otherwise.
  std::string_view reason;
};

/// One change at a reader as the importer saw it.
struct ReaderChange {
  std::string reader_print;        ///< Fingerprint of the reader's copy
  store::TimePoint occurred_at{};  ///< the log entry's time (the reader's clock)
  store::TimePoint received_at{};  ///< when the gateway stored that entry (events.received_at)
};

/// When a reader's change counts as made: the reader's clock only where it is earlier than the
/// gateway's receive time, so a reader clock set ahead cannot win a conflict.
store::TimePoint EffectiveTime(const ReaderChange& change) noexcept;

/// The conflict rule. `user`: the gateway's user, tombstone included (nullptr: unknown to the
/// gateway); `state`: what the gateway recorded for this reader (nullptr: nothing); `reader`:
/// its record_version (groups are not looked at).
/// - a tombstone always wins (a deletion at the gateway is final), whatever the reader's clock;
/// - otherwise the newest change wins by EffectiveTime against users.updated_at, a tie goes to
///   the gateway;
/// - a change the reader would win is kHeld under review, kReaderWins under auto, and under off
///   kGatewayWins (a user the gateway does not know: kNotImported).
ImportDecision DecideImport(const store::UserSummary* user, const store::DeviceUserState* state,
                            const ReaderChange& change, const ReaderView& reader,
                            ImportPolicy policy);

/// The summary (no record) of a stored user.
store::UserSummary SummaryOf(const store::StoredUser& user);

}  // namespace gw::sync
