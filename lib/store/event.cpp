#include "store/event.hpp"

namespace gw::store {

std::string_view KindName(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::kRecognition: return "recognition";
    case EventKind::kUserData: return "user_data";
    case EventKind::kLog: return "log";
    case EventKind::kDoor: return "door";
    case EventKind::kDevice: return "device";
    case EventKind::kGap: return "gap";
    case EventKind::kAudit: return "audit";
  }
  return "log";
}

std::optional<EventKind> ParseKind(std::string_view name) noexcept {
  for (EventKind k : {EventKind::kRecognition, EventKind::kUserData, EventKind::kLog,
                      EventKind::kDoor, EventKind::kDevice, EventKind::kGap, EventKind::kAudit}) {
    if (KindName(k) == name) return k;
  }
  return std::nullopt;
}

std::string EventKey(const Event& e) {
  if (e.device_log_id) {
    return "log:" + std::to_string(e.log_epoch) + ":" + std::to_string(*e.device_log_id);
  }
  if (e.encounter_id && !e.encounter_id->empty()) return "enc:" + *e.encounter_id;
  if (e.natural_key.empty()) return {};
  return std::string(KindName(e.kind)) + ":" + e.natural_key;
}

}  // namespace gw::store
