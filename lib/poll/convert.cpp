#include "poll/convert.hpp"

#include <algorithm>
#include <boost/json/detail/config.hpp>
#include <boost/json/detail/format.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string_view>

namespace gw::poll {
namespace {

std::optional<std::string> NonEmpty(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  return s;
}

/// A JSON object written straight into a string, for the payloads made on every recognition:
/// building a boost::json::object for them cost a key string, a slot and a rehash per field
/// (issue 18). Keys are this file's literals (no escaping needed); numbers are written by the
/// routine boost::json's serializer uses, so the text is byte for byte what it wrote.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::size_t reserve) {
    out_.reserve(reserve);
    out_ += '{';
  }
  void Bool(std::string_view prefix, std::string_view key, bool value) {
    Key(prefix, key);
    out_ += value ? "true" : "false";
  }
  void Double(std::string_view prefix, std::string_view key, double value) {
    Key(prefix, key);
    char buffer[boost::json::detail::max_number_chars + 1];
    out_.append(buffer, boost::json::detail::format_double(buffer, value));
  }
  std::string Finish() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(std::string_view prefix, std::string_view key) {
    out_ += out_.size() > 1 ? ",\"" : "\"";
    out_ += prefix;
    out_ += key;
    out_ += "\":";
  }
  std::string out_;
};

void PutEye(ObjectWriter& o, std::string_view prefix, const ef45::EyeCapture& eye) {
  if (eye.usable_iris_area) o.Double(prefix, "_usable_iris_area", *eye.usable_iris_area);
  if (eye.quality_score) o.Double(prefix, "_quality_score", *eye.quality_score);
  if (eye.quality_ok) o.Bool(prefix, "_quality_ok", *eye.quality_ok);
}

void PutFace(ObjectWriter& o, std::string_view prefix, const ef45::FaceCapture& face) {
  if (face.score) o.Double(prefix, "_score", *face.score);
  if (face.frontal_score) o.Double(prefix, "_frontal_score", *face.frontal_score);
}

}  // namespace

store::Event FromLog(const ef45::LogEntry& entry, std::int64_t log_epoch, Micros received_at) {
  store::Event e;
  if (entry.event_type == "Recognition") {
    e.kind = store::EventKind::kRecognition;
  } else if (entry.event_type == "UserData") {
    e.kind = store::EventKind::kUserData;
  } else {
    e.kind = store::EventKind::kLog;
  }
  e.source = store::EventSource::kLog;
  e.device_log_id = entry.id;
  e.log_epoch = log_epoch;
  e.event_type = entry.event_type;
  e.info = entry.info;
  e.additional_data = entry.additional_data;
  e.user_uuid = NonEmpty(entry.user_uuid);
  if (auto t = ParseIso8601(entry.timestamp)) e.device_time = *t;
  e.received_at = received_at;
  const bool face_image = entry.matched_faceimage_data && !entry.matched_faceimage_data->empty();
  if (!e.device_time) {
    // Rare: keep the text we could not read (it needs escaping).
    boost::json::object payload;
    payload["device_timestamp"] = entry.timestamp;
    if (face_image) payload["has_face_image"] = true;
    e.payload = boost::json::serialize(payload);
  } else {
    e.payload = face_image ? R"({"has_face_image":true})" : "{}";
  }
  return e;
}

store::Event FromMatch(const ef45::MatchData& item, std::int64_t log_epoch, Micros received_at) {
  store::Event e;
  e.kind = store::EventKind::kRecognition;
  e.source = store::EventSource::kMatchData;
  e.device_log_id = item.log_id;
  e.log_epoch = log_epoch;
  e.encounter_id = item.encounter_id;
  e.user_uuid = NonEmpty(item.uuid);
  if (item.timestamp) {
    if (auto t = ParseIso8601(*item.timestamp)) e.device_time = *t;
  }
  e.received_at = received_at;
  ObjectWriter payload(512);
  payload.Bool("", "match", true);
  PutEye(payload, "left_eye", item.left_eye);
  PutEye(payload, "right_eye", item.right_eye);
  for (std::size_t i = 0; i < item.faces.size(); ++i) {
    PutFace(payload, ef45::kFaceSlotKeys[i], item.faces[i]);
  }
  e.payload = std::move(payload).Finish();
  return e;
}

