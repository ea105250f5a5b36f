// sse_subscribers: N concurrent subscribers of GET /api/v1/events/stream, and the delay from
// each event's PostgreSQL commit to its arrival at every subscriber (issue 6). Not a test.
//
// One thread, non-blocking sockets and epoll, so the client costs little next to the gateway
// on a 2-core machine. Each subscriber records (seq, arrival time) per event; afterwards the
// commit time of every seq comes from PostgreSQL (`pg_xact_commit_timestamp(xmin)`, needs
// `track_commit_timestamp = on`). Both clocks are this machine's CLOCK_REALTIME.
//
// Phases: connect every subscriber with ?after=AFTER; warm-up (events committed then are checked
// for loss and repeats but not timed); measurement window; then the newest committed seq is read
// and every subscriber must reach it within the drain deadline. A stream that ends is reopened
// with Last-Event-ID (counted as a reconnect), so delivery is checked end to end.
//
// Usage: sse_subscribers --port P --dsn DSN --after SEQ [--subscribers 100] [--warmup-s 5]
//          [--seconds 30] [--drain-s 20] [--host 127.0.0.1]
// EF45GW_BENCH_TOKEN in the environment adds "Authorization: Bearer <token>".
// Exit status: 0 when every subscriber got every committed event once and in order, 1 otherwise,
// 2 on bad usage or a setup failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

std::int64_t NowMicros() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string dsn;
  std::int64_t after = 0;
  int subscribers = 100;
  double warmup_s = 5;
  double seconds = 30;
  double drain_s = 20;
  std::string token;
};

struct Arrival {
  std::int64_t seq;
  std::int64_t at_us;
};

/// One SSE consumer: an HTTP/1.1 response parser (identity or chunked body) feeding an SSE
/// event splitter that only needs the `id:` field.
struct Subscriber {
  int index = 0;
  int fd = -1;
  bool headers_done = false;
  bool chunked = false;
  std::int64_t chunk_left = -1;  // bytes left in the current chunk; -1 = expecting a size line
  std::string raw;               // bytes not yet parsed as HTTP
  std::string sse;               // body bytes not yet split into events
  std::int64_t last_seq = 0;
  std::vector<Arrival> arrivals;
  int reconnects = 0;
  int out_of_order = 0;
  std::string failure;  // set when the stream cannot be (re)opened
  bool behind = false;  // had not reached the target seq at the drain deadline
};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Bench {
 public:
  explicit Bench(Options options) : opt_(std::move(options)) {}

  int Run();

 private:
  bool Connect(Subscriber& s);
  void Close(Subscriber& s);
  /// Reads what the socket has; false when the stream ended (EOF or error).
  bool Read(Subscriber& s, std::int64_t now_us);
  /// Consumes HTTP framing from s.raw into s.sse; false on a bad response.
  bool ParseHttp(Subscriber& s);
  void SplitEvents(Subscriber& s, std::int64_t now_us);
  std::int64_t NewestCommittedSeqBlocking();
  int Report(std::int64_t target, std::int64_t warm_end_us, std::int64_t measure_end_us);

  Options opt_;
  int epoll_fd_ = -1;
  std::vector<Subscriber> subs_;
};

