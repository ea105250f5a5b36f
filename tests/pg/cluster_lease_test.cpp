// Reader leases on a real PostgreSQL: claims, renewals, fair share, take-over after expiry,
// graceful release, the event writer's fence, and the LeaseManager rounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/balance.hpp"
#include "cluster/lease_manager.hpp"
#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/leases.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::vector<std::string> Readers(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("r" + std::to_string(100 + i));
  return out;
}

class ClusterLeaseTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    db_ = std::make_unique<store::Database>(store::DatabaseOptions{Dsn(), 4});
  }
  void TearDown() override {
    db_.reset();
    PgTest::TearDown();
  }

  /// One round of `node` holding `held`; fails the test if PostgreSQL refuses it.
  store::LeaseTickResult Tick(const std::string& node, const std::vector<store::HeldLease>& held,
                              const std::vector<std::string>& readers,
                              std::chrono::milliseconds lease = 10s) {
    store::LeaseTickRequest q;
    q.node_id = node;
    q.advertise_url = "http://" + node + ".example:8080";
    q.lease = lease;
    q.readers = readers;
    q.held = held;
    q.ensure_rows = true;
    auto r = store::LeaseTickBlocking(*db_, q);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : store::LeaseTickResult{};
  }
  static std::vector<store::HeldLease> Held(const store::LeaseTickResult& r) {
    auto out = r.renewed;
    for (const auto& c : r.claimed) out.push_back({c.device_id, c.epoch});
    return out;
  }
  std::string Owner(const std::string& device) {
    return Scalar(Dsn(), "SELECT owner FROM device_leases WHERE device_id = '" + device + "'");
  }

  std::unique_ptr<store::Database> db_;
};

TEST_F(ClusterLeaseTest, ALoneNodeClaimsEveryReaderAtEpochOne) {
  auto readers = Readers(10);
  auto r = Tick("a", {}, readers);
  EXPECT_EQ(r.live_nodes, 1);
  EXPECT_EQ(r.share, 10);
  ASSERT_EQ(r.claimed.size(), 10u);
  for (const auto& c : r.claimed) {
    EXPECT_EQ(c.epoch, 1);
    EXPECT_EQ(c.previous_owner, "");
  }
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT count(*) FROM device_leases WHERE owner = 'a' AND "
                   "expires_at > now()"),
            "10");
  // A renewal keeps the epochs and claims nothing new.
  auto again = Tick("a", Held(r), readers);
  EXPECT_EQ(again.renewed.size(), 10u);
  EXPECT_TRUE(again.claimed.empty());
  for (const auto& h : again.renewed) EXPECT_EQ(h.epoch, 1);
}

TEST_F(ClusterLeaseTest, ASecondNodeGetsItsShareOnceTheFirstReleasesTheExcess) {
  auto readers = Readers(10);
  auto a = Tick("a", {}, readers);
  ASSERT_EQ(a.claimed.size(), 10u);
  // b joins: two live nodes, share 5, but nothing is free yet.
  auto b = Tick("b", {}, readers);
  EXPECT_EQ(b.live_nodes, 2);
  EXPECT_EQ(b.share, 5);
  EXPECT_TRUE(b.claimed.empty());
  // a sees b, keeps its share and gives the rest back.
  a = Tick("a", Held(a), readers);
  EXPECT_EQ(a.share, 5);
  auto plan = cluster::PlanOwnership(a.renewed, readers, a.share, "a");
  ASSERT_EQ(plan.keep.size(), 5u);
  ASSERT_EQ(plan.release.size(), 5u);
  ASSERT_TRUE(store::ReleaseLeasesBlocking(*db_, "a", plan.release));
  // b claims them at once, without waiting for an expiry, with a new epoch.
  b = Tick("b", Held(b), readers);
  ASSERT_EQ(b.claimed.size(), 5u);
  std::set<std::string> owned_b;
  for (const auto& c : b.claimed) {
    EXPECT_EQ(c.epoch, 2);
    EXPECT_EQ(c.previous_owner, "");  // released, not taken over
    owned_b.insert(c.device_id);
  }
  for (const auto& k : plan.keep) EXPECT_FALSE(owned_b.count(k.device_id)) << k.device_id;
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(DISTINCT owner) FROM device_leases"), "2");
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM device_leases WHERE owner = 'b'"), "5");
  // The owners list tells each node where the other's readers are.
  std::size_t of_a = 0;
  for (const auto& o : b.owners) {
    if (o.node_id == "a") {
      ++of_a;
      EXPECT_EQ(o.advertise_url, "http://a.example:8080");
    }
  }
  EXPECT_EQ(of_a, 5u);
}

