#pragma once
// Helpers for the ef45sim::Reader conformance tests: a Call() that records which openapi
// operation each request exercised, the openapi operation list, and a fixture with a fake clock
// and a held lock.

#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reader.hpp"

namespace simtest {

using Operation = std::pair<std::string, std::string>;  ///< (METHOD, openapi path template)

/// Every (method, path) pair of shared/ef45/openapi.yaml, read with yaml-cpp.
const std::vector<Operation>& OpenapiOperations();

/// Operations some test exercised with an answer from a handler (not 501, not 405).
std::set<Operation>& Covered();

/// The openapi path template `path` (e.g. "/1.0/logs/from/to") matches; the most literal one
/// wins. Empty when none does.
std::string MatchTemplate(const std::string& path);

/// Sends one request to `reader` and records the operation it covered.
ef45sim::Response Call(ef45sim::Reader& reader, const std::string& method,
                       const std::string& target, const std::string& body = "");

/// Parses a JSON body; fails the test (and returns null) on bad JSON.
boost::json::value Json(const ef45sim::Response& response);

/// Takes the lock with POST /1.0/lock and returns the uid.
std::string TakeLock(ef45sim::Reader& reader);

ef45sim::Identity TestIdentity(int index = 0);

/// A settable clock shared with the readers that use it.
struct FakeClock {
  std::shared_ptr<std::chrono::system_clock::time_point> now =
      std::make_shared<std::chrono::system_clock::time_point>(
          std::chrono::sys_days{std::chrono::year{2026} / 1 / 15} + std::chrono::hours{10});
  std::function<std::chrono::system_clock::time_point()> Fn() const {
    auto shared = now;
    return [shared] { return *shared; };
  }
  void Advance(std::chrono::seconds s) { *now += s; }
};

/// A reader with a fake clock, the lock held, and helpers that add `lock_uid`.
class ReaderTest : public ::testing::Test {
 protected:
  explicit ReaderTest(ef45sim::ReaderOptions options = {}, std::uint64_t seed = 42);

  /// `path` after /1.0 (e.g. "/logs"), `query` without lock_uid (e.g. "page=2").
  ef45sim::Response Do(const std::string& method, const std::string& path,
                       const std::string& query = "", const std::string& body = "");
  std::string Target(const std::string& path, const std::string& query = "") const;

  FakeClock clock_;
  std::unique_ptr<ef45sim::Reader> reader_;
  std::string lock_;
};

}  // namespace simtest
