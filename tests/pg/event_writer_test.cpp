#include "store/event_writer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <mutex>

#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/queries.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using boost::system::error_code;
namespace asio = boost::asio;

class EventWriterTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = std::make_unique<store::Database>(store::DatabaseOptions{Dsn(), 2});
    writer_ = std::make_unique<store::EventWriter>(io_.Io().get_executor(), *db_, options_);
    writer_->Start();
  }
  void TearDown() override {
    if (writer_) StopWriter(io_.Io(), *writer_);
    writer_.reset();
    db_.reset();
    PgTest::TearDown();
  }
  error_code Write(store::DeviceBatch b) {
    return WriteAsync(io_.Io(), *writer_, std::move(b)).get();
  }
  std::string Count(const std::string& where = "true") {
    return Scalar(Dsn(), "SELECT count(*) FROM events WHERE " + where);
  }

  store::WriterOptions options_{};
  IoThread io_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::EventWriter> writer_;
};

store::DeviceBatch Logs(const std::string& device, std::int64_t from, std::int64_t to,
                        std::int64_t epoch = 0) {
  store::DeviceBatch b;
  b.device_id = device;
  for (auto id = from; id <= to; ++id) b.events.push_back(LogEvent(id, epoch));
  b.cursor = store::Cursor{to, epoch};
  return b;
}

TEST_F(EventWriterTest, CommitsEventsAndCursorTogether) {
  ASSERT_FALSE(Write(Logs("r1", 1, 50)));
  EXPECT_EQ(Count(), "50");
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT last_log_id || '/' || log_epoch FROM device_cursors "
                   "WHERE device_id = 'r1'"),
            "50/0");
  auto cursor = store::ReadCursorBlocking(*db_, "r1");
  ASSERT_TRUE(cursor);
  ASSERT_TRUE(cursor->has_value());
  EXPECT_EQ(**cursor, (store::Cursor{50, 0}));
  // seq is strictly increasing in batch order.
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT bool_and(ok) FROM (SELECT device_log_id > lag(device_log_id, 1, "
                   "0::bigint) OVER (ORDER BY seq) AS ok FROM events) s"),
            "t");
}

TEST_F(EventWriterTest, ReplaysInsertNothing) {
  ASSERT_FALSE(Write(Logs("r1", 1, 20)));
  auto before = Query(Dsn(), "SELECT seq, event_key, revision FROM events ORDER BY seq");
  ASSERT_FALSE(Write(Logs("r1", 1, 20)));  // a retried page
  ASSERT_FALSE(Write(Logs("r1", 5, 25)));  // an overlapping one
  EXPECT_EQ(Count(), "25");
  auto after = Query(Dsn(),
                     "SELECT seq, event_key, revision FROM events WHERE device_log_id <= 20 "
                     "ORDER BY seq");
  EXPECT_EQ(after, before);
  auto stats = writer_->Stats();
  EXPECT_EQ(stats.events_inserted, 25u);
  EXPECT_EQ(stats.events_ignored, 20u + 16u);
  EXPECT_EQ(stats.events_enriched, 0u);
}

TEST_F(EventWriterTest, CursorNeverMovesBackwards) {
  ASSERT_FALSE(Write(Logs("r1", 1, 30)));
  ASSERT_FALSE(Write(Logs("r1", 1, 10)));  // a stale replay
  EXPECT_EQ(**store::ReadCursorBlocking(*db_, "r1"), (store::Cursor{30, 0}));
  ASSERT_FALSE(Write(Logs("r1", 1, 5, 1)));  // log ids restarted: new epoch
  EXPECT_EQ(**store::ReadCursorBlocking(*db_, "r1"), (store::Cursor{5, 1}));
  EXPECT_EQ(Count(), "35");
}

