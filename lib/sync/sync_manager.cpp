#include "sync/sync_manager.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "common/run_blocking.hpp"
#include "ef45/client.hpp"
#include "poll/device_worker.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"
#include "store/users.hpp"
#include "sync/sync_metrics.hpp"
#include "sync/user_doc.hpp"

namespace gw::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// Changes committed this long before the newest one seen are looked at again: updated_at is
/// the transaction's start time, so a slow commit can land "in the past".
constexpr auto kChangeOverlap = std::chrono::seconds(5);
/// After this many per-user failures in a row the round stops (the reader fails everything).
constexpr int kMaxFailuresInRow = 20;
/// Users read back from the reader during an import pass, at most, per pass.
constexpr int kImportBatch = 500;
/// Our own writes come back as the reader's UserData log entries (one AddUsers per user we
/// enrolled there); the expected count is forgotten after this long (a log wiped meanwhile).
constexpr auto kEchoExpiry = std::chrono::minutes(10);

/// Paces reader calls: at most `rate` per second (no burst).
class RateLimiter {
 public:
  explicit RateLimiter(int rate)
      : interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                  std::max(1, rate)) {}
  asio::awaitable<void> Acquire() {
    auto now = Clock::now();
    if (next_ < now) next_ = now;
    auto at = next_;
    next_ += interval_;
    if (at > now) {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_at(at);
      co_await timer.async_wait(kTuple);
    }
  }

 private:
  Clock::duration interval_;
  Clock::time_point next_{};
};

bool IsTransport(const ef45::Error& e) {
  switch (e.reason()) {
    case Errc::kHttpStatus:
    case Errc::kBadResponse: return false;
    default: return true;
  }
}

/// The reader's answer for a status row: reason, HTTP status and the client's detail (which
/// names the operation and field, never user data).
std::string Describe(const ef45::Error& e) {
  std::string out(ReasonName(e.code));
  if (e.http_status) out += " " + std::to_string(e.http_status);
  if (!e.detail.empty()) out += ": " + e.detail;
  return out;
}

bool Is404(const ef45::Error& e) { return e.reason() == Errc::kHttpStatus && e.http_status == 404; }

/// What one reader holds, read in pages.
struct ReaderUsers {
  std::map<std::string, UserDoc> users;
  std::optional<std::int32_t> record_version;
  std::string error;  ///< non-empty: the read failed
};

template <class T, class F>
asio::awaitable<std::string> ReadPages(RateLimiter& limiter, int page_size, F fetch,
                                       std::vector<T>& out) {
  for (int page = 1; page <= 100000; ++page) {
    co_await limiter.Acquire();
    ef45::PageRequest request{page, page_size};
    auto r = co_await fetch(request);
    if (!r) co_return Describe(r.error());
    for (auto& item : r->items) out.push_back(std::move(item));
    if (!r->has_more || r->items.empty()) co_return std::string();
  }
  co_return std::string("too many pages");
}

/// Runs on the worker's strand.
asio::awaitable<ReaderUsers> ReadReaderOnStrand(std::shared_ptr<poll::DeviceWorker> worker,
                                                std::shared_ptr<RateLimiter> limiter,
                                                int page_size) {
  ReaderUsers out;
  auto& client = worker->client();
  out.record_version = worker->Snapshot().record_version;
  if (!out.record_version) {
    co_await limiter->Acquire();
    auto rv = co_await client.GetRecordVersion();
    if (rv) {
      out.record_version = rv->record_version;
    } else if (IsTransport(rv.error())) {
      out.error = Describe(rv.error());
      co_return out;
    }
  }
  std::vector<ef45::Subject> subjects;
  std::vector<ef45::UserInfo> infos;
  std::vector<ef45::Face> faces;
  out.error = co_await ReadPages<ef45::Subject>(
      *limiter, page_size, [&](ef45::PageRequest p) { return client.ListSubjects(p); }, subjects);
  if (!out.error.empty()) co_return out;
  out.error = co_await ReadPages<ef45::UserInfo>(
      *limiter, page_size, [&](ef45::PageRequest p) { return client.ListUserInfo(p); }, infos);
  if (!out.error.empty()) co_return out;
  out.error = co_await ReadPages<ef45::Face>(
      *limiter, page_size, [&](ef45::PageRequest p) { return client.ListFaces(p); }, faces);
  if (!out.error.empty()) co_return out;
  auto doc = [&](const std::string& uuid) -> UserDoc& {
    auto& d = out.users[uuid];
    d.user_uuid = uuid;
    return d;
  };
  for (auto& s : subjects) doc(s.user_uuid).subject = std::move(s);
  for (auto& u : infos) doc(u.user_uuid).user_info = std::move(u);
  for (auto& f : faces) doc(f.user_uuid).faces.push_back(std::move(f));
  for (auto& [uuid, d] : out.users) {
    std::sort(d.faces.begin(), d.faces.end(),
              [](const auto& a, const auto& b) { return a.sub_id < b.sub_id; });
  }
  co_return out;
}

/// One user as the reader holds it (nullopt doc: not there). Runs on the worker's strand.
struct ReadOne {
  std::optional<UserDoc> doc;
  std::string error;  ///< a transport failure
};

asio::awaitable<ReadOne> ReadUserOnStrand(std::shared_ptr<poll::DeviceWorker> worker,
                                          std::shared_ptr<RateLimiter> limiter, std::string uuid) {
  ReadOne out;
  auto& client = worker->client();
  UserDoc doc;
  doc.user_uuid = uuid;
  co_await limiter->Acquire();
  auto s = co_await client.GetSubject(uuid);
  if (s) {
    doc.subject = std::move(*s);
  } else if (!Is404(s.error()) && IsTransport(s.error())) {
    out.error = Describe(s.error());
    co_return out;
  }
  co_await limiter->Acquire();
  auto u = co_await client.GetUserInfo(uuid);
  if (u) {
    doc.user_info = std::move(*u);
  } else if (!Is404(u.error()) && IsTransport(u.error())) {
    out.error = Describe(u.error());
    co_return out;
  }
  if (!doc.subject && !doc.user_info) co_return out;
  co_await limiter->Acquire();
  auto f = co_await client.GetFaces(uuid);
  if (f) {
    doc.faces = std::move(*f);
    for (auto& face : doc.faces) face.user_uuid = uuid;
    std::sort(doc.faces.begin(), doc.faces.end(),
              [](const auto& a, const auto& b) { return a.sub_id < b.sub_id; });
  } else if (!Is404(f.error()) && IsTransport(f.error())) {
    out.error = Describe(f.error());
    co_return out;
  }
  out.doc = std::move(doc);
  co_return out;
}

