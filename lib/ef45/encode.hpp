#pragma once

// Request bodies (Boost.JSON) and URL pieces for the reader API. Only members the caller set
// are written; key spellings follow the firmware (`face_LED_state`, `indivisual`, ...).
// Pure functions: no I/O, thread-safe, never log.

#include <boost/json/value.hpp>
#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "ef45/models.hpp"

namespace gw::ef45 {

std::string Encode(const CameraConfiguration& value);
std::string Encode(const Subject& value);
std::string Encode(const UserInfo& value);
std::string Encode(const Face& value);  ///< with user_uuid
std::string Encode(const EnrollUser& value);
std::string Encode(const ImageToSaveData& value);
std::string Encode(const FileData& value);
std::string Encode(const UserScheduleAssignment& value);
std::string Encode(const ControlData& value);
std::string Encode(const OperationRequest& value);
/// `{"<type>": value}`, the body of `PUT /config/{title}/{type}`.
std::string Encode(const SettingValue& value);

/// Whether ToJson writes templates and images (base64) or a placeholder with their length.
enum class Biometrics { kRedact, kInclude };

/// Reply models back to JSON with the reader's own keys (for ef45ctl and the façade).
boost::json::value ToJson(const VersionInfo& value);
boost::json::value ToJson(const CameraConfiguration& value);
boost::json::value ToJson(const CameraControlResponse& value);
boost::json::value ToJson(const BiometricData& value, Biometrics biometrics);
boost::json::value ToJson(const MatchData& value, Biometrics biometrics);
boost::json::value ToJson(const FileData& value, Biometrics biometrics);
boost::json::value ToJson(const Subject& value, Biometrics biometrics);
boost::json::value ToJson(const DuplicateResult& value);
boost::json::value ToJson(const RecordVersion& value);
boost::json::value ToJson(const UserInfo& value);
boost::json::value ToJson(const Face& value, Biometrics biometrics);
boost::json::value ToJson(const Setting& value);
boost::json::value ToJson(const DoorStatus& value);
boost::json::value ToJson(const LegacyConfig& value);
boost::json::value ToJson(const LogEntry& value, Biometrics biometrics);
boost::json::value ToJson(const PreviewData& value, Biometrics biometrics);
boost::json::value ToJson(const SelectedFacePreview& value, Biometrics biometrics);
boost::json::value ToJson(const UploadResult& value);
boost::json::value ToJson(const CardData& value);
boost::json::value ToJson(const OperationRequest& value);
boost::json::value ToJson(const ImageCaptureList& value);

/// The envelope with its items converted by `item` (a callable T -> boost::json::value).
template <class T, class F>
boost::json::value ToJson(const Collection<T>& page, F&& item) {
  boost::json::array items;
  for (const T& value : page.items) items.push_back(item(value));
  return boost::json::object{{"status_code", page.status_code},
                             {"reason_phrase", page.reason_phrase},
                             {"items", std::move(items)},
                             {"page", page.page},
                             {"page_size", page.page_size},
                             {"has_more", page.has_more},
                             {"total", page.total}};
}

/// Percent-encodes one path segment: every byte except RFC 3986 unreserved characters
/// (`65 D8 A1 BD` -> `65%20D8%20A1%20BD`, `a/b` -> `a%2Fb`). The reader decodes path segments.
std::string EncodePathSegment(std::string_view segment);

/// True if `value` can go into a query string as is: the reader does not URL-decode query
/// values, so only RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) are accepted.
bool IsSafeQueryValue(std::string_view value);

/// The reader's `setDeviceTime` format `MMddhhmmyyyy.ss` (24-hour), in UTC.
std::string FormatDeviceTime(std::chrono::system_clock::time_point time);

/// Standard base64 (with padding) of raw bytes, e.g. a firmware chunk.
std::string Base64Encode(std::span<const unsigned char> bytes);

}  // namespace gw::ef45
