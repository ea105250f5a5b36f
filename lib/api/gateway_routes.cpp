#include "api/gateway_routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "api/commit_signal.hpp"
#include "api/event_feed.hpp"
#include "api/event_json.hpp"
#include "api/limiters.hpp"
#include "api/problem.hpp"
#include "common/error.hpp"
#include "common/identifier.hpp"
#include "common/time.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/metrics.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"
#include "store/leases.hpp"
#include "store/queries.hpp"

namespace gw::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::value Time(const std::optional<Micros>& t) {
  if (!t) return nullptr;
  return json::string(FormatIso8601(*t));
}

/// The door state PostgreSQL holds for a reader (null if none).
json::value StoredDoorJson(const store::DeviceState* stored) {
  if (!stored || !stored->door) return nullptr;
  return json::object{{"door_sensor", stored->door->door_sensor},
                      {"relay", stored->door->relay},
                      {"tamper", stored->door->tamper},
                      {"rte", stored->door->rte},
                      {"observed_at", FormatIso8601(stored->door->observed_at)}};
}

/// A reader polled here, as its worker sees it (every field moves with the worker's polls and
/// commits; the door and cursor were loaded from PostgreSQL when the worker started).
json::object DeviceJson(const poll::ReaderSnapshot& s) {
  json::object o;
  o["id"] = s.id;
  o["host"] = s.host;
  o["port"] = s.port;
  // A firmware install under way (issue 20) is maintenance, not down; `reason` keeps the polls'.
  o["state"] = poll::ReaderStateName(s.maintenance ? poll::ReaderState::kMaintenance : s.state);
  o["reason"] = s.reason.empty() ? json::value(nullptr) : json::value(s.reason);
  o["last_seen"] = Time(s.last_success);
  o["last_failure"] = Time(s.last_failure);
  o["lock_held"] = s.lock_held;
  o["lock_holder"] = s.lock_holder;
  if (s.door) {
    o["door"] = json::object{{"door_sensor", s.door->door_sensor},
                             {"relay", s.door->relay},
                             {"tamper", s.door->tamper},
                             {"rte", s.door->rte},
                             {"observed_at", Time(s.door_observed_at)}};
  } else {
    o["door"] = nullptr;
  }
  o["cursor"] =
      json::object{{"log_epoch", s.cursor.log_epoch}, {"last_log_id", s.cursor.last_log_id}};
  o["reader_newest_log_id"] = s.newest_log_id ? json::value(*s.newest_log_id) : nullptr;
  o["backlog"] = s.backlog ? json::value(*s.backlog) : nullptr;
  o["app_version"] = s.app_version ? json::value(*s.app_version) : nullptr;
  o["record_version"] = s.record_version ? json::value(*s.record_version) : nullptr;
  o["clock_skew_s"] = s.clock_skew_s ? json::value(*s.clock_skew_s) : nullptr;
  o["events_committed"] = s.events_committed;
  o["last_seq"] = s.last_seq ? json::value(*s.last_seq) : nullptr;
  return o;
}

/// Reads the listing filters; a Response when the input is bad.
std::optional<Response> ParseEventQuery(const Request& request, store::EventQuery& q) {
  if (auto after = request.Query("after")) {
    if (!ParseInt64(*after, q.after) || q.after < 0) {
      return BadRequest("after", "must be a non-negative integer (an event seq)");
    }
  }
  if (auto limit = request.Query("limit")) {
    std::int64_t n = 0;
    if (!ParseInt64(*limit, n) || n < 1 || n > store::kMaxEventPage) {
      return BadRequest("limit",
                        "must be an integer from 1 to " + std::to_string(store::kMaxEventPage));
    }
    q.limit = static_cast<int>(n);
  }
  if (auto device = request.Query("device")) {
    if (!ValidIdentifier(*device)) return BadRequest("device", kIdentifierRule);
    q.device_id = *device;
  }
  if (auto kind = request.Query("kind")) {
    q.kind = store::ParseKind(*kind);
    if (!q.kind) {
      return BadRequest("kind",
                        "must be one of recognition, user_data, log, door, device, gap, audit");
    }
  }
  if (auto user = request.Query("user")) {
    if (!ValidIdentifier(*user)) return BadRequest("user", kIdentifierRule);
    q.user_uuid = *user;
  }
  for (const char* name : {"since", "until"}) {
    if (auto text = request.Query(name)) {
      auto t = ParseIso8601(*text);
      if (!t) return BadRequest(name, "must be an RFC 3339 time, e.g. 2026-01-31T08:00:00Z");
      (std::string_view(name) == "since" ? q.since : q.until) = store::TimePoint(*t);
    }
  }
  return std::nullopt;
}