struct OpWork {
  PlannedOp op;
  std::optional<ef45::EnrollUser> bundle;
  std::optional<UserDoc> doc;  ///< what the reader is to hold (adds and updates)
  std::string note;
};

struct OpOutcome {
  bool ok = false;
  bool transport = false;
  bool attempted = false;  ///< a reader call was made
  int echoes = 0;          ///< AddUsers/UpdateUsers log entries our writes produce there
  std::string error;
};

asio::awaitable<std::optional<ef45::Error>> Enroll(ef45::Client& client, RateLimiter& limiter,
                                                   const ef45::EnrollUser& bundle,
                                                   std::string* duplicate) {
  co_await limiter.Acquire();
  auto r = co_await client.EnrollUser(bundle);
  if (!r) co_return r.error();
  if (*r && !(*r)->duplicate_uuid.empty()) *duplicate = (*r)->duplicate_uuid;
  co_return std::nullopt;
}

asio::awaitable<std::optional<ef45::Error>> Remove(ef45::Client& client, RateLimiter& limiter,
                                                   std::string uuid) {
  co_await limiter.Acquire();
  auto r = co_await client.DeleteUser(std::move(uuid));
  if (!r && !Is404(r.error())) co_return r.error();
  co_return std::nullopt;
}

/// A failed step of an in-place update: the reader's error and which call it answered.
struct StepError {
  ef45::Error error;
  std::string step;
};

/// Reads `uuid`'s subject, user info and faces (a 404 = that part is absent) into `copy`.
asio::awaitable<std::optional<StepError>> ReadCopy(ef45::Client& client, RateLimiter& limiter,
                                                   const std::string& uuid, UserDoc& copy) {
  copy.user_uuid = uuid;
  co_await limiter.Acquire();
  auto s = co_await client.GetSubject(uuid);
  if (s) {
    copy.subject = std::move(*s);
  } else if (!Is404(s.error())) {
    co_return StepError{s.error(), "reading the subject"};
  }
  co_await limiter.Acquire();
  auto u = co_await client.GetUserInfo(uuid);
  if (u) {
    copy.user_info = std::move(*u);
  } else if (!Is404(u.error())) {
    co_return StepError{u.error(), "reading the user info"};
  }
  co_await limiter.Acquire();
  auto f = co_await client.GetFaces(uuid);
  if (f) {
    copy.faces = std::move(*f);
    for (auto& face : copy.faces) face.user_uuid = uuid;
  } else if (!Is404(f.error())) {
    co_return StepError{f.error(), "reading the faces"};
  }
  co_return std::nullopt;
}

/// Brings the reader's copy of the user to `w.doc` in place: reads it back, then writes only the
/// parts that differ (subject, user info, each face), never removing the user, so a person at
/// the door is not refused while the update runs. A reader without the user gets the bundle.
/// Runs on the worker's strand. `*echoes` counts the AddUsers/UpdateUsers log entries written.
asio::awaitable<std::optional<StepError>> UpdateInPlace(ef45::Client& client, RateLimiter& limiter,
                                                        const OpWork& w, int* echoes,
                                                        std::string* duplicate) {
  const UserDoc& want = *w.doc;
  const std::string& uuid = want.user_uuid;
  UserDoc copy;
  if (auto err = co_await ReadCopy(client, limiter, uuid, copy)) co_return err;
  if (!copy.subject && !copy.user_info && copy.faces.empty()) {
    // Not there (deleted at the reader meanwhile): nothing to keep present, enrol it.
    auto err = co_await Enroll(client, limiter, *w.bundle, duplicate);
    if (err) co_return StepError{*err, "enrolling"};
    ++*echoes;
    co_return std::nullopt;
  }
  auto diff = DiffForUpdate(copy, want);
  using Write = InPlaceUpdate::Write;
  if (diff.subject != Write::kNone) {
    ef45::Subject subject = want.subject.value_or(ef45::Subject{});
    subject.user_uuid = uuid;
    co_await limiter.Acquire();
    ef45::Reply<void> r;
    if (diff.subject == Write::kUpdate) {
      r = co_await client.UpdateSubject(uuid, subject);
    } else {
      r = co_await client.AddSubject(subject);
    }
    if (!r) {
      // 409: the new templates duplicate another enrolled subject (the reader keeps the old row).
      bool dup = r.error().reason() == Errc::kHttpStatus && r.error().http_status == 409;
      co_return StepError{r.error(), dup ? "updating the subject (its templates duplicate another "
                                           "subject enrolled on the reader)"
                                         : "updating the subject"};
    }
    ++*echoes;
  }
  if (diff.user_info != Write::kNone) {
    ef45::UserInfo info = want.user_info.value_or(ef45::UserInfo{});
    info.user_uuid = uuid;
    co_await limiter.Acquire();
    ef45::Reply<void> r;
    if (diff.user_info == Write::kUpdate) {
      r = co_await client.UpdateUserInfo(uuid, info);
    } else {
      r = co_await client.AddUserInfo(info);
    }
    if (!r) co_return StepError{r.error(), "updating the user info"};
    ++*echoes;
  }
  auto face_of = [&](std::int32_t sub_id) {
    ef45::Face face;
    for (const auto& f : want.faces) {
      if (f.sub_id == sub_id) face = f;
    }
    face.user_uuid = uuid;
    return face;
  };
  for (auto sub_id : diff.update_faces) {
    ef45::Face face = face_of(sub_id);
    co_await limiter.Acquire();
    auto r = co_await client.UpdateFace(uuid, sub_id, face);
    if (!r) co_return StepError{r.error(), "updating face " + std::to_string(sub_id)};
    ++*echoes;
  }
  for (auto sub_id : diff.add_faces) {
    ef45::Face face = face_of(sub_id);
    co_await limiter.Acquire();
    auto r = co_await client.AddFace(face);
    if (!r) co_return StepError{r.error(), "adding face " + std::to_string(sub_id)};
    ++*echoes;
  }
  for (auto sub_id : diff.delete_faces) {
    co_await limiter.Acquire();
    auto r = co_await client.DeleteFace(uuid, sub_id);
    if (!r && !Is404(r.error())) {
      co_return StepError{r.error(), "deleting face " + std::to_string(sub_id)};
    }
  }
  co_return std::nullopt;
}

