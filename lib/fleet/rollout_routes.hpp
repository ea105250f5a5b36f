#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/router.hpp"
#include "config/config.hpp"

namespace gw::store {
class Database;
}

namespace gw::fleet {

/// What the firmware-rollout routes use. Everything outlives the Router.
struct RolloutRoutesContext {
  store::Database& db;
  /// The fleet's readers (every configured reader, also those another cluster node polls), in
  /// configuration order: a rollout goes over them in that order.
  std::function<std::vector<config::ReaderConfig>()> readers;
  std::int64_t max_image_bytes = 64 << 20;  ///< firmware.max_image_bytes
  /// The version reader `id` reported at its last health poll, when this instance polls it
  /// (GET /api/v1/fleet/rollouts/{id} shows it as `polled_version`). Optional.
  std::function<std::optional<std::string>(const std::string& id)> polled_version;
};

/// Registers the firmware-rollout routes (issue 20). Changes need role admin and are audit
/// events (target `rollout:<id>` or `image:<sha256>`); reads need role read.
/// - `POST /api/v1/fleet/firmware?version=V` (application/octet-stream, at most
///   firmware.max_image_bytes) stores an image once under its SHA-256: 201 new, 200 the same
///   bytes and label again, 409 the same bytes under another label.
/// - `GET /api/v1/fleet/firmware`: the stored images (never their bytes).
/// - `POST /api/v1/fleet/rollouts` `{"image","groups"?,"canary","batch","health_window_s",
///   "max_failures"}` → 201: the rollout, running (the engine starts its canary wave).
/// - `GET /api/v1/fleet/rollouts`, `GET /api/v1/fleet/rollouts/{rollout_id}` (each reader's
///   step, error and reported version).
/// - `POST /api/v1/fleet/rollouts/{rollout_id}/pause|resume|abort`: 409 when the action does
///   not apply to the rollout's state.
void AddRolloutRoutes(api::Router& router, RolloutRoutesContext& context);

}  // namespace gw::fleet
