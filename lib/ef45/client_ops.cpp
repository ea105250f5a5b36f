// The typed operations: build the request (path, checked query, JSON body), call, parse.
// No Beast here; the transport is in client.cpp.

#include <algorithm>

#include "ef45/client.hpp"
#include "ef45/encode.hpp"

namespace gw::ef45 {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain";

/// Builds one Request; the first argument that cannot be sent marks it invalid.
class Build {
 public:
  explicit Build(OpId id) { request_.op = id; }

  Build& Path(std::string_view literal) {
    request_.path += literal;
    return *this;
  }
  /// One path parameter, percent-encoded (e.g. a card number with spaces).
  Build& Segment(std::string_view name, std::string_view value) {
    if (value.empty()) Invalid(std::string(name) + ": must not be empty");
    request_.path += '/';
    request_.path += EncodePathSegment(value);
    return *this;
  }
  /// A query value goes to the reader undecoded: anything that would need encoding is refused.
  Build& Query(std::string_view name, std::string_view value) {
    if (!IsSafeQueryValue(value)) {
      Invalid(std::string(name) + ": query value needs URL encoding, which the reader does not " +
              "decode");
    }
    if (!request_.query.empty()) request_.query += '&';
    request_.query += name;
    request_.query += '=';
    request_.query += value;
    return *this;
  }
  Build& QueryInt(std::string_view name, std::int64_t value) {
    return Query(name, std::to_string(value));
  }
  Build& QueryBool(std::string_view name, bool value) {
    return Query(name, value ? "true" : "false");  // literal, per API.md 1.3
  }
  Build& QueryBool(std::string_view name, const OptBool& value) {
    return value ? QueryBool(name, *value) : *this;
  }
  Build& QueryInt(std::string_view name, const OptInt& value) {
    return value ? QueryInt(name, *value) : *this;
  }
  Build& Page(const PageRequest& page) {
    QueryInt("page", page.page);
    return QueryInt("page_size", page.page_size);
  }
  Build& Json(std::string body) {
    request_.body = std::move(body);
    request_.content_type = kJson;
    return *this;
  }
  Build& Text(std::string body) {
    request_.body = std::move(body);
    request_.content_type = kText;
    return *this;
  }
  void Invalid(std::string why) {
    if (request_.invalid.empty()) request_.invalid = std::move(why);
  }

  Build& Keep(BiometricStrings biometrics) {
    request_.biometrics = biometrics;
    return *this;
  }
  Client::Request Done() { return std::move(request_); }

 private:
  Client::Request request_;
};

Error WithStatus(Error error, int status) {
  error.http_status = status;
  return error;
}

}  // namespace

template <class T>
Client::Async<T> Client::CallAndParse(Request request) {
  const std::string_view name = Op(request.op).name;
  const BiometricStrings biometrics = request.biometrics;
  auto reply = co_await Call(std::move(request));
  if (!reply) co_return reply.error();
  auto parsed = parser_.Parse<T>(name, reply->body, biometrics);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  co_return std::move(*parsed);
}

// The typed operations below return CallAndParse's (or CallNoReply's) awaitable instead of
// awaiting it: one coroutine frame fewer per reader call (issue 18).

Client::Async<void> Client::CallNoReply(Request request) {
  auto reply = co_await Call(std::move(request));
  if (!reply) co_return reply.error();
  co_return Reply<void>{};
}

// ---- version / heartbeat ----

Client::Async<VersionInfo> Client::GetVersion() {
  return CallAndParse<VersionInfo>(Build(OpId::kVersion).Path("/version").Done());
}

Client::Async<void> Client::Heartbeat() {
  return CallNoReply(Build(OpId::kHeartbeat).Path("/heartbeat").Done());
}

// ---- camera ----

Client::Async<CameraConfiguration> Client::GetCamera() {
  return CallAndParse<CameraConfiguration>(Build(OpId::kGetCamera).Path("/camera").Done());
}

Client::Async<CameraControlResponse> Client::SetCamera(const CameraConfiguration& config) {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kSetCamera).Path("/camera").Json(Encode(config)).Done());
}

Client::Async<void> Client::PutCamera(const CameraConfiguration& config) {
  return CallNoReply(Build(OpId::kPutCamera).Path("/camera").Json(Encode(config)).Done());
}

