// GET /api/v1/devices from memory (issue 18): the pollers' live state, moved by each commit,
// says what PostgreSQL says (cursor, newest seq per reader, door), also for events of a reader
// that its poller did not commit (an audit event), and keeps saying it while PostgreSQL is down.
// The listing is a shared rendering: a change shows in it at most 0.1 s after the reader's own
// view has it, however hot the listing is, and it has a strong ETag (If-None-Match -> 304).
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

boost::json::object DeviceIn(const boost::json::value& listing, const std::string& id) {
  for (const auto& d : listing.at("items").as_array()) {
    if (d.at("id").as_string() == id) return d.as_object();
  }
  return {};
}

std::string Text(const boost::json::value& v) { return boost::json::serialize(v); }

TEST_F(GatewayTest, DeviceListingFromMemoryMatchesTheDatabase) {
  UsePrivateCluster();
  StartSim(3, 5.0, 0.0);  // no door changes: after the drain only the audit event is new
  WriteConfig(Range(3));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(4s);
  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(3), 60s)) << gateway_.Log();
  // An event of sim-1 its poller did not commit: the audit event of a refused operator request
  // (a 400 reaches no reader, so no reader event follows it).
  ASSERT_EQ(HttpRequest(api_port_, "POST", "/api/v1/devices/sim-1/relay", "{\"duration_s\":0}",
                        {{"Content-Type", "application/json"}})
                .status,
            400);
  ASSERT_EQ(
      Scalar(dsn_, "SELECT kind FROM events WHERE device_id = 'sim-1' ORDER BY seq DESC LIMIT 1"),
      "audit");

  auto matches = [&](int i) {
    const auto id = DeviceId(i);
    auto listing = GatewayGet("/api/v1/devices");
    auto d = DeviceIn(listing, id);
    auto one = GatewayGet("/api/v1/devices/" + id);
    auto last_seq = Scalar(dsn_, "SELECT max(seq) FROM events WHERE device_id = '" + id + "'");
    auto cursor =
        Scalar(dsn_, "SELECT last_log_id FROM device_cursors WHERE device_id = '" + id + "'");
    auto door = Scalar(dsn_, "SELECT door_sensor FROM door_state WHERE device_id = '" + id + "'");
    return !d.empty() && listing.at("database") == "ok" && Text(d.at("last_seq")) == last_seq &&
           Text(one.at("last_seq")) == last_seq &&
           Text(d.at("cursor").at("last_log_id")) == cursor &&
           (door.empty() || Text(d.at("door").at("door_sensor")) == door);
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(WaitFor([&] { return matches(i); }, 10s, 100ms))
        << DeviceId(i) << ": " << Text(DeviceIn(GatewayGet("/api/v1/devices"), DeviceId(i)))
        << "\nmax(seq) "
        << Scalar(dsn_, "SELECT max(seq) FROM events WHERE device_id = '" + DeviceId(i) + "'");
  }
  const auto seq0 = Text(DeviceIn(GatewayGet("/api/v1/devices"), "sim-0").at("last_seq"));

  // PostgreSQL down: the live state is still served (it was never read from there), and the
  // listing says the database is unreachable.
  StopDatabase();
  ASSERT_TRUE(WaitFor([&] { return GatewayGet("/api/v1/devices").at("database") == "unreachable"; },
                      15s, 200ms));
  auto down = DeviceIn(GatewayGet("/api/v1/devices"), "sim-0");
  EXPECT_EQ(Text(down.at("last_seq")), seq0) << Text(down);
  EXPECT_EQ(GatewayGet("/api/v1/devices/sim-0").at("last_seq"), down.at("last_seq"));
  StartDatabase();
}

