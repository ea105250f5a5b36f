// The façade end to end against the real daemon, ef45-sim and PostgreSQL.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/time.hpp"
#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

/// What a shell command printed on stdout.
std::string Capture(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    while (auto n = std::fread(buffer, 1, sizeof buffer, p)) out.append(buffer, n);
    ::pclose(p);
  }
  return out;
}

std::string Sha256(const std::string& text) {
  auto out = Capture("printf %s '" + text + "' | sha256sum | cut -c1-64");
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

struct Operation {
  std::string method;
  std::string path_template;
  std::string role;
  std::string path;  // x-example
  int status = 0;    // x-example status: what a permitted caller gets (0: any 2xx)
  std::string body;
  std::string content_type = "application/json";
  bool stream = false;
};

/// Every operation of api/openapi.yaml with its x-role and x-example.
std::vector<Operation> DocumentedOperations() {
  auto doc = YAML::LoadFile(SourceDir() + "/api/openapi.yaml");
  std::vector<Operation> out;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      Operation o;
      o.method = op.first.as<std::string>();
      for (auto& c : o.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      o.path_template = path.first.as<std::string>();
      o.role = op.second["x-role"].as<std::string>("");
      const auto example = op.second["x-example"];
      o.path = example["path"].as<std::string>("");
      o.body = example["body"].as<std::string>("");
      o.content_type = example["content_type"].as<std::string>("application/json");
      o.stream = example["stream"].as<bool>(false);
      o.status = example["status"].as<int>(0);
      out.push_back(std::move(o));
    }
  }
  return out;
}

class ApiTest : public GatewayTest {
 protected:
  /// Starts `readers` emulated readers and the gateway with three tokens (one per role).
  void StartWithTokens(int readers, double rate, const std::string& extra_yaml = "") {
    read_ = "read-secret";
    operate_ = "operate-secret";
    admin_ = "admin-secret";
    api_extra_ =
        ", open_metrics: false, tokens: [{ name: acs, role: read, sha256: " + Sha256(read_) +
        " }, { name: ops, role: operate, sha256: " + Sha256(operate_) +
        " }, { name: root, role: admin, sha256: " + Sha256(admin_) + " }]" + api_extra_suffix_;
    StartSim(readers, rate);
    std::vector<int> indices;
    for (int i = 0; i < readers; ++i) indices.push_back(i);
    // The webhook examples of api/openapi.yaml point at loopback.
    WriteConfig(indices, "webhooks: { allow: [\"127.0.0.1/32\"] }\n" + extra_yaml);
    StartGateway();
    ASSERT_TRUE(WaitReady()) << gateway_.Log();
  }

  HttpResult Call(const std::string& method, const std::string& target, const std::string& token,
                  const std::string& body = {},
                  const std::string& content_type = "application/json") {
    Headers headers;
    if (!token.empty()) headers = Bearer(token);
    if (!body.empty()) headers.emplace_back("Content-Type", content_type);
    return HttpRequest(api_port_, method, target, body, headers);
  }

  json::value Json(const HttpResult& r) {
    json::error_code ec;
    auto v = json::parse(r.body, ec);
    EXPECT_FALSE(ec) << r.body;
    return v;
  }

  std::string read_, operate_, admin_;
  std::string api_extra_suffix_;  ///< more api keys for StartWithTokens
};

void ExpectProblem(const HttpResult& r, int status, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.body;
  EXPECT_EQ(r.headers.count("content-type") ? r.headers.at("content-type") : "",
            "application/problem+json")
      << what;
  json::error_code ec;
  auto v = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << what << ": " << r.body;
  EXPECT_TRUE(v.as_object().contains("type")) << what;
  EXPECT_TRUE(v.as_object().contains("title")) << what;
  EXPECT_EQ(v.at("status").as_int64(), status) << what;
}

TEST(ApiDocument, EveryRouteInCodeIsDocumentedAndEveryDocumentedRouteExists) {
  TempDir dir;
  WriteFile(dir.File("g.yaml"), "database: { dsn: 'host=/nonexistent' }\n");
  auto printed =
      Capture(BinaryDir() + "/daemon/ef45-gatewayd routes --config " + dir.File("g.yaml"));
  std::set<std::string> code;
  std::istringstream lines(printed);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) code.insert(line);
  }
  std::set<std::string> documented;
  for (const auto& op : DocumentedOperations()) {
    documented.insert(op.method + " " + op.path_template + " " + op.role);
    EXPECT_FALSE(op.path.empty()) << op.method << " " << op.path_template << ": no x-example";
  }
  ASSERT_GT(code.size(), 10u) << printed;
  for (const auto& route : code) EXPECT_TRUE(documented.count(route)) << "undocumented: " << route;
  for (const auto& route : documented) EXPECT_TRUE(code.count(route)) << "not served: " << route;
}