/// Runs on the worker's strand: each op in order; a transport failure ends the batch.
asio::awaitable<std::vector<OpOutcome>> RunOpsOnStrand(std::shared_ptr<poll::DeviceWorker> worker,
                                                       std::shared_ptr<RateLimiter> limiter,
                                                       std::shared_ptr<std::vector<OpWork>> work) {
  std::vector<OpOutcome> out(work->size());
  auto& client = worker->client();
  int failures_in_row = 0;
  for (std::size_t i = 0; i < work->size(); ++i) {
    const auto& w = (*work)[i];
    auto& o = out[i];
    std::optional<ef45::Error> err;
    std::string step;
    std::string duplicate;
    switch (w.op.kind) {
      case OpKind::kAdopt:
      case OpKind::kReportUnknown: o.ok = true; continue;
      case OpKind::kAdd:
        o.attempted = true;
        err = co_await Enroll(client, *limiter, *w.bundle, &duplicate);
        if (!err && duplicate.empty()) o.echoes = 1;
        if (err && err->reason() == Errc::kHttpStatus && err->http_status == 409) {
          // There already (our record of this reader was lost): update it in place.
          err.reset();
          if (auto e = co_await UpdateInPlace(client, *limiter, w, &o.echoes, &duplicate)) {
            err = e->error;
            step = e->step;
          }
        }
        break;
      case OpKind::kUpdate:
        o.attempted = true;
        if (auto e = co_await UpdateInPlace(client, *limiter, w, &o.echoes, &duplicate)) {
          err = e->error;
          step = e->step;
        }
        break;
      case OpKind::kDelete:
      case OpKind::kDeleteUnknown:
        o.attempted = true;
        err = co_await Remove(client, *limiter, w.op.user_uuid);
        break;
    }
    if (err) {
      o.error = step.empty() ? Describe(*err) : step + ": " + Describe(*err);
      o.transport = IsTransport(*err);
    } else if (!duplicate.empty()) {
      o.error = "the reader found a biometric duplicate: enrolled user " + duplicate;
    } else {
      o.ok = true;
    }
    failures_in_row = o.ok ? 0 : failures_in_row + 1;
    if (o.transport || failures_in_row >= kMaxFailuresInRow) {
      for (std::size_t j = i + 1; j < work->size(); ++j) {
        out[j].transport = true;
        out[j].error = "not attempted: " + o.error;
      }
      break;
    }
  }
  co_return out;
}

std::vector<std::string> Uuids(const std::vector<store::UserDataEvent>& events) {
  std::set<std::string> s;
  for (const auto& e : events) {
    if (!e.user_uuid.empty()) s.insert(e.user_uuid);
  }
  return {s.begin(), s.end()};
}

}  // namespace

/// One reader's reconciler. Everything but `strand`, `timer` and the status (under `mutex`) is
/// touched only from `strand`.
struct SyncManager::Reconciler {
  Reconciler(asio::any_io_executor ex, std::string device_id, int rate)
      : id(std::move(device_id)),
        strand(asio::make_strand(ex)),
        timer(strand),
        limiter(std::make_shared<RateLimiter>(rate)) {}

  std::string id;
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer timer;
  std::shared_ptr<RateLimiter> limiter;
  bool stop = false;
  bool dirty = true;
  std::atomic<bool> done{false};
  std::optional<store::TimePoint> watermark;
  std::map<std::string, Clock::time_point> unknown_first_seen;
  /// Known users whose reader copy changed at the reader (differs from what we applied), since.
  std::map<std::string, Clock::time_point> drift_first_seen;
  /// uuid -> (AddUsers log entries our enrolments will produce, when we last enrolled it).
  std::map<std::string, std::pair<int, Clock::time_point>> echoes;
  /// Users (uuid -> version, updated_at) an incremental round already handled: the overlap
  /// window returns them again and again.
  std::map<std::string, std::pair<std::int64_t, store::TimePoint>> handled;
  /// Users to push again whatever their version (the gateway won a conflict on this reader).
  std::set<std::string> force;

  mutable std::mutex mutex;
  ReaderSyncStatus status;
};