asio::awaitable<Response> Healthz(Request&) { co_return Json(json::object{{"status", "ok"}}); }

asio::awaitable<Response> Readyz(GatewayContext& ctx, Request&) {
  bool started = ctx.started && ctx.started();
  auto ping = co_await ctx.db.Ping();
  json::object o{{"database", ping ? "unreachable" : "ok"},
                 {"started", started},
                 {"readers", ctx.workers.size()}};
  co_return Json(o, started && !ping ? 200 : 503);
}

asio::awaitable<Response> Metrics(GatewayContext& ctx, Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = ctx.metrics.Serialize();
  co_return r;
}

/// A reader another instance polls (cluster mode): what PostgreSQL knows of it.
json::object RemoteDeviceJson(const store::LeaseRow& lease, const store::DeviceState* stored) {
  json::object o;
  o["id"] = lease.device_id;
  // "remote": polled by `owner`; "unowned": no instance holds a valid lease right now.
  o["state"] = lease.valid ? "remote" : "unowned";
  o["owner"] = lease.owner.empty() ? json::value(nullptr) : json::value(lease.owner);
  o["owner_url"] = lease.owner_url.empty() ? json::value(nullptr) : json::value(lease.owner_url);
  o["polled_here"] = false;
  o["lease_epoch"] = lease.epoch;
  o["door"] = StoredDoorJson(stored);
  if (stored && stored->cursor) {
    o["cursor"] = json::object{{"log_epoch", stored->cursor->log_epoch},
                               {"last_log_id", stored->cursor->last_log_id}};
  } else {
    o["cursor"] = nullptr;
  }
  o["last_seq"] = stored && stored->last_seq ? json::value(*stored->last_seq) : nullptr;
  return o;
}

void MarkLocal(GatewayContext& ctx, json::object& o, const store::LeaseRow* lease) {
  if (ctx.cluster_node.empty()) return;
  o["owner"] = ctx.cluster_node;
  o["polled_here"] = true;
  o["lease_epoch"] = lease ? json::value(lease->epoch) : nullptr;
}

/// The device routes' view of the fleet. The readers polled here come from memory: each
/// DeviceWorker's snapshot (moved by its commits) and, for events of theirs committed by others
/// (audit, sync), the event feed's newest seq per reader. What only PostgreSQL knows is read at
/// most every kDbRefresh and shared by every request: whether PostgreSQL answers, and in cluster
/// mode the leases and the readers other instances poll. The listing itself is rendered at most
/// every kListingMaxAge and shared by every response meanwhile, without a copy (at 1,000 readers
/// it is ~0.46 MB of JSON; rendering it costs ~1-2 ms, answering with a rendered one ~0.1 ms),
/// with a strong ETag (a hash of the body) for If-None-Match. A state change (up/down, door,
/// last_seq) shows in the listing at most kListingMaxAge after the reader's own view has it
/// (tests/e2e/gateway/devices_test.cpp). Thread-safe.
class DeviceDirectory {
 public:
  static constexpr auto kDbRefresh = std::chrono::seconds(1);
  static constexpr auto kListingMaxAge = std::chrono::milliseconds(100);

  struct Listing {
    std::shared_ptr<const std::string> body;
    std::string etag;  ///< strong: `"<hash>-<size>"` of the body
  };

