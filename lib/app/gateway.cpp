// The running gateway: what starts in which order, how it reloads and how it stops. The daemon
// (daemon/main.cpp) only parses argv and calls the commands at the end of this file.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/audit.hpp"
#include "api/auth.hpp"
#include "api/commit_signal.hpp"
#include "api/event_feed.hpp"
#include "api/gateway_routes.hpp"
#include "api/server.hpp"
#include "api/user_routes.hpp"
#include "app/commands.hpp"
#include "app/data_protection.hpp"
#include "app/options.hpp"
#include "cluster/cluster_metrics.hpp"
#include "cluster/lease_manager.hpp"
#include "common/log.hpp"
#include "common/memory.hpp"
#include "common/run_blocking.hpp"
#include "common/systemd.hpp"
#include "common/task_failure.hpp"
#include "common/version.hpp"
#include "config/config.hpp"
#include "fleet/fleet_metrics.hpp"
#include "fleet/fleet_routes.hpp"
#include "fleet/rollout.hpp"
#include "fleet/rollout_routes.hpp"
#include "fleet/settings_audit.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/metrics.hpp"
#include "metrics/poll_metrics.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/migrate.hpp"
#include "store/queries.hpp"
#include "store/users.hpp"
#include "sync/sync_manager.hpp"
#include "sync/sync_metrics.hpp"
#include "webhook/dispatcher.hpp"
#include "webhook/webhook_metrics.hpp"
#include "webhook/webhook_routes.hpp"

namespace gw::app {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

/// A long-lived coroutine of the gateway ends here: a failure is logged and counted.
auto LogFailure(std::string_view task) { return gw::LogFailure("gatewayd", task); }

/// ef45gw_coroutine_failures_total{task}: the process-wide count kept by ReportTaskFailure
/// (lib/common cannot reach the registry), read on each scrape.
class TaskFailureCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto failures = TaskFailures();
    if (failures.empty()) return {};  // no family without a sample
    prometheus::MetricFamily family;
    family.name = "ef45gw_coroutine_failures_total";
    family.help = "Long-lived coroutines (pollers, lease rounds, loops) ended by an exception.";
    family.type = prometheus::MetricType::Counter;
    for (const auto& [task, count] : failures) {
      prometheus::ClientMetric metric;
      metric.label.push_back({"task", task});
      metric.counter.value = static_cast<double>(count);
      family.metric.push_back(std::move(metric));
    }
    return {std::move(family)};
  }
};

