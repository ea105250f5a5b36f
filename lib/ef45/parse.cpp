#include "ef45/parse.hpp"

#include <simdjson.h>

#include <bitset>
#include <limits>
#include <utility>

namespace gw::ef45 {
namespace {

namespace od = simdjson::ondemand;
static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);

/// Where we are in the document, for error details, and the first error met.
class Ctx {
 public:
  /// `keep_biometrics` false: biometric strings (images, templates, features) are checked for
  /// their type and not copied (see BiometricStrings::kShapeOnly).
  explicit Ctx(std::string_view op, bool keep = true)
      : keep_biometrics(keep), op_(op), path_(Scratch().path), marks_(Scratch().marks) {
    path_.clear();
    marks_.clear();
  }

  const bool keep_biometrics;

  void Push(std::string_view key) {
    marks_.push_back(path_.size());
    if (!path_.empty()) path_ += '.';
    path_ += key;
  }
  void PushIndex(std::size_t index) {
    marks_.push_back(path_.size());
    path_ += '[';
    path_ += std::to_string(index);
    path_ += ']';
  }
  void Pop() {
    path_.resize(marks_.back());
    marks_.pop_back();
  }

  bool Fail(std::string_view what, Errc code = Errc::kBadResponse) {
    if (detail_.empty()) {
      detail_.assign(op_);
      detail_ += ": ";
      if (!path_.empty()) {
        detail_ += path_;
        detail_ += ": ";
      }
      detail_ += what;
      code_ = code;
    }
    return false;
  }

  /// Maps a simdjson error met while reading a value that should be `expected`.
  bool Fail(simdjson::error_code error, std::string_view expected) {
    switch (error) {
      case simdjson::INCORRECT_TYPE: return Fail(expected);
      case simdjson::NUMBER_OUT_OF_RANGE: return Fail("number out of range");
      case simdjson::NUMBER_ERROR: return Fail("malformed number");
      case simdjson::STRING_ERROR:
      case simdjson::UTF8_ERROR: return Fail("malformed string");
      default: return Fail(std::string("malformed JSON (") + simdjson::error_message(error) + ")");
    }
  }

  Error TakeError() { return MakeError(code_, std::move(detail_)); }

 private:
  // The path is built for every field read (errors name it), so its buffers are one per thread
  // and keep their capacity: parsing never suspends and never nests.
  struct PathScratch {
    std::string path;
    std::vector<std::size_t> marks;
  };
  static PathScratch& Scratch() {
    thread_local PathScratch scratch;
    return scratch;
  }

  std::string_view op_;
  std::string& path_;
  std::vector<std::size_t>& marks_;
  std::string detail_;
  Errc code_ = Errc::kBadResponse;
};

// ---- scalars ----

bool Read(od::value v, std::string& out, Ctx& c) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) return c.Fail(e, "expected string");
  out.assign(s.data(), s.size());
  return true;
}

/// simdjson reports an integer beyond 64 bits as INCORRECT_TYPE; tell it apart from a
/// fraction or a string by its token.
bool FailInteger(od::value v, simdjson::error_code error, Ctx& c) {
  std::string_view token;
  if (error == simdjson::INCORRECT_TYPE) {
    token = v.raw_json_token();
    while (!token.empty() && (token.back() == ' ' || token.back() == '\n' || token.back() == '\r' ||
                              token.back() == '\t')) {
      token.remove_suffix(1);
    }
    if (!token.empty() && token.front() == '-') token.remove_prefix(1);
    if (!token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos) {
      return c.Fail("number out of range");
    }
  }
  return c.Fail(error, "expected integer");
}

bool Read(od::value v, std::int64_t& out, Ctx& c) {
  if (auto e = v.get_int64().get(out)) return FailInteger(v, e, c);
  return true;
}

