// The only translation unit of lib/api that instantiates Beast's HTTP machinery.
#include "api/server.hpp"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <tuple>

#include "api/problem.hpp"
#include "common/log.hpp"
#include "common/strand.hpp"
#include "common/task_failure.hpp"

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
        acceptor(executor) {
    std::random_device random;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%08x", random());
    request_prefix = prefix;
  }

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
  std::map<std::string, int> per_ip;      // open connections by client address (sockets_mutex)
  std::string request_prefix;             // random per process: request ids stay unique
  std::atomic<std::uint64_t> next_request{0};
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

/// The request as handlers see it, from its header only (the body is read after Admit).
Request ToRequest(const http::request_parser<http::string_body>& parser) {
  const auto& req = parser.get();
  Request out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
  if (auto it = req.find(http::field::origin); it != req.end()) {
    out.origin = std::string(it->value());
  }
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    out.authorization = std::string(it->value());
  }
  if (auto it = req.find("Last-Event-ID"); it != req.end()) {
    out.last_event_id = std::string(it->value());
  }
  if (auto it = req.find(http::field::content_type); it != req.end()) {
    out.content_type = std::string(it->value());
  }
  if (auto it = req.find(http::field::if_none_match); it != req.end()) {
    out.if_none_match = std::string(it->value());
  }
  ParseTarget(out);
  return out;
}

/// The head of `r` on `res`, and the keep-alive and length of its body (set before).
template <class Body>
void SetHead(http::response<Body>& res, const Response& r, bool keep_alive) {
  res.set(http::field::server, "ef45-gatewayd");
  const bool empty = r.shared_body ? r.shared_body->empty() : r.body.empty();
  if (!empty || (r.status != 204 && r.status != 304)) {
    res.set(http::field::content_type, r.content_type);
  }
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.keep_alive(keep_alive);
  if (r.status != 304) res.prepare_payload();  // a 304 has no body and no length of its own
}

/// Takes the body out of `r` (no copy).
http::response<http::string_body> ToBeast(Response& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.body() = std::move(r.body);
  SetHead(res, r, keep_alive);
  return res;
}

/// A response whose body is shared (Response::shared_body): Beast sends it in place; `r` keeps
/// it alive until the write is done.
http::response<http::span_body<const char>> ToBeastShared(const Response& r, unsigned version,
                                                          bool keep_alive) {
  http::response<http::span_body<const char>> res{static_cast<http::status>(r.status), version};
  res.body() = {r.shared_body->data(), r.shared_body->size()};
  SetHead(res, r, keep_alive);
  return res;
}