Client::Async<CameraControlResponse> Client::GetCameraControl() {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kGetCameraControl).Path("/camera/control").Done());
}

Client::Async<CameraControlResponse> Client::SetDeviceTime(std::string device_time) {
  Build build(OpId::kSetDeviceTime);
  build.Path("/camera/control/setDeviceTime").Segment("device_time", device_time);
  const bool shaped = device_time.size() == 15 && device_time[12] == '.' &&
                      std::all_of(device_time.begin(), device_time.end(),
                                  [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
  if (!shaped) build.Invalid("device_time: expected MMddhhmmyyyy.ss");
  return CallAndParse<CameraControlResponse>(build.Done());
}

Client::Async<CameraControlResponse> Client::StartCamera(CameraStartOptions options) {
  Build build(OpId::kStartCamera);
  build.Path("/camera/control/start")
      .QueryBool("face_mode", options.face_mode)
      .QueryBool("glasses_mode", options.glasses_mode)
      .QueryBool("both_eye_mode", options.both_eye_mode)
      .QueryBool("either_eye_mode", options.either_eye_mode)
      .QueryBool("streaming_mode", options.streaming_mode)
      .QueryBool("recog_mode", options.recog_mode)
      .QueryBool("yuvsub2", options.yuvsub2)
      .QueryBool("face_yuvsub2", options.face_yuvsub2)
      .QueryBool("tcp_preview_mode", options.tcp_preview_mode);
  if (!options.face_mode && !options.glasses_mode && !options.both_eye_mode &&
      !options.either_eye_mode) {
    build.Invalid("at least one of face_mode, glasses_mode, both_eye_mode, either_eye_mode");
  }
  return CallAndParse<CameraControlResponse>(build.Done());
}

Client::Async<CameraControlResponse> Client::StopCamera() {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kStopCamera).Path("/camera/control/stop").Done());
}

Client::Async<CameraControlResponse> Client::StartMatchTemplate(std::string segment,
                                                                std::string seq_uid,
                                                                const Subject& templates) {
  return CallAndParse<CameraControlResponse>(Build(OpId::kStartMatchTemplate)
                                                 .Path("/camera/control/start")
                                                 .Segment("segment", segment)
                                                 .Segment("seq_uid", seq_uid)
                                                 .Json(Encode(templates))
                                                 .Done());
}

Client::Async<CameraControlResponse> Client::CameraWide() {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kCameraWide).Path("/camera/control/wide").Done());
}

Client::Async<CameraControlResponse> Client::CameraPowerOff() {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kCameraPowerOff).Path("/camera/control/poweroff").Done());
}

Client::Async<CameraControlResponse> Client::CameraReboot() {
  return CallAndParse<CameraControlResponse>(
      Build(OpId::kCameraReboot).Path("/camera/control/reboot").Done());
}

// ---- biometric data and images ----

Client::Async<Collection<BiometricData>> Client::GetBiometricData() {
  return CallAndParse<Collection<BiometricData>>(
      Build(OpId::kGetBiometricData).Path("/biometric-data").Done());
}

Client::Async<Collection<BiometricData>> Client::GetBiometricDataVer1() {
  return CallAndParse<Collection<BiometricData>>(
      Build(OpId::kGetBiometricDataVer1).Path("/biometric-data/ver1").Done());
}

Client::Async<Collection<BiometricData>> Client::GetBiometricDataVer2() {
  return CallAndParse<Collection<BiometricData>>(
      Build(OpId::kGetBiometricDataVer2).Path("/biometric-data/ver2").Done());
}

Client::Async<void> Client::DeleteBiometricData(std::string encounter_id) {
  return CallNoReply(Build(OpId::kDeleteBiometricData)
                         .Path("/biometric-data")
                         .Segment("encounter_id", encounter_id)
                         .Done());
}

Client::Async<void> Client::SaveImage8Bmp(const ImageToSaveData& image) {
  return CallNoReply(
      Build(OpId::kSaveImage8Bmp).Path("/biometric-data/save-8bmp").Json(Encode(image)).Done());
}