bool Read(od::value v, std::int32_t& out, Ctx& c) {
  std::int64_t wide = 0;
  if (auto e = v.get_int64().get(wide)) return FailInteger(v, e, c);
  if (wide < std::numeric_limits<std::int32_t>::min() ||
      wide > std::numeric_limits<std::int32_t>::max()) {
    return c.Fail("integer out of range");
  }
  out = static_cast<std::int32_t>(wide);
  return true;
}

bool Read(od::value v, double& out, Ctx& c) {
  if (auto e = v.get_double().get(out)) return c.Fail(e, "expected number");
  return true;
}

bool Read(od::value v, bool& out, Ctx& c) {
  if (auto e = v.get_bool().get(out)) return c.Fail(e, "expected boolean");
  return true;
}

template <class T>
bool ReadModel(od::object obj, T& out, Ctx& c);

/// A nested model: must be an object.
template <class T>
bool Read(od::value v, T& out, Ctx& c) requires std::is_class_v<T> {
  od::object obj;
  if (auto e = v.get_object().get(obj)) return c.Fail(e, "expected object");
  return ReadModel(obj, out, c);
}

/// An optional member: `null` reads as absent.
template <class T>
bool Read(od::value v, std::optional<T>& out, Ctx& c) {
  bool is_null = false;
  if (auto e = v.is_null().get(is_null)) return c.Fail(e, "malformed value");
  if (is_null) {
    out.reset();
    return true;
  }
  T value{};
  if (!Read(v, value, c)) return false;
  out = std::move(value);
  return true;
}

template <class T>
bool Read(od::value v, std::vector<T>& out, Ctx& c) {
  od::array array;
  if (auto e = v.get_array().get(array)) return c.Fail(e, "expected array");
  out.clear();
  std::size_t index = 0;
  for (auto element : array) {
    od::value item;
    if (auto e = std::move(element).get(item)) return c.Fail(e, "malformed array");
    if (index >= kMaxArrayElements) {
      return c.Fail("more than " + std::to_string(kMaxArrayElements) + " elements",
                    Errc::kTooLarge);
    }
    c.PushIndex(index);
    T value{};
    if (!Read(item, value, c)) return false;
    c.Pop();
    out.push_back(std::move(value));
    ++index;
  }
  return true;
}

// ---- objects: a table of known keys; anything else is skipped ----

template <class T>
struct Field {
  std::string_view key;
  bool (*read)(od::value, T&, Ctx&);
  bool required;
};

#define GW_REQ(T, key, member)                                                    \
  Field<T> {                                                                      \
    key, [](od::value v, T& o, Ctx& ctx) { return Read(v, o.member, ctx); }, true \
  }
#define GW_OPT(T, key, member)                                                     \
  Field<T> {                                                                       \
    key, [](od::value v, T& o, Ctx& ctx) { return Read(v, o.member, ctx); }, false \
  }

/// Called for keys not in the table; returns true if it took the value (then `ok` says whether
/// reading it succeeded).
template <class T>
using Extra = bool (*)(std::string_view key, od::value v, T& out, Ctx& c, bool& ok);

template <class T, std::size_t N>
bool ReadFields(od::object obj, T& out, const std::array<Field<T>, N>& fields, Ctx& c,
                Extra<T> extra = nullptr) {
  std::bitset<N> seen;
  for (auto member : obj) {
    od::field field;
    if (auto e = std::move(member).get(field)) return c.Fail(e, "malformed object");
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return c.Fail(e, "malformed key");
    bool known = false;
    for (std::size_t i = 0; i < N; ++i) {
      if (fields[i].key != key) continue;
      known = true;
      seen.set(i);
      c.Push(key);
      if (!fields[i].read(field.value(), out, c)) return false;
      c.Pop();
      break;
    }
    if (!known && extra != nullptr) {
      bool ok = true;
      // The key view lives in the document's string buffer, which reading the value appends to
      // and never overwrites: no copy needed.
      c.Push(key);
      if (extra(key, field.value(), out, c, ok) && !ok) return false;
      c.Pop();
    }
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (fields[i].required && !seen.test(i)) {
      c.Push(fields[i].key);
      return c.Fail("missing");
    }
  }
  return true;
}

