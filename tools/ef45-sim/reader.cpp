// ef45sim::Reader: routing, the session lock, the log store, generation and faults. The
// resource families live in reader_users.cpp, reader_logs.cpp, reader_camera.cpp and
// reader_device.cpp.
#include "reader.hpp"

#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <set>
#include <string_view>
#include <unordered_set>

#include "reader_state.hpp"
#include "sim_util.hpp"

namespace ef45sim {

using detail::Call;
using util::Empty;
using util::Json;
using util::NoHandler;

namespace {

constexpr std::string_view kFirmwareVersion = "1.2.34";

// Recognition `info` strings are built from the firmware's vocabulary (API.md section 11):
// "<direction>/<auth mode>/<result>", e.g. "Recog/BioOnly/IrisOk". Interned so that log
// entries can hold views.
std::string_view Intern(std::string text) {
  static std::mutex mutex;
  static std::set<std::string, std::less<>> interned;
  std::lock_guard lock(mutex);
  return *interned.insert(std::move(text)).first;
}

// Fault poison_log: what a spoiled entry says.
constexpr std::string_view kYear0Timestamp = "0000-01-01 00:00:00";
std::string WithNul(std::string_view info) {
  std::string out(info.substr(0, 1));
  out += '\0';
  out.append(info.substr(std::min<std::size_t>(1, info.size())));
  return out;
}

constexpr std::string_view kDirections[] = {"Recog", "In", "Out", "Leave", "Return"};
constexpr unsigned kDirectionWeights[] = {50, 20, 20, 5, 5};  // percent
constexpr std::string_view kModes[] = {"BioOnly", "Bio-Card", "Bio-Id",
                                       "Bio-Pin", "CardOnly", "Card-Bio"};
constexpr std::string_view kFirstNames[] = {"Ada",   "Boris", "Chen", "Dana", "Emeka",
                                            "Farah", "Goran", "Hana", "Ivo",  "Jun"};
constexpr std::string_view kLastNames[] = {"Abara",   "Berg",   "Costa", "Dvorak",  "Endo",
                                           "Fischer", "Garcia", "Huang", "Ivanova", "Jensen"};
constexpr std::string_view kFaceImages[] = {"iris_off_face", "far_off_face", "far_on_face",
                                            "near_off_face", "near_on_face"};

// Number of lock uid's 100 ns ticks between 1582-10-15 (UUID epoch) and 1970-01-01.
constexpr std::uint64_t kUuidEpochOffset = 0x01B21DD213814000ULL;

}  // namespace

// --- State ---

Reader::State::State(Identity id, std::uint64_t seed, ReaderOptions opts)
    : identity(std::move(id)), options(std::move(opts)) {
  // One fleet seed must still give distinct readers: mix the index in.
  std::uint64_t mix =
      seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(identity.index + 1));
  rng = util::Prng(util::SplitMix64(mix));
  if (identity.serial_number.empty()) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "OA1405A%06d", identity.index + 1);
    identity.serial_number = buffer;
  }
  serial_text = identity.serial_number;
  char mac[32];
  std::snprintf(mac, sizeof mac, "%02X:%02X:%02X:%02X:%02X:%02X", identity.mac[0], identity.mac[1],
                identity.mac[2], identity.mac[3], identity.mac[4], identity.mac[5]);
  mac_text = mac;
  clock_seq = static_cast<std::uint16_t>(rng.Below(0x4000));
  app_version = std::string(kFirmwareVersion);
  InitSettings();
  for (int i = 0; i < options.preenrolled_users; ++i) EnrollRandomUser();
  RefreshStats();
}

std::chrono::system_clock::time_point Reader::State::Now() const {
  auto base = options.clock ? options.clock() : std::chrono::system_clock::now();
  return base + offset;
}

std::int64_t Reader::State::NowSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(Now().time_since_epoch()).count();
}

