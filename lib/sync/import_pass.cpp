// The import pass: changes made at a reader (its UserData log entries, stored by the poller)
// become canonical users by the conflict rule (import_rule.hpp). Per decisive entry: read the
// reader's copy and the gateway's side, decide, write, log.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "poll/device_worker.hpp"
#include "store/database.hpp"
#include "store/imports.hpp"
#include "sync/import_diff.hpp"
#include "sync/import_rule.hpp"
#include "sync/reconciler.hpp"
#include "sync/status.hpp"
#include "sync/sync_metrics.hpp"
#include "sync/user_doc.hpp"

namespace gw::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

/// Users read back from the reader during an import pass, at most, per pass.
constexpr int kImportBatch = 500;
/// Our own writes come back as the reader's UserData log entries (one AddUsers per user we
/// enrolled there); the expected count is forgotten after this long (a log wiped meanwhile).
constexpr auto kEchoExpiry = std::chrono::minutes(10);
/// Attempts at one import when another writer changes the user in between.
constexpr int kImportAttempts = 3;

struct ImportBatch {
  std::int64_t cursor = 0;  ///< the import cursor the events follow
  std::vector<store::UserDataEvent> events;
};

asio::awaitable<Outcome<ImportBatch>> ReadBatch(store::Database& db, std::string id) {
  auto cursor = co_await store::ImportCursor(db, id);
  if (!cursor) co_return DatabaseError(cursor.error());
  auto events = co_await store::UserDataEvents(db, std::move(id), *cursor, kImportBatch);
  if (!events) co_return DatabaseError(events.error());
  co_return ImportBatch{*cursor, std::move(*events)};
}

/// Moves the import cursor of reader `id` from `from` to `seq` (nothing when it did not move).
asio::awaitable<Outcome<void>> SaveCursor(store::Database& db, std::string id, std::int64_t from,
                                          std::int64_t seq) {
  if (seq <= from) co_return Outcome<void>();
  auto saved = co_await store::SetImportCursor(db, std::move(id), seq);
  if (!saved) co_return DatabaseError(saved.error());
  co_return Outcome<void>();
}

bool IsChange(const store::UserDataEvent& e) {
  return e.info == "AddUsers" || e.info == "UpdateUsers";
}

/// The newest event per user decides; deletions at a reader are not imported (the gateway's
/// record stands and the next full round puts the user back).
struct Decisive {
  std::map<std::string, const store::UserDataEvent*> last;
  std::map<std::string, int> changes;  ///< AddUsers / UpdateUsers entries per user
  bool Is(const store::UserDataEvent& e) const {
    auto it = last.find(e.user_uuid);
    return it != last.end() && it->second == &e && IsChange(e);
  }
};

Decisive FindDecisive(const std::vector<store::UserDataEvent>& events) {
  Decisive d;
  for (const auto& e : events) {
    if (e.user_uuid.empty()) continue;
    d.last[e.user_uuid] = &e;
    if (IsChange(e)) ++d.changes[e.user_uuid];
  }
  return d;
}

/// Our own enrolments coming back as the reader's log entries (`changes` of them): nothing to
/// import. Any entry beyond those is a change at the reader.
bool ConsumeEcho(Reconciler& r, const std::string& uuid, int changes, Clock::time_point now) {
  auto echo = r.echoes.find(uuid);
  if (echo == r.echoes.end()) return false;
  bool ours = now - echo->second.second < kEchoExpiry && echo->second.first >= changes;
  if (ours) echo->second.first -= changes;
  if (!ours || echo->second.first == 0) r.echoes.erase(echo);
  return ours;
}

/// The gateway's side of one user: its record and what it recorded for this reader.
struct GatewaySide {
  std::optional<store::StoredUser> user;
  std::optional<store::DeviceUserState> state;
};

asio::awaitable<Outcome<GatewaySide>> ReadGatewaySide(store::Database& db, std::string uuid,
                                                      std::string device_id) {
  auto user = co_await store::GetUser(db, uuid);
  if (!user) co_return DatabaseError(user.error());
  auto states = co_await store::UserStates(db, std::move(uuid));
  if (!states) co_return DatabaseError(states.error());
  GatewaySide side{std::move(*user), std::nullopt};
  for (auto& s : *states) {
    if (s.device_id == device_id) side.state = std::move(s);
  }
  co_return side;
}

}  // namespace

store::UserWrite ImportedRecord(UserDoc incoming, const std::optional<store::StoredUser>& user,
                                const std::string& device_id,
                                std::vector<std::string> new_user_groups,
                                const crypto::DataKeys* keys) {
  incoming.groups = std::move(new_user_groups);
  if (user) {
    std::string problem;
    if (auto stored = ParseUserDoc(user->user_uuid, user->record, &problem)) {
      incoming.cards = stored->cards;
      incoming.groups = stored->groups;
    }
  }
  return ToUserWrite(incoming, "device:" + device_id, keys);
}

