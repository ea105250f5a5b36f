#pragma once
// Internal to ef45sim_core: the state of one emulated reader and the per-resource handlers.
// reader.cpp routes and checks the lock; reader_users.cpp, reader_logs.cpp, reader_camera.cpp
// and reader_device.cpp implement the resource families.

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "reader.hpp"
#include "sim_util.hpp"

namespace ef45sim {

namespace detail {

/// One stored log entry. Strings from the fixed vocabulary are views into static storage.
struct LogEntry {
  std::int64_t id = 0;
  std::int64_t unix_seconds = 0;
  std::string_view event_type;
  std::string_view info;
  std::string_view additional_data;
  std::string user_uuid;
  LogDefect defect = LogDefect::kNone;  ///< fault poison_log: how SerializeLog spoils it
};

/// The face image of a `huge` entry: 9 MiB of Base64, over the gateway client's 8 MiB page
/// limit on its own, so every logs page that holds the entry (500 ids or one) is too large.
constexpr std::size_t kHugeFaceImageBytes = std::size_t{9} << 20;

/// A buffered match-data item. Images, features and scores are not stored: they are
/// regenerated from `seed` on every read (identical each time).
struct MatchItem {
  std::string encounter_id;
  std::string user_uuid;
  std::string left_template;  ///< enrolled template of a known user; "" = random from seed
  std::string right_template;
  std::int64_t log_id = 0;
  std::int64_t unix_seconds = 0;
  std::uint64_t seed = 0;
};

/// A buffered biometric-data capture: `json_core` is the object without its closing brace so
/// that ver1/ver2 can append their extra keys.
struct BioItem {
  std::string encounter_id;
  std::string json_core;
};

/// One device setting (API.md section 9).
struct Setting {
  enum class Type { kBool, kInt, kFloat, kString };
  Type type = Type::kInt;
  bool read_only = false;
  bool ranged = false;
  std::int64_t min = 0;
  std::int64_t max = 0;
  bool b = false;
  std::int64_t i = 0;
  double f = 0.0;
  std::string s;
};

struct ImageCapture {
  std::int64_t id = 0;
  std::string uuid;
  std::int64_t unix_seconds = 0;
};

/// A request after routing: the segments after "1.0" (decoded), the raw query, the body.
struct Call {
  std::string_view method;
  std::vector<std::string> seg;  ///< seg[0] is the resource, e.g. "logs"
  std::string_view query;
  const std::string& body;
};

/// Page and page size read from the query (API.md 1.4).
struct Paging {
  int page = 1;
  int page_size = 50;
};

/// Reads `page`/`page_size`. Omitted or unparseable `page` = 1 (fw80 `getIntValue` default;
/// the DOC's "all the list" is not what the firmware does). page < 1 = 1. `page_size` omitted,
/// unparseable or < 1 = `default_size`; capped at 1000 to keep responses bounded.
Paging ReadPaging(std::string_view query, int default_size = 50);

/// Builds the collection envelope. `total` counts every row that matched the query (not only
/// the returned page), and `has_more` = rows remain after this page. `append(i, out)` writes
/// item i (0-based within all matching rows) for each i on the page.
/// `item_bytes(i)`, when given, sizes item i so that the body is allocated once.
template <typename AppendItem, typename ItemBytes = std::nullptr_t>
std::string Collection(std::size_t total, Paging paging, AppendItem&& append,
                       ItemBytes item_bytes = nullptr) {
  std::size_t size = static_cast<std::size_t>(paging.page_size);
  std::size_t begin = static_cast<std::size_t>(paging.page - 1) * size;
  std::size_t end = begin >= total ? begin : std::min(total, begin + size);
  std::string out;
  std::size_t reserve = 128;
  for (std::size_t i = begin; i < end; ++i) {
    if constexpr (std::is_same_v<ItemBytes, std::nullptr_t>) {
      reserve += 192;
    } else {
      reserve += item_bytes(i) + 1;
    }
  }
  out.reserve(reserve);
  out += "{\"status_code\":200,\"reason_phrase\":\"OK\",\"items\":[";
  for (std::size_t i = begin; i < end; ++i) {
    if (i != begin) out += ',';
    append(i, out);
  }
  out += "],\"page\":";
  util::AppendInt(out, paging.page);
  out += ",\"page_size\":";
  util::AppendInt(out, paging.page_size);
  out += end < total ? ",\"has_more\":true,\"total\":" : ",\"has_more\":false,\"total\":";
  util::AppendInt(out, static_cast<std::int64_t>(total));
  out += '}';
  return out;
}

}  // namespace detail

struct Reader::State {
  State(Identity id, std::uint64_t seed, ReaderOptions opts);

  Identity identity;
  ReaderOptions options;
  util::Prng rng;
  std::string serial_text;
  std::string mac_text;

  // Clock: reader time = clock() + offset. SetClockSkew and setDeviceTime both set `offset`.
  std::chrono::seconds offset{0};
  std::chrono::system_clock::time_point Now() const;
  std::int64_t NowSeconds() const;

  // Lock (API.md 1.2).
  std::string lock_uid;  ///< empty = unlocked
  std::uint64_t last_uuid_ticks = 0;
  std::uint16_t clock_seq = 0;
  std::string NewLockUid();