std::string Reader::State::NewLockUid() {
  // Poco UUIDGenerator::createOne(): a time-based v1 UUID whose node is the MAC.
  auto since_epoch = std::chrono::duration_cast<std::chrono::nanoseconds>(Now().time_since_epoch());
  std::uint64_t ticks = static_cast<std::uint64_t>(since_epoch.count() / 100) + kUuidEpochOffset;
  if (ticks <= last_uuid_ticks) ticks = last_uuid_ticks + 1;
  last_uuid_ticks = ticks;
  char buffer[40];
  std::snprintf(
      buffer, sizeof buffer, "%08x-%04x-%04x-%04x-%02x%02x%02x%02x%02x%02x",
      static_cast<unsigned>(ticks & 0xffffffffULL), static_cast<unsigned>((ticks >> 32) & 0xffff),
      static_cast<unsigned>(((ticks >> 48) & 0x0fff) | 0x1000),
      static_cast<unsigned>((clock_seq & 0x3fff) | 0x8000), identity.mac[0], identity.mac[1],
      identity.mac[2], identity.mac[3], identity.mac[4], identity.mac[5]);
  return buffer;
}

int Reader::State::Relay() const { return Now() < relay_until ? 1 : 0; }

detail::LogEntry& Reader::State::AppendLog(std::string_view event_type, std::string_view info,
                                           std::string_view additional_data, std::string user_uuid,
                                           std::string encounter_id) {
  detail::LogEntry entry;
  entry.id = next_log_id++;
  entry.unix_seconds = NowSeconds();
  entry.event_type = event_type;
  entry.info = info;
  entry.additional_data = additional_data;
  entry.user_uuid = std::move(user_uuid);

  GeneratedEvent event;
  event.log_id = entry.id;
  event.log_epoch = log_epoch;
  event.event_type = std::string(event_type);
  event.info = std::string(info);
  event.additional_data = std::string(additional_data);
  event.user_uuid = entry.user_uuid;
  event.timestamp = util::IsoUtc(entry.unix_seconds);
  event.encounter_id = std::move(encounter_id);
  generated.push_back(std::move(event));
  // Bounded like the log store; trimmed in batches so appends stay amortized O(1).
  std::size_t cap = std::max<std::size_t>(options.log_capacity, 1);
  if (generated.size() > cap + cap / 4 + 16) {
    generated.erase(generated.begin(),
                    generated.begin() + static_cast<std::ptrdiff_t>(generated.size() - cap));
  }

  logs.push_back(std::move(entry));
  while (logs.size() > cap) logs.pop_front();
  return logs.back();
}

void Reader::State::AppendUserDataLog(std::string_view info, std::string user_uuid) {
  AppendLog("UserData", info, "Success", std::move(user_uuid));
  ++stats.user_data_logs_generated;
}

void Reader::State::SerializeLog(const detail::LogEntry& entry, std::string& out) const {
  out += "{\"id\":";
  util::AppendInt(out, entry.id);
  out += ",\"event_type\":";
  util::AppendJsonString(out, entry.event_type);
  out += ",\"timestamp\":";
  if (entry.defect == LogDefect::kYear0) {
    util::AppendJsonString(out, kYear0Timestamp);
  } else {
    util::AppendJsonString(out, util::IsoUtc(entry.unix_seconds));
  }
  out += ",\"user_uuid\":";
  util::AppendJsonString(out, entry.user_uuid);
  out += ",\"info\":";
  if (entry.defect == LogDefect::kNul) {
    util::AppendJsonString(out, WithNul(entry.info));
  } else {
    util::AppendJsonString(out, entry.info);
  }
  out += ",\"additional_data\":";
  util::AppendJsonString(out, entry.additional_data);
  if (entry.defect == LogDefect::kHuge) {
    out += ",\"matched_faceimage_data\":\"";
    out.append(detail::kHugeFaceImageBytes, 'A');  // Base64 of zero bytes
    out += "\"}";
    return;
  }
  out += ",\"matched_faceimage_data\":\"\"}";
}

void Reader::State::WipeLogs() {
  logs.clear();
  next_log_id = 1;
  ++log_epoch;
}

void Reader::State::Reboot() {
  lock_uid.clear();
  if (!match.empty()) {
    // The buffer is RAM: say in the ledger which encounters are gone for good.
    std::unordered_set<std::string_view> lost;
    for (const auto& item : match) lost.insert(item.encounter_id);
    for (auto it = generated.rbegin(); it != generated.rend() && !lost.empty(); ++it) {
      if (!it->encounter_id.empty() && lost.erase(it->encounter_id) > 0) it->match_dropped = true;
    }
  }
  match.clear();
  capturing = false;
  biometric.clear();
  preview_frames.clear();
  selected_face.reset();
  card_input = false;
  fw_receiving = false;
  fw_failed = false;
  fw_bytes = 0;
  relay_until = {};
}

