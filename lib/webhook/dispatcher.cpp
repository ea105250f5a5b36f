#include "webhook/dispatcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "api/event_json.hpp"
#include "common/log.hpp"
#include "common/run_blocking.hpp"
#include "common/task_failure.hpp"
#include "store/database.hpp"
#include "store/webhooks.hpp"
#include "webhook/http_client.hpp"
#include "webhook/signature.hpp"
#include "webhook/webhook_metrics.hpp"

namespace gw::webhook {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;
using Clock = std::chrono::system_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdle = milliseconds(1000);  // events of other nodes, lease checks
constexpr auto kMinGap = milliseconds(20);  // a burst of commits costs one query
constexpr auto kDatabaseRetry = milliseconds(1000);
constexpr auto kPausedCheck = milliseconds(5000);
/// Messages read per query (at most 1,000 events): the next ones come from memory while the
/// subscription's revision, this node's API changes and the acknowledged cursor say they still
/// hold; a retry always reads again.
constexpr int kReadAhead = 32;

/// The first message of `ahead` (up to batch_max events, or its gap), as the work to send now;
/// `ahead` keeps the rest, from where that message ends.
store::WebhookWork TakeFront(store::WebhookWork& ahead) {
  store::WebhookWork now;
  now.row = ahead.row;
  now.max_seq = ahead.max_seq;
  now.from = ahead.from;
  now.gap_from = ahead.gap_from;
  now.gap_to = ahead.gap_to;
  const auto n = std::min(ahead.events.size(), static_cast<std::size_t>(ahead.row->batch_max));
  now.events.assign(std::make_move_iterator(ahead.events.begin()),
                    std::make_move_iterator(ahead.events.begin() + static_cast<std::ptrdiff_t>(n)));
  ahead.events.erase(ahead.events.begin(), ahead.events.begin() + static_cast<std::ptrdiff_t>(n));
  now.advance_to =
      ahead.gap_to > 0 || ahead.events.empty() ? ahead.advance_to : now.events.back().seq;
  ahead.from = now.advance_to;
  ahead.gap_from = ahead.gap_to = 0;
  return now;
}

/// One message, kept across retries so that its id and body stay the same.
struct Pending {
  std::int64_t from = 0;  ///< the cursor it was read at
  std::int64_t revision = 0;
  std::int64_t to = 0;  ///< the cursor after its 2xx
  std::string id;
  std::string body;
  std::vector<store::TimePoint> committed_at;  ///< of each event (delivery latency)
};

Pending Build(const store::WebhookRow& row, const store::WebhookWork& work) {
  Pending p;
  p.from = work.from;
  p.revision = row.revision;
  p.to = work.advance_to;
  if (work.gap_to > 0) {
    p.id = MessageId(work.gap_from + 1, work.gap_to, true);
    p.body = json::serialize(json::object{{"kind", "gap"},
                                          {"reason", "retention"},
                                          {"missing_from_seq", work.gap_from + 1},
                                          {"missing_to_seq", work.gap_to}});
    return p;
  }
  p.id = MessageId(work.events.front().seq, work.events.back().seq, false);
  for (const auto& e : work.events) p.committed_at.push_back(e.stored_at);
  if (row.batch_max == 1) {
    p.body = json::serialize(api::EventJson(work.events.front()));
  } else {
    json::array items;
    for (const auto& e : work.events) items.push_back(api::EventJson(e));
    p.body = json::serialize(json::object{{"items", std::move(items)}});
  }
  return p;
}

std::string ResultLabel(const PostResult& r) {
  if (r.status >= 200 && r.status < 300) return "success";
  if (r.status == 410) return "gone";
  if (r.status >= 500) return "http_5xx";
  if (r.status >= 400) return "http_4xx";
  if (r.status > 0) return "http_other";
  return r.timed_out ? "timeout" : "connection_error";
}

}  // namespace

milliseconds RetryDelay(int attempt, milliseconds max, double random01) {
  auto step = milliseconds(500);
  for (int i = 1; i < attempt && step < max; ++i) step *= 2;
  step = std::min(step, max);
  return milliseconds(
      static_cast<std::int64_t>(static_cast<double>(step.count()) * (0.5 + 0.5 * random01)));
}

std::string MessageId(std::int64_t first, std::int64_t last, bool gap) {
  std::string id = gap ? "gap_" : "evt_";
  id += std::to_string(first);
  if (gap || last != first) id += "-" + std::to_string(last);
  return id;
}