namespace {

using Reconciler = SyncManager::Reconciler;

struct Ctx {
  store::Database& db;
  const SyncOptions& options;
  SyncMetrics* metrics;
};

template <class F>
auto Blocking(store::Database& db, F fn) {
  return RunBlocking(db.BlockingPool(), std::move(fn));
}

ReaderView ViewOf(const poll::DeviceWorker& worker, std::optional<std::int32_t> record_version) {
  return ReaderView{worker.reader().groups, record_version};
}

/// Loads records, builds bundles, runs the ops on the reader in chunks, records the outcomes.
/// Returns the first transport error ("" if none).
asio::awaitable<std::string> Execute(Ctx ctx, std::shared_ptr<Reconciler> r,
                                     std::shared_ptr<poll::DeviceWorker> worker,
                                     std::vector<PlannedOp> ops,
                                     std::optional<std::int32_t> reader_rv) {
  constexpr std::size_t kChunk = 200;
  for (std::size_t begin = 0; begin < ops.size(); begin += kChunk) {
    std::size_t end = std::min(ops.size(), begin + kChunk);
    std::vector<std::string> to_load;
    for (std::size_t i = begin; i < end; ++i) {
      if (ops[i].kind == OpKind::kAdd || ops[i].kind == OpKind::kUpdate) {
        to_load.push_back(ops[i].user_uuid);
      }
    }
    std::map<std::string, store::StoredUser> loaded;
    if (!to_load.empty()) {
      store::Database* db = &ctx.db;
      auto fn = [db, to_load] { return store::UsersByUuidBlocking(*db, to_load); };
      auto rows = co_await Blocking(ctx.db, std::move(fn));
      if (!rows) co_return std::string("database: ") + std::string(ReasonName(rows.error()));
      for (auto& u : *rows) loaded.emplace(u.user_uuid, std::move(u));
    }
    auto work = std::make_shared<std::vector<OpWork>>();
    for (std::size_t i = begin; i < end; ++i) {
      OpWork w{ops[i], std::nullopt, std::nullopt, {}};
      if (w.op.kind == OpKind::kAdd || w.op.kind == OpKind::kUpdate) {
        auto it = loaded.find(w.op.user_uuid);
        if (it == loaded.end() || it->second.deleted) continue;  // changed meanwhile: next round
        std::string problem;
        auto doc = ParseUserDoc(it->second.user_uuid, it->second.record, &problem);
        if (!doc) {
          GW_LOG(kError, "sync") << r->id << ": stored user " << w.op.user_uuid
                                 << " is unreadable: " << problem;
          continue;
        }
        auto rv = TemplateVersion(*doc);
        if (rv && reader_rv && *rv != *reader_rv && HasTemplates(*doc)) {
          *doc = WithoutTemplates(std::move(*doc));
          w.note = "templates not pushed: record_version " + std::to_string(*rv) +
                   " differs from the reader's " + std::to_string(*reader_rv);
        }
        w.op.version = it->second.version;
        w.op.digest = Fingerprint(*doc);
        w.bundle = ToEnrollUser(*doc);
        w.doc = std::move(*doc);
      }
      work->push_back(std::move(w));
    }
    auto strand = worker->strand();
    auto task = RunOpsOnStrand(worker, r->limiter, work);
    auto outcomes = co_await asio::co_spawn(strand, std::move(task), asio::use_awaitable);

    std::vector<store::StateUpdate> updates;
    std::string transport_error;
    std::map<std::string, std::pair<double, double>> counts;  // op -> ok, failed
    auto now = Clock::now();
    for (std::size_t i = 0; i < work->size(); ++i) {
      const auto& w = (*work)[i];
      const auto& o = outcomes[i];
      if (o.attempted || !o.ok) {
        auto& c = counts[std::string(OpName(w.op.kind))];
        (o.ok ? c.first : c.second) += 1;
      }
      if (o.transport && transport_error.empty()) transport_error = o.error;
      if (w.op.kind == OpKind::kReportUnknown || w.op.kind == OpKind::kDeleteUnknown) continue;
      if (o.echoes > 0) {
        // Also after a partial in-place update: the parts written are ours, not a change made
        // at the reader for the importer to adopt.
        auto& echo = r->echoes[w.op.user_uuid];
        echo.first += o.echoes;
        echo.second = now;
      }
      store::StateUpdate u;
      u.user_uuid = w.op.user_uuid;
      if (o.ok) {
        u.status = "applied";
        u.applied_version = w.op.version;
        if (!w.op.digest.empty()) u.applied_digest = w.op.digest;
        if (!w.note.empty()) u.note = w.note;
      } else {
        u.status = "failed";
        u.error = o.error;
      }
      updates.push_back(std::move(u));
    }
    if (ctx.metrics) {
      for (const auto& [op, c] : counts) {
        if (c.first > 0) ctx.metrics->CountOperation(r->id, op, true, c.first);
        if (c.second > 0) ctx.metrics->CountOperation(r->id, op, false, c.second);
      }
    }
    if (!updates.empty()) {
      store::Database* db = &ctx.db;
      auto fn = [db, id = r->id, updates = std::move(updates)] {
        return store::RecordStatesBlocking(*db, id, updates);
      };
      auto rec = co_await Blocking(ctx.db, std::move(fn));
      if (!rec) co_return std::string("database: ") + std::string(ReasonName(rec.error()));
    }
    if (!transport_error.empty()) co_return transport_error;
    if (r->stop) co_return std::string("stopping");
  }
  co_return std::string();
}

asio::awaitable<Result<std::map<std::string, store::DeviceUserState>>> LoadStates(
    store::Database& db, std::string id) {
  store::Database* d = &db;
  auto fn = [d, id = std::move(id)] { return store::DeviceStatesOfBlocking(*d, id); };
  auto rows = co_await Blocking(db, std::move(fn));
  if (!rows) co_return rows.error();
  std::map<std::string, store::DeviceUserState> out;
  for (auto& s : *rows) out.emplace(s.user_uuid, std::move(s));
  co_return out;
}

asio::awaitable<std::set<std::string>> PendingImports(store::Database& db, std::string id) {
  store::Database* d = &db;
  auto fn = [d, id = std::move(id)]() -> Result<std::vector<store::UserDataEvent>> {
    auto cursor = store::ImportCursorBlocking(*d, id);
    if (!cursor) return cursor.error();
    return store::UserDataEventsBlocking(*d, id, *cursor, 100000);
  };
  auto events = co_await Blocking(db, std::move(fn));
  std::set<std::string> out;
  if (events) {
    for (auto& u : Uuids(*events)) out.insert(std::move(u));
  }
  co_return out;
}

struct FullInputs {
  std::vector<store::UserSummary> desired;
  std::map<std::string, store::DeviceUserState> states;
  std::map<std::string, std::string> actual;
  std::set<std::string> pending_import;
  std::optional<std::int32_t> record_version;
  std::string error;
};

asio::awaitable<FullInputs> GatherFull(Ctx ctx, std::shared_ptr<poll::DeviceWorker> worker,
                                       std::shared_ptr<RateLimiter> limiter) {
  FullInputs in;
  store::Database* db = &ctx.db;
  auto fn = [db] { return store::UserSummariesBlocking(*db, std::nullopt); };
  auto desired = co_await Blocking(ctx.db, std::move(fn));
  if (!desired) {
    in.error = "database: " + std::string(ReasonName(desired.error()));
    co_return in;
  }
  in.desired = std::move(*desired);
  auto states = co_await LoadStates(ctx.db, worker->id());
  if (!states) {
    in.error = "database: " + std::string(ReasonName(states.error()));
    co_return in;
  }
  in.states = std::move(*states);
  auto strand = worker->strand();
  auto task = ReadReaderOnStrand(worker, limiter, ctx.options.page_size);
  auto reader = co_await asio::co_spawn(strand, std::move(task), asio::use_awaitable);
  if (!reader.error.empty()) {
    in.error = reader.error;
    co_return in;
  }
  in.record_version = reader.record_version;
  for (const auto& [uuid, doc] : reader.users) in.actual.emplace(uuid, Fingerprint(doc));
  in.pending_import = co_await PendingImports(ctx.db, worker->id());
  co_return in;
}

void SetError(Reconciler& r, const std::string& error) {
  std::lock_guard lock(r.mutex);
  r.status.last_error = error;
}

asio::awaitable<bool> FullRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                std::shared_ptr<poll::DeviceWorker> worker) {
  auto in = co_await GatherFull(ctx, worker, r->limiter);
  if (!in.error.empty()) {
    SetError(*r, in.error);
    co_return false;
  }
  for (const auto& u : in.desired) {
    if (!r->watermark || u.updated_at > *r->watermark) r->watermark = u.updated_at;
  }
  // Unknown users ripen under mirror after the grace period.
  std::set<std::string> known;
  for (const auto& u : in.desired) known.insert(u.user_uuid);
  auto now = Clock::now();
  std::map<std::string, Clock::time_point> seen;
  std::set<std::string> ripe;
  for (const auto& [uuid, digest] : in.actual) {
    if (known.count(uuid)) continue;
    auto it = r->unknown_first_seen.find(uuid);
    auto first = it == r->unknown_first_seen.end() ? now : it->second;
    seen[uuid] = first;
    if (now - first >= ctx.options.unknown_grace) ripe.insert(uuid);
  }
  r->unknown_first_seen = std::move(seen);

  PlanInput pi;
  pi.desired = &in.desired;
  pi.states = &in.states;
  pi.actual = &in.actual;
  pi.reader = ViewOf(*worker, in.record_version);
  pi.policy = ctx.options.policy;
  pi.pending_import = &in.pending_import;
  pi.unknown_ripe = &ripe;
  auto plan = ComputePlan(pi);
  // A copy that differs from what we applied there was changed at the reader: its UserData log
  // entry may still be on its way to the importer, which decides by the conflict rule. Only a
  // difference that outlives the grace period (no log came: drift) is overwritten.
  std::map<std::string, Clock::time_point> drift;
  std::erase_if(plan.ops, [&](const PlannedOp& op) {
    if (op.kind != OpKind::kUpdate) return false;
    auto st = in.states.find(op.user_uuid);
    auto act = in.actual.find(op.user_uuid);
    if (st == in.states.end() || !st->second.applied_digest || act == in.actual.end() ||
        act->second == *st->second.applied_digest) {
      return false;
    }
    auto was = r->drift_first_seen.find(op.user_uuid);
    auto first = was == r->drift_first_seen.end() ? now : was->second;
    drift[op.user_uuid] = first;
    if (now - first >= ctx.options.unknown_grace) return false;
    ++plan.waiting_import;
    return true;
  });
  r->drift_first_seen = std::move(drift);
  {
    std::lock_guard lock(r->mutex);
    r->status.record_version = in.record_version;
    r->status.unknown_users.clear();
    r->status.unknown_count = 0;
    for (const auto& op : plan.ops) {
      if (op.kind != OpKind::kReportUnknown && op.kind != OpKind::kDeleteUnknown) continue;
      ++r->status.unknown_count;
      if (r->status.unknown_users.size() < 100) r->status.unknown_users.push_back(op.user_uuid);
    }
  }
  if (ctx.metrics) {
    ctx.metrics->SetUnknown(r->id, static_cast<double>(plan.Count(OpKind::kReportUnknown) +
                                                       plan.Count(OpKind::kDeleteUnknown)));
    ctx.metrics->SetTemplatesSkipped(r->id, static_cast<double>(plan.templates_skipped));
  }
  std::int64_t work =
      static_cast<std::int64_t>(plan.ops.size()) - plan.Count(OpKind::kReportUnknown);
  if (work > 0) {
    GW_LOG(kInfo, "sync") << r->id << ": full round: " << plan.Count(OpKind::kAdd) << " to add, "
                          << plan.Count(OpKind::kUpdate) << " to update, "
                          << plan.Count(OpKind::kDelete) + plan.Count(OpKind::kDeleteUnknown)
                          << " to delete, " << plan.Count(OpKind::kReportUnknown)
                          << " unknown kept, " << plan.in_sync << " in sync";
  }
  auto error = co_await Execute(ctx, r, worker, std::move(plan.ops), in.record_version);
  if (!error.empty()) {
    SetError(*r, error);
    co_return false;
  }
  std::lock_guard lock(r->mutex);
  r->status.last_error.clear();
  r->status.last_full_round = r->status.last_round = std::chrono::system_clock::now();
  co_return true;
}

