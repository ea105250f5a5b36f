// GET /api/v1/devices from memory (issue 18): the pollers' live state, moved by each commit,
// says what PostgreSQL says (cursor, newest seq per reader, door), also for events of a reader
// that its poller did not commit (an audit event), and keeps saying it while PostgreSQL is down.
#include <boost/json/serialize.hpp>

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

}  // namespace
}  // namespace gw::test
