#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ef45sim {

/// One HTTP request as the reader's server sees it. `target` is the raw request-target
/// (path + query, not decoded: the firmware does not URL-decode query values, API.md 1.3).
struct Request {
  std::string method;  ///< "GET", "POST", "PUT", "DELETE", ...
  std::string target;  ///< e.g. "/1.0/logs/from/to?lock_uid=...&page=1&min=68&max=74"
  std::string body;
};

/// The reader's answer. An empty `content_type` means no body (most firmware error replies).
struct Response {
  int status = 200;
  std::string reason;        ///< reason phrase override; empty = the standard phrase
  std::string content_type;  ///< "application/json", or "text/html" for Poco's own 501 page
  std::string body;
};

/// Who a reader is: fixed at construction.
struct Identity {
  int index = 0;
  std::string serial_number;          ///< e.g. "OA1405A000001"
  std::array<std::uint8_t, 6> mac{};  ///< node part of the v1 lock UUIDs
};

/// What the control API reports per reader (GET /sim/readers) and what tests assert on.
struct Stats {
  std::int64_t last_log_id = 0;              ///< newest log id (0 when there are no logs)
  std::int64_t log_count = 0;                ///< logs currently stored
  std::uint64_t recognitions_generated = 0;  ///< since start (survives reboot and wipe)
  std::string app_version;                   ///< what GET /version reports (issue 20)
  std::uint64_t installs = 0;                ///< firmware installs finished (issue 20)
  std::uint64_t door_changes_generated = 0;
  std::uint64_t user_data_logs_generated = 0;
  std::size_t match_pending = 0;       ///< items in the match-data buffer
  std::uint64_t match_overflowed = 0;  ///< items dropped because the buffer was full
  std::uint64_t match_deleted = 0;     ///< items a client deleted (DELETE /match-data/{id})
  std::size_t users = 0;               ///< subjects enrolled
  bool locked = false;
  std::uint64_t requests = 0;
  std::int64_t clock_skew_s = 0;
  bool phantom_newest_pending = false;  ///< fault phantom_newest_log_id not yet reported
};

/// A defect fault `poison_log` puts into the next recognition's log entry.
enum class LogDefect : std::uint8_t {
  kNone,
  kNul,    ///< a NUL character in `info`
  kYear0,  ///< `timestamp` "0000-01-01 00:00:00"
  kHuge,   ///< a face image larger than the gateway's page limit (detail::kHugeFaceImageBytes)
};
/// "nul", "year0", "huge" (and "" for kNone); nullopt for an unknown name.
std::optional<LogDefect> ParseLogDefect(std::string_view name);
std::string_view LogDefectName(LogDefect defect);

/// One event the reader generated, kept so tests can prove "every generated event is in
/// PostgreSQL exactly once" (GET /sim/readers/{i}/generated).
struct GeneratedEvent {
  std::int64_t log_id = 0;
  int log_epoch = 0;       ///< how many log wipes happened before this entry (0 = none)
  std::string event_type;  ///< "Recognition", "UserData"
  std::string info;
  std::string additional_data;
  std::string user_uuid;
  std::string timestamp;                ///< as written in the log entry (reader clock)
  std::string encounter_id;             ///< of the match-data item; empty when none was buffered
  LogDefect defect = LogDefect::kNone;  ///< fault poison_log spoiled its log entry
  /// The reader lost the match-data item before a client deleted it (a reboot clears the
  /// buffer): no client can store it, so a ledger check must not expect it.
  bool match_dropped = false;
};

/// Tunables of one emulated reader. The defaults suit tests and a 1,000-reader fleet.
struct ReaderOptions {
  std::size_t log_capacity = 100000;  ///< logs kept; the oldest are dropped beyond it
  std::size_t match_capacity = 1000;  ///< match-data buffer; full = the newest gets no item
  /// Base64 bytes of one biometric-data capture (a real device sends about 5 MB).
  std::size_t biometric_bytes = 64 * 1024;
  std::size_t match_image_bytes = 48;  ///< raw bytes per image in a match-data item
  int preenrolled_users = 5;           ///< users present at construction (no log entries)
  /// The reader's time source before skew; empty = std::chrono::system_clock::now. Tests
  /// inject a fake clock to drive the relay timer and timestamps deterministically.
  std::function<std::chrono::system_clock::time_point()> clock;
};

