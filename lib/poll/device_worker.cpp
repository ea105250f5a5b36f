#include "poll/device_worker.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <functional>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "common/strand.hpp"
#include "common/task_failure.hpp"
#include "metrics/poll_metrics.hpp"
#include "poll/convert.hpp"
#include "poll/tick.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/queries.hpp"
#include "store/reader_locks.hpp"

namespace gw::poll {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

Micros Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

double UnixSeconds(Micros t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// The lock is on record before it is used (DESIGN.md invariant 8): a crash right after this
// leaves a lock the next start recognises as its own.
asio::awaitable<ef45::Reply<void>> RecordLock(store::Database* db, std::string device_id,
                                              store::ReaderLock lock) {
  auto recorded = co_await store::RecordReaderLock(*db, std::move(device_id), std::move(lock));
  if (!recorded) co_return ef45::MakeError(Classify(recorded.error()), recorded.error().message());
  co_return ef45::Reply<void>{};
}

ef45::ClientOptions ClientOptionsFor(const config::ReaderConfig& reader, store::Database& db) {
  ef45::ClientOptions o;
  o.on_lock_acquired = [db = &db, id = reader.id, host = reader.host,
                        port = reader.port](std::string uid) {
    return RecordLock(db, id, store::ReaderLock{std::move(uid), host, port});
  };
  o.host = reader.host;
  o.port = reader.port;
  o.request_timeout = reader.polling.timeout;
  o.lock_policy = reader.lock.on_conflict == config::OnConflict::kSteal ? ef45::LockPolicy::kSteal
                                                                        : ef45::LockPolicy::kWait;
  o.lock_wait = milliseconds(0);  // the worker retries on its own schedule (lock.retry_ms)
  return o;
}

std::uint64_t SeedFor(const std::string& id) { return std::hash<std::string>{}(id) | 1; }

// A match or logs poll that handed the writer more events than this (or a full page of logs)
// may have more behind it: the next one waits for a backlog slot (FetchGate) before fetching.
constexpr std::size_t kOrdinaryPollEvents = 16;

// An idle logs poll (nothing new) asks the reader for its newest log id every this many logs
// intervals (10 s at the default 2 s), not every time.
constexpr int kIdleResetChecks = 5;

// The gap reason of a log entry too large for the client's page limit (counted as quarantined).
constexpr const char* kTooLargeGap = "log entry larger than the client's page limit";

}  // namespace

DeviceWorker::DeviceWorker(asio::any_io_executor executor, WorkerDeps deps,
                           config::ReaderConfig reader)
    : strand_(deps.one_thread ? executor : MakeStrand(executor)),
      deps_(deps),
      reader_(std::move(reader)),
      client_(std::make_unique<ef45::Client>(strand_, ClientOptionsFor(reader_, deps_.db))),
      timer_(strand_),
      backoff_(milliseconds(std::min<std::int64_t>(reader_.polling.door.count(), 1000)),
               reader_.polling.backoff_max, SeedFor(reader_.id)) {
  if (deps_.metrics) {
    metrics_ = std::make_unique<metrics::ReaderMetrics>(*deps_.metrics, reader_.id);
    metrics_->SetState("down", "starting", "unknown", false);
  }
  snapshot_.id = reader_.id;
  snapshot_.host = reader_.host;
  snapshot_.port = reader_.port;
  snapshot_.reason = health_.reason();
}

DeviceWorker::~DeviceWorker() = default;

bool DeviceWorker::OnStrand() const { return RunningInThisThread(strand_); }

void DeviceWorker::Start() {
  asio::dispatch(strand_, [this] {
    if (started_) return;
    started_ = true;
    running_.Add();
    asio::co_spawn(strand_, Loop(), [this](std::exception_ptr e) {
      ReportTaskFailure("poll", "poller", e, reader_.id);
      finished_ = true;
      running_.Done();
    });
  });
}

asio::awaitable<void> DeviceWorker::Stop(milliseconds deadline) {
  // On the strand for the whole of it: `co_await dispatch(strand_, use_awaitable)` would resume
  // on the caller's executor, and with io_threads > 1 touch the strand's state from another
  // thread meanwhile.
  co_await asio::co_spawn(strand_, StopOnStrand(deadline), asio::use_awaitable);
}

asio::awaitable<void> DeviceWorker::StopOnStrand(milliseconds deadline) {
  stopping_ = true;
  timer_.cancel();
  if (gate_wait_) FetchGate::Cancel(gate_wait_);
  if (!started_ || finished_) co_return;
  // The loop ends after the request or commit in flight; past the deadline, cut the connection.
  asio::steady_timer limit(strand_);
  limit.expires_after(deadline);
  limit.async_wait([this](boost::system::error_code ec) {
    if (!ec && !finished_) client_->Close();
  });
  co_await running_.Wait();
  limit.cancel();
}

ReaderSnapshot DeviceWorker::Snapshot() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

DeviceWorker::SyncView DeviceWorker::Sync() const {
  std::lock_guard lock(snapshot_mutex_);
  return {snapshot_.state, snapshot_.user_data_committed};
}

void DeviceWorker::SetSyncListener(std::function<void()> listener) {
  std::lock_guard lock(snapshot_mutex_);
  sync_listener_ = std::move(listener);
}

// ---- firmware rollout (issue 20): maintenance state ----
std::string DeviceWorker::StateLabel() const {
  return maintenance_ ? "maintenance" : std::string(ReaderStateName(health_.state()));
}

void DeviceWorker::SetMaintenance(bool on) {
  if (maintenance_.exchange(on) == on) return;
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.maintenance = on;
  if (metrics_) {
    metrics_->SetState(on ? "maintenance" : std::string(ReaderStateName(snapshot_.state)),
                       snapshot_.reason, snapshot_.lock_holder,
                       snapshot_.state != ReaderState::kDown);
  }
}
// ---- end firmware rollout ----

milliseconds DeviceWorker::Interval(PollKind kind) const {
  switch (kind) {
    case PollKind::kDoor: return reader_.polling.door;
    case PollKind::kMatch: return reader_.polling.match;
    case PollKind::kLogs: return reader_.polling.logs;
    case PollKind::kHealth: return reader_.polling.health;
    case PollKind::kSession: return reader_.lock.retry;
  }
  return reader_.polling.door;
}

std::string DeviceWorker::Failure::reason() const {
  return std::string(ReasonName(make_error_code(code)));
}

DeviceWorker::Failure DeviceWorker::FromReply(PollKind kind, const ef45::Error& error) const {
  auto reason = error.reason();
  // A lock conflict is a session problem whatever call met it.
  PollKind k =
      (reason == Errc::kLockConflict || reason == Errc::kLockLost) ? PollKind::kSession : kind;
  return Failure{k, reason, IsTransport(reason), error.detail};
}

void DeviceWorker::Record(PollKind kind, const Outcome& outcome, SteadyClock::duration took) {
  auto now = Now();
  bool changed = false;
  if (metrics_) {
    metrics_->ObservePoll(static_cast<std::size_t>(kind),
                          std::chrono::duration<double>(took).count());
  }
  if (!outcome) {
    changed = health_.RecordSuccess(kind, now);
    if (metrics_) metrics_->SetLastSuccess(UnixSeconds(now));
  } else {
    const auto reason = outcome->reason();
    changed = health_.RecordFailure(outcome->kind, reason, now);
    if (metrics_) metrics_->CountError(static_cast<std::size_t>(outcome->kind), reason);
  }
  std::function<void()> notify;  // the state moved: user sync looks at the reader again
  {
    std::lock_guard lock(snapshot_mutex_);
    if (snapshot_.state != health_.state()) notify = sync_listener_;
    snapshot_.state = health_.state();
    snapshot_.reason = health_.reason();
    if (!outcome)
      snapshot_.last_success = now;
    else
      snapshot_.last_failure = now;
    snapshot_.lock_held = !client_->lock_uid().empty();
    snapshot_.lock_holder = std::string(ef45::LockHolderName(client_->lock_holder()));
  }
  if (notify) notify();
  if (client_->lock_holder() != lock_holder_) {
    lock_holder_ = client_->lock_holder();
    if (metrics_ && !changed) {
      metrics_->SetState(StateLabel(), health_.reason(),
                         std::string(ef45::LockHolderName(lock_holder_)),
                         health_.state() != ReaderState::kDown);
    }
  }
  if (changed) {
    auto state = StateLabel();
    if (metrics_) {
      metrics_->SetState(state, health_.reason(), std::string(ef45::LockHolderName(lock_holder_)),
                         health_.state() != ReaderState::kDown);
    }
    long suppressed = 0;
    if (log_limit_.Allow(suppressed)) {
      auto line = GW_LOG_ENABLED(kInfo);
      if (line) {
        log::Line(health_.state() == ReaderState::kUp ? log::Level::kInfo : log::Level::kWarn,
                  "poll")
            << reader_.id << " (" << reader_.host << ":" << reader_.port << ") is " << state
            << (health_.reason().empty() ? "" : ": " + health_.reason())
            << (outcome && !outcome->detail.empty() ? " (" + log::Cut(outcome->detail) + ")" : "")
            << (suppressed ? " [" + std::to_string(suppressed) + " similar lines suppressed]" : "");
      }
    }
  }
}

asio::awaitable<bool> DeviceWorker::LoadState() {
  // The cursor decides what "new" means: without it nothing can be polled safely.
  while (!stopping_) {
    auto states = co_await store::DeviceStates(deps_.db, reader_.id);
    // (No co_await inside a conditional expression: g++ 12 miscompiles it.)
    Result<std::optional<store::ReaderLock>> recorded = std::optional<store::ReaderLock>{};
    if (states) recorded = co_await store::ReadReaderLock(deps_.db, reader_.id);
    if (states && recorded) {
      // Only on the reader that granted it: a changed address is another reader.
      if (*recorded && (*recorded)->host == reader_.host && (*recorded)->port == reader_.port) {
        recorded_lock_ = (*recorded)->lock_uid;
      }
      if (!states->empty()) {
        const auto& s = states->front();
        if (s.cursor) cursor_ = *s.cursor;
        if (s.door) {
          door_ = ef45::DoorStatus{s.door->door_sensor, s.door->relay, s.door->tamper, s.door->rte};
        }
        std::lock_guard lock(snapshot_mutex_);
        snapshot_.last_seq = s.last_seq;
      }
      std::lock_guard lock(snapshot_mutex_);
      snapshot_.cursor = cursor_;
      snapshot_.cursor_loaded = true;
      snapshot_.door = door_;
      co_return true;
    }
    Record(PollKind::kSession, Failure{PollKind::kSession, Errc::kDbUnavailable, true, ""},
           SteadyClock::duration::zero());
    timer_.expires_after(backoff_.Next());
    co_await timer_.async_wait(kTuple);
  }
  co_return false;
}

asio::awaitable<void> DeviceWorker::Loop() {
  if (!co_await LoadState()) co_return;
  backoff_.Reset();
  if (metrics_) metrics_->SetCursor(static_cast<double>(cursor_.last_log_id));
  ScheduleFirstPolls();
  while (!stopping_) {
    if (!recorded_lock_.empty() && !co_await SettleRecordedLock()) continue;
    const std::size_t next = NextDue();
    if (due_[next] > SteadyClock::now()) {
      timer_.expires_at(OnTick(due_[next]));
      co_await timer_.async_wait(kTuple);
      continue;
    }
    if (!co_await RunPoll(static_cast<PollKind>(next))) break;
  }
  co_await ReleaseReader();
}

void DeviceWorker::ScheduleFirstPolls() {
  auto now = SteadyClock::now();
  for (auto kind : {PollKind::kDoor, PollKind::kMatch, PollKind::kLogs}) {
    due_[static_cast<std::size_t>(kind)] = now + backoff_.Spread(Interval(kind));
  }
  // Health first: it learns the reader's version and newest log id (backlog) right away.
  due_[static_cast<std::size_t>(PollKind::kHealth)] = now;
  due_[static_cast<std::size_t>(PollKind::kSession)] = SteadyClock::time_point::max();
  // What the reader buffered while nobody polled it is not known yet.
  may_be_large_[static_cast<std::size_t>(PollKind::kMatch)] = true;
  may_be_large_[static_cast<std::size_t>(PollKind::kLogs)] = true;
}

asio::awaitable<bool> DeviceWorker::SettleRecordedLock() {
  // Before anything takes a lock: the one we were granted before a restart (or a previous
  // owner in the cluster) may still be ours. Retried until the reader answers either way.
  auto start = SteadyClock::now();
  auto outcome = co_await ResumeRecordedLock();
  if (stopping_) co_return false;
  if (!outcome) co_return true;
  Record(PollKind::kSession, outcome, SteadyClock::now() - start);
  timer_.expires_after(backoff_.Next());
  co_await timer_.async_wait(kTuple);
  co_return false;
}

std::size_t DeviceWorker::NextDue() const {
  // The earliest due poll runs next; ties go to the cheaper, more frequent kinds.
  std::size_t next = 1;
  for (std::size_t k = 1; k < kPollKinds; ++k) {
    if (due_[k] < due_[next]) next = k;
  }
  return next;
}

asio::awaitable<bool> DeviceWorker::RunPoll(PollKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  // A poll that may bring a backlog waits for one of the fleet's backlog slots before it
  // fetches, and holds it until its batch is committed (FetchGate). The wait counts as late.
  const bool fetches = kind == PollKind::kMatch || kind == PollKind::kLogs;
  FetchGate::Slot slot;
  if (deps_.gate && fetches && may_be_large_[index]) {
    slot = co_await deps_.gate->Acquire(strand_, &gate_wait_);
    if (!slot) co_return !stopping_;  // only Stop cancels the wait
  }
  auto start = SteadyClock::now();
  if (metrics_) {
    metrics_->ObserveLateness(index, std::chrono::duration<double>(start - due_[index]).count());
  }
  last_batch_events_ = 0;
  bool more = false;
  Outcome outcome;
  switch (kind) {
    case PollKind::kDoor: outcome = co_await PollDoor(); break;
    case PollKind::kMatch: outcome = co_await PollMatch(); break;
    case PollKind::kLogs: outcome = co_await PollLogs(more); break;
    case PollKind::kHealth: outcome = co_await PollHealth(); break;
    case PollKind::kSession: break;
  }
  auto end = SteadyClock::now();
  if (stopping_ && outcome && outcome->code == Errc::kCancelled) co_return false;
  if (fetches && !outcome) {
    may_be_large_[index] = more || last_batch_events_ > kOrdinaryPollEvents;
  } else if (outcome && outcome->transport) {
    // The reader buffers while it cannot be reached: the next fetches may bring all of it.
    may_be_large_[static_cast<std::size_t>(PollKind::kMatch)] = true;
    may_be_large_[static_cast<std::size_t>(PollKind::kLogs)] = true;
  }
  Record(kind, outcome, end - start);
  Reschedule(kind, outcome, more, end);
  co_return true;
}

void DeviceWorker::Reschedule(PollKind kind, const Outcome& outcome, bool more,
                              SteadyClock::time_point end) {
  const auto index = static_cast<std::size_t>(kind);
  if (!outcome) {
    backoff_.Reset();
    // Keep the cadence (start-to-start), but never schedule into the past after a slow poll.
    due_[index] = more ? end : std::max(due_[index] + Interval(kind), end);
    return;
  }
  // Another client holds the lock: ask again every lock.retry_ms, as documented, not on a
  // growing backoff: the reader answers, and its lock may be released at any moment.
  const bool held_elsewhere =
      outcome->code == Errc::kLockConflict || outcome->code == Errc::kLockLost;
  auto delay = held_elsewhere ? reader_.lock.retry : backoff_.Next();
  if (outcome->transport) {
    for (std::size_t k = 1; k < kPollKinds; ++k) due_[k] = std::max(due_[k], end + delay);
  } else {
    due_[index] = end + std::max(Interval(kind), delay);
  }
}

asio::awaitable<void> DeviceWorker::ReleaseReader() {
  // Release the reader for whoever comes next (another gateway, a technician's tool). Retiring
  // the client first means whoever else holds this worker (an API operation, user sync) cannot
  // take the lock back meanwhile; a call of theirs in flight finishes, and whatever lock the
  // client holds by then is the one released.
  auto released = co_await client_->Retire();
  if (!released) {
    GW_LOG(kWarn, "poll") << reader_.id
                          << ": could not release the lock: " << log::Cut(released.error().detail);
  } else if (!released->empty()) {
    if (auto forgot = co_await store::ForgetReaderLock(deps_.db, reader_.id, *released); !forgot) {
      // Harmless: the next start tries the released uid, the reader refuses it, and a new lock
      // is taken as usual.
      GW_LOG(kDebug, "poll") << reader_.id << ": released lock still on record";
    }
  }
  // The reader is no longer polled here: its series go now, not when the last holder of this
  // worker lets go (a scrape must never show two instances polling one reader).
  metrics_.reset();
  health_.MarkStopped("stopped");
  std::function<void()> notify;
  {
    std::lock_guard lock(snapshot_mutex_);
    if (snapshot_.state != health_.state()) notify = sync_listener_;
    snapshot_.state = health_.state();
    snapshot_.reason = health_.reason();
    snapshot_.lock_held = !client_->lock_uid().empty();
  }
  if (notify) notify();
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::ResumeRecordedLock() {
  auto resumed = co_await client_->ResumeLock(recorded_lock_);
  if (!resumed) co_return FromReply(PollKind::kSession, resumed.error());
  if (*resumed) {
    GW_LOG(kInfo, "poll") << reader_.id << ": resumed the lock this gateway recorded";
    if (metrics_) metrics_->CountLockResumed();
  }
  recorded_lock_.clear();
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::Commit(store::DeviceBatch batch,
                                                            PollKind kind) {
  // A log entry and its match-data item are one event: count distinct natural keys. (A batch
  // holds a few events, a page at most: flat vectors, not a set and a map per commit.)
  std::vector<std::string> keys;
  keys.reserve(batch.events.size());
  std::vector<std::pair<std::string_view, double>> per_kind;
  std::vector<Micros> times;
  std::size_t too_large = 0;
  std::uint64_t user_data = 0;
  for (const auto& e : batch.events) {
    if (e.kind == store::EventKind::kGap && e.info == kTooLargeGap) ++too_large;
    auto key = store::EventKey(e);
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    keys.push_back(std::move(key));
    if (e.kind == store::EventKind::kUserData) ++user_data;
    const std::string_view kind_name = store::KindName(e.kind);
    auto it = std::find_if(per_kind.begin(), per_kind.end(),
                           [&](const auto& k) { return k.first == kind_name; });
    if (it == per_kind.end()) {
      per_kind.emplace_back(kind_name, 1);
    } else {
      it->second += 1;
    }
    if (e.device_time) times.push_back(*e.device_time);
  }
  std::size_t events = keys.size();
  last_batch_events_ = batch.events.size();
  const auto cursor = batch.cursor;
  auto [ec, last_seq] = co_await deps_.writer.WriteAcked(std::move(batch));
  if (ec) {
    auto reason = Classify(ec);
    co_return Failure{kind, reason, IsTransport(reason) || reason == Errc::kQueueFull,
                      "store: " + ec.message()};
  }
  auto now = Now();
  if (metrics_) {
    for (const auto& [k, n] : per_kind) metrics_->CountEvents(k, n);
    for (auto t : times) metrics_->ObserveLag(std::chrono::duration<double>(now - t).count());
    if (too_large) metrics_->CountQuarantined("too_large", static_cast<double>(too_large));
  }
  // The live state moves with the commit (the API serves it from here, not from PostgreSQL).
  std::function<void()> notify;  // enrolments at the reader: user sync imports them
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.events_committed += events;
    snapshot_.user_data_committed += user_data;
    if (user_data > 0) notify = sync_listener_;
    if (last_seq > 0) snapshot_.last_seq = std::max(snapshot_.last_seq.value_or(0), last_seq);
    if (cursor) {
      snapshot_.cursor = *cursor;
      if (snapshot_.newest_log_id && cursor->log_epoch == cursor_.log_epoch) {
        snapshot_.backlog =
            std::max<std::int64_t>(0, *snapshot_.newest_log_id - cursor->last_log_id);
      }
    }
  }
  if (notify) notify();
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::PollDoor() {
  auto status = co_await client_->GetDoorStatus();
  if (!status) co_return FromReply(PollKind::kDoor, status.error());
  auto now = Now();
  auto event = FromDoorChange(door_, *status, now);
  if (event) {
    store::DeviceBatch batch;
    batch.device_id = reader_.id;
    batch.events.push_back(std::move(*event));
    batch.door_state =
        store::DoorState{status->door_sensor, status->relay, status->tamper, status->rte, now};
    if (auto failure = co_await Commit(std::move(batch), PollKind::kDoor)) co_return failure;
    door_ = *status;
  }
  if (metrics_) metrics_->SetDoor(status->door_sensor, status->relay, status->tamper, status->rte);
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.door = *status;
  snapshot_.door_observed_at = now;
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::FetchLogs(std::int64_t up_to, PollKind kind,
                                                               store::DeviceBatch& batch,
                                                               bool& full_page) {
  full_page = false;
  const std::int64_t page = reader_.polling.logs_page;
  store::Cursor cursor = batch.cursor.value_or(cursor_);
  auto received = Now();
  // A page over the client's size limit (face images) is asked for again at half its span, down
  // to one id; until the cursor is past that range this call keeps going (no fairness break), so
  // the next poll does not halve its way down again.
  std::int64_t span = page;
  std::int64_t narrowed_until = 0;
  // [holds_from, holds_to]: ids known to hold an entry (a too-large reply came from them), so an
  // empty narrower page starting at holds_from may be passed: its ids will never be written.
  std::int64_t holds_from = 0;
  std::int64_t holds_to = 0;
  while (cursor.last_log_id < up_to) {
    std::int64_t min = cursor.last_log_id + 1;
    std::int64_t max = std::min(up_to, cursor.last_log_id + span);
    ef45::PageRequest request;
    request.page = 1;
    request.page_size = static_cast<std::int32_t>(page);
    auto logs =
        co_await client_->GetLogsRange(min, max, request, ef45::BiometricStrings::kShapeOnly);
    if (!logs) {
      if (logs.error().reason() != Errc::kTooLarge) co_return FromReply(kind, logs.error());
      narrowed_until = std::max(narrowed_until, max);
      if (max > min) {
        holds_from = min;
        holds_to = max;
        span = std::max<std::int64_t>(1, (max - min + 1) / 2);
        continue;
      }
      // One entry alone is over the limit: it cannot be read. Record it and move on.
      batch.events.push_back(GapEvent(cursor.log_epoch, min, min, kTooLargeGap, received));
      cursor.last_log_id = min;
      full_page = true;
      holds_from = 0;
      continue;
    }
    std::int64_t last = cursor.last_log_id;
    for (const auto& entry : logs->items) {
      if (entry.id < min || entry.id > max) continue;  // not what we asked for: ignore
      batch.events.push_back(FromLog(entry, cursor.log_epoch, received));
      last = std::max(last, entry.id);
    }
    // The cursor moves to the newest id received, never to the end of the range asked for:
    // ids above it may not exist *yet*. (Holes deleted on the reader are skipped by PollLogs.)
    if (last == cursor.last_log_id) {
      if (holds_from != min || max >= holds_to) break;
      // Empty, below an entry known to exist: these ids were never written or are deleted.
      cursor.last_log_id = max;
      holds_from = max + 1;
      continue;
    }
    holds_from = 0;
    cursor.last_log_id = last;
    full_page = last >= max;
    if (cursor.last_log_id < narrowed_until) continue;
    span = page;
    break;  // one page per call: fairness (a backlog pages on in the logs poll)
  }
  if (cursor != cursor_) batch.cursor = cursor;
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::PollMatch() {
  // Not a coroutine: CommitWithMatchData's awaitable (the batch moved into its frame) is the
  // poll's, one frame fewer for two polls a second per reader (issue 18).
  store::DeviceBatch batch;
  batch.device_id = reader_.id;
  return CommitWithMatchData(std::move(batch), PollKind::kMatch);
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::CommitWithMatchData(store::DeviceBatch batch,
                                                                         PollKind kind) {
  // The pollers store no image or template: they are checked for shape, not copied.
  auto reply = co_await client_->GetMatchData(ef45::BiometricStrings::kShapeOnly);
  if (!reply) co_return FromReply(kind, reply.error());
  if (reply->items.empty() && batch.events.empty()) co_return std::nullopt;
  // Half the match polls find nothing: the rest is a coroutine of its own, whose frame (too
  // large for Asio's recycling) is allocated only when there is something to store.
  co_return co_await StoreWithMatchData(std::move(batch), kind, std::move(reply->items));
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::StoreWithMatchData(
    store::DeviceBatch batch, PollKind kind, std::vector<ef45::MatchData> items) {
  // An item whose log id is behind the cursor is normally one committed before whose delete
  // failed. After a log wipe, though, the reader's new entries have small ids too: stored now,
  // such an item would merge into the old epoch's entry with that id and be deleted, its own
  // entry left without it. So before taking one, ask the reader where its ids stand; while a
  // reset is suspected (not yet confirmed by a second check) those items stay on the reader.
  const auto behind = [&](const ef45::MatchData& item) {
    return item.log_id && *item.log_id <= batch.cursor.value_or(cursor_).last_log_id;
  };
  if (!batch.cursor && std::any_of(items.begin(), items.end(), behind)) {
    if (auto failure = co_await CheckLogReset(kind, nullptr)) co_return failure;
    if (suspect_newest_ && *suspect_newest_ < cursor_.last_log_id) {
      std::erase_if(items, behind);
      if (items.empty() && batch.events.empty()) co_return std::nullopt;
    }
  }
  auto received = Now();
  std::int64_t max_log_id = 0;
  for (const auto& item : items) {
    if (item.log_id) max_log_id = std::max(max_log_id, *item.log_id);
  }
  // The items' log entries go in the same transaction, so each recognition commits as one
  // event with both sources. (A log entry fetched before this GET has its item in the reply:
  // the reader creates both at once and only we delete items.) Ids far beyond the cursor (a
  // backlog) are left to the logs poll, which pages fairly.
  const store::Cursor from = batch.cursor.value_or(cursor_);
  bool logs_polled = false;  // this page of logs is what the logs poll would have read now
  if (max_log_id > from.last_log_id && max_log_id - from.last_log_id <= reader_.polling.logs_page) {
    bool full = false;
    if (kind == PollKind::kMatch) {
      // The same request as the logs poll's (the page from the cursor), so that poll need not
      // come: at one recognition a second, a third of the logs requests and the match-data
      // GET that follows each (issue 18). Entries past the items' ids were written after the
      // GET above: a recognition among them may have an item that reply did not have, so the
      // page ends before the first of those, and the logs poll (logs first, then match-data)
      // takes it from there.
      if (auto failure = co_await FetchLogs(from.last_log_id + reader_.polling.logs_page,
                                            PollKind::kMatch, batch, full)) {
        co_return failure;
      }
      logs_polled = !full && EndBeforeUnmatched(batch, max_log_id);
    } else if (auto failure = co_await FetchLogs(max_log_id, kind, batch, full)) {
      co_return failure;
    }
  }
  // Only the encounter ids are kept through the commit: a parsed item is ~1.6 KB, and after a
  // start-up every reader's backlog of them waited on the database at once (issue 18: 20 MB of
  // the peak at 1,000 readers).
  std::vector<std::string> encounters;
  encounters.reserve(items.size());
  for (auto& item : items) {
    batch.events.push_back(FromMatch(item, from.log_epoch, received));
    encounters.push_back(std::move(item.encounter_id));
  }
  std::vector<ef45::MatchData>().swap(items);
  auto cursor = batch.cursor;
  if (auto failure = co_await Commit(std::move(batch), kind)) co_return failure;
  if (cursor) cursor_ = *cursor;
  if (logs_polled) PostponeLogsPoll();
  // Committed: only now may the reader forget them.
  std::uint64_t deleted = 0;
  Outcome outcome;
  for (const auto& encounter_id : encounters) {
    auto r = co_await client_->DeleteMatchData(encounter_id);
    if (r) {
      ++deleted;
      continue;
    }
    // 400 = already gone (deleted by us before a restart): fine. Anything else: retry later;
    // the item is committed, so seeing it again only adds nothing.
    if (r.error().http_status == 400) continue;
    outcome = FromReply(kind, r.error());
    break;
  }
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.match_deleted += deleted;
  snapshot_.cursor = cursor_;
  if (metrics_) {
    metrics_->SetCursor(static_cast<double>(cursor_.last_log_id));
    // The backlog moves here too while the logs poll waits (PostponeLogsPoll).
    if (snapshot_.backlog) metrics_->SetBacklog(static_cast<double>(*snapshot_.backlog));
  }
  co_return outcome;
}

void DeviceWorker::PostponeLogsPoll() {
  // Not past a due reset check: the idle logs poll makes it (see PollLogs).
  const auto now = SteadyClock::now();
  if (suspect_newest_ || now - reset_checked_ >= kIdleResetChecks * reader_.polling.logs) return;
  auto& due = due_[static_cast<std::size_t>(PollKind::kLogs)];
  due = std::max(due, now + Interval(PollKind::kLogs));
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::CheckLogReset(PollKind kind,
                                                                   std::int64_t* newest_out) {
  ef45::PageRequest newest_page;
  newest_page.page = 1;
  newest_page.page_size = 1;
  reset_checked_ = std::chrono::steady_clock::now();
  auto newest = co_await client_->ListLogs(newest_page, ef45::LogOrder::kDesc);
  if (!newest && newest.error().reason() == Errc::kTooLarge) {
    // The newest entry is too large to read (FetchLogs records it as a gap when it gets there):
    // nothing learned, but the reader is fine.
    if (newest_out) *newest_out = cursor_.last_log_id;
    co_return std::nullopt;
  }
  if (!newest) co_return FromReply(kind, newest.error());
  std::int64_t newest_id = newest->items.empty() ? 0 : newest->items.front().id;
  // A newest id below the cursor (a reset) or absurdly far beyond it is believed only when the
  // next check agrees: one garbage reply from a broken or rogue reader must not start a new log
  // epoch or make the logs poll skip (and gap) ids.
  const auto anomaly = [this](std::int64_t id) {
    if (id < cursor_.last_log_id) return 1;
    if (id - cursor_.last_log_id > reader_.polling.max_log_jump) return 2;
    return 0;
  };
  const int seen = anomaly(newest_id);
  const bool confirmed = seen != 0 && suspect_newest_ && anomaly(*suspect_newest_) == seen;
  suspect_newest_.reset();
  if (seen != 0 && !confirmed) {
    suspect_newest_ = newest_id;
    long suppressed = 0;
    if (log_limit_.Allow(suppressed)) {
      GW_LOG(kWarn, "poll") << reader_.id << ": reader reports newest log id " << newest_id
                            << " against cursor " << cursor_.last_log_id
                            << "; waiting for the next check to agree";
    }
    if (newest_out) *newest_out = cursor_.last_log_id;
    co_return std::nullopt;
  }
  if (newest_out) *newest_out = newest_id;
  if (newest_id < cursor_.last_log_id) {
    // The reader's ids restarted: a new log epoch begins at 0. Ids we had seen on the reader but
    // not stored yet are gone with the wipe: say so instead of hiding it.
    auto now = Now();
    store::DeviceBatch batch;
    batch.device_id = reader_.id;
    store::Cursor next{0, cursor_.log_epoch + 1};
    batch.events.push_back(DeviceEvent(
        "log_reset", "log_reset:" + std::to_string(next.log_epoch),
        boost::json::serialize(boost::json::object{{"previous_epoch", cursor_.log_epoch},
                                                   {"previous_last_log_id", cursor_.last_log_id},
                                                   {"reader_newest_log_id", newest_id},
                                                   {"log_epoch", next.log_epoch}}),
        now));
    if (newest_seen_ && *newest_seen_ > cursor_.last_log_id) {
      batch.events.push_back(GapEvent(cursor_.log_epoch, cursor_.last_log_id + 1, *newest_seen_,
                                      "log ids restarted on the reader before they were read",
                                      now));
    }
    batch.cursor = next;
    if (auto failure = co_await Commit(std::move(batch), kind)) co_return failure;
    GW_LOG(kWarn, "poll") << reader_.id << ": log ids restarted (newest " << newest_id
                          << " < cursor " << cursor_.last_log_id << "): log epoch "
                          << next.log_epoch;
    cursor_ = next;
    if (metrics_) metrics_->CountLogReset();
    std::lock_guard lock(snapshot_mutex_);
    ++snapshot_.log_resets;
  }
  newest_seen_ = newest_id;
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.newest_log_id = newest_id;
  snapshot_.backlog = std::max<std::int64_t>(0, newest_id - cursor_.last_log_id);
  snapshot_.cursor = cursor_;
  if (metrics_) {
    metrics_->SetBacklog(static_cast<double>(*snapshot_.backlog));
    metrics_->SetCursor(static_cast<double>(cursor_.last_log_id));
  }
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::PollLogs(bool& more) {
  more = false;
  store::DeviceBatch batch;
  batch.device_id = reader_.id;
  bool full = false;
  auto up_to = cursor_.last_log_id + reader_.polling.logs_page;
  if (auto failure = co_await FetchLogs(up_to, PollKind::kLogs, batch, full)) co_return failure;
  if (batch.events.empty()) {
    // Nothing new: make sure it is not because the reader's ids restarted below our cursor. Not
    // on every idle poll: half of what an idle logs poll asked for (issue 18). A suspected
    // restart is confirmed at the next poll; recognitions after a restart (match-data behind
    // the cursor) are checked at once, and the health poll checks too.
    if (!suspect_newest_ && std::chrono::steady_clock::now() - reset_checked_ <
                                kIdleResetChecks * reader_.polling.logs) {
      co_return std::nullopt;
    }
    std::int64_t newest = 0;
    if (auto failure = co_await CheckLogReset(PollKind::kLogs, &newest)) co_return failure;
    if (newest <= up_to || cursor_.last_log_id > newest) co_return std::nullopt;
    // The whole range is empty but newer ids exist: these ids were deleted on the reader before
    // we read them (or the reader's ids jumped). Record one gap up to the next id that exists,
    // not one per page.
    std::int64_t gap_to = up_to;
    ef45::PageRequest first;
    first.page = 1;
    first.page_size = 1;
    auto next = co_await client_->GetLogsRange(up_to + 1, newest, first,
                                               ef45::BiometricStrings::kShapeOnly);
    if (next) {
      gap_to = newest;
      for (const auto& entry : next->items) {
        if (entry.id > up_to && entry.id <= newest) gap_to = std::min(gap_to, entry.id - 1);
      }
    } else if (next.error().reason() != Errc::kTooLarge) {
      co_return FromReply(PollKind::kLogs, next.error());
    }
    store::DeviceBatch skip;
    skip.device_id = reader_.id;
    skip.events.push_back(GapEvent(cursor_.log_epoch, cursor_.last_log_id + 1, gap_to,
                                   "log ids missing on the reader (deleted before they were read)",
                                   Now()));
    store::Cursor next_cursor{gap_to, cursor_.log_epoch};
    skip.cursor = next_cursor;
    if (auto failure = co_await Commit(std::move(skip), PollKind::kLogs)) co_return failure;
    cursor_ = next_cursor;
    more = true;
    co_return std::nullopt;
  }
  // Match-data after the logs, committed together: every recognition in this page is one event.
  if (auto failure = co_await CommitWithMatchData(std::move(batch), PollKind::kLogs)) {
    co_return failure;
  }
  more = full;
  std::lock_guard lock(snapshot_mutex_);
  snapshot_.cursor = cursor_;
  if (snapshot_.newest_log_id) {
    snapshot_.backlog = std::max<std::int64_t>(0, *snapshot_.newest_log_id - cursor_.last_log_id);
    if (metrics_) metrics_->SetBacklog(static_cast<double>(*snapshot_.backlog));
  }
  if (metrics_) metrics_->SetCursor(static_cast<double>(cursor_.last_log_id));
  co_return std::nullopt;
}

asio::awaitable<DeviceWorker::Outcome> DeviceWorker::PollHealth() {
  auto version = co_await client_->GetVersion();
  if (!version) co_return FromReply(PollKind::kHealth, version.error());
  // A lock check that also tells the algorithm version (needed by user sync).
  auto record = co_await client_->GetRecordVersion();
  if (!record) co_return FromReply(PollKind::kHealth, record.error());
  // Clock skew from the reader's Date header (whole seconds: +0.5 s centres the estimate).
  std::optional<double> skew;
  if (const auto& clock = client_->last_reply_clock()) {
    skew = std::chrono::duration<double>(clock->reader_time - clock->received_at).count() + 0.5;
    if (metrics_) metrics_->SetClockSkew(*skew);
  }
  {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_.app_version = version->version;
    snapshot_.record_version = record->record_version;
    if (skew) snapshot_.clock_skew_s = *skew;
  }
  co_return co_await CheckLogReset(PollKind::kHealth, nullptr);
}

}  // namespace gw::poll
