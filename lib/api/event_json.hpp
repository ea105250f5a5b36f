#pragma once
// One home for an event's API encoding: the listing (GET /api/v1/events), the live stream and
// the webhooks render the same JSON document from a stored row.

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/queries.hpp"

namespace gw::api {

/// The event as the API serves it (api/openapi.yaml `Event`), as a boost::json value. A payload
/// that is not JSON is served as {} (it is always an object: the column has a CHECK).
boost::json::object EventJson(const store::EventRow& event);

/// Appends the event's JSON to `out`: byte for byte `boost::json::serialize(EventJson(event))`
/// (tests/unit/api/event_json_test.cpp compares the two), written directly (~5x cheaper: no
/// object, no allocation per field, times by integer arithmetic). The payload (PostgreSQL's
/// jsonb text) is compacted as it is copied; a payload with anything whose text boost::json
/// would change (a decimal or huge number, an escape other than the ones boost::json writes,
/// non-ASCII bytes, a repeated key, deep nesting, more than 32 keys in an object) goes through
/// boost::json.
void AppendEventJson(std::string& out, const store::EventRow& event);

/// `s` as a JSON string (quoted, escaped as boost::json::serialize escapes), appended to `out`.
void AppendJsonString(std::string& out, std::string_view s);

/// The body of GET /api/v1/events: {"items":[EventJson...],"next":N}, byte for byte what
/// serialising that object gives (EventFeed::Page builds the same from rendered frames).
std::string EventPageBody(const std::vector<store::EventRow>& events, std::int64_t next);

/// Where the JSON document starts in an SseFrame (after "data: ") and how long it is.
std::pair<std::size_t, std::size_t> SseFrameData(const std::string& frame);

/// One server-sent-events frame: `id: <seq>`, `event: <kind>`, `data: <EventJson>`.
std::string SseFrame(const store::EventRow& event);
/// The same, appended to `out`.
void AppendSseFrame(std::string& out, const store::EventRow& event);

}  // namespace gw::api
