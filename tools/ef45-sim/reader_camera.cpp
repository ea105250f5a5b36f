// Camera, camera control, biometric data, image files, preview and /imagecapture
// (API.md sections 3, 4, 4.1, 12, 17).
// The emulated capture is instantaneous: a successful start in Slave mode buffers one
// biometric-data result (about options.biometric_bytes of Base64), a few preview frames and
// the selected-face thumbnails.
#include <boost/json/serialize.hpp>
#include <cmath>

#include "reader_state.hpp"

namespace ef45sim::detail {

using util::ControlResult;
using util::Empty;
using util::Json;

namespace {

constexpr int kRecordVersion = 8976;
constexpr int kPreviewFrames = 3;
constexpr std::string_view kFaceImages[] = {"iris_off_face", "far_off_face", "far_on_face",
                                            "near_off_face", "near_on_face"};

Response InvalidOperation() { return ControlResult(400, false, "Invalid Operation Requested"); }

bool IsCameraMode(std::string_view mode) {
  // Case-sensitive: the parser raises "Camera mode '...' is invalid." for anything else.
  return mode == "Slave" || mode == "Enrol" || mode == "Recog";
}

double Round(double value, double scale) { return std::round(value * scale) / scale; }

void MakeCapture(State& st) {
  auto& rng = st.rng;
  std::int64_t now = st.NowSeconds();
  std::string encounter_id = rng.Uuid4();
  // Seven images share the configured size (2 irises + 5 faces), Base64 included.
  std::size_t raw_per_image = std::max<std::size_t>(st.options.biometric_bytes / 7 / 4 * 3, 3);
  auto image = [&](std::size_t raw) { return util::Base64Encode(rng.Bytes(raw)); };

  // Now and then the person in front of the camera is already enrolled: the capture then
  // carries that subject's templates and names it in *_duplicate_uuid.
  std::string duplicate;
  std::string left_template = util::Base64Encode(rng.Bytes(48));
  std::string right_template = util::Base64Encode(rng.Bytes(48));
  if (!st.subjects.empty() && rng.Chance(300)) {
    auto it = st.subjects.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(rng.Below(st.subjects.size())));
    duplicate = it->first;
    left_template = std::string(it->second.at("left_eye_template").as_string());
    right_template = std::string(it->second.at("right_eye_template").as_string());
  }

  boost::json::object item;
  item["encounter_id"] = encounter_id;
  item["timestamp"] = util::IsoUtc(now);
  item["serial_number"] = st.serial_text;
  for (std::string_view eye : {"left_eye", "right_eye"}) {
    std::string p(eye);
    item[p] = image(raw_per_image);
    item[p + "_duplicate_uuid"] = duplicate;
    item[p + "_enrol_template"] = eye == "left_eye" ? left_template : right_template;
    item[p + "_usable_iris_area"] = Round(rng.Between(60, 95), 10);
    item[p + "_quality_score"] = Round(rng.Between(50, 100), 10);
    item[p + "_quality_ok"] = true;
  }
  for (std::string_view face : kFaceImages) {
    std::string p(face);
    item[p] = image(raw_per_image);
    item[p + "_duplicate_uuid"] = duplicate;
    item[p + "_eye_width"] = static_cast<std::int64_t>(60 + rng.Below(40));
    item[p + "_feature"] = util::Base64Encode(rng.Bytes(32));
    item[p + "_feature_size"] = 32;
    item[p + "_frontal_score"] = Round(rng.Between(0.5, 1.0), 100);
    item[p + "_LED_state"] = static_cast<std::int64_t>(rng.Below(2));  // sic, upper-case LED
    item[p + "_left_eye_x"] = static_cast<std::int64_t>(200 + rng.Below(40));
    item[p + "_right_eye_x"] = static_cast<std::int64_t>(280 + rng.Below(40));
    item[p + "_roll"] = Round(rng.Between(-5, 5), 100);
    item[p + "_score"] = Round(rng.Between(0.5, 1.0), 100);
  }
  item["error_message"] = "";
  std::string core = boost::json::serialize(item);
  core.pop_back();  // drop '}' so ver1/ver2 can append their keys
  BioItem bio{encounter_id, std::move(core)};
  st.biometric.push_back(std::move(bio));

