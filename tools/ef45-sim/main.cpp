// ef45-sim: a fleet of emulated EF-45 readers in one process (argv, signals, ready file; the
// behaviour lives in fleet.cpp / control.cpp / reader.cpp).
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "common/log.hpp"
#include "fleet.hpp"

namespace {

constexpr char kUsage[] =
    R"(Usage: ef45-sim [options]
Emulates a fleet of Iris ID EF-45 readers (REST API 1.0) plus a control API for tests.

  --readers N         number of readers (1..65535, default 1)
  --base-port P       reader i listens on P+i (default 9980; 0 = an ephemeral port each)
  --control-port C    control API port (default 9979; 0 = ephemeral)
  --bind ADDR         listen address (default 127.0.0.1)
  --address-per-reader  reader i listens on (ADDR + i):P instead of ADDR:(P + i), e.g.
                      --bind 127.0.0.2 --base-port 9980 (IPv4; control API on ADDR)
  --rate R            recognitions per reader per second (default 0)
  --door-rate D       door changes per reader per second (default 0)
  --seed S            seed of every generator (default 1; same seed = same event content)
  --biometric-kb K    size of emulated biometric payloads in KiB (default: the reader's)
  --keep-alive-timeout S  close connections idle for S seconds (default 0 = never; the
                      firmware's Poco server uses 10)
  --install-seconds S  a firmware image carrying `EF45-FIRMWARE-VERSION=<label>` installs
                      for S seconds (reader unreachable), then the reader reboots reporting
                      <label> in GET /version and deviceinfo.firmwarefile (default 5)
  --ready-file PATH   once every listener is bound, write
                      {"control_port":C,"readers":[{"index":0,"port":P},...]} there atomically
  --log-level L       debug|info|warn|error (default info)
  --help              this text

Control API (JSON): GET /sim/readers, GET /sim/readers/{i}, GET /sim/readers/{i}/generated,
POST /sim/readers/{i|all}/faults, POST /sim/readers/{i}/enroll, POST /sim/readers/{i}/generate,
POST /sim/generation/pause|resume, POST /sim/shutdown. Fault firmware_fail: the next firmware
image is refused ({"file":"Upload fail"}), the version stays. SIGTERM/SIGINT stop cleanly.
)";

/// Thrown for a bad command line: main prints one line and exits 2.
struct UsageError {
  std::string message;
};

template <class T>
T ParseNumber(std::string_view flag, std::string_view text, T min, T max) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty() || value < min || value > max) {
    throw UsageError{std::string(flag) + ": invalid value \"" + std::string(text) + "\""};
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) throw UsageError{std::string(flag) + ": not a finite number"};
  }
  return value;
}

struct Args {
  ef45sim::FleetOptions fleet;
  std::string ready_file;
  gw::log::Level log_level = gw::log::Level::kInfo;
  bool help = false;
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  args.fleet.base_port = 9980;
  args.fleet.control_port = 9979;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--")
      throw UsageError{"unexpected argument \"" + std::string(arg) + "\""};
    std::string_view flag = arg;
    std::optional<std::string_view> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto next = [&]() -> std::string_view {
      if (value) return *value;
      if (i + 1 >= argc) throw UsageError{std::string(flag) + " needs a value"};
      return argv[++i];
    };
    if (flag == "--readers") {
      args.fleet.readers = ParseNumber<int>(flag, next(), 1, 65535);
    } else if (flag == "--base-port") {
      args.fleet.base_port = ParseNumber<std::uint16_t>(flag, next(), 0, 65535);
    } else if (flag == "--control-port") {
      args.fleet.control_port = ParseNumber<std::uint16_t>(flag, next(), 0, 65535);
    } else if (flag == "--bind") {
      args.fleet.bind_address = std::string(next());
      boost::system::error_code ec;
      boost::asio::ip::make_address(args.fleet.bind_address, ec);
      if (ec) throw UsageError{"--bind: not an IP address: \"" + args.fleet.bind_address + "\""};
    } else if (flag == "--address-per-reader") {
      if (value) throw UsageError{"--address-per-reader takes no value"};
      args.fleet.address_per_reader = true;
    } else if (flag == "--rate") {
      args.fleet.rate = ParseNumber<double>(flag, next(), 0.0, 1000.0);
    } else if (flag == "--door-rate") {
      args.fleet.door_rate = ParseNumber<double>(flag, next(), 0.0, 1000.0);
    } else if (flag == "--seed") {
      args.fleet.seed = ParseNumber<std::uint64_t>(flag, next(), 0, UINT64_MAX);
    } else if (flag == "--biometric-kb") {
      args.fleet.biometric_kb = ParseNumber<int>(flag, next(), 1, 64 * 1024);
    } else if (flag == "--keep-alive-timeout") {
      args.fleet.idle_timeout = std::chrono::seconds(ParseNumber<int>(flag, next(), 0, 86400));
    } else if (flag == "--install-seconds") {
      const double s = ParseNumber<double>(flag, next(), 0.0, 3600.0);
      args.fleet.install_time = std::chrono::milliseconds(std::llround(s * 1000));
    } else if (flag == "--ready-file") {
      args.ready_file = std::string(next());
      if (args.ready_file.empty()) throw UsageError{"--ready-file: empty path"};
    } else if (flag == "--log-level") {
      if (!gw::log::ParseLevel(next(), args.log_level)) {
        throw UsageError{"--log-level: expected debug, info, warn or error"};
      }
    } else {
      throw UsageError{"unknown option \"" + std::string(flag) + "\" (see --help)"};
    }
  }
  if (args.fleet.address_per_reader) {
    auto address = boost::asio::ip::make_address(args.fleet.bind_address);
    if (!address.is_v4() ||
        address.to_v4().to_uint() + static_cast<std::uint64_t>(args.fleet.readers) - 1 >
            0xFFFFFFFFULL) {
      throw UsageError{"--address-per-reader needs an IPv4 --bind with room for every reader"};
    }
  } else if (args.fleet.base_port != 0 && args.fleet.base_port + args.fleet.readers - 1 > 65535) {
    throw UsageError{"--base-port + --readers - 1 exceeds 65535"};
  }
  return args;
}

/// 1,000 readers need 1,000 listeners plus their connections: lift the soft descriptor limit.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/// Writes the file next to its final name, then renames it, so a reader never sees half of it.
void WriteReadyFile(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content << '\n';
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = ParseArgs(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "ef45-sim: " << e.message << '\n';
    return 2;
  }
  if (args.help) {
    std::cout << kUsage;
    return 0;
  }
  gw::log::SetLevel(args.log_level);
  RaiseDescriptorLimit();

  try {
    boost::asio::io_context io(1);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    args.fleet.on_stopped = [&signals] { signals.cancel(); };
    ef45sim::Fleet fleet(io, args.fleet);
    fleet.Start();
    signals.async_wait([&fleet](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      GW_LOG(kInfo, "ef45-sim") << "signal " << signal << ", stopping";
      fleet.Stop();
    });
    if (!args.ready_file.empty()) WriteReadyFile(args.ready_file, EndpointsJson(fleet.Endpoints()));
    GW_LOG(kInfo, "ef45-sim") << fleet.size() << " readers from port " << fleet.ReaderPort(0)
                              << ", control API on port " << fleet.ControlPort();
    io.run();
    GW_LOG(kInfo, "ef45-sim") << "stopped";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ef45-sim: " << e.what() << '\n';
    return 1;
  }
}