std::optional<store::Event> FromDoorChange(const std::optional<ef45::DoorStatus>& previous,
                                           const ef45::DoorStatus& current, Micros observed_at) {
  if (previous && *previous == current) return std::nullopt;
  store::Event e;
  e.kind = store::EventKind::kDoor;
  e.source = store::EventSource::kPoller;
  e.natural_key = std::to_string(observed_at.time_since_epoch().count());
  e.device_time = std::nullopt;
  e.received_at = observed_at;
  // The most telling change names the event; all fields travel in the payload.
  std::string what = "door_status";
  if (!previous || previous->door_sensor != current.door_sensor) {
    what = current.door_sensor != 0 ? "door_opened" : "door_closed";
  } else if (previous->tamper != current.tamper) {
    what = current.tamper != 0 ? "tamper" : "tamper_cleared";
  } else if (previous->rte != current.rte) {
    what = current.rte != 0 ? "request_to_exit" : "request_to_exit_cleared";
  } else if (previous->relay != current.relay) {
    what = current.relay != 0 ? "relay_on" : "relay_off";
  }
  if (!previous) what = "door_status";  // first observation: a state, not a change
  e.event_type = what;
  boost::json::object payload{{"door_sensor", current.door_sensor},
                              {"relay", current.relay},
                              {"tamper", current.tamper},
                              {"rte", current.rte}};
  if (previous) {
    payload["previous"] = boost::json::object{{"door_sensor", previous->door_sensor},
                                              {"relay", previous->relay},
                                              {"tamper", previous->tamper},
                                              {"rte", previous->rte}};
  }
  e.payload = boost::json::serialize(payload);
  return e;
}

store::Event DeviceEvent(std::string what, std::string natural_key, std::string payload_json,
                         Micros at) {
  store::Event e;
  e.kind = store::EventKind::kDevice;
  e.source = store::EventSource::kPoller;
  e.event_type = std::move(what);
  e.natural_key = std::move(natural_key);
  e.received_at = at;
  e.payload = std::move(payload_json);
  return e;
}

store::Event GapEvent(std::int64_t log_epoch, std::int64_t from, std::int64_t to,
                      std::string reason, Micros at) {
  store::Event e;
  e.kind = store::EventKind::kGap;
  e.source = store::EventSource::kPoller;
  e.event_type = "gap";
  e.info = reason;
  e.log_epoch = log_epoch;
  e.natural_key = std::to_string(log_epoch) + ":" + std::to_string(from) + "-" + std::to_string(to);
  e.received_at = at;
  e.payload = boost::json::serialize(boost::json::object{
      {"log_epoch", log_epoch}, {"from_log_id", from}, {"to_log_id", to}, {"reason", reason}});
  return e;
}

bool EndBeforeUnmatched(store::DeviceBatch& batch, std::int64_t max_log_id) {
  std::optional<std::int64_t> stop;
  for (const auto& e : batch.events) {
    if (e.source == store::EventSource::kLog && e.kind == store::EventKind::kRecognition &&
        e.device_log_id && *e.device_log_id > max_log_id) {
      stop = std::min(stop.value_or(*e.device_log_id), *e.device_log_id);
    }
  }
  if (!stop) return true;
  // (Only the page's events are in the batch yet: the items' come after.)
  std::erase_if(batch.events, [&](const store::Event& e) {
    return e.device_log_id && *e.device_log_id >= *stop;
  });
  // Ids below it that the page did not have are holes: the page was not full.
  if (batch.cursor) batch.cursor->last_log_id = *stop - 1;
  return false;
}

}  // namespace gw::poll
