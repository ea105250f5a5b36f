// Faults injected through the emulator's control API map to the right error values, and the
// session survives a stolen lock or a reboot.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <optional>
#include <vector>

#include "client_support.hpp"

namespace gw::ef45 {
namespace {

using Clock = std::chrono::steady_clock;
using test::RunOn;
using test::Sim;
using test::Why;

class ClientFaults : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient(ClientOptions options) {
    return std::make_unique<Client>(io_.get_executor(), std::move(options));
  }
  ClientOptions Options(std::chrono::milliseconds timeout = std::chrono::milliseconds(300)) {
    ClientOptions options = test::OptionsFor(sim_);
    options.request_timeout = timeout;
    return options;
  }

  boost::asio::io_context io_;
  Sim sim_;
};

TEST_F(ClientFaults, LatencyPastTheDeadlineIsATimeout) {
  auto client = MakeClient(Options());
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"latency_ms":2000})");
  auto start = Clock::now();
  auto reply = RunOn(io_, client->GetDoorStatus());
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kTimeout) << Why(reply.error());
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_EQ(reply.error().detail.rfind("door-status: ", 0), 0u) << reply.error().detail;

  sim_.Faults("{}");
  auto again = RunOn(io_, client->GetDoorStatus());
  EXPECT_TRUE(again) << Why(again.error());  // a fresh connection after the timeout
}

TEST_F(ClientFaults, AHangingReaderIsATimeout) {
  auto client = MakeClient(Options());
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"hang":true})");
  auto reply = RunOn(io_, client->GetMatchData());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kTimeout) << Why(reply.error());
  sim_.Faults(R"({"hang":false})");
  EXPECT_TRUE(RunOn(io_, client->GetMatchData()));
}

TEST_F(ClientFaults, CloseMidBodyIsClosed) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"close_mid_response":1})");
  auto reply = RunOn(io_, client->GetLogsRange(1, 100));
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kClosed) << Why(reply.error());
  sim_.Faults("{}");
  EXPECT_TRUE(RunOn(io_, client->GetLogsRange(1, 100)));
}

TEST_F(ClientFaults, MalformedJsonIsABadResponse) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"malformed_json":1})");
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kBadResponse) << Why(reply.error());
  EXPECT_EQ(reply.error().http_status, 200);
  EXPECT_EQ(reply.error().detail.rfind("door-status: ", 0), 0u) << reply.error().detail;
}

TEST_F(ClientFaults, ServerErrorsAreHttpStatusWithTheCode) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"error_rate":1})");
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kHttpStatus) << Why(reply.error());
  EXPECT_EQ(reply.error().http_status, 500);
}

TEST_F(ClientFaults, AStolenLockIsTakenBackWhenThePolicyIsSteal) {
  ClientOptions options = Options(std::chrono::seconds(5));
  options.lock_policy = LockPolicy::kSteal;
  auto client = MakeClient(options);
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  const std::string before = client->lock_uid();
  sim_.Faults(R"({"steal_lock":true})");
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_NE(client->lock_uid(), before);
  EXPECT_FALSE(client->lock_uid().empty());
}

TEST_F(ClientFaults, AStolenLockIsLockLostWhenThePolicyIsWait) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->Lock()));
  sim_.Faults(R"({"steal_lock":true})");
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kLockLost) << Why(reply.error());
  EXPECT_TRUE(client->lock_uid().empty());
}

TEST_F(ClientFaults, ARetiredClientReleasesItsLockAndNeverTakesItAgain) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->GetDoorStatus()));
  const std::string held = client->lock_uid();
  auto released = RunOn(io_, client->Retire());
  ASSERT_TRUE(released) << Why(released.error());
  EXPECT_EQ(*released, held);
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kCancelled);
  EXPECT_FALSE(RunOn(io_, client->Lock()));
  EXPECT_TRUE(client->lock_uid().empty());
  // Nobody holds the reader's lock: another client takes it at once.
  EXPECT_EQ(gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock").status, 200);
}

// After `delay`, runs `then` on the io_context (while another call is in flight).
boost::asio::awaitable<bool> After(std::chrono::milliseconds delay, std::function<void()> then) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
  co_await timer.async_wait(boost::asio::use_awaitable);
  then();
  co_return true;
}

