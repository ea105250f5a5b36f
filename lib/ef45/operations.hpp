#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace gw::ef45 {

/// How large a reply to an operation may be; the limits themselves are Client options.
enum class BodyClass {
  kSmall,      ///< single objects and acknowledgements (default 1 MiB)
  kPage,       ///< list pages: logs, subjects, user info, faces (default 8 MiB)
  kBiometric,  ///< biometric data, match data, preview, image files (default 32 MiB)
};

/// One method + path of the reader API (shared/ef45/openapi.yaml). `path` is the template
/// under `/1.0`, as in the spec (`/logs/from/to`, `/faces/{user_uuid}`).
struct Operation {
  std::string_view name;  ///< short stable name, used in error details and metrics
  std::string_view method;
  std::string_view path;
  bool needs_lock;  ///< sends `?lock_uid=`; false only for /lock, /version, /heartbeat
  BodyClass body_class;
};

/// Identifies an Operation; the enumerators follow openapi.yaml's order.
enum class OpId : std::size_t {
  kLockAcquire,
  kLockSteal,
  kLockRelease,
  kVersion,
  kHeartbeat,
  kGetCamera,
  kSetCamera,
  kPutCamera,
  kGetCameraControl,
  kSetDeviceTime,
  kStartCamera,
  kStopCamera,
  kStartMatchTemplate,
  kCameraWide,
  kCameraPowerOff,
  kCameraReboot,
  kGetBiometricData,
  kGetBiometricDataVer1,
  kGetBiometricDataVer2,
  kDeleteBiometricData,
  kSaveImage8Bmp,
  kSaveImage24Bmp,
  kLoadFile,
  kSaveFile,
  kListSubjects,
  kAddSubject,
  kGetSubject,
  kUpdateSubject,
  kDeleteSubject,
  kCheckDuplicate,
  kGetRecordVersion,
  kVacuumSubjects,
  kListUserInfo,
  kAddUserInfo,
  kGetUserInfoByCard,
  kUpdateUserInfoByCard,
  kDeleteUserInfoByCard,
  kGetUserInfo,
  kUpdateUserInfo,
  kDeleteUserInfo,
  kAssignSchedules,
  kEnrollUser,
  kGetUsers,
  kDeleteUser,
  kListFaces,
  kAddFace,
  kGetFaces,
  kUpdateFace,
  kDeleteFace,
  kGetSetting,
  kSetSetting,
  kGetDoorStatus,
  kDriveRelay,
  kGetLegacyConfig,
  kGetMatchData,
  kDeleteMatchData,
  kListLogs,
  kDeleteLogs,
  kGetLogsRange,
  kGetLog,
  kDeleteLog,
  kVacuumLogs,
  kGetLogsFromCount,
  kGetPreview,
  kGetSelectedFace,
  kDeleteSelectedFace,
  kUpdateStart,
  kUpdateStartForced,
  kUpdateChunk,
  kUpdateChunkForced,
  kUpdateDone,
  kUpdateDoneForced,
  kControl,
  kStartCardInput,
  kStopCardInput,
  kGetCardData,
  kClearApb,
  kClearAllApb,
  kGetOperation,
  kSetOperation,
  kGetImageCaptures,
  kCount
};

/// The description of `id`.
const Operation& Op(OpId id);

/// Every operation the client implements (one entry per method + path of openapi.yaml).
std::span<const Operation> Operations();

/// The Operations() entry for `method` + `path` template, or nullptr.
const Operation* FindOperation(std::string_view method, std::string_view path);

}  // namespace gw::ef45
