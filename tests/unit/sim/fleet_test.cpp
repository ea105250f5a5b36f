// The simulator's network side over real loopback sockets: an in-process Fleet on ephemeral
// ports, driven with the blocking test client from another thread.
#include "fleet.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>

#include "common/time.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace {

namespace json = boost::json;
using gw::test::HttpClient;
using gw::test::HttpResult;
using Clock = std::chrono::steady_clock;

/// A fleet running on its own io thread for the duration of a test; stops and joins on exit.
/// A watchdog turns a fleet that does not stop into a failure instead of a hang.
class RunningFleet {
 public:
  explicit RunningFleet(ef45sim::FleetOptions options = {})
      : host_(options.bind_address), fleet_(io_, std::move(options)) {
    fleet_.Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningFleet() {
    fleet_.Stop();
    auto done = std::async(std::launch::async, [this] { thread_.join(); });
    if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "fleet did not stop within 10 s";
      std::abort();
    }
  }
  ef45sim::Fleet& fleet() { return fleet_; }
  std::uint16_t control() { return fleet_.ControlPort(); }
  std::uint16_t reader(int i) { return fleet_.ReaderPort(i); }

  /// POST /sim/... with a JSON body; fails the test on a non-200.
  json::value Control(const std::string& method, const std::string& target,
                      const std::string& body = {}) {
    HttpResult r = HttpClient(host_, control()).Request(method, target, body);
    EXPECT_EQ(r.status, 200) << method << " " << target << ": " << r.error << " " << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v;
  }
  json::object ReaderState(int i) {
    return Control("GET", "/sim/readers/" + std::to_string(i)).as_object();
  }
  void Faults(int i, const std::string& body) {
    Control("POST", "/sim/readers/" + std::to_string(i) + "/faults", body);
  }

 private:
  std::string host_;
  boost::asio::io_context io_;
  ef45sim::Fleet fleet_;
  std::thread thread_;
};

std::int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_number()) {
    ADD_FAILURE() << "no integer \"" << key << "\" in " << json::serialize(o);
    return -1;
  }
  return v->to_number<std::int64_t>();
}

/// Takes the reader's lock over HTTP; empty when the reader does not answer 200 + lock_uid.
std::string TakeLock(std::uint16_t port) {
  HttpResult r = gw::test::HttpRequest(port, "POST", "/1.0/lock");
  if (r.status != 200) return {};
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("lock_uid")) return {};
  return std::string(v.as_object().at("lock_uid").as_string());
}

bool ParsesAsJson(const std::string& text) {
  boost::system::error_code ec;
  json::parse(text, ec);
  return !ec;
}

TEST(Fleet, ServesEveryReaderOnItsOwnPortWithItsOwnIdentity) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 3});
  json::value all = sim.Control("GET", "/sim/readers");
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.as_array().size(), 3u);
  std::set<std::int64_t> ports;
  std::set<std::string> serials;
  for (int i = 0; i < 3; ++i) {
    const json::object& r = all.as_array()[i].as_object();
    EXPECT_EQ(Int(r, "index"), i);
    EXPECT_EQ(Int(r, "port"), sim.reader(i));
    for (const char* key : {"last_log_id", "recognitions_generated", "match_pending", "users"}) {
      EXPECT_TRUE(r.contains(key)) << key;
    }
    ports.insert(Int(r, "port"));
    serials.insert(std::string(r.at("serial_number").as_string()));
    // The reader answers on its port (whatever the state machine says, it is an HTTP answer).
    HttpResult answer = gw::test::HttpRequest(sim.reader(i), "GET", "/1.0/version");
    EXPECT_NE(answer.status, 0) << answer.error;
  }
  EXPECT_EQ(ports.size(), 3u);
  EXPECT_EQ(serials.size(), 3u);
  EXPECT_EQ(*serials.begin(), "OA1405A000000");
}

TEST(Fleet, DateHeaderIsTheReadersClockWithItsSkew) {
  RunningFleet sim;
  auto date_of = [&] {
    HttpResult r = gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version");
    auto t = gw::ParseHttpDate(r.headers["date"]);
    EXPECT_TRUE(t.has_value()) << "Date: " << r.headers["date"];
    return t.value_or(std::chrono::system_clock::time_point{});
  };
  auto skew = [&] {
    return std::chrono::duration_cast<std::chrono::seconds>(date_of() -
                                                            std::chrono::system_clock::now())
        .count();
  };
  EXPECT_LE(std::abs(skew()), 2);
  sim.Faults(0, R"({"clock_skew_s":3600})");
  EXPECT_NEAR(skew(), 3600, 2);
}