struct Dispatcher::Delivery {
  std::string id;
  std::int64_t epoch = 0;
  bool stop = false;
  bool done = false;
  // The cursor, as this node knows it (touched on the dispatcher's executor only).
  bool local = false;  ///< the fields below hold; else read from the stored cursor
  std::int64_t revision = 0;
  std::int64_t acked = 0;      ///< after the last 2xx (or a skip): where the next read starts
  std::int64_t committed = 0;  ///< stored in PostgreSQL (acked, or behind while queued)
  bool queued = false;         ///< a move committed -> acked is queued or being written
  bool commit_failed = false;  ///< a move did not apply: lease lost or the subscription changed
};

Dispatcher::Dispatcher(asio::any_io_executor executor, store::Database& db,
                       api::CommitSignal* commits, DispatcherOptions options,
                       WebhookMetrics* metrics)
    : executor_(std::move(executor)),
      db_(db),
      commits_(commits),
      options_(std::move(options)),
      metrics_(metrics),
      sender_(std::make_unique<HttpSender>(executor_, options_.allow, options_.timeout)) {}

Dispatcher::~Dispatcher() = default;

std::size_t Dispatcher::idle_connections() const { return sender_->idle(); }

void Dispatcher::Start() {
  ++rounds_running_;
  asio::co_spawn(executor_, LeaseRounds(), [this](std::exception_ptr e) {
    --rounds_running_;
    ReportTaskFailure("webhook", "lease rounds", e);
  });
  committer_running_ = true;
  asio::co_spawn(executor_, Committer(), [this](std::exception_ptr e) {
    committer_running_ = false;
    ReportTaskFailure("webhook", "cursor commits", e);
  });
}

void Dispatcher::Poke() {
  wake_.Notify();
  commit_wake_.Notify();
  if (commits_) commits_->Notify();
}

void Dispatcher::QueueCommit(const std::shared_ptr<Delivery>& d) {
  if (d->queued) return;  // the committer takes the newest acked when it writes
  d->queued = true;
  commit_queue_.push_back(d);
  commit_wake_.Notify();
}

asio::awaitable<void> Dispatcher::CommitsSettled(std::shared_ptr<Delivery> d, milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (d->queued && std::chrono::steady_clock::now() < until) {
    const auto seen = committed_.generation();
    if (!d->queued) break;
    co_await committed_.Wait(seen, milliseconds(50));
  }
}

asio::awaitable<void> Dispatcher::Committer() {
  asio::steady_timer timer(executor_);
  auto delivering = [this] {
    for (const auto& [id, d] : running_) {
      if (!d->done) return true;
    }
    return false;
  };
  while (true) {
    const auto seen = commit_wake_.generation();
    if (commit_queue_.empty()) {
      if (stopping_ && !delivering()) break;
      co_await commit_wake_.Wait(seen, stopping_ ? milliseconds(20) : kIdle);
      continue;
    }
    // Everything queued while the previous batch was written goes in one statement: batches
    // form by themselves under load and cost no added wait when idle.
    auto batch = std::move(commit_queue_);
    commit_queue_.clear();
    std::vector<store::WebhookCursorCommit> moves;
    moves.reserve(batch.size());
    for (const auto& d : batch) {
      moves.push_back({d->id, d->epoch, d->revision, d->committed, d->acked});
    }
    store::Database* db = &db_;
    auto node = options_.node;
    auto fn = [db, node, moves] { return store::CommitWebhookCursorsBlocking(*db, node, moves); };
    auto moved = co_await RunBlocking(db_.BlockingPool(), std::move(fn));
    if (!moved) {
      // PostgreSQL unreachable: the same moves (with the newest acked) once it is back.
      for (auto& d : batch) commit_queue_.push_back(std::move(d));
      timer.expires_after(kDatabaseRetry);
      co_await timer.async_wait(kTuple);
      continue;
    }
    const std::set<std::string> applied(moved->begin(), moved->end());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& d = batch[i];
      d->queued = false;
      if (applied.count(d->id)) {
        d->committed = moves[i].to;
        if (d->acked > d->committed && !d->commit_failed) QueueCommit(d);  // acked meanwhile
      } else {
        d->commit_failed = true;
      }
    }
    committed_.Notify();
  }
}

asio::awaitable<void> Dispatcher::Stop() {
  stopping_ = true;
  for (auto& [id, d] : running_) d->stop = true;
  Poke();
  // A request in flight ends within its timeout; wait that long at most.
  asio::steady_timer timer(executor_);
  const auto until = std::chrono::steady_clock::now() + options_.timeout + milliseconds(1000);
  auto busy = [this] {
    if (rounds_running_ > 0 || committer_running_) return true;
    for (const auto& [id, d] : running_) {
      if (!d->done) return true;
    }
    return false;
  };
  while (busy() && std::chrono::steady_clock::now() < until) {
    timer.expires_after(milliseconds(20));
    co_await timer.async_wait(kTuple);
  }
  store::Database* db = &db_;
  auto node = options_.node;
  auto fn = [db, node] { return store::ReleaseWebhooksBlocking(*db, node); };
  co_await RunBlocking(db_.BlockingPool(), std::move(fn));
}

