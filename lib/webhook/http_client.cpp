#include "webhook/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <map>
#include <mutex>

#include "common/version.hpp"

namespace gw::webhook {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxIdlePerHost = 8;
constexpr std::size_t kResponseBodyLimit = 64 * 1024;  // the body is not used; bound it anyway

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

}  // namespace

struct HttpSender::Pool {
  mutable std::mutex mutex;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

  std::unique_ptr<Connection> Take(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }
  void Give(const std::string& key, std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex);
    auto& list = idle[key];
    if (list.size() < kMaxIdlePerHost) list.push_back(std::move(c));
  }
};

HttpSender::HttpSender(asio::any_io_executor, AllowList allow, std::chrono::milliseconds timeout)
    : pool_(std::make_unique<Pool>()), allow_(std::move(allow)), timeout_(timeout) {}

HttpSender::~HttpSender() = default;

std::size_t HttpSender::idle() const {
  std::lock_guard lock(pool_->mutex);
  std::size_t n = 0;
  for (const auto& [key, list] : pool_->idle) n += list.size();
  return n;
}

asio::awaitable<PostResult> HttpSender::Post(
    Url url, std::vector<std::pair<std::string, std::string>> headers, std::string body) {
  PostResult result;
  if (url.scheme != "http") {
    result.error = "https delivery is not supported by this build";
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.port == 80 ? url.host : url.HostPort());
  request.set(http::field::user_agent, "ef45-gatewayd/" + std::string(Version()));
  request.set(http::field::content_type, "application/json");
  request.keep_alive(true);
  for (auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();

  const std::string key = url.HostPort();
  // A pooled connection may have been closed by the receiver meanwhile: one retry on a new one,
  // only when nothing came back on the reused one (the request may not have been seen at all).
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = attempt == 0 ? pool_->Take(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      tcp::resolver resolver(executor);
      auto [rec, endpoints] =
          co_await resolver.async_resolve(url.host, std::to_string(url.port), kTuple);
      if (rec) {
        result.error = "cannot resolve " + url.host + ": " + rec.message();
        co_return result;
      }
      std::vector<tcp::endpoint> allowed;
      const bool by_name = allow_.AllowsName(url.host);
      for (const auto& entry : endpoints) {
        if (by_name || allow_.AllowsAddress(entry.endpoint().address())) {
          allowed.push_back(entry.endpoint());
        }
      }
      if (allowed.empty()) {
        result.error = url.host + " resolves to no address webhooks.allow permits";
        co_return result;
      }
      beast::tcp_stream stream(executor);
      stream.expires_after(timeout_);
      auto [cec, ep] = co_await stream.async_connect(allowed, kTuple);
      if (cec) {
        result.timed_out = cec == beast::error::timeout;
        result.error = "connect to " + key + ": " + cec.message();
        co_return result;
      }
      conn = std::make_unique<Connection>(stream.release_socket());
    }
    conn->stream.expires_after(timeout_);
    auto [wec, written] = co_await http::async_write(conn->stream, request, kTuple);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kResponseBodyLimit);
    boost::system::error_code ec = wec;
    if (!ec) {
      auto [rec, read] = co_await http::async_read(conn->stream, conn->buffer, parser, kTuple);
      ec = rec;
    }
    if (ec) {
      const bool stale =
          reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::broken_pipe || ec == asio::error::eof);
      if (stale) continue;
      result.timed_out = ec == beast::error::timeout;
      result.error = (result.timed_out ? "no answer within the timeout from " : "exchange with ") +
                     key + (result.timed_out ? "" : ": " + ec.message());
      co_return result;
    }
    auto& response = parser.get();
    result.status = static_cast<int>(response.result_int());
    if (response.keep_alive()) {
      conn->stream.expires_never();
      pool_->Give(key, std::move(conn));
    }
    co_return result;
  }
  result.error = "the connection to " + key + " closed twice";
  co_return result;
}

}  // namespace gw::webhook