void Reader::State::Recognize(const std::string& user_uuid, std::string_view direction,
                              std::string_view mode) {
  bool known = !user_uuid.empty();
  bool allowed = false;
  const boost::json::object* subject = nullptr;
  if (known) {
    auto it = subjects.find(user_uuid);
    if (it != subjects.end()) {
      subject = &it->second;
      const auto* access = subject->if_contains("access_allowed");
      allowed = access && access->is_bool() && access->as_bool();
    }
  }
  std::string_view result = !known ? "IrisFail" : (rng.Chance(700) ? "IrisOk" : "FaceOk");
  std::string info;
  info.append(direction).append("/").append(mode).append("/").append(result);
  bool has_room = match.size() < options.match_capacity;
  std::string encounter_id = has_room ? rng.Uuid4() : std::string();
  auto& entry = AppendLog("Recognition", Intern(std::move(info)), allowed ? "Allowed" : "Denied",
                          user_uuid, encounter_id);
  ++stats.recognitions_generated;
  if (poison_next != LogDefect::kNone) {
    entry.defect = poison_next;
    GeneratedEvent& ledger = generated.back();
    ledger.defect = poison_next;
    if (poison_next == LogDefect::kNul) ledger.info = WithNul(entry.info);
    if (poison_next == LogDefect::kYear0) ledger.timestamp = std::string(kYear0Timestamp);
    poison_next = LogDefect::kNone;
  }
  if (!has_room) {
    // Buffer full: the recognition keeps its log entry (the gateway still sees it through
    // /logs) but gets no match-data item, like a device whose RAM buffer is exhausted.
    ++stats.match_overflowed;
    return;
  }

  // The item is stored compactly and its images/scores are regenerated from a per-item seed
  // on every read (same bytes each time): a full 1,000-item buffer costs ~0.2 MB, not ~3 MB,
  // which matters for a 1,000-reader fleet whose gateway is down.
  detail::MatchItem item;
  item.encounter_id = std::move(encounter_id);
  item.user_uuid = user_uuid;
  item.log_id = entry.id;
  item.unix_seconds = entry.unix_seconds;
  item.seed = rng.Next();
  if (subject) {
    // The captured templates are the enrolled ones (as of the recognition).
    item.left_template = std::string(subject->at("left_eye_template").as_string());
    item.right_template = std::string(subject->at("right_eye_template").as_string());
  }
  match.push_back(std::move(item));
}

std::size_t Reader::State::MatchItemBytes(const detail::MatchItem& item) const {
  std::size_t image = (options.match_image_bytes + 2) / 3 * 4;
  return 2200 + 7 * image + item.encounter_id.size() + item.user_uuid.size() +
         item.left_template.size() + item.right_template.size() + serial_text.size();
}