  // Users: one table per resource, as on the device (the tables are independent).
  std::map<std::string, boost::json::object> subjects;
  /// Iris template -> user_uuid of the subject holding it, kept in step with `subjects` (every
  /// change goes through PutSubject / EraseSubject / ClearSubjects): the duplicate check is a
  /// lookup, not a scan of every subject (which made large fleets CPU-bound in the emulator).
  std::unordered_map<std::string, std::string> template_owner;
  void PutSubject(const std::string& uuid, boost::json::object subject);
  bool EraseSubject(const std::string& uuid);  ///< false when there was none
  void ClearSubjects();
  std::map<std::string, boost::json::object> user_info;
  std::map<std::string, std::map<std::int64_t, boost::json::object>> faces;
  std::map<std::string, boost::json::array> cards;

  // Logs and match data.
  std::deque<detail::LogEntry> logs;
  std::int64_t next_log_id = 1;
  int log_epoch = 0;
  std::deque<detail::MatchItem> match;
  LogDefect poison_next = LogDefect::kNone;    ///< one-shot: spoils the next recognition
  std::optional<std::int64_t> phantom_newest;  ///< one-shot: next `GET /logs?order=desc` lies

  // Door.
  int door_sensor = 0;
  int tamper = 0;
  int rte = 0;
  std::chrono::system_clock::time_point relay_until{};
  int Relay() const;

  // Settings.
  std::map<std::string, detail::Setting, std::less<>> settings;
  std::map<std::string, std::string, std::less<>> setting_alias;
  detail::Setting* FindSetting(std::string_view title);
  std::int64_t IntSetting(std::string_view title, std::int64_t fallback);
  bool BoolSetting(std::string_view title, bool fallback);

  // Camera.
  std::string camera_mode = "Recog";
  bool audio_enabled = true;
  bool capturing = false;
  std::deque<detail::BioItem> biometric;
  std::deque<std::string> preview_frames;
  std::optional<std::string> selected_face;
  std::map<std::string, std::string> files;  ///< image files by name: Base64 content
  std::vector<detail::ImageCapture> image_captures;

  // Firmware upload.
  bool fw_receiving = false;
  bool fw_failed = false;
  std::size_t fw_bytes = 0;
  // Firmware install (issue 20): the image's bytes (up to kMaxInstallImage), the version the
  // reader reports, the install an accepted image started, and the fault firmware_fail.
  std::string fw_image;
  std::string app_version;
  std::optional<std::string> pending_install;
  bool fail_next_install = false;

  // Control.
  bool card_input = false;
  std::string card_data;
  int op_mode = 0;
  std::string op_host;
  int op_port = 0;
  std::string op_request_uri;

  std::vector<GeneratedEvent> generated;
  Stats stats;

  // --- shared operations ---
  /// Appends a log entry (dropping the oldest beyond capacity) and records it in `generated`.
  detail::LogEntry& AppendLog(std::string_view event_type, std::string_view info,
                              std::string_view additional_data, std::string user_uuid,
                              std::string encounter_id = {});
  void AppendUserDataLog(std::string_view info, std::string user_uuid);
  void SerializeLog(const detail::LogEntry& entry, std::string& out) const;
  /// Writes a MatchData object (API.md section 10 keys, typos included).
  void AppendMatchItem(const detail::MatchItem& item, std::string& out) const;
  /// Upper bound of AppendMatchItem's output size.
  std::size_t MatchItemBytes(const detail::MatchItem& item) const;
  void WipeLogs();
  void Reboot();
  /// Recognition of `user_uuid` ("" = unknown person): log entry + match item.
  void Recognize(const std::string& user_uuid, std::string_view direction, std::string_view mode);
  std::string EnrollRandomUser();
  /// user_uuid of another subject whose iris template equals one of `subject`'s ("" = none).
  std::string FindDuplicate(const boost::json::object& subject, std::string_view exclude) const;
  void InitSettings();
  void RefreshStats();
};

namespace detail {

using State = Reader::State;

Response HandleSubjects(State& st, const Call& call);
Response HandleUserInfo(State& st, const Call& call);
Response HandleUser(State& st, const Call& call);
Response HandleFaces(State& st, const Call& call);
Response HandleLogs(State& st, const Call& call);
Response HandleMatchData(State& st, const Call& call);
Response HandleCamera(State& st, const Call& call);
Response HandleBiometricData(State& st, const Call& call);
Response HandlePreview(State& st, const Call& call);
Response HandleImageCapture(State& st, const Call& call);
Response HandleConfig(State& st, const Call& call);
/// GET /1.0/config/door-status, the hot path.
Response DoorStatus(State& st);
Response HandleUpdate(State& st, const Call& call);
Response HandleControl(State& st, const Call& call);

/// Field types of the firmware's record structs, for request-body validation.
enum class FieldType { kString, kInt, kBool, kNumber };
struct FieldSpec {
  const char* name;
  FieldType type;
};

/// Copies `input` into a record with exactly the `spec` fields in order: present fields must
/// have the right JSON type (else nullopt, i.e. 400); missing ones get the type's default
/// ("" / 0 / false / 0.0) unless `defaults` has them.
std::optional<boost::json::object> Normalize(const boost::json::object& input,
                                             const std::vector<FieldSpec>& spec,
                                             const boost::json::object& defaults = {});

const std::vector<FieldSpec>& SubjectSpec();
const std::vector<FieldSpec>& UserInfoSpec();
const std::vector<FieldSpec>& FaceSpec();
const std::vector<FieldSpec>& CardSpec();

/// Fills device-side defaults of a subject (image paths, record version when 0 is sent).
void CompleteSubject(boost::json::object& subject);

}  // namespace detail
}  // namespace ef45sim
