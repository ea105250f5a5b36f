// The reconciler's rounds: plan (ComputePlan) from PostgreSQL and, in a full round, the reader;
// run the plan on the reader (reader_ops); record each user's outcome.

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "poll/device_worker.hpp"
#include "store/database.hpp"
#include "store/imports.hpp"
#include "sync/import_rule.hpp"
#include "sync/reconciler.hpp"
#include "sync/status.hpp"
#include "sync/sync_metrics.hpp"
#include "sync/user_doc.hpp"

namespace gw::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

/// Operations per chunk: records loaded, run on the reader and recorded together.
constexpr std::size_t kChunk = 200;

bool NeedsRecord(OpKind kind) { return kind == OpKind::kAdd || kind == OpKind::kUpdate; }

/// The stored records of the ops in [begin, end) that push a user.
asio::awaitable<Outcome<std::map<std::string, store::StoredUser>>> LoadRecords(
    store::Database& db, const std::vector<PlannedOp>& ops, std::size_t begin, std::size_t end) {
  std::vector<std::string> to_load;
  for (std::size_t i = begin; i < end; ++i) {
    if (NeedsRecord(ops[i].kind)) to_load.push_back(ops[i].user_uuid);
  }
  std::map<std::string, store::StoredUser> loaded;
  if (to_load.empty()) co_return loaded;
  auto rows = co_await store::UsersByUuid(db, std::move(to_load));
  if (!rows) co_return DatabaseError(rows.error());
  for (auto& u : *rows) loaded.emplace(u.user_uuid, std::move(u));
  co_return loaded;
}

/// The op with its bundle and document; nullopt when it is to be left for the next round.
std::optional<OpWork> Prepare(const Reconciler& r, const PlannedOp& op,
                              const std::map<std::string, store::StoredUser>& loaded,
                              std::optional<std::int32_t> reader_rv, const crypto::DataKeys* keys) {
  OpWork w{op, std::nullopt, std::nullopt, {}};
  if (!NeedsRecord(op.kind)) return w;
  auto it = loaded.find(op.user_uuid);
  if (it == loaded.end() || it->second.deleted) return std::nullopt;  // changed meanwhile
  if (!it->second.record_error.empty()) {
    GW_LOG(kError, "sync") << r.id << ": stored user " << op.user_uuid
                           << " cannot be opened: " << it->second.record_error;
    return std::nullopt;
  }
  std::string problem;
  auto doc = ParseUserDoc(it->second.user_uuid, it->second.record, &problem);
  if (!doc) {
    GW_LOG(kError, "sync") << r.id << ": stored user " << op.user_uuid
                           << " is unreadable: " << problem;
    return std::nullopt;
  }
  auto rv = TemplateVersion(*doc);
  if (rv && reader_rv && *rv != *reader_rv && HasTemplates(*doc)) {
    *doc = WithoutTemplates(std::move(*doc));
    w.note = "templates not pushed: record_version " + std::to_string(*rv) +
             " differs from the reader's " + std::to_string(*reader_rv);
  }
  w.op.version = it->second.version;
  // Under the key of the stored digest, as GatherFull prints the reader's copy.
  w.op.digest = Fingerprint(*doc, keys, it->second.digest);
  w.bundle = ToEnrollUser(*doc);
  w.doc = std::move(*doc);
  return w;
}

/// The state row an outcome leaves (none for unknown users).
std::optional<store::StateUpdate> StateOf(const OpWork& w, const OpOutcome& o) {
  if (w.op.kind == OpKind::kReportUnknown || w.op.kind == OpKind::kDeleteUnknown) {
    return std::nullopt;
  }
  store::StateUpdate u;
  u.user_uuid = w.op.user_uuid;
  if (o.Succeeded()) {
    u.status = SyncStatus::kApplied;
    u.applied_version = w.op.version;
    if (!w.op.digest.empty()) u.applied_digest = w.op.digest;
    if (!w.note.empty()) u.note = w.note;
  } else {
    u.status = SyncStatus::kFailed;
    u.error = Describe(*o.error);
  }
  return u;
}