TEST_F(ClusterLeaseTest, AnExpiredLeaseIsTakenOverWithTheNextEpochAndTheOldOwnerLosesIt) {
  auto readers = Readers(6);
  auto a = Tick("a", {}, readers, 1500ms);
  ASSERT_EQ(a.claimed.size(), 6u);
  // While a's leases (and heartbeat) are valid, b can take nothing.
  auto b = Tick("b", {}, readers, 1500ms);
  EXPECT_TRUE(b.claimed.empty());
  // a stops renewing (dead or partitioned): after the lease, b takes everything over.
  std::vector<store::HeldLease> held_b;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Tick("b", held_b, readers, 1500ms);
        held_b = Held(r);
        return held_b.size() == 6u;
      },
      10s, 100ms));
  EXPECT_EQ(Scalar(Dsn(), "SELECT min(epoch) || '/' || max(epoch) FROM device_leases"), "2/2");
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM device_leases WHERE owner = 'b'"), "6");
  // a comes back: none of its leases renews (the epochs moved on).
  auto back = Tick("a", Held(a), readers, 1500ms);
  EXPECT_TRUE(back.renewed.empty());
  EXPECT_TRUE(back.claimed.empty()) << "b holds all six valid leases";
}

TEST_F(ClusterLeaseTest, ConcurrentClaimsNeverHandTheSameReaderToTwoNodes) {
  auto readers = Readers(60);
  store::LeaseTickRequest seed;
  seed.node_id = "seed";
  seed.readers = readers;
  seed.ensure_rows = true;
  seed.claim = false;
  ASSERT_TRUE(store::LeaseTickBlocking(*db_, seed));
  ASSERT_TRUE(store::LeaveClusterBlocking(*db_, "seed"));
  std::vector<std::vector<std::string>> got(3);
  std::vector<std::thread> threads;
  for (int n = 0; n < 3; ++n) {
    threads.emplace_back([&, n] {
      store::LeaseTickRequest q;
      q.node_id = "n" + std::to_string(n);
      q.readers = readers;
      for (int round = 0; round < 5; ++round) {
        auto r = store::LeaseTickBlocking(*db_, q);
        if (!r) continue;
        for (const auto& c : r->claimed) {
          got[static_cast<std::size_t>(n)].push_back(c.device_id);
          q.held.push_back({c.device_id, c.epoch});
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::multiset<std::string> all;
  for (const auto& g : got) all.insert(g.begin(), g.end());
  for (const auto& id : readers) EXPECT_LE(all.count(id), 1u) << id << " claimed twice";
  EXPECT_EQ(all.size(), readers.size()) << "every reader has an owner after five rounds";
  EXPECT_EQ(Scalar(Dsn(), "SELECT max(epoch) FROM device_leases"), "1");
}

// ---- the event writer's fence ----

class LeaseFenceTest : public ClusterLeaseTest {
 protected:
  void SetUp() override {
    ClusterLeaseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto a = Tick("a", {}, {"r1", "r2"});
    for (const auto& c : a.claimed) epochs_[c.device_id] = c.epoch;
    ASSERT_EQ(epochs_.size(), 2u);
    store::WriterOptions o;
    o.fence_owner = "a";
    o.max_delay = 50ms;  // let r1 and r2 share a transaction
    o.lease_epoch = [this](const std::string& id) -> std::optional<std::int64_t> {
      std::lock_guard lock(mutex_);
      auto it = epochs_.find(id);
      if (it == epochs_.end()) return std::nullopt;
      return it->second;
    };
    writer_ = std::make_unique<store::EventWriter>(io_.Io().get_executor(), *db_, o);
    writer_->Start();
  }
  void TearDown() override {
    if (writer_) StopWriter(io_.Io(), *writer_);
    writer_.reset();
    ClusterLeaseTest::TearDown();
  }
  static store::DeviceBatch Batch(const std::string& device, std::int64_t from, std::int64_t to) {
    store::DeviceBatch b;
    b.device_id = device;
    for (auto id = from; id <= to; ++id) b.events.push_back(LogEvent(id));
    b.cursor = store::Cursor{to, 0};
    b.door_state = store::DoorState{1, 0, 0, 0, store::TimePoint(std::chrono::seconds(1764000000))};
    return b;
  }
  std::string Rows(const std::string& device) {
    return Scalar(Dsn(),
                  "SELECT (SELECT count(*) FROM events WHERE device_id = '" + device +
                      "') || '/' || (SELECT count(*) FROM device_cursors WHERE device_id = '" +
                      device +
                      "') || '/' || (SELECT count(*) FROM door_state WHERE "
                      "device_id = '" +
                      device + "')");
  }

  IoThread io_;
  std::mutex mutex_;
  std::map<std::string, std::int64_t> epochs_;
  std::unique_ptr<store::EventWriter> writer_;
};

TEST_F(LeaseFenceTest, BatchesOfHeldReadersCommitEventsCursorAndDoor) {
  auto f1 = WriteAsync(io_.Io(), *writer_, Batch("r1", 1, 10));
  auto f2 = WriteAsync(io_.Io(), *writer_, Batch("r2", 1, 5));
  EXPECT_FALSE(f1.get());
  EXPECT_FALSE(f2.get());
  EXPECT_EQ(Rows("r1"), "10/1/1");
  EXPECT_EQ(Rows("r2"), "5/1/1");
  EXPECT_EQ(writer_->Stats().fenced_batches, 0u);
}

TEST_F(LeaseFenceTest, ATakenOverReaderWritesNothingWhileTheOthersInTheTransactionCommit) {
  // a was partitioned: r1's lease expired and b took it over (epoch 2). a does not know yet.
  Exec(Dsn(),
       "UPDATE device_leases SET expires_at = now() - interval '1 second' "
       "WHERE device_id = 'r1'");
  store::LeaseTickRequest q;
  q.node_id = "b";
  q.readers = {"r1"};
  auto b = store::LeaseTickBlocking(*db_, q);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->claimed.size(), 1u);
  EXPECT_EQ(b->claimed[0].previous_owner, "a");
  EXPECT_EQ(b->claimed[0].epoch, 2);

  auto f1 = WriteAsync(io_.Io(), *writer_, Batch("r1", 1, 10));
  auto f2 = WriteAsync(io_.Io(), *writer_, Batch("r2", 1, 5));
  EXPECT_EQ(f1.get(), Errc::kLeaseLost);
  EXPECT_FALSE(f2.get());
  EXPECT_EQ(Rows("r1"), "0/0/0") << "no event, cursor or door state of the fenced reader";
  EXPECT_EQ(Rows("r2"), "5/1/1");
  EXPECT_EQ(writer_->Stats().fenced_batches, 1u);
  // Not retried: a later batch is refused the same way, at once.
  EXPECT_EQ(WriteAsync(io_.Io(), *writer_, Batch("r1", 11, 12)).get(), Errc::kLeaseLost);
  EXPECT_EQ(Rows("r1"), "0/0/0");
}

TEST_F(LeaseFenceTest, AnExpiredLeaseIsFencedEvenIfNobodyTookTheReader) {
  Exec(Dsn(), "UPDATE device_leases SET expires_at = now() - interval '1 second'");
  EXPECT_EQ(WriteAsync(io_.Io(), *writer_, Batch("r2", 1, 3)).get(), Errc::kLeaseLost);
  EXPECT_EQ(Rows("r2"), "0/0/0");
}

TEST_F(LeaseFenceTest, ABatchStampedWithAnOlderEpochIsFencedAfterAReclaim) {
  // a lost r1 and claimed it again (epoch 3): a batch produced under epoch 1 must not commit.
  Exec(Dsn(), "UPDATE device_leases SET epoch = 3 WHERE device_id = 'r1'");
  {
    std::lock_guard lock(mutex_);
    epochs_["r1"] = 3;
  }
  auto old = Batch("r1", 1, 4);
  old.lease_epoch = 1;
  EXPECT_EQ(WriteAsync(io_.Io(), *writer_, std::move(old)).get(), Errc::kLeaseLost);
  EXPECT_EQ(Rows("r1"), "0/0/0");
  EXPECT_FALSE(WriteAsync(io_.Io(), *writer_, Batch("r1", 1, 4)).get());  // stamped with 3
  EXPECT_EQ(Rows("r1"), "4/1/1");
}

TEST_F(LeaseFenceTest, AReaderWithoutALeaseIsRefusedBeforeReachingTheDatabase) {
  EXPECT_EQ(WriteAsync(io_.Io(), *writer_, Batch("r9", 1, 3)).get(), Errc::kLeaseLost);
  EXPECT_EQ(Rows("r9"), "0/0/0");
  EXPECT_EQ(writer_->Stats().transactions, 0u);
  EXPECT_EQ(writer_->Stats().fenced_batches, 1u);
}

// ---- LeaseManager rounds ----

/// What a fake WorkerSet was told to poll.
struct Applied {
  std::mutex mutex;
  std::vector<std::string> owned;
  std::map<std::string, std::string> hosts;
  bool policy_kept = true;  ///< every reader kept its configured lock policy (wait)
  int calls = 0;
};

asio::awaitable<void> Record(Applied* to, std::vector<config::ReaderConfig> readers) {
  std::lock_guard lock(to->mutex);
  to->owned.clear();
  for (const auto& r : readers) {
    to->owned.push_back(r.id);
    to->hosts[r.id] = r.host;
    if (r.lock.on_conflict != config::OnConflict::kWait) to->policy_kept = false;
  }
  ++to->calls;
  co_return;
}

std::vector<config::ReaderConfig> ReaderConfigs(int n) {
  std::vector<config::ReaderConfig> out;
  for (const auto& id : Readers(n)) {
    config::ReaderConfig r;
    r.id = id;
    r.host = "127.0.0.1";
    out.push_back(r);
  }
  return out;
}

class LeaseManagerTest : public ClusterLeaseTest {
 protected:
  std::unique_ptr<cluster::LeaseManager> Manager(const std::string& node, Applied* applied,
                                                 std::chrono::milliseconds lease = 3s,
                                                 std::function<void()> leases_dropped = {}) {
    cluster::ClusterOptions o{node, "http://" + node + ":1", lease, 200ms,
                              std::move(leases_dropped)};
    return std::make_unique<cluster::LeaseManager>(
        io_.Io().get_executor(), *db_, o,
        [applied](std::vector<config::ReaderConfig> r) { return Record(applied, std::move(r)); });
  }
  void Stop(cluster::LeaseManager& m) {
    asio::co_spawn(io_.Io(), m.Stop(), asio::use_future).get();
  }
  static std::vector<std::string> OwnedBy(Applied& a) {
    std::lock_guard lock(a.mutex);
    return a.owned;
  }

  IoThread io_;
};

TEST_F(LeaseManagerTest, TwoNodesSplitTheFleetAndTheSurvivorTakesAllAtAGracefulStop) {
  Applied applied_a, applied_b;
  auto a = Manager("a", &applied_a);
  auto b = Manager("b", &applied_b);
  a->Start(ReaderConfigs(10));
  b->Start(ReaderConfigs(10));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto oa = OwnedBy(applied_a), ob = OwnedBy(applied_b);
        return oa.size() == 5 && ob.size() == 5;
      },
      10s, 20ms))
      << OwnedBy(applied_a).size() << "/" << OwnedBy(applied_b).size();
  std::set<std::string> union_set;
  for (const auto& id : OwnedBy(applied_a)) union_set.insert(id);
  for (const auto& id : OwnedBy(applied_b)) union_set.insert(id);
  EXPECT_EQ(union_set.size(), 10u) << "disjoint and complete";
  // A lease says which node polls, not that it may steal a reader from another client.
  EXPECT_TRUE(applied_a.policy_kept && applied_b.policy_kept);
  // Epochs and owner URLs are known where the writer and the API need them.
  auto mine = a->Owned();
  ASSERT_EQ(mine.size(), 5u);
  EXPECT_TRUE(a->EpochOf(mine[0]).has_value());
  EXPECT_FALSE(b->EpochOf(mine[0]).has_value());
  ASSERT_TRUE(WaitFor([&] { return b->OwnerUrl(mine[0]).has_value(); }, 5s, 20ms));
  EXPECT_EQ(*b->OwnerUrl(mine[0]), "http://a:1");
  EXPECT_FALSE(a->OwnerUrl(mine[0]).has_value()) << "a's own reader needs no redirect";

  // a stops: its workers stop first, then the leases go back; b claims them long before the
  // 3 s lease could expire.
  auto stopped = std::chrono::steady_clock::now();
  Stop(*a);
  EXPECT_TRUE(OwnedBy(applied_a).empty());
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied_b).size() == 10; }, 10s, 20ms));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, 2s);
  Stop(*b);
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM device_leases WHERE owner <> ''"), "0");
}

