#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ef45/models.hpp"
#include "ef45/operations.hpp"
#include "ef45/parse.hpp"
#include "ef45/reply.hpp"

namespace gw::ef45 {

/// What to do when `POST /1.0/lock` answers 409 (another client holds the reader's lock).
enum class LockPolicy {
  kWait,   ///< retry every `lock_retry_interval` for up to `lock_wait`, then kLockConflict
  kSteal,  ///< take it with `PUT /1.0/lock` (the other client's lock_uid stops working)
};

/// Who holds the reader's session lock, as far as this client has seen.
enum class LockHolder {
  kUnknown,      ///< not asked yet (or our lock stopped working and we have not asked again)
  kUs,           ///< this client: lock_uid() is the reader's lock
  kOtherClient,  ///< the reader refused us its lock (409): another client holds it
  kNobody,       ///< we released it, and nobody took it through us since
};
std::string_view LockHolderName(LockHolder holder);

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9980;
  /// Deadline of one HTTP exchange, connecting included. A hung reader costs at most this.
  std::chrono::milliseconds request_timeout{5000};
  LockPolicy lock_policy = LockPolicy::kWait;
  std::chrono::milliseconds lock_wait{0};  ///< kWait only; 0 = report the conflict at once
  std::chrono::milliseconds lock_retry_interval{500};
  /// Reply body limits per BodyClass (a larger reply fails with kTooLarge).
  std::size_t small_body_limit = std::size_t{1} << 20;
  std::size_t page_body_limit = std::size_t{8} << 20;
  std::size_t biometric_body_limit = std::size_t{32} << 20;
  /// Called when the reader grants a new lock (POST or PUT /lock), before its lock_uid is used:
  /// the gateway records it in PostgreSQL here, so that after a crash it resumes its own lock
  /// (ResumeLock) instead of meeting it as another client's. An error releases the new lock at
  /// once and fails the call that needed it with that error. Runs inside the client's turn on
  /// its executor; must not call back into the Client. Optional.
  std::function<boost::asio::awaitable<Reply<void>>(std::string lock_uid)> on_lock_acquired;
  /// Called after every HTTP exchange with the reader (lock calls included), on the client's
  /// executor, with the reply status (0 if none) and the transport error. Never sees bodies.
  /// For metrics and tests; must not call back into the Client.
  std::function<void(const Operation& op, int http_status, const boost::system::error_code& ec,
                     std::chrono::steady_clock::duration elapsed)>
      on_exchange;
};

/// The reader's clock as its last reply's HTTP `Date` header told it (1 s resolution), and our
/// clock when that reply arrived: skew ≈ `reader_time + 0.5 s - received_at`.
struct ReplyClock {
  std::chrono::system_clock::time_point reader_time;
  std::chrono::system_clock::time_point received_at;
};

/// A typed async client for one EF-45 reader: every operation of shared/ef45/openapi.yaml.
///
/// One keep-alive HTTP/1.1 connection, opened on first use and re-opened after the reader or a
/// deadline closed it. A request that finds its reused connection closed before any reply byte
/// is resent once on a fresh one if it could not have been handled (the write failed) or is
/// idempotent (GET, PUT, DELETE); otherwise it fails kClosed. One request in flight: calls made
/// while another is running wait their turn, so several coroutines may share the client.
///
/// Session: the first operation that needs the lock takes it (`Lock()`, per LockPolicy). When
/// the reader answers 501 (no handler: our lock_uid no longer works, e.g. it was stolen or the
/// reader rebooted), the client re-acquires once and resends; a second 501 or a failed
/// re-acquire is kLockLost. `Unlock()` releases it (call it before dropping the client).
///
/// Errors are values (Reply<T>): kTimeout, kRefused, kClosed, kHttpStatus (status in
/// `http_status`), kLockConflict, kLockLost, kBadResponse (detail names the field), kTooLarge,
/// kBadRequest (an argument that cannot be sent, e.g. a query value needing URL encoding),
/// kCancelled (Close()). Bodies with templates/images are never logged.
///
/// Strand affinity: construct it with the reader's strand and call every member from that
/// strand only; it is not thread-safe. Non-blocking. Destroy it only when no call is running.
class Client {
 public:
  template <class T>
  using Async = boost::asio::awaitable<Reply<T>>;

