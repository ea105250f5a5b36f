// DeviceWorker against the in-process emulator and a real PostgreSQL, without the binaries
// (issue 16, item 7): DESIGN.md invariant 1, match-data is deleted on the reader only after the
// commit that holds it.
#include "poll/device_worker.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "metrics/metrics.hpp"
#include "metrics/poll_metrics.hpp"
#include "pg_fixture.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"
#include "unit/ef45/client_support.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

config::ReaderConfig ReaderAt(std::uint16_t port) {
  config::ReaderConfig r;
  r.id = "r1";
  r.host = "127.0.0.1";
  r.port = port;
  r.polling.match = 100ms;
  r.polling.logs = 200ms;
  r.polling.door = 200ms;
  r.polling.timeout = 1000ms;
  r.polling.backoff_max = 200ms;
  return r;
}

asio::awaitable<bool> OnTheWorkersStrand(poll::DeviceWorker* worker) {
  co_return worker->OnStrand();
}

/// {ran on the worker's strand, the caller resumed on its own strand}.
asio::awaitable<std::pair<bool, bool>> HopThereAndBack(
    poll::DeviceWorker* worker, asio::strand<asio::io_context::executor_type> caller) {
  bool there = co_await worker->Run(OnTheWorkersStrand(worker));
  co_return std::pair{there, caller.running_in_this_thread()};
}

std::int64_t Int(const boost::json::object& o, const char* key) {
  return o.at(key).to_number<std::int64_t>();
}

/// Takes a slot of `gate` from the io_context's thread, as a worker would.
poll::FetchGate::Slot HoldSlot(asio::io_context& io, poll::FetchGate& gate) {
  auto f = asio::co_spawn(io, gate.Acquire(io.get_executor()), asio::use_future);
  if (f.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "no slot within 10 s";
    return {};
  }
  return f.get();
}

void StopWorker(asio::io_context& io, poll::DeviceWorker& worker) {
  auto done = asio::co_spawn(io, worker.Stop(2s), asio::use_future);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
}

class DeviceWorkerTest : public PgTest {
 protected:
  /// The reader has no match-data left and our committed cursor is at its newest log id.
  bool Drained(ef45::test::Sim& sim) {
    auto s = sim.State();
    return Int(s, "match_pending") == 0 &&
           std::to_string(Int(s, "last_log_id")) ==
               Scalar(Dsn(), "SELECT coalesce(max(last_log_id), -1) FROM device_cursors");
  }
};

TEST_F(DeviceWorkerTest, MatchDataStaysOnTheReaderWhileItsCommitFails) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 20.0, .seed = 7});
  IoThread io;
  // The cursor and the lock record come from a working database; the writer's database does not
  // answer (nothing listens on that port), so no commit can succeed.
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::Database unreachable(store::DatabaseOptions{
      "host=127.0.0.1 port=" + std::to_string(FreePort()) + " user=postgres dbname=none", 1, 1s});
  store::WriterOptions o;
  o.retry_initial = 20ms;
  o.retry_max = 200ms;
  store::EventWriter writer(io.Io().get_executor(), unreachable, o);
  writer.Start();
  poll::DeviceWorker worker(io.Io().get_executor(), poll::WorkerDeps{db, writer, nullptr},
                            ReaderAt(sim.port()));
  worker.Start();

  // The worker polls (it holds the reader's lock) while the reader buffers recognitions.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = sim.State();
        return s.at("locked").as_bool() && s.at("match_pending").to_number<std::int64_t>() >= 40;
      },
      20s));
  auto state = sim.State();
  EXPECT_EQ(state.at("match_deleted").to_number<std::int64_t>(), 0)
      << "match-data deleted on the reader without a commit";
  EXPECT_EQ(state.at("match_pending").to_number<std::int64_t>(),
            state.at("recognitions_generated").to_number<std::int64_t>() -
                state.at("match_overflowed").to_number<std::int64_t>());
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events"), "0");
  // The writer first: its deadline ends the Write the worker is waiting on (a commit that cannot
  // happen), then the worker can stop.
  StopWriter(io.Io(), writer, 1s);
  StopWorker(io.Io(), worker);
  EXPECT_EQ(sim.State().at("match_deleted").to_number<std::int64_t>(), 0);
}

