// The fleet's network side: one Beast HTTP/1.1 server per reader plus the control API, all on
// one io_context thread. This is the only translation unit of the simulator that instantiates
// Beast (it is the expensive one to compile).
#include "fleet.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <sstream>
#include <unordered_set>

#include "common/log.hpp"
#include "control.hpp"
#include "reader.hpp"

namespace ef45sim {
namespace {

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as Poco writes the Date header.
std::string HttpDate(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kControl = -1;  // the index Serve() uses for control connections
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr auto kHangPeerCheck = std::chrono::seconds(1);
constexpr char kServerHeader[] = "POCO/1.7 (ef45-sim)";

/// One open connection, registered with its reader so faults can wake or close it.
struct Connection {
  beast::tcp_stream* stream = nullptr;
  asio::steady_timer* wait = nullptr;
  bool hanging = false;
  bool closed = false;

  void Close() {
    closed = true;
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->socket().close(ignored);
    wait->cancel();
  }
};

/// True when the peer has closed (or reset) the connection; never blocks, consumes nothing.
bool PeerClosed(tcp::socket& socket) {
  char byte = 0;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Identity MakeIdentity(int index) {
  Identity id;
  id.index = index;
  char serial[32];
  std::snprintf(serial, sizeof serial, "OA1405A%06d", index);
  id.serial_number = serial;
  // 50:3f:98 is the vendor prefix in the API document's lock_uid examples.
  auto node = static_cast<std::uint32_t>(index + 1);
  id.mac = {0x50,
            0x3f,
            0x98,
            static_cast<std::uint8_t>(node >> 16),
            static_cast<std::uint8_t>(node >> 8),
            static_cast<std::uint8_t>(node)};
  return id;
}

/// The open connections of one listener. Shared with the sessions so that a session frame
/// destroyed after the fleet (io_context torn down without Stop()) still unregisters safely.
using ConnectionSet = std::shared_ptr<std::unordered_set<Connection*>>;

/// Logs (and counts) a failed long-lived coroutine instead of dropping the exception.
struct LogFailure {
  const char* what;
  std::uint64_t* failures;
  void operator()(const std::exception_ptr& e) const {
    if (!e) return;
    ++*failures;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      GW_LOG(kError, "ef45-sim") << what << " failed: " << ex.what();
    }
  }
};

}  // namespace

struct ReaderSlot {
  ReaderSlot(asio::io_context& io, int index, std::uint64_t seed, const ReaderOptions& options)
      : reader(MakeIdentity(index), seed, options),
        acceptor(io),
        fault_rng(SplitMix64(seed + 0xfa017ULL * (index + 1))),
        gen_rng(SplitMix64(seed + 0x6e4ULL * (index + 1))) {}

  Reader reader;
  tcp::acceptor acceptor;
  std::string address;
  std::uint16_t port = 0;
  std::uint64_t listen_epoch = 0;  ///< bumped when `down` closes the listener
  StandingFaults faults;
  bool installing = false;  ///< firmware install under way (issue 20): listener closed
  FaultCounters counters;
  std::mt19937_64 fault_rng;
  std::mt19937_64 gen_rng;
  ConnectionSet connections = std::make_shared<std::unordered_set<Connection*>>();
};

struct Fleet::Impl final : ControlTarget {
  Impl(asio::io_context& io_context, FleetOptions fleet_options)
      : io(io_context),
        options(std::move(fleet_options)),
        control_acceptor(io_context),
        tick_timer(io_context) {}

  asio::io_context& io;
  FleetOptions options;
  std::vector<std::unique_ptr<ReaderSlot>> readers;
  tcp::acceptor control_acceptor;
  std::uint16_t control_port = 0;
  ConnectionSet control_connections = std::make_shared<std::unordered_set<Connection*>>();
  asio::steady_timer tick_timer;
  bool started = false;
  bool stopping = false;
  bool paused = false;
  bool shutdown_requested = false;
  std::uint64_t coroutine_failures = 0;