// ---- captures (biometric data, match data): prefix + suffix keys ----

/// A biometric string (an image, a template, a feature). Under BiometricStrings::kShapeOnly it must
/// still be a string or null, but its content is not copied: a non-empty one reads as
/// kBiometricNotKept.
bool ReadBiometric(od::value v, OptString& out, Ctx& c) {
  if (c.keep_biometrics) return Read(v, out, c);
  bool is_null = false;
  if (auto e = v.is_null().get(is_null)) return c.Fail(e, "malformed value");
  if (is_null) {
    out.reset();
    return true;
  }
  od::raw_json_string raw;
  if (auto e = v.get_raw_json_string().get(raw)) return c.Fail(e, "expected string");
  if (raw.raw()[0] == '"') {
    out.emplace();
  } else {
    out.emplace(kBiometricNotKept);
  }
  return true;
}

template <class M>
bool TakeBiometric(od::value v, M& member, Ctx& c, bool& ok) {
  ok = ReadBiometric(v, member, c);
  return true;
}

/// Reads `member` for an Extra handler: the key was ours (true), `ok` says if reading worked.
template <class M>
bool Take(od::value v, M& member, Ctx& c, bool& ok) {
  ok = Read(v, member, c);
  return true;
}

bool ReadEyeSuffix(std::string_view suffix, std::string_view template_suffix, od::value v,
                   EyeCapture& eye, Ctx& c, bool& ok) {
  if (suffix.empty()) return TakeBiometric(v, eye.image, c, ok);
  if (suffix == "_duplicate_uuid") return Take(v, eye.duplicate_uuid, c, ok);
  if (suffix == template_suffix) return TakeBiometric(v, eye.iris_template, c, ok);
  if (suffix == "_usable_iris_area") return Take(v, eye.usable_iris_area, c, ok);
  if (suffix == "_quality_score") return Take(v, eye.quality_score, c, ok);
  if (suffix == "_quality_ok") return Take(v, eye.quality_ok, c, ok);
  return false;
}

bool ReadFaceSuffix(std::string_view suffix, od::value v, FaceCapture& face, Ctx& c, bool& ok) {
  if (suffix.empty()) return TakeBiometric(v, face.image, c, ok);
  if (suffix == "_duplicate_uuid") return Take(v, face.duplicate_uuid, c, ok);
  if (suffix == "_eye_width") return Take(v, face.eye_width, c, ok);
  if (suffix == "_feature") return TakeBiometric(v, face.feature, c, ok);
  if (suffix == "_feature_size") return Take(v, face.feature_size, c, ok);
  if (suffix == "_frontal_score") return Take(v, face.frontal_score, c, ok);
  if (suffix == "_LED_state") return Take(v, face.led_state, c, ok);
  if (suffix == "_left_eye_x") return Take(v, face.left_eye_x, c, ok);
  if (suffix == "_right_eye_x") return Take(v, face.right_eye_x, c, ok);
  if (suffix == "_roll") return Take(v, face.roll, c, ok);
  if (suffix == "_score") return Take(v, face.score, c, ok);
  return false;
}

/// Shared by BiometricData and MatchData; they differ only in the iris template keys.
template <class T>
bool ReadCaptureKey(std::string_view key, std::string_view left_template,
                    std::string_view right_template, od::value v, T& out, Ctx& c, bool& ok) {
  if (key.starts_with("left_eye")) {
    return ReadEyeSuffix(key.substr(8), left_template, v, out.left_eye, c, ok);
  }
  if (key.starts_with("right_eye")) {
    return ReadEyeSuffix(key.substr(9), right_template, v, out.right_eye, c, ok);
  }
  for (std::size_t i = 0; i < kFaceSlotKeys.size(); ++i) {
    std::string_view prefix = kFaceSlotKeys[i];
    if (key.starts_with(prefix)) {
      return ReadFaceSuffix(key.substr(prefix.size()), v, out.faces[i], c, ok);
    }
  }
  return false;
}