  for (int i = 0; i < kPreviewFrames; ++i) {
    boost::json::object frame;
    frame["left_eye"] = image(64);
    frame["right_eye"] = image(64);
    frame["face_image"] = image(256);
    for (const char* key : {"avg_distance", "left_distance", "right_distance"}) {
      frame[key] = static_cast<std::int64_t>(300 + rng.Below(50));
    }
    for (const char* key :
         {"left_boundary", "right_boundary", "left_iris_center_x", "right_iris_center_x",
          "left_iris_center_y", "right_iris_center_y", "left_eye_center_x", "right_eye_center_x",
          "left_eye_center_y", "right_eye_center_y"}) {
      frame[key] = static_cast<std::int64_t>(100 + rng.Below(400));
    }
    frame["left_iris_radius"] = static_cast<std::int64_t>(90 + rng.Below(20));
    frame["right_iris_radius"] = static_cast<std::int64_t>(90 + rng.Below(20));
    frame["message"] = i;
    frame["switch_flag"] = false;
    st.preview_frames.push_back(boost::json::serialize(frame));
  }

  boost::json::object selected;
  selected["face_off"] = image(192);
  selected["face_on"] = image(192);
  selected["width"] = 64;
  selected["height"] = 64;
  st.selected_face = boost::json::serialize(selected);

  ImageCapture capture;
  capture.id = st.image_captures.empty() ? 1 : st.image_captures.back().id + 1;
  capture.uuid = encounter_id;
  capture.unix_seconds = now;
  st.image_captures.push_back(std::move(capture));
  if (st.image_captures.size() > 100) st.image_captures.erase(st.image_captures.begin());
}

void DeletePreview(State& st) {
  st.preview_frames.clear();
  st.selected_face.reset();
}

Response CameraControl(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 2) {
    if (call.method != "GET") return Empty(405);
    return st.capturing ? ControlResult(200, true, "Started camera")
                        : ControlResult(200, false, "Not capturing");
  }
  if (call.method != "POST") return Empty(405);
  const std::string& command = seg[2];
  if (command == "setDeviceTime") {
    if (seg.size() != 4) return InvalidOperation();
    auto unix_seconds = util::ParseDeviceTime(seg[3]);
    if (!unix_seconds) return InvalidOperation();
    // `date` + `hwclock -w`: from now on the reader clock reads this time.
    auto base = st.Now() - st.offset;
    auto target = std::chrono::system_clock::time_point(std::chrono::seconds(*unix_seconds));
    st.offset = std::chrono::duration_cast<std::chrono::seconds>(target - base);
    return ControlResult(200, true, "Success");
  }
  if (command == "start") {
    if (seg.size() == 5) {
      // C6 match-template: /camera/control/start/{segment}/{seq_uid}; the segment literal is
      // unknown and unchecked. The card's template is matched against the subjects and the
      // outcome is logged like any recognition.
      if (!util::IsUuid(seg[4])) return InvalidOperation();
      auto body = util::ParseObject(call.body);
      if (!body) return InvalidOperation();
      auto subject = Normalize(*body, SubjectSpec());
      if (!subject) return InvalidOperation();
      st.Recognize(st.FindDuplicate(*subject, ""), "Recog", "Card-Bio");
      return ControlResult(200, true, "Started matching template");
    }
    if (seg.size() != 3) return InvalidOperation();
    bool any_flag = false;
    bool any_true = false;
    for (const char* flag : {"face_mode", "glasses_mode", "both_eye_mode", "either_eye_mode"}) {
      if (auto value = util::QueryBool(call.query, flag)) {
        any_flag = true;
        any_true = any_true || *value;
      }
    }
    if (st.camera_mode != "Slave") {
      return ControlResult(200, false, "Please first chagne mode to Slave(Enrollment)");  // sic
    }
    // No mode flag at all is a malformed request; flags that are all false name no mode.
    if (!any_flag) return InvalidOperation();
    if (!any_true) return ControlResult(200, false, "Unknown start mode");
    if (st.capturing) return ControlResult(200, false, "Already started");
    st.capturing = true;
    MakeCapture(st);
    return ControlResult(200, true, "Started camera");
  }
  if (seg.size() != 3) return InvalidOperation();
  if (command == "stop") {
    if (!st.capturing) return ControlResult(200, false, "Not capturing");
    st.capturing = false;
    return ControlResult(200, true, "Stopped camera");
  }
  if (command == "wide") return ControlResult(200, true, "Started capture");
  if (command == "poweroff" || command == "reboot") {
    // Modelled as a reboot: the emulated device comes straight back (lock dropped, buffers
    // cleared, logs kept).
    Response response = ControlResult(200, true, "Success");
    st.Reboot();
    return response;
  }
  return InvalidOperation();
}