TEST(Fleet, KeepsOneConnectionAliveAcrossRequests) {
  RunningFleet sim;
  HttpClient client("127.0.0.1", sim.reader(0));
  for (int i = 0; i < 20; ++i) {
    HttpResult r = client.Get("/1.0/version");
    ASSERT_NE(r.status, 0) << r.error;
    ASSERT_TRUE(client.connected()) << "closed after request " << i;
  }
  json::object state = sim.ReaderState(0);
  EXPECT_EQ(Int(state, "connections"), 1);
  EXPECT_EQ(Int(state, "requests"), 20);
}

TEST(Fleet, ServesManyConnectionsPerReader) {
  RunningFleet sim;
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::make_unique<HttpClient>("127.0.0.1", sim.reader(0)));
    ASSERT_NE(clients.back()->Get("/1.0/version").status, 0);
  }
  EXPECT_EQ(Int(sim.ReaderState(0), "connections"), 8);
  for (auto& c : clients) EXPECT_NE(c->Get("/1.0/version").status, 0);
  clients.clear();
  EXPECT_TRUE(gw::test::WaitFor([&] { return Int(sim.ReaderState(0), "connections") == 0; }));
}

TEST(Fleet, SendsTheReadersStatusLineAndContentTypeAsIs) {
  RunningFleet sim;
  HttpClient client("127.0.0.1", sim.reader(0));
  // No lock: the firmware's server has no handler and Poco answers 501 with its HTML page.
  std::string raw = client.RequestRaw("GET", "/1.0/config/door-status", 1 << 16);
  EXPECT_EQ(raw.rfind("HTTP/1.1 501 Not Implemented\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("Content-Type: text/html\r\n"), std::string::npos) << raw;
}

TEST(Fleet, ClosesIdleConnectionsAfterTheKeepAliveTimeout) {
  RunningFleet sim(ef45sim::FleetOptions{.idle_timeout = std::chrono::milliseconds(300)});
  HttpClient client("127.0.0.1", sim.reader(0));
  auto start = Clock::now();
  ASSERT_NE(client.Get("/1.0/version").status, 0);
  ASSERT_EQ(Int(sim.ReaderState(0), "connections"), 1);
  ASSERT_TRUE(gw::test::WaitFor([&] { return Int(sim.ReaderState(0), "connections") == 0; }));
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST(Fleet, SameSeedGivesTheSameEventContent) {
  auto ledger = [](std::uint64_t seed) {
    RunningFleet sim(ef45sim::FleetOptions{.readers = 2, .seed = seed});
    sim.Control("POST", "/sim/readers/1/generate", R"({"recognitions":30,"door_changes":5})");
    sim.Control("POST", "/sim/readers/1/enroll");
    json::array items = sim.Control("GET", "/sim/readers/1/generated").at("items").as_array();
    for (auto& item : items) item.as_object().erase("timestamp");  // the clock is not seeded
    return json::serialize(items);
  };
  std::string first = ledger(42);
  EXPECT_NE(first, "[]");
  EXPECT_EQ(first, ledger(42));
  EXPECT_NE(first, ledger(43));
}

TEST(Fleet, BiometricKbSetsTheCaptureSize) {
  auto capture_bytes = [](int kb) {
    RunningFleet sim(ef45sim::FleetOptions{.biometric_kb = kb});
    std::string lock = TakeLock(sim.reader(0));
    EXPECT_FALSE(lock.empty());
    HttpClient client("127.0.0.1", sim.reader(0));
    std::string q = "?lock_uid=" + lock;
    EXPECT_EQ(client
                  .Request("POST", "/1.0/camera" + q,
                           R"({"serial_number":"x","camera_mode":"Slave","audio_enabled":true})")
                  .status,
              200);
    EXPECT_EQ(client.Request("POST", "/1.0/camera/control/start" + q + "&face_mode=true").status,
              200);
    std::size_t size = 0;
    EXPECT_TRUE(gw::test::WaitFor([&] {
      HttpResult r = client.Get("/1.0/biometric-data" + q);
      if (r.status != 200 || r.body.find("encounter_id") == std::string::npos) return false;
      size = r.body.size();
      return true;
    }));
    return size;
  };
  std::size_t small = capture_bytes(16);
  std::size_t large = capture_bytes(1024);
  EXPECT_GT(small, 0u);
  EXPECT_GT(large, small + 900 * 1024) << small << " vs " << large;
}

TEST(Fleet, SurvivesBeingDestroyedBeforeItsIoContextWithoutStop) {
  // A careless owner: stops the io_context instead of the fleet, destroys the fleet, then the
  // io_context (which destroys the suspended session frames). Must not touch freed memory
  // (the sanitizer build turns a mistake here into a failure).
  auto io = std::make_unique<boost::asio::io_context>();
  auto fleet = std::make_unique<ef45sim::Fleet>(*io, ef45sim::FleetOptions{});
  fleet->Start();
  std::thread runner([&] { io->run(); });
  HttpClient client("127.0.0.1", fleet->ReaderPort(0));
  ASSERT_NE(client.Get("/1.0/version").status, 0);
  io->stop();
  runner.join();
  fleet.reset();
  io.reset();
  EXPECT_TRUE(client.connected());  // nothing closed it on our side; the point is no crash
}

/// A port that is free right now on every address given (a fleet binding it a moment later may
/// still lose a race, so callers retry).
std::uint16_t FreePortOn(const std::vector<std::string>& addresses) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io);
  auto first = boost::asio::ip::make_address(addresses.front());
  probe.open(boost::asio::ip::tcp::v4());
  probe.bind({first, 0});
  auto port = probe.local_endpoint().port();
  probe.close();
  for (const auto& a : addresses) {
    boost::asio::ip::tcp::acceptor check(io);
    boost::system::error_code ec;
    check.open(boost::asio::ip::tcp::v4(), ec);
    check.bind({boost::asio::ip::make_address(a), port}, ec);
    if (ec) return 0;
  }
  return port;
}

TEST(Fleet, AddressPerReaderPutsEveryReaderOnTheSamePortOfItsOwnAddress) {
  const std::vector<std::string> addresses = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
  std::unique_ptr<RunningFleet> sim;
  for (int attempt = 0; attempt < 5 && !sim; ++attempt) {
    std::uint16_t port = FreePortOn(addresses);
    if (port == 0) continue;
    try {
      sim = std::make_unique<RunningFleet>(ef45sim::FleetOptions{.readers = 3,
                                                                 .base_port = port,
                                                                 .bind_address = "127.0.0.2",
                                                                 .address_per_reader = true});
    } catch (const boost::system::system_error&) {
      // lost the race for the port: try another one
    }
  }
  ASSERT_TRUE(sim) << "no common free port on 127.0.0.2-4";
  const std::uint16_t port = sim->reader(0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sim->reader(i), port);
    json::object r = sim->ReaderState(i);
    EXPECT_EQ(std::string(r.at("address").as_string()), addresses[i]);
    HttpClient client(addresses[i], port);
    ASSERT_NE(client.Get("/1.0/version").status, 0) << addresses[i];
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Int(sim->ReaderState(i), "requests"), 1) << i;
  HttpResult control = HttpClient("127.0.0.2", sim->control()).Get("/sim");
  EXPECT_EQ(control.status, 200);
}