TEST_F(ApiTest, AuthMatrixOnEveryDocumentedRoute) {
  StartWithTokens(2, 2.0);
  const std::map<std::string, int> rank = {{"none", 0}, {"read", 1}, {"operate", 2}, {"admin", 3}};
  const std::vector<std::pair<std::string, std::string>> callers = {
      {"read", read_}, {"operate", operate_}, {"admin", admin_}};
  for (const auto& op : DocumentedOperations()) {
    SCOPED_TRACE(op.method + " " + op.path);
    // /metrics is closed by this config (open_metrics: false): it needs a read token.
    const int required = op.path == "/metrics" ? 1 : rank.at(op.role);
    auto send = [&](const std::string& token) -> int {
      if (op.stream) {
        HttpClient client("127.0.0.1", api_port_, 1s);
        Headers headers;
        if (!token.empty()) headers = Bearer(token);
        auto raw = client.RequestRaw(op.method, op.path, 4096, headers);
        return raw.size() > 12 ? std::stoi(raw.substr(9, 3)) : 0;
      }
      return Call(op.method, op.path, token, op.body, op.content_type).status;
    };
    if (required == 0) {
      EXPECT_EQ(send(""), 200);
      continue;
    }
    ExpectProblem(Call(op.method, op.path, "", op.body, op.content_type), 401, "no token");
    ExpectProblem(Call(op.method, op.path, "not-a-token", op.body, op.content_type), 401,
                  "unknown token");
    for (const auto& [role, token] : callers) {
      const int status = send(token);
      if (rank.at(role) < required) {
        EXPECT_EQ(status, 403) << role;
      } else if (op.status != 0) {
        EXPECT_EQ(status, op.status) << role;  // e.g. deciding an import that does not exist
      } else {
        EXPECT_TRUE(status >= 200 && status < 300) << role << " got " << status;
      }
    }
  }
}

TEST_F(ApiTest, BadInputIsA400ProblemNamingTheField) {
  StartWithTokens(1, 0.5);
  struct Case {
    std::string method, target, body, field;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/v1/events?limit=0", "", "limit"},
      {"GET", "/api/v1/events?after=-1", "", "after"},
      {"GET", "/api/v1/events?kind=nope", "", "kind"},
      {"GET", "/api/v1/events?since=yesterday", "", "since"},
      {"GET", "/api/v1/events/stream?limit=abc", "", "limit"},
      {"POST", "/api/v1/devices/sim-0/relay", "{\"duration_s\":0}", "duration_s"},
      {"POST", "/api/v1/devices/sim-0/relay", "{\"duration_s\":5,\"door\":1}", "door"},
      {"POST", "/api/v1/devices/sim-0/relay", "[1]", "body"},
      {"POST", "/api/v1/devices/sim-0/relay", "{\"forced\":\"yes\"}", "forced"},
      {"POST", "/api/v1/devices/sim-0/apb/clear", "{}", "user_uuid"},
      {"POST", "/api/v1/devices/sim-0/apb/clear", "{\"user_uuid\":\"u\",\"all\":true}",
       "user_uuid"},
      {"POST", "/api/v1/devices/sim-0/time", "{\"at\":1}", "body"},
      {"GET", "/api/v1/devices/sim-0/logs?min=5", "", "max"},
      {"GET", "/api/v1/devices/sim-0/logs?min=1&max=5000", "", "max"},
      {"GET", "/api/v1/devices/sim-0/settings/x?type=blob", "", "type"},
      {"PUT", "/api/v1/devices/sim-0/settings/x", "{\"type\":\"int\",\"value\":\"7\"}", "value"},
      {"PUT", "/api/v1/devices/sim-0/settings/x", "{\"value\":7}", "type"},
      {"POST", "/api/v1/devices/sim-0/camera/start", "{}", "face_mode"},
      {"POST", "/api/v1/devices/sim-0/firmware?forced=maybe", "AAAA", "forced"},
  };
  for (const auto& c : cases) {
    const bool firmware = c.target.find("/firmware") != std::string::npos;
    auto r = Call(c.method, c.target, admin_, c.body,
                  firmware ? "application/octet-stream" : "application/json");
    ExpectProblem(r, 400, c.method + " " + c.target + " " + c.body);
    EXPECT_EQ(Json(r).as_object().if_contains("field")
                  ? std::string(Json(r).at("field").as_string())
                  : "",
              c.field)
        << c.method << " " << c.target << " " << c.body;
  }
  // Unknown readers and resources are 404 problems, not crashes.
  ExpectProblem(Call("POST", "/api/v1/devices/nope/relay", operate_, "{}"), 404, "unknown reader");
  ExpectProblem(Call("GET", "/api/v1/nothing", read_), 404, "unknown path");
  EXPECT_TRUE(gateway_.Running());
}