  struct Stored {
    bool ok = true;                                    ///< PostgreSQL answered the last refresh
    std::map<std::string, store::LeaseRow> leases;     ///< cluster mode
    std::map<std::string, store::DeviceState> remote;  ///< cluster mode: not polled here
  };

  /// The stored view, at most kDbRefresh old: one caller refreshes it, the others meanwhile
  /// use the previous one (only the very first callers wait for a read of their own).
  asio::awaitable<std::shared_ptr<const Stored>> Get(GatewayContext& ctx) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mutex_);
      if (stored_ && (now - stored_at_ < kDbRefresh || refreshing_)) co_return stored_;
      refreshing_ = true;
    }
    auto fresh = co_await Read(ctx);
    std::lock_guard lock(mutex_);
    refreshing_ = false;
    stored_ = fresh;
    stored_at_ = std::chrono::steady_clock::now();
    co_return fresh;  // the listing shows it at its next rendering (kListingMaxAge)
  }

  /// The listing if rendered less than kListingMaxAge ago.
  std::shared_ptr<const Listing> Fresh() {
    std::lock_guard lock(mutex_);
    if (listing_ && std::chrono::steady_clock::now() - listing_at_ < kListingMaxAge) {
      return listing_;
    }
    return nullptr;
  }
  /// Keeps `body` as the listing from now on; returns it with its ETag.
  std::shared_ptr<const Listing> SetListing(std::string body) {
    auto listing = std::make_shared<Listing>();
    const auto hash = std::hash<std::string_view>{}(body);
    char etag[48];
    std::snprintf(etag, sizeof etag, "\"%016llx-%zx\"", static_cast<unsigned long long>(hash),
                  body.size());
    listing->etag = etag;
    listing->body = std::make_shared<const std::string>(std::move(body));
    std::lock_guard lock(mutex_);
    listing_ = listing;
    listing_at_ = std::chrono::steady_clock::now();
    return listing;
  }

 private:
  static asio::awaitable<std::shared_ptr<const Stored>> Read(GatewayContext& ctx) {
    auto out = std::make_shared<Stored>();
    if (ctx.cluster_node.empty()) {
      out->ok = !co_await ctx.db.Ping();
      co_return out;
    }
    auto rows = co_await store::ListLeases(ctx.db);
    if (!rows) {
      out->ok = false;
      co_return out;
    }
    std::vector<std::string> others;
    for (auto& row : *rows) {
      if (!ctx.workers.Find(row.device_id)) others.push_back(row.device_id);
      out->leases.emplace(row.device_id, std::move(row));
    }
    auto states = co_await store::DeviceStatesOf(ctx.db, std::move(others));
    out->ok = static_cast<bool>(states);
    if (states) {
      for (auto& s : *states) out->remote.emplace(s.device_id, std::move(s));
    }
    co_return out;
  }

  std::mutex mutex_;
  std::shared_ptr<const Stored> stored_;
  std::chrono::steady_clock::time_point stored_at_{};
  bool refreshing_ = false;
  std::shared_ptr<const Listing> listing_;
  std::chrono::steady_clock::time_point listing_at_{};
};

template <class Map>
auto FindIn(const Map& map, const std::string& id) -> decltype(&map.begin()->second) {
  auto it = map.find(id);
  return it == map.end() ? nullptr : &it->second;
}

/// A reader polled here, from memory: its snapshot, with the newest seq the feed saw for it.
json::object LocalDeviceJson(GatewayContext& ctx, poll::ReaderSnapshot s,
                             const std::unordered_map<std::string, std::int64_t>& feed_seqs,
                             const DeviceDirectory::Stored& stored) {
  if (auto it = feed_seqs.find(s.id); it != feed_seqs.end()) {
    s.last_seq = std::max(s.last_seq.value_or(0), it->second);
  }
  auto o = DeviceJson(s);
  MarkLocal(ctx, o, FindIn(stored.leases, s.id));
  return o;
}

