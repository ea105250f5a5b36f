#include "api/event_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/time.hpp"

namespace gw::api {

namespace json = boost::json;

json::object EventJson(const store::EventRow& e) {
  json::object o;
  o["seq"] = e.seq;
  o["device_id"] = e.device_id;
  o["kind"] = store::KindName(e.kind);
  o["key"] = e.event_key;
  o["revision"] = e.revision;
  o["sources"] = json::array{};
  auto& sources = o["sources"].as_array();
  if (e.sources & static_cast<int>(store::EventSource::kLog)) sources.emplace_back("log");
  if (e.sources & static_cast<int>(store::EventSource::kMatchData)) sources.emplace_back("match");
  if (e.sources & static_cast<int>(store::EventSource::kPoller)) sources.emplace_back("poller");
  o["device_log_id"] = e.device_log_id ? json::value(*e.device_log_id) : nullptr;
  o["log_epoch"] = e.log_epoch;
  auto opt = [](const std::optional<std::string>& s) {
    return s ? json::value(*s) : json::value(nullptr);
  };
  o["encounter_id"] = opt(e.encounter_id);
  o["event_type"] = opt(e.event_type);
  o["info"] = opt(e.info);
  o["additional_data"] = opt(e.additional_data);
  o["user_uuid"] = opt(e.user_uuid);
  o["device_time"] = e.device_time ? json::value(FormatIso8601(*e.device_time)) : nullptr;
  o["received_at"] = FormatIso8601(e.received_at);
  o["stored_at"] = FormatIso8601(e.stored_at);
  boost::system::error_code ec;
  auto payload = json::parse(e.payload, ec);
  o["payload"] = ec ? json::value(json::object{}) : payload;
  return o;
}

std::string EventPageBody(const std::vector<store::EventRow>& events, std::int64_t next) {
  json::array items;
  items.reserve(events.size());
  for (const auto& e : events) items.push_back(EventJson(e));
  return json::serialize(json::object{{"items", std::move(items)}, {"next", next}});
}

std::pair<std::size_t, std::size_t> SseFrameData(const std::string& frame) {
  static constexpr std::string_view kData = "\ndata: ";
  auto at = frame.find(kData);
  if (at == std::string::npos) return {0, 0};
  const std::size_t begin = at + kData.size();
  // The frame ends with "\n\n" after the document (serialized JSON has no raw newline).
  const std::size_t end = frame.size() >= begin + 2 ? frame.size() - 2 : begin;
  return {begin, end - begin};
}

std::string SseFrame(const store::EventRow& e) {
  return "id: " + std::to_string(e.seq) + "\nevent: " + std::string(store::KindName(e.kind)) +
         "\ndata: " + json::serialize(EventJson(e)) + "\n\n";
}

}  // namespace gw::api
