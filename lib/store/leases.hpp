#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"
#include "store/event.hpp"

// Reader leases of a gateway cluster (DESIGN.md section 9, migrations/0002_cluster.sql).
//
// PostgreSQL is the coordinator; there is no consensus of our own. Every expiry is computed and
// compared on the database clock (now() / clock_timestamp()), never on a gateway's clock. A
// lease row is never deleted, so a reader's epoch only grows: each claim sets epoch + 1, and a
// write fenced by (owner, epoch, expires_at > clock_timestamp()) cannot succeed for an owner that
// lost the reader, even after a take-over and a later re-claim by the same node.
//
// Claims use `SELECT ... FOR UPDATE SKIP LOCKED`: two nodes claiming at once never wait for each
// other and never get the same row; renewals lock their rows in device_id order, as the event
// writer's fence does (FOR SHARE), so the two cannot deadlock.
//
// Every function here blocks (libpqxx): call them on `db.BlockingPool()` (gw::RunBlocking).
// Errors: Errc::kDbUnavailable when PostgreSQL cannot be reached or the transaction failed.

namespace gw::store {

/// A lease this node holds: the reader and the epoch it claimed.
struct HeldLease {
  std::string device_id;
  std::int64_t epoch = 0;
  friend bool operator==(const HeldLease&, const HeldLease&) = default;
};

/// A lease this node just claimed.
struct ClaimedLease {
  std::string device_id;
  std::int64_t epoch = 0;
  /// The owner before the claim: '' (released or never claimed), another node (its lease had
  /// expired: a take-over), or this node (a previous incarnation that did not release).
  std::string previous_owner;
};

/// Input of one heartbeat/renew/claim round.
struct LeaseTickRequest {
  std::string node_id;
  std::string advertise_url;
  std::chrono::milliseconds lease{15000};
  std::vector<std::string> readers;  ///< every configured reader (the fleet to share)
  std::vector<HeldLease> held;       ///< what this node believes it holds (renewed if still so)
  bool ensure_rows = false;          ///< insert missing devices/device_leases rows (start, reload)
  bool claim = true;                 ///< claim up to the fair share (false while stopping)
};

/// Who owns a reader right now (a valid lease of a live node).
struct LeaseOwner {
  std::string device_id;
  std::string node_id;
  std::string advertise_url;
};

struct LeaseTickResult {
  std::vector<HeldLease> renewed;     ///< still ours: expiry moved to now() + lease
  std::vector<ClaimedLease> claimed;  ///< newly ours
  int live_nodes = 1;                 ///< nodes whose heartbeat has not expired (this one too)
  int share = 0;                      ///< ceil(readers / live_nodes)
  std::vector<LeaseOwner> owners;     ///< every valid lease of a live node (for redirects)
};

/// ceil(readers / live_nodes), with live_nodes >= 1. Pure.
int FairShare(std::size_t readers, int live_nodes);

/// One round, in one transaction: heartbeat of this node (expires now() + lease), renewal of
/// `held` (those whose owner and epoch still match; a lost lease is simply absent), the live
/// node count, and claims of free readers (released, never claimed, or expired) up to the fair
/// share. Blocking.
Result<LeaseTickResult> LeaseTickBlocking(Database& db, const LeaseTickRequest& request);

/// Gives leases back (owner '' and expired now) so another node can claim them at once. Only
/// rows still matching (node, epoch) change. Call after the reader's worker stopped. Blocking.
Result<void> ReleaseLeasesBlocking(Database& db, const std::string& node_id,
                                   const std::vector<HeldLease>& leases);

/// Marks this node as gone (its heartbeat expires now): the others' fair share grows at once.
/// Blocking.
Result<void> LeaveClusterBlocking(Database& db, const std::string& node_id);

/// One row of device_leases, as the façade lists readers owned anywhere in the cluster.
struct LeaseRow {
  std::string device_id;
  std::string owner;  ///< '' when released or never claimed
  std::int64_t epoch = 0;
  std::optional<TimePoint> expires_at;  ///< nullopt when never claimed
  bool valid = false;                   ///< owned and not expired (database clock)
  std::string owner_url;                ///< the owner's advertise URL ('' if unknown)
};

/// Every lease row (or one reader's), ordered by device id. Blocking.
Result<std::vector<LeaseRow>> ListLeasesBlocking(Database& db,
                                                 const std::optional<std::string>& device_id);
/// ListLeasesBlocking on the blocking pool; resumes on the caller's executor.
boost::asio::awaitable<Result<std::vector<LeaseRow>>> ListLeases(
    Database& db, std::optional<std::string> device_id = std::nullopt);

}  // namespace gw::store