/// If-None-Match (RFC 9110 13.1.2): "*" or a list of entity tags, compared weakly.
bool NoneMatch(std::string_view header, std::string_view etag) {
  while (true) {
    while (!header.empty() && (header[0] == ' ' || header[0] == '\t' || header[0] == ',')) {
      header.remove_prefix(1);
    }
    if (header.empty()) return false;
    if (header[0] == '*') return true;
    if (header.substr(0, 2) == "W/") header.remove_prefix(2);
    if (header.empty() || header[0] != '"') return false;
    const auto end = header.find('"', 1);
    if (end == std::string_view::npos) return false;
    if (header.substr(0, end + 1) == etag) return true;
    header.remove_prefix(end + 1);
  }
}

asio::awaitable<Response> ListDevices(GatewayContext& ctx,
                                      std::shared_ptr<DeviceDirectory> directory,
                                      Request& request) {
  auto stored = co_await directory->Get(ctx);
  auto listing = directory->Fresh();
  if (!listing) {
    const auto feed_seqs =
        ctx.feed ? ctx.feed->LastSeqs() : std::unordered_map<std::string, std::int64_t>{};
    json::array items;
    std::set<std::string> local;
    auto snapshots = ctx.workers.Snapshots();
    items.reserve(snapshots.size() + stored->leases.size());
    for (auto& s : snapshots) {
      local.insert(s.id);
      items.push_back(LocalDeviceJson(ctx, std::move(s), feed_seqs, *stored));
    }
    for (const auto& [id, lease] : stored->leases) {
      if (!local.count(id)) items.push_back(RemoteDeviceJson(lease, FindIn(stored->remote, id)));
    }
    // Without the database the live state is still worth serving: say what is missing.
    listing = directory->SetListing(json::serialize(json::object{
        {"items", std::move(items)}, {"database", stored->ok ? "ok" : "unreachable"}}));
  }
  Response r;
  r.headers.emplace_back("ETag", listing->etag);
  if (!request.if_none_match.empty() && NoneMatch(request.if_none_match, listing->etag)) {
    r.status = 304;
    co_return r;
  }
  r.shared_body = listing->body;
  co_return r;
}

asio::awaitable<Response> GetDevice(GatewayContext& ctx, std::shared_ptr<DeviceDirectory> directory,
                                    Request& request) {
  const auto& id = request.path_params.at("id");
  auto worker = ctx.workers.Find(id);
  if (ctx.cluster_node.empty() && !worker) {
    co_return NotFound("no configured reader with id '" + id + "'");
  }
  auto stored = co_await directory->Get(ctx);
  const auto feed_seqs =
      ctx.feed ? ctx.feed->LastSeqs() : std::unordered_map<std::string, std::int64_t>{};
  if (worker) co_return Json(LocalDeviceJson(ctx, worker->Snapshot(), feed_seqs, *stored));
  if (const auto* lease = FindIn(stored->leases, id)) {
    co_return Json(RemoteDeviceJson(*lease, FindIn(stored->remote, id)));
  }
  if (!stored->ok) co_return DbProblem(make_error_code(Errc::kDbUnavailable));
  co_return NotFound("no configured reader with id '" + id + "'");
}

asio::awaitable<Response> ListEvents(GatewayContext& ctx, Request& request) {
  store::EventQuery query;
  if (auto bad = ParseEventQuery(request, query)) co_return *bad;
  // The newest events come from the streams' window when it holds the whole range (the same
  // body, byte for byte: tests/pg/event_feed_test.cpp); in cluster mode other instances' commits
  // reach the window up to 1 s late, so the listing asks PostgreSQL there.
  if (ctx.feed && ctx.cluster_node.empty()) {
    if (auto body = ctx.feed->Page(query)) {
      Response r;
      r.body = std::move(*body);
      co_return r;
    }
  }
  auto page = co_await store::ListEvents(ctx.db, query);
  if (!page) co_return DbProblem(page.error());
  Response r;
  r.body = EventPageBody(page->events, page->next);
  co_return r;
}

