#include "sync/status.hpp"

namespace gw::sync {

std::string_view SyncStatusName(SyncStatus status) noexcept {
  switch (status) {
    case SyncStatus::kPending: return "pending";
    case SyncStatus::kApplied: return "applied";
    case SyncStatus::kFailed: return "failed";
  }
  return "pending";
}

std::optional<SyncStatus> ParseSyncStatus(std::string_view name) noexcept {
  for (SyncStatus s : {SyncStatus::kPending, SyncStatus::kApplied, SyncStatus::kFailed}) {
    if (SyncStatusName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace gw::sync