namespace {

/// Where a user new to the gateway imported under `auto` may go: the source reader's groups, or
/// only that reader when it has none. (An import never reaches readers the source reader does
/// not share a group with: a reader is not trusted to enrol people at other doors.)
std::vector<std::string> NewUserGroups(const poll::DeviceWorker& worker) {
  if (!worker.reader().groups.empty()) return worker.reader().groups;
  return {OwnGroup(worker.id())};
}

/// What the decision writes; nullopt: nothing (in sync and recorded, our own echo, held for
/// review, or not imported).
std::optional<store::ImportWrite> Act(const ImportDecision& d, const store::UserDataEvent& e,
                                      const GatewaySide& side, const UserDoc& reader_copy,
                                      const std::string& reader_print,
                                      const poll::DeviceWorker& worker,
                                      const crypto::DataKeys* keys) {
  if (d.verdict == ImportVerdict::kOwnEcho || d.verdict == ImportVerdict::kHeld ||
      d.verdict == ImportVerdict::kNotImported) {
    return std::nullopt;
  }
  if (d.verdict == ImportVerdict::kInSync && !d.record_applied) return std::nullopt;
  const std::string& device_id = worker.id();
  store::ImportWrite w;
  w.device_id = device_id;
  w.user_uuid = e.user_uuid;
  w.source_seq = e.seq;
  w.applied_digest = reader_print;
  if (side.user) w.expected_version = side.user->version;
  if (d.verdict == ImportVerdict::kGatewayWins) {
    // The reader gets the gateway's record (or its deletion) back.
    w.applied_digest.reset();
    w.conflict_detail = "reader change at " +
                        std::to_string(e.occurred_at.time_since_epoch().count()) + "us (received " +
                        std::to_string(e.received_at.time_since_epoch().count()) +
                        "us) lost to gateway version " + std::to_string(side.user->version) + ": " +
                        std::string(d.reason);
  } else if (d.verdict == ImportVerdict::kReaderWins) {
    if (d.conflict) {
      w.conflict_detail = "gateway version " + std::to_string(side.user->version) +
                          " lost to a newer change at the reader";
    }
    w.user = ImportedRecord(reader_copy, side.user, device_id, NewUserGroups(worker), keys);
    w.applied_digest = w.user->digest;  // the reader's copy, printed as the new version is
  }
  if (d.conflict) w.conflict_info = std::string(ImportVerdictName(d.verdict));
  return w;
}

/// Holds the reader's change for review (sync.import: review): stored as a pending import of
/// this reader, pushed nowhere; the gateway's record stays canonical meanwhile.
asio::awaitable<Outcome<void>> Hold(Ctx ctx, Reconciler& r, const store::UserDataEvent& e,
                                    const GatewaySide& side, const UserDoc& copy,
                                    const std::string& reader_print) {
  store::HeldImport h;
  h.device_id = r.id;
  h.user_uuid = e.user_uuid;
  h.record = ToRecordJson(copy);
  h.reader_digest = reader_print;
  std::optional<UserDoc> gateway_doc;
  if (side.user && !side.user->deleted) {
    h.base_version = side.user->version;
    std::string problem;
    if (auto d = ParseUserDoc(side.user->user_uuid, side.user->record, &problem)) {
      gateway_doc = std::move(*d);
    }
  } else if (side.user) {
    h.base_version = side.user->version;
  }
  h.changed = ChangedParts(gateway_doc ? &*gateway_doc : nullptr, copy);
  h.source_seq = e.seq;
  h.occurred_at = e.occurred_at;
  h.received_at = e.received_at;
  auto id = co_await store::HoldImport(ctx.db, std::move(h));
  if (!id) co_return DatabaseError(id.error());
  GW_LOG(kInfo, "sync") << r.id << ": change to user " << log::Cut(e.user_uuid)
                        << " held for review (import " << *id << ")";
  if (ctx.metrics) ctx.metrics->CountImport(r.id, "held");
  co_return Outcome<void>();
}

/// Logs an import and, when the gateway won, makes the next rounds push its record back.
asio::awaitable<void> AfterImport(Ctx ctx, Reconciler& r, const store::ImportWrite& w,
                                  ImportDecision d, std::int64_t version,
                                  const std::string& reader_print) {
  if (w.user) {
    GW_LOG(kInfo, "sync") << r.id << ": imported user " << log::Cut(w.user_uuid) << " (version "
                          << version << ")";
  }
  if (!d.conflict) co_return;
  GW_LOG(kInfo, "sync") << r.id << ": conflict on user " << log::Cut(w.user_uuid) << ": "
                        << ImportVerdictName(d.verdict);
  if (d.verdict != ImportVerdict::kGatewayWins) co_return;
  std::vector<store::StateUpdate> pending(1);
  pending[0].user_uuid = w.user_uuid;
  pending[0].status = SyncStatus::kPending;
  pending[0].applied_digest = reader_print;
  pending[0].error = "conflict: the gateway's newer version wins";
  auto recorded = co_await store::RecordStates(ctx.db, r.id, std::move(pending));
  if (!recorded) {
    // Only the status row lags: `force` below pushes the gateway's record back regardless.
    GW_LOG(kWarn, "sync") << r.id << ": conflict on user " << log::Cut(w.user_uuid)
                          << ": status not recorded: " << Describe(DatabaseError(recorded.error()));
  }
  r.force.insert(w.user_uuid);
  r.dirty = true;
}

/// One decisive change at the reader: read the copy back, decide, write. Retries when another
/// writer changed the user in between (at most kImportAttempts times, then moves on).
asio::awaitable<Outcome<void>> ImportOne(Ctx ctx, std::shared_ptr<Reconciler> r,
                                         std::shared_ptr<poll::DeviceWorker> worker,
                                         const store::UserDataEvent& e, ReaderView view,
                                         bool* imported) {
  const ImportPolicy policy = ctx.options.import_policy;
  auto task = ReadUserOnStrand(worker, r->limiter, e.user_uuid);
  auto read = co_await worker->Run(std::move(task));
  if (ctx.metrics) ctx.metrics->CountOperation(r->id, "import", static_cast<bool>(read));
  if (!read) co_return read.error();
  if (!*read) co_return Outcome<void>();  // gone again meanwhile
  const UserDoc& copy = **read;
  for (int attempt = 0; attempt < kImportAttempts; ++attempt) {
    auto side = co_await ReadGatewaySide(ctx.db, e.user_uuid, r->id);
    if (!side) co_return side.error();
    // Printed under the key of the gateway's digest it is compared with.
    std::string reader_print =
        Fingerprint(copy, ctx.db.Keys(), side->user ? side->user->digest : std::string());
    auto summary = side->user ? std::optional(SummaryOf(*side->user)) : std::nullopt;
    ReaderChange change{reader_print, e.occurred_at, e.received_at};
    auto decision = DecideImport(summary ? &*summary : nullptr,
                                 side->state ? &*side->state : nullptr, change, view, policy);
    if (decision.verdict == ImportVerdict::kHeld) {
      auto held = co_await Hold(ctx, *r, e, *side, copy, reader_print);
      if (!held) co_return held.error();
      break;
    }
    auto write = Act(decision, e, *side, copy, reader_print, *worker, ctx.db.Keys());
    if (!write) break;
    auto version = co_await store::ImportUser(ctx.db, *write);
    if (!version && version.error() == Errc::kConflict) continue;
    if (!version) co_return DatabaseError(version.error());
    if (write->user) *imported = true;
    if (write->user && ctx.metrics) ctx.metrics->CountImport(r->id, "imported");
    if (decision.verdict == ImportVerdict::kGatewayWins && ctx.metrics) {
      ctx.metrics->CountImport(r->id, "refused");
    }
    co_await AfterImport(ctx, *r, *write, decision, *version, reader_print);
    break;
  }
  co_return Outcome<void>();
}

}  // namespace

