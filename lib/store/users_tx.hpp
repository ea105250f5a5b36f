#pragma once
// Internal to lib/store: user writes that other store files run inside their own transaction.

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>

#include "store/users.hpp"

namespace gw::crypto {
class DataKeys;
}

namespace gw::store::detail {

/// ImportUserBlocking's work inside `tx` (not committed): the version written, or nullopt when
/// the user is no longer at `w.expected_version` (nothing written).
std::optional<std::int64_t> ImportUserTx(pqxx::work& tx, const crypto::DataKeys* keys,
                                         const ImportWrite& w);

}  // namespace gw::store::detail