std::optional<config::Config> Load(const std::string& path) {
  try {
    return config::LoadFile(path);
  } catch (const config::ConfigError& e) {
    std::cerr << path << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

/// The running gateway: what starts in which order, and how it stops.
class Gateway {
 public:
  Gateway(std::string config_path, config::Config config,
          std::shared_ptr<const crypto::DataKeys> keys)
      : config_path_(std::move(config_path)),
        config_(std::move(config)),
        keys_(std::move(keys)),
        io_(config_.io_threads),
        build_metrics_(registry_.get()),
        poll_metrics_(registry_),
        api_metrics_(registry_.get()),
        store_metrics_(registry_, [this] { return WriterCounters(); }),
        db_(DatabaseOptionsFor(config_.database.pool_size)),
        api_db_(DatabaseOptionsFor(config_.database.pool_size)),
        writer_(io_.get_executor(), db_,
                Fenced(WriterOptionsFor(config_.store, store_metrics_, poll_metrics_, commits_))),
        workers_(io_.get_executor(), poll::WorkerDeps{db_, writer_, &poll_metrics_,
                                                      config_.io_threads == 1, &fetch_gate_}),
        auth_(config_.api.tokens),
        router_(MakeAuthenticator()),
        context_{api_db_,
                 workers_,
                 registry_,
                 [this] { return started_.load(); },
                 &api_metrics_,
                 /*owner_url=*/nullptr},
        signals_(io_, SIGTERM, SIGINT, SIGHUP) {
    registry_.AddCollectable(std::make_shared<TaskFailureCollector>());
    context_.commits = &commits_;
    context_.feed = &feed_;
    context_.open_metrics = config_.api.open_metrics;
    context_.max_streams = MaxStreams(config_.api);
    context_.max_reader_ops = config_.api.max_reader_ops;
    context_.open_health = config_.api.open_health;
    if (config_.cluster.enabled()) {
      cluster_metrics_ = std::make_unique<cluster::ClusterMetrics>(
          registry_, config_.cluster.node_id, [this] { return writer_.Stats().fenced_batches; });
      auto cluster = ClusterOptionsFor(config_.cluster);
      // Batches of readers given up during a PostgreSQL outage are dropped, not kept waiting.
      cluster.leases_dropped = [this] { writer_.LeasesChanged(); };
      leases_ = std::make_unique<cluster::LeaseManager>(
          io_.get_executor(), db_, std::move(cluster),
          [this](std::vector<config::ReaderConfig> owned) { return ApplyOwned(std::move(owned)); },
          cluster_metrics_.get());
      context_.owner_url = [this](const std::string& id) { return leases_->OwnerUrl(id); };
      context_.cluster_node = config_.cluster.node_id;
      context_.tls = config_.api.tls.enabled();
    }
    router_.SetAuditSink(api::MakeAuditSink(api_db_, &commits_, &api_metrics_));
    api::AddGatewayRoutes(router_, context_);
    api::AddReaderRoutes(router_, context_);
    if (config_.sync.enabled) {
      // User sync has its own small pool: its rounds never queue ahead of commits or the API.
      sync_db_ = std::make_unique<store::Database>(DatabaseOptionsFor(2));
      sync_metrics_ = std::make_unique<sync::SyncMetrics>(registry_.get());
      sync_ =
          std::make_unique<sync::SyncManager>(io_.get_executor(), *sync_db_, workers_,
                                              SyncOptionsFor(config_.sync), sync_metrics_.get());
    }
    user_context_ = std::make_unique<api::UserRoutesContext>(api_db_, workers_, sync_.get());
    api::AddUserRoutes(router_, *user_context_);
    AddWebhooks();
    AddFleet();
    AddRollouts();
    server_ = std::make_unique<api::Server>(
        io_.get_executor(), ServerOptionsFor(config_.api), router_,
        [this](const std::string& route, const std::string& method, int status,
               std::chrono::duration<double> elapsed) {
          api_metrics_.ObserveRequest(route, method, status, elapsed.count());
        });
  }

  int Run() {
    // The configuration was validated: without tokens we listen on loopback, or the operator
    // said api.insecure_open (DESIGN.md invariant 7).
    if (config_.api.tokens.empty()) {
      const bool loopback = config::IsLoopback(config_.api.listen_host);
      api_metrics_.SetInsecure(!loopback);
      GW_LOG(kWarn, "gatewayd") << "api.tokens is empty: the API on " << config_.api.listen_host
                                << ":" << config_.api.listen_port
                                << (loopback ? " is open to every local caller (admin)"
                                             : " is open to EVERY caller on the network (admin) "
                                               "because api.insecure_open is set")
                                << "; configure api.tokens";
    }
    try {
      server_->Start();  // /healthz answers at once; /readyz says 503 until start-up is done
    } catch (const std::exception& e) {
      GW_LOG(kError, "gatewayd") << "cannot listen on " << config_.api.listen_host << ":"
                                 << config_.api.listen_port << ": " << e.what();
      return 1;
    }
    writer_.Start();
    feed_.Start(io_.get_executor());
    asio::co_spawn(control_, Startup(), [this](std::exception_ptr e) {
      LogFailure("start-up")(e);
      if (e) {
        exit_code_ = 1;
        asio::co_spawn(control_, Shutdown(), LogFailure("shutdown"));
      }
    });
    asio::co_spawn(control_, Signals(), LogFailure("signals"));
    asio::co_spawn(control_, DatabaseHealth(), LogFailure("database health"));
    asio::co_spawn(control_, TrimMemory(), LogFailure("memory trim"));
    if (auto interval = systemd::WatchdogInterval()) {
      asio::co_spawn(control_, Watchdog(*interval), LogFailure("watchdog"));
    }
    // Strands serialise each reader, each API connection and each module's state, so more
    // threads only run more of them at once (io_threads, default 1).
    std::vector<std::thread> extra;
    for (int i = 1; i < config_.io_threads; ++i) extra.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : extra) t.join();
    return exit_code_;
  }

  void PrintRoutes(std::ostream& out) const {
    constexpr const char* kRoles[] = {"none", "read", "operate", "admin"};
    for (const auto& r : router_.routes()) {
      out << r.method << " " << r.path_template << " " << kRoles[static_cast<int>(r.required)]
          << "\n";
    }
  }

 private:
  /// Every Database of the gateway seals and opens users with the same keys.
  store::DatabaseOptions DatabaseOptionsFor(int pool_size) const {
    store::DatabaseOptions o{config_.database.dsn, pool_size};
    o.keys = keys_;
    return o;
  }

  /// Start-up refuses users stored under a key the key file lacks (DataProtectionError text).
  asio::awaitable<bool> CheckDataKeys() {
    auto inventory = co_await RunBlocking(db_.BlockingPool(),
                                          [this] { return store::KeyInventoryBlocking(db_); });
    if (!inventory) {
      GW_LOG(kError, "gatewayd") << "data keys: cannot list the keys in use: "
                                 << inventory.error().message();
      co_return false;
    }
    std::string warning;
    auto problem = CheckStoredKeys(*inventory, keys_.get(), &warning);
    if (!warning.empty()) {
      GW_LOG(kWarn, "gatewayd") << "data keys: " << warning;
    }
    if (problem.empty()) co_return true;
    GW_LOG(kError, "gatewayd") << "data keys: " << problem;
    co_return false;
  }

  /// No configured token: every caller is admin (a warning at start-up says so). Tokens are
  /// re-read on SIGHUP (Reload).
  api::Authenticator MakeAuthenticator() {
    open_ = config_.api.tokens.empty();
    return [this](std::string_view authorization) -> api::Caller {
      if (open_.load()) return api::Caller(api::Role::kAdmin);
      return auth_.Identify(authorization);
    };
  }

  /// Webhooks (issue 19): a small pool of their own (deliveries never queue ahead of commits),
  /// delivered under per-subscription leases named after the cluster node (or "standalone").
  void AddWebhooks() {
    std::string why;
    auto allow = webhook::AllowList::Parse(config_.webhooks.allow, why);
    if (!allow) throw std::runtime_error("webhooks.allow: " + why);  // config validated it
    webhook::DispatcherOptions options;
    if (config_.cluster.enabled()) {
      options.node = config_.cluster.node_id;
      options.lease = config_.cluster.lease;
      options.renew = config_.cluster.renew;
    }
    options.timeout = config_.webhooks.timeout;
    options.max_backoff = config_.webhooks.max_backoff;
    options.disable_after = config_.webhooks.disable_after;
    options.allow = *allow;
    // Secrets sealed. Four connections: each subscription's next read overlaps the others' (and
    // the committer's batch); with two, a few hundred deliveries/s queued for a connection.
    webhook_db_ = std::make_unique<store::Database>(DatabaseOptionsFor(4));
    webhook_metrics_ = std::make_unique<webhook::WebhookMetrics>(registry_.get());
    // Its deliveries share state without locks: one strand keeps them in turn with io_threads > 1.
    webhooks_ =
        std::make_unique<webhook::Dispatcher>(asio::make_strand(io_), *webhook_db_, &commits_,
                                              std::move(options), webhook_metrics_.get());
    webhook_context_.reset(new webhook::WebhookRoutesContext{api_db_, webhooks_.get(), *allow});
    webhook::AddWebhookRoutes(router_, *webhook_context_);
  }
  // ---- fleet: setting profiles and clock sync (issue 20) ----
  /// Always built (cheap when nothing is configured: no reader is read), so that a SIGHUP can
  /// add profiles. Audits go through the WorkerSet: in a cluster, the readers this node owns.
  void AddFleet() {
    fleet_db_ = std::make_unique<store::Database>(DatabaseOptionsFor(1));  // audit events only
    fleet_metrics_ = std::make_unique<fleet::FleetMetrics>(registry_.get());
    fleet_ = std::make_unique<fleet::SettingsAudit>(io_.get_executor(), *fleet_db_, workers_,
                                                    config_.fleet, fleet_metrics_.get(),
                                                    [this] { commits_.Notify(); });
    fleet_context_ =
        std::make_unique<fleet::FleetRoutesContext>(fleet::FleetRoutesContext{*fleet_});
    fleet::AddFleetRoutes(router_, *fleet_context_);
  }
  // ---- end fleet ----
  // ---- firmware rollout (issue 20) ----
  /// Staged firmware rollouts: a small pool of their own (an image upload never queues ahead of
  /// commits); the engine acts on the readers this instance polls.
  void AddRollouts() {
    rollout_db_ = std::make_unique<store::Database>(DatabaseOptionsFor(2));
    fleet::RolloutOptions options;
    options.check = config_.firmware.check;
    options.node = config_.cluster.node_id;
    rollouts_ = std::make_unique<fleet::RolloutEngine>(
        io_.get_executor(), *rollout_db_, workers_, std::move(options),
        api::MakeAuditSink(api_db_, &commits_, &api_metrics_), &registry_.get());
    rollout_context_.reset(new fleet::RolloutRoutesContext{
        *rollout_db_, [this] { return config_.readers; }, config_.firmware.max_image_bytes,
        [this](const std::string& id) -> std::optional<std::string> {
          auto worker = workers_.Find(id);
          return worker ? worker->Snapshot().app_version : std::nullopt;
        }});
    fleet::AddRolloutRoutes(router_, *rollout_context_);
  }
  // ---- end firmware rollout ----

  /// Cluster mode: every write checks this node's lease on its reader (DESIGN.md section 9).
  store::WriterOptions Fenced(store::WriterOptions o) {
    if (!config_.cluster.enabled()) return o;
    o.fence_owner = config_.cluster.node_id;
    o.lease_epoch = [this](const std::string& id) -> std::optional<std::int64_t> {
      return leases_ ? leases_->EpochOf(id) : std::nullopt;
    };
    return o;
  }

  /// Cluster mode: the lease manager's ownership changes go through the WorkerSet.
  asio::awaitable<void> ApplyOwned(std::vector<config::ReaderConfig> owned) {
    co_await workers_.Apply(std::move(owned), config_.shutdown_deadline);
  }

  metrics::WriterCounters WriterCounters() const {
    auto s = writer_.Stats();
    return {s.transactions,          s.failed_attempts,   s.rejected_batches,   s.events_inserted,
            s.events_enriched,       s.events_ignored,    s.queued_events,      s.waiting_batches,
            db_.ConnectionsOpened(), fetch_gate_.InUse(), fetch_gate_.Waiting()};
  }

  /// ef45gw_db_up: PostgreSQL answers, checked every 10 s (and by /readyz on demand).
  asio::awaitable<void> DatabaseHealth() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      auto ec = co_await db_.Ping();
      store_metrics_.SetDatabaseUp(!ec);
      timer.expires_after(std::chrono::seconds(10));
      co_await timer.async_wait(kTuple);
    }
  }

  asio::awaitable<void> Startup() {
    if (!co_await PrepareSchema()) co_return;
    if (!co_await CheckDataKeys()) {
      exit_code_ = 1;
      asio::co_spawn(control_, Shutdown(), LogFailure("shutdown"));
      co_return;
    }
    if (sync_) sync_->Start();  // follows the WorkerSet: the readers this instance polls
    fleet_->Start();            // likewise (fleet: setting profiles and clock sync)
    webhooks_->Start();
    rollouts_->Start();  // issue 20: resumes the rollouts in PostgreSQL
    if (leases_) {
      // The lease rounds decide which readers this node polls (a share of the fleet).
      leases_->Start(config_.readers);
      started_ = true;
      GW_LOG(kInfo, "gatewayd") << "ef45-gatewayd " << Version() << " cluster node "
                                << config_.cluster.node_id << " sharing " << config_.readers.size()
                                << " readers; API on " << config_.api.listen_host << ":"
                                << server_->port();
      systemd::NotifyReady();
      systemd::NotifyStatus("cluster node " + config_.cluster.node_id);
      if (config_.store.retention_days > 0) {
        asio::co_spawn(control_, Retention(), LogFailure("retention"));
      }
      co_return;
    }
    auto report = co_await workers_.Apply(config_.readers, config_.shutdown_deadline);
    started_ = true;
    GW_LOG(kInfo, "gatewayd") << "ef45-gatewayd " << Version() << " polling " << report.added.size()
                              << " readers; API on " << config_.api.listen_host << ":"
                              << server_->port();
    systemd::NotifyReady();
    systemd::NotifyStatus("polling " + std::to_string(workers_.size()) + " readers");
    if (config_.store.retention_days > 0) {
      asio::co_spawn(control_, Retention(), LogFailure("retention"));
    }
  }

  /// Migrations (or a schema check) before anything is polled; waits for PostgreSQL.
  asio::awaitable<bool> PrepareSchema() {
    auto delay = milliseconds(500);
    asio::steady_timer timer(io_);
    while (!stopping_) {
      std::string problem;
      boost::system::error_code ec;
      if (config_.database.migrate_on_start) {
        auto report = co_await RunBlocking(db_.BlockingPool(), [this, &problem] {
          return store::MigrateBlocking(config_.database.dsn, store::EmbeddedMigrations(),
                                        &problem);
        });
        if (report) {
          for (const auto& name : report->applied) {
            GW_LOG(kInfo, "gatewayd") << "applied migration " << name;
          }
          co_return true;
        }
        ec = report.error();
      } else {
        auto status = co_await RunBlocking(db_.BlockingPool(), [this] {
          return store::CheckSchemaBlocking(config_.database.dsn, store::EmbeddedMigrations());
        });
        if (status && status->Current()) co_return true;
        if (status) {
          problem = "the schema is not current (run `ef45-gatewayd migrate`)";
          ec = Errc::kConflict;
        } else {
          ec = status.error();
        }
      }
      if (ec != Errc::kDbUnavailable) {
        GW_LOG(kError, "gatewayd")
            << "database schema: " << ec.message() << (problem.empty() ? "" : ": " + problem);
        exit_code_ = 1;
        asio::co_spawn(control_, Shutdown(), LogFailure("shutdown"));
        co_return false;
      }
      GW_LOG(kWarn, "gatewayd") << "waiting for PostgreSQL: " << problem;
      timer.expires_after(delay);
      co_await timer.async_wait(kTuple);
      delay = std::min(delay * 2, milliseconds(10000));
    }
    co_return false;
  }

  asio::awaitable<void> Signals() {
    while (true) {
      auto [ec, signal] = co_await signals_.async_wait(kTuple);
      if (ec) co_return;
      if (signal == SIGHUP) {
        co_await Reload();
        continue;
      }
      GW_LOG(kInfo, "gatewayd") << "signal " << signal << ": shutting down";
      co_await Shutdown();
      co_return;
    }
  }

  asio::awaitable<void> Reload() {
    systemd::NotifyReloading();
    try {
      auto next = config::LoadFile(config_path_);
      // Tokens first: a revoked token stops working now, whatever else the reload does.
      auth_.Replace(next.api.tokens);
      open_ = next.api.tokens.empty();
      config_.api.tokens = next.api.tokens;
      GW_LOG(kInfo, "gatewayd") << "reloaded API tokens: " << next.api.tokens.size();
      fleet_->Reload(next.fleet);  // fleet: profiles, enforce and time sync apply at once
      GW_LOG(kInfo, "gatewayd") << "reloaded fleet profiles: " << next.fleet.profiles.size();
      if (leases_) {
        leases_->SetReaders(next.readers);  // the next lease round claims or releases
        config_.readers = next.readers;
        GW_LOG(kInfo, "gatewayd") << "reloaded readers: " << next.readers.size()
                                  << " in the fleet, shared through the cluster leases";
        systemd::NotifyReady();
        co_return;
      }
      auto report = co_await workers_.Apply(next.readers, config_.shutdown_deadline);
      config_.readers = next.readers;
      GW_LOG(kInfo, "gatewayd") << "reloaded readers: " << report.added.size() << " added, "
                                << report.removed.size() << " removed, " << report.restarted.size()
                                << " restarted, " << report.unchanged.size() << " unchanged"
                                << " (other settings take effect on restart)";
    } catch (const config::ConfigError& e) {
      GW_LOG(kError, "gatewayd") << "reload refused, keeping the running configuration: "
                                 << e.what();
    }
    systemd::NotifyReady();
  }

  asio::awaitable<void> Shutdown() {
    if (stopping_) co_return;
    stopping_ = true;
    systemd::NotifyStopping();
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    server_->Stop();
    feed_.Stop();
    co_await webhooks_->Stop();                           // gives the subscriptions' leases back
    co_await rollouts_->Stop(config_.shutdown_deadline);  // issue 20: before the pollers
    if (sync_) co_await sync_->Stop();                 // before the pollers: it uses their readers
    co_await fleet_->Stop(config_.shutdown_deadline);  // likewise
    // Pollers first (their last batches go to the writer), then the writer flushes. A poller
    // waiting on a commit that cannot happen (PostgreSQL down) would wait for ever: once the
    // pollers' deadline has passed, the writer fails what it has not begun to commit. Nothing of
    // that was acknowledged: the readers keep it for the next start.
    asio::steady_timer stuck(io_);
    stuck.expires_after(config_.shutdown_deadline);
    stuck.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      GW_LOG(kWarn, "gatewayd") << "pollers still waiting on commits at the shutdown deadline "
                                   "(PostgreSQL down?): their batches stay on the readers";
      writer_.BeginStop(milliseconds(0));
    });
    if (leases_) {
      // Stops every poller, then gives the leases back so the other nodes take over at once.
      co_await leases_->Stop();
    } else {
      co_await workers_.StopAll(config_.shutdown_deadline);
    }
    stuck.cancel();
    co_await writer_.Stop(config_.shutdown_deadline);
    GW_LOG(kInfo, "gatewayd") << "stopped";
    io_.stop();
  }

  /// Free heap memory back to the kernel every few seconds (issue 18: at 1,000 readers a third
  /// of the RSS was free holes left by short-lived buffers, which glibc keeps resident). Often
  /// enough to catch the start-up (every reader's first polls and sync rounds at once) before it
  /// sets the peak; a trim costs about a millisecond.
  asio::awaitable<void> TrimMemory() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      timer.expires_after(std::chrono::seconds(kTrimSeconds));
      co_await timer.async_wait(kTuple);
      if (stopping_) break;
      auto start = std::chrono::steady_clock::now();
      auto trim = memory::TrimFreeMemory();
      GW_LOG(kDebug, "gatewayd") << "memory trim: RSS " << trim.resident_before_bytes / 1024
                                 << " -> " << trim.resident_after_bytes / 1024 << " KiB in "
                                 << std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count()
                                 << " us";
    }
  }
  static constexpr int kTrimSeconds = 5;

  asio::awaitable<void> Watchdog(std::chrono::microseconds interval) {
    // Pinged from the event loop: a loop stuck for longer than WatchdogSec gets us restarted.
    asio::steady_timer timer(io_);
    while (!stopping_) {
      systemd::NotifyWatchdog();
      timer.expires_after(interval / 2);
      co_await timer.async_wait(kTuple);
    }
  }

  asio::awaitable<void> Retention() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      auto cutoff = std::chrono::time_point_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now() - std::chrono::days(config_.store.retention_days));
      auto removed = co_await store::DeleteEventsBefore(db_, cutoff, 5000, 200);
      if (removed && *removed > 0) {
        GW_LOG(kInfo, "gatewayd") << "retention: removed " << *removed << " events older than "
                                  << config_.store.retention_days << " days";
      }
      timer.expires_after(std::chrono::minutes(10));
      co_await timer.async_wait(kTuple);
    }
  }

  std::string config_path_;
  config::Config config_;
  std::shared_ptr<const crypto::DataKeys> keys_;  // null: security.plaintext_biometrics
  asio::io_context io_;
  // The gateway's own tasks (start-up, shutdown, signals, health, retention) take turns here:
  // with io_threads > 1 they must not run at once. Everything else has its own strands.
  asio::strand<asio::io_context::executor_type> control_{asio::make_strand(io_)};
  metrics::Registry registry_;
  metrics::BuildMetrics build_metrics_;
  metrics::PollMetrics poll_metrics_;
  metrics::ApiMetrics api_metrics_;
  metrics::StoreMetrics store_metrics_;
  api::CommitSignal commits_;
  store::Database db_;      // ingestion: the writer and the pollers
  store::Database api_db_;  // the façade's reads: API load never queues ahead of commits
  api::EventFeed feed_{api_db_, commits_,  // the newest events, shared by every stream
                       static_cast<std::size_t>(config_.api.stream_window),
                       static_cast<std::size_t>(config_.api.stream_window_bytes)};
  store::EventWriter writer_;
  poll::FetchGate fetch_gate_{config_.store.backlog_fetches};  // outlives the workers
  poll::WorkerSet workers_;
  std::unique_ptr<cluster::ClusterMetrics> cluster_metrics_;  // cluster mode only
  std::unique_ptr<cluster::LeaseManager> leases_;             // cluster mode only
  api::TokenAuthenticator auth_;
  std::atomic<bool> open_{false};  // no tokens configured: every caller is admin
  api::Router router_;
  api::GatewayContext context_;
  std::unique_ptr<api::Server> server_;
  asio::signal_set signals_;
  std::atomic<bool> started_{false};
  bool stopping_ = false;
  int exit_code_ = 0;
  std::unique_ptr<store::Database> sync_db_;         // user sync (sync.enabled)
  std::unique_ptr<sync::SyncMetrics> sync_metrics_;  // user sync
  std::unique_ptr<sync::SyncManager> sync_;          // user sync
  std::unique_ptr<api::UserRoutesContext> user_context_;
  std::unique_ptr<store::Database> webhook_db_;
  std::unique_ptr<webhook::WebhookMetrics> webhook_metrics_;
  std::unique_ptr<webhook::Dispatcher> webhooks_;
  std::unique_ptr<webhook::WebhookRoutesContext> webhook_context_;
  std::unique_ptr<store::Database> fleet_db_;  // fleet: audit events of enforcement
  std::unique_ptr<fleet::FleetMetrics> fleet_metrics_;
  std::unique_ptr<fleet::SettingsAudit> fleet_;
  std::unique_ptr<fleet::FleetRoutesContext> fleet_context_;
  std::unique_ptr<store::Database> rollout_db_;                   // issue 20: firmware rollout
  std::unique_ptr<fleet::RolloutEngine> rollouts_;                // issue 20
  std::unique_ptr<fleet::RolloutRoutesContext> rollout_context_;  // issue 20
};

}  // namespace