void Reader::State::AppendMatchItem(const detail::MatchItem& item, std::string& out) const {
  util::Prng item_rng(item.seed);
  std::string scratch;
  auto key = [&](std::string_view name) {
    out += '"';
    out += name;
    out += "\":";
  };
  auto text = [&](std::string_view name, std::string_view value) {
    key(name);
    util::AppendJsonString(out, value);
    out += ',';
  };
  auto integer = [&](std::string_view name, std::int64_t value) {
    key(name);
    util::AppendInt(out, value);
    out += ',';
  };
  auto number = [&](std::string_view name, double value, double scale) {
    key(name);
    util::AppendDouble(out, std::round(value * scale) / scale);
    out += ',';
  };
  auto base64 = [&](std::string_view name, std::size_t raw_bytes) {
    key(name);
    out += '"';
    item_rng.Fill(scratch, raw_bytes);
    util::AppendBase64(out, scratch);
    out += "\",";
  };
  auto iris_template = [&](std::string_view name, const std::string& enrolled) {
    if (enrolled.empty()) {
      base64(name, 32);  // unknown person: a template that matches nobody
    } else {
      text(name, enrolled);
    }
  };
  out += '{';
  text("encounter_id", item.encounter_id);
  text("timestamp", util::IsoUtc(item.unix_seconds));
  text("serial_number", serial_text);
  text("uuid", item.user_uuid);
  integer("log_id", item.log_id);
  base64("left_eye", options.match_image_bytes);
  iris_template("left_eye__iris_template", item.left_template);  // sic, double underscore
  number("left_eye_usable_iris_area", item_rng.Between(60, 95), 10);
  number("left_eye_quality_score", item_rng.Between(50, 100), 10);
  out += "\"left_eye_quality_ok\":true,";
  base64("right_eye", options.match_image_bytes);
  iris_template("right_eye_iris_template", item.right_template);
  number("right_eye_usable_iris_area", item_rng.Between(60, 95), 10);
  number("right_eye_quality_score", item_rng.Between(50, 100), 10);
  out += "\"right_eye_quality_ok\":true,";
  std::string name;
  for (std::string_view face : kFaceImages) {
    auto field = [&](std::string_view suffix) -> std::string_view {
      name.assign(face);
      name += suffix;
      return name;
    };
    base64(face, options.match_image_bytes);
    integer(field("_eye_width"), static_cast<std::int64_t>(60 + item_rng.Below(40)));
    base64(field("_feature"), 32);
    integer(field("_feature_size"), 32);
    number(field("_frontal_score"), item_rng.Between(0.5, 1.0), 100);
    integer(field("_LED_state"), static_cast<std::int64_t>(item_rng.Below(2)));  // sic, LED
    integer(field("_left_eye_x"), static_cast<std::int64_t>(200 + item_rng.Below(40)));
    integer(field("_right_eye_x"), static_cast<std::int64_t>(280 + item_rng.Below(40)));
    number(field("_roll"), item_rng.Between(-5, 5), 100);
    number(field("_score"), item_rng.Between(0.5, 1.0), 100);
  }
  out.back() = '}';
}

std::string Reader::State::EnrollRandomUser() {
  std::string uuid = rng.Uuid4();
  boost::json::object in;
  in["user_uuid"] = uuid;
  in["record_version"] = 8976;
  in["first_name"] = std::string(kFirstNames[rng.Below(std::size(kFirstNames))]);
  in["last_name"] = std::string(kLastNames[rng.Below(std::size(kLastNames))]);
  in["access_allowed"] = rng.Chance(900);
  in["wiegand_facility"] = -1;
  in["wiegand_site"] = -1;
  in["wiegand_code"] = -1;
  in["left_eye_template"] = util::Base64Encode(rng.Bytes(48));
  in["right_eye_template"] = util::Base64Encode(rng.Bytes(48));
  auto subject = detail::Normalize(in, detail::SubjectSpec());
  detail::CompleteSubject(*subject);
  PutSubject(uuid, std::move(*subject));

  boost::json::object info_in;
  info_in["user_uuid"] = uuid;
  info_in["card"] = util::RandomCard(rng);
  info_in["pin"] = std::to_string(1000 + rng.Below(9000));
  info_in["apb_status"] = 1;
  user_info[uuid] = *detail::Normalize(info_in, detail::UserInfoSpec());

  boost::json::object face_in;
  face_in["user_uuid"] = uuid;
  face_in["sub_id"] = 0;
  face_in["face_eye_width"] = static_cast<std::int64_t>(60 + rng.Below(40));
  face_in["face_feature"] = util::Base64Encode(rng.Bytes(32));
  face_in["face_feature_size"] = 32;
  face_in["face_score"] = 0.9;
  faces[uuid][0] = *detail::Normalize(face_in, detail::FaceSpec());
  return uuid;
}

namespace {
constexpr const char* kTemplateKeys[] = {"left_eye_template", "right_eye_template"};

std::vector<std::string> TemplatesOf(const boost::json::object& subject) {
  std::vector<std::string> out;
  for (const char* key : kTemplateKeys) {
    const auto* value = subject.if_contains(key);
    if (value && value->is_string() && !value->as_string().empty()) {
      out.emplace_back(value->as_string());
    }
  }
  return out;
}
}  // namespace

void Reader::State::PutSubject(const std::string& uuid, boost::json::object subject) {
  EraseSubject(uuid);
  for (auto& t : TemplatesOf(subject)) template_owner.emplace(std::move(t), uuid);
  subjects[uuid] = std::move(subject);
}