TEST(Fleet, RejectsBodiesOverTheLimitWith413) {
  RunningFleet sim(ef45sim::FleetOptions{.body_limit_bytes = 1024});
  HttpResult small =
      gw::test::HttpRequest(sim.reader(0), "POST", "/1.0/update/data", std::string(512, 'A'));
  EXPECT_NE(small.status, 413);
  HttpResult big =
      gw::test::HttpRequest(sim.reader(0), "POST", "/1.0/update/data", std::string(4096, 'A'));
  EXPECT_EQ(big.status, 413) << big.error;
}

TEST(Faults, LatencyDelaysEveryAnswer) {
  RunningFleet sim;
  HttpClient client("127.0.0.1", sim.reader(0));
  ASSERT_NE(client.Get("/1.0/version").status, 0);
  sim.Faults(0, R"({"latency_ms":250})");
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    HttpResult r = client.Get("/1.0/version");
    auto took = Clock::now() - start;
    ASSERT_NE(r.status, 0) << r.error;
    EXPECT_GE(took, std::chrono::milliseconds(250));
    EXPECT_LT(took, std::chrono::milliseconds(2000));
  }
  sim.Faults(0, "{}");
  auto start = Clock::now();
  ASSERT_NE(client.Get("/1.0/version").status, 0);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_EQ(Int(sim.ReaderState(0).at("injected").as_object(), "delayed"), 3);
}

