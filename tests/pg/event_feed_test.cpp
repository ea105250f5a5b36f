// EventFeed: the event streams' in-memory window serves the same events, with the same filters,
// as PostgreSQL would (device, kind, user, reader time), in seq order, and says when a cursor is
// older than the window.
#include "api/event_feed.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <regex>

#include "api/commit_signal.hpp"
#include "api/event_json.hpp"
#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/queries.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;

class EventFeedTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = std::make_unique<store::Database>(store::DatabaseOptions{Dsn(), 2});
    writer_ =
        std::make_unique<store::EventWriter>(io_.Io().get_executor(), *db_, store::WriterOptions{});
    writer_->Start();
  }
  void TearDown() override {
    if (feed_) feed_->Stop();
    if (writer_) StopWriter(io_.Io(), *writer_);
    writer_.reset();
    feed_.reset();
    db_.reset();
    PgTest::TearDown();
  }
  void StartFeed(std::size_t capacity, std::size_t max_bytes = 8u << 20) {
    feed_ = std::make_unique<api::EventFeed>(*db_, commits_, capacity, max_bytes);
    feed_->Start(io_.Io().get_executor());
    // Started once it answers for the newest seq.
    ASSERT_TRUE(WaitFor([&] { return feed_->Read({}, Newest(), 1).covered; }, 10s, 10ms));
  }
  std::int64_t Newest() {
    return std::stoll(Scalar(Dsn(), "SELECT coalesce(max(seq), 0) FROM events"));
  }
  /// Commits log entries [from, to] of `device`, entry i by user "u-<i % 3>", and waits until
  /// the feed holds them.
  void Commit(const std::string& device, std::int64_t from, std::int64_t to) {
    store::DeviceBatch b;
    b.device_id = device;
    for (auto id = from; id <= to; ++id)
      b.events.push_back(LogEvent(id, 0, "u-" + std::to_string(id % 3)));
    b.cursor = store::Cursor{to, 0};
    CommitBatch(std::move(b));
  }
  /// Commits `b` and waits until the feed holds its newest event.
  void CommitBatch(store::DeviceBatch b) {
    ASSERT_FALSE(WriteAsync(io_.Io(), *writer_, std::move(b)).get());
    commits_.Notify();
    auto newest = Newest();
    ASSERT_TRUE(WaitFor(
        [&] {
          auto r = feed_->Read({}, newest - 1, 10);
          return r.covered && r.events == 1;
        },
        10s, 10ms));
  }
  /// The seqs of the frames `Read` returned, in order.
  static std::vector<std::int64_t> Seqs(const std::string& frames) {
    std::vector<std::int64_t> out;
    static const std::regex id(R"(^id: (\d+)$)", std::regex::multiline);
    for (auto it = std::sregex_iterator(frames.begin(), frames.end(), id);
         it != std::sregex_iterator(); ++it) {
      out.push_back(std::stoll((*it)[1]));
    }
    return out;
  }
  /// The body GET /api/v1/events gets from PostgreSQL for `q` (the route's encoding).
  std::string BodyFromDatabase(const store::EventQuery& q) {
    auto page = store::ListEventsBlocking(*db_, q);
    EXPECT_TRUE(page);
    return page ? api::EventPageBody(page->events, page->next) : std::string();
  }
  /// Waits until the feed has read everything signalled (Page answers), at most 10 s.
  std::optional<std::string> WindowPage(const store::EventQuery& q) {
    std::optional<std::string> body;
    EXPECT_TRUE(WaitFor([&] { return (body = feed_->Page(q)).has_value(); }, 10s, 5ms));
    return body;
  }
  /// What PostgreSQL returns for the same filters (ListEventsBlocking), as seqs.
  std::vector<std::int64_t> FromDatabase(store::EventQuery q) {
    q.limit = store::kMaxEventPage;
    auto page = store::ListEventsBlocking(*db_, q);
    EXPECT_TRUE(page);
    std::vector<std::int64_t> out;
    if (page) {
      for (const auto& e : page->events) out.push_back(e.seq);
    }
    return out;
  }

  IoThread io_;
  api::CommitSignal commits_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::EventWriter> writer_;
  std::unique_ptr<api::EventFeed> feed_;
};

