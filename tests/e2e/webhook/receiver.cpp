#include "receiver.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <sstream>
#include <thread>

namespace gw::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

std::string B64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string UnB64(const std::string& text) {
  std::string out(text.size(), '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
  if (len < 0) return {};
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(len) - pad);
  return out;
}

}  // namespace

std::string ReferenceSignature(const std::string& secret, const std::string& id,
                               const std::string& timestamp, const std::string& body) {
  const std::string key = UnB64(secret.substr(6));  // after "whsec_"
  const std::string message = id + "." + timestamp + "." + body;
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return "v1," + B64(mac, len);
}

struct Receiver::Impl {
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread accept_thread;
  std::vector<std::thread> connections;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  mutable std::mutex mutex;
  std::map<std::string, std::vector<std::string>> secrets;
  std::function<Answer(const Received&)> policy;
  std::vector<Received> received;
  std::atomic<bool> stopping{false};
  std::uint16_t port = 0;
  std::unique_ptr<ssl::context> tls;
  std::atomic<int> handshakes_ok{0};
  std::atomic<int> handshakes_failed{0};

  void Listen() {
    acceptor = std::make_unique<tcp::acceptor>(io);
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor->open(ep.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(ep);
    acceptor->listen();
    port = acceptor->local_endpoint().port();
    accept_thread = std::thread([this, a = acceptor.get()] {
      while (true) {
        auto socket = std::make_shared<tcp::socket>(io);
        boost::system::error_code ec;
        a->accept(*socket, ec);
        if (ec) return;
        std::lock_guard lock(mutex);
        sockets.push_back(socket);
        connections.emplace_back([this, socket] { Serve(socket); });
      }
    });
  }

  void StopListening() {
    if (!acceptor) return;
    boost::system::error_code ec;
    // shutdown() wakes a thread blocked in accept() (close() alone does not on Linux).
    ::shutdown(acceptor->native_handle(), SHUT_RDWR);
    if (accept_thread.joinable()) accept_thread.join();
    acceptor->close(ec);
    acceptor.reset();
    // Open connections go too: a receiver that is down answers nothing. shutdown() wakes their
    // threads; each closes its own socket.
    std::lock_guard lock(mutex);
    for (auto& s : sockets) s->shutdown(tcp::socket::shutdown_both, ec);
    sockets.clear();
  }

  void Serve(std::shared_ptr<tcp::socket> socket) {
    if (!tls) {
      Exchange(*socket, *socket);
      return;
    }
    ssl::stream<tcp::socket&> stream(*socket, *tls);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) {
      ++handshakes_failed;
      return;
    }
    ++handshakes_ok;
    Exchange(stream, *socket);
  }

  template <class Stream>
  void Exchange(Stream& stream, tcp::socket& socket) {
    beast::flat_buffer buffer;
    while (!stopping) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      Received r;
      r.path = std::string(request.target());
      r.id = std::string(request["webhook-id"]);
      r.timestamp = std::string(request["webhook-timestamp"]);
      r.signature = std::string(request["webhook-signature"]);
      r.body = request.body();
      Answer answer;
      {
        std::lock_guard lock(mutex);
        std::istringstream parts(r.signature);
        for (std::string part; parts >> part;) {
          for (const auto& secret : secrets[r.path]) {
            if (part == ReferenceSignature(secret, r.id, r.timestamp, r.body)) {
              ++r.valid_signatures;
              r.verified_by.push_back(secret);
            }
          }
        }
        if (policy) answer = policy(r);
        r.answered = answer.hang_up ? 0 : answer.status;
        received.push_back(r);
      }
      if (answer.delay.count() > 0) std::this_thread::sleep_for(answer.delay);
      if (answer.hang_up) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.status), 11};
      response.keep_alive(request.keep_alive());
      response.body() = "ok";
      response.prepare_payload();
      http::write(stream, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }
};

Receiver::Receiver() : impl_(std::make_unique<Impl>()) {
  impl_->Listen();
  port_ = impl_->port;
}

Receiver::Receiver(TlsFiles files) : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
  impl_->tls->use_certificate_chain_file(files.cert);
  impl_->tls->use_private_key_file(files.key, ssl::context::pem);
  impl_->Listen();
  port_ = impl_->port;
}

int Receiver::handshakes_ok() const { return impl_->handshakes_ok; }
int Receiver::handshakes_failed() const { return impl_->handshakes_failed; }

Receiver::~Receiver() {
  impl_->stopping = true;
  impl_->StopListening();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    threads.swap(impl_->connections);
  }
  for (auto& t : threads) t.join();
}

std::string Receiver::Url(const std::string& path, const std::string& host) const {
  return std::string(impl_->tls ? "https://" : "http://") + host + ":" + std::to_string(port_) +
         path;
}

void Receiver::AddSecret(const std::string& path, const std::string& secret) {
  std::lock_guard lock(impl_->mutex);
  impl_->secrets[path].push_back(secret);
}

void Receiver::SetPolicy(std::function<Answer(const Received&)> policy) {
  std::lock_guard lock(impl_->mutex);
  impl_->policy = std::move(policy);
}

void Receiver::Down() { impl_->StopListening(); }

void Receiver::Up() { impl_->Listen(); }

std::vector<Received> Receiver::All() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::vector<Received> Receiver::For(const std::string& path) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<Received> out;
  for (const auto& r : impl_->received) {
    if (r.path == path) out.push_back(r);
  }
  return out;
}

}  // namespace gw::test