TEST_F(ApiTest, ReaderOperationsReachTheReader) {
  StartWithTokens(2, 0.0, "polling: { health_ms: 1000 }\n");
  // Relay: the door status the gateway polls afterwards shows the relay closed.
  auto relay = Call("POST", "/api/v1/devices/sim-0/relay", operate_, "{\"duration_s\":8}");
  ASSERT_EQ(relay.status, 200) << relay.body;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto d = Json(Call("GET", "/api/v1/devices/sim-0", read_));
        const auto* door = d.as_object().if_contains("door");
        return door && door->is_object() && door->at("relay").as_int64() == 1;
      },
      5s));
  // Time sync: a reader an hour ahead is set back to the gateway's clock.
  Fault(1, "{\"clock_skew_s\":3600}");
  auto time = Call("POST", "/api/v1/devices/sim-1/time", operate_);
  ASSERT_EQ(time.status, 200) << time.body;
  auto skew = SimGet("/sim/readers/1").at("clock_skew_s").as_int64();
  EXPECT_LE(std::abs(skew), 2) << "reader clock still off by " << skew << " s";
  // Settings: typed write then read; a value out of the reader's range is its refusal (422).
  const std::string volume = "/api/v1/devices/sim-0/settings/launcher.device.volume.devicevolume";
  auto put = Call("PUT", volume, admin_, "{\"type\":\"int\",\"value\":7}");
  ASSERT_EQ(put.status, 200) << put.body;
  auto got = Call("GET", volume + "?type=int", admin_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Json(got).at("value").as_int64(), 7);
  ExpectProblem(Call("PUT", volume, admin_, "{\"type\":\"int\",\"value\":99}"), 422,
                "out of range");
  // Raw logs by id range, read from the reader itself.
  ASSERT_EQ(SimPost("/sim/readers/0/generate", "{\"recognitions\":5}"), 200);
  auto logs = Call("GET", "/api/v1/devices/sim-0/logs?min=1&max=3", operate_);
  ASSERT_EQ(logs.status, 200) << logs.body;
  const auto logs_json = Json(logs);
  for (const auto& e : logs_json.at("items").as_array()) {
    EXPECT_GE(e.at("id").as_int64(), 1);
    EXPECT_LE(e.at("id").as_int64(), 3);
  }
  EXPECT_FALSE(logs_json.at("items").as_array().empty());
  // Camera and firmware.
  EXPECT_EQ(
      Call("POST", "/api/v1/devices/sim-0/camera/start", operate_, "{\"face_mode\":true}").status,
      200);
  EXPECT_EQ(Call("POST", "/api/v1/devices/sim-0/camera/stop", operate_).status, 200);
  std::string image(2 * 1024 * 1024 + 17, '\x5a');  // three upload units
  auto fw =
      Call("POST", "/api/v1/devices/sim-1/firmware", admin_, image, "application/octet-stream");
  ASSERT_EQ(fw.status, 200) << fw.body;
  EXPECT_EQ(std::string(Json(fw).at("result").as_string()), "Upload success");
  EXPECT_EQ(Json(fw).at("bytes").as_int64(), static_cast<std::int64_t>(image.size()));
}

TEST_F(ApiTest, ReaderDownIs503AndHungReaderIs504WithinTheDeadline) {
  StartWithTokens(2, 0.5, "polling: { timeout_ms: 1000 }\n");
  Fault(0, "{\"down\":true}");
  // Every documented reader operation on a reader without power: 503 at once, not a hang.
  int checked = 0;
  for (const auto& op : DocumentedOperations()) {
    if (op.path.rfind("/api/v1/devices/sim-0/", 0) != 0) continue;
    auto start = std::chrono::steady_clock::now();
    ExpectProblem(Call(op.method, op.path, admin_, op.body, op.content_type), 503,
                  "reader down: " + op.method + " " + op.path);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << op.method << " " << op.path;
    ++checked;
  }
  EXPECT_GE(checked, 10);
  auto start = std::chrono::steady_clock::now();

  Fault(1, "{\"hang\":true}");
  start = std::chrono::steady_clock::now();
  auto hung = Call("POST", "/api/v1/devices/sim-1/apb/clear", operate_, "{\"all\":true}");
  ExpectProblem(hung, 504, "reader hung");
  // One request deadline, plus at most the poll in flight ahead of it.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  Fault(0, "{}");
  Fault(1, "{}");
  EXPECT_TRUE(WaitFor(
      [&] { return Call("POST", "/api/v1/devices/sim-1/time", operate_).status == 200; }, 10s))
      << gateway_.Log();
}