TEST_F(DeviceWorkerTest, CommittedMatchDataIsDeletedAndStoredOnceWithItsLogEntry) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 20.0, .seed = 8});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  poll::DeviceWorker worker(io.Io().get_executor(), poll::WorkerDeps{db, writer, nullptr},
                            ReaderAt(sim.port()));
  worker.Start();
  ASSERT_TRUE(WaitFor(
      [&] { return sim.State().at("match_deleted").to_number<std::int64_t>() >= 40; }, 20s));
  sim.Control("POST", "/sim/generation/pause", "{}");
  ASSERT_TRUE(WaitFor([&] { return Drained(sim); }, 20s));
  auto s = sim.State();
  auto deleted = s.at("match_deleted").to_number<std::int64_t>();
  // Every deleted item is stored, once, merged with its log entry (both sources).
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE sources & 2 = 2"),
            std::to_string(deleted));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE sources = 3"),
            std::to_string(deleted));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'recognition'"),
            std::to_string(s.at("recognitions_generated").to_number<std::int64_t>()));
  StopWorker(io.Io(), worker);
  StopWriter(io.Io(), writer, 5s);
}

// Issue 18: the match poll reads the page of logs the logs poll would read, so the logs poll
// waits (it comes for its reset check only), and a page never takes a recognition past the
// match-data GET's items (stored without its item, it would be revised when the item comes).
TEST_F(DeviceWorkerTest, TheMatchPollReadsTheLogsPageAndNoRecognitionIsStoredTwice) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 20.0, .seed = 9});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  metrics::Registry registry;
  metrics::PollMetrics families(registry);
  // As the gateway runs it by default (io_threads: 1): on the io_context's executor.
  poll::DeviceWorker worker(io.Io().get_executor(),
                            poll::WorkerDeps{db, writer, &families, /*one_thread=*/true},
                            ReaderAt(sim.port()));
  worker.Start();
  const auto logs_polls = [&] {
    return families.poll_lateness_by_kind[static_cast<std::size_t>(poll::PollKind::kLogs)]
        ->Collect()
        .histogram.sample_count;
  };
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "match_deleted") >= 20; }, 20s));
  const auto polls_before = logs_polls();
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "match_deleted") >= 120; }, 30s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Every 200 ms on its own; with the match poll's pages only every fifth interval (1 s).
  EXPECT_LT(static_cast<double>(logs_polls() - polls_before), seconds / 0.2 / 2)
      << "over " << seconds << " s";
  sim.Control("POST", "/sim/generation/pause", "{}");
  ASSERT_TRUE(WaitFor([&] { return Drained(sim); }, 20s));
  auto s = sim.State();
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'recognition'"),
            std::to_string(Int(s, "recognitions_generated")));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE sources = 3"),
            std::to_string(Int(s, "match_deleted")));
  // The item's payload (scores, "match") is the merged event's: the log entry brings none.
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE sources = 3 AND payload ? 'match'"),
            std::to_string(Int(s, "match_deleted")));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE revision > 1"), "0")
      << "a recognition committed without its item, then revised";
  StopWorker(io.Io(), worker);
  StopWriter(io.Io(), writer, 5s);
}

// Issue 18: after a start-up every reader's backlog was fetched at once and held while the
// writer worked through it (the gateway's peak memory). A poll that may bring a backlog now
// waits for a fleet-wide slot *before* fetching; ordinary polls do not wait.
TEST_F(DeviceWorkerTest, APollThatMayBringABacklogWaitsForASlotBeforeFetching) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 20.0, .seed = 10});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  poll::FetchGate gate(1);
  auto held = HoldSlot(io.Io(), gate);  // the fleet's only slot
  poll::DeviceWorker worker(io.Io().get_executor(),
                            poll::WorkerDeps{db, writer, nullptr, false, &gate},
                            ReaderAt(sim.port()));
  worker.Start();

  // The first match or logs poll does not know what the reader buffered: it waits, and the
  // reader keeps its recognitions meanwhile.
  ASSERT_TRUE(
      WaitFor([&] { return gate.Waiting() == 1 && Int(sim.State(), "match_pending") >= 20; }, 20s));
  EXPECT_EQ(Int(sim.State(), "match_deleted"), 0);
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'recognition'"), "0");

  held = poll::FetchGate::Slot();  // given back: the worker takes the backlog
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "match_deleted") >= 40; }, 20s));

  // Caught up, its polls bring a recognition or two: they take no slot, so they go on while
  // the slot is held elsewhere.
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "match_pending") <= 4; }, 20s));
  held = HoldSlot(io.Io(), gate);
  const auto deleted = Int(sim.State(), "match_deleted");
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "match_deleted") >= deleted + 40; }, 20s))
      << "ordinary polls waited for the slot";
  EXPECT_EQ(gate.Waiting(), 0U);

  sim.Control("POST", "/sim/generation/pause", "{}");
  held = poll::FetchGate::Slot();
  ASSERT_TRUE(WaitFor([&] { return Drained(sim); }, 20s));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'recognition'"),
            std::to_string(Int(sim.State(), "recognitions_generated")));
  StopWorker(io.Io(), worker);
  StopWriter(io.Io(), writer, 5s);
  EXPECT_EQ(gate.InUse(), 0U);
}

