#pragma once
// Internal to lib/store: one event row as the façade renders it, read the same way by every
// query that serves events (GET /api/v1/events, webhook deliveries).

#include <pqxx/pqxx>
#include <string>

#include "store/queries.hpp"

namespace gw::store::detail {

/// The select list of an EventRow, in ReadEventRow's order (no leading SELECT, no FROM).
const std::string& EventRowColumns();
/// One row selected with EventRowColumns().
EventRow ReadEventRow(const pqxx::row& r);

}  // namespace gw::store::detail