TEST_F(LeaseManagerTest, ReadersOfADeadNodeAreTakenOverAfterItsLeaseExpires) {
  // "ghost" claimed everything and died without releasing.
  store::LeaseTickRequest q;
  q.node_id = "ghost";
  q.lease = 1500ms;
  q.readers = Readers(8);
  q.ensure_rows = true;
  auto ghost = store::LeaseTickBlocking(*db_, q);
  ASSERT_TRUE(ghost);
  ASSERT_EQ(ghost->claimed.size(), 8u);
  auto died = std::chrono::steady_clock::now();
  Applied applied;
  auto m = Manager("b", &applied);
  m->Start(ReaderConfigs(8));
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied).size() == 8; }, 10s, 20ms));
  auto took = std::chrono::steady_clock::now() - died;
  EXPECT_GE(took, 1400ms) << "not before the lease expired";
  EXPECT_LT(took, 1500ms + 200ms + 1s) << "within lease + one round (+ slack)";
  for (const auto& id : Readers(8)) EXPECT_EQ(m->EpochOf(id), 2) << id;
  Stop(*m);
}

TEST_F(LeaseManagerTest, ASighupChangingAReaderAddressReappliesItWithoutLosingTheLease) {
  Applied applied;
  auto m = Manager("a", &applied);
  m->Start(ReaderConfigs(3));
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied).size() == 3; }, 10s, 20ms));
  auto epoch = m->EpochOf("r100");
  auto next = ReaderConfigs(3);
  next[0].host = "127.0.0.9";
  m->SetReaders(next);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(applied.mutex);
        return applied.hosts["r100"] == "127.0.0.9";
      },
      10s, 20ms));
  EXPECT_EQ(m->EpochOf("r100"), epoch);
  EXPECT_EQ(OwnedBy(applied).size(), 3u);
  Stop(*m);
}

