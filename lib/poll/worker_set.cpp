#include "poll/worker_set.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "common/task_failure.hpp"
#include "common/wait_group.hpp"

namespace gw::poll {

namespace asio = boost::asio;

namespace {

bool SameSettings(const config::ReaderConfig& a, const config::ReaderConfig& b) {
  const auto& p = a.polling;
  const auto& q = b.polling;
  return a.host == b.host && a.port == b.port && p.door == q.door && p.match == q.match &&
         p.logs == q.logs && p.health == q.health && p.timeout == q.timeout &&
         p.logs_page == q.logs_page && p.backoff_max == q.backoff_max &&
         a.lock.on_conflict == b.lock.on_conflict && a.lock.retry == b.lock.retry;
}

}  // namespace

WorkerSet::WorkerSet(asio::any_io_executor executor, WorkerDeps deps)
    : executor_(std::move(executor)), deps_(deps) {}

WorkerSet::~WorkerSet() = default;

asio::awaitable<void> WorkerSet::StopWorkers(std::vector<std::shared_ptr<DeviceWorker>> workers,
                                             std::chrono::milliseconds deadline) {
  if (workers.empty()) co_return;
  // Stop them in parallel: 1,000 readers each releasing a lock must not take 1,000 round trips.
  auto ex = co_await asio::this_coro::executor;
  WaitGroup stopped;  // outlives every Done(): this coroutine waits for all of them
  stopped.Add(workers.size());
  for (auto& w : workers) {
    asio::co_spawn(ex, w->Stop(deadline), [&stopped](std::exception_ptr e) {
      ReportTaskFailure("poll", "stop poller", e);
      stopped.Done();
    });
  }
  co_await stopped.Wait();
}

asio::awaitable<ReloadReport> WorkerSet::Apply(std::vector<config::ReaderConfig> readers,
                                               std::chrono::milliseconds stop_deadline) {
  ReloadReport report;
  std::vector<std::shared_ptr<DeviceWorker>> to_stop;
  std::vector<std::shared_ptr<DeviceWorker>> to_start;
  std::map<std::string, std::shared_ptr<DeviceWorker>> next;
  {
    std::lock_guard lock(mutex_);
    for (auto& reader : readers) {
      auto it = workers_.find(reader.id);
      if (it != workers_.end() && SameSettings(it->second->reader(), reader)) {
        report.unchanged.push_back(reader.id);
        next.emplace(reader.id, it->second);
        continue;
      }
      if (it != workers_.end()) {
        report.restarted.push_back(reader.id);
        to_stop.push_back(it->second);
      } else {
        report.added.push_back(reader.id);
      }
      auto id = reader.id;
      auto worker = std::make_shared<DeviceWorker>(executor_, deps_, std::move(reader));
      to_start.push_back(worker);
      next.emplace(std::move(id), std::move(worker));
    }
    for (auto& [id, worker] : workers_) {
      if (!next.count(id)) {
        report.removed.push_back(id);
        to_stop.push_back(worker);
      }
    }
  }
  // A restarted reader's old worker must let go of the lock before the new one asks for it.
  co_await StopWorkers(to_stop, stop_deadline);
  {
    std::lock_guard lock(mutex_);
    workers_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  for (auto& w : to_start) w->Start();
  co_return report;
}

asio::awaitable<void> WorkerSet::StopAll(std::chrono::milliseconds deadline) {
  std::vector<std::shared_ptr<DeviceWorker>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, w] : workers_) all.push_back(w);
  }
  co_await StopWorkers(std::move(all), deadline);
}

std::vector<ReaderSnapshot> WorkerSet::Snapshots() const {
  std::vector<ReaderSnapshot> out;
  std::lock_guard lock(mutex_);
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) out.push_back(w->Snapshot());
  return out;
}

std::shared_ptr<DeviceWorker> WorkerSet::Find(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : it->second;
}

std::size_t WorkerSet::size() const {
  std::lock_guard lock(mutex_);
  return workers_.size();
}

}  // namespace gw::poll