bool Bench::Connect(Subscriber& s) {
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    s.failure = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(opt_.port));
  ::inet_pton(AF_INET, opt_.host.c_str(), &addr.sin_addr);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 &&
      errno != EINPROGRESS) {
    s.failure = std::string("connect: ") + std::strerror(errno);
    ::close(s.fd);
    s.fd = -1;
    return false;
  }
  // The request is tiny: it fits the socket buffer once the connection is up. Until then a
  // send fails with EAGAIN, so wait for writability first (bounded).
  pollfd pfd{s.fd, POLLOUT, 0};
  if (::poll(&pfd, 1, 5000) != 1) {
    s.failure = "connect: timed out";
    ::close(s.fd);
    s.fd = -1;
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    s.failure = std::string("connect: ") + std::strerror(err);
    ::close(s.fd);
    s.fd = -1;
    return false;
  }
  std::string req = "GET /api/v1/events/stream?after=" + std::to_string(opt_.after) +
                    " HTTP/1.1\r\nHost: " + opt_.host + ":" + std::to_string(opt_.port) +
                    "\r\nAccept: text/event-stream\r\n";
  if (s.last_seq > 0) req += "Last-Event-ID: " + std::to_string(s.last_seq) + "\r\n";
  if (!opt_.token.empty()) req += "Authorization: Bearer " + opt_.token + "\r\n";
  req += "\r\n";
  if (::send(s.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    s.failure = std::string("send: ") + std::strerror(errno);
    ::close(s.fd);
    s.fd = -1;
    return false;
  }
  s.headers_done = false;
  s.chunked = false;
  s.chunk_left = -1;
  s.raw.clear();
  s.sse.clear();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = static_cast<std::uint32_t>(s.index);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev);
  return true;
}

void Bench::Close(Subscriber& s) {
  if (s.fd < 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
  ::close(s.fd);
  s.fd = -1;
}

bool Bench::Read(Subscriber& s, std::int64_t now_us) {
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n > 0) {
      s.raw.append(buf, static_cast<std::size_t>(n));
      if (!ParseHttp(s)) return false;
      SplitEvents(s, now_us);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;  // EOF or error
  }
}

bool Bench::ParseHttp(Subscriber& s) {
  if (!s.headers_done) {
    auto end = s.raw.find("\r\n\r\n");
    if (end == std::string::npos) return s.raw.size() < 64 * 1024;
    std::string_view head(s.raw.data(), end);
    if (!StartsWith(head, "HTTP/1.1 200") && !StartsWith(head, "HTTP/1.0 200")) {
      s.failure = "stream refused: " + std::string(head.substr(0, head.find('\r')));
      return false;
    }
    s.chunked = Lower(head).find("transfer-encoding: chunked") != std::string::npos;
    s.headers_done = true;
    s.raw.erase(0, end + 4);
  }
  if (!s.chunked) {
    s.sse += s.raw;
    s.raw.clear();
    return true;
  }
  std::size_t pos = 0;
  while (pos < s.raw.size()) {
    if (s.chunk_left < 0) {
      auto eol = s.raw.find("\r\n", pos);
      if (eol == std::string::npos) break;
      std::int64_t size = 0;
      std::from_chars(s.raw.data() + pos, s.raw.data() + eol, size, 16);
      pos = eol + 2;
      if (size == 0) return false;  // last chunk: the stream ended
      s.chunk_left = size;
      continue;
    }
    auto take = std::min<std::size_t>(static_cast<std::size_t>(s.chunk_left), s.raw.size() - pos);
    s.sse.append(s.raw, pos, take);
    pos += take;
    s.chunk_left -= static_cast<std::int64_t>(take);
    if (s.chunk_left == 0) {
      if (s.raw.size() - pos < 2) break;  // wait for the CRLF after the chunk
      pos += 2;
      s.chunk_left = -1;
    }
  }
  s.raw.erase(0, pos);
  return true;
}

void Bench::SplitEvents(Subscriber& s, std::int64_t now_us) {
  std::size_t start = 0;
  while (true) {
    auto end = s.sse.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view block(s.sse.data() + start, end - start);
    start = end + 2;
    // Only the id matters here; comments (heartbeats) and `retry:` have none.
    std::size_t line_start = 0;
    while (line_start < block.size()) {
      auto eol = block.find('\n', line_start);
      if (eol == std::string_view::npos) eol = block.size();
      auto line = block.substr(line_start, eol - line_start);
      line_start = eol + 1;
      if (!StartsWith(line, "id:")) continue;
      auto value = line.substr(3);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      std::int64_t seq = 0;
      std::from_chars(value.data(), value.data() + value.size(), seq);
      if (seq <= s.last_seq) ++s.out_of_order;
      s.arrivals.push_back({seq, now_us});
      s.last_seq = std::max(s.last_seq, seq);
    }
  }
  s.sse.erase(0, start);
}