/// Counts the outcomes, remembers our echoes and records the state rows. Returns the first
/// error that ends the round, or a database error.
asio::awaitable<Outcome<void>> Record(Ctx ctx, Reconciler& r, const std::vector<OpWork>& work,
                                      const std::vector<OpOutcome>& outcomes) {
  std::vector<store::StateUpdate> updates;
  std::optional<Error> round_error;
  std::map<std::string, std::pair<double, double>> counts;  // op -> ok, failed
  auto now = Clock::now();
  for (std::size_t i = 0; i < work.size(); ++i) {
    const auto& w = work[i];
    const auto& o = outcomes[i];
    if (o.attempted || !o.Succeeded()) {
      auto& c = counts[std::string(OpName(w.op.kind))];
      (o.Succeeded() ? c.first : c.second) += 1;
    }
    if (o.ends_round && !round_error) round_error = *o.error;
    auto state = StateOf(w, o);
    if (!state) continue;
    if (o.echoes > 0) {
      // Also after a partial in-place update: the parts written are ours, not a change made
      // at the reader for the importer to adopt.
      auto& echo = r.echoes[w.op.user_uuid];
      echo.first += o.echoes;
      echo.second = now;
    }
    updates.push_back(std::move(*state));
  }
  if (ctx.metrics) {
    for (const auto& [op, c] : counts) {
      if (c.first > 0) ctx.metrics->CountOperation(r.id, op, true, c.first);
      if (c.second > 0) ctx.metrics->CountOperation(r.id, op, false, c.second);
    }
  }
  if (!updates.empty()) {
    auto rec = co_await store::RecordStates(ctx.db, r.id, std::move(updates));
    if (!rec) co_return DatabaseError(rec.error());
  }
  if (round_error) co_return *round_error;
  co_return Outcome<void>();
}

/// Loads records, builds bundles, runs the ops on the reader in chunks, records the outcomes.
/// Fails with the first error that ends the round (transport, database, stopping).
asio::awaitable<Outcome<void>> Execute(Ctx ctx, std::shared_ptr<Reconciler> r,
                                       std::shared_ptr<poll::DeviceWorker> worker,
                                       std::vector<PlannedOp> ops,
                                       std::optional<std::int32_t> reader_rv) {
  for (std::size_t begin = 0; begin < ops.size(); begin += kChunk) {
    std::size_t end = std::min(ops.size(), begin + kChunk);
    auto loaded = co_await LoadRecords(ctx.db, ops, begin, end);
    if (!loaded) co_return loaded.error();
    auto work = std::make_shared<std::vector<OpWork>>();
    for (std::size_t i = begin; i < end; ++i) {
      if (auto w = Prepare(*r, ops[i], *loaded, reader_rv, ctx.db.Keys())) {
        work->push_back(std::move(*w));
      }
    }
    auto task = RunOpsOnStrand(worker, r->limiter, work);
    auto outcomes = co_await worker->Run(std::move(task));
    auto recorded = co_await Record(ctx, *r, *work, outcomes);
    if (!recorded) co_return recorded.error();
    if (r->stop) co_return SyncError(Errc::kCancelled, "stopping");
  }
  co_return Outcome<void>();
}

asio::awaitable<Outcome<std::map<std::string, store::DeviceUserState>>> LoadStates(
    store::Database& db, std::string id) {
  auto rows = co_await store::DeviceStatesOf(db, std::move(id));
  if (!rows) co_return DatabaseError(rows.error());
  std::map<std::string, store::DeviceUserState> out;
  for (auto& s : *rows) out.emplace(s.user_uuid, std::move(s));
  co_return out;
}

/// Users with UserData events the importer has not handled yet, read page by page. A database
/// failure fails the round: without this set, a user enrolled at the reader and not yet imported
/// would look unknown (and be deleted from the reader under `mirror`).
asio::awaitable<Outcome<std::set<std::string>>> PendingImports(store::Database& db,
                                                               std::string id) {
  constexpr int kPage = 10000;
  std::set<std::string> out;
  auto cursor = co_await store::ImportCursor(db, id);
  if (!cursor) co_return DatabaseError(cursor.error());
  for (std::int64_t after = *cursor;;) {
    auto events = co_await store::UserDataEvents(db, id, after, kPage);
    if (!events) co_return DatabaseError(events.error());
    for (const auto& e : *events) {
      if (!e.user_uuid.empty()) out.insert(e.user_uuid);
      after = e.seq;
    }
    if (events->size() < static_cast<std::size_t>(kPage)) break;
  }
  co_return out;
}

/// Users whose change at reader `id` waits for review.
asio::awaitable<Outcome<std::set<std::string>>> LoadHeld(store::Database& db, std::string id) {
  auto held = co_await store::HeldUsers(db, std::move(id));
  if (!held) co_return DatabaseError(held.error());
  co_return std::set<std::string>(held->begin(), held->end());
}

void Advance(Reconciler& r, const std::vector<store::UserSummary>& users) {
  for (const auto& u : users) {
    if (!r.watermark || u.updated_at > *r.watermark) r.watermark = u.updated_at;
  }
}