/// Returns false on failure; `worked` tells whether anything was looked at.
asio::awaitable<bool> IncrementalRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                       std::shared_ptr<poll::DeviceWorker> worker, bool* worked) {
  *worked = false;
  std::optional<store::TimePoint> since;
  if (r->watermark) since = *r->watermark - kChangeOverlap;
  store::Database* db = &ctx.db;
  auto fn = [db, since] { return store::UserSummariesBlocking(*db, since); };
  auto changed = co_await Blocking(ctx.db, std::move(fn));
  if (!changed) {
    SetError(*r, "database: " + std::string(ReasonName(changed.error())));
    co_return false;
  }
  for (const auto& u : *changed) {
    if (!r->watermark || u.updated_at > *r->watermark) r->watermark = u.updated_at;
  }
  std::erase_if(*changed, [&](const store::UserSummary& u) {
    auto it = r->handled.find(u.user_uuid);
    return it != r->handled.end() && it->second.first == u.version && !r->force.count(u.user_uuid);
  });
  std::set<std::string> forced = std::move(r->force);
  r->force.clear();
  for (const auto& u : *changed) forced.erase(u.user_uuid);
  if (!forced.empty()) {
    std::vector<std::string> uuids(forced.begin(), forced.end());
    auto load = [db, uuids] { return store::UsersByUuidBlocking(*db, uuids); };
    auto rows = co_await Blocking(ctx.db, std::move(load));
    if (!rows) {
      r->force = std::move(forced);
      SetError(*r, "database: " + std::string(ReasonName(rows.error())));
      co_return false;
    }
    for (const auto& u : *rows) {
      changed->push_back(store::UserSummary{u.user_uuid, u.version, u.deleted, u.digest,
                                            u.digest_no_templates, u.record_version, u.groups,
                                            u.updated_at});
    }
  }
  if (r->watermark) {
    auto horizon = *r->watermark - 2 * kChangeOverlap;
    std::erase_if(r->handled, [&](const auto& kv) { return kv.second.second < horizon; });
  }
  if (changed->empty()) co_return true;
  auto states = co_await LoadStates(ctx.db, r->id);
  if (!states) {
    SetError(*r, "database: " + std::string(ReasonName(states.error())));
    co_return false;
  }
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
  pi.retry_failed = false;
  auto plan = ComputePlan(pi);
  auto remember = [&] {
    for (const auto& u : *changed) r->handled[u.user_uuid] = {u.version, u.updated_at};
  };
  if (plan.ops.empty()) {
    remember();
    co_return true;
  }
  *worked = true;
  auto error = co_await Execute(ctx, r, worker, std::move(plan.ops), rv);
  if (!error.empty()) {
    SetError(*r, error);
    co_return false;
  }
  remember();
  std::lock_guard lock(r->mutex);
  r->status.last_error.clear();
  r->status.last_round = std::chrono::system_clock::now();
  co_return true;
}