/// Keeps a connection in the server's list (Stop closes them) and counts it, overall and for
/// its client address.
struct Registration {
  Registration(std::shared_ptr<Server::Impl> i, beast::tcp_stream& stream) : impl(std::move(i)) {
    boost::system::error_code ec;
    auto remote = stream.socket().remote_endpoint(ec);
    address = ec ? std::string("unknown") : remote.address().to_string();
    std::lock_guard lock(impl->sockets_mutex);
    self = impl->streams.insert(impl->streams.end(), &stream);
    from_address = ++impl->per_ip[address];
  }
  ~Registration() {
    std::lock_guard lock(impl->sockets_mutex);
    impl->streams.erase(self);
    if (--impl->per_ip[address] <= 0) impl->per_ip.erase(address);
    --impl->active;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  std::shared_ptr<Server::Impl> impl;
  std::list<beast::tcp_stream*>::iterator self;
  std::string address;
  int from_address = 0;  // connections from this address, this one included
};

/// Answers requests on one connection (plain or TLS) until it closes, times out or the server
/// stops.
template <class Stream>
asio::awaitable<void> Refuse(Stream& stream, const ServerOptions& opts, Response response) {
  auto res = ToBeast(response, 11, false);
  beast::get_lowest_layer(stream).expires_after(opts.write_timeout);
  co_await http::async_write(stream, res, kTuple);
}

/// Refuses a connection over the server's limits (503 overall, 429 for its client address).
/// true: refused, the connection ends.
template <class Stream>
asio::awaitable<bool> RefuseOverLimits(const Server::Impl& impl, Stream& stream,
                                       const Registration& registration) {
  const ServerOptions& opts = impl.options;
  if (impl.active > opts.max_connections) {
    co_await Refuse(stream, opts,
                    Problem(503, "too-many-connections", "Too many connections",
                            "the gateway is at its connection limit; retry later"));
    co_return true;
  }
  if (registration.from_address > opts.max_connections_per_ip) {
    auto busy = Problem(429, "too-many-connections-from-client", "Too many connections",
                        "this client address has " + std::to_string(opts.max_connections_per_ip) +
                            " connections open already");
    busy.headers.emplace_back("Retry-After", "1");
    co_await Refuse(stream, opts, std::move(busy));
    co_return true;
  }
  co_return false;
}

Response BodyTooLarge(std::size_t limit) {
  return Problem(413, "payload-too-large", "Payload too large",
                 "this resource takes at most " + std::to_string(limit) + " bytes");
}

/// Reads the body of an admitted request into `request.body` under its route's limit. A
/// Content-Length over the limit turns the admission into a 413 without reading (the body stays
/// unread); a body that grows over it is answered 413 and ends the connection. false: the
/// connection ends (refused, closed or timed out).
template <class Stream>
asio::awaitable<bool> ReadAdmittedBody(Stream& stream, beast::flat_buffer& buffer,
                                       http::request_parser<http::string_body>& parser,
                                       const ServerOptions& opts, Router::Admission& admission,
                                       Request& request, bool& body_unread) {
  const std::size_t limit = admission.route->options.body_limit;
  if (parser.content_length().value_or(0) > limit) {
    admission.route = nullptr;
    admission.refusal = BodyTooLarge(limit);
    co_return true;
  }
  if (body_unread) {
    parser.body_limit(limit);
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    (void)n;
    if (ec == http::error::body_limit) {
      co_await Refuse(stream, opts, BodyTooLarge(limit));
      co_return false;
    }
    if (ec) co_return false;
    body_unread = false;
  }
  request.body = std::move(parser.get().body());
  co_return true;
}

/// Sends the head of a streamed response, then lets the route write the stream until it ends
/// (the connection is not kept alive). `observe` runs once the head is written (or failed).
template <class Stream, class Observe>
asio::awaitable<void> WriteStreamed(Stream& stream, const ServerOptions& opts, Response& response,
                                    unsigned version, const Observe& observe) {
  http::response<http::empty_body> head{static_cast<http::status>(response.status), version};
  head.set(http::field::server, "ef45-gatewayd");
  head.set(http::field::content_type, response.content_type);
  head.set(http::field::cache_control, "no-cache");
  for (const auto& [name, value] : response.headers) head.set(name, value);
  head.keep_alive(false);
  http::response_serializer<http::empty_body> sr{head};
  beast::get_lowest_layer(stream).expires_after(opts.write_timeout);
  auto [wec, wn] = co_await http::async_write_header(stream, sr, kTuple);
  (void)wn;
  observe();
  if (!wec) {
    BeastStreamWriter<Stream> writer(stream, opts.write_timeout);
    co_await response.stream(writer);
  }
}

/// Answers requests on one connection (plain or TLS) until it closes, times out or the server
/// stops.
template <class Stream>
asio::awaitable<void> Serve(std::shared_ptr<Server::Impl> impl, Stream& stream,
                            const Registration& registration) {
  auto& tcp_layer = beast::get_lowest_layer(stream);
  const ServerOptions& opts = impl->options;
  beast::flat_buffer buffer;
  if (co_await RefuseOverLimits(*impl, stream, registration)) co_return;
  while (!impl->stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
    // Until the route is known only the largest limit of any route applies (a Content-Length
    // above it is refused with the header); the route's own limit is set once it is known.
    parser.body_limit(impl->router.max_body_limit());
    tcp_layer.expires_after(opts.idle_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      const bool body = ec == http::error::body_limit;
      co_await Refuse(stream, opts,
                      Problem(body ? 413 : 431, body ? "payload-too-large" : "headers-too-large",
                              body ? "Payload too large" : "Headers too large",
                              "the request exceeds the gateway's limit"));
      break;
    }
    if (ec) break;  // closed, timed out or not HTTP: nothing to answer
    auto start = std::chrono::steady_clock::now();
    Request request = ToRequest(parser);
    request.remote_addr = registration.address;
    request.request_id = impl->request_prefix + "-" + std::to_string(++impl->next_request);
    std::string route_template;
    // Authenticated and checked on the headers alone: nothing of the body is read before.
    auto admission = impl->router.Admit(request, route_template);
    bool body_unread = !parser.is_done();
    if (admission.route &&
        !co_await ReadAdmittedBody(stream, buffer, parser, opts, admission, request, body_unread)) {
      break;
    }
    Response response = co_await impl->router.Handle(admission, request, route_template);
    response.headers.emplace_back("X-Request-Id", request.request_id);
    const auto& beast_req = parser.get();
    // A refused request's body was never read: the connection cannot carry another request.
    const bool keep_alive = beast_req.keep_alive() && !impl->stopping && !body_unread;
    auto observe = [&] {
      if (impl->observer) {
        impl->observer(route_template, request.method, response.status,
                       std::chrono::steady_clock::now() - start);
      }
    };
    if (response.stream) {
      co_await WriteStreamed(stream, opts, response, beast_req.version(), observe);
      break;
    }
    tcp_layer.expires_after(opts.write_timeout);
    boost::system::error_code wec;
    if (response.shared_body) {
      auto res = ToBeastShared(response, beast_req.version(), keep_alive);
      std::tie(wec, std::ignore) = co_await http::async_write(stream, res, kTuple);
    } else {
      auto res = ToBeast(response, beast_req.version(), keep_alive);
      std::tie(wec, std::ignore) = co_await http::async_write(stream, res, kTuple);
    }
    observe();
    if (wec || !keep_alive) break;
  }
}

asio::awaitable<void> Session(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Registration registration(impl, stream);
  co_await Serve(impl, stream, registration);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  // A refused request's body may still be arriving: closing with unread data would reset the
  // connection and could destroy the answer before the client reads it. Drain a little, briefly
  // (bounded: the body is still never read in full).
  std::array<char, 4096> sink{};
  std::size_t drained = 0;
  stream.expires_after(std::chrono::milliseconds(200));
  while (drained < kJsonBodyLimit) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    drained += n;
  }
}

