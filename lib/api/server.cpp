// The only translation unit of lib/api that instantiates Beast's HTTP machinery.
#include "api/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <list>
#include <mutex>
#include <optional>

#include "api/problem.hpp"
#include "common/log.hpp"

namespace gw::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::any_io_executor ex, ServerOptions opts, const Router& r, RequestObserver obs)
      : executor(std::move(ex)),
        options(std::move(opts)),
        router(r),
        observer(std::move(obs)),
        acceptor(executor) {}

  asio::any_io_executor executor;
  ServerOptions options;
  const Router& router;
  RequestObserver observer;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;  // set at Start when a certificate is configured
  std::atomic<int> active{0};
  std::atomic<bool> stopping{false};
  std::mutex sockets_mutex;
  std::list<beast::tcp_stream*> streams;  // open connections, closed on Stop()
};

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <class Stream>
class BeastStreamWriter final : public StreamWriter {
 public:
  BeastStreamWriter(Stream& stream, std::chrono::milliseconds timeout)
      : stream_(stream), timeout_(timeout) {}

  asio::awaitable<boost::system::error_code> Write(std::string data) override {
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(data), kTuple);
    (void)n;
    // The write deadline passed: the consumer does not read (StreamWriter's contract).
    if (ec == beast::error::timeout) co_return asio::error::timed_out;
    co_return ec;
  }

 private:
  Stream& stream_;
  std::chrono::milliseconds timeout_;
};

Request ToRequest(const http::request<http::string_body>& req) {
  Request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.body = req.body();
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    out.authorization = std::string(it->value());
  }
  if (auto it = req.find("Last-Event-ID"); it != req.end()) {
    out.last_event_id = std::string(it->value());
  }
  if (auto it = req.find(http::field::content_type); it != req.end()) {
    out.content_type = std::string(it->value());
  }
  auto url = boost::urls::parse_origin_form(out.target);
  if (!url) {
    out.path = out.target;
    return out;
  }
  out.path = url->path();
  for (auto param : url->params()) {
    out.query.emplace(param.key, param.value);
  }
  return out;
}

