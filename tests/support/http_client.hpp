#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gw::test {

struct HttpResult {
  int status = 0;                              ///< 0 when the exchange failed (see error)
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::string body;
  std::string error;  ///< empty on success
};

/// A small blocking HTTP/1.1 client for tests: one keep-alive connection, a deadline per call.
/// Not for production code (the gateway's reader client lives in lib/ef45).
class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpResult Get(const std::string& target) { return Request("GET", target); }

  /// Sends a request and returns the raw bytes received until the peer closes or `max_bytes`
  /// arrive or the deadline passes (for streamed responses such as SSE).
  std::string RequestRaw(const std::string& method, const std::string& target,
                         std::size_t max_bytes,
                         const std::vector<std::pair<std::string, std::string>>& headers = {});

  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// One-shot helpers (new connection each time).
HttpResult HttpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {},
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace gw::test
