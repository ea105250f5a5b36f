#include "api/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "api/problem.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::api {
namespace {

namespace asio = boost::asio;
using Headers = std::vector<std::pair<std::string, std::string>>;

asio::awaitable<Response> Hello(Request& request) {
  Response r;
  r.body = "{\"hello\":\"" + request.Query("name").value_or("world") + "\"}";
  co_return r;
}

asio::awaitable<Response> Throws(Request&) {
  throw std::runtime_error("boom");
  co_return Response{};
}

std::atomic<int> g_stream_writes{0};
std::atomic<bool> g_stream_failed{false};

asio::awaitable<void> Firehose(StreamWriter& writer) {
  std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 100000; ++i) {
    auto ec = co_await writer.Write(chunk);
    if (ec) {
      g_stream_failed = true;
      co_return;
    }
    ++g_stream_writes;
  }
}

asio::awaitable<Response> Stream(Request&) {
  Response r;
  r.content_type = "text/event-stream";
  r.stream = Firehose;
  co_return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options) {
    router_.Add("GET", "/hello", Role::kNone, Hello);
    router_.Add("GET", "/throws", Role::kNone, Throws);
    router_.Add("GET", "/stream", Role::kNone, Stream);
    router_.Add("POST", "/hello", Role::kNone, Hello, RouteOptions{BodyKind::kJson, 1024});
    router_.Add("POST", "/upload", Role::kNone, Hello,
                RouteOptions{BodyKind::kOctets, kFirmwareBodyLimit});
    router_.Add("POST", "/secret", Role::kAdmin, Hello);
    options.port = 0;
    server_ = std::make_unique<Server>(
        io_.get_executor(), options, router_,
        [this](const std::string& route, const std::string&, int, std::chrono::duration<double>) {
          std::lock_guard lock(mutex_);
          routes_.push_back(route);
        });
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  Router router_{nullptr};
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> routes_;
};

TEST_F(ServerTest, ServesKeepAliveRequestsAndDecodesQuery) {
  Start({});
  gw::test::HttpClient client("127.0.0.1", port());
  auto a = client.Get("/hello?name=a%20b");
  EXPECT_EQ(a.status, 200) << a.error;
  EXPECT_EQ(a.body, "{\"hello\":\"a b\"}");
  auto b = client.Get("/hello");
  EXPECT_EQ(b.status, 200);
  EXPECT_TRUE(client.connected());  // same connection reused
  EXPECT_EQ(server_->connections(), 1);
  // The observer runs after the response is written: wait for it.
  EXPECT_TRUE(gw::test::WaitFor([&] {
    std::lock_guard lock(mutex_);
    return routes_.size() == 2;
  }));
  std::lock_guard lock(mutex_);
  EXPECT_EQ(routes_, (std::vector<std::string>{"/hello", "/hello"}));
}

TEST_F(ServerTest, HandlerExceptionBecomes500Problem) {
  Start({});
  auto r = gw::test::HttpRequest(port(), "GET", "/throws");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.headers["content-type"], "application/problem+json");
}

/// Sends `head` (a request header announcing a body) and returns what the server answers
/// without sending any body byte.
std::string AnswerToHeaderOnly(std::uint16_t port, const std::string& head) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(head));
  std::string out;
  boost::system::error_code ec;
  char buffer[4096];
  while (out.find("\r\n\r\n") == std::string::npos && !ec) {
    auto n = socket.read_some(asio::buffer(buffer), ec);
    out.append(buffer, n);
  }
  return out;
}

TEST_F(ServerTest, OversizedBodyIs413ByRoute) {
  Start({});
  const Headers json = {{"Content-Type", "application/json"}};
  auto r = gw::test::HttpRequest(port(), "POST", "/hello", std::string(4096, 'x'), json);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("payload-too-large"), std::string::npos);
  EXPECT_EQ(gw::test::HttpRequest(port(), "POST", "/hello", "{}", json).status, 200);
  // The firmware-style route takes 4 MiB; nothing takes more than 8 MiB.
  const Headers octets = {{"Content-Type", "application/octet-stream"}};
  EXPECT_EQ(
      gw::test::HttpRequest(port(), "POST", "/upload", std::string(4 << 20, 'x'), octets).status,
      200);
  auto answer = AnswerToHeaderOnly(
      port(),
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: 8388609\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
}

