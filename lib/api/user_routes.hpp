#pragma once

#include <mutex>
#include <set>
#include <string>

#include "api/router.hpp"

namespace gw::store {
class Database;
}
namespace gw::poll {
class WorkerSet;
}
namespace gw::sync {
class SyncManager;
}

namespace gw::api {

/// What the user routes use. Everything outlives the Router.
struct UserRoutesContext {
  store::Database& db;
  poll::WorkerSet& workers;
  sync::SyncManager* sync = nullptr;  ///< nullptr when sync is disabled (changes still stored)
  std::mutex plans_mutex{};
  std::set<std::string> plans_running{};  ///< readers with a /sync/plan dry run in progress
};

/// Body limit of `PUT /users/{user_uuid}`: a user with iris templates and face features.
inline constexpr std::size_t kUserBodyLimit = 8 * 1024 * 1024;

/// Registers the users and sync routes of the façade:
/// - `PUT /api/v1/users/{user_uuid}` (admin): the whole user as one document
///   `{"user_uuid","subject","user_info","faces","cards","groups"}` (reader field names inside
///   each part; a missing part means none). 201 created / 200 replaced, with the version.
/// - `DELETE /api/v1/users/{user_uuid}` (admin): tombstone; readers drop the user.
/// - `GET /api/v1/users/{user_uuid}`, `GET /api/v1/users?after=&limit=` (read),
///   `GET /api/v1/users/by-card/{card}` (admin): credentials (pin, card, cards, wiegand fields)
///   and biometric data (templates, face features) only for admin callers, otherwise redacted.
///   An admin's read is an audit event.
/// - `GET /api/v1/users/{user_uuid}/devices` (read): per reader applied version, pending or
///   failed with the reader's answer, and the reader's own state.
/// - `GET /api/v1/sync/plan?device=ID` (admin): dry run of the reader's full round, one at a
///   time per reader (429 otherwise).
/// - `GET /api/v1/sync/status` (read): per reader: last rounds, error, unknown users.
/// Also registers the review of changes held from readers (AddImportRoutes).
void AddUserRoutes(Router& router, UserRoutesContext& context);

/// The review of changes made at readers and held under `sync.import: review` (admin):
/// - `GET /api/v1/sync/imports?after=&limit=`: pending ones, oldest first, each with its reader,
///   user, reader time, receive time and which parts differ (`changed`: subject, name,
///   templates, faces, cards, pin, user_info), never the values;
/// - `POST /api/v1/sync/imports/{import_id}/approve`: the reader's record becomes the user's next
///   version, pushed to the user's groups;
/// - `POST /api/v1/sync/imports/{import_id}/reject`: the gateway's record goes back to that
///   reader (or the user is deleted there when the gateway has no live user).
/// A decided import answers 409 (`import-decided`); an approve after the user changed at the
/// gateway answers 409 (`import-stale`). Each decision is an audit event.
void AddImportRoutes(Router& router, UserRoutesContext& context);

}  // namespace gw::api
