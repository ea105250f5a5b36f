// The real ef45-sim binary: start-up on ephemeral ports with a ready file, the control API,
// clean stops (SIGTERM, SIGINT, POST /sim/shutdown) that free every port, bad flags.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using gw::test::HttpRequest;
using gw::test::HttpResult;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A private temp dir, removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ef45sim-e2e-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

/// One ef45-sim child process (stderr goes to a file); killed at the end if still running.
class SimProcess {
 public:
  SimProcess(const std::vector<std::string>& args, const fs::path& stderr_path) {
    std::vector<std::string> argv_text{EF45_SIM_BINARY};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : argv_text) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~SimProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }

  /// Waits for the process to exit; returns its exit code, or -1 (timeout) / -2 (signal).
  int WaitExit(std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    if (exited_) return code_;
    gw::test::WaitFor(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
          exited_ = true;
          code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
          return true;
        },
        deadline);
    return exited_ ? code_ : -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

struct Ready {
  std::uint16_t control_port = 0;
  std::vector<std::uint16_t> reader_ports;
};

/// Waits until the ready file exists and parses it.
bool WaitReady(const fs::path& file, Ready& ready) {
  return gw::test::WaitFor([&] {
    if (!fs::exists(file)) return false;
    boost::system::error_code ec;
    json::value v = json::parse(ReadFile(file), ec);
    if (ec) {
      ADD_FAILURE() << "ready file is not complete JSON (not written atomically?)";
      return true;
    }
    ready.control_port = v.at("control_port").to_number<std::uint16_t>();
    for (const auto& r : v.at("readers").as_array()) {
      ready.reader_ports.push_back(r.at("port").to_number<std::uint16_t>());
    }
    return true;
  });
}

/// True when nothing listens on 127.0.0.1:port any more (a fresh listener can bind it).
bool PortIsFree(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(fd, 1) == 0;
  close(fd);
  return ok;
}

std::vector<std::string> EphemeralArgs(int readers, const fs::path& ready_file) {
  return {"--readers",    std::to_string(readers), "--base-port", "0",  "--control-port", "0",
          "--ready-file", ready_file.string(),     "--rate",      "20", "--seed",         "7"};
}

TEST(SimBinary, ServesEveryReaderAndStopsCleanlyOnSigterm) {
  TempDir dir;
  SimProcess sim(EphemeralArgs(5, dir.path / "ready.json"), dir.path / "stderr");
  Ready ready;
  ASSERT_TRUE(WaitReady(dir.path / "ready.json", ready)) << ReadFile(dir.path / "stderr");
  ASSERT_EQ(ready.reader_ports.size(), 5u);
  for (auto port : ready.reader_ports) {
    HttpResult r = HttpRequest(port, "GET", "/1.0/version");
    EXPECT_NE(r.status, 0) << "reader on port " << port << ": " << r.error;
  }
  HttpResult all = HttpRequest(ready.control_port, "GET", "/sim/readers");
  ASSERT_EQ(all.status, 200);
  json::value v = json::parse(all.body);
  ASSERT_EQ(v.as_array().size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(v.as_array()[i].at("port").to_number<std::uint16_t>(), ready.reader_ports[i]);
  }
  // No leftovers of the atomic write.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 2);

  ASSERT_EQ(kill(sim.pid(), SIGTERM), 0);
  EXPECT_EQ(sim.WaitExit(), 0) << ReadFile(dir.path / "stderr");
  EXPECT_TRUE(PortIsFree(ready.control_port));
  for (auto port : ready.reader_ports) EXPECT_TRUE(PortIsFree(port)) << port;
}

TEST(SimBinary, StopsOnSigintWithOpenKeepAliveConnections) {
  TempDir dir;
  SimProcess sim(EphemeralArgs(2, dir.path / "ready.json"), dir.path / "stderr");
  Ready ready;
  ASSERT_TRUE(WaitReady(dir.path / "ready.json", ready));
  gw::test::HttpClient held("127.0.0.1", ready.reader_ports[0]);
  ASSERT_NE(held.Get("/1.0/version").status, 0);
  ASSERT_TRUE(held.connected());
  ASSERT_EQ(kill(sim.pid(), SIGINT), 0);
  EXPECT_EQ(sim.WaitExit(), 0) << ReadFile(dir.path / "stderr");
  EXPECT_TRUE(PortIsFree(ready.reader_ports[0]));
}

TEST(SimBinary, ShutdownThroughTheControlApiExitsZero) {
  TempDir dir;
  SimProcess sim(EphemeralArgs(1, dir.path / "ready.json"), dir.path / "stderr");
  Ready ready;
  ASSERT_TRUE(WaitReady(dir.path / "ready.json", ready));
  EXPECT_EQ(HttpRequest(ready.control_port, "POST", "/sim/shutdown").status, 200);
  EXPECT_EQ(sim.WaitExit(), 0) << ReadFile(dir.path / "stderr");
}

TEST(SimBinary, RejectsBadFlagsWithOneLineAndExit2) {
  TempDir dir;
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus"},
      {"--readers", "0"},
      {"--readers", "many"},
      {"--readers"},
      {"--rate", "-1"},
      {"--base-port", "70000"},
      {"--readers", "10", "--base-port", "65530"},
      {"--seed", "1x"},
      {"stray"},
      {"--bind", "localhost"},
      {"--bind", "::1", "--address-per-reader"},
      {"--address-per-reader=yes"},
  };
  for (const auto& args : bad) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    SimProcess sim(args, dir.path / "stderr");
    EXPECT_EQ(sim.WaitExit(), 2) << shown;
    std::string err = ReadFile(dir.path / "stderr");
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << shown << ": " << err;
    EXPECT_EQ(err.rfind("ef45-sim: ", 0), 0u) << err;
  }
}

TEST(SimBinary, HelpDescribesTheFlagsAndExitsZero) {
  TempDir dir;
  SimProcess sim({"--help"}, dir.path / "out");
  EXPECT_EQ(sim.WaitExit(), 0);
  std::string out = ReadFile(dir.path / "out");
  for (const char* flag :
       {"--readers", "--base-port", "--control-port", "--rate", "--door-rate", "--seed", "--bind",
        "--ready-file", "--biometric-kb", "--address-per-reader", "--keep-alive-timeout"}) {
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  }
}

TEST(SimBinary, FailsWhenAReaderPortIsTaken) {
  TempDir dir;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SimProcess sim({"--readers", "1", "--base-port", std::to_string(ntohs(addr.sin_port)),
                  "--control-port", "0", "--ready-file", (dir.path / "ready.json").string()},
                 dir.path / "stderr");
  int code = sim.WaitExit();
  close(fd);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1) << "still running";
  EXPECT_FALSE(fs::exists(dir.path / "ready.json"));
  EXPECT_NE(ReadFile(dir.path / "stderr").find("reader 0"), std::string::npos);
}

}  // namespace
