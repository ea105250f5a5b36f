// The transport and the session lock. The HTTP/1.1 exchange is written here on a plain socket
// (issue 18): one send, reads straight into a per-reader buffer, Beast's basic_parser for the
// reply without keeping its header fields, and one deadline per exchange watched by a process-wide
// sweeper instead of a timer armed and cancelled around every read and write. client_ops.cpp
// holds the typed operations.

#include "ef45/client.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

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

bool IsSuccess(int status) { return status >= 200 && status < 300; }

// What a read asks the kernel for at least (most replies are a few hundred bytes), and at most.
constexpr std::size_t kReadChunk = 2048;
constexpr std::size_t kReadChunkMax = 64 * 1024;
// The request buffer is kept between exchanges up to this size (an upload's is not).
constexpr std::size_t kKeepBuffer = 16 * 1024;
// A body up to this size goes out in the same buffer as the head (one copy, one send); a larger
// one (an upload) is sent from where it is.
constexpr std::size_t kInlineBody = 16 * 1024;

/// A reply: the status, the body, the Date header. Header fields are looked at as they go by and
/// not kept (Beast's response_parser allocates each one).
class ReplyReader final : public http::basic_parser<false> {
 public:
  int status = 0;
  std::string body;
  std::optional<std::chrono::system_clock::time_point> date;

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    status = code;
  }
  void on_field_impl(http::field name, beast::string_view, beast::string_view value,
                     beast::error_code&) override {
    if (name == http::field::date) date = ParseHttpDate(std::string_view(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    // Room for the JSON parser's padding, so the body is never copied after the read. (The
    // body limit was checked against the length before this is called.)
    if (length) body.reserve(static_cast<std::size_t>(*length) + kJsonPadding);
  }
  std::size_t on_body_impl(beast::string_view data, beast::error_code&) override {
    body.append(data.data(), data.size());
    return data.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view data,
                                 beast::error_code&) override {
    body.append(data.data(), data.size());
    return data.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

/// One entry per client: the deadline of its exchange in flight (0 = none) and which exchange.
struct DeadlineEntry {
  std::atomic<std::int64_t> due{0};  // steady clock, nanoseconds since its epoch
  std::atomic<std::uint64_t> exchange{0};
  std::uint64_t posted = 0;  // the exchange a timeout was last posted for (sweeper's own)
  std::function<void(std::uint64_t exchange)> expire;  // posts to the client's executor
};

/// The process-wide sweeper: a thread that looks at the clients' deadlines every tick while any
/// exchange is in flight and posts "time is up" to the client's executor. A reader's exchange
/// costs two atomic stores instead of a timer armed and cancelled per read and write. Being a
/// thread, not a timer, it never keeps an io_context running. A timeout fires up to one tick
/// late.
class DeadlineSweeper {
 public:
  static constexpr auto kTick = std::chrono::milliseconds(50);

  static DeadlineSweeper& Get() {
    // Never destroyed: clients may be torn down during static destruction.
    static auto* sweeper = new DeadlineSweeper();
    return *sweeper;
  }

  void Add(DeadlineEntry* entry) {
    std::lock_guard lock(mutex_);
    entries_.push_back(entry);
    if (!thread_started_) {
      thread_started_ = true;
      std::thread([this] { Run(); }).detach();
    }
  }
  void Remove(DeadlineEntry* entry) {
    std::lock_guard lock(mutex_);
    std::erase(entries_, entry);
  }
  /// After an entry's deadline was set: wakes the sweeper if it sleeps.
  void Started() {
    if (!sleeping_.load()) return;
    std::lock_guard lock(mutex_);
    sleeping_.store(false);
    wake_.notify_one();
  }

 private:
  DeadlineSweeper() = default;

  // Under mutex_: posts the expired, tells whether any exchange is in flight.
  bool Sweep() {
    const std::int64_t now = Clock::now().time_since_epoch().count();
    bool busy = false;
    for (DeadlineEntry* entry : entries_) {
      const std::int64_t due = entry->due.load();
      if (due == 0) continue;
      busy = true;
      const std::uint64_t exchange = entry->exchange.load();
      if (due <= now && entry->posted != exchange) {
        entry->posted = exchange;
        entry->expire(exchange);
      }
    }
    return busy;
  }

  void Run() {
    std::unique_lock lock(mutex_);
    while (true) {
      if (Sweep()) {
        wake_.wait_for(lock, kTick);
        continue;
      }
      // Nothing in flight: sleep until an exchange starts. The flag is set before looking once
      // more, so an exchange that started meanwhile is either seen here or wakes us.
      sleeping_.store(true);
      if (Sweep()) {
        sleeping_.store(false);
        continue;
      }
      wake_.wait(lock, [this] { return !sleeping_.load(); });
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<DeadlineEntry*> entries_;
  std::atomic<bool> sleeping_{false};
  bool thread_started_ = false;
};

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(asio::any_io_executor ex, ClientOptions opts)
      : executor(ex), options(std::move(opts)), socket(ex) {
    out.reserve(256);
  }
  ~Impl() {
    if (registered) DeadlineSweeper::Get().Remove(&deadline);
  }

  /// Joins the sweeper (after construction: the entry posts through a weak pointer to this).
  void Register() {
    deadline.expire = [weak = weak_from_this(), ex = executor](std::uint64_t exchange) {
      asio::post(ex, [weak, exchange] {
        if (auto self = weak.lock()) self->Expire(exchange);
      });
    };
    DeadlineSweeper::Get().Add(&deadline);
    registered = true;
  }

  asio::any_io_executor executor;
  ClientOptions options;
  tcp::socket socket;
  std::unique_ptr<tcp::resolver> resolver;  // only for a reader named by host name
  beast::flat_buffer buffer;                // reply bytes read but not parsed yet
  std::string out;                          // the request being sent: head (and a small body)
  bool connected = false;
  bool retired = false;      // Retire(): every later call fails kCancelled
  bool taking_lock = false;  // a POST/PUT /lock is on the wire: Close() must not cut it
  bool close_after_turn = false;
  std::string lock_uid;
  LockHolder holder = LockHolder::kUnknown;
  std::optional<ReplyClock> last_clock;

  // The deadline of the exchange in flight, watched by the sweeper.
  DeadlineEntry deadline;
  bool registered = false;
  std::uint64_t exchange_id = 0;
  bool timed_out = false;

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
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    buffer.clear();
    buffer.shrink_to_fit();
    connected = false;
  }

  // ---- the exchange's deadline ----
  void Arm(Clock::time_point due) {
    timed_out = false;
    deadline.exchange.store(++exchange_id);
    deadline.due.store(std::max<std::int64_t>(1, due.time_since_epoch().count()));
    DeadlineSweeper::Get().Started();
  }
  void Disarm() { deadline.due.store(0); }
  /// On the client's executor, from the sweeper: the exchange `id` is past its deadline.
  void Expire(std::uint64_t id) {
    if (id != exchange_id || deadline.due.load() == 0) return;  // that exchange is over
    timed_out = true;
    beast::error_code ignored;
    socket.cancel(ignored);
    if (resolver) resolver->cancel();
  }
  /// The outcome of an awaited step: the deadline wins over whatever the step returned.
  beast::error_code Checked(const beast::error_code& ec) const {
    return timed_out ? beast::error_code(beast::error::timeout) : ec;
  }

  /// True if the reader already closed our idle connection (or sent something unasked), so
  /// that a request is not written into a dead socket. One non-blocking recv (MSG_DONTWAIT):
  /// toggling the socket's non-blocking mode around it cost three more system calls a request.
  bool PeerClosed() {
    char byte = 0;
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }

  Error TransportError(const Operation& op, const beast::error_code& ec) {
    Error error = MakeError(Classify(ec), std::string(op.name) + ": " + ec.message());
    error.cause = ec;
    return error;
  }

  asio::awaitable<beast::error_code> Connect() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options.host, ec);
    if (!ec) {
      auto [connect_ec] =
          co_await socket.async_connect(tcp::endpoint(address, options.port), kNoThrow);
      co_return Checked(connect_ec);
    }
    // A host name: the sweeper cancels the resolve at the exchange's deadline too (a hanging DNS
    // server must not hold the reader's poller forever).
    if (!resolver) resolver = std::make_unique<tcp::resolver>(executor);
    auto [resolve_ec, results] =
        co_await resolver->async_resolve(options.host, std::to_string(options.port), kNoThrow);
    if (auto checked = Checked(resolve_ec)) co_return checked;
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket, results, kNoThrow);
    co_return Checked(connect_ec);
  }

  /// The request's head, and its body when small, in `out`.
  void Compose(const Operation& op, const std::string& target, const std::string& body,
               std::string_view content_type) {
    out.clear();
    out += op.method;
    out += ' ';
    out += target;
    out += " HTTP/1.1\r\nHost: ";
    out += options.host;
    out += "\r\nUser-Agent: ef45-gateway\r\n";
    if (!content_type.empty()) {
      out += "Content-Type: ";
      out += content_type;
      out += "\r\nContent-Length: ";
      out += std::to_string(body.size());
      out += "\r\n";
    } else if (op.method == "POST" || op.method == "PUT") {
      out += "Content-Length: 0\r\n";
    }
    out += "\r\n";
    if (!content_type.empty() && body.size() <= kInlineBody) out += body;
    // A large upload (a user's biometrics) does not stay allocated for the next poll.
    if (out.capacity() > kKeepBuffer && out.size() <= kKeepBuffer) out.shrink_to_fit();
  }

  /// Sends what of `out` (and `body` when it was not inlined) the socket takes at once, which
  /// is all of it for every poll. Returns the bytes sent, or the error.
  std::size_t SendNow(const std::string& body, bool body_inlined, beast::error_code& ec) {
    iovec parts[2] = {{out.data(), out.size()},
                      {const_cast<char*>(body.data()), body_inlined ? 0 : body.size()}};
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = body_inlined || body.empty() ? 1 : 2;
    const auto sent = ::sendmsg(socket.native_handle(), &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = beast::error_code(errno, asio::error::get_system_category());
    }
    return 0;
  }
  /// What SendNow left (a large upload, or a full socket buffer), for the reactor.
  std::array<asio::const_buffer, 2> Rest(const std::string& body, bool body_inlined,
                                         std::size_t done) const {
    std::array<asio::const_buffer, 2> rest;
    if (done < out.size()) {
      rest[0] = asio::buffer(out.data() + done, out.size() - done);
      done = 0;
    } else {
      done -= out.size();
    }
    if (!body_inlined && body.size() > done) {
      rest[1] = asio::buffer(body.data() + done, body.size() - done);
    }
    return rest;
  }

  /// Feeds the buffered bytes to `reader`. Returns true when the reader has a whole reply or an
  /// error, false when it needs more bytes.
  bool Parse(ReplyReader& reader, beast::error_code& ec) {
    while (buffer.size() > 0) {
      const auto used = reader.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        return false;
      }
      if (ec || reader.is_done()) return true;
      if (used == 0) return false;
    }
    return false;
  }
  /// How much to ask the kernel for next.
  static std::size_t ReadSize(const ReplyReader& reader) {
    if (reader.is_header_done()) {
      if (auto remaining = reader.content_length_remaining()) {
        return std::clamp<std::size_t>(static_cast<std::size_t>(*remaining), kReadChunk,
                                       kReadChunkMax);
      }
    }
    return kReadChunk;
  }
  /// The error of a connection that ended (EOF) before the reply was whole, or none when the
  /// reply was one that ends with the connection.
  static beast::error_code AtEof(ReplyReader& reader) {
    if (reader.got_some() && reader.need_eof()) {
      beast::error_code ec;
      reader.put_eof(ec);
      return ec;
    }
    return reader.got_some() ? beast::error_code(http::error::partial_message)
                             : beast::error_code(http::error::end_of_stream);
  }

  /// One HTTP exchange on the keep-alive connection, under one deadline.
  asio::awaitable<Reply<HttpReply>> Exchange(const Operation& op, const std::string& target,
                                             const std::string& body,
                                             std::string_view content_type) {
    const auto start = Clock::now();
    auto report = [&](int status, const beast::error_code& ec) {
      if (options.on_exchange) options.on_exchange(op, status, ec, Clock::now() - start);
    };
    Compose(op, target, body, content_type);
    const bool body_inlined = content_type.empty() || body.size() <= kInlineBody;
    Arm(start + options.request_timeout);
    struct DisarmAtExit {
      Impl& impl;
      ~DisarmAtExit() { impl.Disarm(); }
    } disarm{*this};

    const bool idempotent = op.method == "GET" || op.method == "DELETE";
    for (int attempt = 0;; ++attempt) {
      // A connection the reader closed while idle (its idle timeout): looked for before a
      // request that must not be sent twice; a GET or DELETE that meets it is sent again below.
      if (connected && !idempotent && PeerClosed()) Disconnect();
      const bool reused = connected;
      if (!connected) {
        if (auto ec = co_await Connect()) {
          Disconnect();
          report(0, ec);
          co_return TransportError(op, ec);
        }
        connected = true;
        // One request in flight, written at once: no reason to let Nagle hold a segment back.
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
      }
      beast::error_code write_ec;
      const std::size_t total = out.size() + (body_inlined ? 0 : body.size());
      if (const auto sent = SendNow(body, body_inlined, write_ec); !write_ec && sent < total) {
        auto [ec, written] =
            co_await asio::async_write(socket, Rest(body, body_inlined, sent), kNoThrow);
        write_ec = Checked(ec);
      }
      if (write_ec) {
        Disconnect();
        if (reused && attempt == 0 && write_ec != beast::error::timeout) continue;
        report(0, write_ec);
        co_return TransportError(op, write_ec);
      }

      // A 1xx interim reply (100 Continue) is not the answer: read the next one.
      std::optional<ReplyReader> reader;
      reader.emplace();
      bool got_any = false;
      beast::error_code read_ec;
      for (int interim = 0;; ++interim) {
        reader->body_limit(Limit(op.body_class));
        reader->eager(true);
        got_any = got_any || buffer.size() > 0;
        while (!Parse(*reader, read_ec)) {
          auto [ec, n] =
              co_await socket.async_read_some(buffer.prepare(ReadSize(*reader)), kNoThrow);
          buffer.commit(n);
          got_any = got_any || n > 0;
          if (auto checked = Checked(ec)) {
            read_ec = checked == asio::error::eof ? AtEof(*reader) : checked;
            break;
          }
        }
        if (read_ec || reader->status < 100 || reader->status >= 200 || reader->status == 101 ||
            interim == 4) {
          break;
        }
        reader.emplace();
      }
      if (read_ec) {
        Disconnect();
        // A reused connection that ends before any reply byte was most likely closed by the
        // reader while idle. Resend once on a fresh connection, but only idempotent methods
        // (RFC 9110 9.2.2): a POST might have been handled and is reported as kClosed.
        const bool dropped =
            read_ec == http::error::end_of_stream || read_ec == asio::error::connection_reset;
        if (reused && attempt == 0 && !got_any && dropped && op.method != "POST") {
          continue;
        }
        report(0, read_ec);
        co_return TransportError(op, read_ec);
      }
      // Bytes after the reply were never asked for (one request in flight): whatever they are,
      // they must not be taken for the next reply.
      if (!reader->keep_alive() || buffer.size() > 0) Disconnect();
      // The reply is in `body` now: the read buffer is kept between exchanges only at its
      // least size (2 KB). Kept as a match-data reply grew it, it was ~9.5 KB per reader at
      // 1,000 readers; released every time, it was a 2 KB malloc per request (issue 18).
      buffer.clear();
      if (buffer.capacity() > kReadChunk) buffer.shrink_to_fit();
      if (reader->date) last_clock = ReplyClock{*reader->date, std::chrono::system_clock::now()};
      const int status = reader->status;
      report(status, {});
      co_return HttpReply{status, std::move(reader->body)};
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
    // One allocation: this runs for every request.
    std::string target;
    target.reserve(4 + request.path.size() + 11 + lock_uid.size() + 1 + request.query.size());
    target += "/1.0";
    target += request.path;
    char separator = '?';
    if (op.needs_lock) {
      target += "?lock_uid=";
      target += lock_uid;
      separator = '&';
    }
    if (!request.query.empty()) {
      target += separator;
      target += request.query;
    }
    return target;
  }
};

Client::Client(boost::asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {
  impl_->Register();
}

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

Client::Async<Client::HttpReply> Client::RetryWithNewLock(const Operation& op,
                                                          const Request& request) {
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
  auto reply = co_await impl_->Exchange(op, Impl::Target(op, request, impl_->lock_uid),
                                        request.body, request.content_type);
  if (!reply) co_return reply.error();
  if (reply->status == 501) {
    impl_->lock_uid.clear();
    impl_->holder = LockHolder::kUnknown;
    co_return MakeError(Errc::kLockLost,
                        std::string(op.name) + ": no handler (501) even with a fresh lock", 501);
  }
  co_return std::move(*reply);
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
  // (In a coroutine of its own: its locals would make this frame, allocated for every request,
  // too large for Asio's frame recycling.)
  if (op.needs_lock && reply->status == 501) reply = co_await RetryWithNewLock(op, request);
  if (!reply) co_return reply.error();
  if (!IsSuccess(reply->status)) {
    co_return MakeError(Errc::kHttpStatus,
                        std::string(op.name) + ": HTTP " + std::to_string(reply->status),
                        reply->status);
  }
  co_return std::move(*reply);
}

}  // namespace gw::ef45
