#pragma once

#include "api/router.hpp"

namespace gw::store {
class Database;
}
namespace gw::metrics {
class ApiMetrics;
}

namespace gw::api {

class CommitSignal;

/// The audit trail (DESIGN.md invariant 7): each AuditRecord becomes one event of kind `audit`
/// in the `events` table, committed before the sink completes (so before the router answers).
/// Payload: actor, role, method, route, device_id, target, status, remote_addr, request_id;
/// never a token, never a body (so never biometric data). Values are escaped and cut as in log
/// lines. Audits of requests without a reader use device_id "@gateway".
///
/// A failed commit is retried once; if it still fails the sink logs an error (rate-limited) and
/// counts ef45gw_audit_write_failures_total, and the request is answered anyway (the reader
/// operation has already happened: refusing the answer would hide it, not undo it).
/// `commits` (optional) wakes the event streams; `metrics` is optional.
AuditSink MakeAuditSink(store::Database& db, CommitSignal* commits, metrics::ApiMetrics* metrics);

/// The payload JSON text of `record` (pure; for tests).
std::string AuditPayload(const AuditRecord& record);

}  // namespace gw::api