TEST_F(ApiTest, StreamAndReaderOperationLimitsAnswer429) {
  api_extra_suffix_ = ", max_streams: 1, max_reader_ops: 1";
  StartWithTokens(1, 0.5, "polling: { timeout_ms: 1500 }\n");
  // One stream open (kept by a thread reading it); the next subscriber is refused.
  std::atomic<bool> opened{false};
  std::thread first([&] {
    HttpClient client("127.0.0.1", api_port_, 3s);
    opened = true;
    client.RequestRaw("GET", "/api/v1/events/stream", 1 << 20, Bearer(read_));
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        return opened && Call("GET", "/metrics", read_).body.find("ef45gw_sse_subscribers 1") !=
                             std::string::npos;
      },
      5s));
  auto second = Call("GET", "/api/v1/events/stream", read_);
  ExpectProblem(second, 429, "second stream");
  EXPECT_EQ(second.headers.count("retry-after"), 1u);
  first.join();
  // A hung reader holds its one operation slot; the next operation is refused at once.
  Fault(0, "{\"hang\":true}");
  std::atomic<bool> done{false};
  std::thread slow([&] {  // keeps the slot taken: each call waits out the reader's deadline
    while (!done) Call("POST", "/api/v1/devices/sim-0/time", operate_);
  });
  EXPECT_TRUE(WaitFor(
      [&] { return Call("POST", "/api/v1/devices/sim-0/relay", operate_, "{}").status == 429; },
      15s));
  done = true;
  slow.join();
  Fault(0, "{}");
  EXPECT_TRUE(WaitFor(
      [&] { return Call("POST", "/api/v1/devices/sim-0/time", operate_).status == 200; }, 15s));
}

TEST_F(ApiTest, EventStreamsTakeAtMostHalfOfTheConnections) {
  // max_streams says 1000, but with 6 connections streams may hold 3: operators keep the rest.
  api_extra_suffix_ = ", max_connections: 6";
  StartWithTokens(1, 0.0);
  std::atomic<int> opened{0};
  std::vector<std::thread> streams;
  for (int i = 0; i < 3; ++i) {
    streams.emplace_back([&] {
      HttpClient client("127.0.0.1", api_port_, 4s);
      ++opened;
      client.RequestRaw("GET", "/api/v1/events/stream", 1 << 20, Bearer(read_));
    });
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return opened == 3 &&
               Call("GET", "/metrics", read_).body.find("ef45gw_sse_subscribers 3") !=
                   std::string::npos;
      },
      5s));
  auto fourth = Call("GET", "/api/v1/events/stream", read_);
  ExpectProblem(fourth, 429, "fourth stream");
  EXPECT_EQ(Call("GET", "/api/v1/devices", read_).status, 200);  // the API still answers
  for (auto& t : streams) t.join();
}

TEST_F(ApiTest, PaginationWhileEventsArriveMissesAndRepeatsNothing) {
  StartWithTokens(3, 15.0);
  std::vector<std::int64_t> seen;
  std::int64_t after = 0;
  auto page = [&] {
    auto r = Call("GET", "/api/v1/events?limit=7&after=" + std::to_string(after), read_);
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = Json(r);
    for (const auto& e : v.at("items").as_array()) seen.push_back(e.at("seq").as_int64());
    after = v.at("next").as_int64();
    return v.at("items").as_array().size();
  };
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) page();  // while events keep arriving
  PauseGeneration();
  ASSERT_TRUE(WaitDrained({0, 1, 2}, 60s));
  while (page() > 0) {
  }
  for (std::size_t i = 1; i < seen.size(); ++i) {
    ASSERT_LT(seen[i - 1], seen[i]) << "repeated or out of order at " << i;
  }
  auto all = Query(dsn_, "SELECT seq FROM events ORDER BY seq");
  ASSERT_EQ(seen.size(), all.size()) << "pages missed events";
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(seen[i], std::stoll(all[i][0]));
  for (int reader : {0, 1, 2}) ExpectExactlyOnce(reader);
}

long RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_F(ApiTest, SlowStreamConsumerIsCutOffAndMemoryStaysBounded) {
  StartWithTokens(2, 0.0);
  for (int reader : {0, 1}) {
    ASSERT_EQ(
        SimPost("/sim/readers/" + std::to_string(reader) + "/generate", "{\"recognitions\":4000}"),
        200);
  }
  ASSERT_TRUE(WaitDrained({0, 1}, 120s));
  const long rss_before = RssKb(gateway_.pid());
  // A consumer with a tiny receive window that never reads.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(api_port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string request =
      "GET /api/v1/events/stream?after=0 HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer " +
      read_ + "\r\n\r\n";
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // The server's write deadline (10 s) cuts it off; it is counted as a slow consumer.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto m = Call("GET", "/metrics", read_).body;
        return m.find("ef45gw_sse_disconnects_total{reason=\"slow_consumer\"} 1") !=
               std::string::npos;
      },
      30s));
  const long rss_after = RssKb(gateway_.pid());
  ::close(fd);
  EXPECT_LT(rss_after - rss_before, 64 * 1024)
      << "gateway grew by " << rss_after - rss_before << " kB for one stalled subscriber";
  // The gateway still serves everyone else.
  EXPECT_EQ(Call("GET", "/api/v1/events?limit=1", read_).status, 200);
}

TEST_F(ApiTest, ServesHttpsWithTheConfiguredCertificate) {
  TempDir tls;
  const std::string cert = tls.File("cert.pem");
  const std::string key = tls.File("key.pem");
  Shell(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " 2>/dev/null");
  ASSERT_FALSE(ReadFile(cert).empty());
  read_ = "read-secret";
  api_extra_ = ", tokens: [{ name: acs, role: read, sha256: " + Sha256(read_) +
               " }], tls: { cert: " + cert + ", key: " + key + " }";
  StartSim(1, 0.5);
  WriteConfig({0});
  StartGateway();
  const std::string base = "https://127.0.0.1:" + std::to_string(api_port_);
  auto curl = [&](const std::string& target, const std::string& token) {
    return Capture("curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert " + cert +
                   (token.empty() ? "" : " -H 'Authorization: Bearer " + token + "'") + " " + base +
                   target);
  };
  ASSERT_TRUE(WaitFor([&] { return curl("/readyz", "") == "200"; }, 60s)) << gateway_.Log();
  EXPECT_EQ(curl("/api/v1/devices", read_), "200");
  EXPECT_EQ(curl("/api/v1/devices", ""), "401");
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(HttpRequest(api_port_, "GET", "/healthz").status, 0);
}

// ---- issue 15: secure by default, and on record ----

/// The listen address in the written config, replaced (the fixture writes 127.0.0.1).
void Relisten(const std::string& file, std::uint16_t port, const std::string& host) {
  auto text = ReadFile(file);
  const std::string from = "127.0.0.1:" + std::to_string(port);
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, from.size(), host + ":" + std::to_string(port));
  WriteFile(file, text);
}

