#pragma once

// Plain data types for every request and response body of the EF-45 REST API
// (shared/ef45/openapi.yaml, API.md). Fields the spec marks required are plain members;
// everything else is std::optional so "absent" never reads as a silent zero, and so request
// encoders send only what the caller set. Templates and images are opaque base64 strings:
// they are never decoded here and must never be logged.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gw::ef45 {

using OptString = std::optional<std::string>;
using OptInt = std::optional<std::int32_t>;
using OptInt64 = std::optional<std::int64_t>;
using OptDouble = std::optional<double>;
using OptBool = std::optional<bool>;

/// `CommonCollectionResponse<T>`: the envelope of every list response (API.md 1.4).
template <class T>
struct Collection {
  std::int32_t status_code = 0;
  std::string reason_phrase;
  std::vector<T> items;
  std::int32_t page = 0;
  std::int32_t page_size = 0;
  bool has_more = false;
  std::int32_t total = 0;
};

/// `page` / `page_size` query parameters of list operations; unset = the reader's default
/// (per DOC, no `page` returns every row).
struct PageRequest {
  OptInt page;
  OptInt page_size;
};

struct LockResponse {
  std::string lock_uid;
};

struct VersionInfo {
  std::string version;
};

/// `CameraConfiguration`. `camera_mode` is case-sensitive: `Slave`, `Enrol` or `Recog`.
struct CameraConfiguration {
  std::string serial_number;
  std::string camera_mode;
  bool audio_enabled = false;
};

/// `{"success": bool, "status": text}` of the camera/control family. `success == false` is a
/// normal reply (e.g. "Not capturing"), not an Error.
struct CameraControlResponse {
  bool success = false;
  std::string status;
};

/// Query flags of `POST /camera/control/start` (sent as literal true/false). At least one of
/// the four biometric modes must be set.
struct CameraStartOptions {
  OptBool face_mode;
  OptBool glasses_mode;
  OptBool both_eye_mode;
  OptBool either_eye_mode;
  OptBool streaming_mode;
  OptBool recog_mode;
  OptBool yuvsub2;
  OptBool face_yuvsub2;
  OptBool tcp_preview_mode;
};

/// One eye of a capture. `iris_template` is `left_eye_enrol_template` in biometric data and
/// `left_eye__iris_template` (sic) / `right_eye_iris_template` in match data.
struct EyeCapture {
  OptString image;  ///< base64
  OptString duplicate_uuid;
  OptString iris_template;  ///< base64
  OptDouble usable_iris_area;
  OptDouble quality_score;
  OptBool quality_ok;
};

/// One face image P of a capture (`P`, `P_eye_width`, ..., `P_LED_state`, ...).
struct FaceCapture {
  OptString image;  ///< base64
  OptString duplicate_uuid;
  OptInt eye_width;
  OptString feature;  ///< base64
  OptInt64 feature_size;
  OptDouble frontal_score;
  OptInt led_state;
  OptInt left_eye_x;
  OptInt right_eye_x;
  OptDouble roll;
  OptDouble score;
};

/// Index of the face captures, in the firmware's order.
enum class FaceSlot { kIrisOff = 0, kFarOff, kFarOn, kNearOff, kNearOn };
inline constexpr std::array<const char*, 5> kFaceSlotKeys = {
    "iris_off_face", "far_off_face", "far_on_face", "near_off_face", "near_on_face"};

/// One enrolment capture result (`GET /biometric-data[/ver1|/ver2]`), about 5 MB.
struct BiometricData {
  std::string encounter_id;
  OptString timestamp;
  OptString serial_number;
  EyeCapture left_eye;
  EyeCapture right_eye;
  std::array<FaceCapture, 5> faces;  ///< indexed by FaceSlot
  OptString error_message;
  OptInt record_version;          ///< ver1 and ver2
  OptString server_matching_key;  ///< ver2
};

/// One recognition result (`GET /match-data`).
struct MatchData {
  std::string encounter_id;
  OptString timestamp;
  OptString serial_number;
  OptString uuid;  ///< the matched user's user_uuid
  OptInt64 log_id;
  EyeCapture left_eye;
  EyeCapture right_eye;
  std::array<FaceCapture, 5> faces;  ///< indexed by FaceSlot
};

/// Body of `PUT /biometric-data/save-8bmp|save-24bmp`.
struct ImageToSaveData {
  std::string filename;
  std::string image;  ///< base64
  std::int32_t width = 0;
  std::int32_t height = 0;
};

/// `{"file": base64, "size": int}` of load-file / save-file.
struct FileData {
  std::string file;  ///< base64
  OptInt size;
};

/// Iris subject record.
struct Subject {
  std::string user_uuid;
  OptInt record_version;
  OptString first_name;
  OptString last_name;
  OptBool access_allowed;
  OptString match_until;
  OptInt wiegand_facility;
  OptInt wiegand_site;
  OptInt wiegand_code;
  OptString wiegand_custom;
  OptString left_eye_template;   ///< base64
  OptString right_eye_template;  ///< base64
  OptString left_image_path;
  OptString right_image_path;
};

struct DuplicateResult {
  std::string duplicate_uuid;  ///< empty when no duplicate
};

struct RecordVersion {
  std::int32_t record_version = 0;
};