// ---- the models ----

template <>
bool ReadModel(od::object obj, LockResponse& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(LockResponse, "lock_uid", lock_uid)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, VersionInfo& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(VersionInfo, "version", version)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, CameraConfiguration& out, Ctx& c) {
  using T = CameraConfiguration;
  static constexpr std::array kFields = {GW_REQ(T, "serial_number", serial_number),
                                         GW_REQ(T, "camera_mode", camera_mode),
                                         GW_REQ(T, "audio_enabled", audio_enabled)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, CameraControlResponse& out, Ctx& c) {
  using T = CameraControlResponse;
  static constexpr std::array kFields = {GW_REQ(T, "success", success),
                                         GW_REQ(T, "status", status)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, BiometricData& out, Ctx& c) {
  using T = BiometricData;
  static constexpr std::array kFields = {GW_REQ(T, "encounter_id", encounter_id),
                                         GW_OPT(T, "timestamp", timestamp),
                                         GW_OPT(T, "serial_number", serial_number),
                                         GW_OPT(T, "error_message", error_message),
                                         GW_OPT(T, "record_version", record_version),
                                         GW_OPT(T, "server_matching_key", server_matching_key)};
  Extra<T> extra = [](std::string_view key, od::value v, T& o, Ctx& ctx, bool& ok) {
    return ReadCaptureKey(key, "_enrol_template", "_enrol_template", v, o, ctx, ok);
  };
  return ReadFields(obj, out, kFields, c, extra);
}

template <>
bool ReadModel(od::object obj, MatchData& out, Ctx& c) {
  using T = MatchData;
  static constexpr std::array kFields = {GW_REQ(T, "encounter_id", encounter_id),
                                         GW_OPT(T, "timestamp", timestamp),
                                         GW_OPT(T, "serial_number", serial_number),
                                         GW_OPT(T, "uuid", uuid), GW_OPT(T, "log_id", log_id)};
  Extra<T> extra = [](std::string_view key, od::value v, T& o, Ctx& ctx, bool& ok) {
    // Firmware spellings, sic: `left_eye__iris_template` (double underscore).
    return ReadCaptureKey(key, "__iris_template", "_iris_template", v, o, ctx, ok);
  };
  return ReadFields(obj, out, kFields, c, extra);
}

template <>
bool ReadModel(od::object obj, FileData& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(FileData, "file", file),
                                         GW_OPT(FileData, "size", size)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, Subject& out, Ctx& c) {
  using T = Subject;
  static constexpr std::array kFields = {GW_REQ(T, "user_uuid", user_uuid),
                                         GW_OPT(T, "record_version", record_version),
                                         GW_OPT(T, "first_name", first_name),
                                         GW_OPT(T, "last_name", last_name),
                                         GW_OPT(T, "access_allowed", access_allowed),
                                         GW_OPT(T, "match_until", match_until),
                                         GW_OPT(T, "wiegand_facility", wiegand_facility),
                                         GW_OPT(T, "wiegand_site", wiegand_site),
                                         GW_OPT(T, "wiegand_code", wiegand_code),
                                         GW_OPT(T, "wiegand_custom", wiegand_custom),
                                         GW_OPT(T, "left_eye_template", left_eye_template),
                                         GW_OPT(T, "right_eye_template", right_eye_template),
                                         GW_OPT(T, "left_image_path", left_image_path),
                                         GW_OPT(T, "right_image_path", right_image_path)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, DuplicateResult& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(DuplicateResult, "duplicate_uuid", duplicate_uuid)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, RecordVersion& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(RecordVersion, "record_version", record_version)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, UserInfo& out, Ctx& c) {
  using T = UserInfo;
  static constexpr std::array kFields = {
      GW_REQ(T, "user_uuid", user_uuid),
      GW_OPT(T, "card", card),
      GW_OPT(T, "pin", pin),
      GW_OPT(T, "admin", admin),
      GW_OPT(T, "group_index", group_index),
      GW_OPT(T, "by_pass_card", by_pass_card),
      GW_OPT(T, "indivisual", indivisual),
      GW_OPT(T, "three_out_status", three_out_status),
      GW_OPT(T, "three_out_access_allowed", three_out_access_allowed),
      GW_OPT(T, "job_code", job_code),
      GW_OPT(T, "time_schedule_code", time_schedule_code),
      GW_OPT(T, "apb_status", apb_status),
      GW_OPT(T, "message", message)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, Face& out, Ctx& c) {
  using T = Face;
  static constexpr std::array kFields = {GW_REQ(T, "user_uuid", user_uuid),
                                         GW_REQ(T, "sub_id", sub_id),
                                         GW_OPT(T, "face_eye_width", face_eye_width),
                                         GW_OPT(T, "face_feature_size", face_feature_size),
                                         GW_OPT(T, "face_frontal_score", face_frontal_score),
                                         GW_OPT(T, "face_left_eye_x", face_left_eye_x),
                                         GW_OPT(T, "face_right_eye_x", face_right_eye_x),
                                         GW_OPT(T, "face_roll", face_roll),
                                         GW_OPT(T, "face_score", face_score),
                                         GW_OPT(T, "face_LED_state", face_led_state),
                                         GW_OPT(T, "face_feature", face_feature)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, DoorStatus& out, Ctx& c) {
  using T = DoorStatus;
  static constexpr std::array kFields = {GW_REQ(T, "door_sensor", door_sensor),
                                         GW_REQ(T, "relay", relay), GW_REQ(T, "tamper", tamper),
                                         GW_REQ(T, "rte", rte)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, LegacyConfig& out, Ctx& c) {
  using T = LegacyConfig;
  static constexpr std::array kFields = {
      GW_OPT(T, "faceoriris", faceoriris), GW_OPT(T, "mode", mode),
      GW_OPT(T, "delayInterval", delay_interval), GW_OPT(T, "threshold", threshold),
      GW_OPT(T, "relay", relay)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, LogEntry& out, Ctx& c) {
  using T = LogEntry;
  static constexpr std::array kFields = {GW_REQ(T, "id", id),
                                         GW_REQ(T, "event_type", event_type),
                                         GW_REQ(T, "timestamp", timestamp),
                                         GW_OPT(T, "user_uuid", user_uuid),
                                         GW_OPT(T, "info", info),
                                         GW_OPT(T, "additional_data", additional_data),
                                         Field<T>{"matched_faceimage_data",
                                                  [](od::value v, T& o, Ctx& ctx) {
                                                    return ReadBiometric(
                                                        v, o.matched_faceimage_data, ctx);
                                                  },
                                                  false}};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, PreviewData& out, Ctx& c) {
  using T = PreviewData;
  static constexpr std::array kFields = {GW_OPT(T, "left_eye", left_eye),
                                         GW_OPT(T, "right_eye", right_eye),
                                         GW_OPT(T, "face_image", face_image),
                                         GW_OPT(T, "avg_distance", avg_distance),
                                         GW_OPT(T, "left_boundary", left_boundary),
                                         GW_OPT(T, "right_boundary", right_boundary),
                                         GW_OPT(T, "left_iris_center_x", left_iris_center_x),
                                         GW_OPT(T, "right_iris_center_x", right_iris_center_x),
                                         GW_OPT(T, "left_iris_center_y", left_iris_center_y),
                                         GW_OPT(T, "right_iris_center_y", right_iris_center_y),
                                         GW_OPT(T, "left_eye_center_x", left_eye_center_x),
                                         GW_OPT(T, "right_eye_center_x", right_eye_center_x),
                                         GW_OPT(T, "left_eye_center_y", left_eye_center_y),
                                         GW_OPT(T, "right_eye_center_y", right_eye_center_y),
                                         GW_OPT(T, "left_iris_radius", left_iris_radius),
                                         GW_OPT(T, "right_iris_radius", right_iris_radius),
                                         GW_OPT(T, "left_distance", left_distance),
                                         GW_OPT(T, "right_distance", right_distance),
                                         GW_OPT(T, "message", message),
                                         GW_OPT(T, "switch_flag", switch_flag)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, SelectedFacePreview& out, Ctx& c) {
  using T = SelectedFacePreview;
  static constexpr std::array kFields = {GW_OPT(T, "face_off", face_off),
                                         GW_OPT(T, "face_on", face_on), GW_OPT(T, "width", width),
                                         GW_OPT(T, "height", height)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, UploadResult& out, Ctx& c) {
  static constexpr std::array kFields = {GW_REQ(UploadResult, "file", file)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, CardData& out, Ctx& c) {
  static constexpr std::array kFields = {GW_OPT(CardData, "card", card)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, OperationRequest& out, Ctx& c) {
  using T = OperationRequest;
  static constexpr std::array kFields = {GW_OPT(T, "op_mode", op_mode), GW_OPT(T, "host", host),
                                         GW_OPT(T, "port", port),
                                         GW_OPT(T, "request_uri", request_uri)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, ImageCapture& out, Ctx& c) {
  using T = ImageCapture;
  static constexpr std::array kFields = {
      GW_OPT(T, "id", id), GW_OPT(T, "image_capture_uuid", image_capture_uuid),
      GW_OPT(T, "timestamp", timestamp), GW_OPT(T, "serial_number", serial_number)};
  return ReadFields(obj, out, kFields, c);
}

template <>
bool ReadModel(od::object obj, ImageCaptureList& out, Ctx& c) {
  static constexpr std::array kFields = {
      GW_REQ(ImageCaptureList, "image_captures", image_captures)};
  return ReadFields(obj, out, kFields, c);
}

template <class Item>
bool ReadCollection(od::object obj, Collection<Item>& out, Ctx& c) {
  using T = Collection<Item>;
  static constexpr std::array kFields = {GW_REQ(T, "status_code", status_code),
                                         GW_REQ(T, "reason_phrase", reason_phrase),
                                         GW_REQ(T, "items", items),
                                         GW_REQ(T, "page", page),
                                         GW_REQ(T, "page_size", page_size),
                                         GW_REQ(T, "has_more", has_more),
                                         GW_REQ(T, "total", total)};
  return ReadFields(obj, out, kFields, c);
}

template <class Item>
struct IsCollection : std::false_type {};
template <class Item>
struct IsCollection<Collection<Item>> : std::true_type {};

/// Walks any JSON value so that on-demand validates all of it (RawJson). Depth-bounded.
bool Walk(od::value v, Ctx& c, int depth) {
  if (depth > 64) return c.Fail("nesting too deep");
  od::json_type type;
  if (auto e = v.type().get(type)) return c.Fail(e, "malformed value");
  switch (type) {
    case od::json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return c.Fail(e, "expected object");
      for (auto member : obj) {
        od::field field;
        if (auto e = std::move(member).get(field)) return c.Fail(e, "malformed object");
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return c.Fail(e, "malformed key");
        if (!Walk(field.value(), c, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return c.Fail(e, "expected array");
      for (auto element : array) {
        od::value item;
        if (auto e = std::move(element).get(item)) return c.Fail(e, "malformed array");
        if (!Walk(item, c, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return c.Fail(e, "malformed string");
      return true;
    }
    case od::json_type::number: {
      od::number n;
      if (auto e = v.get_number().get(n)) return c.Fail(e, "malformed number");
      return true;
    }
    case od::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return c.Fail(e, "malformed boolean");
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null); e || !is_null) return c.Fail("malformed null");
      return true;
    }
  }
  return c.Fail("malformed value");
}

}  // namespace

// A simdjson parser keeps buffers of several times the largest document it parsed. One per
// reader cost ~100 KB each at 1,000 readers (issue 18); parsing never suspends, so one parser
// per thread serves every reader that thread runs. After a large document (a 5 MB biometric
// reply), the next small one starts on a fresh parser, so the thread does not keep the large
// buffers.
namespace {

constexpr std::size_t kKeepParserCapacity = 1 << 20;

od::parser& ThreadParser(std::size_t next_size) {
  thread_local od::parser parser;
  if (parser.capacity() > kKeepParserCapacity && next_size <= kKeepParserCapacity) {
    parser = od::parser{};
  }
  return parser;
}

}  // namespace

struct ResponseParser::Impl {
  od::document doc;

  /// Starts parsing `body` and returns its root object, or fails `c`.
  bool Root(std::string& body, od::object& root, Ctx& c) {
    if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
      body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    }
    if (auto e =
            ThreadParser(body.size()).iterate(body.data(), body.size(), body.capacity()).get(doc)) {
      return c.Fail(e, "malformed JSON");
    }
    if (auto e = doc.get_object().get(root)) return c.Fail(e, "expected a JSON object");
    return true;
  }

  /// After the root was read: nothing but whitespace may follow.
  bool End(Ctx& c) {
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS) {
      return c.Fail("trailing content after the JSON value");
    }
    return true;
  }

  template <class T>
  bool ReadRoot(od::object root, T& out, Ctx& c) {
    if constexpr (IsCollection<T>::value) {
      return ReadCollection(root, out, c);
    } else {
      return ReadModel(root, out, c);
    }
  }
};

std::string_view JsonKernelName() {
  // builtin_implementation() would answer for the shared library, not for this file.
  static const std::string name = std::string(SIMDJSON_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION)) +
                                  "/" + simdjson::get_active_implementation()->name();
  return name;
}

ResponseParser::ResponseParser() : impl_(std::make_unique<Impl>()) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

template <class T>
Reply<T> ResponseParser::Parse(std::string_view op, std::string& body,
                               BiometricStrings biometrics) {
  Ctx c(op, biometrics == BiometricStrings::kKeep);
  od::object root;
  if (!impl_->Root(body, root, c)) return c.TakeError();
  T out{};
  if (!impl_->ReadRoot(root, out, c) || !impl_->End(c)) return c.TakeError();
  return out;
}

template <>
Reply<RawJson> ResponseParser::Parse<RawJson>(std::string_view op, std::string& body,
                                              BiometricStrings) {
  Ctx c(op);
  if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  od::value root;
  if (auto e = ThreadParser(body.size())
                   .iterate(body.data(), body.size(), body.capacity())
                   .get(impl_->doc)) {
    c.Fail(e, "malformed JSON");
    return c.TakeError();
  }
  // Scalars at the root cannot be taken as od::value; every reply we accept here is a
  // container anyway.
  od::json_type type;
  if (auto e = impl_->doc.type().get(type)) {
    c.Fail(e, "malformed JSON");
    return c.TakeError();
  }
  if (type == od::json_type::object || type == od::json_type::array) {
    if (auto e = impl_->doc.get_value().get(root)) {
      c.Fail(e, "malformed JSON");
      return c.TakeError();
    }
    if (!Walk(root, c, 0) || !impl_->End(c)) return c.TakeError();
  } else {
    c.Fail("expected a JSON object or array");
    return c.TakeError();
  }
  return RawJson{body};
}

template <class T>
Reply<std::vector<T>> ResponseParser::ParseOneOrMany(std::string_view op, std::string& body) {
  Ctx c(op);
  od::object root;
  if (!impl_->Root(body, root, c)) return c.TakeError();
  od::value probe;
  auto found = root.find_field_unordered("items").get(probe);
  if (found != simdjson::SUCCESS && found != simdjson::NO_SUCH_FIELD) {
    c.Fail(found, "malformed JSON");
    return c.TakeError();
  }
  impl_->doc.rewind();
  if (auto e = impl_->doc.get_object().get(root)) {
    c.Fail(e, "expected a JSON object");
    return c.TakeError();
  }
  if (found == simdjson::SUCCESS) {
    Collection<T> many;
    if (!ReadCollection(root, many, c) || !impl_->End(c)) return c.TakeError();
    return std::move(many.items);
  }
  std::vector<T> one(1);
  if (!ReadModel(root, one.front(), c) || !impl_->End(c)) return c.TakeError();
  return one;
}

Reply<Setting> ResponseParser::ParseSetting(std::string_view op, std::string& body,
                                            SettingType expected) {
  Ctx c(op);
  od::object root;
  if (!impl_->Root(body, root, c)) return c.TakeError();
  Setting out;
  bool have_title = false;
  bool have_value = false;
  const std::string_view type_key = SettingTypeName(expected);
  for (auto member : root) {
    od::field field;
    if (auto e = std::move(member).get(field)) {
      c.Fail(e, "malformed object");
      return c.TakeError();
    }
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) {
      c.Fail(e, "malformed key");
      return c.TakeError();
    }
    bool ok = true;
    if (key == "title") {
      c.Push("title");
      ok = Read(field.value(), out.title, c);
      have_title = true;
    } else if (key == type_key) {
      c.Push(type_key);
      switch (expected) {
        case SettingType::kBool: ok = Read(field.value(), out.value.emplace<bool>(), c); break;
        case SettingType::kInt:
          ok = Read(field.value(), out.value.emplace<std::int32_t>(), c);
          break;
        case SettingType::kFloat: ok = Read(field.value(), out.value.emplace<double>(), c); break;
        case SettingType::kString:
          ok = Read(field.value(), out.value.emplace<std::string>(), c);
          break;
      }
      have_value = true;
    } else {
      continue;
    }
    if (!ok) return c.TakeError();
    c.Pop();
  }
  if (!have_title) {
    c.Push("title");
    c.Fail("missing");
    return c.TakeError();
  }
  if (!have_value) {
    c.Push(type_key);
    c.Fail("missing");
    return c.TakeError();
  }
  if (!impl_->End(c)) return c.TakeError();
  return out;
}

#define GW_PARSE_INSTANTIATE(T) \
  template Reply<T> ResponseParser::Parse<T>(std::string_view, std::string&, BiometricStrings);

GW_PARSE_INSTANTIATE(LockResponse)
GW_PARSE_INSTANTIATE(VersionInfo)
GW_PARSE_INSTANTIATE(CameraConfiguration)
GW_PARSE_INSTANTIATE(CameraControlResponse)
GW_PARSE_INSTANTIATE(Collection<BiometricData>)
GW_PARSE_INSTANTIATE(FileData)
GW_PARSE_INSTANTIATE(Collection<Subject>)
GW_PARSE_INSTANTIATE(Subject)
GW_PARSE_INSTANTIATE(DuplicateResult)
GW_PARSE_INSTANTIATE(RecordVersion)
GW_PARSE_INSTANTIATE(Collection<UserInfo>)
GW_PARSE_INSTANTIATE(UserInfo)
GW_PARSE_INSTANTIATE(Collection<Face>)
GW_PARSE_INSTANTIATE(Face)
GW_PARSE_INSTANTIATE(DoorStatus)
GW_PARSE_INSTANTIATE(LegacyConfig)
GW_PARSE_INSTANTIATE(Collection<MatchData>)
GW_PARSE_INSTANTIATE(Collection<LogEntry>)
GW_PARSE_INSTANTIATE(LogEntry)
GW_PARSE_INSTANTIATE(PreviewData)
GW_PARSE_INSTANTIATE(SelectedFacePreview)
GW_PARSE_INSTANTIATE(UploadResult)
GW_PARSE_INSTANTIATE(CardData)
GW_PARSE_INSTANTIATE(OperationRequest)
GW_PARSE_INSTANTIATE(ImageCaptureList)

template Reply<std::vector<Face>> ResponseParser::ParseOneOrMany<Face>(std::string_view,
                                                                       std::string&);
template Reply<std::vector<LogEntry>> ResponseParser::ParseOneOrMany<LogEntry>(std::string_view,
                                                                               std::string&);

}  // namespace gw::ef45
