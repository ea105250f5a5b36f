// An admin's decision on a change made at a reader and held for review (sync.import: review):
// approve makes the reader's record the user's next version, reject has the source reader's
// reconciler put the gateway's record back there (RestoreRejected in rounds.cpp).

#include <boost/asio/post.hpp>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "store/imports.hpp"
#include "sync/reconciler.hpp"
#include "sync/sync_manager.hpp"
#include "sync/sync_metrics.hpp"
#include "sync/user_doc.hpp"

namespace gw::sync {

namespace asio = boost::asio;

asio::awaitable<Result<SyncManager::ImportDecided>> SyncManager::ApproveImport(std::int64_t id,
                                                                               std::string actor) {
  ImportDecided out;
  auto held = co_await store::GetImport(db_, id);
  if (!held) co_return held.error();
  if (!*held) {
    out.outcome = store::DecisionOutcome::kNotFound;
    co_return out;
  }
  const store::StoredImport& i = **held;
  out.user_uuid = i.user_uuid;
  out.device_id = i.device_id;
  if (i.status != store::ImportStatus::kPending) {
    out.outcome = store::DecisionOutcome::kAlreadyDecided;
    co_return out;
  }
  auto user = co_await store::GetUser(db_, i.user_uuid);
  if (!user) co_return user.error();
  std::optional<std::int64_t> current;
  if (*user) current = (*user)->version;
  if (current != i.base_version || (*user && (*user)->deleted)) {
    out.outcome = store::DecisionOutcome::kStale;
    co_return out;
  }
  std::string problem;
  auto doc = ParseUserDoc(i.user_uuid, i.record, &problem);
  if (!doc) {
    // Never expected: the importer stored ToRecordJson of a parsed document.
    GW_LOG(kError, "sync") << "held import " << id << " is unreadable: " << log::Cut(problem);
    co_return doc.error();
  }
  // A new user approved by an admin has no groups: every reader, like a user PUT without them.
  auto write = ImportedRecord(std::move(*doc), *user, i.device_id, {}, db_.Keys());
  auto decided = co_await store::ApproveImport(db_, id, std::move(write), std::move(actor));
  if (!decided) co_return decided.error();
  out.outcome = decided->outcome;
  out.version = decided->version;
  if (out.outcome == store::DecisionOutcome::kDone) {
    if (metrics_) metrics_->CountDecision(true);
    GW_LOG(kInfo, "sync") << "import " << id << " of user " << log::Cut(out.user_uuid)
                          << " approved: version " << out.version;
    NotifyUsersChanged();
  }
  co_return out;
}

asio::awaitable<Result<SyncManager::ImportDecided>> SyncManager::RejectImport(std::int64_t id,
                                                                              std::string actor) {
  ImportDecided out;
  auto decided = co_await store::RejectImport(db_, id, std::move(actor));
  if (!decided) co_return decided.error();
  out.outcome = decided->outcome;
  out.user_uuid = decided->user_uuid;
  out.device_id = decided->device_id;
  if (out.outcome != store::DecisionOutcome::kDone) co_return out;
  if (metrics_) metrics_->CountDecision(false);
  GW_LOG(kInfo, "sync") << "import " << id << " of user " << log::Cut(out.user_uuid) << " rejected";
  std::lock_guard lock(mutex_);
  for (auto& [device, r] : reconcilers_) {
    if (device != out.device_id) continue;
    asio::post(r->strand, [rec = r] {
      rec->restore_due = true;
      rec->dirty = true;
      rec->timer.cancel();
    });
  }
  co_return out;
}

}  // namespace gw::sync