TEST_F(LeaseManagerTest, ASighupRemovingReadersReleasesThem) {
  Applied applied;
  auto m = Manager("a", &applied);
  m->Start(ReaderConfigs(6));
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied).size() == 6; }, 10s, 20ms));
  m->SetReaders(ReaderConfigs(4));
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied).size() == 4; }, 10s, 20ms));
  ASSERT_TRUE(WaitFor(
      [&] { return Scalar(Dsn(), "SELECT count(*) FROM device_leases WHERE owner = 'a'") == "4"; },
      5s, 20ms));
  Stop(*m);
}

TEST_F(LeaseManagerTest, ALostLeaseIsGoneFromTheTableBeforeTheWriterIsTold) {
  Applied applied;
  std::mutex mutex;
  int told = 0;
  std::optional<std::int64_t> epoch_when_told = -1;
  cluster::LeaseManager* manager = nullptr;
  auto m = Manager("a", &applied, 3s, [&] {
    std::lock_guard lock(mutex);
    ++told;
    epoch_when_told = manager->EpochOf("r100");
  });
  manager = m.get();
  m->Start(ReaderConfigs(4));
  ASSERT_TRUE(WaitFor([&] { return OwnedBy(applied).size() == 4; }, 10s, 20ms));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(told, 0) << "claims drop nothing";
  }
  // Another node took r100 over (as after a's lease expired during an outage).
  Exec(Dsn(), "UPDATE device_leases SET owner = 'b', epoch = epoch + 1 WHERE device_id = 'r100'");
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mutex);
        return told > 0;
      },
      10s, 20ms));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(epoch_when_told, std::nullopt) << "the writer would still see the old epoch";
  }
  EXPECT_FALSE(m->EpochOf("r100").has_value());
  Stop(*m);
}

}  // namespace
}  // namespace gw::test
