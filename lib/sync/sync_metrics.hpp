#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>

namespace gw::sync {

/// The user-sync families (one set per process), labelled by `reader`:
/// - ef45gw_sync_users{reader,state="applied|pending|failed"}: users in scope of the reader by
///   sync state (gauge, refreshed after every round);
/// - ef45gw_sync_unknown_users{reader}: users on the reader unknown to the gateway (additive:
///   reported, mirror: about to be deleted);
/// - ef45gw_sync_operations_total{reader,op,result="ok|failed"}: reader operations of the
///   reconciler (op = add, update, delete, delete_unknown, import);
/// - ef45gw_sync_rounds_total{reader,kind="full|incremental",result="ok|failed"};
/// - ef45gw_sync_templates_skipped{reader}: users pushed without templates (record_version);
/// - ef45gw_sync_imports_pending{reader}: changes made at the reader waiting for review;
/// - ef45gw_sync_imports_total{reader,outcome="held|imported|refused"}: changes made at the
///   reader by what became of them (refused: the gateway's record or deletion went back);
/// - ef45gw_sync_import_decisions_total{decision="approved|rejected"}: admins' decisions.
/// Thread-safe (prometheus-cpp metrics are); series are removed with RemoveReader.
class SyncMetrics {
 public:
  explicit SyncMetrics(prometheus::Registry& registry);

  void SetCounts(const std::string& reader, double applied, double pending, double failed);
  void SetUnknown(const std::string& reader, double users);
  void SetTemplatesSkipped(const std::string& reader, double users);
  void CountOperation(const std::string& reader, const std::string& op, bool ok, double n = 1);
  void CountRound(const std::string& reader, bool full, bool ok);
  void SetPendingImports(const std::string& reader, double imports);
  void CountImport(const std::string& reader, const std::string& outcome);
  void CountDecision(bool approved);
  /// Drops every series of a reader that is no longer synced here (SIGHUP, lease moved).
  void RemoveReader(const std::string& reader);

 private:
  prometheus::Family<prometheus::Gauge>& users_;
  prometheus::Family<prometheus::Gauge>& unknown_;
  prometheus::Family<prometheus::Gauge>& templates_skipped_;
  prometheus::Family<prometheus::Counter>& operations_;
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Gauge>& imports_pending_;
  prometheus::Family<prometheus::Counter>& imports_;
  prometheus::Family<prometheus::Counter>& decisions_;
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, prometheus::Gauge*>> gauges_;  // reader -> key
  std::map<std::string, std::map<std::string, prometheus::Counter*>> counters_;
};

}  // namespace gw::sync