TEST_F(DeviceWorkerTest, StopEndsAWaitForABacklogSlot) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 5.0, .seed = 11});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  poll::FetchGate gate(1);
  auto held = HoldSlot(io.Io(), gate);
  poll::DeviceWorker worker(io.Io().get_executor(),
                            poll::WorkerDeps{db, writer, nullptr, false, &gate},
                            ReaderAt(sim.port()));
  worker.Start();
  ASSERT_TRUE(WaitFor([&] { return gate.Waiting() == 1; }, 20s));
  const auto start = std::chrono::steady_clock::now();
  StopWorker(io.Io(), worker);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << "Stop waited out its deadline";
  EXPECT_EQ(gate.Waiting(), 0U);
  EXPECT_EQ(gate.InUse(), 1U);  // only the test's
  EXPECT_FALSE(sim.State().at("locked").as_bool()) << "the lock was not released";
  StopWriter(io.Io(), writer, 5s);
}

TEST_F(DeviceWorkerTest, WorkerSetStopsARemovedReaderAndKeepsTheOther) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.readers = 2, .rate = 5.0, .seed = 9});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  poll::WorkerSet workers(io.Io().get_executor(), poll::WorkerDeps{db, writer, nullptr});
  auto r0 = ReaderAt(sim.port(0));
  auto r1 = ReaderAt(sim.port(1));
  r1.id = "r2";
  // From a strand, as the lease manager calls it.
  auto strand = asio::make_strand(io.Io().get_executor());
  auto both = asio::co_spawn(strand, workers.Apply({r0, r1}, 2s), asio::use_future);
  ASSERT_EQ(both.wait_for(10s), std::future_status::ready);
  ASSERT_TRUE(WaitFor(
      [&] { return sim.State(0).at("locked").as_bool() && sim.State(1).at("locked").as_bool(); },
      20s));
  // User sync looks a worker up again only when the generation has moved: every change moves it.
  const auto generation = workers.generation();
  const auto kept = workers.Find(r0.id);
  ASSERT_NE(workers.Find("r2"), nullptr);
  auto one = asio::co_spawn(strand, workers.Apply({r0}, 2s), asio::use_future);
  ASSERT_EQ(one.wait_for(10s), std::future_status::ready) << "stopping the removed worker hung";
  EXPECT_EQ(one.get().removed, std::vector<std::string>{"r2"});
  EXPECT_FALSE(sim.State(1).at("locked").as_bool()) << "the removed reader's lock was kept";
  EXPECT_TRUE(sim.State(0).at("locked").as_bool());
  EXPECT_GT(workers.generation(), generation) << "a removal left the generation where it was";
  EXPECT_EQ(workers.Find("r2"), nullptr);
  EXPECT_EQ(workers.Find(r0.id), kept) << "an unchanged reader's worker was replaced";
  // A restart (same id, new settings) is a new worker under a new generation.
  const auto before_restart = workers.generation();
  auto moved = r0;
  moved.polling.door = moved.polling.door * 2;
  auto restart = asio::co_spawn(strand, workers.Apply({moved}, 2s), asio::use_future);
  ASSERT_EQ(restart.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(restart.get().restarted, std::vector<std::string>{r0.id});
  EXPECT_GT(workers.generation(), before_restart);
  EXPECT_NE(workers.Find(r0.id), kept);
  auto all = asio::co_spawn(strand, workers.StopAll(2s), asio::use_future);
  ASSERT_EQ(all.wait_for(10s), std::future_status::ready);
  StopWriter(io.Io(), writer, 5s);
}