/// Moves the import cursor of reader `id` from `from` to `seq` (nothing when it did not move).
asio::awaitable<bool> SaveCursor(store::Database& db, std::string id, std::int64_t from,
                                 std::int64_t seq) {
  if (seq <= from) co_return true;
  store::Database* d = &db;
  auto set = [d, id = std::move(id), seq] { return store::SetImportCursorBlocking(*d, id, seq); };
  auto ok = co_await Blocking(db, std::move(set));
  co_return static_cast<bool>(ok);
}

/// Imports changes made at the reader (its UserData log entries after the import cursor).
/// Returns false on a reader or database failure (the cursor stays before the failed event);
/// `imported` is set when a canonical user changed.
asio::awaitable<bool> ImportPass(Ctx ctx, std::shared_ptr<Reconciler> r,
                                 std::shared_ptr<poll::DeviceWorker> worker, bool* imported) {
  *imported = false;
  store::Database* db = &ctx.db;
  auto fn = [db,
             id = r->id]() -> Result<std::pair<std::int64_t, std::vector<store::UserDataEvent>>> {
    auto cursor = store::ImportCursorBlocking(*db, id);
    if (!cursor) return cursor.error();
    auto events = store::UserDataEventsBlocking(*db, id, *cursor, kImportBatch);
    if (!events) return events.error();
    return std::make_pair(*cursor, std::move(*events));
  };
  auto batch = co_await Blocking(ctx.db, std::move(fn));
  if (!batch) {
    SetError(*r, "database: " + std::string(ReasonName(batch.error())));
    co_return false;
  }
  auto& events = batch->second;
  if (events.empty()) co_return true;

  // The newest event per user decides; deletions at a reader are not imported (the gateway's
  // record stands and the next full round puts the user back).
  std::map<std::string, const store::UserDataEvent*> last;
  std::map<std::string, int> changes;  // AddUsers / UpdateUsers entries per user
  for (const auto& e : events) {
    if (e.user_uuid.empty()) continue;
    last[e.user_uuid] = &e;
    if (e.info == "AddUsers" || e.info == "UpdateUsers") ++changes[e.user_uuid];
  }
  std::optional<std::int32_t> rv = worker->Snapshot().record_version;
  std::int64_t done_seq = batch->first;
  const std::int64_t start_seq = batch->first;
  auto now = Clock::now();
  for (const auto& e : events) {
    auto it = last.find(e.user_uuid);
    bool decisive = it != last.end() && it->second == &e;
    bool change = e.info == "AddUsers" || e.info == "UpdateUsers";
    if (!decisive || !change) {
      done_seq = e.seq;
      continue;
    }
    // Our own enrolments coming back as the reader's log entries: nothing to import. Any
    // entry beyond those is a change at the reader: read the user back and compare.
    if (auto echo = r->echoes.find(e.user_uuid); echo != r->echoes.end()) {
      int n = changes[e.user_uuid];
      bool ours = now - echo->second.second < kEchoExpiry && echo->second.first >= n;
      if (ours) echo->second.first -= n;
      if (!ours || echo->second.first == 0) r->echoes.erase(echo);
      if (ours) {
        done_seq = e.seq;
        continue;
      }
    }
    auto strand = worker->strand();
    auto task = ReadUserOnStrand(worker, r->limiter, e.user_uuid);
    auto read = co_await asio::co_spawn(strand, std::move(task), asio::use_awaitable);
    if (ctx.metrics) ctx.metrics->CountOperation(r->id, "import", read.error.empty());
    if (!read.error.empty()) {
      SetError(*r, read.error);
      co_await SaveCursor(ctx.db, r->id, start_seq, done_seq);
      co_return false;
    }
    if (!read.doc) {  // gone again meanwhile
      done_seq = e.seq;
      continue;
    }
    std::string reader_print = Fingerprint(*read.doc);
    bool retry = true;
    for (int attempt = 0; attempt < 3 && retry; ++attempt) {
      retry = false;
      auto get = [db, u = e.user_uuid]() -> Result<std::pair<std::optional<store::StoredUser>,
                                                             std::vector<store::DeviceUserState>>> {
        auto user = store::GetUserBlocking(*db, u);
        if (!user) return user.error();
        auto states = store::UserStatesBlocking(*db, u);
        if (!states) return states.error();
        return std::make_pair(std::move(*user), std::move(*states));
      };
      auto current = co_await Blocking(ctx.db, std::move(get));
      if (!current) {
        SetError(*r, "database: " + std::string(ReasonName(current.error())));
        co_await SaveCursor(ctx.db, r->id, start_seq, done_seq);
        co_return false;
      }
      const auto& user = current->first;
      const store::DeviceUserState* state = nullptr;
      for (const auto& s : current->second) {
        if (s.device_id == r->id) state = &s;
      }
      store::ImportWrite w;
      w.device_id = r->id;
      w.user_uuid = e.user_uuid;
      w.source_seq = e.seq;
      w.applied_digest = reader_print;
      UserDoc incoming = *read.doc;
      if (user) {
        w.expected_version = user->version;
        store::UserSummary summary{
            user->user_uuid,           user->version,        user->deleted, user->digest,
            user->digest_no_templates, user->record_version, user->groups,  user->updated_at};
        auto expected = ExpectedDigest(summary, ReaderView{{}, rv}).first;
        if (!user->deleted && expected == reader_print) {
          if (state && state->status == "applied" && state->applied_version == user->version) {
            break;  // in sync
          }
          // The reader already holds the current version: record it.
        } else if (state && state->applied_digest && *state->applied_digest == reader_print) {
          break;  // what we pushed earlier: our own change
        } else if (user->updated_at >= e.occurred_at) {
          // Newest wins; a tie goes to the gateway. The reader gets the gateway's record back.
          w.applied_digest.reset();
          w.conflict_info = "GatewayWins";
          w.conflict_detail = "reader change at " +
                              std::to_string(e.occurred_at.time_since_epoch().count()) +
                              "us lost to gateway version " + std::to_string(user->version);
        } else {
          // The reader's change is newer: it becomes the next version (cards and groups, which a
          // reader cannot report, are kept).
          std::string problem;
          auto stored = ParseUserDoc(user->user_uuid, user->record, &problem);
          if (stored) {
            incoming.cards = stored->cards;
            incoming.groups = stored->groups;
          }
          bool gateway_change_lost =
              !user->deleted && (!state || state->applied_version != user->version);
          if (gateway_change_lost) {
            w.conflict_info = "ReaderWins";
            w.conflict_detail = "gateway version " + std::to_string(user->version) +
                                " lost to a newer change at the reader";
          }
          w.user.emplace();
        }
      } else {
        w.user.emplace();
      }
      if (w.user) {
        w.user->user_uuid = incoming.user_uuid;
        w.user->record = ToRecordJson(incoming);
        w.user->digest = Fingerprint(incoming);
        w.user->digest_no_templates = Fingerprint(WithoutTemplates(incoming));
        w.user->record_version = TemplateVersion(incoming);
        w.user->groups = incoming.groups;
        w.user->cards = AllCards(incoming);
        w.user->source = "device:" + r->id;
      }
      auto imp = [db, w] { return store::ImportUserBlocking(*db, w); };
      auto result = co_await Blocking(ctx.db, std::move(imp));
      if (!result && result.error() == Errc::kConflict) {
        retry = true;
        continue;
      }
      if (!result) {
        SetError(*r, "database: " + std::string(ReasonName(result.error())));
        co_await SaveCursor(ctx.db, r->id, start_seq, done_seq);
        co_return false;
      }
      if (w.user) {
        *imported = true;
        GW_LOG(kInfo, "sync") << r->id << ": imported user " << log::Cut(e.user_uuid)
                              << " (version " << *result << ")";
      }
      if (w.conflict_info) {
        GW_LOG(kInfo, "sync") << r->id << ": conflict on user " << log::Cut(e.user_uuid) << ": "
                              << log::Cut(*w.conflict_info);
        if (*w.conflict_info == "GatewayWins") {
          // Make the next rounds push the gateway's record back to this reader.
          store::StateUpdate u{e.user_uuid,
                               "pending",
                               std::nullopt,
                               reader_print,
                               std::string("conflict: the gateway's newer version wins"),
                               std::nullopt};
          auto rec = [db, id = r->id, u] { return store::RecordStatesBlocking(*db, id, {u}); };
          co_await Blocking(ctx.db, std::move(rec));
          r->force.insert(e.user_uuid);
          r->dirty = true;
        }
      }
    }
    done_seq = e.seq;
  }
  co_return co_await SaveCursor(ctx.db, r->id, start_seq, done_seq);
}

