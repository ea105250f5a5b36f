#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <regex>

#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/leases.hpp"
#include "store/queries.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using boost::system::error_code;

// These tests crash and restart PostgreSQL, so they run their own private cluster instead of the
// shared one (other pg tests run in parallel against that).
class DatabaseOutage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* ctl = std::getenv("EF45GW_TEST_PG_CTL");
    ctl_ = ctl ? ctl : SourceDir() + "/tests/support/pg.sh";
    char tmpl[] = "/tmp/gw-outage-pg.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(Ctl("start"), 0) << "cannot start a private PostgreSQL with " << ctl_;
    std::ifstream env(dir_ + "/env");
    std::string line;
    std::regex dsn_line(R"re(^export EF45GW_TEST_PG_DSN="(.*)"$)re");
    std::smatch m;
    while (std::getline(env, line)) {
      if (std::regex_match(line, m, dsn_line)) admin_dsn_ = m[1];
    }
    ASSERT_FALSE(admin_dsn_.empty());
  }
  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    Ctl("stop");
    std::filesystem::remove_all(dir_);
  }
  static int Ctl(const std::string& cmd) {
    return std::system((ctl_ + " " + cmd + " " + dir_ + " >/dev/null").c_str());
  }

  void SetUp() override {
    ASSERT_FALSE(admin_dsn_.empty());
    static int n = 0;
    std::string name = "outage_" + std::to_string(++n);
    Exec(admin_dsn_, "SELECT 1");
    {
      pqxx::connection c(admin_dsn_);
      pqxx::nontransaction tx(c);
      tx.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      tx.exec("CREATE DATABASE " + name);
    }
    dsn_ = WithDbName(admin_dsn_, name);
    std::string problem;
    ASSERT_TRUE(store::MigrateBlocking(dsn_, SourceMigrations(), &problem)) << problem;
    db_ =
        std::make_unique<store::Database>(store::DatabaseOptions{dsn_, 2, std::chrono::seconds(2)});
    store::WriterOptions o;
    o.retry_initial = std::chrono::milliseconds(20);
    o.retry_max = std::chrono::milliseconds(300);
    writer_ = std::make_unique<store::EventWriter>(io_.Io().get_executor(), *db_, o);
    writer_->Start();
  }
  void TearDown() override {
    if (writer_) StopWriter(io_.Io(), *writer_, std::chrono::seconds(5));
    writer_.reset();
    db_.reset();
  }

  static store::DeviceBatch Page(const std::string& device, std::int64_t from, int n) {
    store::DeviceBatch b;
    b.device_id = device;
    for (int i = 0; i < n; ++i) b.events.push_back(LogEvent(from + i));
    b.cursor = store::Cursor{from + n - 1, 0};
    return b;
  }

  static inline std::string ctl_, dir_, admin_dsn_;
  std::string dsn_;
  IoThread io_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::EventWriter> writer_;
};

TEST_F(DatabaseOutage, KillInTheMiddleOfABatchCommitsItOnceAfterRestart) {
  ASSERT_FALSE(WriteAsync(io_.Io(), *writer_, Page("r1", 1, 10)).get());
  // Hold the commit-order lock so the writer's transaction stops half way (events sent, not
  // committed), then crash the server under it.
  pqxx::connection blocker(dsn_);
  pqxx::work block_tx(blocker);
  block_tx.exec("SELECT pg_advisory_xact_lock(73352672)");
  auto ack = WriteAsync(io_.Io(), *writer_, Page("r1", 11, 40));
  ASSERT_TRUE(WaitFor([&] {
    return Scalar(dsn_,
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                  "NOT granted") == "1";
  }));
  ASSERT_EQ(Ctl("kill"), 0);
  auto failed_before = writer_->Stats().failed_attempts;
  // While the database is down the batch is retried, and not acknowledged.
  ASSERT_TRUE(WaitFor([&] { return writer_->Stats().failed_attempts >= failed_before + 2; },
                      std::chrono::seconds(20)));
  EXPECT_EQ(ack.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  ASSERT_EQ(Ctl("start"), 0);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(ack.get());
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) || '/' || count(DISTINCT device_log_id) || '/' || "
                   "max(device_log_id) FROM events"),
            "50/50/50");
  EXPECT_EQ(Scalar(dsn_, "SELECT last_log_id FROM device_cursors WHERE device_id = 'r1'"), "50");
}

