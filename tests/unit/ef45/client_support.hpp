#pragma once

// Shared by the client tests: an in-process emulated fleet on ephemeral loopback ports (its own
// io thread), a client io_context driven from the test thread under a watchdog, and the
// registry of operations that completed a round trip (filled through ClientOptions::on_exchange,
// i.e. only by replies that really came back from the emulator with a 2xx status).

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "ef45/client.hpp"
#include "fleet.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::ef45::test {

/// "METHOD /path-template" of every operation that got a 2xx reply in this test binary.
inline std::set<std::string>& RoundTripped() {
  static std::set<std::string> ops;
  return ops;
}

/// A fleet running on its own thread for the duration of a test.
class Sim {
 public:
  explicit Sim(ef45sim::FleetOptions options = {}) : fleet_(io_, std::move(options)) {
    fleet_.Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Sim() {
    fleet_.Stop();
    auto done = std::async(std::launch::async, [this] { thread_.join(); });
    if (done.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "emulator did not stop within 10 s";
      std::abort();
    }
  }
  std::uint16_t port(int reader = 0) const { return fleet_.ReaderPort(reader); }

  /// A control API call; fails the test on a non-200.
  boost::json::value Control(const std::string& method, const std::string& target,
                             const std::string& body = {}) {
    gw::test::HttpResult r = gw::test::HttpRequest(fleet_.ControlPort(), method, target, body);
    EXPECT_EQ(r.status, 200) << method << " " << target << ": " << r.error << " " << r.body;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.body, ec);
    return ec ? boost::json::value() : v;
  }
  void Faults(const std::string& body, int reader = 0) {
    Control("POST", "/sim/readers/" + std::to_string(reader) + "/faults", body);
  }
  boost::json::object State(int reader = 0) {
    auto v = Control("GET", "/sim/readers/" + std::to_string(reader));
    return v.is_object() ? v.as_object() : boost::json::object();
  }

 private:
  boost::asio::io_context io_;
  ef45sim::Fleet fleet_;
  std::thread thread_;
};

/// Default client options against reader 0 of `sim`; records round trips.
inline ClientOptions OptionsFor(const Sim& sim, int reader = 0) {
  ClientOptions options;
  options.host = "127.0.0.1";
  options.port = sim.port(reader);
  options.request_timeout = std::chrono::seconds(5);
  options.on_exchange = [](const Operation& op, int status, const boost::system::error_code& ec,
                           std::chrono::steady_clock::duration) {
    if (!ec && status >= 200 && status < 300) {
      RoundTripped().insert(std::string(op.method) + " " + std::string(op.path));
    }
  };
  return options;
}

/// Runs one awaitable on `io` from the test thread. A watchdog turns a hang into an exception
/// (the test fails instead of blocking the suite).
template <class T>
T RunOn(boost::asio::io_context& io, boost::asio::awaitable<T> task,
        std::chrono::seconds limit = std::chrono::seconds(30)) {
  std::optional<T> result;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  io.restart();
  io.run_for(limit);
  if (error) std::rethrow_exception(error);
  if (!result) throw std::runtime_error("watchdog: the call did not complete in time");
  return std::move(*result);
}

/// Text for a failed Reply in assertion messages.
inline std::string Why(const Error& error) {
  return std::string(ReasonName(error.code)) + " (" + std::to_string(error.http_status) +
         "): " + error.detail;
}

}  // namespace gw::ef45::test
