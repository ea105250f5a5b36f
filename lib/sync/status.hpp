#pragma once

#include "store/users.hpp"

// The words sync writes to PostgreSQL (user_device_state.status) and the API shows. The enum lives
// with the rows that store it (store/users.hpp); sync names it here. The conflict kinds are
// ImportVerdict (import_rule.hpp).

namespace gw::sync {

using store::ParseSyncStatus;
using store::SyncStatus;
using store::SyncStatusName;

}  // namespace gw::sync
