// The Beast transport and the session lock. All Beast instantiations of gw::ef45 live in this
// translation unit (they are slow to compile); client_ops.cpp holds the typed operations.

#include "ef45/client.hpp"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <deque>
#include <memory>
#include <utility>

#include "common/time.hpp"
#include "ef45/encode.hpp"

namespace gw::ef45 {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

http::verb Verb(std::string_view method) {
  if (method == "GET") return http::verb::get;
  if (method == "POST") return http::verb::post;
  if (method == "PUT") return http::verb::put;
  return http::verb::delete_;
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

}  // namespace

struct Client::Impl {
  Impl(asio::any_io_executor ex, ClientOptions opts)
      : executor(ex), options(std::move(opts)), stream(ex), resolver(ex) {
    request.version(11);
    request.set(http::field::host, options.host);
    request.set(http::field::user_agent, "ef45-gateway");
  }

  asio::any_io_executor executor;
  ClientOptions options;
  beast::tcp_stream stream;
  tcp::resolver resolver;
  beast::flat_buffer buffer;
  // The request being sent, reused: its fixed fields (Host, User-Agent) are not allocated again
  // for every poll. Only Exchange touches it, under the turn.
  http::request<http::string_body> request;
  bool connected = false;
  bool retired = false;      // Retire(): every later call fails kCancelled
  bool taking_lock = false;  // a POST/PUT /lock is on the wire: Close() must not cut it
  bool close_after_turn = false;
  std::string lock_uid;
  LockHolder holder = LockHolder::kUnknown;
  std::optional<ReplyClock> last_clock;

  // One request in flight: a FIFO of parked callers, each woken by cancelling its timer.
  bool busy = false;
  std::deque<asio::steady_timer*> waiters;

  asio::awaitable<void> EnterTurn() {
    while (busy) {
      asio::steady_timer timer(executor, Clock::time_point::max());
      waiters.push_back(&timer);
      co_await timer.async_wait(kNoThrow);
    }
    busy = true;
  }
  void LeaveTurn() {
    busy = false;
    if (close_after_turn) {
      close_after_turn = false;
      Disconnect();
    }
    if (!waiters.empty()) {
      waiters.front()->cancel();
      waiters.pop_front();
    }
  }

  std::size_t Limit(BodyClass body_class) const {
    switch (body_class) {
      case BodyClass::kSmall: return options.small_body_limit;
      case BodyClass::kPage: return options.page_body_limit;
      case BodyClass::kBiometric: return options.biometric_body_limit;
    }
    return options.small_body_limit;
  }

  void Disconnect() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    buffer.clear();
    connected = false;
  }