TEST_F(EventFeedTest, TheWindowFiltersAsPostgreSQLDoes) {
  StartFeed(1000);
  if (HasFatalFailure()) return;
  const auto start = Newest();
  Commit("r1", 1, 30);
  Commit("r2", 1, 30);
  if (HasFatalFailure()) return;

  std::vector<store::EventQuery> queries(5);
  queries[1].device_id = "r2";
  queries[2].user_uuid = "u-1";
  queries[3].kind = store::EventKind::kRecognition;
  queries[4].device_id = "r1";
  queries[4].since = store::TimePoint(std::chrono::seconds(1764000000 + 10));
  queries[4].until = store::TimePoint(std::chrono::seconds(1764000000 + 20));
  std::vector<std::size_t> expected = {60, 30, 20, 60, 10};
  for (std::size_t i = 0; i < queries.size(); ++i) {
    auto q = queries[i];
    q.after = start;
    auto window = feed_->Read(q, start, 1000);
    ASSERT_TRUE(window.covered);
    EXPECT_EQ(Seqs(window.frames), FromDatabase(q)) << "query " << i;
    EXPECT_EQ(window.events, expected[i]) << "query " << i;
  }
  // A kind nothing has: no frames, but the cursor moves past what was looked at.
  store::EventQuery none;
  none.kind = store::EventKind::kDoor;
  auto empty = feed_->Read(none, start, 1000);
  EXPECT_TRUE(empty.covered);
  EXPECT_EQ(empty.events, 0u);
  EXPECT_EQ(empty.next, Newest());
  // At most `max`, and `next` continues from the last one returned.
  auto first = feed_->Read({}, start, 7);
  EXPECT_EQ(first.events, 7u);
  auto rest = feed_->Read({}, first.next, 1000);
  EXPECT_EQ(first.events + rest.events, 60u);
  EXPECT_EQ(Seqs(rest.frames).front(), Seqs(first.frames).back() + 1);
}

TEST_F(EventFeedTest, NobodyReadingDropsTheWindowLastSeqsFollowAndAReadBringsItBack) {
  feed_ = std::make_unique<api::EventFeed>(*db_, commits_, 1000, 8u << 20, 300ms);
  feed_->Start(io_.Io().get_executor());
  // Nobody reads: the preloaded window goes.
  ASSERT_TRUE(WaitFor([&] { return !feed_->windowed(); }, 10s, 10ms));
  EXPECT_EQ(feed_->size(), 0u);
  EXPECT_EQ(feed_->bytes(), 0u);

  // Commits still move each reader's newest seq (the device listing's last_seq).
  auto write = [&](const std::string& device, std::int64_t from, std::int64_t to) {
    store::DeviceBatch b;
    b.device_id = device;
    for (auto id = from; id <= to; ++id) b.events.push_back(LogEvent(id, 0, "u-1"));
    b.cursor = store::Cursor{to, 0};
    ASSERT_FALSE(WriteAsync(io_.Io(), *writer_, std::move(b)).get());
    commits_.Notify();
  };
  write("idle-1", 1, 5);
  if (HasFatalFailure()) return;
  auto newest = Newest();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seqs = feed_->LastSeqs();
        return seqs.count("idle-1") && seqs.at("idle-1") == newest;
      },
      10s, 10ms));
  EXPECT_FALSE(feed_->windowed());

  // The first page and read after that are not covered (PostgreSQL answers them) and bring the
  // window back, from the newest seq on.
  store::EventQuery q;
  q.after = newest;
  EXPECT_FALSE(feed_->Page(q).has_value());
  EXPECT_FALSE(feed_->Read({}, newest, 10).covered);
  ASSERT_TRUE(WaitFor([&] { return feed_->windowed(); }, 10s, 10ms));
  write("idle-1", 6, 8);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(WaitFor([&] { return feed_->Read({}, newest, 10).events == 3; }, 10s, 10ms));
  auto read = feed_->Read({}, newest, 10);
  EXPECT_TRUE(read.covered);
  EXPECT_EQ(Seqs(read.frames).back(), Newest());
  EXPECT_EQ(WindowPage(q).value_or(""), BodyFromDatabase(q));
}