TEST(Faults, ErrorRateAnswers500WithoutCallingTheReader) {
  RunningFleet sim;
  HttpClient client("127.0.0.1", sim.reader(0));
  sim.Faults(0, R"({"error_rate":1})");
  for (int i = 0; i < 10; ++i) {
    HttpResult r = client.Get("/1.0/version");
    EXPECT_EQ(r.status, 500);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.headers.count("content-type"), 0u);
    EXPECT_EQ(r.headers["content-length"], "0");
  }
  EXPECT_EQ(Int(sim.ReaderState(0), "requests"), 0) << "Reader::Handle was called";

  sim.Faults(0, R"({"error_rate":0.5})");
  int errors = 0;
  constexpr int kRequests = 400;
  for (int i = 0; i < kRequests; ++i) errors += client.Get("/1.0/version").status == 500;
  // Binomial(400, 0.5): sd = 10; [140, 260] is +-6 sd.
  EXPECT_GT(errors, 140);
  EXPECT_LT(errors, 260);
  EXPECT_EQ(Int(sim.ReaderState(0), "requests"), kRequests - errors);
}

TEST(Faults, HangAnswersNothingUntilCleared) {
  RunningFleet sim;
  sim.Faults(0, R"({"hang":true})");
  {
    HttpClient client("127.0.0.1", sim.reader(0), std::chrono::milliseconds(300));
    auto start = Clock::now();
    HttpResult r = client.Get("/1.0/version");
    EXPECT_EQ(r.status, 0) << "answered while hanging";
    EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(290));
  }
  // A request that is hanging when the fault is cleared gets its answer.
  auto pending = std::async(std::launch::async, [&] {
    HttpClient client("127.0.0.1", sim.reader(0), std::chrono::seconds(10));
    return client.Get("/1.0/version");
  });
  ASSERT_TRUE(gw::test::WaitFor(
      [&] { return Int(sim.ReaderState(0).at("injected").as_object(), "hung") >= 2; }));
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  sim.Faults(0, R"({"hang":false})");
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(pending.get().status, 0);
}

TEST(Faults, HangLetsGoOfConnectionsTheClientAbandoned) {
  RunningFleet sim;
  sim.Faults(0, R"({"hang":true})");
  for (int i = 0; i < 3; ++i) {
    HttpClient client("127.0.0.1", sim.reader(0), std::chrono::milliseconds(100));
    EXPECT_EQ(client.Get("/1.0/version").status, 0);
  }  // each client closes its socket here, as a gateway does after its deadline
  EXPECT_TRUE(gw::test::WaitFor([&] { return Int(sim.ReaderState(0), "connections") == 0; },
                                std::chrono::seconds(5)));
  EXPECT_TRUE(sim.ReaderState(0).at("faults").as_object().at("hang").as_bool());
}