/// Card, PIN and flags of a user. Key spellings follow the firmware (`indivisual`, sic).
struct UserInfo {
  std::string user_uuid;
  OptString card;  ///< HEX with a space after each byte pair, e.g. "65 D8 A1 BD"
  OptString pin;
  OptInt admin;
  OptInt group_index;
  OptInt by_pass_card;
  OptInt indivisual;
  OptInt three_out_status;
  OptInt three_out_access_allowed;
  OptInt job_code;
  OptInt time_schedule_code;
  OptInt apb_status;
  OptString message;
};

/// Body of `PUT /user-info/schedule`.
struct UserScheduleAssignment {
  struct Entry {
    std::string id;  ///< user_uuid
    std::int32_t time_schedule_code = 0;
  };
  std::vector<Entry> users;  ///< `size` is sent as users.size()
};

/// A face record (`face_LED_state` on the wire).
struct Face {
  std::string user_uuid;  ///< not sent inside EnrollUser.faces
  std::int32_t sub_id = 0;
  OptInt face_eye_width;
  OptInt64 face_feature_size;
  OptDouble face_frontal_score;
  OptInt face_left_eye_x;
  OptInt face_right_eye_x;
  OptDouble face_roll;
  OptDouble face_score;
  OptInt face_led_state;
  OptString face_feature;  ///< base64
};

struct CardEntry {
  OptInt sub_id;
  OptString card;
  OptString remarks;
};

/// Body of `POST /user`: subject + user info (its user_uuid is ignored) + faces + cards.
struct EnrollUser {
  Subject subject;
  UserInfo info;
  std::vector<Face> faces;
  std::vector<CardEntry> cards;
  OptInt card_sub_id;
};

/// Value type of a device setting (`/config/{title}/{type}`).
enum class SettingType { kBool, kInt, kFloat, kString };
const char* SettingTypeName(SettingType type);
/// A setting value; its alternative decides `{type}`.
using SettingValue = std::variant<bool, std::int32_t, double, std::string>;
SettingType TypeOf(const SettingValue& value);

/// `GET /config/{title}/{type}`: `{"title": t, "<type>": v}`.
struct Setting {
  std::string title;
  SettingValue value;
};

struct DoorStatus {
  std::int32_t door_sensor = 0;
  std::int32_t relay = 0;
  std::int32_t tamper = 0;
  std::int32_t rte = 0;
  bool operator==(const DoorStatus&) const = default;
};

/// Query of `PUT /config/relay`.
struct RelayOptions {
  OptBool forced;
  OptInt duration_s;
};

/// `GET /config` (legacy, firmware-only).
struct LegacyConfig {
  OptString faceoriris;
  OptString mode;
  OptInt delay_interval;  ///< `delayInterval`
  OptDouble threshold;
  OptBool relay;
};

struct LogEntry {
  std::int64_t id = 0;
  std::string event_type;
  std::string timestamp;
  OptString user_uuid;
  OptString info;
  OptString additional_data;
  OptString matched_faceimage_data;  ///< base64, often empty
};

enum class LogOrder { kAsc, kDesc };

struct PreviewData {
  OptString left_eye;    ///< base64
  OptString right_eye;   ///< base64
  OptString face_image;  ///< base64
  OptInt avg_distance;
  OptInt left_boundary;
  OptInt right_boundary;
  OptInt left_iris_center_x;
  OptInt right_iris_center_x;
  OptInt left_iris_center_y;
  OptInt right_iris_center_y;
  OptInt left_eye_center_x;
  OptInt right_eye_center_x;
  OptInt left_eye_center_y;
  OptInt right_eye_center_y;
  OptInt left_iris_radius;
  OptInt right_iris_radius;
  OptInt left_distance;
  OptInt right_distance;
  OptInt message;
  OptBool switch_flag;
};

struct SelectedFacePreview {
  OptString face_off;  ///< base64
  OptString face_on;   ///< base64
  OptInt width;
  OptInt height;
};

/// `{"file": "Upload success" | "Upload fail"}`.
struct UploadResult {
  std::string file;
  bool ok() const { return file == "Upload success"; }
};

/// Body of `POST /control`; at least one field must be set.
struct ControlData {
  OptBool result;
  OptBool recog_start;
  OptString wav_path;
  OptString uuid;
  OptString last_name;
  OptString card;
  OptInt wiegand_facility;
  OptInt wiegand_code;
  OptString wiegand_custom;
  OptInt touch_enable_start;
  OptInt camera_init_position;
  OptInt launcher_show;
  OptString result_view_img_data;  ///< base64
  OptInt result_view_img_width;
  OptInt result_view_img_height;
};

struct CardData {
  OptString card;
};

/// `GET /control/operation` reply and `PUT /control/operation/{state}` body.
struct OperationRequest {
  OptInt op_mode;
  OptString host;
  OptInt port;
  OptString request_uri;
};

struct ImageCapture {
  OptInt id;
  OptString image_capture_uuid;
  OptString timestamp;
  OptString serial_number;
};

struct ImageCaptureList {
  std::vector<ImageCapture> image_captures;
};

/// A reply whose shape the spec does not know (`GET /user`): the raw JSON, checked to be
/// well-formed.
struct RawJson {
  std::string json;
};

}  // namespace gw::ef45
