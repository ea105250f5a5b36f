#include "common/task_failure.hpp"

#include <mutex>

#include "common/log.hpp"

namespace gw {
namespace {

// Failures are rare and the task names few: a map under a mutex is plenty.
std::mutex failures_mutex;
std::map<std::string, std::uint64_t, std::less<>> failures;

}  // namespace

void ReportTaskFailure(std::string_view component, std::string_view task, std::exception_ptr e,
                       std::string_view subject) {
  if (!e) return;
  {
    std::lock_guard lock(failures_mutex);
    auto it = failures.find(task);
    if (it == failures.end()) it = failures.emplace(std::string(task), 0).first;
    ++it->second;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    GW_LOG(kError, component) << subject << (subject.empty() ? "" : ": ") << task
                              << " failed: " << ex.what();
  }
}

std::map<std::string, std::uint64_t> TaskFailures() {
  std::lock_guard lock(failures_mutex);
  return {failures.begin(), failures.end()};
}

}  // namespace gw
