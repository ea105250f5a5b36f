// The lock a reader grants is handed to on_lock_acquired before it is used, and a client that
// starts with a recorded lock_uid resumes it instead of meeting it as another client's
// (DESIGN.md invariant 8: a crash is an ordinary restart).

#include <gtest/gtest.h>

#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <vector>

#include "client_support.hpp"

namespace gw::ef45 {
namespace {

using test::RunOn;
using test::Sim;
using test::Why;

class ClientLockRecord : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient(ClientOptions options) {
    return std::make_unique<Client>(io_.get_executor(), std::move(options));
  }
  /// Options whose hook records each granted uid (or refuses, when `refuse_` is set), and counts
  /// the lock requests the client sends.
  ClientOptions Recording() {
    ClientOptions options = test::OptionsFor(sim_);
    options.request_timeout = std::chrono::seconds(5);
    options.on_lock_acquired = [this](std::string uid) -> boost::asio::awaitable<Reply<void>> {
      return Record(this, std::move(uid));
    };
    auto record = options.on_exchange;
    options.on_exchange = [this, record](const Operation& op, int status,
                                         const boost::system::error_code& ec,
                                         std::chrono::steady_clock::duration elapsed) {
      if (op.path == "/lock") ++lock_requests_;
      exchanges_.push_back(std::string(op.name) + " " + std::to_string(status));
      record(op, status, ec, elapsed);
    };
    return options;
  }
  static boost::asio::awaitable<Reply<void>> Record(ClientLockRecord* self, std::string uid) {
    // What the hook sees is what the reader granted, before any request used it.
    self->recorded_.push_back(uid);
    self->exchanges_at_record_ = self->exchanges_.size();
    if (self->refuse_) co_return MakeError(Errc::kDbUnavailable, "database: down");
    co_return Reply<void>{};
  }

  boost::asio::io_context io_;
  Sim sim_;
  std::vector<std::string> recorded_;
  std::vector<std::string> exchanges_;
  std::size_t exchanges_at_record_ = 0;
  int lock_requests_ = 0;
  bool refuse_ = false;
};

TEST_F(ClientLockRecord, AGrantedLockIsRecordedBeforeItIsUsed) {
  auto client = MakeClient(Recording());
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_TRUE(reply) << Why(reply.error());
  ASSERT_EQ(recorded_.size(), 1u);
  EXPECT_EQ(recorded_[0], client->lock_uid());
  // Recorded right after the lock reply: the door-status request came after the hook.
  EXPECT_EQ(exchanges_at_record_, 1u);
  EXPECT_EQ(exchanges_.size(), 2u);
  EXPECT_EQ(client->lock_holder(), LockHolder::kUs);
}

TEST_F(ClientLockRecord, ALockThatCannotBeRecordedIsGivenBack) {
  refuse_ = true;
  auto client = MakeClient(Recording());
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kDbUnavailable) << Why(reply.error());
  EXPECT_TRUE(client->lock_uid().empty());
  // Released at once: another client gets the reader's lock without a 409.
  EXPECT_FALSE(sim_.State().at("locked").as_bool());
  EXPECT_EQ(gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock").status, 200);
}

TEST_F(ClientLockRecord, ARestartedClientResumesItsRecordedLock) {
  std::string uid;
  {
    auto before_crash = MakeClient(Recording());
    ASSERT_TRUE(RunOn(io_, before_crash->GetDoorStatus()));
    uid = before_crash->lock_uid();
    // Dropped without Unlock(): the process died; the reader still holds this lock.
  }
  ASSERT_TRUE(sim_.State().at("locked").as_bool());
  lock_requests_ = 0;
  recorded_.clear();
  auto after = MakeClient(Recording());
  auto resumed = RunOn(io_, after->ResumeLock(uid));
  ASSERT_TRUE(resumed) << Why(resumed.error());
  EXPECT_TRUE(*resumed);
  EXPECT_EQ(after->lock_uid(), uid);
  EXPECT_EQ(after->lock_holder(), LockHolder::kUs);
  auto reply = RunOn(io_, after->GetMatchData());
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_EQ(lock_requests_, 0) << "no POST and no steal: the lock was ours";
  EXPECT_TRUE(recorded_.empty());
}

TEST_F(ClientLockRecord, AStaleRecordedLockIsRefusedAndANewOneTaken) {
  std::string uid;
  {
    auto first = MakeClient(Recording());
    ASSERT_TRUE(RunOn(io_, first->GetDoorStatus()));
    uid = first->lock_uid();
  }
  sim_.Faults(R"({"reboot":true})");  // the reader restarted: nobody holds a lock now
  auto after = MakeClient(Recording());
  auto resumed = RunOn(io_, after->ResumeLock(uid));
  ASSERT_TRUE(resumed) << Why(resumed.error());
  EXPECT_FALSE(*resumed);
  EXPECT_TRUE(after->lock_uid().empty());
  auto reply = RunOn(io_, after->GetDoorStatus());
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_NE(after->lock_uid(), uid);
  EXPECT_EQ(recorded_.back(), after->lock_uid());
}

TEST_F(ClientLockRecord, ALockHeldByAnotherClientStaysAConflictUnderWait) {
  std::string uid;
  {
    auto first = MakeClient(Recording());
    ASSERT_TRUE(RunOn(io_, first->GetDoorStatus()));
    uid = first->lock_uid();
  }
  sim_.Faults(R"({"steal_lock":true})");  // a technician's tool took the reader over
  auto after = MakeClient(Recording());
  auto resumed = RunOn(io_, after->ResumeLock(uid));
  ASSERT_TRUE(resumed) << Why(resumed.error());
  EXPECT_FALSE(*resumed);
  auto reply = RunOn(io_, after->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kLockConflict) << Why(reply.error());
  EXPECT_EQ(after->lock_holder(), LockHolder::kOtherClient);
  // Our release leaves nobody holding it.
  sim_.Faults(R"({"reboot":true})");
  ASSERT_TRUE(RunOn(io_, after->GetDoorStatus()));
  ASSERT_TRUE(RunOn(io_, after->Unlock()));
  EXPECT_EQ(after->lock_holder(), LockHolder::kNobody);
}

TEST_F(ClientLockRecord, AnUnsendableRecordedUidIsNotTried) {
  auto client = MakeClient(Recording());
  auto resumed = RunOn(io_, client->ResumeLock("not a uid&x=1"));
  ASSERT_TRUE(resumed);
  EXPECT_FALSE(*resumed);
  EXPECT_TRUE(exchanges_.empty());
}

}  // namespace
}  // namespace gw::ef45
