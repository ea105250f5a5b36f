// GET /config/door-status through gw::ef45::Client against one emulated reader on loopback, next
// to wrk against the same reader in the same run. Both use one connection and one request at a
// time (wrk -t1 -c1; our client never pipelines), so 1 / (requests/s) is the per-request cost
// of each. Rounds alternate client and wrk to spread the noise of a shared machine.
// usage: ef45_bench_client [seconds-per-phase] [rounds] [wrk-binary]

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ef45/client.hpp"
#include "fleet.hpp"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace gw::ef45;

struct Figures {
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
  long requests = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

asio::awaitable<Figures> ClientPhase(Client& client, double seconds) {
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  auto start = Clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    auto t0 = Clock::now();
    auto door = co_await client.GetDoorStatus();
    auto t1 = Clock::now();
    if (!door) {
      std::fprintf(stderr, "client: %s\n", door.error().detail.c_str());
      std::exit(1);
    }
    latencies.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Figures f;
  f.requests = static_cast<long>(latencies.size());
  f.rps = static_cast<double>(latencies.size()) / elapsed;
  f.p50_us = Percentile(latencies, 0.50);
  f.p99_us = Percentile(latencies, 0.99);
  co_return f;
}

double ToMicros(const std::string& text) {
  double value = std::atof(text.c_str());
  if (text.find("us") != std::string::npos) return value;
  if (text.find("ms") != std::string::npos) return value * 1e3;
  if (text.find('s') != std::string::npos) return value * 1e6;
  return value;
}

Figures WrkPhase(const std::string& wrk, const std::string& url, double seconds) {
  std::string command = wrk + " -t1 -c1 -d" + std::to_string(static_cast<int>(seconds)) +
                        "s --latency '" + url + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) {
    std::perror("popen wrk");
    std::exit(1);
  }
  Figures f;
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) {
    std::string s = line;
    char unit[32];
    double pct = 0;
    if (std::sscanf(line, " %lf%% %31s", &pct, unit) == 2) {
      if (pct == 50) f.p50_us = ToMicros(unit);
      if (pct == 99) f.p99_us = ToMicros(unit);
    } else if (s.find("Requests/sec:") != std::string::npos) {
      f.rps = std::atof(s.substr(s.find(':') + 1).c_str());
    } else if (s.find("requests in") != std::string::npos) {
      f.requests = std::atol(s.c_str());
    } else if (s.find("Non-2xx") != std::string::npos ||
               s.find("Socket errors") != std::string::npos) {
      std::fprintf(stderr, "wrk: %s", line);
    }
  }
  if (pclose(pipe) != 0 || f.rps == 0) {
    std::fprintf(stderr, "wrk failed (%s)\n", command.c_str());
    std::exit(1);
  }
  return f;
}

template <class T>
T RunOn(asio::io_context& io, asio::awaitable<T> task) {
  std::unique_ptr<T> out;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out = std::make_unique<T>(std::move(value));
  });
  io.restart();
  io.run();
  return std::move(*out);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  std::string wrk = argc > 3 ? argv[3] : "wrk";

  asio::io_context sim_io;
  ef45sim::Fleet fleet(sim_io, ef45sim::FleetOptions{});
  fleet.Start();
  std::thread sim_thread([&] { sim_io.run(); });

  asio::io_context io;
  ClientOptions options;
  options.port = fleet.ReaderPort(0);
  Client client(io.get_executor(), options);
  auto locked = RunOn(io, client.Lock());
  if (!locked) {
    std::fprintf(stderr, "lock: %s\n", locked.error().detail.c_str());
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(options.port) +
                          "/1.0/config/door-status?lock_uid=" + client.lock_uid();

  std::printf("GET /config/door-status, one emulated reader on 127.0.0.1, one connection each\n");
  std::printf("%d rounds x %.0f s per phase; cost = 1e6 / (requests/s) us per request\n\n", rounds,
              seconds);
  std::printf("| round | tool       | requests | req/s    | p50 us | p99 us | cost us |\n");
  std::printf("|-------|------------|----------|----------|--------|--------|---------|\n");
  std::vector<double> ratios;
  for (int r = 1; r <= rounds; ++r) {
    Figures c = RunOn(io, ClientPhase(client, seconds));
    Figures w = WrkPhase(wrk, url, seconds);
    std::printf("| %5d | ef45 client| %8ld | %8.0f | %6.1f | %6.1f | %7.1f |\n", r, c.requests,
                c.rps, c.p50_us, c.p99_us, 1e6 / c.rps);
    std::printf("| %5d | wrk -c1    | %8ld | %8.0f | %6.1f | %6.1f | %7.1f |\n", r, w.requests,
                w.rps, w.p50_us, w.p99_us, 1e6 / w.rps);
    ratios.push_back(w.rps / c.rps);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("\nclient cost / wrk cost per request: median %.2fx (min %.2fx, max %.2fx)\n",
              ratios[ratios.size() / 2], ratios.front(), ratios.back());

  RunOn(io, client.Unlock());
  fleet.Stop();
  sim_thread.join();
  return 0;
}