http::response<http::string_body> ToBeast(const Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "ef45-gatewayd");
  if (!r.body.empty() || r.status != 204) res.set(http::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

/// Keeps a connection in the server's list (Stop closes them) and counts it.
struct Registration {
  Registration(std::shared_ptr<Server::Impl> i, beast::tcp_stream& stream) : impl(std::move(i)) {
    std::lock_guard lock(impl->sockets_mutex);
    self = impl->streams.insert(impl->streams.end(), &stream);
  }
  ~Registration() {
    std::lock_guard lock(impl->sockets_mutex);
    impl->streams.erase(self);
    --impl->active;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  std::shared_ptr<Server::Impl> impl;
  std::list<beast::tcp_stream*>::iterator self;
};

/// Answers requests on one connection (plain or TLS) until it closes, times out or the server
/// stops.
template <class Stream>
asio::awaitable<void> Serve(std::shared_ptr<Server::Impl> impl, Stream& stream) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  const ServerOptions& opts = impl->options;
  beast::flat_buffer buffer;
  if (impl->active > opts.max_connections) {
    auto res = ToBeast(Problem(503, "too-many-connections", "Too many connections",
                               "the gateway is at its connection limit; retry later"),
                       11, false);
    tcp_layer.expires_after(opts.write_timeout);
    co_await http::async_write(stream, res, kTuple);
    co_return;
  }
  while (!impl->stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    parser.body_limit(opts.body_limit);
    tcp_layer.expires_after(opts.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (!ec && !parser.is_done()) {
      tcp_layer.expires_after(opts.read_timeout);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      int status = ec == http::error::body_limit ? 413 : 431;
      auto res = ToBeast(Problem(status, status == 413 ? "payload-too-large" : "headers-too-large",
                                 status == 413 ? "Payload too large" : "Headers too large",
                                 "the request exceeds the gateway's limit"),
                         11, false);
      tcp_layer.expires_after(opts.write_timeout);
      co_await http::async_write(stream, res, kTuple);
      break;
    }
    if (ec) break;  // closed, timed out or not HTTP: nothing to answer
    auto start = std::chrono::steady_clock::now();
    const auto& beast_req = parser.get();
    Request request = ToRequest(beast_req);
    std::string route_template;
    Response response;
    try {
      response = co_await impl->router.Dispatch(request, route_template);
    } catch (const std::exception& e) {
      GW_LOG(kError, "api") << request.method << " " << route_template
                            << ": handler failed: " << e.what();
      response = Problem(500, "internal", "Internal error", "the request could not be handled");
    }
    const bool keep_alive = beast_req.keep_alive() && !impl->stopping;
    if (response.stream) {
      http::response<http::empty_body> head{static_cast<http::status>(response.status),
                                            beast_req.version()};
      head.set(http::field::server, "ef45-gatewayd");
      head.set(http::field::content_type, response.content_type);
      head.set(http::field::cache_control, "no-cache");
      for (const auto& [name, value] : response.headers) head.set(name, value);
      head.keep_alive(false);
      http::response_serializer<http::empty_body> sr{head};
      tcp_layer.expires_after(opts.write_timeout);
      auto [wec, wn] = co_await http::async_write_header(stream, sr, kTuple);
      (void)wn;
      if (impl->observer) {
        impl->observer(route_template, request.method, response.status,
                       std::chrono::steady_clock::now() - start);
      }
      if (!wec) {
        BeastStreamWriter<Stream> writer(stream, opts.write_timeout);
        co_await response.stream(writer);
      }
      break;
    }
    auto res = ToBeast(response, beast_req.version(), keep_alive);
    tcp_layer.expires_after(opts.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kTuple);
    (void)wn;
    if (impl->observer) {
      impl->observer(route_template, request.method, response.status,
                     std::chrono::steady_clock::now() - start);
    }
    if (wec || !keep_alive) break;
  }
}

asio::awaitable<void> Session(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Registration registration(impl, stream);
  co_await Serve(impl, stream);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> TlsSession(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
  TlsStream stream(std::move(socket), *impl->tls);
  Registration registration(impl, beast::get_lowest_layer(stream));
  beast::get_lowest_layer(stream).expires_after(impl->options.read_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;  // not TLS, or a client that gave up: nothing to answer
  co_await Serve(impl, stream);
  beast::get_lowest_layer(stream).expires_after(impl->options.write_timeout);
  co_await stream.async_shutdown(kTuple);
}

asio::awaitable<void> Accept(std::shared_ptr<Server::Impl> impl) {
  while (!impl->stopping) {
    auto [ec, socket] =
        co_await impl->acceptor.async_accept(asio::make_strand(impl->executor), kTuple);
    if (ec) {
      if (impl->stopping || ec == asio::error::operation_aborted) break;
      GW_LOG(kWarn, "api") << "accept failed: " << ec.message();
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    ++impl->active;
    auto strand = socket.get_executor();
    auto session =
        impl->tls ? TlsSession(impl, std::move(socket)) : Session(impl, std::move(socket));
    asio::co_spawn(strand, std::move(session), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        GW_LOG(kError, "api") << "connection failed: " << ex.what();
      }
    });
  }
}

}  // namespace

Server::Server(asio::any_io_executor executor, ServerOptions options, const Router& router,
               RequestObserver observer)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), router,
                                   std::move(observer))) {}

Server::~Server() { Stop(); }

void Server::Start() {
  const auto& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    asio::ssl::context tls(asio::ssl::context::tls_server);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
    boost::system::error_code ec;
    tls.use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec) throw std::runtime_error("TLS certificate " + o.tls_cert_file + ": " + ec.message());
    tls.use_private_key_file(o.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("TLS key " + o.tls_key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(tls.native_handle()) != 1) {
      throw std::runtime_error("TLS key " + o.tls_key_file + " does not match the certificate");
    }
    impl_->tls.emplace(std::move(tls));
  }
  auto address = asio::ip::make_address(impl_->options.host);
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->executor, Accept(impl_), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      GW_LOG(kError, "api") << "acceptor stopped: " << ex.what();
    }
  });
}

void Server::Stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::lock_guard lock(impl_->sockets_mutex);
  for (auto* stream : impl_->streams) {
    asio::post(stream->get_executor(), [impl = impl_, stream] {
      std::lock_guard inner(impl->sockets_mutex);
      // The session may have ended meanwhile; only touch streams still registered.
      for (auto* s : impl->streams) {
        if (s == stream) {
          s->cancel();
          boost::system::error_code ignored;
          s->socket().close(ignored);
        }
      }
    });
  }
}

std::uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

int Server::connections() const { return impl_->active; }

}  // namespace gw::api