TEST(Faults, CloseMidResponseSendsPartOfTheBodyThenCloses) {
  RunningFleet sim;
  // Reference answer: what the reader really sends for this request.
  HttpResult full = gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version");
  ASSERT_NE(full.status, 0);
  ASSERT_FALSE(full.body.empty());
  sim.Faults(0, R"({"close_mid_response":1})");
  HttpClient client("127.0.0.1", sim.reader(0), std::chrono::seconds(5));
  auto start = Clock::now();
  std::string raw = client.RequestRaw("GET", "/1.0/version", 1 << 20);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4)) << "ended by deadline, not by EOF";
  auto header_end = raw.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos) << raw;
  std::string header = raw.substr(0, header_end);
  // (No std::regex: GCC 12's -Wmaybe-uninitialized misfires on it in the sanitizer build.)
  auto length_at = header.find("Content-Length: ");
  ASSERT_NE(length_at, std::string::npos) << header;
  std::size_t declared = std::stoul(header.substr(length_at + 16));
  std::size_t received = raw.size() - header_end - 4;
  EXPECT_EQ(declared, full.body.size());
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, declared);
  // The test client sees a failed exchange too.
  HttpResult r = gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version");
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(Faults, MalformedJsonKeepsContentLengthButDoesNotParse) {
  RunningFleet sim;
  HttpResult good = gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version");
  ASSERT_EQ(good.status, 200) << "needs the reader's GET /1.0/version";
  ASSERT_TRUE(ParsesAsJson(good.body)) << good.body;
  sim.Faults(0, R"({"malformed_json":1})");
  for (int i = 0; i < 5; ++i) {
    HttpResult bad = gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version");
    ASSERT_EQ(bad.status, 200) << bad.error;
    EXPECT_EQ(bad.headers["content-type"], "application/json");
    EXPECT_EQ(bad.headers["content-length"], std::to_string(bad.body.size()));
    EXPECT_FALSE(ParsesAsJson(bad.body)) << bad.body;
  }
  sim.Faults(0, "{}");
  EXPECT_TRUE(ParsesAsJson(gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/version").body));
}

TEST(Faults, DownRefusesConnectionsUntilCleared) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 2});
  const std::uint16_t port = sim.reader(0);
  HttpClient held("127.0.0.1", port);
  ASSERT_NE(held.Get("/1.0/version").status, 0);
  sim.Faults(0, R"({"down":true})");
  EXPECT_TRUE(sim.ReaderState(0).at("faults").as_object().at("down").as_bool());
  HttpResult refused = gw::test::HttpRequest(port, "GET", "/1.0/version");
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("refused"), std::string::npos) << refused.error;
  EXPECT_EQ(held.Get("/1.0/version").status, 0) << "an open connection survived power-off";
  EXPECT_NE(gw::test::HttpRequest(sim.reader(1), "GET", "/1.0/version").status, 0);
  // Down twice, then up twice: idempotent, and the reader is back on the same port.
  sim.Faults(0, R"({"down":true})");
  sim.Faults(0, R"({"down":false})");
  sim.Faults(0, "{}");
  EXPECT_EQ(sim.reader(0), port);
  for (int i = 0; i < 3; ++i) {
    HttpResult back = gw::test::HttpRequest(port, "GET", "/1.0/version");
    EXPECT_EQ(back.status, 200) << back.error;
  }
  EXPECT_FALSE(sim.ReaderState(0).at("faults").as_object().at("down").as_bool());
}

TEST(Faults, RebootClosesTheReadersConnections) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 2});
  HttpClient victim("127.0.0.1", sim.reader(0));
  HttpClient bystander("127.0.0.1", sim.reader(1));
  ASSERT_NE(victim.Get("/1.0/version").status, 0);
  ASSERT_NE(bystander.Get("/1.0/version").status, 0);
  sim.Faults(0, R"({"reboot":true})");
  EXPECT_TRUE(gw::test::WaitFor([&] { return Int(sim.ReaderState(0), "connections") == 0; }));
  HttpResult after = victim.Get("/1.0/version");
  EXPECT_EQ(after.status, 0) << "the old connection still answered";
  EXPECT_NE(victim.Get("/1.0/version").status, 0) << "a new connection must work";
  EXPECT_NE(bystander.Get("/1.0/version").status, 0);
  EXPECT_EQ(Int(sim.ReaderState(0).at("injected").as_object(), "reboots"), 1);
  EXPECT_EQ(Int(sim.ReaderState(1).at("injected").as_object(), "reboots"), 0);
}

TEST(Faults, RebootDropsTheLockAndTheMatchBuffer) {
  RunningFleet sim;
  std::string lock = TakeLock(sim.reader(0));
  ASSERT_FALSE(lock.empty()) << "needs the reader's POST /1.0/lock";
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":3})");
  json::object before = sim.ReaderState(0);
  EXPECT_TRUE(before.at("locked").as_bool());
  EXPECT_EQ(Int(before, "match_pending"), 3);
  sim.Faults(0, R"({"reboot":true})");
  json::object after = sim.ReaderState(0);
  EXPECT_FALSE(after.at("locked").as_bool());
  EXPECT_EQ(Int(after, "match_pending"), 0);
  EXPECT_EQ(Int(after, "last_log_id"), Int(before, "last_log_id")) << "logs survive a reboot";
  EXPECT_EQ(gw::test::HttpRequest(sim.reader(0), "GET", "/1.0/match-data?lock_uid=" + lock).status,
            501);
}