asio::awaitable<void> TlsSession(std::shared_ptr<Server::Impl> impl, tcp::socket socket) {
  TlsStream stream(std::move(socket), *impl->tls);
  Registration registration(impl, beast::get_lowest_layer(stream));
  beast::get_lowest_layer(stream).expires_after(impl->options.read_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return;  // not TLS, or a client that gave up: nothing to answer
  co_await Serve(impl, stream, registration);
  beast::get_lowest_layer(stream).expires_after(impl->options.write_timeout);
  co_await stream.async_shutdown(kTuple);
}

asio::awaitable<void> Accept(std::shared_ptr<Server::Impl> impl) {
  while (!impl->stopping) {
    auto [ec, socket] = co_await impl->acceptor.async_accept(MakeStrand(impl->executor), kTuple);
    if (ec) {
      if (impl->stopping || ec == asio::error::operation_aborted) break;
      GW_LOG(kWarn, "api") << "accept failed: " << ec.message();
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    ++impl->active;
    auto strand = socket.get_executor();
    auto session =
        impl->tls ? TlsSession(impl, std::move(socket)) : Session(impl, std::move(socket));
    asio::co_spawn(strand, std::move(session), LogFailure("api", "api connection"));
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
  asio::co_spawn(impl_->executor, Accept(impl_), LogFailure("api", "api acceptor"));
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