asio::awaitable<void> Dispatcher::LeaseRounds() {
  asio::steady_timer timer(executor_);
  while (!stopping_) {
    const auto seen = wake_.generation();
    store::Database* db = &db_;
    auto node = options_.node;
    auto lease = options_.lease;
    auto fn = [db, node, lease] { return store::ClaimWebhooksBlocking(*db, node, lease); };
    auto held = co_await RunBlocking(db_.BlockingPool(), std::move(fn));
    if (held && !stopping_) {
      std::set<std::string> now_held;
      for (const auto& l : *held) {
        now_held.insert(l.id);
        auto it = running_.find(l.id);
        if (it != running_.end() && !it->second->done && it->second->epoch == l.epoch) continue;
        if (it != running_.end()) it->second->stop = true;  // an older epoch: it ends itself
        auto d = std::make_shared<Delivery>();
        d->id = l.id;
        d->epoch = l.epoch;
        running_[l.id] = d;
        asio::co_spawn(executor_, Deliver(d), [d](std::exception_ptr e) {
          d->done = true;
          ReportTaskFailure("webhook", "delivery", e);
        });
      }
      for (auto it = running_.begin(); it != running_.end();) {
        if (!now_held.count(it->first)) {
          it->second->stop = true;  // lease lost or deleted: its writes are fenced anyway
          if (metrics_) metrics_->Forget(it->first);
        }
        if (it->second->done) {
          it = running_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Renew well before expiry; an API change (Poke) runs a round at once.
    co_await wake_.Wait(seen, options_.renew);
  }
}

asio::awaitable<bool> Dispatcher::Sleep(std::shared_ptr<Delivery> d, milliseconds duration,
                                        bool wake_on_commit) {
  if (d->stop || stopping_) co_return false;
  if (wake_on_commit && commits_) {
    co_await commits_->Wait(commits_->generation(), duration);
  } else {
    co_await wake_.Wait(wake_.generation(), duration);
  }
  co_return !(d->stop || stopping_);
}

asio::awaitable<void> Dispatcher::Deliver(std::shared_ptr<Delivery> d) {
  static log::RateLimit failures;
  std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  asio::steady_timer gap(executor_);
  std::optional<Pending> pending;
  int attempt = 0;
  bool stored_retry = true;                 ///< the stored next_attempt_at is still to be honoured
  std::optional<store::WebhookWork> ahead;  ///< read but not yet sent (kReadAhead)
  std::uint64_t ahead_wake = 0;             ///< wake_ (API changes) when it was read
  std::string last_state;
  while (!d->stop && !stopping_) {
    if (d->commit_failed) {
      // A cursor move did not apply (lease lost, or the subscription changed since it was
      // read): once nothing is in flight, the stored cursor decides where to go on.
      co_await CommitsSettled(d, options_.timeout);
      d->commit_failed = false;
      d->local = false;
      pending.reset();
      attempt = 0;
    }
    const auto seen = commits_ ? commits_->generation() : 0;
    const auto queried = std::chrono::steady_clock::now();
    store::Database* db = &db_;
    auto node = options_.node;
    auto id = d->id;
    auto epoch = d->epoch;
    Result<store::WebhookWork> work = boost::system::error_code(Errc::kDbUnavailable);
    if (ahead && d->local && !d->commit_failed && ahead->from == d->acked &&
        !ahead->events.empty() && ahead->row->revision == d->revision &&
        ahead_wake == wake_.generation()) {
      work = TakeFront(*ahead);
    } else {
      ahead.reset();
      ahead_wake = wake_.generation();
      auto fetch = [db, id, node, epoch, after = d->local ? std::optional(d->acked) : std::nullopt,
                    revision = d->revision] {
        return store::NextWebhookWorkBlocking(*db, id, node, epoch, after, revision, kReadAhead);
      };
      auto read = co_await RunBlocking(db_.BlockingPool(), std::move(fetch));
      if (read && read->row) {
        ahead = std::move(*read);
        work = TakeFront(*ahead);
      } else {
        work = std::move(read);
      }
    }
    if (!work) {
      co_await Sleep(d, kDatabaseRetry, false);
      continue;
    }
    if (!work->row) break;  // deleted, or another node holds it now
    const auto& row = *work->row;
    if (!d->local || row.revision != d->revision) {
      // First read, or changed through the API (replay, filters, state): from the stored cursor,
      // once this node's own moves in flight have landed (or failed on the new revision).
      if (d->queued) {
        co_await CommitsSettled(d, options_.timeout);
        d->local = false;
        continue;
      }
      d->local = true;
      d->revision = row.revision;
      d->acked = d->committed = row.cursor_seq;
      d->commit_failed = false;
      stored_retry = true;
    }
    if (metrics_) {
      metrics_->SetLag(d->id, static_cast<double>(work->max_seq - work->from));
      if (row.state != last_state) metrics_->SetState(d->id, row.state);
    }
    last_state = row.state;
    if (row.state == "paused" || row.state == "disabled") {
      pending.reset();
      attempt = 0;
      co_await Sleep(d, kPausedCheck, false);
      continue;
    }
    if (!pending || pending->from != work->from || pending->revision != row.revision) {
      pending.reset();
      attempt = 0;
      if (work->gap_to == 0 && work->events.empty()) {
        if (work->advance_to > work->from) {
          // Nothing matched the filters up to the newest seq: move past it, nothing is skipped.
          d->acked = work->advance_to;
          QueueCommit(d);
        }
        // Idle: wait for a commit (at least kMinGap after the last query: one query per burst).
        if (commits_) {
          co_await commits_->Wait(seen, kIdle);
          if (auto since = std::chrono::steady_clock::now() - queried; since < kMinGap) {
            gap.expires_after(kMinGap - since);
            co_await gap.async_wait(kTuple);
          }
        } else {
          co_await Sleep(d, kIdle, false);
        }
        continue;
      }
      pending = Build(row, *work);
    }
    // After a restart (or a take-over) the stored next attempt still holds: a failing receiver
    // is not hammered. Only then: later reads may still see it until a 2xx's commit lands.
    const bool honour_stored = stored_retry;
    stored_retry = false;
    if (honour_stored && attempt == 0 && row.next_attempt_at &&
        *row.next_attempt_at > Clock::now()) {
      auto wait = std::chrono::duration_cast<milliseconds>(*row.next_attempt_at - Clock::now());
      attempt = 1;  // not zero: the stored delay is honoured once, then the ladder goes on
      co_await Sleep(d, std::max(wait, milliseconds(1)), false);
      continue;
    }

    PostResult result;
    std::string why;
    auto url = ParseUrl(row.url, why);
    if (!url) {
      result.error = "the stored URL is invalid: " + why;
    } else {
      std::vector<std::string> secrets{row.secret};
      if (row.previous_secret && row.previous_secret_expires_at &&
          *row.previous_secret_expires_at > Clock::now()) {
        secrets.push_back(*row.previous_secret);
      }
      const auto timestamp =
          std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
      std::vector<std::pair<std::string, std::string>> headers{
          {"webhook-id", pending->id},
          {"webhook-timestamp", std::to_string(timestamp)},
          {"webhook-signature", SignatureHeader(secrets, pending->id, timestamp, pending->body)}};
      result = co_await sender_->Post(*url, std::move(headers), pending->body);
    }
    const auto label = ResultLabel(result);
    if (metrics_) metrics_->Delivered(d->id, label);
    if (label == "success") {
      if (metrics_) {
        const auto now = Clock::now();
        for (const auto& t : pending->committed_at) {
          metrics_->ObserveDelivery(std::chrono::duration<double>(now - t).count());
        }
      }
      // The next message goes out while the committer stores this cursor. If that move does not
      // apply (a replay meanwhile, the lease lost), commit_failed sends the delivery back to the
      // stored cursor: what was acknowledged but not stored is sent again (at least once).
      d->acked = pending->to;
      QueueCommit(d);
      pending.reset();
      attempt = 0;
      continue;
    }
    // The success record of earlier 2xx lands before this failure is recorded.
    co_await CommitsSettled(d, options_.timeout);
    ++attempt;
    const auto delay = RetryDelay(attempt, options_.max_backoff, unit(random));
    const std::string error =
        result.status ? "HTTP " + std::to_string(result.status) : result.error;
    auto record = [db, id, node, epoch, error, gone = result.status == 410, delay,
                   disable_after = options_.disable_after] {
      return store::RecordWebhookFailureBlocking(*db, id, node, epoch, error, gone, delay,
                                                 disable_after);
    };
    auto state = co_await RunBlocking(db_.BlockingPool(), std::move(record));
    long suppressed = 0;
    if ((attempt == 1 || (state && *state == "disabled")) && failures.Allow(suppressed)) {
      GW_LOG(kWarn, "webhook") << "webhook " << d->id << " to " << (url ? url->host : "?") << ": "
                               << error
                               << (state && *state == "disabled"
                                       ? "; disabled (resume with PATCH state=active)"
                                       : "; retrying with backoff")
                               << (suppressed ? " (" + std::to_string(suppressed) + " more)" : "");
    }
    if (state && metrics_ && *state != last_state) metrics_->SetState(d->id, *state);
    if (state) last_state = *state;
    co_await Sleep(d, delay, false);
  }
  d->done = true;
}

}  // namespace gw::webhook