Client::Async<void> Client::SaveImage24Bmp(const ImageToSaveData& image) {
  return CallNoReply(
      Build(OpId::kSaveImage24Bmp).Path("/biometric-data/save-24bmp").Json(Encode(image)).Done());
}

Client::Async<FileData> Client::LoadFile(std::string filename) {
  return CallAndParse<FileData>(
      Build(OpId::kLoadFile).Path("/biometric-data/load-file").Query("filename", filename).Done());
}

Client::Async<void> Client::SaveFile(std::string filename, const FileData& file) {
  return CallNoReply(Build(OpId::kSaveFile)
                         .Path("/biometric-data/save-file")
                         .Query("filename", filename)
                         .Json(Encode(file))
                         .Done());
}

// ---- subjects ----

Client::Async<Collection<Subject>> Client::ListSubjects(PageRequest page) {
  return CallAndParse<Collection<Subject>>(
      Build(OpId::kListSubjects).Path("/subjects").Page(page).Done());
}

Client::Async<void> Client::AddSubject(const Subject& subject) {
  return CallNoReply(Build(OpId::kAddSubject).Path("/subjects").Json(Encode(subject)).Done());
}

Client::Async<Subject> Client::GetSubject(std::string user_uuid) {
  return CallAndParse<Subject>(
      Build(OpId::kGetSubject).Path("/subjects").Segment("user_uuid", user_uuid).Done());
}

Client::Async<void> Client::UpdateSubject(std::string user_uuid, const Subject& subject) {
  return CallNoReply(Build(OpId::kUpdateSubject)
                         .Path("/subjects")
                         .Segment("user_uuid", user_uuid)
                         .Json(Encode(subject))
                         .Done());
}

Client::Async<void> Client::DeleteSubject(std::string user_uuid) {
  return CallNoReply(
      Build(OpId::kDeleteSubject).Path("/subjects").Segment("user_uuid", user_uuid).Done());
}

Client::Async<DuplicateResult> Client::CheckDuplicate(const Subject& templates, std::string a,
                                                      std::string b) {
  return CallAndParse<DuplicateResult>(Build(OpId::kCheckDuplicate)
                                           .Path("/subjects")
                                           .Segment("a", a)
                                           .Segment("b", b)
                                           .Json(Encode(templates))
                                           .Done());
}

Client::Async<RecordVersion> Client::GetRecordVersion() {
  return CallAndParse<RecordVersion>(
      Build(OpId::kGetRecordVersion).Path("/subjects/record-version").Done());
}

Client::Async<void> Client::VacuumSubjects() {
  return CallNoReply(Build(OpId::kVacuumSubjects).Path("/subjects/vacuum").Done());
}

// ---- user info ----

Client::Async<Collection<UserInfo>> Client::ListUserInfo(PageRequest page) {
  return CallAndParse<Collection<UserInfo>>(
      Build(OpId::kListUserInfo).Path("/user-info").Page(page).Done());
}

Client::Async<void> Client::AddUserInfo(const UserInfo& info) {
  return CallNoReply(Build(OpId::kAddUserInfo).Path("/user-info").Json(Encode(info)).Done());
}

Client::Async<UserInfo> Client::GetUserInfoByCard(std::string card) {
  return CallAndParse<UserInfo>(
      Build(OpId::kGetUserInfoByCard).Path("/user-info/card").Segment("card", card).Done());
}

Client::Async<void> Client::UpdateUserInfoByCard(std::string card, const UserInfo& info) {
  return CallNoReply(Build(OpId::kUpdateUserInfoByCard)
                         .Path("/user-info/card")
                         .Segment("card", card)
                         .Json(Encode(info))
                         .Done());
}

Client::Async<void> Client::DeleteUserInfoByCard(std::string card) {
  return CallNoReply(
      Build(OpId::kDeleteUserInfoByCard).Path("/user-info/card").Segment("card", card).Done());
}

Client::Async<UserInfo> Client::GetUserInfo(std::string user_uuid) {
  return CallAndParse<UserInfo>(
      Build(OpId::kGetUserInfo).Path("/user-info/uuid").Segment("user_uuid", user_uuid).Done());
}