TEST_F(DatabaseOutage, ContinuousLoadAcrossKillAndRestartLosesAndDoublesNothing) {
  constexpr int kReaders = 8;
  constexpr int kPageSize = 20;
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::int64_t> acked(kReaders, 0);  // highest acked log id per reader
  std::vector<std::thread> producers;
  for (int r = 0; r < kReaders; ++r) {
    producers.emplace_back([&, r] {
      std::string id = "r" + std::to_string(r);
      std::int64_t next = 1;
      while (!stop) {
        // A poller re-reads from its committed cursor, so it re-sends a page that failed.
        auto ec = WriteAsync(io_.Io(), *writer_, Page(id, next, kPageSize)).get();
        if (ec) {
          ++errors;
          continue;
        }
        acked[r] = next + kPageSize - 1;
        next += kPageSize;
      }
    });
  }
  auto committed = [&] { return writer_->Stats().transactions; };
  auto base = committed();
  ASSERT_TRUE(WaitFor([&] { return committed() >= base + 20; }, std::chrono::seconds(30)));
  ASSERT_EQ(Ctl("kill"), 0);
  auto failed = writer_->Stats().failed_attempts;
  ASSERT_TRUE(
      WaitFor([&] { return writer_->Stats().failed_attempts > failed; }, std::chrono::seconds(20)));
  ASSERT_EQ(Ctl("start"), 0);
  base = committed();
  ASSERT_TRUE(WaitFor([&] { return committed() >= base + 20; }, std::chrono::seconds(30)));
  ASSERT_EQ(Ctl("restart"), 0);  // a clean (fast) shutdown this time
  base = committed();
  ASSERT_TRUE(WaitFor([&] { return committed() >= base + 20; }, std::chrono::seconds(30)));
  stop = true;
  for (auto& t : producers) t.join();
  EXPECT_EQ(errors, 0);
  for (int r = 0; r < kReaders; ++r) {
    std::string id = "'r" + std::to_string(r) + "'";
    // Everything acknowledged is there, exactly once, and the cursor matches it.
    EXPECT_EQ(Scalar(dsn_, "SELECT count(*) = count(DISTINCT device_log_id) AND count(*) = " +
                               std::to_string(acked[r]) + " FROM events WHERE device_id = " + id),
              "t")
        << id;
    EXPECT_EQ(Scalar(dsn_, "SELECT last_log_id FROM device_cursors WHERE device_id = " + id),
              std::to_string(acked[r]));
  }
}

TEST_F(DatabaseOutage, StopGivesUpAtItsDeadlineWhileTheDatabaseIsDown) {
  ASSERT_EQ(Ctl("stop"), 0);
  auto ack = WriteAsync(io_.Io(), *writer_, Page("r1", 1, 5));
  ASSERT_TRUE(
      WaitFor([&] { return writer_->Stats().failed_attempts >= 1; }, std::chrono::seconds(20)));
  StopWriter(io_.Io(), *writer_, std::chrono::milliseconds(200));
  EXPECT_EQ(ack.get(), Errc::kCancelled);  // the producer keeps its data on the reader
  writer_.reset();
  ASSERT_EQ(Ctl("start"), 0);
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM events"), "0");
}