using StreamClock = std::chrono::steady_clock;
constexpr auto kIdlePoll = std::chrono::milliseconds(1000);
constexpr auto kFallbackPoll = std::chrono::milliseconds(250);  // without a CommitSignal
constexpr auto kMinGap = std::chrono::milliseconds(20);
constexpr auto kHeartbeat = std::chrono::seconds(15);

/// The writing end of one event stream, in the stream's frame: counts the stream while it is
/// open (StreamLimiter, metrics), writes, sends a heartbeat comment when idle, and says why the
/// stream ended.
class StreamOut {
 public:
  StreamOut(GatewayContext& ctx, StreamLimiter& streams, StreamWriter& writer)
      : ctx_(ctx), writer_(writer) {
    slot_.emplace(streams);
    if (ctx_.api_metrics) ctx_.api_metrics->StreamOpened();
  }
  ~StreamOut() {
    slot_.reset();
    if (ctx_.api_metrics) ctx_.api_metrics->StreamClosed(reason_);
  }
  StreamOut(const StreamOut&) = delete;
  StreamOut& operator=(const StreamOut&) = delete;

  /// false: the write failed and the stream ends; the client resumes from its Last-Event-ID.
  asio::awaitable<bool> Write(std::string data) {
    auto ec = co_await writer_.Write(std::move(data));
    if (ec == asio::error::timed_out) reason_ = "slow_consumer";
    last_write_ = StreamClock::now();
    co_return !ec;
  }
  /// A heartbeat comment when nothing was written for kHeartbeat; false as Write.
  asio::awaitable<bool> HeartbeatIfIdle() {
    if (StreamClock::now() - last_write_ < kHeartbeat) co_return true;
    co_return co_await Write(": heartbeat\n\n");
  }
  /// Ends the stream for `reason` with a last `frame` (its write may fail: the stream ends).
  asio::awaitable<void> EndWith(std::string reason, std::string frame) {
    reason_ = std::move(reason);
    co_await writer_.Write(std::move(frame));
  }

 private:
  GatewayContext& ctx_;
  StreamWriter& writer_;
  std::optional<StreamLimiter::Slot> slot_;
  std::string reason_ = "client_gone";
  StreamClock::time_point last_write_ = StreamClock::now();
};