Client::Async<void> Client::UpdateUserInfo(std::string user_uuid, const UserInfo& info) {
  return CallNoReply(Build(OpId::kUpdateUserInfo)
                         .Path("/user-info/uuid")
                         .Segment("user_uuid", user_uuid)
                         .Json(Encode(info))
                         .Done());
}

Client::Async<void> Client::DeleteUserInfo(std::string user_uuid) {
  return CallNoReply(
      Build(OpId::kDeleteUserInfo).Path("/user-info/uuid").Segment("user_uuid", user_uuid).Done());
}

Client::Async<void> Client::AssignSchedules(const UserScheduleAssignment& assignment) {
  return CallNoReply(
      Build(OpId::kAssignSchedules).Path("/user-info/schedule").Json(Encode(assignment)).Done());
}

// ---- user ----

Client::Async<std::optional<DuplicateResult>> Client::EnrollUser(const ef45::EnrollUser& user) {
  auto reply = co_await Call(Build(OpId::kEnrollUser).Path("/user").Json(Encode(user)).Done());
  if (!reply) co_return reply.error();
  // 201 = created. 200 carries {"duplicate_uuid": ...} when the biometrics match a subject.
  if (reply->status != 200 || reply->body.empty()) co_return std::nullopt;
  auto parsed = parser_.Parse<DuplicateResult>(Op(OpId::kEnrollUser).name, reply->body);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  co_return std::optional<DuplicateResult>(std::move(*parsed));
}

Client::Async<RawJson> Client::GetUsers() {
  return CallAndParse<RawJson>(Build(OpId::kGetUsers).Path("/user").Done());
}

Client::Async<void> Client::DeleteUser(std::string user_uuid) {
  return CallNoReply(Build(OpId::kDeleteUser).Path("/user").Segment("user_uuid", user_uuid).Done());
}

// ---- faces ----

Client::Async<Collection<Face>> Client::ListFaces(PageRequest page) {
  return CallAndParse<Collection<Face>>(Build(OpId::kListFaces).Path("/faces").Page(page).Done());
}

Client::Async<void> Client::AddFace(const Face& face) {
  return CallNoReply(Build(OpId::kAddFace).Path("/faces").Json(Encode(face)).Done());
}

Client::Async<std::vector<Face>> Client::GetFaces(std::string user_uuid) {
  auto reply =
      co_await Call(Build(OpId::kGetFaces).Path("/faces").Segment("user_uuid", user_uuid).Done());
  if (!reply) co_return reply.error();
  auto parsed = parser_.ParseOneOrMany<Face>(Op(OpId::kGetFaces).name, reply->body);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  co_return std::move(*parsed);
}

Client::Async<Face> Client::GetFace(std::string user_uuid, std::int32_t sub_id) {
  auto reply = co_await Call(Build(OpId::kGetFaces)
                                 .Path("/faces")
                                 .Segment("user_uuid", user_uuid)
                                 .QueryInt("subId", sub_id)
                                 .Done());
  if (!reply) co_return reply.error();
  const std::string_view name = Op(OpId::kGetFaces).name;
  auto parsed = parser_.ParseOneOrMany<Face>(name, reply->body);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  for (Face& face : *parsed) {
    if (face.sub_id == sub_id) co_return std::move(face);
  }
  co_return MakeError(Errc::kBadResponse,
                      std::string(name) + ": no face with sub_id " + std::to_string(sub_id),
                      reply->status);
}

Client::Async<void> Client::UpdateFace(std::string user_uuid, std::int32_t sub_id,
                                       const Face& face) {
  return CallNoReply(Build(OpId::kUpdateFace)
                         .Path("/faces")
                         .Segment("user_uuid", user_uuid)
                         .QueryInt("subId", sub_id)
                         .Json(Encode(face))
                         .Done());
}

Client::Async<void> Client::DeleteFace(std::string user_uuid, std::int32_t sub_id) {
  return CallNoReply(Build(OpId::kDeleteFace)
                         .Path("/faces")
                         .Segment("user_uuid", user_uuid)
                         .QueryInt("subId", sub_id)
                         .Done());
}

// ---- settings and door ----

