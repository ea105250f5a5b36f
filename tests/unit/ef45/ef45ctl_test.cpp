// The ef45ctl program against the in-process emulator: JSON on stdout, one line on stderr and a
// non-zero exit on failure, the lock taken for the call and released.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "client_support.hpp"

namespace gw::ef45 {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// A private scratch directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ef45ctl_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class Ef45ctl : public ::testing::Test {
 protected:
  Outcome Ctl(const std::string& args) {
    const fs::path err = dir_.path() / "stderr";
    std::string command = std::string(EF45CTL_PATH) +
                          " --reader 127.0.0.1:" + std::to_string(sim_.port()) +
                          " --timeout-ms 5000 " + args + " 2>" + err.string();
    Outcome o;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("popen failed");
    std::array<char, 4096> chunk;
    std::size_t n = 0;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) o.out.append(chunk.data(), n);
    int status = pclose(pipe);
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.err = ReadFile(err);
    return o;
  }
  bool Locked() { return sim_.State().at("locked").as_bool(); }

  test::Sim sim_;
  TempDir dir_;
};

TEST_F(Ef45ctl, PrintsDoorStatusAsJsonAndReleasesTheLock) {
  Outcome o = Ctl("door-status");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto json = boost::json::parse(o.out);
  EXPECT_TRUE(json.as_object().contains("door_sensor")) << o.out;
  EXPECT_TRUE(json.as_object().contains("tamper")) << o.out;
  EXPECT_TRUE(o.err.empty()) << o.err;
  EXPECT_FALSE(Locked());
}

TEST_F(Ef45ctl, FailsWithOneLineWhenAnotherClientHoldsTheLockAndStealsItOnRequest) {
  ASSERT_EQ(gw::test::HttpRequest(sim_.port(), "POST", "/1.0/lock").status, 200);
  Outcome o = Ctl("match-data");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_TRUE(o.out.empty()) << o.out;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_NE(o.err.find("lock_conflict"), std::string::npos) << o.err;

  Outcome stolen = Ctl("--steal match-data");
  ASSERT_EQ(stolen.exit_code, 0) << stolen.err;
  EXPECT_TRUE(boost::json::parse(stolen.out).as_object().contains("items"));
  EXPECT_FALSE(Locked());
}

TEST_F(Ef45ctl, ReadsALogRangeWithoutBiometricData) {
  sim_.Control("POST", "/sim/readers/0/generate", R"({"recognitions":3})");
  Outcome o = Ctl("logs --min 1 --max 3");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto page = boost::json::parse(o.out).as_object();
  ASSERT_EQ(page.at("items").as_array().size(), 3u) << o.out;
  EXPECT_EQ(page.at("items").as_array()[0].at("id").as_int64(), 1);

  Outcome m = Ctl("match-data");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  auto item = boost::json::parse(m.out).at("items").as_array().at(0).as_object();
  // Templates and images are shown as their length unless --with-biometrics is given.
  EXPECT_EQ(std::string(item.at("left_eye__iris_template").as_string()).rfind("[redacted: ", 0), 0u)
      << m.out;
}

TEST_F(Ef45ctl, WritesASettingAndReadsItBack) {
  Outcome o = Ctl("setting --title launcher.device.door.duration --type int --set 6");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(boost::json::parse(o.out).at("int").as_int64(), 6) << o.out;
  Outcome bad = Ctl("setting --title launcher.device.door.duration --type int --set 99");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("HTTP 417"), std::string::npos) << bad.err;
}

TEST_F(Ef45ctl, SetsTheReaderClockAndDrivesTheRelay) {
  Outcome t = Ctl("set-time");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::string device_time(boost::json::parse(t.out).at("device_time").as_string());
  EXPECT_EQ(device_time.size(), 15u);
  EXPECT_EQ(device_time[12], '.');
  Outcome r = Ctl("relay --duration 3");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Ef45ctl, UploadsFirmwareInUnitsOfAboutOneMegabyte) {
  const fs::path image = dir_.path() / "firmware.zip";
  {
    std::mt19937 rng(7);
    std::string bytes(2'000'000, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    std::ofstream(image, std::ios::binary) << bytes;
  }
  Outcome o = Ctl("firmware-upload " + image.string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto result = boost::json::parse(o.out).as_object();
  EXPECT_EQ(result.at("file").as_string(), "Upload success");
  EXPECT_EQ(result.at("units").as_int64(), 3);  // 768 KiB raw = 1 MiB base64 per unit
}

TEST_F(Ef45ctl, ReportsUsageErrorsWithExitCode2) {
  EXPECT_EQ(Ctl("no-such-operation").exit_code, 2);
  EXPECT_EQ(Ctl("logs --min 1").exit_code, 2);
  EXPECT_EQ(Ctl("setting --title x --type double").exit_code, 2);
}

TEST_F(Ef45ctl, ReportsAnUnreachableReader) {
  Outcome o;
  {
    const fs::path err = dir_.path() / "stderr";
    std::string command = std::string(EF45CTL_PATH) +
                          " --reader 127.0.0.1:1 --timeout-ms 1000 version 2>" + err.string();
    int status = std::system(command.c_str());
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.err = ReadFile(err);
  }
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("refused"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace gw::ef45
