#include "ef45/encode.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "ef45/reply.hpp"

namespace gw::ef45 {
namespace {

namespace json = boost::json;

template <class T>
void Put(json::object& out, std::string_view key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

void PutSubject(json::object& out, const Subject& s) {
  out["user_uuid"] = s.user_uuid;
  Put(out, "record_version", s.record_version);
  Put(out, "first_name", s.first_name);
  Put(out, "last_name", s.last_name);
  Put(out, "access_allowed", s.access_allowed);
  Put(out, "match_until", s.match_until);
  Put(out, "wiegand_facility", s.wiegand_facility);
  Put(out, "wiegand_site", s.wiegand_site);
  Put(out, "wiegand_code", s.wiegand_code);
  Put(out, "wiegand_custom", s.wiegand_custom);
  Put(out, "left_eye_template", s.left_eye_template);
  Put(out, "right_eye_template", s.right_eye_template);
  Put(out, "left_image_path", s.left_image_path);
  Put(out, "right_image_path", s.right_image_path);
}

/// Everything of UserInfo except user_uuid (EnrollUser carries the subject's).
void PutUserInfoFields(json::object& out, const UserInfo& u) {
  Put(out, "card", u.card);
  Put(out, "pin", u.pin);
  Put(out, "admin", u.admin);
  Put(out, "group_index", u.group_index);
  Put(out, "by_pass_card", u.by_pass_card);
  Put(out, "indivisual", u.indivisual);
  Put(out, "three_out_status", u.three_out_status);
  Put(out, "three_out_access_allowed", u.three_out_access_allowed);
  Put(out, "job_code", u.job_code);
  Put(out, "time_schedule_code", u.time_schedule_code);
  Put(out, "apb_status", u.apb_status);
  Put(out, "message", u.message);
}

void PutFaceFields(json::object& out, const Face& f) {
  out["sub_id"] = f.sub_id;
  Put(out, "face_eye_width", f.face_eye_width);
  Put(out, "face_feature_size", f.face_feature_size);
  Put(out, "face_frontal_score", f.face_frontal_score);
  Put(out, "face_left_eye_x", f.face_left_eye_x);
  Put(out, "face_right_eye_x", f.face_right_eye_x);
  Put(out, "face_roll", f.face_roll);
  Put(out, "face_score", f.face_score);
  Put(out, "face_LED_state", f.face_led_state);
  Put(out, "face_feature", f.face_feature);
}

/// A template or image: the base64 text, or only its length when redacted.
void PutBio(json::object& out, std::string_view key, const std::optional<std::string>& value,
            Biometrics biometrics) {
  if (!value) return;
  if (biometrics == Biometrics::kInclude) {
    out[key] = *value;
  } else {
    out[key] = "[redacted: " + std::to_string(value->size()) + " base64 chars]";
  }
}

void PutEye(json::object& out, std::string_view eye, std::string_view template_key,
            const EyeCapture& e, Biometrics biometrics) {
  std::string k(eye);
  PutBio(out, k, e.image, biometrics);
  Put(out, k + "_duplicate_uuid", e.duplicate_uuid);
  PutBio(out, k + std::string(template_key), e.iris_template, biometrics);
  Put(out, k + "_usable_iris_area", e.usable_iris_area);
  Put(out, k + "_quality_score", e.quality_score);
  Put(out, k + "_quality_ok", e.quality_ok);
}

void PutFaces(json::object& out, const std::array<FaceCapture, 5>& faces, bool with_duplicate,
              Biometrics biometrics) {
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const FaceCapture& f = faces[i];
    std::string p = kFaceSlotKeys[i];
    PutBio(out, p, f.image, biometrics);
    if (with_duplicate) Put(out, p + "_duplicate_uuid", f.duplicate_uuid);
    Put(out, p + "_eye_width", f.eye_width);
    PutBio(out, p + "_feature", f.feature, biometrics);
    Put(out, p + "_feature_size", f.feature_size);
    Put(out, p + "_frontal_score", f.frontal_score);
    Put(out, p + "_LED_state", f.led_state);
    Put(out, p + "_left_eye_x", f.left_eye_x);
    Put(out, p + "_right_eye_x", f.right_eye_x);
    Put(out, p + "_roll", f.roll);
    Put(out, p + "_score", f.score);
  }
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

const char* SettingTypeName(SettingType type) {
  switch (type) {
    case SettingType::kBool: return "bool";
    case SettingType::kInt: return "int";
    case SettingType::kFloat: return "float";
    case SettingType::kString: return "string";
  }
  return "string";
}

SettingType TypeOf(const SettingValue& value) {
  switch (value.index()) {
    case 0: return SettingType::kBool;
    case 1: return SettingType::kInt;
    case 2: return SettingType::kFloat;
    default: return SettingType::kString;
  }
}

[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location) {
  boost::throw_exception(
      boost::system::system_error(error.code, error.detail.empty() ? "ef45" : error.detail),
      location);
}

std::string Encode(const CameraConfiguration& value) {
  json::object out;
  out["serial_number"] = value.serial_number;
  out["camera_mode"] = value.camera_mode;
  out["audio_enabled"] = value.audio_enabled;
  return json::serialize(out);
}

std::string Encode(const Subject& value) {
  json::object out;
  PutSubject(out, value);
  return json::serialize(out);
}

std::string Encode(const UserInfo& value) {
  json::object out;
  out["user_uuid"] = value.user_uuid;
  PutUserInfoFields(out, value);
  return json::serialize(out);
}

std::string Encode(const Face& value) {
  json::object out;
  out["user_uuid"] = value.user_uuid;
  PutFaceFields(out, value);
  return json::serialize(out);
}

std::string Encode(const EnrollUser& value) {
  json::object out;
  PutSubject(out, value.subject);
  PutUserInfoFields(out, value.info);
  if (!value.faces.empty()) {
    json::array faces;
    for (const Face& face : value.faces) {
      json::object f;
      PutFaceFields(f, face);
      faces.emplace_back(std::move(f));
    }
    out["faces"] = std::move(faces);
  }
  if (!value.cards.empty()) {
    json::array cards;
    for (const CardEntry& card : value.cards) {
      json::object c;
      Put(c, "sub_id", card.sub_id);
      Put(c, "card", card.card);
      Put(c, "remarks", card.remarks);
      cards.emplace_back(std::move(c));
    }
    out["cards"] = std::move(cards);
  }
  Put(out, "card_sub_id", value.card_sub_id);
  return json::serialize(out);
}

std::string Encode(const ImageToSaveData& value) {
  json::object out;
  out["filename"] = value.filename;
  out["image"] = value.image;
  out["width"] = value.width;
  out["height"] = value.height;
  return json::serialize(out);
}

std::string Encode(const FileData& value) {
  json::object out;
  out["file"] = value.file;
  Put(out, "size", value.size);
  return json::serialize(out);
}

std::string Encode(const UserScheduleAssignment& value) {
  json::object out;
  out["size"] = value.users.size();
  json::array users;
  for (const auto& user : value.users) {
    users.emplace_back(
        json::object{{"id", user.id}, {"time_schedule_code", user.time_schedule_code}});
  }
  out["users"] = std::move(users);
  return json::serialize(out);
}

std::string Encode(const ControlData& value) {
  json::object out;
  Put(out, "result", value.result);
  Put(out, "recog_start", value.recog_start);
  Put(out, "wav_path", value.wav_path);
  Put(out, "uuid", value.uuid);
  Put(out, "last_name", value.last_name);
  Put(out, "card", value.card);
  Put(out, "wiegand_facility", value.wiegand_facility);
  Put(out, "wiegand_code", value.wiegand_code);
  Put(out, "wiegand_custom", value.wiegand_custom);
  Put(out, "touch_enable_start", value.touch_enable_start);
  Put(out, "camera_init_position", value.camera_init_position);
  Put(out, "launcher_show", value.launcher_show);
  Put(out, "result_view_img_data", value.result_view_img_data);
  Put(out, "result_view_img_width", value.result_view_img_width);
  Put(out, "result_view_img_height", value.result_view_img_height);
  return json::serialize(out);
}

std::string Encode(const OperationRequest& value) {
  json::object out;
  Put(out, "op_mode", value.op_mode);
  Put(out, "host", value.host);
  Put(out, "port", value.port);
  Put(out, "request_uri", value.request_uri);
  return json::serialize(out);
}

std::string Encode(const SettingValue& value) {
  json::object out;
  std::visit([&out, &value](const auto& v) { out[SettingTypeName(TypeOf(value))] = v; }, value);
  return json::serialize(out);
}

json::value ToJson(const VersionInfo& value) { return json::object{{"version", value.version}}; }

json::value ToJson(const CameraConfiguration& value) {
  return json::object{{"serial_number", value.serial_number},
                      {"camera_mode", value.camera_mode},
                      {"audio_enabled", value.audio_enabled}};
}

json::value ToJson(const CameraControlResponse& value) {
  return json::object{{"success", value.success}, {"status", value.status}};
}

json::value ToJson(const BiometricData& value, Biometrics biometrics) {
  json::object out;
  out["encounter_id"] = value.encounter_id;
  Put(out, "timestamp", value.timestamp);
  Put(out, "serial_number", value.serial_number);
  PutEye(out, "left_eye", "_enrol_template", value.left_eye, biometrics);
  PutEye(out, "right_eye", "_enrol_template", value.right_eye, biometrics);
  PutFaces(out, value.faces, true, biometrics);
  Put(out, "error_message", value.error_message);
  Put(out, "record_version", value.record_version);
  Put(out, "server_matching_key", value.server_matching_key);
  return out;
}

json::value ToJson(const MatchData& value, Biometrics biometrics) {
  json::object out;
  out["encounter_id"] = value.encounter_id;
  Put(out, "timestamp", value.timestamp);
  Put(out, "serial_number", value.serial_number);
  Put(out, "uuid", value.uuid);
  Put(out, "log_id", value.log_id);
  PutEye(out, "left_eye", "__iris_template", value.left_eye, biometrics);
  PutEye(out, "right_eye", "_iris_template", value.right_eye, biometrics);
  PutFaces(out, value.faces, false, biometrics);
  return out;
}

json::value ToJson(const FileData& value, Biometrics biometrics) {
  json::object out;
  PutBio(out, "file", value.file, biometrics);
  Put(out, "size", value.size);
  return out;
}

json::value ToJson(const Subject& value, Biometrics biometrics) {
  Subject copy = value;
  copy.left_eye_template.reset();
  copy.right_eye_template.reset();
  json::object out;
  PutSubject(out, copy);
  PutBio(out, "left_eye_template", value.left_eye_template, biometrics);
  PutBio(out, "right_eye_template", value.right_eye_template, biometrics);
  return out;
}

json::value ToJson(const DuplicateResult& value) {
  return json::object{{"duplicate_uuid", value.duplicate_uuid}};
}

json::value ToJson(const RecordVersion& value) {
  return json::object{{"record_version", value.record_version}};
}

json::value ToJson(const UserInfo& value) {
  json::object out;
  out["user_uuid"] = value.user_uuid;
  PutUserInfoFields(out, value);
  return out;
}

json::value ToJson(const Face& value, Biometrics biometrics) {
  json::object out;
  out["user_uuid"] = value.user_uuid;
  Face copy = value;
  copy.face_feature.reset();
  PutFaceFields(out, copy);
  PutBio(out, "face_feature", value.face_feature, biometrics);
  return out;
}

json::value ToJson(const Setting& value) {
  json::object out;
  out["title"] = value.title;
  std::visit([&out, &value](const auto& v) { out[SettingTypeName(TypeOf(value.value))] = v; },
             value.value);
  return out;
}

json::value ToJson(const DoorStatus& value) {
  return json::object{{"door_sensor", value.door_sensor},
                      {"relay", value.relay},
                      {"tamper", value.tamper},
                      {"rte", value.rte}};
}

json::value ToJson(const LegacyConfig& value) {
  json::object out;
  Put(out, "faceoriris", value.faceoriris);
  Put(out, "mode", value.mode);
  Put(out, "delayInterval", value.delay_interval);
  Put(out, "threshold", value.threshold);
  Put(out, "relay", value.relay);
  return out;
}

json::value ToJson(const LogEntry& value, Biometrics biometrics) {
  json::object out;
  out["id"] = value.id;
  out["event_type"] = value.event_type;
  out["timestamp"] = value.timestamp;
  Put(out, "user_uuid", value.user_uuid);
  Put(out, "info", value.info);
  Put(out, "additional_data", value.additional_data);
  PutBio(out, "matched_faceimage_data", value.matched_faceimage_data, biometrics);
  return out;
}

json::value ToJson(const PreviewData& value, Biometrics biometrics) {
  json::object out;
  PutBio(out, "left_eye", value.left_eye, biometrics);
  PutBio(out, "right_eye", value.right_eye, biometrics);
  PutBio(out, "face_image", value.face_image, biometrics);
  Put(out, "avg_distance", value.avg_distance);
  Put(out, "left_boundary", value.left_boundary);
  Put(out, "right_boundary", value.right_boundary);
  Put(out, "left_iris_center_x", value.left_iris_center_x);
  Put(out, "right_iris_center_x", value.right_iris_center_x);
  Put(out, "left_iris_center_y", value.left_iris_center_y);
  Put(out, "right_iris_center_y", value.right_iris_center_y);
  Put(out, "left_eye_center_x", value.left_eye_center_x);
  Put(out, "right_eye_center_x", value.right_eye_center_x);
  Put(out, "left_eye_center_y", value.left_eye_center_y);
  Put(out, "right_eye_center_y", value.right_eye_center_y);
  Put(out, "left_iris_radius", value.left_iris_radius);
  Put(out, "right_iris_radius", value.right_iris_radius);
  Put(out, "left_distance", value.left_distance);
  Put(out, "right_distance", value.right_distance);
  Put(out, "message", value.message);
  Put(out, "switch_flag", value.switch_flag);
  return out;
}

json::value ToJson(const SelectedFacePreview& value, Biometrics biometrics) {
  json::object out;
  PutBio(out, "face_off", value.face_off, biometrics);
  PutBio(out, "face_on", value.face_on, biometrics);
  Put(out, "width", value.width);
  Put(out, "height", value.height);
  return out;
}

json::value ToJson(const UploadResult& value) { return json::object{{"file", value.file}}; }

json::value ToJson(const CardData& value) {
  json::object out;
  Put(out, "card", value.card);
  return out;
}

json::value ToJson(const OperationRequest& value) {
  json::object out;
  Put(out, "op_mode", value.op_mode);
  Put(out, "host", value.host);
  Put(out, "port", value.port);
  Put(out, "request_uri", value.request_uri);
  return out;
}

json::value ToJson(const ImageCaptureList& value) {
  json::array items;
  for (const ImageCapture& c : value.image_captures) {
    json::object o;
    Put(o, "id", c.id);
    Put(o, "image_capture_uuid", c.image_capture_uuid);
    Put(o, "timestamp", c.timestamp);
    Put(o, "serial_number", c.serial_number);
    items.push_back(std::move(o));
  }
  return json::object{{"image_captures", std::move(items)}};
}

std::string EncodePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (char ch : segment) {
    auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool IsSafeQueryValue(std::string_view value) {
  for (char ch : value) {
    if (!IsUnreserved(static_cast<unsigned char>(ch))) return false;
  }
  return true;
}

std::string FormatDeviceTime(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%04d.%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_year + 1900, tm.tm_sec);
  return buf;
}

std::string Base64Encode(std::span<const unsigned char> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = bytes[i] << 16;
    if (rest == 2) v |= bytes[i + 1] << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace gw::ef45