Client::Async<Setting> Client::GetSetting(std::string title, SettingType type) {
  auto reply = co_await Call(Build(OpId::kGetSetting)
                                 .Path("/config")
                                 .Segment("title", title)
                                 .Segment("type", SettingTypeName(type))
                                 .Done());
  if (!reply) co_return reply.error();
  auto parsed = parser_.ParseSetting(Op(OpId::kGetSetting).name, reply->body, type);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  co_return std::move(*parsed);
}

Client::Async<void> Client::SetSetting(std::string title, SettingValue value) {
  return CallNoReply(Build(OpId::kSetSetting)
                         .Path("/config")
                         .Segment("title", title)
                         .Segment("type", SettingTypeName(TypeOf(value)))
                         .Json(Encode(value))
                         .Done());
}

Client::Async<DoorStatus> Client::GetDoorStatus() {
  return CallAndParse<DoorStatus>(Build(OpId::kGetDoorStatus).Path("/config/door-status").Done());
}

Client::Async<void> Client::DriveRelay(RelayOptions options) {
  return CallNoReply(Build(OpId::kDriveRelay)
                         .Path("/config/relay")
                         .QueryBool("forced", options.forced)
                         .QueryInt("duration", options.duration_s)
                         .Done());
}

Client::Async<LegacyConfig> Client::GetLegacyConfig() {
  return CallAndParse<LegacyConfig>(Build(OpId::kGetLegacyConfig).Path("/config").Done());
}

// ---- match data ----

Client::Async<Collection<MatchData>> Client::GetMatchData(BiometricStrings biometrics) {
  return CallAndParse<Collection<MatchData>>(
      Build(OpId::kGetMatchData).Path("/match-data").Keep(biometrics).Done());
}

Client::Async<void> Client::DeleteMatchData(std::string encounter_id) {
  return CallNoReply(Build(OpId::kDeleteMatchData)
                         .Path("/match-data")
                         .Segment("encounter_id", encounter_id)
                         .Done());
}

// ---- logs ----

Client::Async<Collection<LogEntry>> Client::ListLogs(PageRequest page,
                                                     std::optional<LogOrder> order) {
  Build build(OpId::kListLogs);
  build.Path("/logs").Page(page);
  if (order) build.Query("order", *order == LogOrder::kAsc ? "asc" : "desc");
  return CallAndParse<Collection<LogEntry>>(build.Done());
}

Client::Async<void> Client::DeleteLogs(std::int64_t min_id, std::int64_t max_id) {
  return CallNoReply(Build(OpId::kDeleteLogs)
                         .Path("/logs")
                         .QueryInt("min", min_id)
                         .QueryInt("max", max_id)
                         .Done());
}

Client::Async<Collection<LogEntry>> Client::GetLogsRange(std::int64_t min_id, std::int64_t max_id,
                                                         PageRequest page,
                                                         BiometricStrings biometrics) {
  return CallAndParse<Collection<LogEntry>>(Build(OpId::kGetLogsRange)
                                                .Path("/logs/from/to")
                                                .Page(page)
                                                .QueryInt("min", min_id)
                                                .QueryInt("max", max_id)
                                                .Keep(biometrics)
                                                .Done());
}

Client::Async<LogEntry> Client::GetLog(std::int64_t id) {
  auto reply =
      co_await Call(Build(OpId::kGetLog).Path("/logs").Segment("id", std::to_string(id)).Done());
  if (!reply) co_return reply.error();
  const std::string_view name = Op(OpId::kGetLog).name;
  auto parsed = parser_.ParseOneOrMany<LogEntry>(name, reply->body);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  for (LogEntry& entry : *parsed) {
    if (entry.id == id) co_return std::move(entry);
  }
  co_return MakeError(Errc::kBadResponse,
                      std::string(name) + ": no entry with id " + std::to_string(id),
                      reply->status);
}

Client::Async<void> Client::DeleteLog(std::int64_t id) {
  return CallNoReply(
      Build(OpId::kDeleteLog).Path("/logs").Segment("id", std::to_string(id)).Done());
}

Client::Async<void> Client::DeleteAllLogs() {
  return CallNoReply(Build(OpId::kDeleteLog).Path("/logs/db").Done());
}

Client::Async<void> Client::VacuumLogs() {
  return CallNoReply(Build(OpId::kVacuumLogs).Path("/logs/vacuum").Done());
}

