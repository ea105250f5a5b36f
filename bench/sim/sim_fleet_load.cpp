// sim_fleet_load: how much CPU does ef45-sim need to serve a 1,000-reader fleet polled at the
// gateway's default rates? Starts `ef45-sim --readers N` as a child (pinned to CPU 0 when there
// are two or more CPUs; this process then runs on CPU 1), takes every reader's lock, then polls
// each reader over one keep-alive connection: door-status every 1 s, match-data every 0.5 s
// (plus a DELETE per item, as the gateway does), logs/from/to every 2 s. Prints a table.
//
//   sim_fleet_load [--readers 1000] [--seconds 30] [--warmup 5] [--rate 1] [--sim PATH]
//                  [--no-pin] [--no-delete]
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  int readers = 1000;
  int seconds = 30;
  int warmup = 5;
  double rate = 1.0;
  std::string sim = EF45_SIM_BINARY;
  bool pin = true;
  bool delete_match = true;
};

enum Kind { kDoor = 0, kMatch, kLogs, kDelete, kKinds };
constexpr const char* kKindNames[kKinds] = {"door-status", "match-data", "logs/from/to",
                                            "match-data DELETE"};
constexpr std::chrono::milliseconds kInterval[3] = {std::chrono::milliseconds(1000),
                                                    std::chrono::milliseconds(500),
                                                    std::chrono::milliseconds(2000)};
constexpr int kLogPage = 100;

/// Measurement state shared by every poller (one io thread, no locks).
struct Stats {
  bool measuring = false;
  std::uint64_t requests[kKinds] = {};
  std::uint64_t errors = 0;
  std::uint64_t transport_errors = 0;
  std::uint64_t lock_failures = 0;
  std::uint64_t events_seen = 0;  // match-data items + log entries received
  std::vector<double> latency_ms;
  int locked = 0;
};

std::string Machine() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::string model = "unknown";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return std::to_string(std::thread::hardware_concurrency()) + " CPUs (nproc), " + model;
}