void ExpectMerged(const std::string& dsn) {
  auto rows = Query(dsn,
                    "SELECT count(*), min(sources), min(encounter_id), min(info), "
                    "min(additional_data), min(payload->>'left_eye_quality_score'), "
                    "min(payload->>'timestamp'), min(kind) FROM events");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], "3");  // log | match-data
  EXPECT_EQ(rows[0][2], "enc-7");
  EXPECT_EQ(rows[0][3], "Recog/BioOnly/IrisOk");
  EXPECT_EQ(rows[0][4], "Allowed");
  EXPECT_EQ(rows[0][5], "92");
  EXPECT_EQ(rows[0][6], "2025-11-24T16:00:00Z");
  EXPECT_EQ(rows[0][7], "recognition");
}

TEST_F(EventWriterTest, AcknowledgesEachBatchWithTheNewestSeqItsEventsGot) {
  // Two readers in one transaction (both handed over before the first commit), then an
  // enrichment, then a replay: the ack carries each reader's own newest seq, 0 when nothing
  // changed. The pollers' live state (GET /api/v1/devices last_seq) comes from this.
  auto acked = [this](store::DeviceBatch b) {
    auto write = [](store::EventWriter* w,
                    store::DeviceBatch batch) -> asio::awaitable<store::WriteAck> {
      co_return co_await w->WriteAcked(std::move(batch));
    };
    return asio::co_spawn(io_.Io(), write(writer_.get(), std::move(b)), asio::use_future);
  };
  auto max_seq = [this](const std::string& device) {
    return std::stoll(
        Scalar(Dsn(), "SELECT max(seq) FROM events WHERE device_id = '" + device + "'"));
  };
  auto a = acked(Logs("r1", 1, 5));
  auto b = acked(Logs("r2", 1, 3));
  auto ra = a.get();
  auto rb = b.get();
  ASSERT_FALSE(ra.ec);
  ASSERT_FALSE(rb.ec);
  EXPECT_EQ(ra.last_seq, max_seq("r1"));
  EXPECT_EQ(rb.last_seq, max_seq("r2"));
  auto enriched = acked(store::DeviceBatch{"r1", {MatchEvent(2, "enc-2")}, {}, {}}).get();
  ASSERT_FALSE(enriched.ec);
  EXPECT_EQ(enriched.last_seq, max_seq("r1"));
  EXPECT_GT(enriched.last_seq, ra.last_seq);
  auto replay = acked(Logs("r2", 1, 3)).get();
  ASSERT_FALSE(replay.ec);
  EXPECT_EQ(replay.last_seq, 0);
}

TEST_F(EventWriterTest, MergesMatchDataThenLogIntoOneEvent) {
  store::DeviceBatch match{"r1", {MatchEvent(7, "enc-7")}, {}, {}};
  ASSERT_FALSE(Write(match));
  auto first_seq = Scalar(Dsn(), "SELECT seq FROM events");
  ASSERT_FALSE(Write(Logs("r1", 7, 7)));
  ExpectMerged(Dsn());
  // The enriched event moved to a new seq so that resuming consumers see its final form.
  EXPECT_GT(std::stoll(Scalar(Dsn(), "SELECT seq FROM events")), std::stoll(first_seq));
  EXPECT_EQ(Scalar(Dsn(), "SELECT revision FROM events"), "2");
  // Replays of either source change nothing.
  auto snapshot = Query(Dsn(), "SELECT * FROM events");
  ASSERT_FALSE(Write(match));
  ASSERT_FALSE(Write(Logs("r1", 7, 7)));
  EXPECT_EQ(Query(Dsn(), "SELECT * FROM events"), snapshot);
  EXPECT_EQ(writer_->Stats().events_enriched, 1u);
}

TEST_F(EventWriterTest, MergesLogThenMatchDataIntoOneEvent) {
  ASSERT_FALSE(Write(Logs("r1", 7, 7)));
  ASSERT_FALSE(Write(store::DeviceBatch{"r1", {MatchEvent(7, "enc-7")}, {}, {}}));
  ExpectMerged(Dsn());
}

