#pragma once

#include <optional>
#include <string_view>

// The words sync writes to PostgreSQL (user_device_state.status) and the API shows, as an enum
// (the conflict kinds are ImportVerdict, import_rule.hpp). The names are the stored text: changing
// one changes the schema's data and the API (SCHEMA.md "User sync").

namespace gw::sync {

/// A user's sync status on one reader (user_device_state.status).
enum class SyncStatus {
  kPending,  ///< not applied yet (or the gateway won a conflict: to be pushed again)
  kApplied,  ///< the reader holds `applied_version`
  kFailed,   ///< the last attempt failed (`last_error` says why)
};
/// "pending", "applied", "failed".
std::string_view SyncStatusName(SyncStatus status) noexcept;
/// Inverse of SyncStatusName; nullopt for anything else.
std::optional<SyncStatus> ParseSyncStatus(std::string_view name) noexcept;

}  // namespace gw::sync
