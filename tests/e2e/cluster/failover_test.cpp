// Two, then three gateways share 40 emulated readers; one is SIGKILLed; every event is stored
// exactly once and no reader is ever polled by two gateways at once.
#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "cluster_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

/// Scrapes every node in the background and collects readers polled by two nodes at once.
class DoublePollWatch {
 public:
  explicit DoublePollWatch(std::function<std::vector<std::string>()> check)
      : thread_([this, check] {
          while (!stop_) {
            auto twice = check();
            std::lock_guard lock(mutex_);
            seen_.insert(twice.begin(), twice.end());
            ++samples_;
          }
        }) {}
  ~DoublePollWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int samples() {
    std::lock_guard lock(mutex_);
    return samples_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::set<std::string> seen_;
  int samples_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

class ClusterFailoverTest : public ClusterTest {};

TEST_F(ClusterFailoverTest, NodesShareTheFleetTakeOverAKilledNodeAndStoreEveryEventOnce) {
  readers_ = 40;
  // User sync off here: a reconciler holding a released worker keeps that worker's metric series
  // (retired: it cannot reach the reader) until its operation ends, and the watch below cannot
  // tell such a series from a second poller. The other tests here run with sync on.
  extra_yaml_ = "sync: { enabled: false }\n";
  StartSim(readers_, 2.0, 0.2);
  if (HasFatalFailure()) return;
  // Ports first: the watch thread reads the node table while nodes start and die.
  for (const char* id : {"a", "b", "c"}) nodes_[id].api_port = FreePort();
  StartNode("a");
  StartNode("b");
  ASSERT_TRUE(WaitNodeReady("a")) << node("a").process.Log();
  ASSERT_TRUE(WaitNodeReady("b")) << node("b").process.Log();
  DoublePollWatch watch([this] { return PolledTwice({"a", "b", "c"}); });

  // Two nodes: 20 readers each, every reader polled by its lease owner only.
  ASSERT_TRUE(WaitBalanced({"a", "b"}, 20, 20, 30s)) << node("a").process.Log();

  // A third node joins and takes a fair share: ceil(40 / 3) = 14 at most each.
  StartNode("c");
  ASSERT_TRUE(WaitNodeReady("c")) << node("c").process.Log();
  ASSERT_TRUE(WaitBalanced({"a", "b", "c"}, 12, 14, 30s));
  EXPECT_EQ(Metric("c", "ef45gw_cluster_live_nodes"), 3);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(DISTINCT device_id) FROM events") ==
               std::to_string(readers_);
      },
      30s, 200ms));

  // SIGKILL a: no flush, no lease release, its reader locks stay held on the readers.
  auto of_a = LeaseOwners()["a"];
  ASSERT_GE(of_a.size(), 12u);
  KillNode("a");
  auto killed = SteadyClock::now();
  auto killed_db = Scalar(dsn_, "SELECT clock_timestamp()");
  // Taken over: the survivors resume the locks a recorded and poll them successfully, under the
  // default lock policy (wait): nothing is stolen.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto up = PolledUp("b");
        auto up_c = PolledUp("c");
        up.insert(up_c.begin(), up_c.end());
        return std::all_of(of_a.begin(), of_a.end(), [&](const auto& r) { return up.count(r); });
      },
      30s, 50ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - killed);
  // Lease + one round + one logs poll interval (2 s), plus start-up slack of a loaded machine.
  auto bound = lease_ + renew_ + 2s + 3s;
  EXPECT_LE(took, bound) << "take-over of " << of_a.size() << " readers took " << took.count()
                         << " ms";
  std::cout << "[ cluster  ] take-over of " << of_a.size() << " readers: all polled by the "
            << "survivors " << took.count() << " ms after SIGKILL (lease " << lease_.count()
            << " ms, renew " << renew_.count() << " ms)\n";
  std::string list;
  for (const auto& r : of_a) list += (list.empty() ? "'" : ",'") + r + "'";
  // Every taken-over reader has events committed by its new owner (the generator runs at 2/s
  // per reader), continuing from the committed cursor.
  const std::string after_kill = "FROM events WHERE device_id IN (" + list + ") AND stored_at > '" +
                                 killed_db + "'::timestamptz";
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(DISTINCT device_id) " + after_kill) ==
               std::to_string(of_a.size());
      },
      30s, 100ms));
  auto first_ms = Scalar(dsn_, "SELECT (extract(epoch FROM min(stored_at) - '" + killed_db +
                                   "'::timestamptz) * 1000)::int8 " + after_kill);
  auto last_ms =
      Scalar(dsn_,
             "SELECT (max(ms) * 1000)::int8 FROM (SELECT extract(epoch FROM "
             "min(stored_at) - '" +
                 killed_db + "'::timestamptz) AS ms " + after_kill + " GROUP BY device_id) s");
  std::cout << "[ cluster  ] first committed event of a taken-over reader " << first_ms
            << " ms after SIGKILL; every taken-over reader had one after " << last_ms << " ms\n";
  EXPECT_LE(std::stoll(last_ms),
            std::chrono::duration_cast<std::chrono::milliseconds>(bound).count());

  ASSERT_TRUE(WaitBalanced({"b", "c"}, 20, 20, 30s));
  EXPECT_EQ(
      Metric("b", "ef45gw_cluster_takeovers_total") + Metric("c", "ef45gw_cluster_takeovers_total"),
      static_cast<double>(of_a.size()));

  // The cluster metrics the alert rules use are exported, and promtool accepts the page.
  auto page = HttpRequest(node("b").api_port, "GET", "/metrics").body;
  auto rules = ReadFile(SourceDir() + "/deploy/prometheus/alerts.yml");
  std::regex name_re("ef45gw_cluster_[a-z_]+");
  int used = 0;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), name_re);
       it != std::sregex_iterator(); ++it, ++used) {
    EXPECT_NE(page.find("# TYPE " + it->str() + " "), std::string::npos)
        << "alerts.yml uses " << it->str() << ", which a cluster node does not export";
  }
  EXPECT_GE(used, 3);
  WriteFile(dir_->File("metrics-b.txt"), page);
  EXPECT_EQ(Shell("promtool check metrics < " + dir_->File("metrics-b.txt") + " > " +
                  dir_->File("promtool.txt") + " 2>&1"),
            0)
      << ReadFile(dir_->File("promtool.txt"));

  // Exactly once across the failover: every generated log entry is stored once.
  PauseGeneration();
  ASSERT_TRUE(WaitDrained(
      [&] {
        std::vector<int> all;
        for (int i = 0; i < readers_; ++i) all.push_back(i);
        return all;
      }(),
      90s));
  for (int i = 0; i < readers_; ++i) ExpectExactlyOnce(i);

  watch.Stop();
  EXPECT_GT(watch.samples(), 10);
  if (!watch.seen().empty()) {
    ADD_FAILURE() << "readers polled by two nodes at once: " << *watch.seen().begin();
    for (const char* id : {"a", "b", "c"}) {
      std::cout << "---- node " << id << "\n" << node(id).process.Log() << "\n";
    }
  }
}

}  // namespace
}  // namespace gw::test