/// Unknown users ripen (may be deleted under mirror) once seen for `grace`.
std::set<std::string> RipenUnknown(Reconciler& r, const FullInputs& in,
                                   std::chrono::milliseconds grace, Clock::time_point now) {
  std::set<std::string> known;
  for (const auto& u : in.desired) known.insert(u.user_uuid);
  std::map<std::string, Clock::time_point> seen;
  std::set<std::string> ripe;
  for (const auto& [uuid, digest] : in.actual) {
    if (known.count(uuid)) continue;
    auto it = r.unknown_first_seen.find(uuid);
    auto first = it == r.unknown_first_seen.end() ? now : it->second;
    seen[uuid] = first;
    if (now - first >= grace) ripe.insert(uuid);
  }
  r.unknown_first_seen = std::move(seen);
  return ripe;
}

/// A copy that differs from what we applied there was changed at the reader: its UserData log
/// entry may still be on its way to the importer, which decides by the conflict rule. Only a
/// difference that outlives the grace period (no log came: drift) is overwritten; the others
/// are taken out of `plan` and counted as waiting for the import.
void HoldReaderChanges(Reconciler& r, const FullInputs& in, std::chrono::milliseconds grace,
                       Clock::time_point now, Plan& plan) {
  std::map<std::string, Clock::time_point> drift;
  std::erase_if(plan.ops, [&](const PlannedOp& op) {
    if (op.kind != OpKind::kUpdate) return false;
    auto st = in.states.find(op.user_uuid);
    auto act = in.actual.find(op.user_uuid);
    if (st == in.states.end() || !st->second.applied_digest || act == in.actual.end() ||
        act->second == *st->second.applied_digest) {
      return false;
    }
    auto was = r.drift_first_seen.find(op.user_uuid);
    auto first = was == r.drift_first_seen.end() ? now : was->second;
    drift[op.user_uuid] = first;
    if (now - first >= grace) return false;
    ++plan.waiting_import;
    return true;
  });
  r.drift_first_seen = std::move(drift);
}

/// The full round's plan in the status, the metrics and (when there is work) the log.
void Publish(Ctx ctx, Reconciler& r, const Plan& plan, std::optional<std::int32_t> rv) {
  {
    std::lock_guard lock(r.mutex);
    r.status.record_version = rv;
    r.status.unknown_users.clear();
    r.status.unknown_count = 0;
    for (const auto& op : plan.ops) {
      if (op.kind != OpKind::kReportUnknown && op.kind != OpKind::kDeleteUnknown) continue;
      ++r.status.unknown_count;
      if (r.status.unknown_users.size() < 100) r.status.unknown_users.push_back(op.user_uuid);
    }
  }
  if (ctx.metrics) {
    ctx.metrics->SetUnknown(r.id, static_cast<double>(plan.Count(OpKind::kReportUnknown) +
                                                      plan.Count(OpKind::kDeleteUnknown)));
    ctx.metrics->SetTemplatesSkipped(r.id, static_cast<double>(plan.templates_skipped));
  }
  std::int64_t work =
      static_cast<std::int64_t>(plan.ops.size()) - plan.Count(OpKind::kReportUnknown);
  if (work > 0) {
    GW_LOG(kInfo, "sync") << r.id << ": full round: " << plan.Count(OpKind::kAdd) << " to add, "
                          << plan.Count(OpKind::kUpdate) << " to update, "
                          << plan.Count(OpKind::kDelete) + plan.Count(OpKind::kDeleteUnknown)
                          << " to delete, " << plan.Count(OpKind::kReportUnknown)
                          << " unknown kept, " << plan.in_sync << " in sync";
  }
}

/// `error` recorded as the reconciler's last error, and returned.
Outcome<void> Failed(Reconciler& r, Error error) {
  SetError(r, error);
  return error;
}

}  // namespace

void SetError(Reconciler& r, const Error& error) {
  std::lock_guard lock(r.mutex);
  r.status.last_error = Describe(error);
}

ReaderView ViewOf(const poll::DeviceWorker& worker, std::optional<std::int32_t> record_version) {
  return ReaderView{ReaderGroups(worker.id(), worker.reader().groups), record_version};
}

