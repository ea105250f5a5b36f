#pragma once

// Request bodies (Boost.JSON) and URL pieces for the reader API. Only members the caller set
// are written; key spellings follow the firmware (`face_LED_state`, `indivisual`, ...).
// Pure functions: no I/O, thread-safe, never log.

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