TEST_F(EventWriterTest, MergesBothSourcesArrivingInOneTransaction) {
  store::DeviceBatch b{"r1", {MatchEvent(7, "enc-7"), LogEvent(7)}, store::Cursor{7, 0}, {}};
  ASSERT_FALSE(Write(b));
  ExpectMerged(Dsn());
  EXPECT_EQ(Scalar(Dsn(), "SELECT revision FROM events"), "1");
}

TEST_F(EventWriterTest, DoorAndDeviceEventsAreKeyedByThePoller) {
  store::Event door;
  door.kind = store::EventKind::kDoor;
  door.source = store::EventSource::kPoller;
  door.natural_key = "2025-11-24T16:00:01.000Z";
  door.payload = R"({"door_sensor":1,"relay":0})";
  store::DoorState state{1, 0, 0, 0, store::TimePoint(std::chrono::seconds(1764000001))};
  store::DeviceBatch b{"r1", {door}, {}, state};
  ASSERT_FALSE(Write(b));
  ASSERT_FALSE(Write(b));  // retried batch
  EXPECT_EQ(Count("kind = 'door'"), "1");
  auto states = store::DeviceStatesBlocking(*db_, std::string("r1"));
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  ASSERT_TRUE((*states)[0].door);
  EXPECT_EQ((*states)[0].door->door_sensor, 1);
}

TEST_F(EventWriterTest, StoresTextWithCopySpecialCharactersUnchanged) {
  auto e = LogEvent(1);
  e.info = "tab\there\nnew line \\N back\\slash \xC3\xA9\r\n\\\t\b\f\v end\\";
  e.user_uuid = "\\N";
  e.event_type = "\\.";  // COPY's end-of-data marker, as a field's whole text
  e.additional_data = "";
  e.payload = R"({"quote":"a\"b","bs":"c\\d","nl":"e\nf","uni":"\u00e9"})";
  ASSERT_FALSE(Write(store::DeviceBatch{"r1", {e}, {}, {}}));
  auto page = store::ListEventsBlocking(*db_, store::EventQuery{});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].info, e.info);
  EXPECT_EQ(page->events[0].user_uuid, "\\N");
  EXPECT_EQ(page->events[0].event_type, "\\.");
  ASSERT_TRUE(page->events[0].additional_data);
  EXPECT_EQ(*page->events[0].additional_data, "");
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT payload->>'quote' || '|' || (payload->>'bs') || '|' || "
                   "(payload->>'nl') || '|' || (payload->>'uni') FROM events"),
            "a\"b|c\\d|e\nf|\xC3\xA9");
}

TEST_F(EventWriterTest, RefusesAnInvalidBatchWithoutHoldingUpOthers) {
  auto good = WriteAsync(io_.Io(), *writer_, Logs("r2", 1, 3));
  store::DeviceBatch no_key{"r1", {store::Event{}}, {}, {}};
  EXPECT_EQ(Write(no_key), Errc::kBadRequest);
  EXPECT_FALSE(good.get());
  EXPECT_EQ(Count(), "3");
  EXPECT_EQ(Count("device_id = 'r1'"), "0");
}

// ---- Bad entries (DESIGN.md invariant 8): nothing is lost to one entry the database refuses. ----

class QuarantineTest : public EventWriterTest {
 protected:
  void SetUp() override {
    options_.on_quarantine = [this](const std::string& device, std::string_view reason) {
      std::lock_guard lock(mutex_);
      reasons_.push_back(device + ":" + std::string(reason));
    };
    EventWriterTest::SetUp();
  }
  std::vector<std::string> Reasons() {
    std::lock_guard lock(mutex_);
    return reasons_;
  }
  std::string Field(std::int64_t log_id, const std::string& expr,
                    const std::string& device = "r1") {
    return Scalar(Dsn(), "SELECT coalesce((" + expr +
                             ")::text, 'NULL') FROM events WHERE device_id = '" + device +
                             "' AND device_log_id = " + std::to_string(log_id));
  }

  std::mutex mutex_;
  std::vector<std::string> reasons_;
};