TEST(Faults, RebootMarksTheDroppedMatchDataInTheLedger) {
  RunningFleet sim;
  std::string lock = TakeLock(sim.reader(0));
  ASSERT_FALSE(lock.empty()) << "needs the reader's POST /1.0/lock";
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":2})");
  // A client stores and deletes the first item; the second is still buffered at the reboot.
  json::array pending = sim.Control("GET", "/sim/readers/0/generated").at("items").as_array();
  ASSERT_EQ(pending.size(), 2u);
  std::string first(pending[0].at("encounter_id").as_string());
  ASSERT_EQ(gw::test::HttpRequest(sim.reader(0), "DELETE",
                                  "/1.0/match-data/" + first + "?lock_uid=" + lock)
                .status,
            200);
  sim.Faults(0, R"({"reboot":true})");
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":1})");
  json::array items = sim.Control("GET", "/sim/readers/0/generated").at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_FALSE(items[0].as_object().contains("match_dropped")) << "deleted before the reboot";
  EXPECT_TRUE(items[1].at("match_dropped").as_bool());
  EXPECT_FALSE(items[2].as_object().contains("match_dropped")) << "generated after the reboot";
}

TEST(Faults, StealLockMakesTheOldLockUidGet501) {
  RunningFleet sim;
  std::string lock = TakeLock(sim.reader(0));
  ASSERT_FALSE(lock.empty()) << "needs the reader's POST /1.0/lock";
  std::string door = "/1.0/config/door-status?lock_uid=" + lock;
  EXPECT_EQ(gw::test::HttpRequest(sim.reader(0), "GET", door).status, 200);
  sim.Faults(0, R"({"steal_lock":true})");
  EXPECT_EQ(gw::test::HttpRequest(sim.reader(0), "GET", door).status, 501);
  EXPECT_EQ(gw::test::HttpRequest(sim.reader(0), "POST", "/1.0/lock").status, 409);
}

TEST(Faults, WipeLogsRestartsLogIds) {
  RunningFleet sim;
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":4})");
  EXPECT_EQ(Int(sim.ReaderState(0), "last_log_id"), 4);
  sim.Faults(0, R"({"wipe_logs":true})");
  EXPECT_EQ(Int(sim.ReaderState(0), "last_log_id"), 0);
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":1})");
  EXPECT_EQ(Int(sim.ReaderState(0), "last_log_id"), 1);
  json::object page = sim.Control("GET", "/sim/readers/0/generated").as_object();
  const json::array& items = page.at("items").as_array();
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(Int(items[4].as_object(), "log_id"), 1);
  EXPECT_EQ(Int(items[4].as_object(), "log_epoch"), 1);
  EXPECT_EQ(Int(items[0].as_object(), "log_epoch"), 0);
}

TEST(Faults, PoisonLogIsOneShotAndTheLedgerCountsTheRecognition) {
  RunningFleet sim;
  sim.Faults(0, R"({"poison_log":"year0"})");
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":2})");
  EXPECT_EQ(Int(sim.ReaderState(0), "recognitions_generated"), 2);
  json::object page = sim.Control("GET", "/sim/readers/0/generated").as_object();
  const json::array& items = page.at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("poison").as_string(), "year0");
  EXPECT_EQ(items[0].at("timestamp").as_string(), "0000-01-01 00:00:00");
  EXPECT_FALSE(items[1].as_object().contains("poison"));
  // Only the three defects exist; anything else is refused before anything changes.
  auto bad = HttpClient("127.0.0.1", sim.control())
                 .Request("POST", "/sim/readers/0/faults", R"({"poison_log":"bogus"})");
  EXPECT_EQ(bad.status, 400);
}

