#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <random>
#include <set>

#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/queries.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using boost::system::error_code;

class Seq : public PgTest {};

// Pages through everything after `after` and returns the last seq seen.
std::int64_t Drain(store::Database& db, std::int64_t after, std::vector<std::string>& keys) {
  for (;;) {
    store::EventQuery q;
    q.after = after;
    q.limit = 37;
    auto page = store::ListEventsBlocking(db, q);
    EXPECT_TRUE(page);
    if (!page) return after;
    for (const auto& e : page->events) keys.push_back(e.device_id + "/" + e.event_key);
    after = page->next;
    if (page->events.size() < 37u) return after;
  }
}

TEST_F(Seq, ResumingReaderNeverSkipsUnderConcurrentCommits) {
  // Four independent gateways' worth of writers (own connections), committing at once, while a
  // consumer pages by seq. Afterwards the consumer must have seen every row exactly once.
  constexpr int kWriters = 4;
  constexpr int kProducersPerWriter = 6;
  constexpr int kBatches = 25;
  IoThread io;
  std::vector<std::unique_ptr<store::Database>> dbs;
  std::vector<std::unique_ptr<store::EventWriter>> writers;
  for (int w = 0; w < kWriters; ++w) {
    dbs.push_back(std::make_unique<store::Database>(store::DatabaseOptions{Dsn(), 2}));
    store::WriterOptions o;
    o.max_delay = std::chrono::milliseconds(1 + w);
    writers.push_back(std::make_unique<store::EventWriter>(io.Io().get_executor(), *dbs.back(), o));
    writers.back()->Start();
  }
  std::atomic<bool> done{false};
  std::vector<std::string> seen;
  store::Database reader_db(store::DatabaseOptions{Dsn(), 1});
  std::thread reader([&] {
    std::int64_t after = 0;
    while (!done) after = Drain(reader_db, after, seen);
    Drain(reader_db, after, seen);
  });
  std::vector<std::thread> producers;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    for (int p = 0; p < kProducersPerWriter; ++p) {
      producers.emplace_back([&, w, p] {
        std::mt19937 rng(static_cast<unsigned>(w * 100 + p));
        std::string device = "w" + std::to_string(w) + "-r" + std::to_string(p);
        std::int64_t next = 1;
        for (int b = 0; b < kBatches; ++b) {
          store::DeviceBatch batch;
          batch.device_id = device;
          int n = 1 + static_cast<int>(rng() % 60);
          for (int i = 0; i < n; ++i) batch.events.push_back(LogEvent(next++));
          batch.cursor = store::Cursor{next - 1, 0};
          if (WriteAsync(io.Io(), *writers[w], std::move(batch)).get()) ++failures;
        }
      });
    }
  }
  for (auto& t : producers) t.join();
  done = true;
  reader.join();
  for (auto& w : writers) StopWriter(io.Io(), *w);
  EXPECT_EQ(failures, 0);

  auto all = Query(Dsn(), "SELECT device_id || '/' || event_key FROM events ORDER BY seq");
  std::vector<std::string> expected;
  for (const auto& r : all) expected.push_back(r[0]);
  std::multiset<std::string> seen_set(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), seen_set.size());
  EXPECT_EQ(seen.size(), expected.size()) << "the paging consumer missed or repeated events";
  EXPECT_EQ(seen, expected);
}

TEST_F(Seq, AnOpenTransactionHoldsBackEventsCommittedAfterIt) {
  pqxx::connection slow(Dsn());
  pqxx::work slow_tx(slow);
  slow_tx.exec(
      "INSERT INTO events (device_id, event_key, kind, sources) "
      "VALUES ('slow', 'device:1', 'device', 4)");
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 2});
  store::EventWriter writer(io.Io().get_executor(), db);
  writer.Start();
  store::DeviceBatch b{"fast", {LogEvent(1)}, {}, {}};
  auto ack = WriteAsync(io.Io(), writer, b);
  // The writer waits on the commit-order lock the open transaction holds.
  EXPECT_TRUE(WaitFor([&] {
    return Scalar(Dsn(),
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                  "NOT granted") == "1";
  }));
  EXPECT_EQ(ack.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  store::EventQuery q;
  auto page = store::ListEventsBlocking(db, q);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->events.empty());
  slow_tx.commit();
  EXPECT_FALSE(ack.get());
  auto rows = Query(Dsn(), "SELECT device_id FROM events ORDER BY seq");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "slow");
  EXPECT_EQ(rows[1][0], "fast");
  StopWriter(io.Io(), writer);
}

// The negative control: the same interleaving with a writer that takes seq values without the
// lock shows the skip that the lock prevents (and that the test above would catch).
TEST_F(Seq, BypassingTheCommitOrderLockLetsAReaderSkip) {
  pqxx::connection slow(Dsn());
  pqxx::work slow_tx(slow);
  slow_tx.exec(
      "INSERT INTO events (seq, device_id, event_key, kind, sources) "
      "VALUES (nextval('events_seq'), 'slow', 'device:1', 'device', 4)");
  store::Database db(store::DatabaseOptions{Dsn(), 1});
  store::DeviceBatch b{"fast", {LogEvent(1)}, {}, {}};
  std::vector<const store::DeviceBatch*> one{&b};
  ASSERT_TRUE(store::WriteBatchesBlocking(db, one));  // not blocked: nobody holds the lock
  std::vector<std::string> seen;
  std::int64_t after = Drain(db, 0, seen);
  slow_tx.commit();
  Drain(db, after, seen);
  EXPECT_EQ(seen, std::vector<std::string>{"fast/log:0:1"});  // 'slow' was skipped
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM events"), "2");
}

}  // namespace
}  // namespace gw::test
