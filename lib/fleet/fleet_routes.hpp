#pragma once

#include "api/router.hpp"

namespace gw::fleet {

class SettingsAudit;

/// What the fleet routes use; outlives the Router.
struct FleetRoutesContext {
  SettingsAudit& audit;
};

/// Registers the settings-profile routes:
/// - `GET /api/v1/fleet/drift` (read): per reader polled by this instance and per drifted
///   setting, `desired` and `actual` (null when the reader refused to read it, with `error`),
///   from the last audit; no reader call.
/// - `GET /api/v1/fleet/plan?device=ID` (operate): a dry run, reading the reader now: the
///   settings enforcement would write, and whether its clock would be set. 404 when this
///   instance does not poll the reader; reader failures as in the reader routes (504, 503, 502).
void AddFleetRoutes(api::Router& router, FleetRoutesContext& context);

}  // namespace gw::fleet