TEST(Faults, PhantomNewestLogIdIsPendingUntilReported) {
  RunningFleet sim;
  sim.Faults(0, R"({"phantom_newest_log_id":123456789,"skip_log_ids":10})");
  EXPECT_TRUE(sim.ReaderState(0).at("phantom_newest_pending").as_bool());
  sim.Control("POST", "/sim/readers/0/generate", R"({"recognitions":1})");
  EXPECT_EQ(Int(sim.ReaderState(0), "last_log_id"), 11);
}

TEST(Faults, EmptyObjectClearsEveryStandingFault) {
  RunningFleet sim;
  sim.Faults(0, R"({"latency_ms":30,"error_rate":0.5,"hang":true,"close_mid_response":0.25,)"
                R"("malformed_json":0.75,"clock_skew_s":-90})");
  json::object set = sim.ReaderState(0).at("faults").as_object();
  EXPECT_EQ(Int(set, "latency_ms"), 30);
  EXPECT_DOUBLE_EQ(set.at("error_rate").as_double(), 0.5);
  EXPECT_TRUE(set.at("hang").as_bool());
  EXPECT_EQ(Int(set, "clock_skew_s"), -90);
  // Standing faults merge: setting one keeps the others.
  sim.Faults(0, R"({"latency_ms":0})");
  EXPECT_TRUE(sim.ReaderState(0).at("faults").as_object().at("hang").as_bool());

  sim.Faults(0, "{}");
  json::object cleared = sim.ReaderState(0).at("faults").as_object();
  EXPECT_EQ(Int(cleared, "latency_ms"), 0);
  EXPECT_EQ(cleared.at("error_rate").to_number<double>(), 0.0);
  EXPECT_FALSE(cleared.at("hang").as_bool());
  EXPECT_EQ(cleared.at("close_mid_response").to_number<double>(), 0.0);
  EXPECT_EQ(cleared.at("malformed_json").to_number<double>(), 0.0);
  EXPECT_EQ(Int(cleared, "clock_skew_s"), 0);
  HttpClient client("127.0.0.1", sim.reader(0), std::chrono::seconds(2));
  for (int i = 0; i < 20; ++i) {
    HttpResult r = client.Get("/1.0/version");
    ASSERT_NE(r.status, 0) << r.error;
    EXPECT_NE(r.status, 500);
  }
}

TEST(Faults, AllAppliesToEveryReader) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 3});
  sim.Control("POST", "/sim/readers/all/faults", R"({"error_rate":1})");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gw::test::HttpRequest(sim.reader(i), "GET", "/1.0/version").status, 500);
  }
  sim.Control("POST", "/sim/readers/all/faults", "{}");
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(gw::test::HttpRequest(sim.reader(i), "GET", "/1.0/version").status, 500);
  }
}

TEST(Control, GenerateCreatesExactCounts) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 2});
  sim.Control("POST", "/sim/readers/1/generate", R"({"recognitions":7,"door_changes":2})");
  json::object one = sim.ReaderState(1);
  EXPECT_EQ(Int(one, "recognitions_generated"), 7);
  EXPECT_EQ(Int(one, "door_changes_generated"), 2);
  EXPECT_EQ(Int(sim.ReaderState(0), "recognitions_generated"), 0);

  json::object first = sim.Control("GET", "/sim/readers/1/generated?after=0&limit=4").as_object();
  EXPECT_EQ(Int(first, "total"), 7);
  EXPECT_EQ(first.at("items").as_array().size(), 4u);
  EXPECT_TRUE(first.at("has_more").as_bool());
  json::object rest = sim.Control("GET", "/sim/readers/1/generated?after=4&limit=4").as_object();
  EXPECT_EQ(rest.at("items").as_array().size(), 3u);
  EXPECT_FALSE(rest.at("has_more").as_bool());
  const json::object& e = rest.at("items").as_array()[0].as_object();
  for (const char* key : {"log_id", "log_epoch", "event_type", "info", "additional_data",
                          "user_uuid", "timestamp", "encounter_id"}) {
    EXPECT_TRUE(e.contains(key)) << key;
  }
  EXPECT_EQ(std::string(e.at("event_type").as_string()), "Recognition");
}