/// One emulated EF-45: every operation of shared/ef45/openapi.yaml with the behaviour of
/// shared/ef45/API.md (lock, envelope, status codes, quirks). Pure state machine, no I/O:
/// the fleet server feeds it requests. Not thread-safe: the owner serializes all calls
/// (the simulator runs every reader on one strand). Never throws out of Handle().
///
/// Where API.md leaves a question open, the emulator answers like this (clients must not
/// rely on more than API.md says; these are the emulator's picks):
/// - Paging: omitting `page` gives page 1 (fw80 default, not the DOC's "whole list");
///   `page_size` defaults to 50 (1000 for the light list S9), is capped at 1000, and values
///   < 1 or unparseable fall back to the defaults. `total` counts every row that matched,
///   not only the page; `has_more` = rows remain after this page. A page past the end is
///   empty with has_more false.
/// - GET /logs/{id} and GET /faces/{uuid}?subId= answer a bare object (404 when absent).
/// - GET /user answers a collection of EnrollUser-shaped bundles (subject + user info +
///   faces + cards) for every uuid with a subject or user-info row.
/// - Log ids never come back after a delete (AUTOINCREMENT); DELETE /logs/db and WipeLogs()
///   restart them at 1 and start a new log epoch. /logs/from/to without min or max is open
///   on that side. Beyond log_capacity the oldest logs are dropped.
/// - Match-data buffer full: the recognition still gets its log entry, but no item
///   (Stats::match_overflowed, GeneratedEvent::encounter_id empty).
/// - PUT /subjects/{unknown} is 400 (default-status pattern; openapi lists no 404);
///   POST /subjects with a template enrolled under another uuid is 409 {"duplicate_uuid"};
///   POST /user with one is 200 {"duplicate_uuid"} and stores nothing.
/// - Camera start: no mode flag parsed at all = 400 "Invalid Operation Requested"; flags
///   all false = 200 "Unknown start mode"; not in Slave mode = the firmware's misspelt
///   "Please first chagne mode to Slave(Enrollment)". The capture is instantaneous.
/// - Settings: unknown title 404, wrong type 400, out of range or read-only 417, stored 204.
/// - PUT /config/relay: forced=false releases; otherwise the relay reads 1 for `duration` s
///   (default launcher.device.door.duration); relay setting 0 = 417; negative duration 500.
/// - setDeviceTime and SetClockSkew both set the one offset of the reader clock.
/// - Firmware: chunks or done without a start, or any invalid Base64 = "Upload fail";
///   success reboots the reader (lock dropped, buffers cleared, logs kept).
/// - /camera/control/reboot and /poweroff reboot the reader after answering.
/// - APB clear of an unknown user is 404; launcher.network.apb.enable is not enforced.
class Reader {
 public:
  /// `seed` drives every random choice (mixed with identity.index, so one fleet seed gives
  /// distinct readers). Same identity + seed + calls (+ clock) = same output.
  Reader(Identity identity, std::uint64_t seed, ReaderOptions options = {});
  ~Reader();
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;

  /// Answers one request exactly as the firmware would.
  Response Handle(const Request& request);

  // --- activity the fleet generates (deterministic for a seed) ---
  /// One recognition: a `Recognition` log entry and, when the match buffer has room, a
  /// match-data item whose `log_id` is that entry's id. Granted/denied, known/unknown users.
  void GenerateRecognition();
  /// Door sensor open <-> closed (and occasionally tamper / request-to-exit).
  void GenerateDoorChange();
  /// A local enrolment at the reader: subject + user info + face, and its `UserData` log entry.
  /// Returns the new user's uuid.
  std::string Enroll();

  // --- users, for tests (control API) ---
  /// Every user the reader holds (a subject or a user-info row), sorted by uuid, each as the
  /// EnrollUser-shaped bundle GET /1.0/user answers (subject and user-info fields, `faces`,
  /// `cards`).
  std::string UsersJson() const;
  /// Stores a user (a POST /1.0/user body) as another client writing the tables would, but
  /// without a log entry: a user the gateway cannot know about. Returns "" when stored, else
  /// why not ("bad body", "exists").
  std::string AddUserWithoutLog(const std::string& body);
  /// A change made at the reader (its own UI or another client): stores the user (a POST
  /// /1.0/user body), replacing one with the same uuid, and writes its `UserData` log entry
  /// (UpdateUsers when it replaced one, else AddUsers). Returns "" or why not ("bad body").
  std::string ChangeUserAtReader(const std::string& body);

  // --- settings, for tests (control API) ---
  /// A change made at the reader's own UI (a technician): `{"title","value"}`, the value's JSON
  /// type matching the setting's (bool, integer, number, string), within its range; read-only
  /// settings cannot be changed. Returns "" when stored, else why not ("unknown setting", ...).
  std::string ChangeSettingAtReader(const std::string& body);
  /// `{"title","type","value"}` of one setting (aliases resolved), or "" when unknown.
  std::string SettingJson(std::string_view title) const;

  // --- faults that change reader state ---
  void Reboot();  ///< match buffer cleared, logs kept, lock dropped, camera stopped

  // --- firmware install (issue 20) ---
  /// The version an image accepted by the last `/update/done` installs, once: the fleet then
  /// takes the reader off the network for the install time and calls FinishInstall. nullopt
  /// when no install is waiting (or the image carried no `EF45-FIRMWARE-VERSION=` label).
  std::optional<std::string> TakePendingInstall();
  /// The install is over: the reader reports `version` (GET /version and the
  /// deviceinfo.firmwarefile / fwversion setting) and reboots.
  void FinishInstall(const std::string& version);
  /// Fault firmware_fail: the next image is refused (`{"file":"Upload fail"}`), the version
  /// stays.
  void FailNextInstall();
  /// What GET /version reports.
  const std::string& AppVersion() const;
  void StealLock();  ///< another client takes the lock (our lock_uid stops working)
  void WipeLogs();   ///< all logs gone, ids restart at 1
  void SetClockSkew(std::chrono::seconds skew);
  /// One-shot: the next generated recognition's log entry carries `defect` (its match-data item
  /// does not). The ledger records the entry as generated, with its defect.
  void PoisonNextLog(LogDefect defect);
  /// One-shot: the next log id is `n` higher than it would be (a reader whose ids jump).
  void SkipLogIds(std::int64_t n);
  /// One-shot: the next `GET /logs?order=desc` (page 1) answers with a made-up newest entry of
  /// id `id` first (a broken reader reporting an absurd newest id once).
  void ReportPhantomNewest(std::int64_t id);

  const Identity& identity() const;
  /// Every log entry generated since start, in order (bounded by the log store's capacity).
  const std::vector<GeneratedEvent>& Generated() const;
  Stats GetStats() const;
  /// The reader's clock (system time + skew / setDeviceTime offset): what its HTTP `Date`
  /// header says, as Poco's server sets it on every response.
  std::chrono::system_clock::time_point Now() const;

  /// The reader's internals (reader_state.hpp); public only so that the resource handlers in
  /// the other translation units can name it.
  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace ef45sim