bool Reader::State::EraseSubject(const std::string& uuid) {
  auto it = subjects.find(uuid);
  if (it == subjects.end()) return false;
  for (const auto& t : TemplatesOf(it->second)) {
    auto owner = template_owner.find(t);
    if (owner != template_owner.end() && owner->second == uuid) template_owner.erase(owner);
  }
  subjects.erase(it);
  return true;
}

void Reader::State::ClearSubjects() {
  subjects.clear();
  template_owner.clear();
}

std::string Reader::State::FindDuplicate(const boost::json::object& subject,
                                         std::string_view exclude) const {
  for (const auto& t : TemplatesOf(subject)) {
    auto owner = template_owner.find(t);
    if (owner != template_owner.end() && owner->second != exclude) return owner->second;
  }
  return {};
}

void Reader::State::RefreshStats() {
  stats.last_log_id = logs.empty() ? 0 : logs.back().id;
  stats.log_count = static_cast<std::int64_t>(logs.size());
  stats.match_pending = match.size();
  stats.users = subjects.size();
  stats.locked = !lock_uid.empty();
  stats.clock_skew_s = offset.count();
  stats.app_version = app_version;
}

// --- record specs ---

namespace detail {

const std::vector<FieldSpec>& SubjectSpec() {
  static const std::vector<FieldSpec> spec = {
      {"user_uuid", FieldType::kString},         {"record_version", FieldType::kInt},
      {"first_name", FieldType::kString},        {"last_name", FieldType::kString},
      {"access_allowed", FieldType::kBool},      {"match_until", FieldType::kString},
      {"wiegand_facility", FieldType::kInt},     {"wiegand_site", FieldType::kInt},
      {"wiegand_code", FieldType::kInt},         {"wiegand_custom", FieldType::kString},
      {"left_eye_template", FieldType::kString}, {"right_eye_template", FieldType::kString},
      {"left_image_path", FieldType::kString},   {"right_image_path", FieldType::kString}};
  return spec;
}

const std::vector<FieldSpec>& UserInfoSpec() {
  static const std::vector<FieldSpec> spec = {
      {"user_uuid", FieldType::kString},     {"card", FieldType::kString},
      {"pin", FieldType::kString},           {"admin", FieldType::kInt},
      {"group_index", FieldType::kInt},      {"by_pass_card", FieldType::kInt},
      {"indivisual", FieldType::kInt},  // sic
      {"three_out_status", FieldType::kInt}, {"three_out_access_allowed", FieldType::kInt},
      {"job_code", FieldType::kInt},         {"time_schedule_code", FieldType::kInt},
      {"apb_status", FieldType::kInt},       {"message", FieldType::kString}};
  return spec;
}

const std::vector<FieldSpec>& FaceSpec() {
  static const std::vector<FieldSpec> spec = {
      {"user_uuid", FieldType::kString},          {"sub_id", FieldType::kInt},
      {"face_eye_width", FieldType::kInt},        {"face_feature_size", FieldType::kInt},
      {"face_frontal_score", FieldType::kNumber}, {"face_left_eye_x", FieldType::kInt},
      {"face_right_eye_x", FieldType::kInt},      {"face_roll", FieldType::kNumber},
      {"face_score", FieldType::kNumber},         {"face_LED_state", FieldType::kInt},
      {"face_feature", FieldType::kString}};
  return spec;
}

const std::vector<FieldSpec>& CardSpec() {
  static const std::vector<FieldSpec> spec = {
      {"sub_id", FieldType::kInt}, {"card", FieldType::kString}, {"remarks", FieldType::kString}};
  return spec;
}

std::optional<boost::json::object> Normalize(const boost::json::object& input,
                                             const std::vector<FieldSpec>& spec,
                                             const boost::json::object& defaults) {
  boost::json::object out;
  out.reserve(spec.size());
  for (const auto& field : spec) {
    const boost::json::value* value = input.if_contains(field.name);
    if (!value) value = defaults.if_contains(field.name);
    if (!value) {
      switch (field.type) {
        case FieldType::kString: out[field.name] = ""; break;
        case FieldType::kInt: out[field.name] = 0; break;
        case FieldType::kBool: out[field.name] = false; break;
        case FieldType::kNumber: out[field.name] = 0.0; break;
      }
      continue;
    }
    switch (field.type) {
      case FieldType::kString:
        if (!value->is_string()) return std::nullopt;
        out[field.name] = value->as_string();
        break;
      case FieldType::kInt:
        if (value->is_int64()) {
          out[field.name] = value->as_int64();
        } else if (value->is_uint64() &&
                   value->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
          out[field.name] = static_cast<std::int64_t>(value->as_uint64());
        } else {
          return std::nullopt;
        }
        break;
      case FieldType::kBool:
        if (!value->is_bool()) return std::nullopt;
        out[field.name] = value->as_bool();
        break;
      case FieldType::kNumber:
        if (!value->is_number()) return std::nullopt;
        out[field.name] = value->to_number<double>();
        break;
    }
  }
  return out;
}

void CompleteSubject(boost::json::object& subject) {
  // The device stores the eye images under Images/{user_uuid}_lefteye.jpg (API.md 1.5) and
  // reports those paths when the client sent none.
  std::string uuid(subject["user_uuid"].as_string());
  if (subject["left_image_path"].as_string().empty()) {
    subject["left_image_path"] = "/usr/local/share/CMITECH/Images/" + uuid + "_lefteye.jpg";
  }
  if (subject["right_image_path"].as_string().empty()) {
    subject["right_image_path"] = "/usr/local/share/CMITECH/Images/" + uuid + "_righteye.jpg";
  }
}

Paging ReadPaging(std::string_view query, int default_size) {
  Paging paging;
  paging.page_size = default_size;
  if (auto page = util::QueryInt(query, "page"); page && *page >= 1) paging.page = *page;
  if (auto size = util::QueryInt(query, "page_size"); size && *size >= 1) {
    paging.page_size = std::min(*size, 1000);
  }
  return paging;
}

}  // namespace detail

