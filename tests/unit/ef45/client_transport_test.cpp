// The client's own HTTP/1.1 reading and writing (issue 18 replaced Beast's stream and message
// types with a plain socket): replies framed every way a server may frame them, split at awkward
// places, and the ways a broken server may misbehave. A scripted server on loopback answers each
// request with the next script, written in pieces with a pause between them so that the client
// sees them in separate reads.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_support.hpp"

namespace gw::ef45 {
namespace {

using test::RunOn;
using test::Why;

/// What the server does with one request: writes `pieces` in order (pausing between them), then
/// closes the connection if `close`, and `hold` keeps the connection silent instead.
struct Script {
  std::vector<std::string> pieces;
  bool close = false;
};

class ScriptedServer {
 public:
  ScriptedServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    int on = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 8) != 0) {
      throw std::runtime_error("scripted server: cannot listen");
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  void Add(Script script) {
    std::lock_guard lock(mutex_);
    scripts_.push_back(std::move(script));
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  /// The raw requests received, in order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      int on = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      ServeConnection(fd);
      ::close(fd);
    }
  }
  // One request at a time; the connection ends when a script says so or the client closes it.
  void ServeConnection(int fd) {
    std::string pending;
    while (true) {
      auto end = pending.find("\r\n\r\n");
      while (end == std::string::npos) {
        char chunk[4096];
        auto n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        pending.append(chunk, static_cast<std::size_t>(n));
        end = pending.find("\r\n\r\n");
      }
      std::size_t length = 0;
      if (auto at = pending.find("Content-Length: "); at != std::string::npos && at < end) {
        length = std::stoul(pending.substr(at + 16));
      }
      while (pending.size() < end + 4 + length) {
        char chunk[4096];
        auto n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        pending.append(chunk, static_cast<std::size_t>(n));
      }
      Script script;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(pending.substr(0, end + 4 + length));
        if (scripts_.empty()) return;
        script = std::move(scripts_.front());
        scripts_.pop_front();
      }
      pending.erase(0, end + 4 + length);
      for (std::size_t i = 0; i < script.pieces.size(); ++i) {
        // The pause makes the client read the pieces one by one (its reads are what is tested).
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
        const auto& piece = script.pieces[i];
        if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) return;
      }
      if (script.close) return;
    }
  }

  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::deque<Script> scripts_;
  std::vector<std::string> requests_;
};

const std::string kJson = R"({"version":"1.2.34"})";

std::string Fixed(const std::string& body, const std::string& extra = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

class ClientTransport : public ::testing::Test {
 protected:
  Client MakeClient(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    ClientOptions options;
    options.host = "127.0.0.1";
    options.port = server_.port();
    options.request_timeout = timeout;
    options.small_body_limit = 1024;
    return Client(io_.get_executor(), std::move(options));
  }
  Reply<VersionInfo> Version(Client& client) { return RunOn(io_, client.GetVersion()); }

  ScriptedServer server_;
  boost::asio::io_context io_;
};

TEST_F(ClientTransport, AHeaderAndBodySplitAcrossReadsIsOneReply) {
  const std::string whole = Fixed(kJson);
  server_.Add({{whole.substr(0, 7), whole.substr(7, 30), whole.substr(37, 20), whole.substr(57)}});
  server_.Add({{Fixed(R"({"version":"2"})")}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_EQ(reply->version, "1.2.34");
  auto again = Version(client);  // the same connection, the next reply
  ASSERT_TRUE(again) << Why(again.error());
  EXPECT_EQ(again->version, "2");
  EXPECT_EQ(server_.connections(), 1);
}

TEST_F(ClientTransport, AChunkedReplyIsJoined) {
  server_.Add({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"ver\r\n",
                "f\r\nsion\":\"chunked\"\r\n", "1\r\n}\r\n0\r\n\r\n"}});
  server_.Add({{Fixed(kJson)}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_EQ(reply->version, "chunked");
  auto again = Version(client);
  ASSERT_TRUE(again) << Why(again.error());
  EXPECT_EQ(server_.connections(), 1);
}

TEST_F(ClientTransport, ABodyEndedByCloseIsReadToTheEndAndTheNextCallReconnects) {
  server_.Add(
      {{"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"version\":", "\"eof\"}"},
       true});
  server_.Add({{Fixed(kJson)}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_EQ(reply->version, "eof");
  auto again = Version(client);
  ASSERT_TRUE(again) << Why(again.error());
  EXPECT_EQ(again->version, "1.2.34");
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(ClientTransport, ConnectionCloseIsHonoured) {
  server_.Add({{Fixed(kJson, "Connection: close\r\n")}});
  server_.Add({{Fixed(R"({"version":"2"})")}});
  auto client = MakeClient();
  ASSERT_TRUE(Version(client));
  auto again = Version(client);
  ASSERT_TRUE(again) << Why(again.error());
  EXPECT_EQ(again->version, "2");
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(ClientTransport, AnInterimReplyIsSkipped) {
  server_.Add({{"HTTP/1.1 100 Continue\r\n\r\n", Fixed(kJson)}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_TRUE(reply) << Why(reply.error());
  EXPECT_EQ(reply->version, "1.2.34");
}

TEST_F(ClientTransport, BytesAfterAReplyAreNeverTakenForTheNextOne) {
  // A second, unasked-for reply right behind the first: the next call must not return it.
  server_.Add({{Fixed(kJson) + Fixed(R"({"version":"unasked"})")}});
  server_.Add({{Fixed(R"({"version":"asked"})")}});
  auto client = MakeClient();
  ASSERT_TRUE(Version(client));
  auto again = Version(client);
  ASSERT_TRUE(again) << Why(again.error());
  EXPECT_EQ(again->version, "asked");
  EXPECT_EQ(server_.connections(), 2);
}

TEST_F(ClientTransport, AChunkedBodyOverTheLimitIsTooLarge) {
  const std::string big(2000, 'x');
  char size[16];
  std::snprintf(size, sizeof size, "%zx", big.size());
  server_.Add({{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                std::string(size) + "\r\n" + big + "\r\n0\r\n\r\n"}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kTooLarge) << Why(reply.error());
}

TEST_F(ClientTransport, NotHttpIsABadResponse) {
  server_.Add({{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kBadResponse) << Why(reply.error());
}

TEST_F(ClientTransport, ACloseInTheMiddleOfTheHeaderIsClosed) {
  server_.Add({{"HTTP/1.1 200 OK\r\nContent-Le"}, true});
  auto client = MakeClient();
  auto reply = Version(client);
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kClosed) << Why(reply.error());
}

TEST_F(ClientTransport, AReplyThatStopsHalfwayIsATimeoutAtTheDeadline) {
  const std::string whole = Fixed(kJson);
  server_.Add({{whole.substr(0, whole.size() - 3)}});
  auto client = MakeClient(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  auto reply = Version(client);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().reason(), Errc::kTimeout) << Why(reply.error());
  EXPECT_GE(took, std::chrono::milliseconds(290));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST_F(ClientTransport, TheRequestIsWellFormed) {
  server_.Add({{Fixed(kJson)}});
  server_.Add({{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}});
  auto client = MakeClient();
  ASSERT_TRUE(Version(client));
  auto heartbeat = RunOn(io_, client.Heartbeat());  // a POST without a body
  ASSERT_TRUE(heartbeat) << Why(heartbeat.error());
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0],
            "GET /1.0/version HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ef45-gateway\r\n\r\n");
  EXPECT_EQ(requests[1],
            "POST /1.0/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: "
            "ef45-gateway\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace gw::ef45