  /// True if the reader already closed our idle connection (or sent something unasked), so
  /// that a request is not written into a dead socket. One non-blocking recv (MSG_DONTWAIT):
  /// toggling the socket's non-blocking mode around it cost three more system calls a request.
  bool PeerClosed() {
    char byte = 0;
    const auto n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  Error TransportError(const Operation& op, const beast::error_code& ec) {
    Error error = MakeError(Classify(ec), std::string(op.name) + ": " + ec.message());
    error.cause = ec;
    return error;
  }

  asio::awaitable<beast::error_code> Connect(Clock::time_point deadline) {
    beast::error_code ec;
    auto address = asio::ip::make_address(options.host, ec);
    stream.expires_at(deadline);
    if (!ec) {
      auto [connect_ec] =
          co_await stream.async_connect(tcp::endpoint(address, options.port), kNoThrow);
      co_return connect_ec;
    }
    // A host name: the resolver has no deadline of its own, so a timer cancels it at the
    // request's deadline (a hanging DNS server must not hold the reader's poller forever).
    asio::steady_timer resolve_limit(executor, deadline);
    // The flag is shared: a handler already queued when the resolve finished may run after
    // this frame is gone.
    auto resolve_expired = std::make_shared<bool>(false);
    resolve_limit.async_wait([this, resolve_expired](const beast::error_code& wait_ec) {
      if (wait_ec) return;  // cancelled: the resolve finished first
      *resolve_expired = true;
      resolver.cancel();
    });
    auto [resolve_ec, results] =
        co_await resolver.async_resolve(options.host, std::to_string(options.port), kNoThrow);
    resolve_limit.cancel();
    if (*resolve_expired) co_return beast::error::timeout;
    if (resolve_ec) co_return resolve_ec;
    stream.expires_at(deadline);
    auto [connect_ec, endpoint] = co_await stream.async_connect(results, kNoThrow);
    co_return connect_ec;
  }

  /// One HTTP exchange on the keep-alive connection, under one deadline.
  asio::awaitable<Reply<HttpReply>> Exchange(const Operation& op, const std::string& target,
                                             const std::string& body,
                                             std::string_view content_type) {
    const auto start = Clock::now();
    const auto deadline = start + options.request_timeout;
    auto report = [&](int status, const beast::error_code& ec) {
      if (options.on_exchange) options.on_exchange(op, status, ec, Clock::now() - start);
    };

    request.method(Verb(op.method));
    request.target(target);
    request.erase(http::field::content_length);  // set again below when this one has a body
    if (!content_type.empty()) {
      request.set(http::field::content_type, content_type);
      request.body() = body;
    } else {
      request.erase(http::field::content_type);
      request.body().clear();
      // A large upload (a user's biometrics) does not stay allocated for the next poll.
      if (request.body().capacity() > 4096) request.body().shrink_to_fit();
    }
    request.prepare_payload();

    for (int attempt = 0;; ++attempt) {
      if (connected && PeerClosed()) Disconnect();  // e.g. the reader's idle timeout
      const bool reused = connected;
      if (!connected) {
        if (auto ec = co_await Connect(deadline)) {
          Disconnect();
          report(0, ec);
          co_return TransportError(op, ec);
        }
        connected = true;
        // One request in flight, written at once: no reason to let Nagle hold a segment back.
        beast::error_code ignored;
        stream.socket().set_option(tcp::no_delay(true), ignored);
      }
      stream.expires_at(deadline);
      auto [write_ec, written] = co_await http::async_write(stream, request, kNoThrow);
      if (write_ec) {
        Disconnect();
        if (reused && attempt == 0 && write_ec != beast::error::timeout) continue;
        report(0, write_ec);
        co_return TransportError(op, write_ec);
      }

      http::response_parser<http::string_body> parser;
      parser.body_limit(Limit(op.body_class));
      auto [header_ec, header_bytes] =
          co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      if (header_ec) {
        Disconnect();
        // A reused connection that ends before any reply byte was most likely closed by the
        // reader while idle. Resend once on a fresh connection, but only idempotent methods
        // (RFC 9110 9.2.2): a POST might have been handled and is reported as kClosed.
        if (reused && attempt == 0 && header_ec == http::error::end_of_stream &&
            op.method != "POST") {
          continue;
        }
        report(0, header_ec);
        co_return TransportError(op, header_ec);
      }
      // Room for the JSON parser's padding, so the body is never copied after the read.
      if (auto length = parser.content_length(); length && *length <= Limit(op.body_class)) {
        parser.get().body().reserve(static_cast<std::size_t>(*length) + kJsonPadding);
      }
      auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, kNoThrow);
      if (read_ec) {
        Disconnect();
        report(0, read_ec);
        co_return TransportError(op, read_ec);
      }
      auto response = parser.release();
      if (!response.keep_alive()) Disconnect();
      if (auto date = response.find(http::field::date); date != response.end()) {
        if (auto t = ParseHttpDate(date->value())) {
          last_clock = ReplyClock{*t, std::chrono::system_clock::now()};
        }
      }
      const int status = static_cast<int>(response.result_int());
      report(status, {});
      co_return HttpReply{status, std::move(response.body())};
    }
  }

  /// Holds the client's turn for the duration of a call.
  class Turn {
   public:
    explicit Turn(Impl& impl) : impl_(impl) {}
    ~Turn() { impl_.LeaveTurn(); }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;

   private:
    Impl& impl_;
  };

  // Session: the caller holds the turn.
  asio::awaitable<Reply<void>> TakeLock(ResponseParser& parser, OpId id);
  asio::awaitable<Reply<void>> Acquire(ResponseParser& parser);
  asio::awaitable<Reply<void>> Release(const std::string& uid);

  static std::string Target(const Operation& op, const Request& request,
                            std::string_view lock_uid) {
    std::string target = "/1.0";
    target += request.path;
    bool first = true;
    auto add = [&](std::string_view part) {
      target += first ? '?' : '&';
      target += part;
      first = false;
    };
    if (op.needs_lock) {
      std::string lock = "lock_uid=";
      lock += lock_uid;
      add(lock);
    }
    if (!request.query.empty()) add(request.query);
    return target;
  }
};

Client::Client(boost::asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options))) {}

Client::~Client() = default;