// --- Reader ---

Reader::Reader(Identity identity, std::uint64_t seed, ReaderOptions options)
    : state_(std::make_unique<State>(std::move(identity), seed, std::move(options))) {}
Reader::~Reader() = default;
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;

namespace {

bool LockMatches(const Reader::State& st, std::string_view query) {
  auto value = util::QueryValue(query, "lock_uid");
  return value && !st.lock_uid.empty() && *value == st.lock_uid;
}

Response HandleLock(Reader::State& st, std::string_view method,
                    const std::vector<std::string>& seg) {
  auto granted = [&] {
    st.lock_uid = st.NewLockUid();
    std::string body = "{\"lock_uid\":";
    util::AppendJsonString(body, st.lock_uid);
    body += '}';
    return Json(200, std::move(body));
  };
  if (method == "POST") {
    if (!st.lock_uid.empty()) return Empty(409);
    return granted();
  }
  if (method == "PUT") return granted();  // steal: the old uid stops working
  if (method == "DELETE") {
    if (seg.size() < 3) return Empty(500);
    // Released only when it matches; the reply is the untouched default 200 either way.
    if (seg[2] == st.lock_uid) st.lock_uid.clear();
    return Empty(200);
  }
  return Empty(405);
}

using Handler = Response (*)(Reader::State&, const Call&);

Handler FindHandler(std::string_view resource) {
  struct Route {
    std::string_view name;
    Handler handler;
  };
  static constexpr Route kRoutes[] = {
      {"camera", detail::HandleCamera},
      {"biometric-data", detail::HandleBiometricData},
      {"subjects", detail::HandleSubjects},
      {"user-info", detail::HandleUserInfo},
      {"user", detail::HandleUser},
      {"faces", detail::HandleFaces},
      {"config", detail::HandleConfig},
      {"match-data", detail::HandleMatchData},
      {"logs", detail::HandleLogs},
      {"preview", detail::HandlePreview},
      {"update", detail::HandleUpdate},
      {"control", detail::HandleControl},
      {"imagecapture", detail::HandleImageCapture},
  };
  for (const auto& route : kRoutes) {
    if (route.name == resource) return route.handler;
  }
  return nullptr;
}

}  // namespace