asio::awaitable<Outcome<FullInputs>> GatherFull(Ctx ctx, std::shared_ptr<poll::DeviceWorker> worker,
                                                std::shared_ptr<RateLimiter> limiter) {
  FullInputs in;
  auto desired = co_await store::UserSummaries(ctx.db, std::nullopt);
  if (!desired) co_return DatabaseError(desired.error());
  in.desired = std::move(*desired);
  auto states = co_await LoadStates(ctx.db, worker->id());
  if (!states) co_return states.error();
  in.states = std::move(*states);
  auto task = ReadReaderOnStrand(worker, limiter, ctx.options.page_size);
  auto reader = co_await worker->Run(std::move(task));
  if (!reader) co_return reader.error();
  in.record_version = reader->record_version;
  // Each copy is printed under the key of the gateway's digest it is compared with (a key
  // added since, until rekey moved the user, would make every user look changed).
  std::map<std::string_view, std::string_view> stored;
  for (const auto& u : in.desired) stored.emplace(u.user_uuid, u.digest);
  for (const auto& [uuid, doc] : reader->users) {
    auto like = stored.find(uuid);
    in.actual.emplace(uuid, Fingerprint(doc, ctx.db.Keys(),
                                        like == stored.end() ? std::string_view() : like->second));
  }
  auto pending = co_await PendingImports(ctx.db, worker->id());
  if (!pending) co_return pending.error();
  in.pending_import = std::move(*pending);
  auto held = co_await LoadHeld(ctx.db, worker->id());
  if (!held) co_return held.error();
  in.held = std::move(*held);
  co_return in;
}

asio::awaitable<Outcome<void>> FullRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                         std::shared_ptr<poll::DeviceWorker> worker) {
  auto in = co_await GatherFull(ctx, worker, r->limiter);
  if (!in) co_return Failed(*r, in.error());
  Advance(*r, in->desired);
  auto now = Clock::now();
  auto ripe = RipenUnknown(*r, *in, ctx.options.unknown_grace, now);
  PlanInput pi;
  pi.desired = &in->desired;
  pi.states = &in->states;
  pi.actual = &in->actual;
  pi.reader = ViewOf(*worker, in->record_version);
  pi.policy = ctx.options.policy;
  pi.pending_import = &in->pending_import;
  pi.held = &in->held;
  pi.unknown_ripe = &ripe;
  auto plan = ComputePlan(pi);
  HoldReaderChanges(*r, *in, ctx.options.unknown_grace, now, plan);
  Publish(ctx, *r, plan, in->record_version);
  auto done = co_await Execute(ctx, r, worker, std::move(plan.ops), in->record_version);
  if (!done) co_return Failed(*r, done.error());
  std::lock_guard lock(r->mutex);
  r->status.last_error.clear();
  r->status.last_full_round = r->status.last_round = std::chrono::system_clock::now();
  co_return Outcome<void>();
}

namespace {

/// Users changed since the watermark that this reconciler has not handled at their version,
/// plus the forced ones (loaded in full). On a database failure the forced set is kept.
asio::awaitable<Outcome<std::vector<store::UserSummary>>> ChangedUsers(Ctx ctx, Reconciler& r) {
  std::optional<store::TimePoint> since;
  if (r.watermark) since = *r.watermark - kChangeOverlap;
  auto changed = co_await store::UserSummaries(ctx.db, since);
  if (!changed) co_return DatabaseError(changed.error());
  Advance(r, *changed);
  std::erase_if(*changed, [&](const store::UserSummary& u) {
    auto it = r.handled.find(u.user_uuid);
    return it != r.handled.end() && it->second.first == u.version && !r.force.count(u.user_uuid);
  });
  std::set<std::string> forced = std::move(r.force);
  r.force.clear();
  for (const auto& u : *changed) forced.erase(u.user_uuid);
  if (!forced.empty()) {
    std::vector<std::string> uuids(forced.begin(), forced.end());
    auto rows = co_await store::UsersByUuid(ctx.db, std::move(uuids));
    if (!rows) {
      r.force = std::move(forced);
      co_return DatabaseError(rows.error());
    }
    for (const auto& u : *rows) changed->push_back(SummaryOf(u));
  }
  if (r.watermark) {
    auto horizon = *r.watermark - 2 * kChangeOverlap;
    std::erase_if(r.handled, [&](const auto& kv) { return kv.second.second < horizon; });
  }
  co_return std::move(*changed);
}

}  // namespace