// Text PostgreSQL cannot store in a btree index row (random, so compression cannot save it).
std::string Incompressible(std::size_t n) {
  std::string s;
  std::uint64_t x = 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    s += kAlphabet[x % 62];
  }
  return s;
}

TEST_F(QuarantineTest, StoresNulTextYearZeroAndBadPayloadSanitisedAmongGoodEntries) {
  store::DeviceBatch b = Logs("r1", 1, 10);
  b.events[3].info = std::string("In\0/Recog", 9);                   // id 4
  b.events[6].device_time = store::TimePoint(std::chrono::sys_days(  // id 7
                                                 std::chrono::year{0} / std::chrono::January / 1)
                                                 .time_since_epoch());
  b.events[8].payload = R"({"a":"\u0000"})";  // id 9
  ASSERT_FALSE(Write(b));
  EXPECT_EQ(Count(), "10");
  EXPECT_EQ(Scalar(Dsn(), "SELECT last_log_id FROM device_cursors WHERE device_id = 'r1'"), "10");
  EXPECT_EQ(Field(4, "info"), "In\xEF\xBF\xBD/Recog");
  EXPECT_EQ(Field(4, "payload->'sanitized'"), R"(["info"])");
  EXPECT_EQ(Field(4, "payload->'original'->>'info'"), "In\\x00/Recog");
  EXPECT_EQ(Field(7, "device_time"), "NULL");
  EXPECT_EQ(Field(7, "payload->'sanitized'"), R"(["device_time"])");
  EXPECT_EQ(Field(7, "payload->'original'->>'device_time'").substr(0, 10), "0000-01-01");
  EXPECT_EQ(Field(9, "payload->'sanitized'"), R"(["payload"])");
  EXPECT_EQ(Field(9, "payload->'original'->>'payload'"), R"({"a":"\\u0000"})");
  EXPECT_EQ(Count("payload ? 'sanitized'"), "3");
  EXPECT_EQ(Reasons(), (std::vector<std::string>{"r1:bad_text", "r1:bad_time", "r1:bad_payload"}));
  EXPECT_EQ(writer_->Stats().events_quarantined, 3u);
  // A replay of the same batch finds the same (sanitised) keys: nothing doubles.
  ASSERT_FALSE(Write(b));
  EXPECT_EQ(Count(), "10");
}

TEST_F(QuarantineTest, SplitsARefusedBatchAndStoresTheRefusedEntryStripped) {
  store::DeviceBatch b = Logs("r1", 1, 20);
  b.events[12].user_uuid = Incompressible(20000);  // id 13: too big for events_user_seq
  auto other = WriteAsync(io_.Io(), *writer_, Logs("r2", 1, 5));
  ASSERT_FALSE(Write(b));
  EXPECT_FALSE(other.get());
  EXPECT_EQ(Count("device_id = 'r1'"), "20");
  EXPECT_EQ(Count("device_id = 'r2'"), "5");
  EXPECT_EQ(Scalar(Dsn(), "SELECT last_log_id FROM device_cursors WHERE device_id = 'r1'"), "20");
  EXPECT_EQ(Count("device_id = 'r1' AND user_uuid = 'u-1'"), "19");
  EXPECT_EQ(Field(13, "user_uuid"), "NULL");
  EXPECT_EQ(Field(13, "payload->'sanitized' ? 'user_uuid'"), "true");
  EXPECT_EQ(Field(13, "length(payload->'original'->>'user_uuid')"), "20000");
  EXPECT_EQ(Field(13, "kind"), "recognition");
  EXPECT_EQ(Reasons(), (std::vector<std::string>{"r1:db_refused"}));
}