/// Applies a CameraConfiguration body; false when it is not a valid one.
bool ApplyCameraConfiguration(State& st, const boost::json::object& body) {
  const auto* mode = body.if_contains("camera_mode");
  if (!mode || !mode->is_string() || !IsCameraMode(mode->as_string())) return false;
  const auto* audio = body.if_contains("audio_enabled");
  if (audio && !audio->is_bool()) return false;
  st.camera_mode = std::string(mode->as_string());
  if (audio) st.audio_enabled = audio->as_bool();
  DeletePreview(st);  // "After a successful update the device performs a delete preview"
  return true;
}

}  // namespace

Response HandleCamera(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      boost::json::object config;
      config["serial_number"] = st.serial_text;
      config["camera_mode"] = st.camera_mode;
      config["audio_enabled"] = st.audio_enabled;
      return util::JsonValue(200, config);
    }
    if (call.method == "POST" || call.method == "PUT") {
      auto body = util::ParseObject(call.body);
      if (!body) return Empty(400);
      bool ok = ApplyCameraConfiguration(st, *body);
      if (call.method == "PUT") return Empty(ok ? 200 : 400);  // C2b: no JSON reply
      return ok ? ControlResult(200, true, "Success set mode")
                : ControlResult(200, false, "Fail to set mode");
    }
    return Empty(405);
  }
  if (seg[1] == "control") return CameraControl(st, call);
  return Empty(400);
}