TEST_F(ApiTest, RefusesToStartOffLoopbackWithoutTokensOrTlsUnlessTold) {
  StartSim(1, 0.0);
  struct Case {
    std::string api_extra;
    std::vector<std::string> reasons;  // empty: starts
  };
  const std::string token = ", tokens: [{ name: acs, role: read, sha256: " + Sha256("x") + " }]";
  const std::vector<Case> cases = {
      {"", {"without tokens", "api.insecure_open", "plain HTTP", "api.allow_plaintext"}},
      {token, {"plain HTTP", "api.allow_plaintext"}},
      {", allow_plaintext: true", {"without tokens", "api.insecure_open"}},
      {", insecure_open: true", {"plain HTTP"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.api_extra);
    api_extra_ = c.api_extra;
    WriteConfig({0});
    Relisten(dir_->File("gateway.yaml"), api_port_, "0.0.0.0");
    auto out = Capture("timeout 30 " + BinaryDir() + "/daemon/ef45-gatewayd run --config " +
                       dir_->File("gateway.yaml") + " 2>&1; echo rc=$?");
    EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
    for (const auto& reason : c.reasons) EXPECT_NE(out.find(reason), std::string::npos) << out;
  }
  // Both keys given: it starts, warns, and says so in /metrics.
  api_extra_ = ", insecure_open: true, allow_plaintext: true";
  WriteConfig({0});
  Relisten(dir_->File("gateway.yaml"), api_port_, "0.0.0.0");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  EXPECT_NE(Call("GET", "/metrics", "").body.find("ef45gw_api_insecure 1"), std::string::npos);
  EXPECT_NE(gateway_.Log().find("open to EVERY caller on the network"), std::string::npos);
}

TEST_F(ApiTest, QuickStartOnLoopbackStillNeedsNoToken) {
  StartSim(1, 0.0);
  WriteConfig({0});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  EXPECT_EQ(Call("GET", "/api/v1/devices", "").status, 200);
  EXPECT_NE(Call("GET", "/metrics", "").body.find("ef45gw_api_insecure 0"), std::string::npos);
}

/// The audit event of request `request_id`: its payload, or null when there is none.
json::value AuditOf(const std::string& dsn, const std::string& request_id) {
  auto rows = Query(dsn,
                    "SELECT payload::text, device_id, coalesce(user_uuid, '') FROM events "
                    "WHERE kind = 'audit' AND payload->>'request_id' = '" +
                        request_id + "'");
  if (rows.size() != 1) return nullptr;
  auto v = json::parse(rows[0][0]);
  v.as_object()["@device_id"] = rows[0][1];
  v.as_object()["@user_uuid"] = rows[0][2];
  return v;
}

TEST_F(ApiTest, EveryOperatorActionAnd401And403IsAnAuditEventCommittedBeforeTheAnswer) {
  StartWithTokens(1, 0.0);
  json::object user{
      {"user_uuid", "u-audit"},
      {"subject", json::object{{"first_name", "Ada"}, {"left_eye_template", "VEVNUExBVEU="}}},
      {"user_info", json::object{{"card", "0A 0B 0C 0D"}, {"pin", "24681357"}}}};
  struct Case {
    std::string method, target, token, body, content_type;
    std::string route, actor, role, target_field;
    int status;
  };
  const std::string dev = "/api/v1/devices/sim-0";
  const std::string base = "/api/v1/devices/{id}";
  const std::string volume = "launcher.device.volume.devicevolume";
  const std::vector<Case> cases = {
      {"POST", dev + "/relay", operate_, "{\"duration_s\":3}", "application/json", base + "/relay",
       "ops", "operate", "", 200},
      // The reader does not know u-apb (404): failed operations are on record too.
      {"POST", dev + "/apb/clear", operate_, "{\"user_uuid\":\"u-apb\"}", "application/json",
       base + "/apb/clear", "ops", "operate", "u-apb", 404},
      {"POST", dev + "/time", operate_, "", "", base + "/time", "ops", "operate", "", 200},
      {"POST", dev + "/camera/start", operate_, "{\"face_mode\":true}", "application/json",
       base + "/camera/start", "ops", "operate", "", 200},
      {"POST", dev + "/camera/stop", operate_, "", "", base + "/camera/stop", "ops", "operate", "",
       200},
      {"PUT", dev + "/settings/" + volume, admin_, "{\"type\":\"int\",\"value\":5}",
       "application/json", base + "/settings/{title}", "root", "admin", volume, 200},
      {"PUT", "/api/v1/users/u-audit", admin_, json::serialize(user), "application/json",
       "/api/v1/users/{user_uuid}", "root", "admin", "u-audit", 201},
      {"GET", "/api/v1/users/u-audit", admin_, "", "", "/api/v1/users/{user_uuid}", "root", "admin",
       "u-audit", 200},
      {"GET", dev + "/capture", admin_, "", "", base + "/capture", "root", "admin", "", 200},
      // Last of the reader operations: the reader installs the image and reboots.
      {"POST", dev + "/firmware", admin_, std::string(1000, 'Z'), "application/octet-stream",
       base + "/firmware", "root", "admin", "", 200},
      {"DELETE", "/api/v1/users/u-audit", admin_, "", "", "/api/v1/users/{user_uuid}", "root",
       "admin", "u-audit", 200},
      // Refusals: 401 without a token, 403 with a weak one.
      {"POST", dev + "/relay", "", "{}", "application/json", base + "/relay", "anonymous", "none",
       "", 401},
      {"POST", dev + "/relay", read_, "{}", "application/json", base + "/relay", "acs", "read", "",
       403},
      {"GET", "/api/v1/users/u-x", "wrong-token", "", "", "/api/v1/users/{user_uuid}", "anonymous",
       "none", "u-x", 401},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.target);
    auto r = Call(c.method, c.target, c.token, c.body, c.content_type);
    ASSERT_EQ(r.status, c.status) << r.body;
    ASSERT_EQ(r.headers.count("x-request-id"), 1u);
    // No waiting: the event is committed before the answer was sent.
    auto audit = AuditOf(dsn_, r.headers.at("x-request-id"));
    ASSERT_TRUE(audit.is_object()) << "no audit event for " << r.headers.at("x-request-id");
    EXPECT_EQ(audit.at("actor"), c.actor.c_str());
    EXPECT_EQ(audit.at("role"), c.role.c_str());
    EXPECT_EQ(audit.at("method"), c.method.c_str());
    EXPECT_EQ(audit.at("route"), c.route.c_str());
    EXPECT_EQ(audit.at("status").to_number<int>(), c.status);
    EXPECT_EQ(audit.at("remote_addr"), "127.0.0.1");
    const bool on_reader = c.target.rfind(dev, 0) == 0;
    EXPECT_EQ(audit.at("device_id"), on_reader ? json::value("sim-0") : json::value(nullptr));
    EXPECT_EQ(audit.at("@device_id"), on_reader ? "sim-0" : "@gateway");
    EXPECT_EQ(audit.at("target"),
              c.target_field.empty() ? json::value(nullptr) : json::value(c.target_field));
  }
  // Reads by non-admins and unaudited reads leave nothing.
  auto plain = Call("GET", "/api/v1/devices", read_);
  EXPECT_TRUE(AuditOf(dsn_, plain.headers.at("x-request-id")).is_null());
  // Never a token or biometric data or a credential in the trail.
  auto all = Query(dsn_, "SELECT string_agg(payload::text, ' ') FROM events WHERE kind = 'audit'");
  for (const std::string& secret :
       {read_, operate_, admin_, std::string("wrong-token"), std::string("VEVNUExBVEU="),
        std::string("24681357"), std::string("0A 0B 0C 0D")}) {
    EXPECT_EQ(all[0][0].find(secret), std::string::npos) << secret;
  }
  // The trail is in /events like any other event.
  auto listed = Json(Call("GET", "/api/v1/events?kind=audit&limit=100", read_));
  EXPECT_EQ(listed.at("items").as_array().size(), cases.size());
  auto by_user = Json(Call("GET", "/api/v1/events?kind=audit&user=u-audit", read_));
  EXPECT_EQ(by_user.at("items").as_array().size(), 3u);
}