const ClientOptions& Client::options() const { return impl_->options; }
const std::string& Client::lock_uid() const { return impl_->lock_uid; }
LockHolder Client::lock_holder() const { return impl_->holder; }

std::string_view LockHolderName(LockHolder holder) {
  switch (holder) {
    case LockHolder::kUnknown: return "unknown";
    case LockHolder::kUs: return "gateway";
    case LockHolder::kOtherClient: return "other_client";
    case LockHolder::kNobody: return "none";
  }
  return "unknown";
}
const std::optional<ReplyClock>& Client::last_reply_clock() const { return impl_->last_clock; }
void Client::Close() {
  if (impl_->taking_lock) {
    impl_->close_after_turn = true;
    return;
  }
  impl_->Disconnect();
}

Client::Async<std::string> Client::Retire() {
  impl_->retired = true;  // from here on no call takes the lock, whoever makes it
  co_await impl_->EnterTurn();
  Impl::Turn turn(*impl_);
  std::string uid = std::exchange(impl_->lock_uid, {});
  if (uid.empty()) {
    impl_->Disconnect();
    co_return uid;
  }
  impl_->holder = LockHolder::kNobody;
  auto released = co_await impl_->Release(uid);
  impl_->Disconnect();
  if (!released) co_return released.error();
  co_return uid;
}

namespace {

Error Retired(OpId id) {
  return MakeError(Errc::kCancelled, std::string(Op(id).name) +
                                         ": the client was retired (reader removed or handed "
                                         "over); the lock is not taken again");
}

}  // namespace

asio::awaitable<Reply<void>> Client::Impl::TakeLock(ResponseParser& parser, OpId id) {
  const Operation& op = Op(id);
  taking_lock = true;
  auto reply = co_await Exchange(op, "/1.0/lock", {}, {});
  taking_lock = false;
  if (!reply) co_return reply.error();
  if (reply->status == 409) {
    holder = LockHolder::kOtherClient;
    co_return MakeError(Errc::kLockConflict,
                        std::string(op.name) + ": the reader's lock is held by another client",
                        409);
  }
  if (!IsSuccess(reply->status)) {
    co_return MakeError(Errc::kHttpStatus,
                        std::string(op.name) + ": HTTP " + std::to_string(reply->status),
                        reply->status);
  }
  auto lock = parser.Parse<LockResponse>(op.name, reply->body);
  if (!lock) co_return lock.error();
  if (lock->lock_uid.empty() || !IsSafeQueryValue(lock->lock_uid)) {
    co_return MakeError(Errc::kBadResponse, std::string(op.name) + ": lock_uid: not a plain token",
                        reply->status);
  }
  if (options.on_lock_acquired) {
    auto recorded = co_await options.on_lock_acquired(lock->lock_uid);
    if (!recorded) {
      // A lock we could not record would look like another client's after a crash: give it
      // back rather than use it.
      co_await Release(lock->lock_uid);
      holder = LockHolder::kNobody;
      Error error = recorded.error();
      error.detail = std::string(op.name) + ": the new lock could not be recorded: " + error.detail;
      co_return error;
    }
  }
  lock_uid = std::move(lock->lock_uid);
  holder = LockHolder::kUs;
  co_return Reply<void>{};
}

asio::awaitable<Reply<void>> Client::Impl::Release(const std::string& uid) {
  const Operation& op = Op(OpId::kLockRelease);
  auto reply = co_await Exchange(op, "/1.0/lock/" + EncodePathSegment(uid), {}, {});
  if (!reply) co_return reply.error();
  if (!IsSuccess(reply->status)) {
    co_return MakeError(Errc::kHttpStatus,
                        std::string(op.name) + ": HTTP " + std::to_string(reply->status),
                        reply->status);
  }
  co_return Reply<void>{};
}

asio::awaitable<Reply<void>> Client::Impl::Acquire(ResponseParser& parser) {
  const auto give_up = Clock::now() + options.lock_wait;
  while (true) {
    if (retired) co_return Retired(OpId::kLockAcquire);
    auto taken = co_await TakeLock(parser, OpId::kLockAcquire);
    if (taken || taken.error().reason() != Errc::kLockConflict) co_return taken;
    if (options.lock_policy == LockPolicy::kSteal) {
      co_return co_await TakeLock(parser, OpId::kLockSteal);
    }
    if (Clock::now() + options.lock_retry_interval > give_up) co_return taken;
    asio::steady_timer timer(executor, options.lock_retry_interval);
    co_await timer.async_wait(kNoThrow);
  }
}

