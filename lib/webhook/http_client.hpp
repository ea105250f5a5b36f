#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "webhook/target.hpp"

namespace gw::webhook {

/// The outcome of one POST.
struct PostResult {
  int status = 0;  ///< the HTTP status; 0 when there was no answer (see error)
  bool timed_out = false;
  std::string error;  ///< what went wrong without a status (connect refused, not allowed, ...)
};

/// Sends webhook requests: HTTP/1.1 POST over http or https, keep-alive connections pooled per
/// target scheme://host:port (shared by every subscription to that host), one deadline
/// (`timeout`) over name resolution, connect, TLS handshake, write and read, redirects never
/// followed (a 3xx is an answer like any other non-2xx). Every resolved address is checked
/// against the allow list before connecting, unless the host name itself is listed (a name that
/// resolves somewhere else later is refused then). https: TLS 1.2+, the certificate verified
/// against OpenSSL's default store (the system's; SSL_CERT_FILE / SSL_CERT_DIR override it) and
/// for the URL's host name (SNI) or address; a refused certificate is a PostResult::error that
/// says why.
///
/// The only Beast translation unit of lib/webhook. Thread-safe (the pool has a mutex); each Post
/// runs on the caller's executor.
class HttpSender {
 public:
  HttpSender(boost::asio::any_io_executor executor, AllowList allow,
             std::chrono::milliseconds timeout);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  boost::asio::awaitable<PostResult> Post(Url url,
                                          std::vector<std::pair<std::string, std::string>> headers,
                                          std::string body);

  /// Idle keep-alive connections now (tests, metrics).
  std::size_t idle() const;

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
  AllowList allow_;
  std::chrono::milliseconds timeout_;
};

}  // namespace gw::webhook
