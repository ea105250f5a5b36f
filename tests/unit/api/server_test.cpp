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
    router_.Add("POST", "/hello", Role::kNone, Hello);
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

TEST_F(ServerTest, OversizedBodyIs413) {
  ServerOptions options;
  options.body_limit = 1024;
  Start(options);
  auto r = gw::test::HttpRequest(port(), "POST", "/hello", std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("payload-too-large"), std::string::npos);
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