Response HandleBiometricData(State& st, const Call& call) {
  const auto& seg = call.seg;
  std::string_view sub = seg.size() >= 2 ? std::string_view(seg[1]) : std::string_view();
  if (call.method == "GET") {
    if (sub == "load-file") {
      auto filename = util::QueryValue(call.query, "filename");  // raw, not decoded
      if (!filename || filename->empty()) return Empty(400);
      auto it = st.files.find(std::string(*filename));
      if (it == st.files.end()) return Empty(404);
      auto bytes = util::Base64Decode(it->second);
      std::string body = "{\"file\":";
      util::AppendJsonString(body, it->second);
      body += ",\"size\":";
      util::AppendInt(body, bytes ? static_cast<std::int64_t>(bytes->size()) : 0);
      body += '}';
      return Json(200, std::move(body));
    }
    // B1 original, B2 ver1 (+record_version), ver2 (+server_matching_key).
    int version = sub == "ver1" ? 1 : sub == "ver2" ? 2 : 0;
    return Json(200, Collection(
                         st.biometric.size(), ReadPaging(call.query),
                         [&](std::size_t i, std::string& out) {
                           const BioItem& item = st.biometric[i];
                           out += item.json_core;
                           if (version >= 1) out += ",\"record_version\":8976";
                           if (version >= 2) {
                             out += ",\"server_matching_key\":";
                             util::AppendJsonString(out, item.encounter_id);
                           }
                           out += '}';
                         },
                         [&](std::size_t i) { return st.biometric[i].json_core.size() + 96; }));
  }
  if (call.method == "PUT") {
    if (sub == "save-8bmp" || sub == "save-24bmp") {
      auto body = util::ParseObject(call.body);
      if (!body) return Empty(400);
      const auto* filename = body->if_contains("filename");
      const auto* image = body->if_contains("image");
      const auto* width = body->if_contains("width");
      const auto* height = body->if_contains("height");
      if (!filename || !filename->is_string() || filename->as_string().empty() || !image ||
          !image->is_string() || !util::Base64Decode(image->as_string()) || !width ||
          !width->is_int64() || width->as_int64() <= 0 || !height || !height->is_int64() ||
          height->as_int64() <= 0) {
        return Empty(400);
      }
      st.files[std::string(filename->as_string())] = std::string(image->as_string());
      return Empty(204);
    }
    if (sub == "save-file") {
      auto filename = util::QueryValue(call.query, "filename");
      if (!filename || filename->empty()) return Empty(400);
      auto body = util::ParseObject(call.body);
      if (!body) return Empty(400);
      const auto* file = body->if_contains("file");
      if (!file || !file->is_string()) return Empty(400);
      auto bytes = util::Base64Decode(file->as_string());
      if (!bytes) return Empty(400);
      if (const auto* size = body->if_contains("size")) {
        if (!size->is_int64() || size->as_int64() != static_cast<std::int64_t>(bytes->size())) {
          return Empty(400);
        }
      }
      st.files[std::string(*filename)] = std::string(file->as_string());
      return Empty(204);
    }
    return seg.size() == 1 ? Empty(405) : Empty(400);
  }
  if (call.method == "DELETE") {
    // B3: pre-set 400, overridden only when the capture was found.
    if (seg.size() != 2) return Empty(400);
    for (auto it = st.biometric.begin(); it != st.biometric.end(); ++it) {
      if (it->encounter_id == seg[1]) {
        st.biometric.erase(it);
        return Empty(200);
      }
    }
    return Empty(400);
  }
  return Empty(405);
}

Response HandlePreview(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      if (st.preview_frames.empty()) return Empty(204);  // no frame ready ([C1] handles 204)
      std::string frame = std::move(st.preview_frames.front());
      st.preview_frames.pop_front();
      return Json(200, std::move(frame));
    }
    if (call.method == "DELETE") return Empty(404);  // P3 answers 404 for other paths
    return Empty(405);
  }
  if (seg.size() == 2 && seg[1] == "selected-face") {
    if (call.method == "GET") {
      // Reading the thumbnails clears the cache; an empty cache reads as empty images.
      std::string body = st.selected_face
                             ? std::move(*st.selected_face)
                             : std::string(R"({"face_off":"","face_on":"","width":0,"height":0})");
      st.selected_face.reset();
      return Json(200, std::move(body));
    }
    if (call.method == "DELETE") {
      st.selected_face.reset();
      return Empty(204);
    }
    return Empty(405);
  }
  return call.method == "DELETE" ? Empty(404) : Empty(400);
}

Response HandleImageCapture(State& st, const Call& call) {
  if (call.method != "GET") return Empty(405);
  std::string body = "{\"image_captures\":[";
  for (std::size_t i = 0; i < st.image_captures.size(); ++i) {
    const auto& capture = st.image_captures[i];
    if (i) body += ',';
    body += "{\"id\":";
    util::AppendInt(body, capture.id);
    body += ",\"image_capture_uuid\":";
    util::AppendJsonString(body, capture.uuid);
    body += ",\"timestamp\":";
    util::AppendJsonString(body, util::IsoUtc(capture.unix_seconds));
    body += ",\"serial_number\":";
    util::AppendJsonString(body, st.serial_text);
    body += '}';
  }
  body += "]}";
  return Json(200, std::move(body));
}

}  // namespace ef45sim::detail
