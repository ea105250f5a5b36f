#include "ef45/operations.hpp"

#include <array>

namespace gw::ef45 {
namespace {

constexpr std::array<Operation, static_cast<std::size_t>(OpId::kCount)> kOperations = {{
    {"lock-acquire", "POST", "/lock", false, BodyClass::kSmall},               // kLockAcquire
    {"lock-steal", "PUT", "/lock", false, BodyClass::kSmall},                  // kLockSteal
    {"lock-release", "DELETE", "/lock/{lock_uid}", false, BodyClass::kSmall},  // kLockRelease
    {"version", "GET", "/version", false, BodyClass::kSmall},                  // kVersion
    {"heartbeat", "POST", "/heartbeat", false, BodyClass::kSmall},             // kHeartbeat
    {"camera-get", "GET", "/camera", true, BodyClass::kSmall},                 // kGetCamera
    {"camera-set", "POST", "/camera", true, BodyClass::kSmall},                // kSetCamera
    {"camera-put", "PUT", "/camera", true, BodyClass::kSmall},                 // kPutCamera
    {"camera-control", "GET", "/camera/control", true, BodyClass::kSmall},     // kGetCameraControl
    {"set-device-time", "POST", "/camera/control/setDeviceTime/{device_time}", true,
     BodyClass::kSmall},                                                         // kSetDeviceTime
    {"camera-start", "POST", "/camera/control/start", true, BodyClass::kSmall},  // kStartCamera
    {"camera-stop", "POST", "/camera/control/stop", true, BodyClass::kSmall},    // kStopCamera
    {"camera-start-match-template", "POST", "/camera/control/start/{segment}/{seq_uid}", true,
     BodyClass::kSmall},  // kStartMatchTemplate
    {"camera-wide", "POST", "/camera/control/wide", true, BodyClass::kSmall},  // kCameraWide
    {"camera-poweroff", "POST", "/camera/control/poweroff", true,
     BodyClass::kSmall},  // kCameraPowerOff
    {"camera-reboot", "POST", "/camera/control/reboot", true, BodyClass::kSmall},  // kCameraReboot
    {"biometric-data", "GET", "/biometric-data", true, BodyClass::kBiometric},  // kGetBiometricData
    {"biometric-data-ver1", "GET", "/biometric-data/ver1", true,
     BodyClass::kBiometric},  // kGetBiometricDataVer1
    {"biometric-data-ver2", "GET", "/biometric-data/ver2", true,
     BodyClass::kBiometric},  // kGetBiometricDataVer2
    {"biometric-data-delete", "DELETE", "/biometric-data/{encounter_id}", true,
     BodyClass::kSmall},  // kDeleteBiometricData
    {"save-8bmp", "PUT", "/biometric-data/save-8bmp", true, BodyClass::kSmall},  // kSaveImage8Bmp
    {"save-24bmp", "PUT", "/biometric-data/save-24bmp", true,
     BodyClass::kSmall},  // kSaveImage24Bmp
    {"load-file", "GET", "/biometric-data/load-file", true, BodyClass::kBiometric},  // kLoadFile
    {"save-file", "PUT", "/biometric-data/save-file", true, BodyClass::kSmall},      // kSaveFile
    {"subjects", "GET", "/subjects", true, BodyClass::kPage},                     // kListSubjects
    {"subject-add", "POST", "/subjects", true, BodyClass::kSmall},                // kAddSubject
    {"subject-get", "GET", "/subjects/{user_uuid}", true, BodyClass::kSmall},     // kGetSubject
    {"subject-update", "PUT", "/subjects/{user_uuid}", true, BodyClass::kSmall},  // kUpdateSubject
    {"subject-delete", "DELETE", "/subjects/{user_uuid}", true,
     BodyClass::kSmall},  // kDeleteSubject
    {"subject-duplication-check", "PUT", "/subjects/{a}/{b}", true,
     BodyClass::kSmall},  // kCheckDuplicate
    {"record-version", "GET", "/subjects/record-version", true,
     BodyClass::kSmall},                                                       // kGetRecordVersion
    {"subjects-vacuum", "POST", "/subjects/vacuum", true, BodyClass::kSmall},  // kVacuumSubjects
    {"user-info", "GET", "/user-info", true, BodyClass::kPage},                // kListUserInfo
    {"user-info-add", "POST", "/user-info", true, BodyClass::kSmall},          // kAddUserInfo
    {"user-info-by-card", "GET", "/user-info/card/{card}", true,
     BodyClass::kSmall},  // kGetUserInfoByCard
    {"user-info-update-by-card", "PUT", "/user-info/card/{card}", true,
     BodyClass::kSmall},  // kUpdateUserInfoByCard
    {"user-info-delete-by-card", "DELETE", "/user-info/card/{card}", true,
     BodyClass::kSmall},  // kDeleteUserInfoByCard
    {"user-info-by-uuid", "GET", "/user-info/uuid/{user_uuid}", true,
     BodyClass::kSmall},  // kGetUserInfo
    {"user-info-update", "PUT", "/user-info/uuid/{user_uuid}", true,
     BodyClass::kSmall},  // kUpdateUserInfo
    {"user-info-delete", "DELETE", "/user-info/uuid/{user_uuid}", true,
     BodyClass::kSmall},  // kDeleteUserInfo
    {"user-info-schedule", "PUT", "/user-info/schedule", true,
     BodyClass::kSmall},                                                        // kAssignSchedules
    {"user-enroll", "POST", "/user", true, BodyClass::kSmall},                  // kEnrollUser
    {"user-list", "GET", "/user", true, BodyClass::kPage},                      // kGetUsers
    {"user-delete", "DELETE", "/user/{user_uuid}", true, BodyClass::kSmall},    // kDeleteUser
    {"faces", "GET", "/faces", true, BodyClass::kPage},                         // kListFaces
    {"face-add", "POST", "/faces", true, BodyClass::kSmall},                    // kAddFace
    {"faces-of-user", "GET", "/faces/{user_uuid}", true, BodyClass::kPage},     // kGetFaces
    {"face-update", "PUT", "/faces/{user_uuid}", true, BodyClass::kSmall},      // kUpdateFace
    {"face-delete", "DELETE", "/faces/{user_uuid}", true, BodyClass::kSmall},   // kDeleteFace
    {"setting-get", "GET", "/config/{title}/{type}", true, BodyClass::kSmall},  // kGetSetting
    {"setting-set", "PUT", "/config/{title}/{type}", true, BodyClass::kSmall},  // kSetSetting
    {"door-status", "GET", "/config/door-status", true, BodyClass::kSmall},     // kGetDoorStatus
    {"relay", "PUT", "/config/relay", true, BodyClass::kSmall},                 // kDriveRelay
    {"config-legacy", "GET", "/config", true, BodyClass::kSmall},               // kGetLegacyConfig
    {"match-data", "GET", "/match-data", true, BodyClass::kBiometric},          // kGetMatchData
    {"match-data-delete", "DELETE", "/match-data/{encounter_id}", true,
     BodyClass::kSmall},                                                     // kDeleteMatchData
    {"logs", "GET", "/logs", true, BodyClass::kPage},                        // kListLogs
    {"logs-delete-range", "DELETE", "/logs", true, BodyClass::kSmall},       // kDeleteLogs
    {"logs-range", "GET", "/logs/from/to", true, BodyClass::kPage},          // kGetLogsRange
    {"log-get", "GET", "/logs/{id}", true, BodyClass::kSmall},               // kGetLog
    {"log-delete", "DELETE", "/logs/{id}", true, BodyClass::kSmall},         // kDeleteLog
    {"logs-vacuum", "POST", "/logs/vacuum", true, BodyClass::kSmall},        // kVacuumLogs
    {"logs-from-count", "GET", "/logs/from/count", true, BodyClass::kPage},  // kGetLogsFromCount
    {"preview", "GET", "/preview", true, BodyClass::kBiometric},             // kGetPreview
    {"preview-selected-face", "GET", "/preview/selected-face", true,
     BodyClass::kBiometric},  // kGetSelectedFace
    {"preview-selected-face-delete", "DELETE", "/preview/selected-face", true,
     BodyClass::kSmall},                                                 // kDeleteSelectedFace
    {"update-start", "POST", "/update/start", true, BodyClass::kSmall},  // kUpdateStart
    {"update-start-forced", "PUT", "/update/start", true, BodyClass::kSmall},  // kUpdateStartForced
    {"update-chunk", "POST", "/update/{chunk}", true, BodyClass::kSmall},      // kUpdateChunk
    {"update-chunk-forced", "PUT", "/update/{chunk}", true,
     BodyClass::kSmall},                                                     // kUpdateChunkForced
    {"update-done", "POST", "/update/done", true, BodyClass::kSmall},        // kUpdateDone
    {"update-done-forced", "PUT", "/update/done", true, BodyClass::kSmall},  // kUpdateDoneForced
    {"control", "POST", "/control", true, BodyClass::kSmall},                // kControl
    {"card-start", "POST", "/control/card/start", true, BodyClass::kSmall},  // kStartCardInput
    {"card-stop", "POST", "/control/card/stop", true, BodyClass::kSmall},    // kStopCardInput
    {"card-data", "GET", "/control/card/data", true, BodyClass::kSmall},     // kGetCardData
    {"apb-clear", "POST", "/control/apb/clear/{user_uuid}", true, BodyClass::kSmall},  // kClearApb
    {"apb-clear-all", "POST", "/control/apb/clearall", true, BodyClass::kSmall},  // kClearAllApb
    {"operation-get", "GET", "/control/operation", true, BodyClass::kSmall},      // kGetOperation
    {"operation-set", "PUT", "/control/operation/{state}", true,
     BodyClass::kSmall},                                                // kSetOperation
    {"imagecapture", "GET", "/imagecapture", true, BodyClass::kSmall},  // kGetImageCaptures
}};

}  // namespace

const Operation& Op(OpId id) { return kOperations[static_cast<std::size_t>(id)]; }

std::span<const Operation> Operations() { return kOperations; }

const Operation* FindOperation(std::string_view method, std::string_view path) {
  for (const Operation& op : kOperations) {
    if (op.method == method && op.path == path) return &op;
  }
  return nullptr;
}

}  // namespace gw::ef45