asio::awaitable<Outcome<void>> ImportPass(Ctx ctx, std::shared_ptr<Reconciler> r,
                                          std::shared_ptr<poll::DeviceWorker> worker,
                                          bool* imported) {
  *imported = false;
  auto batch = co_await ReadBatch(ctx.db, r->id);
  if (!batch) {
    SetError(*r, batch.error());
    co_return batch.error();
  }
  const auto decisive = FindDecisive(batch->events);
  std::int64_t done_seq = batch->cursor;
  const ReaderView view{{}, worker->Snapshot().record_version};
  auto now = Clock::now();
  for (const auto& e : batch->events) {
    if (decisive.Is(e) && !ConsumeEcho(*r, e.user_uuid, decisive.changes.at(e.user_uuid), now)) {
      auto one = co_await ImportOne(ctx, r, worker, e, view, imported);
      if (!one) {
        SetError(*r, one.error());
        // The pass fails (and its round is counted failed) with the import's error; a cursor
        // not saved here only means re-reading those events, but it is said.
        if (auto saved = co_await SaveCursor(ctx.db, r->id, batch->cursor, done_seq); !saved) {
          GW_LOG(kWarn, "sync") << r->id
                                << ": import cursor not saved: " << Describe(saved.error());
        }
        co_return one.error();
      }
    }
    done_seq = e.seq;
  }
  co_return co_await SaveCursor(ctx.db, r->id, batch->cursor, done_seq);
}

}  // namespace gw::sync