namespace gw::test {
namespace {

TEST_F(ClusterFailoverTest, SigtermHandsTheReadersOverWithoutWaitingForTheLease) {
  readers_ = 10;
  lease_ = std::chrono::milliseconds(15000);  // an expiry would take far longer than a hand-over
  StartSim(readers_, 2.0, 0.2);
  if (HasFatalFailure()) return;
  StartNode("a");
  StartNode("b");
  ASSERT_TRUE(WaitNodeReady("a")) << node("a").process.Log();
  ASSERT_TRUE(WaitNodeReady("b")) << node("b").process.Log();
  ASSERT_TRUE(WaitBalanced({"a", "b"}, 5, 5, 30s));
  auto of_a = LeaseOwners()["a"];

  // A reader operation on the node that does not poll the reader is redirected to its owner.
  auto of_b = *LeaseOwners()["b"].begin();
  auto target = "/api/v1/devices/" + of_b + "/logs?min=1&max=2";
  HttpResult redirected;
  ASSERT_TRUE(WaitFor(
      [&] {
        redirected = HttpRequest(node("a").api_port, "GET", target);
        return redirected.status == 307;
      },
      5s, 100ms))
      << redirected.status << " " << redirected.body;
  EXPECT_EQ(redirected.headers["location"],
            "http://127.0.0.1:" + std::to_string(node("b").api_port) + target);
  EXPECT_EQ(HttpRequest(node("b").api_port, "GET", target).status, 200);
  EXPECT_EQ(
      HttpRequest(node("a").api_port, "GET", "/api/v1/devices/nowhere/logs?min=1&max=2").status,
      404);
  // The owner's URL comes from the database: one that is not a URL of our scheme (a tampered
  // row) is refused with 502, never sent to the caller as a Location.
  Exec(dsn_, R"sql(
CREATE FUNCTION tamper_url() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.advertise_url := 'ftp://127.0.0.1:21/'; RETURN NEW; END $$;
CREATE TRIGGER tamper_url BEFORE INSERT OR UPDATE ON cluster_nodes
  FOR EACH ROW WHEN (NEW.node_id = 'b') EXECUTE FUNCTION tamper_url();
)sql");
  HttpResult refused;
  EXPECT_TRUE(WaitFor(
      [&] {
        refused = HttpRequest(node("a").api_port, "GET", target);
        return refused.status == 502;
      },
      10s, 100ms))
      << refused.status << " " << refused.body;
  EXPECT_EQ(refused.headers.count("location"), 0u);
  Exec(dsn_, "DROP TRIGGER tamper_url ON cluster_nodes; DROP FUNCTION tamper_url()");
  ASSERT_TRUE(WaitFor([&] { return HttpRequest(node("a").api_port, "GET", target).status == 307; },
                      10s, 100ms));
  // Either node lists the whole fleet, each reader once, with the node that polls it.
  for (const char* name : {"a", "b"}) {
    auto listing = HttpRequest(node(name).api_port, "GET", "/api/v1/devices");
    ASSERT_EQ(listing.status, 200) << listing.body;
    auto items = boost::json::parse(listing.body).at("items").as_array();
    std::map<std::string, std::string> owner_of;
    for (const auto& item : items) {
      const auto& o = item.as_object();
      const std::string id(o.at("id").as_string());
      EXPECT_TRUE(owner_of.emplace(id, std::string(o.at("owner").as_string())).second)
          << id << " listed twice by " << name;
      EXPECT_EQ(o.at("polled_here").as_bool(), o.at("owner").as_string() == name) << id;
    }
    EXPECT_EQ(owner_of.size(), static_cast<std::size_t>(readers_)) << name;
    for (const auto& id : of_a) EXPECT_EQ(owner_of[id], "a") << id << " as seen by " << name;
    EXPECT_EQ(owner_of[of_b], "b") << name;
  }
  auto remote = HttpRequest(node("a").api_port, "GET", "/api/v1/devices/" + of_b);
  ASSERT_EQ(remote.status, 200) << remote.body;
  EXPECT_EQ(boost::json::parse(remote.body).at("state").as_string(), "remote");

  auto stopped = SteadyClock::now();
  auto status = node("a").process.Stop(20s);  // SIGTERM
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << node("a").process.Log();
  // a stopped its pollers (releasing the reader locks), gave its leases back and left: b's next
  // round claims them, no take-over needed.
  ASSERT_TRUE(WaitFor([&] { return PolledUp("b").size() == 10u; }, 10s, 50ms));
  auto took = SteadyClock::now() - stopped;
  EXPECT_LT(took, lease_) << "hand-over took as long as an expiry";
  EXPECT_EQ(Metric("b", "ef45gw_cluster_takeovers_total"), 0) << "released, not taken over";
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM cluster_nodes WHERE node_id = 'a' AND "
                   "expires_at > now()"),
            "0");
  std::cout << "[ cluster  ] SIGTERM hand-over of " << of_a.size()
            << " readers: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms\n";
  PauseGeneration();
  std::vector<int> all;
  for (int i = 0; i < readers_; ++i) all.push_back(i);
  ASSERT_TRUE(WaitDrained(all, 60s));
  for (int i = 0; i < readers_; ++i) ExpectExactlyOnce(i);
}

}  // namespace
}  // namespace gw::test