// Cluster mode: node a holds r1 and r2 for a minute, and its writer is fenced on them.
class FencedDatabaseOutage : public DatabaseOutage {
 protected:
  void SetUp() override {
    DatabaseOutage::SetUp();
    if (HasFatalFailure()) return;
    store::LeaseTickRequest q;
    q.node_id = "a";
    q.readers = {"r1", "r2"};
    q.lease = std::chrono::seconds(60);
    q.ensure_rows = true;
    auto tick = store::LeaseTickBlocking(*db_, q);
    ASSERT_TRUE(tick);
    ASSERT_EQ(tick->claimed.size(), 2u);
    for (const auto& c : tick->claimed) epochs_[c.device_id] = c.epoch;
  }
  void TearDown() override {
    if (fenced_) StopWriter(io_.Io(), *fenced_, std::chrono::seconds(5));
    fenced_.reset();
    DatabaseOutage::TearDown();
  }
  void StartFencedWriter(std::chrono::milliseconds retry) {
    store::WriterOptions o;
    o.fence_owner = "a";
    o.lease_epoch = [this](const std::string& id) -> std::optional<std::int64_t> {
      std::lock_guard lock(mutex_);
      auto it = epochs_.find(id);
      if (it == epochs_.end()) return std::nullopt;
      return it->second;
    };
    o.retry_initial = retry;
    o.retry_max = retry;
    fenced_ = std::make_unique<store::EventWriter>(io_.Io().get_executor(), *db_, o);
    fenced_->Start();
  }
  /// What a's lease manager does after a whole lease without a renewal: forget the lease (and
  /// stop the reader's poller, which waits for its batch).
  void GiveUp(const std::string& device) {
    std::lock_guard lock(mutex_);
    epochs_.erase(device);
  }
  std::string Stored(const std::string& device) {
    return Scalar(dsn_, "SELECT (SELECT count(*) FROM events WHERE device_id = '" + device +
                            "') || '/' || (SELECT count(*) FROM device_cursors WHERE "
                            "device_id = '" +
                            device + "')");
  }

  std::mutex mutex_;
  std::map<std::string, std::int64_t> epochs_;
  std::unique_ptr<store::EventWriter> fenced_;
};

TEST_F(FencedDatabaseOutage, ARetriedCommitDropsTheBatchesOfALeaseGivenUpMeanwhile) {
  StartFencedWriter(std::chrono::milliseconds(200));
  ASSERT_EQ(Ctl("stop"), 0);
  auto r1 = WriteAsync(io_.Io(), *fenced_, Page("r1", 1, 5));
  auto r2 = WriteAsync(io_.Io(), *fenced_, Page("r2", 1, 5));
  ASSERT_TRUE(
      WaitFor([&] { return fenced_->Stats().failed_attempts >= 1; }, std::chrono::seconds(20)));
  GiveUp("r1");
  // The next retry drops r1's batch, though PostgreSQL is still down: its poller may stop.
  EXPECT_EQ(r1.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the batch of a given-up lease waits for PostgreSQL";
  EXPECT_EQ(r2.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);

  ASSERT_EQ(Ctl("start"), 0);
  ASSERT_EQ(r2.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_EQ(r1.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(r1.get(), Errc::kLeaseLost);  // nothing acknowledged: the reader keeps the entries
  EXPECT_FALSE(r2.get());
  // The lease row still names a (it has not expired): only the writer can know that a gave the
  // reader up, so the fence in the transaction would let these rows through.
  EXPECT_EQ(Stored("r1"), "0/0") << "written after the outage under a lease given up during it";
  EXPECT_EQ(Stored("r2"), "5/1");
  EXPECT_EQ(fenced_->Stats().fenced_batches, 1u);
}

TEST_F(FencedDatabaseOutage, GivingALeaseUpCutsTheRetryBackOffShort) {
  // One retry a minute: only LeasesChanged() can make the writer look again in time.
  StartFencedWriter(std::chrono::seconds(60));
  ASSERT_EQ(Ctl("stop"), 0);
  auto r1 = WriteAsync(io_.Io(), *fenced_, Page("r1", 1, 5));
  ASSERT_TRUE(
      WaitFor([&] { return fenced_->Stats().failed_attempts >= 1; }, std::chrono::seconds(20)));
  GiveUp("r1");
  fenced_->LeasesChanged();
  ASSERT_EQ(r1.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the batch of a given-up lease waits for the next retry";
  EXPECT_EQ(r1.get(), Errc::kLeaseLost);
  ASSERT_EQ(Ctl("start"), 0);
  EXPECT_EQ(Stored("r1"), "0/0");
}

}  // namespace
}  // namespace gw::test