  // --- ControlTarget ---
  int ReaderCount() const override { return static_cast<int>(readers.size()); }
  Reader& ReaderAt(int index) override { return readers[index]->reader; }
  std::uint16_t PortOf(int index) const override { return readers[index]->port; }
  const std::string& AddressOf(int index) const override { return readers[index]->address; }
  std::size_t ConnectionsOf(int index) const override {
    return readers[index]->connections->size();
  }
  const StandingFaults& FaultsOf(int index) const override { return readers[index]->faults; }
  const FaultCounters& CountersOf(int index) const override { return readers[index]->counters; }
  std::string SetFaults(int index, const StandingFaults& faults) override {
    ReaderSlot& slot = *readers[index];
    const bool was_down = slot.faults.down;
    slot.faults = faults;
    std::string error;
    if (faults.down && !was_down) {
      beast::error_code ignored;
      slot.acceptor.close(ignored);
      for (Connection* c : *slot.connections) c->Close();
      ++slot.listen_epoch;
    } else if (!faults.down && was_down && !stopping) {
      try {
        Bind(slot.acceptor, asio::ip::make_address(slot.address), slot.port,
             "reader " + std::to_string(index));
        Spawn(Accept(index), "reader accept loop");
      } catch (const boost::system::system_error& e) {
        slot.faults.down = true;  // still refusing: say so, and let the caller retry
        error = std::string("cannot re-open the listener: ") + e.what();
      }
    }
    if (!faults.hang) {
      for (Connection* c : *slot.connections) {
        if (c->hanging) c->wait->cancel();
      }
    }
    return error;
  }
  void RebootReader(int index) override {
    ReaderSlot& slot = *readers[index];
    slot.reader.Reboot();
    ++slot.counters.reboots;
    // Close() only cancels; the sessions unregister themselves later, so iterating is safe.
    for (Connection* c : *slot.connections) c->Close();
  }
  void SetGenerationPaused(bool value) override { paused = value; }
  bool GenerationPaused() const override { return paused; }
  void RequestShutdown() override { shutdown_requested = true; }

  // --- lifecycle ---
  void Bind(tcp::acceptor& acceptor, const asio::ip::address& address, std::uint16_t port,
            const std::string& what) {
    beast::error_code ec;
    tcp::endpoint endpoint(address, port);
    auto fail = [&](const char* step) {
      throw boost::system::system_error(
          ec, what + " " + address.to_string() + ":" + std::to_string(port) + " (" + step + ")");
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) fail("open");
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) fail("reuse_address");
    if (acceptor.bind(endpoint, ec); ec) fail("bind");
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) fail("listen");
  }

  void Start() {
    if (started) throw std::logic_error("Fleet::Start called twice");
    started = true;
    if (options.readers < 1 || options.readers > 65535) {
      throw std::invalid_argument("readers must be in [1, 65535]");
    }
    beast::error_code ec;
    const auto base_address = asio::ip::make_address(options.bind_address, ec);
    if (ec) throw std::invalid_argument("bad bind address \"" + options.bind_address + "\"");
    if (options.address_per_reader) {
      if (!base_address.is_v4()) throw std::invalid_argument("address_per_reader needs IPv4");
      if (base_address.to_v4().to_uint() + static_cast<std::uint64_t>(options.readers) - 1 >
          0xFFFFFFFFULL) {
        throw std::invalid_argument("bind address + readers - 1 is not an IPv4 address");
      }
    } else if (options.base_port != 0 && options.base_port + options.readers - 1 > 65535) {
      throw std::invalid_argument("base_port + readers - 1 exceeds 65535");
    }
    readers.reserve(static_cast<std::size_t>(options.readers));
    ReaderOptions reader_options;
    if (options.biometric_kb > 0) {
      reader_options.biometric_bytes = static_cast<std::size_t>(options.biometric_kb) * 1024;
    }
    for (int i = 0; i < options.readers; ++i) {
      auto slot = std::make_unique<ReaderSlot>(io, i, options.seed, reader_options);
      auto address = base_address;
      auto port = options.base_port;
      if (options.address_per_reader) {
        address = asio::ip::address_v4(base_address.to_v4().to_uint() + static_cast<unsigned>(i));
      } else if (port != 0) {
        port = static_cast<std::uint16_t>(port + i);
      }
      Bind(slot->acceptor, address, port, "reader " + std::to_string(i));
      slot->address = address.to_string();
      slot->port = slot->acceptor.local_endpoint().port();
      readers.push_back(std::move(slot));
    }
    Bind(control_acceptor, base_address, options.control_port, "control API");
    control_port = control_acceptor.local_endpoint().port();

    for (int i = 0; i < options.readers; ++i) Spawn(Accept(i), "reader accept loop");
    Spawn(Accept(kControl), "control accept loop");
    if (options.rate > 0 || options.door_rate > 0) Spawn(Generate(), "generation tick");
  }

  void StopNow() {
    if (stopping) return;
    stopping = true;
    beast::error_code ignored;
    control_acceptor.close(ignored);
    tick_timer.cancel();
    for (auto& slot : readers) {
      slot->acceptor.close(ignored);
      for (Connection* c : *slot->connections) c->Close();
    }
    for (Connection* c : *control_connections) c->Close();
    if (options.on_stopped) options.on_stopped();
  }

