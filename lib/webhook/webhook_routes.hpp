#pragma once

#include <chrono>

#include "api/router.hpp"
#include "webhook/target.hpp"

namespace gw::store {
class Database;
}

namespace gw::webhook {

class Dispatcher;

/// What the webhook routes use. Everything outlives the Router.
struct WebhookRoutesContext {
  store::Database& db;
  Dispatcher* dispatcher = nullptr;  ///< poked after every change; nullptr in tests
  AllowList allow;
  std::chrono::milliseconds rotation_overlap = std::chrono::hours(24);
};

/// Registers the webhook subscription routes (role admin; every change is an audit event, its
/// target the subscription id):
/// - `POST /api/v1/webhooks` `{"url","kinds"?,"devices"?,"description"?,"batch_max"?,"after"?}`
///   → 201 with the `secret` (shown here and by rotate-secret only).
/// - `GET /api/v1/webhooks`, `GET /api/v1/webhooks/{webhook_id}`: filters, state, cursor, lag,
///   last error, next attempt. Never the secret.
/// - `PATCH /api/v1/webhooks/{webhook_id}`: url, filters, description, batch_max, and `state`
///   `paused` or `active` (resume: also a disabled one, from its cursor).
/// - `DELETE /api/v1/webhooks/{webhook_id}` → 204.
/// - `POST /api/v1/webhooks/{webhook_id}/replay` `{"after": SEQ}`: the cursor moves there.
/// - `POST /api/v1/webhooks/{webhook_id}/rotate-secret`: a new secret; the old one keeps signing
///   for `rotation_overlap`.
void AddWebhookRoutes(api::Router& router, WebhookRoutesContext& context);

}  // namespace gw::webhook