asio::awaitable<void> RefreshCounts(Ctx ctx, std::shared_ptr<Reconciler> r,
                                    std::vector<std::string> groups) {
  if (!ctx.metrics) co_return;
  store::Database* db = &ctx.db;
  auto fn = [db, id = r->id, groups = std::move(groups)] {
    return store::SyncCountsBlocking(*db, id, groups);
  };
  auto counts = co_await Blocking(ctx.db, std::move(fn));
  if (counts) {
    ctx.metrics->SetCounts(r->id, static_cast<double>(counts->applied),
                           static_cast<double>(counts->pending),
                           static_cast<double>(counts->failed));
  }
}

}  // namespace

namespace {

asio::awaitable<void> RunReconciler(Ctx ctx, poll::WorkerSet& workers,
                                    std::shared_ptr<Reconciler> r,
                                    std::function<void()> notify_all) {
  const auto& o = ctx.options;
  auto now = Clock::now();
  bool full_due = true;
  Clock::time_point next_full = now, next_inventory = now, next_change = now, retry_at = now;
  milliseconds backoff{0};
  std::optional<std::uint64_t> last_events;
  poll::ReaderState last_state = poll::ReaderState::kUp;
  if (ctx.metrics) ctx.metrics->SetCounts(r->id, 0, 0, 0);
  if (ctx.metrics) ctx.metrics->SetUnknown(r->id, 0);
  while (!r->stop) {
    auto worker = workers.Find(r->id);
    if (!worker) break;
    auto snap = worker->Snapshot();
    now = Clock::now();
    if (snap.state == poll::ReaderState::kUp && last_state != poll::ReaderState::kUp) {
      full_due = true;  // back (or first seen up): compare everything
      retry_at = now;
    }
    last_state = snap.state;
    if (now >= retry_at) {
      bool ok = true;
      bool refresh = false;
      if (!last_events || *last_events != snap.events_committed || now >= next_inventory) {
        bool imported = false;
        ok = co_await ImportPass(ctx, r, worker, &imported);
        if (ok) {
          last_events = snap.events_committed;
          next_inventory = now + o.inventory;
        }
        if (imported) notify_all();
      }
      bool full = false;
      if (ok && (full_due || now >= next_full)) {
        full = true;
        ok = co_await FullRound(ctx, r, worker);
        if (!ok && !r->stop) {
          // The reader could not be compared: still try the changed users, so that their
          // status shows the reader's answer (and a reader that only fails reads gets them).
          bool worked = false;
          co_await IncrementalRound(ctx, r, worker, &worked);
        }
        if (ok) {
          full_due = false;
          next_full = Clock::now() + o.audit;
          next_change = Clock::now() + o.change_poll;
          r->dirty = false;
        }
        refresh = true;
        if (ctx.metrics) ctx.metrics->CountRound(r->id, true, ok);
      } else if (ok && (r->dirty || now >= next_change)) {
        r->dirty = false;
        bool worked = false;
        ok = co_await IncrementalRound(ctx, r, worker, &worked);
        next_change = Clock::now() + o.change_poll;
        refresh = worked || !ok;
        if (ctx.metrics && refresh) ctx.metrics->CountRound(r->id, false, ok);
      }
      if (!ok) {
        full_due = true;
        backoff = std::min(milliseconds(30000), std::max(milliseconds(1000), backoff * 2));
        retry_at = Clock::now() + backoff;
        std::string error;
        {
          std::lock_guard lock(r->mutex);
          error = r->status.last_error;
        }
        GW_LOG(kWarn, "sync") << r->id << ": round failed (" << log::Cut(error) << "); retry in "
                              << backoff.count() << " ms" << (full ? "" : "");
      } else {
        backoff = milliseconds(0);
      }
      if (refresh) co_await RefreshCounts(ctx, r, worker->reader().groups);
    }
    worker.reset();
    now = Clock::now();
    if (r->stop) break;
    if (r->dirty && now >= retry_at) continue;
    auto wake = std::min({next_change, next_full, next_inventory, now + std::chrono::seconds(1)});
    if (retry_at > now) wake = std::max(wake, std::min(retry_at, now + std::chrono::seconds(1)));
    r->timer.expires_at(wake);
    co_await r->timer.async_wait(kTuple);
  }
  if (ctx.metrics) ctx.metrics->RemoveReader(r->id);
  r->done = true;
}

}  // namespace