/// utime + stime of a process in clock ticks (/proc/<pid>/stat fields 14 and 15).
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  std::vector<std::string> fields;
  while (rest >> field) fields.push_back(field);
  // fields[0] is field 3 (state); utime is field 14, stime 15.
  if (fields.size() < 13) return 0;
  return static_cast<double>(std::stoull(fields[11]) + std::stoull(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string RssOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      auto v = line.substr(6);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

/// Finds every `"key":"value"` string value in a JSON text (good enough for our own sim).
std::vector<std::string> StringValues(const std::string& body, const std::string& key) {
  std::vector<std::string> out;
  std::string needle = "\"" + key + "\":\"";
  for (auto pos = body.find(needle); pos != std::string::npos; pos = body.find(needle, pos)) {
    pos += needle.size();
    auto end = body.find('"', pos);
    if (end == std::string::npos) break;
    out.push_back(body.substr(pos, end - pos));
  }
  return out;
}

/// The largest `"id":<n>` in a logs page, or -1.
long long MaxLogId(const std::string& body, std::size_t& count) {
  long long best = -1;
  count = 0;
  const std::string needle = "\"id\":";
  for (auto pos = body.find(needle); pos != std::string::npos; pos = body.find(needle, pos)) {
    pos += needle.size();
    best = std::max(best, std::atoll(body.c_str() + pos));
    ++count;
  }
  return best;
}

class Poller {
 public:
  Poller(asio::io_context& io, Stats& stats, const Options& options, std::uint16_t port,
         std::uint64_t seed)
      : io_(io), stats_(stats), options_(options), port_(port), rng_(seed), stream_(io) {}

  asio::awaitable<void> Run(Clock::time_point stop_at) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
    auto [ec] = co_await stream_.async_connect(ep, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      ++stats_.lock_failures;
      co_return;
    }
    beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true));
    // Take the lock by force, as a gateway configured to take over would.
    auto lock = co_await Call(http::verb::put, "/1.0/lock", -1);
    auto uid = StringValues(lock.second, "lock_uid");
    if (lock.first != 200 || uid.empty()) {
      ++stats_.lock_failures;
      co_return;
    }
    lock_uid_ = uid[0];
    ++stats_.locked;

    // Spread the first polls over each interval (as the gateway does).
    Clock::time_point due[3];
    auto now = Clock::now();
    for (int k = 0; k < 3; ++k) {
      std::uniform_int_distribution<long> offset(0, kInterval[k].count() - 1);
      due[k] = now + std::chrono::milliseconds(offset(rng_));
    }
    asio::steady_timer timer(io_);
    while (true) {
      int k = static_cast<int>(std::min_element(due, due + 3) - due);
      if (due[k] >= stop_at) break;
      timer.expires_at(due[k]);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      due[k] += kInterval[k];
      if (!co_await Poll(static_cast<Kind>(k))) break;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

 private:
  asio::awaitable<bool> Poll(Kind kind) {
    std::string target;
    switch (kind) {
      case kDoor: target = "/1.0/config/door-status?lock_uid=" + lock_uid_; break;
      case kMatch: target = "/1.0/match-data?lock_uid=" + lock_uid_; break;
      default:
        target = "/1.0/logs/from/to?lock_uid=" + lock_uid_ +
                 "&page=1&page_size=" + std::to_string(kLogPage) +
                 "&min=" + std::to_string(cursor_ + 1) +
                 "&max=" + std::to_string(cursor_ + kLogPage);
    }
    auto [status, body] = co_await Call(http::verb::get, target, kind);
    if (status == 0) co_return false;
    if (status != 200) co_return true;
    if (kind == kMatch) {
      auto ids = StringValues(body, "encounter_id");
      if (stats_.measuring) stats_.events_seen += ids.size();
      if (options_.delete_match) {
        for (const auto& id : ids) {
          auto del = co_await Call(http::verb::delete_,
                                   "/1.0/match-data/" + id + "?lock_uid=" + lock_uid_, kDelete);
          if (del.first == 0) co_return false;
        }
      }
    } else if (kind == kLogs) {
      std::size_t count = 0;
      long long newest = MaxLogId(body, count);
      if (stats_.measuring) stats_.events_seen += count;
      if (newest > cursor_) cursor_ = newest;
    }
    co_return true;
  }

  /// One request/response on the keep-alive connection; (0, "") on a transport error.
  asio::awaitable<std::pair<int, std::string>> Call(http::verb verb, const std::string& target,
                                                    int kind) {
    http::request<http::empty_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    http::response<http::string_body> res;
    auto start = Clock::now();
    stream_.expires_after(std::chrono::seconds(10));
    auto [wec, wn] = co_await http::async_write(stream_, req, asio::as_tuple(asio::use_awaitable));
    beast::error_code ec = wec;
    if (!ec) {
      auto [rec, rn] =
          co_await http::async_read(stream_, buffer_, res, asio::as_tuple(asio::use_awaitable));
      ec = rec;
    }
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (stats_.measuring && kind >= 0) {
      ++stats_.requests[kind];
      stats_.latency_ms.push_back(ms);
      if (ec) {
        ++stats_.transport_errors;
      } else if (res.result_int() != 200) {
        ++stats_.errors;
      }
    }
    if (ec) co_return std::pair<int, std::string>{0, {}};
    co_return std::pair<int, std::string>{res.result_int(), std::move(res.body())};
  }

  asio::io_context& io_;
  Stats& stats_;
  const Options& options_;
  std::uint16_t port_;
  std::mt19937_64 rng_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string lock_uid_;
  long long cursor_ = 0;
};

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--readers")
      o.readers = std::stoi(value());
    else if (a == "--seconds")
      o.seconds = std::stoi(value());
    else if (a == "--warmup")
      o.warmup = std::stoi(value());
    else if (a == "--rate")
      o.rate = std::stod(value());
    else if (a == "--sim")
      o.sim = value();
    else if (a == "--no-pin")
      o.pin = false;
    else if (a == "--no-delete")
      o.delete_match = false;
    else {
      std::cerr << "usage: sim_fleet_load [--readers N] [--seconds S] [--warmup S] [--rate R] "
                   "[--sim PATH] [--no-pin] [--no-delete]\n";
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = Parse(argc, argv);
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  std::string load_before;
  {
    std::ifstream load("/proc/loadavg");
    std::getline(load, load_before);
    load_before = load_before.substr(
        0, load_before.find(' ', load_before.find(' ', load_before.find(' ') + 1) + 1));
  }
  const bool pin = options.pin && std::thread::hardware_concurrency() >= 2;
  std::string dir_template = (fs::temp_directory_path() / "sim-fleet-load-XXXXXX").string();
  fs::path dir = mkdtemp(dir_template.data());
  fs::path ready = dir / "ready.json";

  pid_t sim = fork();
  if (sim == 0) {
    if (pin) PinTo(0);
    std::string readers = std::to_string(options.readers);
    std::string rate = std::to_string(options.rate);
    std::string ready_text = ready.string();
    const char* args[] = {
        options.sim.c_str(), "--readers",   readers.c_str(), "--base-port", "0",
        "--control-port",    "0",           "--rate",        rate.c_str(),  "--ready-file",
        ready_text.c_str(),  "--log-level", "warn",          nullptr};
    execv(args[0], const_cast<char* const*>(args));
    _exit(127);
  }
  if (pin) PinTo(1);

  auto give_up = Clock::now() + std::chrono::seconds(30);
  while (!fs::exists(ready)) {
    int status = 0;
    if (waitpid(sim, &status, WNOHANG) == sim || Clock::now() > give_up) {
      std::cerr << "ef45-sim did not become ready\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<std::uint16_t> ports;
  {
    std::ifstream in(ready);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string needle = "\"port\":";
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos)) {
      pos += needle.size();
      ports.push_back(static_cast<std::uint16_t>(std::atoi(text.c_str() + pos)));
    }
  }

  asio::io_context io(1);
  Stats stats;
  stats.latency_ms.reserve(static_cast<std::size_t>(options.seconds) * 5000);
  auto start = Clock::now();
  auto window_start = start + std::chrono::seconds(options.warmup);
  auto window_end = window_start + std::chrono::seconds(options.seconds);
  std::vector<std::unique_ptr<Poller>> pollers;
  for (std::size_t i = 0; i < ports.size(); ++i) {
    pollers.push_back(std::make_unique<Poller>(io, stats, options, ports[i], 1000 + i));
    asio::co_spawn(io, pollers.back()->Run(window_end), [](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::cerr << "poller failed: " << ex.what() << '\n';
      }
    });
  }

  double sim_cpu0 = 0;
  double sim_cpu1 = 0;
  Clock::time_point measured_from;
  Clock::time_point measured_to;
  asio::steady_timer window(io);
  window.expires_at(window_start);
  window.async_wait([&](beast::error_code) {
    stats.measuring = true;
    sim_cpu0 = CpuSeconds(sim);
    measured_from = Clock::now();
    window.expires_at(window_end);
    window.async_wait([&](beast::error_code) {
      stats.measuring = false;
      sim_cpu1 = CpuSeconds(sim);
      measured_to = Clock::now();
    });
  });
  rusage self0{};
  getrusage(RUSAGE_SELF, &self0);
  io.run();
  rusage self1{};
  getrusage(RUSAGE_SELF, &self1);
  std::string rss = RssOf(sim);

  kill(sim, SIGTERM);
  int status = 0;
  waitpid(sim, &status, 0);
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  double wall = std::chrono::duration<double>(measured_to - measured_from).count();
  std::uint64_t total = 0;
  for (auto n : stats.requests) total += n;
  auto& lat = stats.latency_ms;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0
                       : lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * lat.size()))];
  };
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  double self_cpu =
      tv(self1.ru_utime) + tv(self1.ru_stime) - tv(self0.ru_utime) - tv(self0.ru_stime);

  std::printf(
      "sim_fleet_load: ef45-sim --readers %d --rate %g, one keep-alive connection per "
      "reader\n",
      options.readers, options.rate);
  std::printf("machine: %s; sim pinned to CPU 0, bench to CPU 1: %s\n", Machine().c_str(),
              pin ? "yes" : "no");
  std::printf("load average before the run: %s (other work on the host skews these figures)\n",
              load_before.c_str());
  std::printf("polls: door-status 1 s, match-data 0.5 s%s, logs/from/to 2 s (page %d)\n",
              options.delete_match ? " + DELETE per item" : "", kLogPage);
  std::printf("\n| %-28s | %14s |\n", "figure", "value");
  std::printf("|%s|%s|\n", std::string(30, '-').c_str(), std::string(16, '-').c_str());
  auto row = [](const char* name, const std::string& value) {
    std::printf("| %-28s | %14s |\n", name, value.c_str());
  };
  auto num = [](double v, const char* fmt) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return std::string(buf);
  };
  row("readers locked", std::to_string(stats.locked) + "/" + std::to_string(ports.size()));
  row("measured window (s)", num(wall, "%.1f"));
  row("requests", std::to_string(total));
  row("requests/s", num(total / wall, "%.0f"));
  for (int k = 0; k < kKinds; ++k) {
    row((std::string("  ") + kKindNames[k] + " /s").c_str(), num(stats.requests[k] / wall, "%.0f"));
  }
  row("non-200 answers", std::to_string(stats.errors));
  row("transport errors", std::to_string(stats.transport_errors));
  row("events received (/s)", num(stats.events_seen / wall, "%.0f"));
  row("latency p50 (ms)", num(pct(0.50), "%.3f"));
  row("latency p99 (ms)", num(pct(0.99), "%.3f"));
  row("latency max (ms)", num(lat.empty() ? 0 : lat.back(), "%.3f"));
  row("ef45-sim CPU (cores)", num((sim_cpu1 - sim_cpu0) / wall, "%.3f"));
  row("ef45-sim CPU us/request",
      num((sim_cpu1 - sim_cpu0) / static_cast<double>(total) * 1e6, "%.1f"));
  row("ef45-sim RSS at end", rss);
  row("bench client CPU (cores)",
      num(self_cpu / std::chrono::duration<double>(Clock::now() - start).count(), "%.3f"));
  bool ok = stats.locked == static_cast<int>(ports.size()) && stats.transport_errors == 0 &&
            stats.errors == 0;
  std::printf("\nsim exit status: %d; %s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              ok ? "no errors" : "ERRORS (see table)");
  return ok ? 0 : 1;
}