TEST(Control, EnrollReturnsTheNewUser) {
  RunningFleet sim;
  auto users = Int(sim.ReaderState(0), "users");
  json::object r = sim.Control("POST", "/sim/readers/0/enroll").as_object();
  EXPECT_FALSE(r.at("user_uuid").as_string().empty());
  EXPECT_EQ(Int(sim.ReaderState(0), "users"), users + 1);
}

TEST(Control, TickGeneratesAtTheRateAndPauseStopsIt) {
  RunningFleet sim(ef45sim::FleetOptions{.readers = 2, .rate = 50, .door_rate = 20});
  ASSERT_TRUE(gw::test::WaitFor([&] {
    return Int(sim.ReaderState(0), "recognitions_generated") >= 10 &&
           Int(sim.ReaderState(1), "door_changes_generated") >= 4;
  }));
  sim.Control("POST", "/sim/generation/pause");
  EXPECT_TRUE(sim.Control("GET", "/sim").as_object().at("generation_paused").as_bool());
  // A tick already in flight may still land; after that the counts must stay put.
  auto settled = Int(sim.ReaderState(0), "recognitions_generated");
  ASSERT_TRUE(gw::test::WaitFor(
      [&] {
        auto now = Int(sim.ReaderState(0), "recognitions_generated");
        bool same = now == settled;
        settled = now;
        return same;
      },
      std::chrono::seconds(5), std::chrono::milliseconds(150)));
  // Six ticks at 50/s would make ~15 more if generation were still running.
  auto until = Clock::now() + std::chrono::milliseconds(300);
  ASSERT_FALSE(gw::test::WaitFor(
      [&] { return Int(sim.ReaderState(0), "recognitions_generated") != settled; },
      std::chrono::milliseconds(300)));
  EXPECT_GE(Clock::now(), until - std::chrono::milliseconds(5));
  sim.Control("POST", "/sim/generation/resume");
  EXPECT_TRUE(gw::test::WaitFor(
      [&] { return Int(sim.ReaderState(0), "recognitions_generated") > settled + 5; }));
}

TEST(Control, RejectsBadInputWith400) {
  RunningFleet sim;
  auto post = [&](const std::string& target, const std::string& body) {
    return gw::test::HttpRequest(sim.control(), "POST", target, body);
  };
  for (const char* body :
       {R"({"latency":5})", R"({"error_rate":2})", R"({"error_rate":-0.1})",
        R"({"error_rate":"half"})", R"({"hang":1})", R"({"down":"yes"})", R"({"latency_ms":-1})",
        R"({"latency_ms":1.5})", R"({"reboot":"yes"})", R"({"clock_skew_s":"1h"})", "[1]",
        "{not json", R"({"malformed_json":1.01})"}) {
    HttpResult r = post("/sim/readers/0/faults", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << body;
    EXPECT_TRUE(ParsesAsJson(r.body));
  }
  // A rejected body changes nothing, even if some of its keys were valid.
  EXPECT_EQ(post("/sim/readers/0/faults", R"({"error_rate":1,"bogus":true})").status, 400);
  EXPECT_EQ(sim.ReaderState(0).at("faults").as_object().at("error_rate").to_number<double>(), 0);

  EXPECT_EQ(post("/sim/readers/0/generate", R"({"recognitions":-1})").status, 400);
  EXPECT_EQ(post("/sim/readers/0/generate", R"({"logs":1})").status, 400);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/readers/0/generated?limit=0").status,
            400);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/readers/0/generated?after=x").status,
            400);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/readers/1").status, 404);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/readers/-1").status, 404);
  EXPECT_EQ(post("/sim/readers/7/faults", "{}").status, 404);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/nothing").status, 404);
  EXPECT_EQ(gw::test::HttpRequest(sim.control(), "GET", "/sim/readers/0/faults").status, 405);
}

TEST(Control, ShutdownAnswersThenStopsTheFleet) {
  boost::asio::io_context io;
  ef45sim::Fleet fleet(io, {});
  fleet.Start();
  std::thread runner([&] { io.run(); });
  HttpResult r = gw::test::HttpRequest(fleet.ControlPort(), "POST", "/sim/shutdown");
  EXPECT_EQ(r.status, 200) << r.error;
  auto stopped = std::async(std::launch::async, [&] { runner.join(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(gw::test::HttpRequest(fleet.ReaderPort(0), "GET", "/1.0/version").status, 200);
}

}  // namespace
