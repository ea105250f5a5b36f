// Webhooks in a cluster (issue 19): two gateway nodes on one PostgreSQL. Node a delivers a
// subscription; it is SIGKILLed while the receiver holds a request; node b takes the lease over
// after expiry and continues from the committed cursor. The receiver ends up with every event,
// in order, at least once, and the only message sent twice is the one in flight (same
// webhook-id).
#include <boost/json/parse.hpp>
#include <map>
#include <set>

#include "cluster_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "receiver.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::int64_t SeqOf(const std::string& body) {
  auto v = json::parse(body);
  return v.as_object().contains("seq") ? v.at("seq").as_int64() : -1;
}

class WebhookClusterTest : public ClusterTest {
 protected:
  Receiver receiver_;
};

TEST_F(WebhookClusterTest, TakeOverInTheMiddleOfADeliveryContinuesFromTheCommittedCursor) {
  readers_ = 2;
  extra_yaml_ = "webhooks: { allow: [\"127.0.0.1/32\"], timeout_ms: 8000, max_backoff_ms: 1000 }\n";
  StartSim(readers_, 8.0);
  if (HasFatalFailure()) return;
  StartNode("a");
  ASSERT_TRUE(WaitNodeReady("a")) << node("a").process.Log();
  // The 12th request is held (longer than the kill takes, shorter than timeout_ms); the rest
  // are answered at once.
  auto count = std::make_shared<std::atomic<int>>(0);
  receiver_.SetPolicy([count](const Received&) {
    return (*count)++ == 11 ? Answer{200, 3000ms} : Answer{200};
  });
  auto r = HttpRequest(node("a").api_port, "POST", "/api/v1/webhooks",
                       "{\"url\":\"" + receiver_.Url("/cluster") + "\"}",
                       {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto created = json::parse(r.body);
  const std::string id(created.at("id").as_string());
  const std::int64_t start = created.at("cursor").as_int64();
  receiver_.AddSecret("/cluster", std::string(created.at("secret").as_string()));
  const std::string owner_sql = "SELECT owner || ':' || lease_epoch FROM webhooks WHERE id = '" +
                                id + "' AND lease_expires_at > now()";
  ASSERT_TRUE(WaitFor([&] { return Scalar(dsn_, owner_sql).rfind("a:", 0) == 0; }, 20s));
  const auto epoch_a = Scalar(dsn_, owner_sql).substr(2);
  StartNode("b");
  ASSERT_TRUE(WaitNodeReady("b")) << node("b").process.Log();

  // Node a sends the held request: kill it while the receiver sits on it.
  ASSERT_TRUE(WaitFor([&] { return receiver_.For("/cluster").size() >= 12; }, 60s))
      << node("a").process.Log();
  EXPECT_TRUE(Scalar(dsn_, owner_sql).rfind("a:", 0) == 0) << "b took it before a was killed";
  KillNode("a");
  const auto held = receiver_.For("/cluster").at(11);
  const auto committed =
      std::stoll(Scalar(dsn_, "SELECT cursor_seq FROM webhooks WHERE id = '" + id + "'"));
  // The committed cursor is the message before the held one: its 2xx was committed, the held
  // one's cannot be.
  EXPECT_EQ(committed, SeqOf(receiver_.For("/cluster").at(10).body));

  // b takes the lease over after it expires (a new epoch) and goes on.
  ASSERT_TRUE(WaitFor([&] { return Scalar(dsn_, owner_sql).rfind("b:", 0) == 0; }, 30s))
      << node("b").process.Log();
  EXPECT_GT(std::stoll(Scalar(dsn_, owner_sql).substr(2)), std::stoll(epoch_a));
  // b delivers what came meanwhile, then the readers stop generating.
  const auto before = receiver_.For("/cluster").size();
  ASSERT_TRUE(WaitFor([&] { return receiver_.For("/cluster").size() > before + 10; }, 30s))
      << node("b").process.Log();
  ASSERT_EQ(SimPost("/sim/generation/pause"), 200);
  const auto stored =
      Query(dsn_, "SELECT seq FROM events WHERE seq > " + std::to_string(start) + " ORDER BY seq");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<std::int64_t> got;
        for (const auto& q : receiver_.For("/cluster")) {
          if (q.answered == 200) got.insert(SeqOf(q.body));
        }
        for (const auto& row : stored) {
          if (!got.count(std::stoll(row[0]))) return false;
        }
        return true;
      },
      60s))
      << node("b").process.Log();

  const auto all = receiver_.For("/cluster");
  // b's first request re-sends the message in flight at the kill, with the same webhook-id.
  ASSERT_GT(all.size(), 12u);
  EXPECT_EQ(all[12].id, held.id);
  EXPECT_EQ(SeqOf(all[12].body), SeqOf(held.body));
  // Every request signed; first deliveries in seq order; the only duplicate is the held one.
  std::map<std::int64_t, int> times;
  std::int64_t last = start;
  for (const auto& q : all) {
    EXPECT_GE(q.valid_signatures, 1) << q.id;
    const auto seq = SeqOf(q.body);
    if (times[seq]++ == 0) {
      EXPECT_GT(seq, last) << "seq " << seq << " first delivered after " << last;
      last = seq;
    }
  }
  for (const auto& [seq, n] : times) {
    if (seq != SeqOf(held.body)) {
      EXPECT_EQ(n, 1) << "seq " << seq << " delivered " << n << "x";
    }
  }
  EXPECT_EQ(times[SeqOf(held.body)], 2);
}

}  // namespace
}  // namespace gw::test
