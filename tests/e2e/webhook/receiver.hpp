#pragma once
// A webhook receiver for the tests: an HTTP/1.1 server on 127.0.0.1 that records every request
// and checks its Standard Webhooks signature with its own HMAC (OpenSSL, not lib/webhook).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gw::test {

struct Received {
  std::string path;
  std::string id;         ///< webhook-id
  std::string timestamp;  ///< webhook-timestamp
  std::string signature;  ///< webhook-signature
  std::string body;
  int answered = 0;          ///< the status this receiver answered (0: hung up, no answer)
  int valid_signatures = 0;  ///< how many of the header's signatures verify with a known secret
  std::vector<std::string> verified_by;  ///< which secrets verified (in header order)
};

/// How to answer the next request to a path: a status, after a delay, or no answer at all.
struct Answer {
  int status = 200;
  std::chrono::milliseconds delay{0};
  bool hang_up = false;  ///< close the connection without answering
};

/// A certificate and its key (PEM files) for an https receiver.
struct TlsFiles {
  std::string cert;
  std::string key;
};

class Receiver {
 public:
  Receiver();
  /// An https receiver: TLS with this certificate on every connection (a client that refuses the
  /// certificate never gets to send a request, so nothing is recorded).
  explicit Receiver(TlsFiles tls);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::uint16_t port() const { return port_; }
  /// http(s)://<host>:<port><path>; `host` 127.0.0.1 unless given (e.g. "localhost" for a
  /// certificate issued to that name).
  std::string Url(const std::string& path, const std::string& host = "127.0.0.1") const;
  /// TLS handshakes that completed / failed (the client refused the certificate).
  int handshakes_ok() const;
  int handshakes_failed() const;

  /// Secrets a path's signatures are checked against.
  void AddSecret(const std::string& path, const std::string& secret);
  /// Answers decided per request (called under the receiver's lock). Default: 200 at once.
  void SetPolicy(std::function<Answer(const Received&)> policy);
  /// Down: the listening socket is closed (connections are refused). Up: listening again on the
  /// same port.
  void Down();
  void Up();

  std::vector<Received> All() const;
  std::vector<Received> For(const std::string& path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

/// Standard Webhooks signature, computed independently: v1,base64(HMAC-SHA256(key, msg)).
std::string ReferenceSignature(const std::string& secret, const std::string& id,
                               const std::string& timestamp, const std::string& body);

}  // namespace gw::test
