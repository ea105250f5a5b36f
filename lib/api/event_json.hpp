#pragma once
// One home for an event's API encoding: the listing (GET /api/v1/events) and the live stream
// render the same JSON document from a stored row.

#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "store/queries.hpp"

namespace gw::api {

/// The event as the API serves it (api/openapi.yaml `Event`). A payload that is not a JSON
/// object (it always is: the column has a CHECK) is served as {}.
boost::json::object EventJson(const store::EventRow& event);

/// The body of GET /api/v1/events: {"items":[EventJson...],"next":N}, byte for byte what
/// serialising that object gives (EventFeed::Page builds the same from rendered frames).
std::string EventPageBody(const std::vector<store::EventRow>& events, std::int64_t next);

/// Where the JSON document starts in an SseFrame (after "data: ") and how long it is.
std::pair<std::size_t, std::size_t> SseFrameData(const std::string& frame);

/// One server-sent-events frame: `id: <seq>`, `event: <kind>`, `data: <EventJson>`.
std::string SseFrame(const store::EventRow& event);

}  // namespace gw::api