TEST_F(ApiTest, JsonRoutesRefuseOtherContentTypesAndBrowserWrites) {
  StartWithTokens(1, 0.0);
  const std::string relay = "/api/v1/devices/sim-0/relay";
  ExpectProblem(Call("POST", relay, operate_, "{}", "text/plain"), 415, "text/plain");
  ExpectProblem(Call("POST", relay, operate_, "duration_s=5", "application/x-www-form-urlencoded"),
                415, "form");
  ExpectProblem(Call("POST", "/api/v1/devices/sim-0/firmware", admin_, "AAAA", "application/json"),
                415, "firmware as JSON");
  // A web page's request carries an Origin: refused even on loopback without tokens.
  auto r = HttpRequest(api_port_, "POST", relay, "{}",
                       {{"Authorization", "Bearer " + operate_},
                        {"Content-Type", "application/json"},
                        {"Origin", "http://intranet.example"}});
  ExpectProblem(r, 403, "cross-origin");
  EXPECT_EQ(Call("POST", relay, operate_, "{}", "application/json; charset=utf-8").status, 200);
  // Identifiers in paths, queries and bodies.
  ExpectProblem(Call("POST", "/api/v1/devices/sim-0/apb/clear", operate_, "{\"user_uuid\":\"..\"}"),
                400, "apb ..");
  ExpectProblem(
      Call("POST", "/api/v1/devices/sim-0/apb/clear", operate_, "{\"user_uuid\":\"a b\"}"), 400,
      "apb space");
  ExpectProblem(Call("GET", "/api/v1/users/..", admin_), 400, "path ..");
  ExpectProblem(Call("GET", "/api/v1/events?user=a%0Ab", read_), 400, "query newline");
  ExpectProblem(Call("GET", "/api/v1/sync/plan?device=..", admin_), 400, "plan ..");
}