int Migrate(const std::string& path) {
  auto config = Load(path);
  if (!config) return 1;
  std::string problem;
  auto report = store::MigrateBlocking(config->database.dsn, store::EmbeddedMigrations(), &problem);
  if (!report) {
    std::cerr << "ef45-gatewayd: migrate failed: " << report.error().message()
              << (problem.empty() ? "" : ": " + problem) << "\n";
    return 1;
  }
  if (report->applied.empty()) {
    std::cout << "schema is current (version " << report->to << ")\n";
  } else {
    for (const auto& name : report->applied) std::cout << "applied " << name << "\n";
    std::cout << "schema version " << report->from << " -> " << report->to << "\n";
  }
  return 0;
}

int RunGateway(const std::string& path) {
  auto config = Load(path);
  if (!config) return 1;
  log::Level level{};
  if (log::ParseLevel(config->log_level, level)) log::SetLevel(level);
  std::shared_ptr<const crypto::DataKeys> keys;
  try {
    keys = LoadDataKeys(config->security);
  } catch (const DataProtectionError& e) {
    std::cerr << "ef45-gatewayd: " << e.what() << "\n";
    return 1;
  }
  if (!keys) {
    GW_LOG(kWarn, "gatewayd") << "security.plaintext_biometrics is set: iris templates, faces, "
                                 "PINs and cards are stored unencrypted";
  }
  memory::ConfigureAllocator();  // before the gateway starts its threads
  Gateway gateway(path, std::move(*config), std::move(keys));
  return gateway.Run();
}

int PrintRoutes(const std::string& path) {
  auto config = Load(path);
  if (!config) return 1;
  log::SetLevel(log::Level::kError);
  Gateway gateway(path, std::move(*config), nullptr);
  gateway.PrintRoutes(std::cout);
  return 0;
}

int CheckConfig(const std::string& path) {
  try {
    auto config = config::LoadFile(path);
    auto keys = LoadDataKeys(config.security);
    std::cout << path << ": ok (" << config.readers.size() << " readers"
              << (keys ? "; data key " + keys->current_id() : "; biometrics in plaintext") << ")\n";
    return 0;
  } catch (const config::ConfigError& e) {
    std::cerr << path << ": " << e.what() << "\n";
    return 1;
  } catch (const DataProtectionError& e) {
    std::cerr << path << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace gw::app