TEST_F(ClientFaults, CloseDoesNotCutALockRequestTheReaderMayHaveGranted) {
  // The reader grants the lock 300 ms after the request; Close() comes at 100 ms. Cutting the
  // request there would leave a lock nobody knows and nobody can release (no expiry).
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  sim_.Faults(R"({"latency_ms":300})");
  std::optional<Reply<void>> locked;
  boost::asio::co_spawn(io_, client->Lock(),
                        [&](std::exception_ptr, Reply<void> r) { locked = std::move(r); });
  RunOn(io_, After(std::chrono::milliseconds(100), [&] { client->Close(); }));
  ASSERT_TRUE(locked.has_value());
  ASSERT_TRUE(*locked) << Why(locked->error());
  EXPECT_FALSE(client->lock_uid().empty());
  sim_.Faults("{}");
  auto released = RunOn(io_, client->Retire());
  ASSERT_TRUE(released) << Why(released.error());
  EXPECT_EQ(gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock").status, 200);
}

TEST_F(ClientFaults, RetireLetsTheCallInFlightFinishAndReleasesTheLockItTook) {
  // Another holder of the client (user sync) is taking the lock when the owner retires it: the
  // lock it is granted is the one released, not left behind.
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  sim_.Faults(R"({"latency_ms":300})");
  std::optional<Reply<DoorStatus>> status;
  boost::asio::co_spawn(io_, client->GetDoorStatus(),
                        [&](std::exception_ptr, Reply<DoorStatus> r) { status = std::move(r); });
  std::optional<Reply<std::string>> released;
  RunOn(io_, After(std::chrono::milliseconds(100), [&] {
          boost::asio::co_spawn(
              io_, client->Retire(),
              [&](std::exception_ptr, Reply<std::string> r) { released = std::move(r); });
        }));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(*status) << Why(status->error());
  ASSERT_TRUE(released.has_value());
  ASSERT_TRUE(*released) << Why(released->error());
  EXPECT_FALSE((*released)->empty());
  EXPECT_TRUE(client->lock_uid().empty());
  sim_.Faults("{}");
  EXPECT_EQ(gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock").status, 200);
  EXPECT_FALSE(RunOn(io_, client->GetDoorStatus()));
}

TEST_F(ClientFaults, ARebootedReaderIsReconnectedAndRelocked) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->GetDoorStatus()));
  const std::string before = client->lock_uid();
  sim_.Faults(R"({"reboot":true})");  // closes our keep-alive connection, drops the lock
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_NE(client->lock_uid(), before);
}

TEST_F(ClientFaults, ALockHeldElsewhereIsAConflictOrIsStolenPerPolicy) {
  auto other = gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock");
  ASSERT_EQ(other.status, 200);

  auto waiting = MakeClient(Options(std::chrono::seconds(5)));
  auto conflict = RunOn(io_, waiting->GetDoorStatus());
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().reason(), Errc::kLockConflict) << Why(conflict.error());
  EXPECT_EQ(conflict.error().http_status, 409);

  ClientOptions steal = Options(std::chrono::seconds(5));
  steal.lock_policy = LockPolicy::kSteal;
  auto stealing = MakeClient(steal);
  auto reply = RunOn(io_, stealing->GetDoorStatus());
  EXPECT_TRUE(reply) << Why(reply.error());
}

TEST_F(ClientFaults, WaitsForALockUntilItsHolderReleasesIt) {
  auto other = gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock");
  ASSERT_EQ(other.status, 200);
  auto body = boost::json::parse(other.body);
  const std::string uid(body.at("lock_uid").as_string());

  ClientOptions options = Options(std::chrono::seconds(5));
  options.lock_wait = std::chrono::seconds(10);
  options.lock_retry_interval = std::chrono::milliseconds(50);
  int attempts = 0;
  auto record = options.on_exchange;
  options.on_exchange = [&attempts, record](const Operation& op, int status,
                                            const boost::system::error_code& ec,
                                            Clock::duration elapsed) {
    if (op.path == "/lock" && status == 409) ++attempts;
    record(op, status, ec, elapsed);
  };
  auto client = MakeClient(options);
  // The holder releases only once we have been turned away twice (no timing guesswork).
  const std::uint64_t requests_before = sim_.State().at("requests").to_number<std::uint64_t>();
  std::thread holder([&] {
    bool waited = gw::test::WaitFor([&] {
      return sim_.State().at("requests").to_number<std::uint64_t>() >= requests_before + 2;
    });
    EXPECT_TRUE(waited);
    gw::test::HttpRequest(sim_.port(), "DELETE", "/1.0/lock/" + uid);
  });
  auto reply = RunOn(io_, client->GetDoorStatus());
  holder.join();
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_GE(attempts, 1);
}