TEST_F(QuarantineTest, RecordsAGapWhenEvenTheKeyIsRefused) {
  store::DeviceBatch b = Logs("r1", 1, 4);
  auto bad = MatchEvent(3, "enc");
  bad.device_log_id.reset();  // keyed by its encounter id, which is too big for the key index
  bad.encounter_id = Incompressible(20000);
  b.events.insert(b.events.begin() + 2, bad);
  ASSERT_FALSE(Write(b));
  EXPECT_EQ(Count("device_id = 'r1' AND kind <> 'gap'"), "4");
  EXPECT_EQ(Count("device_id = 'r1' AND kind = 'gap'"), "1");
  EXPECT_EQ(Scalar(Dsn(), "SELECT info FROM events WHERE kind = 'gap'"),
            "entry refused by PostgreSQL");
  EXPECT_EQ(Scalar(Dsn(), "SELECT length(payload->>'event_key') FROM events WHERE kind = 'gap'"),
            "256");
  EXPECT_EQ(Scalar(Dsn(), "SELECT last_log_id FROM device_cursors WHERE device_id = 'r1'"), "4");
  EXPECT_EQ(Reasons(), (std::vector<std::string>{"r1:db_refused"}));
}

TEST_F(EventWriterTest, ConcurrentWritersForManyReadersStoreEachEventOnce) {
  constexpr int kReaders = 40;
  constexpr int kPages = 10;
  constexpr int kPerPage = 25;
  std::vector<std::thread> producers;
  std::atomic<int> failures{0};
  for (int r = 0; r < kReaders; ++r) {
    producers.emplace_back([&, r] {
      std::string id = "reader-" + std::to_string(r);
      for (int p = 0; p < kPages; ++p) {
        auto b = Logs(id, p * kPerPage + 1, (p + 1) * kPerPage);
        // Every other page is delivered twice, as a poller retrying after a lost ack would.
        if (WriteAsync(io_.Io(), *writer_, b).get()) ++failures;
        if (p % 2 == 0 && WriteAsync(io_.Io(), *writer_, b).get()) ++failures;
      }
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Count(), std::to_string(kReaders * kPages * kPerPage));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(DISTINCT (device_id, device_log_id)) FROM events"),
            std::to_string(kReaders * kPages * kPerPage));
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM device_cursors WHERE last_log_id = " +
                              std::to_string(kPages * kPerPage)),
            std::to_string(kReaders));
  // Coalescing: far fewer transactions than batches.
  EXPECT_LT(writer_->Stats().transactions, static_cast<std::uint64_t>(kReaders * kPages));
}

TEST_F(EventWriterTest, StopFlushesQueuedBatches) {
  std::vector<std::future<error_code>> acks;
  for (int r = 0; r < 20; ++r)
    acks.push_back(WriteAsync(io_.Io(), *writer_, Logs("r" + std::to_string(r), 1, 10)));
  StopWriter(io_.Io(), *writer_);
  for (auto& a : acks) EXPECT_FALSE(a.get());
  EXPECT_EQ(Count(), "200");
  EXPECT_EQ(Write(Logs("late", 1, 1)), Errc::kCancelled);
}

class SmallQueueWriter : public EventWriterTest {
 protected:
  void SetUp() override {
    options_.max_batch_events = 10;
    options_.queue_capacity = 10;
    EventWriterTest::SetUp();
  }
};

TEST_F(SmallQueueWriter, BoundsAcceptedEventsAndStillCommitsEverything) {
  std::vector<std::future<error_code>> acks;
  for (int r = 0; r < 30; ++r)
    acks.push_back(WriteAsync(io_.Io(), *writer_, Logs("r" + std::to_string(r), 1, 10)));
  std::uint64_t max_queued = 0;
  bool saw_waiting = false;
  WaitFor([&] {
    auto s = writer_->Stats();
    max_queued = std::max(max_queued, s.queued_events);
    saw_waiting = saw_waiting || s.waiting_batches > 0;
    return s.transactions >= 30;
  });
  for (auto& a : acks) EXPECT_FALSE(a.get());
  EXPECT_LE(max_queued, 10u);
  EXPECT_TRUE(saw_waiting);
  EXPECT_EQ(Count(), "300");
}

}  // namespace
}  // namespace gw::test
