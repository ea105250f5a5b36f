#include "poll/convert.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace gw::poll {
namespace {

std::optional<std::string> NonEmpty(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  return s;
}

void PutEye(boost::json::object& o, const char* prefix, const ef45::EyeCapture& eye) {
  std::string p = prefix;
  if (eye.usable_iris_area) o[p + "_usable_iris_area"] = *eye.usable_iris_area;
  if (eye.quality_score) o[p + "_quality_score"] = *eye.quality_score;
  if (eye.quality_ok) o[p + "_quality_ok"] = *eye.quality_ok;
}

void PutFace(boost::json::object& o, const char* prefix, const ef45::FaceCapture& face) {
  std::string p = prefix;
  if (face.score) o[p + "_score"] = *face.score;
  if (face.frontal_score) o[p + "_frontal_score"] = *face.frontal_score;
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
  boost::json::object payload;
  if (!e.device_time) payload["device_timestamp"] = entry.timestamp;  // keep what we could not read
  if (entry.matched_faceimage_data && !entry.matched_faceimage_data->empty()) {
    payload["has_face_image"] = true;
  }
  e.payload = boost::json::serialize(payload);
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
  boost::json::object payload;
  payload["match"] = true;
  PutEye(payload, "left_eye", item.left_eye);
  PutEye(payload, "right_eye", item.right_eye);
  for (std::size_t i = 0; i < item.faces.size(); ++i) {
    PutFace(payload, ef45::kFaceSlotKeys[i], item.faces[i]);
  }
  e.payload = boost::json::serialize(payload);
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