TEST_F(ClientFaults, NothingListeningIsRefused) {
  std::uint16_t port = 0;
  {
    boost::asio::io_context scratch;
    boost::asio::ip::tcp::acceptor acceptor(scratch,
                                            {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there any more
  ClientOptions options = Options();
  options.port = port;
  auto client = MakeClient(options);
  auto reply = RunOn(io_, client->GetVersion());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kRefused) << Why(reply.error());
}

TEST_F(ClientFaults, AReaderWithoutPowerIsRefusedUntilItComesBack) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  ASSERT_TRUE(RunOn(io_, client->GetDoorStatus()));
  sim_.Faults(R"({"down":true})");  // listener and our connection closed
  auto reply = RunOn(io_, client->GetDoorStatus());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kRefused) << Why(reply.error());
  sim_.Faults(R"({"down":false})");
  auto back = RunOn(io_, client->GetDoorStatus());
  EXPECT_TRUE(back) << Why(back.error());
}

TEST_F(ClientFaults, ABodyOverItsLimitIsTooLarge) {
  ClientOptions options = Options(std::chrono::seconds(5));
  options.small_body_limit = 16;
  auto client = MakeClient(options);
  auto reply = RunOn(io_, client->GetVersion());
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kTooLarge) << Why(reply.error());
}

TEST_F(ClientFaults, QueryValuesThatNeedEncodingAreRefusedBeforeSending) {
  ClientOptions options = Options(std::chrono::seconds(5));
  int exchanges = 0;
  options.on_exchange = [&exchanges](const Operation&, int, const boost::system::error_code&,
                                     Clock::duration) { ++exchanges; };
  auto client = MakeClient(options);
  for (const char* name : {"a b.bmp", "a&lock_uid=x", "%41", "caf\xc3\xa9"}) {
    auto reply = RunOn(io_, client->LoadFile(name));
    ASSERT_FALSE(reply) << name;
    EXPECT_EQ(reply.error().reason(), Errc::kBadRequest) << name;
    EXPECT_NE(reply.error().detail.find("filename"), std::string::npos) << reply.error().detail;
  }
  EXPECT_EQ(exchanges, 0);
}

TEST(ClientIdle, AConnectionTheReaderClosedWhileIdleIsReplacedEvenForAPost) {
  ef45sim::FleetOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  Sim sim(options);
  boost::asio::io_context io;
  Client client(io.get_executor(), test::OptionsFor(sim));
  ASSERT_TRUE(RunOn(io, client.GetDoorStatus()));
  ASSERT_TRUE(gw::test::WaitFor(
      [&] { return sim.State().at("connections").to_number<std::uint64_t>() == 0; }));
  auto heartbeat = RunOn(io, client.Heartbeat());  // POST: never resent blindly
  EXPECT_TRUE(heartbeat) << Why(heartbeat.error());
  ASSERT_TRUE(gw::test::WaitFor(
      [&] { return sim.State().at("connections").to_number<std::uint64_t>() == 0; }));
  auto door = RunOn(io, client.GetDoorStatus());
  EXPECT_TRUE(door) << Why(door.error());
}

/// Several coroutines share one client: their calls queue on the one connection.
boost::asio::awaitable<Reply<void>> DoorStatusTimes(Client& client, int times, int& done) {
  for (int i = 0; i < times; ++i) {
    auto reply = co_await client.GetDoorStatus();
    if (!reply) co_return reply.error();
    ++done;
  }
  co_return Reply<void>{};
}

TEST_F(ClientFaults, ConcurrentCallsShareOneConnectionOneAtATime) {
  auto client = MakeClient(Options(std::chrono::seconds(5)));
  int done = 0;
  std::vector<Reply<void>> results;
  for (int i = 0; i < 4; ++i) {
    boost::asio::co_spawn(io_, DoorStatusTimes(*client, 10, done),
                          [&results](std::exception_ptr e, Reply<void> r) {
                            if (e) std::rethrow_exception(e);
                            results.push_back(std::move(r));
                          });
  }
  io_.restart();
  io_.run_for(std::chrono::seconds(30));
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_TRUE(r) << Why(r.error());
  EXPECT_EQ(done, 40);
  EXPECT_EQ(sim_.State().at("connections").to_number<std::uint64_t>(), 1u);
}

}  // namespace
}  // namespace gw::ef45