Response Reader::Handle(const Request& request) {
  State& st = *state_;
  ++st.stats.requests;
  try {
    std::string_view target = request.target;
    std::size_t question = target.find('?');
    std::string_view path = target.substr(0, question);
    std::string_view query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

    // Hot path: the pollers ask for the door status every second on every reader.
    if (path == "/1.0/config/door-status" && request.method == "GET") {
      if (!LockMatches(st, query)) return NoHandler();
      return detail::DoorStatus(st);
    }

    std::vector<std::string> seg = util::SplitPath(path);
    if (seg.size() < 2 || seg[0] != "1.0") return NoHandler();
    const std::string& resource = seg[1];
    if (resource == "lock") return HandleLock(st, request.method, seg);
    if (resource == "version") {
      if (request.method != "GET") return Empty(405);
      std::string body = "{\"version\":";
      util::AppendJsonString(body, st.app_version);
      body += '}';
      return Json(200, std::move(body));
    }
    if (resource == "heartbeat") {
      return request.method == "POST" ? Empty(200) : Empty(405);
    }
    Handler handler = FindHandler(resource);
    if (!handler || !LockMatches(st, query)) return NoHandler();
    seg.erase(seg.begin());
    Call call{request.method, std::move(seg), query, request.body};
    return handler(st, call);
  } catch (const std::exception&) {
    // A bug must not take the fleet down: the firmware would answer 500 too.
    return Empty(500);
  }
}

void Reader::GenerateRecognition() {
  State& st = *state_;
  std::string uuid;
  if (!st.subjects.empty() && st.rng.Chance(800)) {
    auto it = st.subjects.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(st.rng.Below(st.subjects.size())));
    uuid = it->first;
  }
  unsigned roll = static_cast<unsigned>(st.rng.Below(100));
  std::size_t direction = 0;
  for (unsigned acc = 0; direction < std::size(kDirections); ++direction) {
    acc += kDirectionWeights[direction];
    if (roll < acc) break;
  }
  std::string_view mode = kModes[st.rng.Below(std::size(kModes))];
  st.Recognize(uuid, kDirections[direction], mode);
}

void Reader::GenerateDoorChange() {
  State& st = *state_;
  st.door_sensor = st.door_sensor ? 0 : 1;
  if (st.rng.Chance(50)) st.tamper = st.tamper ? 0 : 1;
  if (st.rng.Chance(50)) st.rte = st.rte ? 0 : 1;
  ++st.stats.door_changes_generated;
}

std::string Reader::Enroll() {
  State& st = *state_;
  std::string uuid = st.EnrollRandomUser();
  st.AppendUserDataLog("AddUsers", uuid);
  return uuid;
}

void Reader::Reboot() { state_->Reboot(); }

// ---- firmware install (issue 20) ----
std::optional<std::string> Reader::TakePendingInstall() {
  return std::exchange(state_->pending_install, std::nullopt);
}

void Reader::FinishInstall(const std::string& version) {
  State& st = *state_;
  st.app_version = version;
  if (auto* s = st.FindSetting("launcher.device.deviceinfo.firmwarefile")) s->s = version;
  ++st.stats.installs;
  st.Reboot();
}

void Reader::FailNextInstall() { state_->fail_next_install = true; }

const std::string& Reader::AppVersion() const { return state_->app_version; }
// ---- end firmware install ----

void Reader::StealLock() { state_->lock_uid = state_->NewLockUid(); }

void Reader::WipeLogs() { state_->WipeLogs(); }

void Reader::SetClockSkew(std::chrono::seconds skew) { state_->offset = skew; }

void Reader::PoisonNextLog(LogDefect defect) { state_->poison_next = defect; }

void Reader::SkipLogIds(std::int64_t n) { state_->next_log_id += n; }

void Reader::ReportPhantomNewest(std::int64_t id) { state_->phantom_newest = id; }

std::optional<LogDefect> ParseLogDefect(std::string_view name) {
  if (name == "nul") return LogDefect::kNul;
  if (name == "year0") return LogDefect::kYear0;
  if (name == "huge") return LogDefect::kHuge;
  return std::nullopt;
}

std::string_view LogDefectName(LogDefect defect) {
  switch (defect) {
    case LogDefect::kNul: return "nul";
    case LogDefect::kYear0: return "year0";
    case LogDefect::kHuge: return "huge";
    case LogDefect::kNone: break;
  }
  return "";
}

const Identity& Reader::identity() const { return state_->identity; }

const std::vector<GeneratedEvent>& Reader::Generated() const { return state_->generated; }

std::chrono::system_clock::time_point Reader::Now() const { return state_->Now(); }

Stats Reader::GetStats() const {
  state_->RefreshStats();
  state_->stats.phantom_newest_pending = state_->phantom_newest.has_value();
  return state_->stats;
}

}  // namespace ef45sim