/// After a query: waits until something was committed (CommitSignal generation past `seen`, at
/// most kIdlePoll) but no sooner than kMinGap after `queried`; without a signal, kFallbackPoll.
asio::awaitable<void> WaitForCommits(GatewayContext& ctx, std::uint64_t seen,
                                     StreamClock::time_point queried, asio::steady_timer& timer) {
  if (ctx.commits) {
    co_await ctx.commits->Wait(seen, kIdlePoll);
    if (auto since = StreamClock::now() - queried; since < kMinGap) {
      timer.expires_after(kMinGap - since);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  } else {
    timer.expires_after(kFallbackPoll);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

/// Server-Sent Events from `query.after` on: every committed event matching the filters, in seq
/// order, `id:` = seq, then new ones as they are committed. A stream queries PostgreSQL when the
/// CommitSignal says something was committed (at most every kMinGap, so a burst of commits costs
/// one query), and at least every kIdlePoll (events committed by other instances). Idle: a
/// heartbeat comment every 15 s. A consumer that stops reading makes a write time out (the
/// server's write deadline): the stream ends and the client resumes with Last-Event-ID. Memory
/// per subscriber is one page.
asio::awaitable<void> StreamEvents(GatewayContext& ctx, std::shared_ptr<StreamLimiter> streams,
                                   store::EventQuery query, StreamWriter& writer) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  query.limit = 500;
  StreamOut out(ctx, *streams, writer);
  if (!co_await out.Write("retry: 2000\n: ef45-gatewayd event stream\n\n")) co_return;
  while (true) {
    // Caught up to the shared feed: copy frames out of it, no query of our own.
    if (ctx.feed) {
      const auto seen_feed = ctx.feed->generation();
      auto read = ctx.feed->Read(query, query.after, static_cast<std::size_t>(query.limit));
      if (read.covered) {
        query.after = read.next;
        if (read.events > 0) {
          if (!co_await out.Write(std::move(read.frames))) co_return;
          continue;
        }
        if (!co_await out.HeartbeatIfIdle()) co_return;
        co_await ctx.feed->Wait(seen_feed, kIdlePoll);
        continue;
      }
    }
    // Behind the feed's window (or no feed): read PostgreSQL until caught up.
    const std::uint64_t seen = ctx.commits ? ctx.commits->generation() : 0;
    const auto queried = StreamClock::now();
    auto page = co_await store::ListEvents(ctx.db, query);
    if (!page) {
      // Database unavailable: tell the client and end; it resumes from its Last-Event-ID.
      co_await out.EndWith("database_unavailable",
                           "event: error\ndata: {\"type\":\"database-unavailable\"}\n\n");
      co_return;
    }
    if (!page->events.empty()) {
      std::string chunk;
      for (const auto& e : page->events) AppendSseFrame(chunk, e);
      if (!co_await out.Write(std::move(chunk))) co_return;
      query.after = page->next;
      if (static_cast<int>(page->events.size()) == query.limit) continue;  // more waiting
    }
    if (!co_await out.HeartbeatIfIdle()) co_return;
    co_await WaitForCommits(ctx, seen, queried, timer);
  }
}

asio::awaitable<Response> OpenEventStream(GatewayContext& ctx,
                                          std::shared_ptr<StreamLimiter> streams,
                                          Request& request) {
  store::EventQuery query;
  if (auto bad = ParseEventQuery(request, query)) co_return *bad;
  if (!request.last_event_id.empty()) {
    // A reconnecting EventSource sends the last id it saw: it wins over ?after=.
    if (!ParseInt64(request.last_event_id, query.after) || query.after < 0) {
      co_return BadRequest("Last-Event-ID", "must be an event seq (a non-negative integer)");
    }
  }
  if (streams->Full()) {
    auto busy = Problem(429, "too-many-streams", "Too many event streams",
                        "the gateway serves " + std::to_string(streams->limit()) +
                            " streams at most; retry later or page with /api/v1/events");
    busy.headers.emplace_back("Retry-After", "5");
    co_return busy;
  }
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.stream = [&ctx, streams = std::move(streams), query](StreamWriter& writer) {
    return StreamEvents(ctx, streams, query, writer);
  };
  co_return r;
}

}  // namespace

void AddGatewayRoutes(Router& router, GatewayContext& ctx) {
  // The lambdas only bind the context; the coroutines are plain functions (STYLE: async).
  auto bind = [&ctx](asio::awaitable<Response> (*fn)(GatewayContext&, Request&)) -> Handler {
    return [&ctx, fn](Request& request) { return fn(ctx, request); };
  };
  // The routes own the stream count; a stream in flight keeps it alive.
  auto streams = std::make_shared<StreamLimiter>(ctx.max_streams);
  const Role health = ctx.open_health ? Role::kNone : Role::kRead;
  router.Add("GET", "/healthz", health, Healthz);
  router.Add("GET", "/readyz", health, bind(Readyz));
  router.Add("GET", "/metrics", ctx.open_metrics ? Role::kNone : Role::kRead, bind(Metrics));
  // The routes own the device view (a request in flight keeps it alive).
  auto directory = std::make_shared<DeviceDirectory>();
  router.Add("GET", "/api/v1/devices", Role::kRead,
             [&ctx, directory](Request& request) { return ListDevices(ctx, directory, request); });
  router.Add("GET", "/api/v1/devices/{id}", Role::kRead,
             [&ctx, directory](Request& request) { return GetDevice(ctx, directory, request); });
  router.Add("GET", "/api/v1/events", Role::kRead, bind(ListEvents));
  router.Add("GET", "/api/v1/events/stream", Role::kRead,
             [&ctx, streams](Request& request) { return OpenEventStream(ctx, streams, request); });
}

}  // namespace gw::api
