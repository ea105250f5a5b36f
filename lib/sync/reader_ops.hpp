#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ef45/client.hpp"
#include "sync/error.hpp"
#include "sync/plan.hpp"
#include "sync/user_doc.hpp"

namespace gw::poll {
class DeviceWorker;
}

// What user sync does at a reader, in one place: read every user (paged), read one user, bring
// one user's copy up to date in place, run a batch of planned operations. Everything here runs on
// the reader's DeviceWorker strand (its lock and connection, FIFO with polling): the reconciler
// runs the `...OnStrand` functions there with `worker->Run(...)`; they take their parameters by
// value. Reader calls are paced by a RateLimiter. Never logs user data.

namespace gw::sync {

/// Paces reader calls: at most `rate` per second (no burst). Used on one strand at a time.
class RateLimiter {
 public:
  explicit RateLimiter(int rate);
  /// Completes when the next call may be made.
  boost::asio::awaitable<void> Acquire();

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_{};
};

/// What one reader holds: every user (subject, user info and faces merged by uuid, faces
/// sorted by sub_id) and its algorithm version.
struct ReaderUsers {
  std::map<std::string, UserDoc> users;
  std::optional<std::int32_t> record_version;
};

/// Reads the whole reader in pages of `page_size` (subjects, user info, faces). The record
/// version comes from the worker's snapshot, else from the reader (a reader that answers that
/// call with an error status just has none). Errors: the first reader failure; "too many pages".
boost::asio::awaitable<Outcome<ReaderUsers>> ReadReaderOnStrand(
    std::shared_ptr<poll::DeviceWorker> worker, std::shared_ptr<RateLimiter> limiter,
    int page_size);

/// How ReadUser treats the reader's answers. Both read the subject, the user info, then the
/// faces, and treat a 404 as "that part is absent".
enum class ReadMode {
  /// The importer's rule: only a transport failure is an error (an error status or a
  /// malformed body also means "absent"); a user with neither subject nor user info is not
  /// there (nullopt, the faces are not asked for). Errors name no step.
  kPresentParts,
  /// The in-place update's rule: any answer but the part or a 404 is an error naming the step
  /// ("reading the subject"); the document is returned even when every part is absent.
  kEveryPart,
};

/// One user as the reader holds it (faces sorted by sub_id). nullopt only under kPresentParts.
boost::asio::awaitable<Outcome<std::optional<UserDoc>>> ReadUser(ef45::Client& client,
                                                                 RateLimiter& limiter,
                                                                 std::string uuid, ReadMode mode);
/// ReadUser(kPresentParts) on `worker`'s client, to be spawned on its strand.
boost::asio::awaitable<Outcome<std::optional<UserDoc>>> ReadUserOnStrand(
    std::shared_ptr<poll::DeviceWorker> worker, std::shared_ptr<RateLimiter> limiter,
    std::string uuid);

/// One planned operation with what it needs from PostgreSQL.
struct OpWork {
  PlannedOp op;
  std::optional<ef45::EnrollUser> bundle;  ///< adds and updates
  std::optional<UserDoc> doc;              ///< what the reader is to hold (adds and updates)
  std::string note;                        ///< for the status row (templates not pushed)
};

/// What writing one user at the reader produced besides success or failure.
struct Written {
  int echoes = 0;         ///< AddUsers/UpdateUsers log entries our writes produce there
  std::string duplicate;  ///< the reader found this enrolled user a biometric duplicate
};

/// Brings the reader's copy of the user to `w.doc` in place: reads it back, then writes only the
/// parts that differ (subject, user info, each face), never removing the user, so a person at
/// the door is not refused while the update runs. A reader without the user gets the bundle.
/// Errors name the step that failed.
boost::asio::awaitable<std::optional<Error>> UpdateInPlace(ef45::Client& client,
                                                           RateLimiter& limiter, const OpWork& w,
                                                           Written& written);

struct OpOutcome {
  bool attempted = false;      ///< a reader call was made
  int echoes = 0;              ///< AddUsers/UpdateUsers log entries our writes produce there
  std::optional<Error> error;  ///< nullopt: done
  /// A transport failure, or not attempted after one (or after too many failures in a row):
  /// the round ends here.
  bool ends_round = false;
  bool Succeeded() const { return !error; }
};

/// Runs each op in order, one outcome per op. A transport failure, or kMaxFailuresInRow
/// failures in a row, ends the batch: the rest are "not attempted".
boost::asio::awaitable<std::vector<OpOutcome>> RunOps(ef45::Client& client, RateLimiter& limiter,
                                                      const std::vector<OpWork>& work);
/// RunOps on `worker`'s client, to be spawned on its strand.
boost::asio::awaitable<std::vector<OpOutcome>> RunOpsOnStrand(
    std::shared_ptr<poll::DeviceWorker> worker, std::shared_ptr<RateLimiter> limiter,
    std::shared_ptr<std::vector<OpWork>> work);

/// After this many per-user failures in a row a batch stops (the reader fails everything).
inline constexpr int kMaxFailuresInRow = 20;

}  // namespace gw::sync