TEST_F(ApiTest, RandomMethodsAndPathsAddNoMetricSeries) {
  StartWithTokens(1, 0.0);
  auto series = [&] {
    auto body = Call("GET", "/metrics", read_).body;
    std::istringstream lines(body);
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("ef45gw_api_request", 0) == 0) ++n;
    }
    return n;
  };
  // One of each kind first: what random requests can produce is then already there.
  Call("XKCD", "/api/v1/nothing", "");
  Call("XKCD", "/api/v1/devices", "");
  Call("GET", "/api/v1/nothing", "");
  Call("GET", "/metrics", read_);
  const int before = series();
  std::mt19937 random(15);
  auto word = [&](int min, int max, const char* alphabet, int size) {
    std::string out(static_cast<std::size_t>(std::uniform_int_distribution<>(min, max)(random)),
                    'X');
    for (auto& c : out) c = alphabet[std::uniform_int_distribution<>(0, size - 1)(random)];
    return out;
  };
  HttpClient client("127.0.0.1", api_port_, 2s);
  for (int i = 0; i < 1000; ++i) {
    auto method = word(3, 14, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26);
    for (const char* known : {"GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS"}) {
      if (method == known) method = "XKCD";
    }
    auto path = "/api/v1/" + word(1, 30, "abcdefghijklmnopqrstuvwxyz0123456789-_", 38);
    auto r = client.Request(i % 2 ? method : "GET", path, "", Bearer(i % 3 ? read_ : "bad"));
    ASSERT_NE(r.status, 0) << i << " " << method << " " << path << ": " << r.error;
  }
  EXPECT_EQ(series(), before);
  EXPECT_EQ(Call("GET", "/metrics", read_).body.find("XKCD"), std::string::npos);
}

TEST_F(ApiTest, SyncPlanIsAdminOnlyAndOneAtATimePerReader) {
  StartWithTokens(1, 0.0);
  const std::string plan = "/api/v1/sync/plan?device=sim-0";
  ExpectProblem(Call("GET", plan, operate_), 403, "operate");
  ASSERT_EQ(Call("GET", plan, admin_).status, 200);
  // A slow reader keeps a dry run going for seconds: concurrent ones for it are refused.
  Fault(0, "{\"latency_ms\":300}");
  std::vector<int> statuses(3, 0);
  std::vector<std::thread> callers;
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    callers.emplace_back([&, i] {
      HttpClient client("127.0.0.1", api_port_, 30s);
      statuses[i] = client.Request("GET", plan, "", Bearer(admin_)).status;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 1)
      << statuses[0] << " " << statuses[1] << " " << statuses[2];
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 2);
  Fault(0, "{}");
  EXPECT_EQ(Call("GET", plan, admin_).status, 200);  // the slot is free again
}

TEST_F(ApiTest, TokensAreReloadedOnSighupAndExpire) {
  const std::string tokens_file = dir_->File("tokens.yaml");
  const auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  const std::string soon = FormatIso8601(now + std::chrono::seconds(25));
  WriteFile(tokens_file, "- { name: acs, role: read, sha256: " + Sha256("first") +
                             " }\n- { name: temp, role: read, sha256: " + Sha256("temp") +
                             ", expires: \"" + soon + "\" }\n");
  ::chmod(tokens_file.c_str(), 0600);
  api_extra_ = ", tokens_file: \"" + tokens_file + "\"";
  StartSim(1, 0.0);
  WriteConfig({0});
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  EXPECT_EQ(Call("GET", "/api/v1/devices", "first").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/devices", "").status, 401);
  // The temporary token works until its expiry, then is refused.
  EXPECT_EQ(Call("GET", "/api/v1/devices", "temp").status, 200);
  EXPECT_TRUE(
      WaitFor([&] { return Call("GET", "/api/v1/devices", "temp").status == 401; }, 45s, 200ms));
  // Revoke "first", add "second": SIGHUP, no restart.
  const auto pid = gateway_.pid();
  WriteFile(tokens_file, "- { name: other, role: admin, sha256: " + Sha256("second") + " }\n");
  ::chmod(tokens_file.c_str(), 0600);
  gateway_.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Call("GET", "/api/v1/devices", "first").status == 401 &&
               Call("GET", "/api/v1/devices", "second").status == 200;
      },
      15s))
      << gateway_.Log();
  EXPECT_EQ(gateway_.pid(), pid);
  // A reload with a duplicate hash is refused: the running tokens stay.
  WriteFile(tokens_file, "- { name: a, role: admin, sha256: " + Sha256("second") +
                             " }\n- { name: b, role: read, sha256: " + Sha256("second") + " }\n");
  ::chmod(tokens_file.c_str(), 0600);
  gateway_.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] { return gateway_.Log().find("same hash as an earlier token") != std::string::npos; },
      15s))
      << gateway_.Log();
  EXPECT_EQ(Call("GET", "/api/v1/devices", "second").status, 200);
  // The token never reaches the log.
  EXPECT_EQ(gateway_.Log().find("second\""), std::string::npos);
}

}  // namespace
}  // namespace gw::test