asio::awaitable<Outcome<void>> IncrementalRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                                std::shared_ptr<poll::DeviceWorker> worker,
                                                bool* worked) {
  *worked = false;
  auto changed = co_await ChangedUsers(ctx, *r);
  if (!changed) co_return Failed(*r, changed.error());
  if (changed->empty()) co_return Outcome<void>();
  auto states = co_await LoadStates(ctx.db, r->id);
  if (!states) co_return Failed(*r, states.error());
  auto held = co_await LoadHeld(ctx.db, r->id);
  if (!held) co_return Failed(*r, held.error());
  std::optional<std::int32_t> rv = worker->Snapshot().record_version;
  {
    std::lock_guard lock(r->mutex);
    if (!rv) rv = r->status.record_version;
  }
  PlanInput pi;
  pi.desired = &*changed;
  pi.states = &*states;
  pi.reader = ViewOf(*worker, rv);
  pi.policy = ctx.options.policy;
  pi.held = &*held;
  pi.retry_failed = false;
  auto plan = ComputePlan(pi);
  auto remember = [&] {
    for (const auto& u : *changed) r->handled[u.user_uuid] = {u.version, u.updated_at};
  };
  if (plan.ops.empty()) {
    remember();
    co_return Outcome<void>();
  }
  *worked = true;
  auto done = co_await Execute(ctx, r, worker, std::move(plan.ops), rv);
  if (!done) co_return Failed(*r, done.error());
  remember();
  std::lock_guard lock(r->mutex);
  r->status.last_error.clear();
  r->status.last_round = std::chrono::system_clock::now();
  co_return Outcome<void>();
}

asio::awaitable<void> RefreshCounts(Ctx ctx, std::shared_ptr<Reconciler> r,
                                    std::vector<std::string> groups) {
  if (!ctx.metrics) co_return;
  auto counts = co_await store::SyncCountsOf(ctx.db, r->id, std::move(groups));
  if (!counts) co_return;  // a gauge, not a result: the next refresh catches up
  ctx.metrics->SetCounts(r->id, static_cast<double>(counts->applied),
                         static_cast<double>(counts->pending), static_cast<double>(counts->failed));
  auto held = co_await store::PendingImportCount(ctx.db, r->id);
  if (held) ctx.metrics->SetPendingImports(r->id, static_cast<double>(*held));
}

asio::awaitable<Outcome<void>> RestoreRejected(Ctx ctx, std::shared_ptr<Reconciler> r,
                                               std::shared_ptr<poll::DeviceWorker> worker) {
  auto todo = co_await store::ImportsToRestore(ctx.db, r->id);
  if (!todo) co_return Failed(*r, DatabaseError(todo.error()));
  if (todo->empty()) co_return Outcome<void>();
  auto held = co_await LoadHeld(ctx.db, r->id);
  if (!held) co_return Failed(*r, held.error());
  std::vector<std::string> uuids;
  for (const auto& t : *todo) uuids.push_back(t.user_uuid);
  auto rows = co_await store::UsersByUuid(ctx.db, std::move(uuids));
  if (!rows) co_return Failed(*r, DatabaseError(rows.error()));
  std::map<std::string, store::UserSummary> users;
  for (const auto& u : *rows) users.emplace(u.user_uuid, SummaryOf(u));
  std::optional<std::int32_t> rv = worker->Snapshot().record_version;
  {
    std::lock_guard lock(r->mutex);
    if (!rv) rv = r->status.record_version;
  }
  const auto view = ViewOf(*worker, rv);
  std::vector<PlannedOp> ops;
  std::set<std::string> planned;
  for (const auto& t : *todo) {
    // A newer change there waits for its own review; one op per user is enough.
    if (held->count(t.user_uuid) || !planned.insert(t.user_uuid).second) continue;
    auto it = users.find(t.user_uuid);
    PlannedOp op{OpKind::kDeleteUnknown, t.user_uuid, 0, false, {}, "import rejected"};
    if (it != users.end()) {
      const auto& u = it->second;
      op.version = u.version;
      // kAdd: a reader holding the user answers 409 and gets the record in place.
      op.kind = !u.deleted && InScope(u.groups, view) ? OpKind::kAdd : OpKind::kDelete;
    }
    ops.push_back(std::move(op));
  }
  if (!ops.empty()) {
    GW_LOG(kInfo, "sync") << r->id << ": restoring the gateway's record of " << ops.size()
                          << " user(s) after rejected imports";
    auto done = co_await Execute(ctx, r, worker, std::move(ops), rv);
    if (!done) co_return Failed(*r, done.error());
  }
  std::vector<std::int64_t> ids;
  for (const auto& t : *todo) ids.push_back(t.id);
  auto marked = co_await store::MarkRestored(ctx.db, std::move(ids));
  if (!marked) co_return Failed(*r, DatabaseError(marked.error()));
  co_return Outcome<void>();
}

}  // namespace gw::sync
