#include "support/http_client.hpp"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>

namespace gw::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  boost::system::error_code Connect() {
    if (stream && stream->socket().is_open()) return {};
    stream = std::make_unique<beast::tcp_stream>(io);
    buffer.clear();
    boost::system::error_code ec;
    stream->expires_after(timeout);
    asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
    stream->async_connect(ep, [&](boost::system::error_code e) { ec = e; });
    io.restart();
    io.run();
    return ec;
  }
};

HttpClient::HttpClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

bool HttpClient::connected() const { return impl_->stream && impl_->stream->socket().is_open(); }

HttpResult HttpClient::Request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpResult result;
  if (auto ec = impl_->Connect()) {
    result.error = "connect: " + ec.message();
    return result;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  // Made-up methods (tests of the server's method handling) are sent as they are.
  if (req.method() == http::verb::unknown) req.method_string(method);
  req.set(http::field::host, impl_->host);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  boost::system::error_code ec;
  auto& stream = *impl_->stream;
  stream.expires_after(impl_->timeout);
  http::async_write(stream, req, [&](boost::system::error_code e, std::size_t) {
    ec = e;
    if (ec) return;
    http::async_read(stream, impl_->buffer, parser,
                     [&](boost::system::error_code e2, std::size_t) { ec = e2; });
  });
  impl_->io.restart();
  impl_->io.run();
  if (ec) {
    result.error = ec.message();
    result.body = parser.get().body();
    boost::system::error_code ignored;
    stream.socket().close(ignored);
    return result;
  }
  const auto& res = parser.get();
  result.status = res.result_int();
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value());
  }
  result.body = res.body();
  if (!res.keep_alive()) {
    boost::system::error_code ignored;
    stream.socket().close(ignored);
  }
  return result;
}

std::string HttpClient::RequestRaw(
    const std::string& method, const std::string& target, std::size_t max_bytes,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (impl_->Connect()) return {};
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + impl_->host + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  auto& stream = *impl_->stream;
  std::string received;
  std::array<char, 4096> chunk{};
  stream.expires_after(impl_->timeout);
  std::function<void(boost::system::error_code, std::size_t)> on_read =
      [&](boost::system::error_code ec, std::size_t n) {
        received.append(chunk.data(), n);
        if (ec || received.size() >= max_bytes) return;
        stream.async_read_some(asio::buffer(chunk), on_read);
      };
  asio::async_write(stream, asio::buffer(request), [&](boost::system::error_code ec, std::size_t) {
    if (!ec) stream.async_read_some(asio::buffer(chunk), on_read);
  });
  impl_->io.restart();
  impl_->io.run();
  boost::system::error_code ignored;
  stream.socket().close(ignored);
  return received;
}

HttpResult HttpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  HttpClient client("127.0.0.1", port);
  return client.Request(method, target, body, headers);
}

}  // namespace gw::test
