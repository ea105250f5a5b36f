#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"
#include "store/event.hpp"

// Firmware images and staged rollouts (migrations/0010_fleet_rollouts.sql, issue 20). Every
// function blocks (libpqxx): call it on `db.BlockingPool()` through gw::RunBlocking. Errors:
// Errc::kDbUnavailable when PostgreSQL cannot be reached, kBadRequest for values it refuses,
// kNotFound / kConflict as documented per function.

namespace gw::store {

struct FirmwareImageInfo {
  std::string sha256;  ///< lower-case hex, the image's id
  std::string version;
  std::int64_t size_bytes = 0;
  std::string uploaded_by;
  TimePoint created_at{};
  bool created = false;  ///< PutFirmwareImageBlocking: stored now (false: it was already there)
};

/// Stores an image once: the same bytes again answer the stored row (created = false);
/// the same bytes with another version label are kConflict.
Result<FirmwareImageInfo> PutFirmwareImageBlocking(Database& db, const std::string& sha256,
                                                   const std::string& version,
                                                   const std::string& data,
                                                   const std::string& uploaded_by);
Result<std::vector<FirmwareImageInfo>> ListFirmwareImagesBlocking(Database& db);
Result<std::optional<FirmwareImageInfo>> GetFirmwareImageBlocking(Database& db,
                                                                  const std::string& sha256);
/// The image's bytes; nullopt when there is no such image.
Result<std::optional<std::string>> FirmwareImageDataBlocking(Database& db,
                                                             const std::string& sha256);

/// One reader's step in a rollout.
struct RolloutReaderRow {
  std::string device_id;
  int position = 0;
  int wave = 0;                  ///< 0 = canary, then 1, 2, ... (batches)
  std::string step = "pending";  ///< pending | installing | verifying | done | failed
  std::optional<std::string> error;
  std::optional<std::string> reported_version;
  std::optional<std::string> node;  ///< the instance that claimed the install
  bool claimed = false;             ///< an install was begun (it is finished even when paused)
  std::optional<TimePoint> deadline;
  TimePoint updated_at{};
};

struct RolloutRow {
  std::int64_t id = 0;
  std::string image;  ///< sha256
  std::string version;
  std::vector<std::string> groups;
  int canary = 0;
  int batch = 1;
  int health_window_s = 0;
  int max_failures = 0;
  std::string state = "running";  ///< running | paused | halted | aborted | completed
  int wave = 0;
  std::optional<std::string> reason;
  std::string created_by;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> finished_at;
  /// Readers per step (ListRollouts and GetRollout fill it): pending, installing, ...
  std::vector<std::pair<std::string, int>> step_counts;
};

struct RolloutSpec {
  std::string image;
  std::vector<std::string> groups;
  int canary = 1;
  int batch = 1;
  int health_window_s = 300;
  int max_failures = 0;
  std::string created_by;
  /// The readers in rollout order, with their wave.
  std::vector<std::pair<std::string, int>> readers;
};

/// Creates a rollout in state `running` (wave 0 not started yet: the engine starts it).
/// kNotFound when the image does not exist.
Result<RolloutRow> CreateRolloutBlocking(Database& db, const RolloutSpec& spec);
/// Newest first, at most `limit`.
Result<std::vector<RolloutRow>> ListRolloutsBlocking(Database& db, int limit);
Result<std::optional<std::pair<RolloutRow, std::vector<RolloutReaderRow>>>> GetRolloutBlocking(
    Database& db, std::int64_t id);

/// An operator's action: "pause" (running → paused), "resume" (paused → running, also halted →
/// running: the operator accepts the failures so far), "abort" (running, paused or halted →
/// aborted). Readers started but not yet claimed by a node go back to `pending`. nullopt: no
/// such rollout; kConflict: the action does not apply to its state.
Result<std::optional<RolloutRow>> ChangeRolloutStateBlocking(Database& db, std::int64_t id,
                                                             const std::string& action);

/// What the planner decided for one running rollout.
struct RolloutAdvance {
  std::vector<std::string> start;    ///< pending readers that begin installing now
  std::optional<int> wave;           ///< the rollout's new current wave
  std::optional<std::string> state;  ///< halted or completed
  std::string reason;
};
using RolloutPlanner =
    std::function<RolloutAdvance(const RolloutRow&, const std::vector<RolloutReaderRow>&)>;
/// For each running rollout, in its own transaction with the rollout row locked (FOR UPDATE,
/// so cluster nodes never both start a wave): reads the readers, asks `plan`, applies it.
/// Returns the rollouts that changed state (halted, completed).
Result<std::vector<RolloutRow>> AdvanceRolloutsBlocking(Database& db, const RolloutPlanner& plan);

/// A reader step that needs work: installing or verifying, with what its rollout says.
struct ActiveStep {
  std::int64_t rollout_id = 0;
  std::string rollout_state;
  std::string image;
  std::string version;
  int health_window_s = 0;
  std::string created_by;
  RolloutReaderRow reader;
};
Result<std::vector<ActiveStep>> ActiveStepsBlocking(Database& db);

/// Claims an `installing` reader for `node` and sets its deadline (now + the health window):
/// allowed while the rollout runs, or when the install was already claimed (a resumed install
/// is finished whatever the rollout's state). 1 when claimed, 0 when not claimable (paused,
/// aborted, moved on). (Not Result<bool>: an error_code converts to bool.)
Result<int> ClaimInstallBlocking(Database& db, std::int64_t rollout_id,
                                 const std::string& device_id, const std::string& node);

/// Moves a reader to `step` (error and reported version as given; a deadline of now +
/// `deadline_s` when set). Only from installing/verifying: a finished step is never rewritten.
Result<void> SetReaderStepBlocking(Database& db, std::int64_t rollout_id,
                                   const std::string& device_id, const std::string& step,
                                   const std::optional<std::string>& error,
                                   const std::optional<std::string>& reported_version,
                                   std::optional<int> deadline_s);

/// Readers per step of the newest `limit` rollouts: (rollout id, step, count).
struct RolloutStepCount {
  std::int64_t rollout_id = 0;
  std::string step;
  int count = 0;
};
Result<std::vector<RolloutStepCount>> RolloutStepCountsBlocking(Database& db, int limit);

}  // namespace gw::store