TEST_F(ServerTest, AuthenticatesOnTheHeadersBeforeReadingTheBody) {
  router_ = Router([](std::string_view) { return Caller(Role::kNone); });
  Start({});
  // 8 MiB announced, not one byte sent: the answer comes from the headers alone.
  auto answer =
      AnswerToHeaderOnly(port(),
                         "POST /secret HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 8000000\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 401") << answer;
  answer = AnswerToHeaderOnly(port(),
                              "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 100\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 415") << answer;
  answer =
      AnswerToHeaderOnly(port(),
                         "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 5000\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
}

TEST_F(ServerTest, EveryResponseCarriesARequestId) {
  Start({});
  auto a = gw::test::HttpRequest(port(), "GET", "/hello");
  auto b = gw::test::HttpRequest(port(), "GET", "/nothing");
  ASSERT_EQ(a.headers.count("x-request-id"), 1u);
  ASSERT_EQ(b.headers.count("x-request-id"), 1u);
  EXPECT_NE(a.headers["x-request-id"], b.headers["x-request-id"]);
}

TEST_F(ServerTest, ConnectionsPerClientAddressAreCapped) {
  ServerOptions options;
  options.max_connections_per_ip = 2;
  Start(options);
  gw::test::HttpClient first("127.0.0.1", port());
  gw::test::HttpClient second("127.0.0.1", port());
  ASSERT_EQ(first.Get("/hello").status, 200);
  ASSERT_EQ(second.Get("/hello").status, 200);
  auto third = gw::test::HttpRequest(port(), "GET", "/hello");
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(third.headers.count("retry-after"), 1u);
  EXPECT_EQ(first.Get("/hello").status, 200);
}

TEST_F(ServerTest, ConnectionsOverTheCapGet503) {
  ServerOptions options;
  options.max_connections = 1;
  Start(options);
  gw::test::HttpClient first("127.0.0.1", port());
  ASSERT_EQ(first.Get("/hello").status, 200);
  auto second = gw::test::HttpRequest(port(), "GET", "/hello");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(first.Get("/hello").status, 200);
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterItsDeadline) {
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(200);
  Start(options);
  gw::test::HttpClient client("127.0.0.1", port());
  ASSERT_EQ(client.Get("/hello").status, 200);
  EXPECT_TRUE(
      gw::test::WaitFor([&] { return server_->connections() == 0; }, std::chrono::seconds(5)));
}

TEST_F(ServerTest, SlowStreamConsumerIsCutOff) {
  ServerOptions options;
  options.write_timeout = std::chrono::milliseconds(300);
  Start(options);
  g_stream_writes = 0;
  g_stream_failed = false;
  // Connect, send the request, then read nothing: the server's writes must time out.
  asio::io_context client_io;
  asio::ip::tcp::socket socket(client_io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port()});
  std::string req = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(socket, asio::buffer(req));
  EXPECT_TRUE(gw::test::WaitFor([] { return g_stream_failed.load(); }, std::chrono::seconds(10)));
  EXPECT_LT(g_stream_writes.load(), 1000);  // bounded by socket buffers, not by the firehose
  EXPECT_TRUE(
      gw::test::WaitFor([&] { return server_->connections() == 0; }, std::chrono::seconds(5)));
}

TEST_F(ServerTest, StopClosesOpenConnections) {
  Start({});
  gw::test::HttpClient client("127.0.0.1", port());
  ASSERT_EQ(client.Get("/hello").status, 200);
  server_->Stop();
  EXPECT_TRUE(
      gw::test::WaitFor([&] { return server_->connections() == 0; }, std::chrono::seconds(5)));
  EXPECT_NE(client.Get("/hello").status, 200);
}

}  // namespace
}  // namespace gw::api
