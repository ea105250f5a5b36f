#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <string_view>

namespace gw {

/// Logs (at error) and counts the exception that ended a long-lived coroutine; nothing when `e`
/// is null. `component` is the log component ("poll"), `task` a fixed name from the code (it is
/// the `task` label of ef45gw_coroutine_failures_total: never a reader id), `subject` an
/// optional prefix naming the instance (a reader id). Exceptions not derived from
/// std::exception are counted, not caught: they propagate as before. Thread-safe.
void ReportTaskFailure(std::string_view component, std::string_view task, std::exception_ptr e,
                       std::string_view subject = {});

/// The completion handler of a long-lived `co_spawn`: `co_spawn(ex, Loop(), LogFailure("poll",
/// "poller"))`. Never a silent `detached` (STYLE.md, errors). Keeps the two views: pass string
/// literals (or strings that outlive the coroutine).
inline auto LogFailure(std::string_view component, std::string_view task) {
  return [component, task](std::exception_ptr e) { ReportTaskFailure(component, task, e); };
}

/// Failures so far by task name (process-wide), for the metrics exposition.
std::map<std::string, std::uint64_t> TaskFailures();

}  // namespace gw
