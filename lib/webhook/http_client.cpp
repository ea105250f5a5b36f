#include "webhook/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <map>
#include <mutex>
#include <optional>

#include "common/version.hpp"

namespace gw::webhook {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Deadline = std::chrono::steady_clock::time_point;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxIdlePerHost = 8;
constexpr std::size_t kResponseBodyLimit = 64 * 1024;  // the body is not used; bound it anyway

/// One keep-alive connection: plain TCP, or TLS over TCP (never both).
struct Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

using Request = http::request<http::string_body>;
using Parser = http::response_parser<http::string_body>;

template <class Stream>
asio::awaitable<boost::system::error_code> Exchange(Stream& stream, beast::flat_buffer& buffer,
                                                    Request& request, Parser& parser) {
  auto [wec, written] = co_await http::async_write(stream, request, kTuple);
  if (wec) co_return wec;
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  co_return rec;
}

/// The client context: TLS 1.2+, the peer's chain verified against OpenSSL's default store (the
/// system's, or SSL_CERT_FILE / SSL_CERT_DIR when set). nullopt with `error` when it cannot be
/// built (then every https delivery fails with that error).
std::optional<ssl::context> ClientContext(std::string& error) {
  try {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
  } catch (const boost::system::system_error& e) {
    error = std::string("the TLS client context cannot be set up: ") + e.what();
    return std::nullopt;
  }
}

/// Sets SNI (names only: RFC 6066 has no literal addresses) and the name or address the
/// certificate must carry, checked by OpenSSL during the handshake.
bool ExpectPeer(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 && SSL_set1_host(ssl, host.c_str()) == 1;
}

/// Why the handshake failed, in words: OpenSSL's verification result when the certificate was
/// refused ("hostname mismatch", "self-signed certificate in certificate chain", ...).
std::string HandshakeError(SSL* ssl, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

struct Resolution {
  explicit Resolution(const asio::any_io_executor& executor) : resolver(executor), wake(executor) {}
  tcp::resolver resolver;
  asio::steady_timer wake;
  bool done = false;
  boost::system::error_code ec;
  tcp::resolver::results_type results;
};

/// Resolves `host` by `deadline`. getaddrinfo runs on Asio's resolver thread and cannot be
/// interrupted once started, so the caller does not wait for it: on timeout the lookup is
/// cancelled (abandoned if already running) and its late answer dropped. The state is shared
/// with the completion handler, which may outlive this call. nullopt: timed out.
asio::awaitable<std::optional<std::shared_ptr<Resolution>>> Resolve(std::string host,
                                                                    std::uint16_t port,
                                                                    Deadline deadline) {
  auto executor = co_await asio::this_coro::executor;
  auto r = std::make_shared<Resolution>(executor);
  r->wake.expires_at(deadline);
  r->resolver.async_resolve(host, std::to_string(port),
                            [r](boost::system::error_code ec, tcp::resolver::results_type res) {
                              r->done = true;
                              r->ec = ec;
                              r->results = std::move(res);
                              r->wake.cancel();
                            });
  co_await r->wake.async_wait(kTuple);
  if (!r->done) {
    r->resolver.cancel();
    co_return std::nullopt;
  }
  co_return r;
}

}  // namespace

struct HttpSender::Pool {
  mutable std::mutex mutex;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  std::optional<ssl::context> tls;
  std::string tls_error;

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
    : pool_(std::make_unique<Pool>()), allow_(std::move(allow)), timeout_(timeout) {
  pool_->tls = ClientContext(pool_->tls_error);
}

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
  const bool https = url.scheme == "https";
  if (https && !pool_->tls) {
    result.error = pool_->tls_error;
    co_return result;
  }
  // One deadline over the whole request: resolve, connect, handshake, write and read.
  const Deadline deadline = std::chrono::steady_clock::now() + timeout_;
  auto executor = co_await asio::this_coro::executor;
  Request request{http::verb::post, url.target, 11};
  const std::uint16_t default_port = https ? 443 : 80;
  request.set(http::field::host, url.port == default_port ? url.host : url.HostPort());
  request.set(http::field::user_agent, "ef45-gatewayd/" + std::string(Version()));
  request.set(http::field::content_type, "application/json");
  request.keep_alive(true);
  for (auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();

  const std::string key = url.scheme + "://" + url.HostPort();
  const std::string where = url.HostPort();
  // A pooled connection may have been closed by the receiver meanwhile: one retry on a new one,
  // only when nothing came back on the reused one (the request may not have been seen at all).
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = attempt == 0 ? pool_->Take(key) : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto resolved = co_await Resolve(url.host, url.port, deadline);
      if (!resolved) {
        result.timed_out = true;
        result.error = "cannot resolve " + url.host + " within the timeout";
        co_return result;
      }
      const auto& r = **resolved;
      if (r.ec) {
        result.error = "cannot resolve " + url.host + ": " + r.ec.message();
        co_return result;
      }
      std::vector<tcp::endpoint> allowed;
      const bool by_name = allow_.AllowsName(url.host);
      for (const auto& entry : r.results) {
        if (by_name || allow_.AllowsAddress(entry.endpoint().address())) {
          allowed.push_back(entry.endpoint());
        }
      }
      if (allowed.empty()) {
        result.error = url.host + " resolves to no address webhooks.allow permits";
        co_return result;
      }
      beast::tcp_stream stream(executor);
      stream.expires_at(deadline);
      auto [cec, ep] = co_await stream.async_connect(allowed, kTuple);
      if (cec) {
        result.timed_out = cec == beast::error::timeout;
        result.error = "connect to " + where + ": " + cec.message();
        co_return result;
      }
      conn = std::make_unique<Connection>();
      if (!https) {
        conn->plain.emplace(std::move(stream));
      } else {
        conn->tls.emplace(std::move(stream), *pool_->tls);
        if (!ExpectPeer(conn->tls->native_handle(), url.host)) {
          result.error = "TLS set-up for " + url.host + " failed";
          co_return result;
        }
        auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kTuple);
        if (hec) {
          result.timed_out = hec == beast::error::timeout;
          result.error = "TLS handshake with " + where + ": " +
                         (result.timed_out ? "no answer within the timeout"
                                           : HandshakeError(conn->tls->native_handle(), hec));
          co_return result;
        }
      }
    }
    conn->tcp().expires_at(deadline);
    Parser parser;
    parser.body_limit(kResponseBodyLimit);
    const auto ec = conn->tls ? co_await Exchange(*conn->tls, conn->buffer, request, parser)
                              : co_await Exchange(*conn->plain, conn->buffer, request, parser);
    if (ec) {
      const bool stale =
          reused && (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::broken_pipe || ec == asio::error::eof ||
                     ec == ssl::error::stream_truncated);
      if (stale) continue;
      result.timed_out = ec == beast::error::timeout;
      result.error = (result.timed_out ? "no answer within the timeout from " : "exchange with ") +
                     where + (result.timed_out ? "" : ": " + ec.message());
      co_return result;
    }
    auto& response = parser.get();
    result.status = static_cast<int>(response.result_int());
    if (response.keep_alive()) {
      conn->tcp().expires_never();
      pool_->Give(key, std::move(conn));
    }
    co_return result;
  }
  result.error = "the connection to " + where + " closed twice";
  co_return result;
}

}  // namespace gw::webhook
