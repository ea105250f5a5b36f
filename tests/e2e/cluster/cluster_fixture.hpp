#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "e2e/gateway/gateway_fixture.hpp"

namespace gw::test {

/// Several ef45-gatewayd instances ("nodes") on one PostgreSQL database and one ef45-sim fleet,
/// each with its own config, API port and log. Every node's PostgreSQL sessions carry
/// application_name=gw-<node>, so a test can tell in the database which node wrote what.
class ClusterTest : public GatewayTest {
 protected:
  struct Node {
    std::string id;
    std::uint16_t api_port = 0;
    Process process;
  };

  void TearDown() override;

  /// Writes node `id`'s config (every reader of the fleet) and starts it.
  Node& StartNode(const std::string& id);
  Node& node(const std::string& id) { return nodes_.at(id); }
  void KillNode(const std::string& id);  ///< SIGKILL: no flush, no lease or lock release
  bool WaitNodeReady(const std::string& id,
                     std::chrono::milliseconds deadline = std::chrono::seconds(60));

  /// Readers with a valid lease per owner node, from PostgreSQL (database clock).
  std::map<std::string, std::set<std::string>> LeaseOwners();
  /// Readers whose worker runs on node `id` right now (its /metrics ef45gw_reader_up series);
  /// empty if the node does not answer.
  std::set<std::string> Polled(const std::string& id);
  /// ...and only those reported up.
  std::set<std::string> PolledUp(const std::string& id);
  /// A counter or gauge of node `id`'s /metrics (the first sample of that name), or -1.
  double Metric(const std::string& id, const std::string& name);

  /// Two scrapes of every running node; a reader polled by node X in both of X's scrapes and by
  /// node Y in the scrape between them is polled twice at once. Returns those readers.
  std::vector<std::string> PolledTwice(const std::vector<std::string>& ids);

  /// Waits until the valid leases give every reader of the fleet exactly one owner among `ids`
  /// and each of them between `min` and `max` readers, and each polls exactly its leases.
  bool WaitBalanced(const std::vector<std::string>& ids, std::size_t min, std::size_t max,
                    std::chrono::milliseconds deadline);

  /// Audits, from now on, every row written to events, device_cursors and door_state, inside the
  /// writing transaction, into the table write_audit: app (gw-<node>), tbl, op (INSERT/UPDATE),
  /// device_id, the lease's owner and whether it is the writing node (owner_ok) and unexpired,
  /// the event's received_at (events only) and the time of the write (at).
  void AuditWrites();

  /// More top-level YAML for every node's config (e.g. "sync: { enabled: false }\n").
  std::string extra_yaml_;
  int readers_ = 0;
  std::chrono::milliseconds lease_{3000};
  std::chrono::milliseconds renew_{1000};
  std::map<std::string, Node> nodes_;
};

}  // namespace gw::test
