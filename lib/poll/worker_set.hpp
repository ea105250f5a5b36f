#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "poll/device_worker.hpp"

namespace gw::poll {

/// What a reload changed.
struct ReloadReport {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> restarted;  ///< same id, new address or settings
  std::vector<std::string> unchanged;
};

/// The DeviceWorkers of the configured readers. Apply() brings the running set to a new reader
/// list (start-up and SIGHUP): added readers start, removed ones stop and release their lock,
/// changed ones restart, unchanged ones are not touched. Thread-safe.
class WorkerSet {
 public:
  WorkerSet(boost::asio::any_io_executor executor, WorkerDeps deps);
  ~WorkerSet();

  boost::asio::awaitable<ReloadReport> Apply(std::vector<config::ReaderConfig> readers,
                                             std::chrono::milliseconds stop_deadline);
  /// Stops every worker (in parallel), each releasing its reader's lock.
  boost::asio::awaitable<void> StopAll(std::chrono::milliseconds deadline);

  std::vector<ReaderSnapshot> Snapshots() const;
  /// The worker of reader `id` (nullptr if none). The pointer stays valid until the next Apply
  /// or StopAll: hold the shared_ptr for longer use.
  std::shared_ptr<DeviceWorker> Find(const std::string& id) const;
  std::size_t size() const;
  /// Moves whenever the set of workers changes (after the change): a Find result taken after
  /// reading it stays current while it has not moved.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  boost::asio::awaitable<void> StopWorkers(std::vector<std::shared_ptr<DeviceWorker>> workers,
                                           std::chrono::milliseconds deadline);

  boost::asio::any_io_executor executor_;
  WorkerDeps deps_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<DeviceWorker>> workers_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace gw::poll