SyncManager::SyncManager(asio::any_io_executor executor, store::Database& db,
                         poll::WorkerSet& workers, SyncOptions options, SyncMetrics* metrics)
    : executor_(std::move(executor)),
      db_(db),
      workers_(workers),
      options_(std::move(options)),
      metrics_(metrics) {}

SyncManager::~SyncManager() = default;

void SyncManager::Start() {
  {
    std::lock_guard lock(mutex_);
    supervisor_done_ = false;
  }
  asio::co_spawn(executor_, Supervise(), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        GW_LOG(kError, "sync") << "supervisor failed: " << ex.what();
      }
    }
    std::lock_guard lock(mutex_);
    supervisor_done_ = true;
  });
}

asio::awaitable<void> SyncManager::Supervise() {
  asio::steady_timer timer(executor_);
  Ctx ctx{db_, options_, metrics_};
  while (true) {
    std::vector<std::shared_ptr<Reconciler>> start;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      std::set<std::string> ids;
      for (const auto& s : workers_.Snapshots()) ids.insert(s.id);
      for (auto it = reconcilers_.begin(); it != reconcilers_.end();) {
        if (it->second->done) {
          it = reconcilers_.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& id : ids) {
        if (reconcilers_.count(id)) continue;
        auto r = std::make_shared<Reconciler>(executor_, id, options_.max_ops_per_second);
        r->status.device_id = id;
        reconcilers_.emplace(id, r);
        start.push_back(r);
      }
    }
    for (auto& r : start) {
      auto task = RunReconciler(ctx, workers_, r, [this] { NotifyUsersChanged(); });
      asio::co_spawn(r->strand, std::move(task), [r](std::exception_ptr e) {
        r->done = true;
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          GW_LOG(kError, "sync") << r->id << ": reconciler failed: " << ex.what();
        }
      });
    }
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(kTuple);
  }
}

asio::awaitable<void> SyncManager::Stop() {
  std::vector<std::shared_ptr<Reconciler>> all;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, r] : reconcilers_) all.push_back(r);
  }
  for (auto& r : all) {
    asio::post(r->strand, [r] {
      r->stop = true;
      r->timer.cancel();
    });
  }
  asio::steady_timer timer(executor_);
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    bool busy = false;
    for (auto& r : all) busy = busy || !r->done;
    {
      std::lock_guard lock(mutex_);
      busy = busy || !supervisor_done_;
    }
    if (!busy) break;
    timer.expires_after(milliseconds(20));
    co_await timer.async_wait(kTuple);
  }
}

void SyncManager::NotifyUsersChanged() {
  std::lock_guard lock(mutex_);
  for (auto& [id, r] : reconcilers_) {
    asio::post(r->strand, [r] {
      r->dirty = true;
      r->timer.cancel();
    });
  }
}

std::vector<ReaderSyncStatus> SyncManager::Status() const {
  std::vector<ReaderSyncStatus> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, r] : reconcilers_) {
    std::lock_guard l(r->mutex);
    out.push_back(r->status);
  }
  return out;
}

asio::awaitable<Result<PlanReport>> SyncManager::DryRun(std::string device_id) {
  auto worker = workers_.Find(device_id);
  if (!worker) co_return boost::system::error_code(Errc::kNotFound);
  Ctx ctx{db_, options_, metrics_};
  auto limiter = std::make_shared<RateLimiter>(options_.max_ops_per_second);
  auto in = co_await GatherFull(ctx, worker, limiter);
  if (in.error.rfind("database", 0) == 0) co_return boost::system::error_code(Errc::kDbUnavailable);
  if (!in.error.empty()) {
    PlanReport failed;
    failed.device_id = device_id;
    failed.error = in.error;
    co_return failed;
  }
  PlanInput pi;
  pi.desired = &in.desired;
  pi.states = &in.states;
  pi.actual = &in.actual;
  pi.reader = ViewOf(*worker, in.record_version);
  pi.policy = options_.policy;
  pi.pending_import = &in.pending_import;
  PlanReport report;
  report.device_id = device_id;
  report.plan = ComputePlan(pi);
  report.reader_users = static_cast<std::int64_t>(in.actual.size());
  report.record_version = in.record_version;
  co_return report;
}

}  // namespace gw::sync