std::int64_t Bench::NewestCommittedSeqBlocking() {
  pqxx::connection c(opt_.dsn);
  pqxx::read_transaction tx(c);
  auto r = tx.exec1("SELECT coalesce(max(seq), 0) FROM events");
  return r[0].as<std::int64_t>();
}

double Percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

int Bench::Report(std::int64_t target, std::int64_t warm_end_us, std::int64_t measure_end_us) {
  // Commit time of every event still in the table (an event enriched later was re-sequenced:
  // its earlier seq is gone, and only its final seq is timed and required).
  std::unordered_map<std::int64_t, std::int64_t> commit_us;
  std::vector<std::int64_t> table_seqs;
  {
    pqxx::connection c(opt_.dsn);
    pqxx::read_transaction tx(c);
    auto on = tx.exec1("SHOW track_commit_timestamp")[0].as<std::string>();
    if (on != "on") {
      std::fprintf(stderr, "track_commit_timestamp is %s: no commit times\n", on.c_str());
      return 2;
    }
    auto rows = tx.exec_params(
        "SELECT seq, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6)::bigint "
        "FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        opt_.after, target);
    table_seqs.reserve(rows.size());
    for (const auto& r : rows) {
      auto seq = r[0].as<std::int64_t>();
      table_seqs.push_back(seq);
      if (!r[1].is_null()) commit_us.emplace(seq, r[1].as<std::int64_t>());
    }
  }
  std::int64_t in_window = 0;
  for (auto& [seq, t] : commit_us) {
    if (t >= warm_end_us && t < measure_end_us) ++in_window;
  }
  double window_s = static_cast<double>(measure_end_us - warm_end_us) / 1e6;

  std::vector<std::int64_t> all;
  // Delays by when the event was committed (5 s slices of the window): a delay that grows
  // through the window means the stream cannot keep up, a flat one is latency.
  constexpr std::int64_t kSliceUs = 5'000'000;
  std::vector<std::vector<std::int64_t>> slices(
      static_cast<std::size_t>((measure_end_us - warm_end_us + kSliceUs - 1) / kSliceUs));
  std::vector<double> sub_p99;
  std::int64_t min_delivered = -1, max_delivered = 0, negative = 0;
  int bad_subs = 0, behind_subs = 0, problem_lines = 0;
  std::int64_t undelivered_in_window = 0;
  std::string problems;
  for (auto& s : subs_) {
    std::vector<std::int64_t> mine;
    std::unordered_map<std::int64_t, int> seen;
    seen.reserve(s.arrivals.size());
    std::int64_t repeated = 0;
    for (const auto& a : s.arrivals) {
      if (a.seq > target) continue;
      if (++seen[a.seq] > 1) {
        ++repeated;
        continue;
      }
      auto it = commit_us.find(a.seq);
      if (it == commit_us.end()) continue;
      if (it->second < warm_end_us || it->second >= measure_end_us) continue;
      auto d = a.at_us - it->second;
      if (d < 0) ++negative;
      mine.push_back(d);
      slices[static_cast<std::size_t>((it->second - warm_end_us) / kSliceUs)].push_back(d);
    }
    // Missed = a gap below what the subscriber has reached (lost); beyond it the subscriber was
    // merely behind when the drain deadline passed.
    std::int64_t missed = 0, pending = 0;
    for (auto seq : table_seqs) {
      if (seen.count(seq)) continue;
      if (seq < s.last_seq) {
        ++missed;
      } else {
        ++pending;
        auto it = commit_us.find(seq);
        if (it != commit_us.end() && it->second >= warm_end_us && it->second < measure_end_us) {
          ++undelivered_in_window;
        }
      }
    }
    if (s.behind) ++behind_subs;
    auto delivered = static_cast<std::int64_t>(seen.size());
    min_delivered = min_delivered < 0 ? delivered : std::min(min_delivered, delivered);
    max_delivered = std::max(max_delivered, delivered);
    if (missed || repeated || s.out_of_order || !s.failure.empty() || s.behind) {
      bad_subs += (missed || repeated || s.out_of_order || !s.failure.empty()) ? 1 : 0;
      if (++problem_lines > 10) continue;
      problems += "  subscriber " + std::to_string(s.index) + ": missed " + std::to_string(missed) +
                  ", repeated " + std::to_string(repeated) + ", out of order " +
                  std::to_string(s.out_of_order) + ", not delivered by the deadline " +
                  std::to_string(pending) + (s.failure.empty() ? "" : ", " + s.failure) + "\n";
    }
    if (!mine.empty()) {
      auto copy = mine;
      sub_p99.push_back(Percentile(copy, 0.99));
    }
    all.insert(all.end(), mine.begin(), mine.end());
  }
  int reconnects = 0;
  for (const auto& s : subs_) reconnects += s.reconnects;
  auto [lo99, hi99] = std::minmax_element(sub_p99.begin(), sub_p99.end());
  auto timed = all.size();
  double p50 = Percentile(all, 0.50), p90 = Percentile(all, 0.90), p99 = Percentile(all, 0.99);
  double p999 = Percentile(all, 0.999);
  double mx =
      all.empty() ? 0 : static_cast<double>(*std::max_element(all.begin(), all.end())) / 1e3;

  std::printf("%-52s %14s\n", "SSE: commit -> delivered", "value");
  std::printf("%-52s %14d\n", "subscribers", opt_.subscribers);
  std::printf("%-52s %14.1f\n", "measurement window (s)", window_s);
  std::printf("%-52s %14lld\n", "events (seqs) committed in the window",
              static_cast<long long>(in_window));
  std::printf("%-52s %14.1f\n", "events committed/s in the window",
              static_cast<double>(in_window) / window_s);
  std::printf("%-52s %14zu\n", "delays timed (subscriber x event)", timed);
  std::printf("%-52s %14.1f\n", "delay p50 (ms)", p50);
  std::printf("%-52s %14.1f\n", "delay p90 (ms)", p90);
  std::printf("%-52s %14.1f\n", "delay p99 (ms)", p99);
  std::printf("%-52s %14.1f\n", "delay p99.9 (ms)", p999);
  std::printf("%-52s %14.1f\n", "delay max (ms)", mx);
  if (lo99 != sub_p99.end()) {
    std::printf("%-52s %6.1f..%6.1f\n", "per-subscriber p99 range (ms)", *lo99, *hi99);
  }
  std::printf("%-52s %14lld\n", "negative delays (clock or bug)", static_cast<long long>(negative));
  std::printf("%-52s %14zu\n", "events stored after --after, up to the last seq",
              table_seqs.size());
  std::printf("%-52s %6lld..%6lld\n", "events delivered per subscriber (min..max)",
              static_cast<long long>(min_delivered), static_cast<long long>(max_delivered));
  std::printf("%-52s %14d\n", "stream reconnects (Last-Event-ID)", reconnects);
  std::printf("%-52s %14d\n", "subscribers that missed/repeated/reordered", bad_subs);
  std::printf("%-52s %14d\n", "subscribers still behind at the drain deadline", behind_subs);
  if (!problems.empty()) std::printf("%s", problems.c_str());
  if (problem_lines > 10) std::printf("  ... and %d more\n", problem_lines - 10);
  if (undelivered_in_window > 0) {
    std::printf(
        "  NOTE: %lld deliveries of events committed in the window had not happened by the\n"
        "  deadline: the stream fell behind and the delays above are lower bounds\n",
        static_cast<long long>(undelivered_in_window));
  }
  for (std::size_t i = 0; i < slices.size(); ++i) {
    auto& v = slices[i];
    char label[96];
    std::snprintf(label, sizeof label, "  committed at +%zu..%zu s: p50 / p99 (ms)", i * 5,
                  i * 5 + 5);
    if (v.empty()) {
      std::printf("%-52s %15s\n", label, "none delivered");
      continue;
    }
    double a = Percentile(v, 0.5), b = Percentile(v, 0.99);
    std::printf("%-52s %6.1f / %6.1f\n", label, a, b);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf("%-52s %14.1f\n", "this client's CPU (s, whole run)", cpu_s);
  return bad_subs == 0 && behind_subs == 0 && timed > 0 ? 0 : 1;
}

int Bench::Run() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  subs_.resize(static_cast<std::size_t>(opt_.subscribers));
  for (int i = 0; i < opt_.subscribers; ++i) {
    auto& s = subs_[static_cast<std::size_t>(i)];
    s.index = i;
    s.last_seq = 0;
    if (!Connect(s)) {
      std::fprintf(stderr, "subscriber %d: %s\n", i, s.failure.c_str());
      return 2;
    }
  }
  const auto start_us = NowMicros();
  const auto warm_end_us = start_us + static_cast<std::int64_t>(opt_.warmup_s * 1e6);
  const auto measure_end_us = warm_end_us + static_cast<std::int64_t>(opt_.seconds * 1e6);
  std::int64_t target = -1;  // newest committed seq at the end of the window, once read
  std::int64_t drain_deadline_us = 0;
  std::vector<epoll_event> events(static_cast<std::size_t>(opt_.subscribers) + 1);
  while (true) {
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
    auto now_us = NowMicros();
    for (int i = 0; i < n; ++i) {
      auto& s = subs_[events[static_cast<std::size_t>(i)].data.u32];
      if (Read(s, now_us)) continue;
      Close(s);
      if (!s.failure.empty()) continue;
      // The gateway ended the stream (slow consumer, restart): resume where we were.
      ++s.reconnects;
      if (!Connect(s)) std::fprintf(stderr, "subscriber %d: %s\n", s.index, s.failure.c_str());
    }
    if (target < 0 && now_us >= measure_end_us) {
      try {
        target = NewestCommittedSeqBlocking();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "PostgreSQL: %s\n", e.what());
        return 2;
      }
      drain_deadline_us = NowMicros() + static_cast<std::int64_t>(opt_.drain_s * 1e6);
    }
    if (target >= 0) {
      bool all = std::all_of(subs_.begin(), subs_.end(), [&](const Subscriber& s) {
        return s.last_seq >= target || !s.failure.empty();
      });
      if (all || NowMicros() >= drain_deadline_us) break;
    }
  }
  for (auto& s : subs_) {
    s.behind = s.last_seq < target;
    Close(s);
  }
  ::close(epoll_fd_);
  try {
    return Report(target, warm_end_us, measure_end_us);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "PostgreSQL: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", argv[i]);
      std::exit(2);
    }
    return argv[++i];
  };
  try {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "--host") {
        opt.host = need(i);
      } else if (a == "--port") {
        opt.port = std::stoi(need(i));
      } else if (a == "--dsn") {
        opt.dsn = need(i);
      } else if (a == "--after") {
        opt.after = std::stoll(need(i));
      } else if (a == "--subscribers") {
        opt.subscribers = std::stoi(need(i));
      } else if (a == "--warmup-s") {
        opt.warmup_s = std::stod(need(i));
      } else if (a == "--seconds") {
        opt.seconds = std::stod(need(i));
      } else if (a == "--drain-s") {
        opt.drain_s = std::stod(need(i));
      } else {
        std::fprintf(stderr, "unknown option %s (see the comment at the top of the source)\n",
                     argv[i]);
        return 2;
      }
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "bad number in the arguments\n");
    return 2;
  }
  if (opt.port <= 0 || opt.dsn.empty() || opt.subscribers < 1 || opt.seconds <= 0) {
    std::fprintf(stderr, "usage: sse_subscribers --port P --dsn DSN --after SEQ [...]\n");
    return 2;
  }
  if (const char* t = std::getenv("EF45GW_BENCH_TOKEN"); t && *t) opt.token = t;
  return Bench(std::move(opt)).Run();
}
