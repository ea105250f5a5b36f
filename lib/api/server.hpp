#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/router.hpp"

namespace gw::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;        ///< 0 = ephemeral (tests); see Server::port()
  int max_connections = 256;        ///< over the cap a connection gets 503 and is closed
  int max_connections_per_ip = 64;  ///< over it a client's new connection gets 429, closed
  std::size_t header_limit = 16 * 1024;
  /// Bodies are limited per route (RouteOptions::body_limit), checked once the headers are in
  /// and the caller is authenticated: nothing of a body is read before.
  std::chrono::milliseconds idle_timeout{30000};   ///< keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{10000};   ///< reading one request once it started
  std::chrono::milliseconds write_timeout{10000};  ///< one response write / one stream chunk
  /// HTTPS when both are set (PEM files, read at Start): TLS 1.2 or newer only.
  std::string tls_cert_file;
  std::string tls_key_file;
};

/// Called once per finished request (for metrics): the route template, the method, the status
/// and the handling time. Runs on the connection's strand; must not block.
using RequestObserver =
    std::function<void(const std::string& route_template, const std::string& method, int status,
                       std::chrono::duration<double> elapsed)>;

/// The HTTP/1.1 server of the façade: keep-alive, header/body limits, deadlines, a connection
/// cap overall and per client address, one strand per connection. Handlers come from the
/// Router: Router::Admit runs on the headers, then the body is read within the route's limit,
/// then Router::Handle. Every response carries an `X-Request-Id`.
class Server {
 public:
  Server(boost::asio::any_io_executor executor, ServerOptions options, const Router& router,
         RequestObserver observer = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and starts accepting. Throws std::runtime_error when it cannot bind or load the TLS
  /// certificate or key (the message says which).
  void Start();
  /// Stops accepting and closes open connections (streams end).
  void Stop();
  std::uint16_t port() const;
  int connections() const;

  struct Impl;  ///< defined in server.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace gw::api
