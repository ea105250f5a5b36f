// A gateway paused (SIGSTOP) past its lease and then resumed writes nothing for the readers it
// lost: every row written to events, device_cursors and door_state is audited, in the writing
// transaction, against the lease table.
#include <csignal>
#include <iostream>

#include "cluster_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

class ClusterPausedNodeTest : public ClusterTest {};

TEST_F(ClusterPausedNodeTest, APausedNodeWritesNothingAfterLosingItsLeases) {
  readers_ = 20;
  StartSim(readers_, 2.0, 0.5);
  if (HasFatalFailure()) return;
  StartNode("a");
  StartNode("b");
  ASSERT_TRUE(WaitNodeReady("a")) << node("a").process.Log();
  ASSERT_TRUE(WaitNodeReady("b")) << node("b").process.Log();
  ASSERT_TRUE(WaitBalanced({"a", "b"}, 10, 10, 30s));
  AuditWrites();
  // Both nodes are writing.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(DISTINCT app) FROM write_audit WHERE tbl = 'events'") ==
               "2";
      },
      30s, 100ms));

  auto of_a = LeaseOwners()["a"];
  ASSERT_EQ(of_a.size(), 10u);
  std::string list;
  for (const auto& r : of_a) list += (list.empty() ? "'" : ",'") + r + "'";
  node("a").process.Signal(SIGSTOP);
  // Past a's lease, b takes every reader over and stores their events.
  ASSERT_TRUE(WaitFor([&] { return LeaseOwners()["b"].size() == 20u; }, 60s, 100ms));
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_,
                      "SELECT count(DISTINCT device_id) FROM write_audit WHERE app = 'gw-b' "
                      "AND tbl = 'events' AND device_id IN (" +
                          list + ")") == std::to_string(of_a.size());
      },
      // Paused inside a transaction, a keeps its locks until statement_timeout (30 s) or
      // idle_in_transaction_session_timeout (5 s); never across a COPY (the writer stages first).
      60s, 100ms))
      << node("b").process.Log();
  auto resumed_db = Scalar(dsn_, "SELECT clock_timestamp()");
  node("a").process.Signal(SIGCONT);

  // a finds its leases gone, stops those pollers, and later rejoins with a fair share.
  ASSERT_TRUE(WaitBalanced({"a", "b"}, 10, 10, 60s)) << node("a").process.Log();
  EXPECT_GE(Metric("a", "ef45gw_cluster_leases_lost_total"), 10);
  std::cout << "[ cluster  ] paused node: " << Metric("a", "ef45gw_cluster_leases_lost_total")
            << " leases lost, " << Metric("a", "ef45gw_cluster_fenced_batches_total")
            << " batches fenced after SIGCONT\n";

  PauseGeneration();
  std::vector<int> all;
  for (int i = 0; i < readers_; ++i) all.push_back(i);
  ASSERT_TRUE(WaitDrained(all, 90s));
  for (int i = 0; i < readers_; ++i) ExpectExactlyOnce(i);

  // Every row any node wrote, it wrote while owning the reader's lease.
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM write_audit WHERE NOT owner_ok"), "0")
      << Query(dsn_,
               "SELECT app, tbl, device_id, owner, at FROM write_audit WHERE NOT owner_ok "
               "LIMIT 1")[0][0];
  // In particular nothing of a's lost readers from a between SIGCONT and their re-claim.
  EXPECT_EQ(
      Scalar(dsn_,
             "SELECT count(*) FROM write_audit WHERE app = 'gw-a' AND owner <> 'a' AND at > '" +
                 resumed_db + "'"),
      "0");
  EXPECT_GT(std::stoll(Scalar(dsn_, "SELECT count(*) FROM write_audit")), 100);
}

}  // namespace
}  // namespace gw::test
