// Three gateways share 24 emulated readers; PostgreSQL stops for far longer than the lease. Every
// node stops polling within about a lease (it cannot renew, so the readers may be someone
// else's), the fleet is re-owned after the restart, and every generated log entry and match-data
// item is stored exactly once, none of it written by a node that no longer held the reader.
#include <boost/json/serialize.hpp>
#include <chrono>
#include <deque>
#include <iostream>
#include <sstream>
#include <thread>

#include "cluster_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

class ClusterDatabaseOutageTest : public ClusterTest {};

TEST_F(ClusterDatabaseOutageTest, NodesStopPollingDuringALongOutageAndTheFleetIsReownedOnce) {
  readers_ = 24;
  constexpr auto kOutage = 20s;
  const std::vector<std::string> ids = {"a", "b", "c"};
  UsePrivateCluster();
  if (HasFatalFailure()) return;
  StartSim(readers_, 2.0, 0.2);
  if (HasFatalFailure()) return;
  for (const auto& id : ids) StartNode(id);
  for (const auto& id : ids) ASSERT_TRUE(WaitNodeReady(id)) << node(id).process.Log();
  ASSERT_TRUE(WaitBalanced(ids, 8, 8, 30s)) << node("a").process.Log();
  AuditWrites();
  // Every node is writing.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(DISTINCT app) FROM write_audit WHERE tbl = 'events'") ==
               "3";
      },
      30s, 100ms));

  // Database time, and the gateways' clock too (same machine): rows received before the outage
  // and inserted after it would come from batches held across it, i.e. from a given-up lease.
  auto stopped_db = Scalar(dsn_, "SELECT clock_timestamp()");
  StopDatabase();
  if (HasFatalFailure()) return;
  auto stopped = SteadyClock::now();

  // A node that cannot renew for a whole lease stops every reader: the next round after the
  // lease ran out (rounds run every renew), plus stopping the workers (one unlock request each).
  const auto bound = lease_ + renew_ + 2s;
  std::map<std::string, std::chrono::milliseconds> quiet;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& id : ids) {
          if (quiet.count(id) || !Polled(id).empty()) continue;
          quiet[id] =
              std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - stopped);
        }
        return quiet.size() == ids.size();
      },
      kOutage - 2s, 50ms))
      << "still polling " << (Polled("a").size() + Polled("b").size() + Polled("c").size())
      << " readers";
  for (const auto& [id, took] : quiet) {
    EXPECT_LE(took, bound) << id << " polled on for " << took.count() << " ms without a lease";
    std::cout << "[ cluster  ] node " << id << " stopped polling " << took.count()
              << " ms into the outage (lease " << lease_.count() << " ms, renew " << renew_.count()
              << " ms)\n";
  }
  // ...and stays stopped for the rest of the outage.
  while (SteadyClock::now() - stopped < kOutage) {
    for (const auto& id : ids) {
      ASSERT_TRUE(node(id).process.Running()) << node(id).process.Log();
      ASSERT_TRUE(Polled(id).empty()) << id << " polls during the outage";
    }
    std::this_thread::sleep_for(250ms);
  }

  StartDatabase();
  if (HasFatalFailure()) return;
  auto restarted = SteadyClock::now();
  ASSERT_TRUE(WaitBalanced(ids, 8, 8, 60s)) << node("a").process.Log();
  std::cout << "[ cluster  ] fleet re-owned and balanced "
            << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - restarted)
                   .count()
            << " ms after the restart\n";
  double lost = 0;
  double fenced = 0;
  for (const auto& id : ids) {
    lost += Metric(id, "ef45gw_cluster_leases_lost_total");
    fenced += Metric(id, "ef45gw_cluster_fenced_batches_total");
  }
  EXPECT_GE(lost, readers_) << "every lease was given up";
  std::cout << "[ cluster  ] " << lost << " leases given up, " << fenced
            << " batches refused by the fence\n";

  PauseGeneration();
  std::vector<int> all;
  for (int i = 0; i < readers_; ++i) all.push_back(i);
  if (!WaitDrained(all, 90s)) {
    // What each node said about the reader that is behind.
    const auto device = DeviceId(undrained_);
    for (const auto& id : ids) {
      std::istringstream log(node(id).process.Log());
      std::deque<std::string> tail;
      for (std::string line; std::getline(log, line);) {
        if (line.find(device + ":") == std::string::npos) continue;
        tail.push_back(line);
        if (tail.size() > 40) tail.pop_front();
      }
      std::cerr << "---- node " << id << " on " << device << "\n";
      for (const auto& line : tail) std::cerr << line << "\n";
    }
    auto sim = SimGet("/sim/readers");
    FAIL() << device << " was not drained; ef45-sim: "
           << (sim.is_null() ? "no answer"
                             : boost::json::serialize(
                                   sim.as_array().at(static_cast<std::size_t>(undrained_))));
  }
  for (int i = 0; i < readers_; ++i) {
    ExpectExactlyOnce(i);
    ExpectMatchDataExactlyOnce(i);
  }

  // Every row any node wrote, it wrote while holding the reader's unexpired lease...
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM write_audit WHERE NOT (owner_ok AND unexpired)"),
            "0")
      << Query(dsn_,
               "SELECT app || ' ' || tbl || ' ' || device_id || ' owner ' || coalesce(owner, '') "
               "FROM write_audit WHERE NOT (owner_ok AND unexpired) LIMIT 1")[0][0];
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM write_audit WHERE tbl = 'events' AND op = 'INSERT' "
                   "AND received_at IS NULL"),
            "0")
      << "the audit must know when each inserted event was received";
  // ...and nothing received before the outage was inserted after it (a batch held across the
  // outage belongs to a lease that expired meanwhile, whoever holds the reader now).
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM write_audit WHERE op = 'INSERT' AND "
                   "at > pg_postmaster_start_time() AND received_at < '" +
                       stopped_db + "'"),
            "0");
  EXPECT_GT(
      std::stoll(Scalar(dsn_, "SELECT count(*) FROM write_audit WHERE at > '" + stopped_db + "'")),
      100)
      << "nothing written after the outage";
}

}  // namespace
}  // namespace gw::test