TEST_F(EventFeedTest, ACursorOlderThanTheWindowIsNotCovered) {
  StartFeed(10);
  if (HasFatalFailure()) return;
  const auto start = Newest();
  Commit("r1", 1, 25);
  if (HasFatalFailure()) return;
  EXPECT_FALSE(feed_->Read({}, start, 1000).covered) << "the first 15 events left the window";
  auto newest = Newest();
  auto tail = feed_->Read({}, newest - 10, 1000);
  ASSERT_TRUE(tail.covered);
  EXPECT_EQ(tail.events, 10u);
  EXPECT_EQ(Seqs(tail.frames).back(), newest);
}

TEST_F(EventFeedTest, ListingPagesFromTheWindowAreTheBodiesPostgreSQLGives) {
  StartFeed(1000);
  if (HasFatalFailure()) return;
  const auto start = Newest();
  Commit("r1", 1, 40);
  Commit("r2", 1, 40);
  if (HasFatalFailure()) return;
  // r1's entry 7 gets its match-data in a later commit: the event moves to a new seq.
  store::DeviceBatch late;
  late.device_id = "r1";
  late.events.push_back(MatchEvent(7, "enc-7"));
  CommitBatch(std::move(late));
  if (HasFatalFailure()) return;

  std::vector<store::EventQuery> queries(8);
  queries[1].limit = 5;
  queries[2].device_id = "r2";
  queries[3].user_uuid = "u-1";
  queries[3].limit = 7;
  queries[4].kind = store::EventKind::kRecognition;
  queries[5].device_id = "r1";
  queries[5].since = store::TimePoint(std::chrono::seconds(1764000000 + 10));
  queries[5].until = store::TimePoint(std::chrono::seconds(1764000000 + 20));
  queries[6].kind = store::EventKind::kDoor;  // nothing: items empty, next = after
  queries[7].limit = 1000;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (auto after : {start, start + 3, start + 45, Newest()}) {
      auto q = queries[i];
      q.after = after;
      auto window = WindowPage(q);
      ASSERT_TRUE(window) << "query " << i << " after " << after;
      EXPECT_EQ(*window, BodyFromDatabase(q)) << "query " << i << " after " << after;
    }
  }
  // The enriched event is served once, at its new seq, with both sources.
  store::EventQuery all;
  all.after = start;
  all.limit = 1000;
  auto body = *WindowPage(all);
  EXPECT_NE(body.find("\"sources\":[\"log\",\"match\"]"), std::string::npos) << body;
  // A page starting before the window is not answered from memory.
  store::EventQuery old;
  old.after = start > 0 ? start - 1 : 0;
  if (start > 0) {
    EXPECT_FALSE(feed_->Page(old));
  }
}

TEST_F(EventFeedTest, TheWindowKeepsToItsByteBoundAndOlderCursorsReadPostgreSQL) {
  // Frames are ~0.7 KB + 256 B each: 8 KiB hold a handful of the 60 events, not all of them.
  constexpr std::size_t kBytes = 8 << 10;
  StartFeed(1000, kBytes);
  if (HasFatalFailure()) return;
  const auto start = Newest();
  Commit("r1", 1, 30);
  Commit("r2", 1, 30);
  if (HasFatalFailure()) return;
  EXPECT_LE(feed_->bytes(), kBytes);
  EXPECT_GT(feed_->size(), 0u);
  EXPECT_LT(feed_->size(), 60u) << "the byte bound, not the count, decides";
  EXPECT_FALSE(feed_->Read({}, start, 1000).covered) << "the oldest events left the window";
  store::EventQuery old;
  old.after = start;
  EXPECT_FALSE(feed_->Page(old));
  // The newest ones are served, the same as PostgreSQL has them.
  const auto newest = Newest();
  const auto held = static_cast<std::int64_t>(feed_->size());
  auto tail = feed_->Read({}, newest - held, 1000);
  ASSERT_TRUE(tail.covered);
  EXPECT_EQ(Seqs(tail.frames), FromDatabase([&] {
              store::EventQuery q;
              q.after = newest - held;
              return q;
            }()));
}

}  // namespace
}  // namespace gw::test