Client::Async<Collection<LogEntry>> Client::GetLogsFromCount(std::int64_t from_id,
                                                             std::int32_t count) {
  return CallAndParse<Collection<LogEntry>>(Build(OpId::kGetLogsFromCount)
                                                .Path("/logs/from/count")
                                                .QueryInt("from", from_id)
                                                .QueryInt("count", count)
                                                .Done());
}

// ---- preview ----

Client::Async<std::optional<PreviewData>> Client::GetPreview() {
  auto reply = co_await Call(Build(OpId::kGetPreview).Path("/preview").Done());
  if (!reply) co_return reply.error();
  if (reply->status == 204) co_return std::nullopt;  // no frame yet
  auto parsed = parser_.Parse<PreviewData>(Op(OpId::kGetPreview).name, reply->body);
  if (!parsed) co_return WithStatus(parsed.error(), reply->status);
  co_return std::optional<PreviewData>(std::move(*parsed));
}

Client::Async<SelectedFacePreview> Client::GetSelectedFace() {
  return CallAndParse<SelectedFacePreview>(
      Build(OpId::kGetSelectedFace).Path("/preview/selected-face").Done());
}

Client::Async<void> Client::DeleteSelectedFace() {
  return CallNoReply(Build(OpId::kDeleteSelectedFace).Path("/preview/selected-face").Done());
}

// ---- firmware upload ----

Client::Async<void> Client::UpdateStart(bool forced) {
  return CallNoReply(
      Build(forced ? OpId::kUpdateStartForced : OpId::kUpdateStart).Path("/update/start").Done());
}

Client::Async<void> Client::UpdateChunk(std::string base64, bool forced, std::string chunk) {
  Build build(forced ? OpId::kUpdateChunkForced : OpId::kUpdateChunk);
  build.Path("/update").Segment("chunk", chunk).Text(std::move(base64));
  if (chunk == "start" || chunk == "done") build.Invalid("chunk: must not be start or done");
  return CallNoReply(build.Done());
}

Client::Async<UploadResult> Client::UpdateDone(std::string base64, bool forced) {
  return CallAndParse<UploadResult>(Build(forced ? OpId::kUpdateDoneForced : OpId::kUpdateDone)
                                        .Path("/update/done")
                                        .Text(std::move(base64))
                                        .Done());
}

// ---- control, card input, APB, operation, image capture ----

Client::Async<CameraControlResponse> Client::Control(const ControlData& data) {
  Build build(OpId::kControl);
  std::string body = Encode(data);
  if (body == "{}") build.Invalid("at least one control field is required");
  build.Path("/control").Json(std::move(body));
  return CallAndParse<CameraControlResponse>(build.Done());
}

Client::Async<void> Client::StartCardInput() {
  return CallNoReply(Build(OpId::kStartCardInput).Path("/control/card/start").Done());
}

Client::Async<void> Client::StopCardInput() {
  return CallNoReply(Build(OpId::kStopCardInput).Path("/control/card/stop").Done());
}

Client::Async<CardData> Client::GetCardData() {
  return CallAndParse<CardData>(Build(OpId::kGetCardData).Path("/control/card/data").Done());
}

Client::Async<void> Client::ClearApb(std::string user_uuid) {
  return CallNoReply(
      Build(OpId::kClearApb).Path("/control/apb/clear").Segment("user_uuid", user_uuid).Done());
}

Client::Async<void> Client::ClearAllApb() {
  return CallNoReply(Build(OpId::kClearAllApb).Path("/control/apb/clearall").Done());
}

Client::Async<OperationRequest> Client::GetOperation() {
  return CallAndParse<OperationRequest>(
      Build(OpId::kGetOperation).Path("/control/operation").Done());
}

Client::Async<void> Client::SetOperation(bool active, const OperationRequest& request) {
  return CallNoReply(Build(OpId::kSetOperation)
                         .Path("/control/operation")
                         .Segment("state", active ? "active" : "in-active")
                         .Json(Encode(request))
                         .Done());
}

Client::Async<ImageCaptureList> Client::GetImageCaptures() {
  return CallAndParse<ImageCaptureList>(
      Build(OpId::kGetImageCaptures).Path("/imagecapture").Done());
}

}  // namespace gw::ef45