  template <class Awaitable>
  void Spawn(Awaitable&& awaitable, const char* what) {
    asio::co_spawn(io, std::forward<Awaitable>(awaitable), LogFailure{what, &coroutine_failures});
  }

  // --- serving ---
  asio::awaitable<void> Accept(int index) {
    tcp::acceptor& acceptor = index == kControl ? control_acceptor : readers[index]->acceptor;
    const std::uint64_t epoch = index == kControl ? 0 : readers[index]->listen_epoch;
    // A loop whose listener was closed by `down` ends even if a new one is open by now.
    auto superseded = [&] { return index != kControl && readers[index]->listen_epoch != epoch; };
    asio::steady_timer retry(io);
    while (!stopping) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (stopping || superseded() || !acceptor.is_open()) break;
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        GW_LOG(kWarn, "ef45-sim") << "accept failed: " << ec.message();
        retry.expires_after(kAcceptRetry);
        co_await retry.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      Spawn(Serve(index, std::move(socket)), "connection");
    }
  }

  /// Applies the reader's standing faults and answers one request. Returns false when the
  /// connection must close (fault, write error, shutdown).
  asio::awaitable<bool> AnswerReader(ReaderSlot& slot, Connection& conn, beast::tcp_stream& stream,
                                     http::request<http::string_body>& req) {
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    Request request{std::string(req.method_string()), std::string(req.target()),
                    std::move(req.body())};

    if (slot.faults.hang) {
      ++slot.counters.hung;
      conn.hanging = true;
      while (slot.faults.hang && !conn.closed && !stopping) {
        // Clearing `hang` cancels this wait. Meanwhile look for clients that gave up, so a
        // long hang with reconnecting clients does not pile up descriptors.
        conn.wait->expires_after(kHangPeerCheck);
        co_await conn.wait->async_wait(asio::as_tuple(asio::use_awaitable));
        if (!conn.closed && PeerClosed(stream.socket())) conn.Close();
      }
      conn.hanging = false;
      if (conn.closed || stopping) co_return false;
    }
    if (slot.faults.latency.count() > 0) {
      ++slot.counters.delayed;
      conn.wait->expires_after(slot.faults.latency);
      co_await conn.wait->async_wait(asio::as_tuple(asio::use_awaitable));
      if (conn.closed || stopping) co_return false;
    }

    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    auto draw = [&](double rate) { return rate > 0 && uniform(slot.fault_rng) < rate; };
    Response response;
    if (draw(slot.faults.error_rate)) {
      ++slot.counters.errors;
      response = Response{500, "", "", ""};
    } else {
      response = slot.reader.Handle(request);
      if (auto installing = slot.reader.TakePendingInstall()) {
        Spawn(Install(slot, std::move(*installing)), "firmware install");
      }
    }
    bool close_mid = draw(slot.faults.close_mid_response);
    if (!close_mid && response.content_type.find("json") != std::string::npos &&
        !response.body.empty() && draw(slot.faults.malformed_json)) {
      ++slot.counters.malformed_json;
      // Cut the document in half and add a control character and no closing bracket: no JSON
      // parser can accept the result, and Content-Length is computed from the corrupt body.
      response.body.resize(response.body.size() / 2);
      response.body += "\x01<corrupt";
    }

    http::response<http::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    if (!response.reason.empty()) res.reason(response.reason);
    res.set(http::field::server, kServerHeader);
    res.set(http::field::date, HttpDate(slot.reader.Now()));
    if (!response.content_type.empty()) {
      res.set(http::field::content_type, response.content_type);
      res.body() = std::move(response.body);
    }
    res.keep_alive(keep_alive);
    res.prepare_payload();

    if (close_mid) {
      ++slot.counters.closed_mid_response;
      std::ostringstream header;
      header << res.base();
      std::string raw = header.str();
      if (res.body().empty()) {
        raw.resize(raw.size() / 2);  // no body to cut: cut the header instead
      } else {
        raw.append(res.body(), 0, res.body().size() / 2);
      }
      stream.expires_after(kWriteTimeout);
      co_await asio::async_write(stream, asio::buffer(raw), asio::as_tuple(asio::use_awaitable));
      conn.Close();
      co_return false;
    }
    co_return co_await Write(stream, res);
  }

  asio::awaitable<bool> Write(beast::tcp_stream& stream, http::response<http::string_body>& res) {
    stream.expires_after(kWriteTimeout);
    auto [ec, bytes] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    stream.expires_never();
    co_return !ec && res.keep_alive();
  }

  static http::response<http::string_body> Plain(unsigned version, http::status status,
                                                 const Response& r) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::server, kServerHeader);
    if (!r.content_type.empty()) {
      res.set(http::field::content_type, r.content_type);
      res.body() = r.body;
    }
    res.keep_alive(false);
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> Serve(int index, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    asio::steady_timer wait(io);
    Connection conn{&stream, &wait};
    ConnectionSet registry = index == kControl ? control_connections : readers[index]->connections;
    registry->insert(&conn);
    struct Unregister {
      ConnectionSet set;
      Connection* c;
      ~Unregister() { set->erase(c); }
    } unregister{registry, &conn};

    beast::flat_buffer buffer;
    while (!conn.closed && !stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.body_limit_bytes);
      if (options.idle_timeout.count() > 0) {
        stream.expires_after(options.idle_timeout);
      } else {
        stream.expires_never();
      }
      auto [ec, bytes] =
          co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (ec == http::error::body_limit) {
        auto res = Plain(11, http::status::payload_too_large, {});
        co_await Write(stream, res);
        break;
      }
      if (ec || conn.closed || stopping) break;
      auto req = parser.release();
      if (index != kControl) {
        if (!co_await AnswerReader(*readers[index], conn, stream, req)) break;
        continue;
      }
      Request request{std::string(req.method_string()), std::string(req.target()),
                      std::move(req.body())};
      Response response = HandleControl(*this, request);
      auto res = Plain(req.version(), static_cast<http::status>(response.status), response);
      res.keep_alive(req.keep_alive());
      bool again = co_await Write(stream, res);
      if (shutdown_requested) {
        StopNow();
        break;
      }
      if (!again) break;
    }
    if (!conn.closed) {
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  // --- firmware install (issue 20) ---
  /// The reader answered "Upload success" to an image labelled `version`: once the answer is
  /// out it goes off the network for the install time, then comes back on `version`.
  asio::awaitable<void> Install(ReaderSlot& slot, std::string version) {
    asio::steady_timer timer(io);
    timer.expires_after(std::chrono::milliseconds(100));  // the reply goes out first
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping) co_return;
    slot.installing = true;
    beast::error_code ignored;
    slot.acceptor.close(ignored);
    for (Connection* c : *slot.connections) c->Close();
    ++slot.listen_epoch;
    timer.expires_after(options.install_time);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    slot.installing = false;
    if (stopping) co_return;
    slot.reader.FinishInstall(version);
    ++slot.counters.reboots;
    if (slot.faults.down) co_return;  // powered off meanwhile: `down` false re-opens it
    int index = 0;
    while (readers[index].get() != &slot) ++index;
    try {
      Bind(slot.acceptor, asio::ip::make_address(slot.address), slot.port,
           "reader " + std::to_string(index));
      Spawn(Accept(index), "reader accept loop");
    } catch (const boost::system::system_error& e) {
      GW_LOG(kError, "ef45-sim") << "reader " << index << " after its install: " << e.what();
    }
  }

  // --- generation ---
  asio::awaitable<void> Generate() {
    const double tick_s = std::chrono::duration<double>(options.tick).count();
    std::poisson_distribution<int> recognitions(options.rate * tick_s);
    std::poisson_distribution<int> door_changes(options.door_rate * tick_s);
    auto next = Clock::now();
    while (!stopping) {
      next += options.tick;
      // After a stall (debugger, overloaded host) do not replay the missed ticks in a burst.
      if (Clock::now() - next > std::chrono::seconds(1)) next = Clock::now();
      tick_timer.expires_at(next);
      co_await tick_timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping) break;
      if (paused) continue;
      for (auto& slot : readers) {
        if (options.rate > 0) {
          for (int n = recognitions(slot->gen_rng); n > 0; --n) slot->reader.GenerateRecognition();
        }
        if (options.door_rate > 0) {
          for (int n = door_changes(slot->gen_rng); n > 0; --n) slot->reader.GenerateDoorChange();
        }
      }
    }
  }
};

Fleet::Fleet(boost::asio::io_context& io, FleetOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}

Fleet::~Fleet() = default;

void Fleet::Start() { impl_->Start(); }

void Fleet::Stop() {
  asio::dispatch(impl_->io, [impl = impl_.get()] { impl->StopNow(); });
}

std::uint16_t Fleet::ReaderPort(int index) const { return impl_->readers.at(index)->port; }
std::uint16_t Fleet::ControlPort() const { return impl_->control_port; }
int Fleet::size() const { return impl_->options.readers; }

FleetEndpoints Fleet::Endpoints() const {
  FleetEndpoints e;
  e.control_port = impl_->control_port;
  for (auto& slot : impl_->readers) {
    e.reader_ports.push_back(slot->port);
    e.reader_addresses.push_back(slot->address);
  }
  return e;
}

}  // namespace ef45sim
