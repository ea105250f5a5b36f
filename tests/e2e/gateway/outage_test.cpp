// A PostgreSQL outage under load (issue 14): the pollers pause without acknowledging anything,
// and after the restart the backlog drains with nothing lost or doubled.
#include <csignal>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

struct FleetCounts {
  std::int64_t generated = 0;  ///< recognitions
  std::int64_t pending = 0;    ///< match-data items on the readers
  std::int64_t deleted = 0;    ///< match-data items a client deleted
};

FleetCounts Counts(const boost::json::value& readers) {
  FleetCounts c;
  for (const auto& r : readers.as_array()) {
    c.generated += r.at("recognitions_generated").to_number<std::int64_t>();
    c.pending += r.at("match_pending").to_number<std::int64_t>();
    c.deleted += r.at("match_deleted").to_number<std::int64_t>();
  }
  return c;
}

TEST_F(GatewayTest, APostgresOutagePausesThePollersAndLosesNothing) {
  constexpr int kReaders = 100;
  const auto kOutage = 60s;
  UsePrivateCluster();
  StartSim(kReaders, 1.0);
  WriteConfig(Range(kReaders));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(5s);
  auto before = Counts(SimGet("/sim/readers"));
  ASSERT_GT(before.deleted, 0) << "nothing was acknowledged before the outage";

  StopDatabase();
  // A commit that finished just before the shutdown may still delete its items: start counting
  // once the database is gone for certain, i.e. after the stop returned and one match interval.
  LetRun(2s);
  auto outage_start = Counts(SimGet("/sim/readers"));
  LetRun(kOutage - 2s);
  auto outage_end = Counts(SimGet("/sim/readers"));
  // Nothing could be committed, so nothing may be forgotten by the readers.
  EXPECT_EQ(outage_end.deleted, outage_start.deleted)
      << "match-data deleted on the readers while PostgreSQL was down";
  EXPECT_GT(outage_end.generated, outage_start.generated) << "the fleet did not generate";
  EXPECT_EQ(outage_end.pending - outage_start.pending,
            outage_end.generated - outage_start.generated)
      << "the readers' match buffers did not keep every new item";
  // The gateway says the store is gone rather than pretending to be ready.
  EXPECT_NE(HttpRequest(api_port_, "GET", "/readyz").status, 200);

  StartDatabase();
  LetRun(5s);
  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(kReaders), 120s)) << gateway_.Log();
  for (int i = 0; i < kReaders; ++i) {
    ExpectExactlyOnce(i);
    ExpectMatchDataExactlyOnce(i);
  }
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM events WHERE kind = 'gap'"), "0");
  auto after = Counts(SimGet("/sim/readers"));
  EXPECT_EQ(after.pending, 0);
}

TEST_F(GatewayTest, SigtermDuringAPostgresOutageExitsWithinTheShutdownDeadline) {
  UsePrivateCluster();
  StartSim(5, 5.0);
  WriteConfig(Range(5));  // shutdown.deadline_ms 10000 (the fixture)
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(3s);
  StopDatabase();
  // The pollers wait on commits that cannot happen; a stop must not wait for PostgreSQL.
  LetRun(3s);
  auto deleted = Counts(SimGet("/sim/readers")).deleted;
  gateway_.Signal(SIGTERM);
  // The pollers' deadline (10 s), then the writer fails what it has not begun to commit: well
  // within systemd's TimeoutStopSec (30 s in deploy/systemd).
  auto status = gateway_.Wait(20s);
  ASSERT_TRUE(status.has_value()) << "SIGTERM during an outage did not end the gateway\n"
                                  << gateway_.Log();
  EXPECT_EQ(*status, 0) << gateway_.Log();
  // Nothing was acknowledged on the way out: what the readers hold is stored after a restart.
  EXPECT_EQ(Counts(SimGet("/sim/readers")).deleted, deleted);
  StartDatabase();
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(2s);
  PauseGeneration();
  ASSERT_TRUE(WaitDrained(Range(5), 60s)) << gateway_.Log();
  for (int i = 0; i < 5; ++i) {
    ExpectExactlyOnce(i);
    ExpectMatchDataExactlyOnce(i);
  }
}

}  // namespace
}  // namespace gw::test