  Client(boost::asio::any_io_executor executor, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;
  /// The lock_uid we hold, empty if none.
  const std::string& lock_uid() const;
  /// Who held the reader's lock at our last contact about it.
  LockHolder lock_holder() const;
  /// The `Date` header of the newest reply that had one (nullopt until then).
  const std::optional<ReplyClock>& last_reply_clock() const;
  /// Closes the connection; a call in flight completes with kCancelled. The lock is kept. A
  /// lock request in flight is not cut (it ends by its own deadline, then the connection
  /// closes): the reader may have granted it, and a grant nobody heard of is a lock nobody can
  /// release (API.md 1.2: no expiry).
  void Close();
  /// For good: every later call (queued ones included) fails kCancelled without connecting or
  /// taking the lock again; a call in flight finishes first. Then the lock this client holds by
  /// then, if any, is released (DELETE /lock/{uid}) and the connection closed. For an owner that
  /// lets go of the reader (removed by a reload, handed to another gateway) while others may
  /// still hold the client (API operations, user sync). Returns the uid released, empty when
  /// none was held; an error when the release failed (the lock is then forgotten anyway).
  Async<std::string> Retire();

  // ---- session (POST/PUT /lock, DELETE /lock/{lock_uid}) ----
  /// Takes the lock if we do not hold it (POST /lock; on 409 per LockPolicy).
  Async<void> Lock();
  /// Takes the lock by force (PUT /lock) whether or not someone holds it.
  Async<void> StealLock();
  /// Releases our lock (DELETE /lock/{uid}); a no-op when we hold none.
  Async<void> Unlock();
  /// Tries `lock_uid`, a lock this gateway was granted earlier (before a restart, or by the
  /// previous owner in a cluster), with one lock-checked request (GET /config/door-status).
  /// true: the reader still honours it, and it is ours again: no POST, no steal. false: it no
  /// longer works (released, replaced, reader restarted); the next call that needs the lock takes
  /// one per LockPolicy. A no-op returning true when we already hold `lock_uid`.
  Async<bool> ResumeLock(std::string lock_uid);

  // ---- version / heartbeat (no lock) ----
  Async<VersionInfo> GetVersion();
  Async<void> Heartbeat();

  // ---- camera ----
  Async<CameraConfiguration> GetCamera();
  Async<CameraControlResponse> SetCamera(const CameraConfiguration& config);  ///< POST
  Async<void> PutCamera(const CameraConfiguration& config);                   ///< PUT, no reply
  Async<CameraControlResponse> GetCameraControl();
  /// `device_time` as `MMddhhmmyyyy.ss` (see FormatDeviceTime).
  Async<CameraControlResponse> SetDeviceTime(std::string device_time);
  Async<CameraControlResponse> StartCamera(CameraStartOptions options);
  Async<CameraControlResponse> StopCamera();
  Async<CameraControlResponse> StartMatchTemplate(std::string segment, std::string seq_uid,
                                                  const Subject& templates);
  Async<CameraControlResponse> CameraWide();
  Async<CameraControlResponse> CameraPowerOff();
  Async<CameraControlResponse> CameraReboot();

  // ---- biometric data and images ----
  Async<Collection<BiometricData>> GetBiometricData();      ///< original endpoint
  Async<Collection<BiometricData>> GetBiometricDataVer1();  ///< + record_version
  Async<Collection<BiometricData>> GetBiometricDataVer2();  ///< + server_matching_key
  Async<void> DeleteBiometricData(std::string encounter_id);
  Async<void> SaveImage8Bmp(const ImageToSaveData& image);
  Async<void> SaveImage24Bmp(const ImageToSaveData& image);
  Async<FileData> LoadFile(std::string filename);
  Async<void> SaveFile(std::string filename, const FileData& file);

  // ---- subjects ----
  Async<Collection<Subject>> ListSubjects(PageRequest page = {});
  Async<void> AddSubject(const Subject& subject);
  Async<Subject> GetSubject(std::string user_uuid);
  /// 409 (templates duplicate another subject) is kHttpStatus with http_status 409.
  Async<void> UpdateSubject(std::string user_uuid, const Subject& subject);
  Async<void> DeleteSubject(std::string user_uuid);
  /// Duplication check (`PUT /subjects/{a}/{b}`; the real segment names are unknown).
  Async<DuplicateResult> CheckDuplicate(const Subject& templates, std::string a = "duplication",
                                        std::string b = "check");
  Async<RecordVersion> GetRecordVersion();
  Async<void> VacuumSubjects();

  // ---- user info ----
  Async<Collection<UserInfo>> ListUserInfo(PageRequest page = {});
  Async<void> AddUserInfo(const UserInfo& info);
  /// `card`: hex with spaces (`65 D8 A1 BD`); percent-encoded on the wire.
  Async<UserInfo> GetUserInfoByCard(std::string card);
  Async<void> UpdateUserInfoByCard(std::string card, const UserInfo& info);
  Async<void> DeleteUserInfoByCard(std::string card);
  Async<UserInfo> GetUserInfo(std::string user_uuid);
  Async<void> UpdateUserInfo(std::string user_uuid, const UserInfo& info);
  Async<void> DeleteUserInfo(std::string user_uuid);
  Async<void> AssignSchedules(const UserScheduleAssignment& assignment);

  // ---- user (all of a user's data) ----
  /// Created (201): nullopt. A biometric duplicate (200 with duplicate_uuid): that result.
  Async<std::optional<DuplicateResult>> EnrollUser(const ef45::EnrollUser& user);
  Async<RawJson> GetUsers();  ///< shape unknown (open question 8): the raw JSON
  Async<void> DeleteUser(std::string user_uuid);

  // ---- faces ----
  Async<Collection<Face>> ListFaces(PageRequest page = {});
  Async<void> AddFace(const Face& face);
  /// All faces of a user (bare object or collection accepted).
  Async<std::vector<Face>> GetFaces(std::string user_uuid);
  /// One face (`?subId=`); kHttpStatus 404 if none.
  Async<Face> GetFace(std::string user_uuid, std::int32_t sub_id);
  Async<void> UpdateFace(std::string user_uuid, std::int32_t sub_id, const Face& face);
  Async<void> DeleteFace(std::string user_uuid, std::int32_t sub_id);

  // ---- settings and door ----
  Async<Setting> GetSetting(std::string title, SettingType type);
  Async<void> SetSetting(std::string title, SettingValue value);
  Async<DoorStatus> GetDoorStatus();
  Async<void> DriveRelay(RelayOptions options);
  Async<LegacyConfig> GetLegacyConfig();

  // ---- match data ----
  /// `biometrics`: kShapeOnly for a caller that stores none of the images and templates (the
  /// pollers), see parse.hpp.
  Async<Collection<MatchData>> GetMatchData(BiometricStrings biometrics = BiometricStrings::kKeep);
  Async<void> DeleteMatchData(std::string encounter_id);

  // ---- logs ----
  Async<Collection<LogEntry>> ListLogs(PageRequest page = {},
                                       std::optional<LogOrder> order = std::nullopt);
  Async<void> DeleteLogs(std::int64_t min_id, std::int64_t max_id);
  /// `GET /logs/from/to?min=&max=`: the poller's cursor read.
  Async<Collection<LogEntry>> GetLogsRange(std::int64_t min_id, std::int64_t max_id,
                                           PageRequest page = {},
                                           BiometricStrings biometrics = BiometricStrings::kKeep);
  /// One entry (a bare entry or a one-item collection accepted); kHttpStatus 404 if none.
  Async<LogEntry> GetLog(std::int64_t id);
  Async<void> DeleteLog(std::int64_t id);
  Async<void> DeleteAllLogs();  ///< `DELETE /logs/db` (fw80)
  Async<void> VacuumLogs();
  Async<Collection<LogEntry>> GetLogsFromCount(std::int64_t from_id, std::int32_t count);

  // ---- preview ----
  /// nullopt when the reader has no frame yet (204).
  Async<std::optional<PreviewData>> GetPreview();
  Async<SelectedFacePreview> GetSelectedFace();
  Async<void> DeleteSelectedFace();

  // ---- firmware upload (POST = normal, PUT = forced upgrade) ----
  Async<void> UpdateStart(bool forced = false);
  /// One base64 unit (~1 MB), every unit but the last. `chunk` is the path segment.
  Async<void> UpdateChunk(std::string base64, bool forced = false, std::string chunk = "data");
  /// The last unit; the reader answers with the transfer result.
  Async<UploadResult> UpdateDone(std::string base64, bool forced = false);

  // ---- control, card input, APB, operation, image capture ----
  Async<CameraControlResponse> Control(const ControlData& data);
  Async<void> StartCardInput();
  Async<void> StopCardInput();
  Async<CardData> GetCardData();
  Async<void> ClearApb(std::string user_uuid);
  Async<void> ClearAllApb();
  Async<OperationRequest> GetOperation();
  Async<void> SetOperation(bool active, const OperationRequest& request);
  Async<ImageCaptureList> GetImageCaptures();

  /// One HTTP request as the typed operations build it (public only so that client_ops.cpp can
  /// build it outside the class; not part of the API).
  struct Request {
    OpId op;
    std::string path;   ///< under /1.0, segments already percent-encoded
    std::string query;  ///< "a=1&b=x", without lock_uid; values already checked
    std::string body;
    std::string_view content_type;  ///< empty = no body
    std::string invalid;  ///< set when an argument cannot be sent: the call fails kBadRequest
    BiometricStrings biometrics = BiometricStrings::kKeep;  ///< how the reply is parsed
  };
  struct HttpReply {
    int status = 0;
    std::string body;  ///< padded capacity for the parser
  };

 private:
  /// Sends `request` with the session rules above; non-2xx statuses become kHttpStatus.
  Async<HttpReply> Call(Request request);
  /// Call's answer to a 501 (our lock is gone): a new lock, and the request once more.
  Async<HttpReply> RetryWithNewLock(const Operation& op, const Request& request);
  template <class T>
  Async<T> CallAndParse(Request request);
  Async<void> CallNoReply(Request request);

  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared: the deadline sweeper holds a weak pointer
  ResponseParser parser_;       // used from the client's strand only
};

}  // namespace gw::ef45
