#include "sync/sync_metrics.hpp"

#include "sync/status.hpp"

namespace gw::sync {

SyncMetrics::SyncMetrics(prometheus::Registry& registry)
    : users_(prometheus::BuildGauge()
                 .Name("ef45gw_sync_users")
                 .Help("Users in scope of a reader by sync state (applied, pending, failed)")
                 .Register(registry)),
      unknown_(prometheus::BuildGauge()
                   .Name("ef45gw_sync_unknown_users")
                   .Help("Users found on a reader that the gateway does not know")
                   .Register(registry)),
      templates_skipped_(prometheus::BuildGauge()
                             .Name("ef45gw_sync_templates_skipped")
                             .Help("Users pushed to a reader without templates because their "
                                   "record_version differs from the reader's")
                             .Register(registry)),
      operations_(prometheus::BuildCounter()
                      .Name("ef45gw_sync_operations_total")
                      .Help("Reader operations of the user-sync reconciler by kind and result")
                      .Register(registry)),
      rounds_(prometheus::BuildCounter()
                  .Name("ef45gw_sync_rounds_total")
                  .Help("Reconciliation rounds by kind (full, incremental) and result")
                  .Register(registry)),
      imports_pending_(prometheus::BuildGauge()
                           .Name("ef45gw_sync_imports_pending")
                           .Help("Changes made at a reader waiting for an admin's review")
                           .Register(registry)),
      imports_(prometheus::BuildCounter()
                   .Name("ef45gw_sync_imports_total")
                   .Help("Changes made at a reader by outcome (held for review, imported, "
                         "refused: the gateway's record went back)")
                   .Register(registry)),
      decisions_(prometheus::BuildCounter()
                     .Name("ef45gw_sync_import_decisions_total")
                     .Help("Admins' decisions on held imports (approved, rejected)")
                     .Register(registry)) {}

void SyncMetrics::SetCounts(const std::string& reader, double applied, double pending,
                            double failed) {
  std::lock_guard lock(mutex_);
  auto& g = gauges_[reader];
  auto set = [&](SyncStatus status, double v) {
    std::string state(SyncStatusName(status));
    auto& p = g["users:" + state];
    if (!p) p = &users_.Add({{"reader", reader}, {"state", state}});
    p->Set(v);
  };
  set(SyncStatus::kApplied, applied);
  set(SyncStatus::kPending, pending);
  set(SyncStatus::kFailed, failed);
}

void SyncMetrics::SetUnknown(const std::string& reader, double users) {
  std::lock_guard lock(mutex_);
  auto& p = gauges_[reader]["unknown"];
  if (!p) p = &unknown_.Add({{"reader", reader}});
  p->Set(users);
}

void SyncMetrics::SetTemplatesSkipped(const std::string& reader, double users) {
  std::lock_guard lock(mutex_);
  auto& p = gauges_[reader]["templates"];
  if (!p) p = &templates_skipped_.Add({{"reader", reader}});
  p->Set(users);
}

void SyncMetrics::CountOperation(const std::string& reader, const std::string& op, bool ok,
                                 double n) {
  std::lock_guard lock(mutex_);
  const char* result = ok ? "ok" : "failed";
  auto& p = counters_[reader]["op:" + op + ":" + result];
  if (!p) p = &operations_.Add({{"reader", reader}, {"op", op}, {"result", result}});
  p->Increment(n);
}

void SyncMetrics::CountRound(const std::string& reader, bool full, bool ok) {
  std::lock_guard lock(mutex_);
  const char* kind = full ? "full" : "incremental";
  const char* result = ok ? "ok" : "failed";
  auto& p = counters_[reader][std::string("round:") + kind + ":" + result];
  if (!p) p = &rounds_.Add({{"reader", reader}, {"kind", kind}, {"result", result}});
  p->Increment();
}

void SyncMetrics::SetPendingImports(const std::string& reader, double imports) {
  std::lock_guard lock(mutex_);
  auto& p = gauges_[reader]["imports_pending"];
  if (!p) p = &imports_pending_.Add({{"reader", reader}});
  p->Set(imports);
}

void SyncMetrics::CountImport(const std::string& reader, const std::string& outcome) {
  std::lock_guard lock(mutex_);
  auto& p = counters_[reader]["import:" + outcome];
  if (!p) p = &imports_.Add({{"reader", reader}, {"outcome", outcome}});
  p->Increment();
}

void SyncMetrics::CountDecision(bool approved) {
  // Not per reader: kept when readers come and go.
  decisions_.Add({{"decision", approved ? "approved" : "rejected"}}).Increment();
}

void SyncMetrics::RemoveReader(const std::string& reader) {
  std::lock_guard lock(mutex_);
  for (auto& [key, g] : gauges_[reader]) {
    if (key.rfind("users:", 0) == 0) {
      users_.Remove(g);
    } else if (key == "unknown") {
      unknown_.Remove(g);
    } else if (key == "imports_pending") {
      imports_pending_.Remove(g);
    } else {
      templates_skipped_.Remove(g);
    }
  }
  for (auto& [key, c] : counters_[reader]) {
    if (key.rfind("op:", 0) == 0) {
      operations_.Remove(c);
    } else if (key.rfind("import:", 0) == 0) {
      imports_.Remove(c);
    } else {
      rounds_.Remove(c);
    }
  }
  gauges_.erase(reader);
  counters_.erase(reader);
}

}  // namespace gw::sync