Client::Async<void> Client::Lock() {
  co_await impl_->EnterTurn();
  Impl::Turn turn(*impl_);
  if (impl_->retired) co_return Retired(OpId::kLockAcquire);
  if (!impl_->lock_uid.empty()) co_return Reply<void>{};
  co_return co_await impl_->Acquire(parser_);
}

Client::Async<void> Client::StealLock() {
  co_await impl_->EnterTurn();
  Impl::Turn turn(*impl_);
  if (impl_->retired) co_return Retired(OpId::kLockSteal);
  co_return co_await impl_->TakeLock(parser_, OpId::kLockSteal);
}

Client::Async<void> Client::Unlock() {
  co_await impl_->EnterTurn();
  Impl::Turn turn(*impl_);
  if (impl_->lock_uid.empty()) co_return Reply<void>{};
  std::string uid = std::exchange(impl_->lock_uid, {});
  impl_->holder = LockHolder::kNobody;
  co_return co_await impl_->Release(uid);
}

Client::Async<bool> Client::ResumeLock(std::string lock_uid) {
  co_await impl_->EnterTurn();
  Impl::Turn turn(*impl_);
  if (impl_->retired) co_return Retired(OpId::kGetDoorStatus);
  if (!impl_->lock_uid.empty() && impl_->lock_uid == lock_uid) co_return true;
  if (lock_uid.empty() || !IsSafeQueryValue(lock_uid)) co_return false;
  const Operation& op = Op(OpId::kGetDoorStatus);
  Request probe{OpId::kGetDoorStatus, "/config/door-status", {}, {}, {}, {}};
  auto reply = co_await impl_->Exchange(op, Impl::Target(op, probe, lock_uid), {}, {});
  if (!reply) co_return reply.error();
  if (IsSuccess(reply->status)) {
    impl_->lock_uid = std::move(lock_uid);
    impl_->holder = LockHolder::kUs;
    co_return true;
  }
  if (reply->status == 501) {  // no handler: that uid is not the reader's lock (API.md 1.2)
    impl_->holder = LockHolder::kUnknown;
    co_return false;
  }
  co_return MakeError(Errc::kHttpStatus,
                      std::string(op.name) + ": HTTP " + std::to_string(reply->status),
                      reply->status);
}

Client::Async<Client::HttpReply> Client::Call(Request request) {
  // Free (the usual case): take the turn without a coroutine frame for the wait.
  if (impl_->busy) {
    co_await impl_->EnterTurn();
  } else {
    impl_->busy = true;
  }
  Impl::Turn turn(*impl_);
  const Operation& op = Op(request.op);
  if (impl_->retired) co_return Retired(request.op);
  if (!request.invalid.empty()) {
    co_return MakeError(Errc::kBadRequest, std::string(op.name) + ": " + request.invalid);
  }
  if (op.needs_lock && impl_->lock_uid.empty()) {
    auto locked = co_await impl_->Acquire(parser_);
    if (!locked) co_return locked.error();
  }
  auto reply = co_await impl_->Exchange(op, Impl::Target(op, request, impl_->lock_uid),
                                        request.body, request.content_type);
  if (!reply) co_return reply.error();
  if (op.needs_lock && reply->status == 501) {
    // No handler: our lock_uid no longer works (stolen, reader rebooted). Re-acquire once.
    impl_->lock_uid.clear();
    impl_->holder = LockHolder::kUnknown;
    auto locked = co_await impl_->Acquire(parser_);
    if (!locked) {
      Error error = locked.error();
      error.detail = std::string(op.name) + ": lock lost, re-acquire failed: " + error.detail;
      if (error.reason() == Errc::kLockConflict) error.code = make_error_code(Errc::kLockLost);
      co_return error;
    }
    reply = co_await impl_->Exchange(op, Impl::Target(op, request, impl_->lock_uid), request.body,
                                     request.content_type);
    if (!reply) co_return reply.error();
    if (reply->status == 501) {
      impl_->lock_uid.clear();
      impl_->holder = LockHolder::kUnknown;
      co_return MakeError(Errc::kLockLost,
                          std::string(op.name) + ": no handler (501) even with a fresh lock", 501);
    }
  }
  if (!IsSuccess(reply->status)) {
    co_return MakeError(Errc::kHttpStatus,
                        std::string(op.name) + ": HTTP " + std::to_string(reply->status),
                        reply->status);
  }
  co_return std::move(*reply);
}

}  // namespace gw::ef45