TEST_F(GatewayTest, DeviceListingShowsChangesWithinItsMaximumAgeAndAnswersIfNoneMatch) {
  UsePrivateCluster();
  StartSim(2, 0.0, 0.0);  // nothing generated unless asked
  WriteConfig(Range(2));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  auto state = [&](const boost::json::value& d) {
    return d.is_object() ? Text(d.at("state")) : std::string();
  };
  ASSERT_TRUE(
      WaitFor([&] { return state(DeviceIn(GatewayGet("/api/v1/devices"), "sim-0")) == "\"up\""; },
              30s, 100ms));

  // Readers of the listing all the time: the shared rendering never goes cold.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::thread hot([&] {
    HttpClient client("127.0.0.1", api_port_);
    while (!stop) {
      if (client.Get("/api/v1/devices").status == 200) ++served;
    }
  });
  // The reader's own view (GET /api/v1/devices/{id}, not shared) vs the listing: once the
  // first has a change, the listing must have it within its maximum age (0.1 s) plus slack for
  // a loaded machine and the requests themselves; a listing that is never rendered again
  // fails here.
  constexpr auto kMaxAge = 100ms;
  constexpr auto kSlack = 400ms;
  auto shows_within = [&](const std::string& id, const std::string& field,
                          const std::string& before) -> std::string {
    std::string now;
    if (!WaitFor(
            [&] {
              now = Text(GatewayGet("/api/v1/devices/" + id).at(field));
              return now != before;
            },
            60s, 5ms)) {
      return "the reader's own view never changed its " + field;
    }
    const auto seen = std::chrono::steady_clock::now();
    std::string listed;
    WaitFor(
        [&] {
          listed = Text(DeviceIn(GatewayGet("/api/v1/devices"), id).at(field));
          return listed == now;
        },
        5s, 1ms);
    const auto late = std::chrono::steady_clock::now() - seen;
    if (listed != now) return "the listing still shows " + listed + " instead of " + now;
    if (late > kMaxAge + kSlack) {
      return "the listing showed " + field + " " +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(late).count()) +
             " ms after the reader's view";
    }
    return "";
  };
  for (int round = 0; round < 3; ++round) {
    const auto door = Text(GatewayGet("/api/v1/devices/sim-0").at("door"));
    ASSERT_EQ(SimPost("/sim/readers/0/generate", "{\"door_changes\":1}"), 200);
    EXPECT_EQ(shows_within("sim-0", "door", door), "") << "round " << round;
  }
  const auto up = Text(GatewayGet("/api/v1/devices/sim-1").at("state"));
  Fault(1, "{\"down\":true}");
  EXPECT_EQ(shows_within("sim-1", "state", up), "");
  Fault(1, "{\"down\":false}");
  EXPECT_EQ(shows_within("sim-1", "state", "\"down\""), "");
  stop = true;
  hot.join();
  EXPECT_GT(served.load(), 0);

  // A strong ETag; If-None-Match with it (or a list holding it, or its weak form, or *) is
  // answered 304 without a body while the listing is unchanged; a 200 always has another tag.
  auto first = HttpRequest(api_port_, "GET", "/api/v1/devices");
  ASSERT_EQ(first.status, 200);
  ASSERT_TRUE(first.headers.count("etag")) << first.body.substr(0, 200);
  int not_modified = 0;
  for (int i = 0; i < 20; ++i) {
    auto listing = HttpRequest(api_port_, "GET", "/api/v1/devices");
    ASSERT_EQ(listing.status, 200);
    const auto etag = listing.headers["etag"];
    ASSERT_EQ(etag.front(), '"') << etag;
    for (const std::string& condition : {etag, "\"x\", " + etag, "W/" + etag, std::string("*")}) {
      auto again =
          HttpRequest(api_port_, "GET", "/api/v1/devices", "", {{"If-None-Match", condition}});
      if (again.status == 304) {
        ++not_modified;
        EXPECT_EQ(again.body, "");
        EXPECT_EQ(again.headers["etag"], condition == "*" ? again.headers["etag"] : etag);
      } else {
        ASSERT_EQ(again.status, 200);
        EXPECT_NE(again.headers["etag"], etag) << "a 200 for the tag asked about";
        EXPECT_NE(condition, "*");
        EXPECT_FALSE(boost::json::parse(again.body).at("items").as_array().empty());
      }
    }
  }
  EXPECT_GT(not_modified, 0);
  auto other =
      HttpRequest(api_port_, "GET", "/api/v1/devices", "", {{"If-None-Match", "\"not-the-tag\""}});
  EXPECT_EQ(other.status, 200);
}

}  // namespace
}  // namespace gw::test