TEST_F(DeviceWorkerTest, RunExecutesOnTheReadersStrandAndResumesTheCaller) {
  ef45::test::Sim sim;
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 1});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  // With a strand of its own, and on the io_context's executor when one thread runs it.
  for (bool one_thread : {false, true}) {
    poll::DeviceWorker worker(io.Io().get_executor(),
                              poll::WorkerDeps{db, writer, nullptr, one_thread},
                              ReaderAt(sim.port()));
    EXPECT_FALSE(worker.OnStrand()) << "the test's thread is not the worker's";
    auto caller = asio::make_strand(io.Io().get_executor());
    auto result = asio::co_spawn(caller, HopThereAndBack(&worker, caller), asio::use_future);
    ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
    auto [there, back] = result.get();
    EXPECT_TRUE(there) << "the operation did not run on the worker's executor (one_thread "
                       << one_thread << ")";
    EXPECT_TRUE(back) << "the caller did not resume on its own strand";
  }
}

// DESIGN.md section 4: the reader's log ids restart (a wipe); two agreeing checks open a new log
// epoch, and the new entries are stored in it: nothing lost, nothing doubled.
TEST_F(DeviceWorkerTest, ALogResetOpensANewEpochAndStoresTheNewEntriesOnce) {
  ef45::test::Sim sim(ef45sim::FleetOptions{.rate = 20.0, .seed = 10});
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db, store::WriterOptions{});
  writer.Start();
  poll::DeviceWorker worker(io.Io().get_executor(), poll::WorkerDeps{db, writer, nullptr},
                            ReaderAt(sim.port()));
  worker.Start();
  const auto drained = [&](const char* epoch) {
    auto s = sim.State();
    return Int(s, "match_pending") == 0 &&
           Scalar(Dsn(),
                  "SELECT coalesce(max(log_epoch), -1) || ':' || "
                  "coalesce(max(last_log_id), -1) FROM device_cursors") ==
               std::string(epoch) + ":" + std::to_string(Int(s, "last_log_id"));
  };
  // Enough stored that the restarted ids stay below the cursor.
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "last_log_id") >= 40; }, 20s));
  sim.Control("POST", "/sim/generation/pause", "{}");
  ASSERT_TRUE(WaitFor([&] { return drained("0"); }, 20s));
  const auto old_cursor = Int(sim.State(), "last_log_id");

  // One reply that says the ids restarted is not believed: the next check disagrees.
  sim.Faults(R"({"phantom_newest_log_id": 5})");
  ASSERT_TRUE(WaitFor([&] { return !sim.State().at("phantom_newest_pending").as_bool(); }, 10s));
  const auto requests = Int(sim.State(), "requests");
  ASSERT_TRUE(WaitFor([&] { return Int(sim.State(), "requests") >= requests + 10; }, 10s));
  EXPECT_EQ(worker.Snapshot().log_resets, 0u) << "one phantom newest id started a new epoch";

  sim.Faults(R"({"wipe_logs": true})");
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions": 10})");
  ASSERT_LT(Int(sim.State(), "last_log_id"), old_cursor);
  ASSERT_TRUE(WaitFor([&] { return drained("1"); }, 20s))
      << "no new log epoch, or its entries not stored";

  auto s = sim.State();
  auto generated = sim.Control("GET", "/sim/readers/0/generated?limit=10000");
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT count(*) FROM events WHERE kind = 'device' AND "
                   "event_type = 'log_reset'"),
            "1");
  EXPECT_EQ(worker.Snapshot().log_resets, 1u);
  // Every entry the reader ever wrote, in either epoch, is one row; none is missing.
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE device_log_id IS NOT NULL"),
            std::to_string(Int(generated.as_object(), "total")));
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT count(DISTINCT (log_epoch, device_log_id)) FROM events "
                   "WHERE device_log_id IS NOT NULL"),
            std::to_string(Int(generated.as_object(), "total")));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'recognition'"),
            std::to_string(Int(s, "recognitions_generated")));
  // The new epoch's recognitions, each merged with its match-data item (both sources).
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT count(*) FROM events WHERE kind = 'recognition' AND "
                   "log_epoch = 1 AND sources = 3"),
            "10");
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events WHERE kind = 'gap'"), "0");
  StopWorker(io.Io(), worker);
  StopWriter(io.Io(), writer, 5s);
}

}  // namespace
}  // namespace gw::test
