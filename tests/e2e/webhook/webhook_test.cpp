// Webhooks end to end (issue 19): the real gateway and simulator, a receiver in the test that
// checks every signature with its own HMAC. At least once, in seq order, nothing lost: through
// receiver outages, 500s, timeouts, a slow receiver, filters, replay, a retention gap, a secret
// rotation and a SIGKILL of the gateway in the middle of a delivery.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <set>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "receiver.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const char* kWebhooksYaml =
    "webhooks: { allow: [\"127.0.0.1/32\"], timeout_ms: 500, max_backoff_ms: 1500 }\n";

/// The seqs a message carries (one event, or {"items": [...]}); none for a gap message.
std::vector<std::int64_t> Seqs(const std::string& body) {
  std::vector<std::int64_t> out;
  auto v = json::parse(body);
  if (v.as_object().contains("items")) {
    for (const auto& item : v.at("items").as_array()) out.push_back(item.at("seq").as_int64());
  } else if (v.as_object().contains("seq")) {
    out.push_back(v.at("seq").as_int64());
  }
  return out;
}

struct Hook {
  std::string id;
  std::string secret;
  std::string path;
  std::int64_t start = 0;  ///< its cursor at creation
  Receiver* rx = nullptr;  ///< where it points; nullptr: the test's receiver_
};

/// Runs a shell command (the openssl CLI); false if it failed.
bool Run(const std::string& command) {
  return std::system((command + " 2>/dev/null").c_str()) == 0;
}

/// A private CA and certificates made for the test with the openssl CLI, in `dir`:
/// ca.pem (the CA the gateway trusts through SSL_CERT_FILE), server.pem/.key (issued by it to
/// DNS:localhost only, so https://127.0.0.1 is the wrong name) and rogue.pem/.key (self-signed
/// for localhost: no trusted issuer).
bool MakeCertificates(const std::string& dir) {
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 ";
  WriteFile(dir + "/server.ext",
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n");
  return Run("cd " + dir + " && openssl req -x509" + ec +
             "-keyout ca.key -out ca.pem -subj /CN=ef45gw-test-ca "
             "-addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign,cRLSign") &&
         Run("cd " + dir + " && openssl req" + ec +
             "-keyout server.key -out server.csr -subj /CN=localhost") &&
         Run("cd " + dir +
             " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -out server.pem -extfile server.ext") &&
         Run("cd " + dir + " && openssl req -x509" + ec +
             "-keyout rogue.key -out rogue.pem -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost");
}

class WebhookTest : public GatewayTest {
 protected:
  void Start(int readers, double rate, double door_rate = 0.2) {
    StartSim(readers, rate, door_rate);
    WriteConfig(Range(readers), kWebhooksYaml);
    StartGateway();
    ASSERT_TRUE(WaitReady()) << gateway_.Log();
  }

  HttpResult Api(const std::string& method, const std::string& target,
                 const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return HttpRequest(api_port_, method, target, body, headers);
  }

  Hook Create(const std::string& path, const std::string& fields = "") {
    return Create(receiver_, receiver_.Url(path), path, fields);
  }

  /// A subscription to `url` (served by `rx` at `path`).
  Hook Create(Receiver& rx, const std::string& url, const std::string& path,
              const std::string& fields = "") {
    auto r = Api("POST", "/api/v1/webhooks", "{\"url\":\"" + url + "\"" + fields + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return {};
    auto v = json::parse(r.body);
    Hook h{std::string(v.at("id").as_string()), std::string(v.at("secret").as_string()), path,
           v.at("cursor").as_int64(), &rx};
    rx.AddSecret(path, h.secret);
    return h;
  }

  json::value Get(const Hook& h) {
    auto r = Api("GET", "/api/v1/webhooks/" + h.id);
    return r.status == 200 ? json::parse(r.body) : json::value(nullptr);
  }

  /// Seqs of stored events after `after` matching an SQL condition.
  std::vector<std::int64_t> Stored(std::int64_t after, const std::string& where = "true") {
    std::vector<std::int64_t> out;
    for (const auto& row :
         Query(dsn_, "SELECT seq FROM events WHERE seq > " + std::to_string(after) + " AND (" +
                         where + ") ORDER BY seq")) {
      out.push_back(std::stoll(row[0]));
    }
    return out;
  }

  /// Seqs answered 2xx for `path`, in the order they were delivered (duplicates kept).
  std::vector<std::int64_t> Acked(const std::string& path, std::size_t from = 0,
                                  const Receiver* rx = nullptr) {
    std::vector<std::int64_t> out;
    auto all = (rx ? *rx : receiver_).For(path);
    for (std::size_t i = from; i < all.size(); ++i) {
      if (all[i].answered < 200 || all[i].answered >= 300) continue;
      for (auto s : Seqs(all[i].body)) out.push_back(s);
    }
    return out;
  }

  /// Waits until every stored event after h.start matching `where` was acked for h.
  bool WaitAllDelivered(const Hook& h, const std::string& where = "true",
                        std::chrono::seconds deadline = 60s) {
    return WaitFor(
        [&] {
          auto acked = Acked(h.path, 0, h.rx);
          std::set<std::int64_t> got(acked.begin(), acked.end());
          for (auto s : Stored(h.start, where)) {
            if (!got.count(s)) return false;
          }
          return true;
        },
        deadline, 100ms);
  }

  /// Every request carried at least one signature that verifies with a secret of its path.
  void ExpectAllSigned(const std::string& path, const Receiver* rx = nullptr) {
    auto all = (rx ? *rx : receiver_).For(path);
    EXPECT_FALSE(all.empty());
    for (const auto& r : all) {
      EXPECT_GE(r.valid_signatures, 1) << r.id << " " << r.signature;
      EXPECT_FALSE(r.id.empty());
      EXPECT_FALSE(r.timestamp.empty());
    }
  }

  /// The order of first deliveries is the seq order: nothing was passed and sent later.
  static void ExpectFirstDeliveriesInOrder(const std::vector<std::int64_t>& acked) {
    std::set<std::int64_t> seen;
    std::int64_t last = 0;
    for (auto s : acked) {
      if (!seen.insert(s).second) continue;
      EXPECT_GT(s, last) << "seq " << s << " first delivered after " << last;
      last = std::max(last, s);
    }
  }

  double Metric(const std::string& series) {
    auto text = HttpRequest(api_port_, "GET", "/metrics").body;
    auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(text.substr(pos + series.size() + 2));
  }

  Receiver receiver_;
};

TEST_F(WebhookTest, CatchesUpInOrderAfterOutagesErrorsAndTimeoutsWithNothingLost) {
  Start(2, 5.0);
  // The first requests fail: three 500s, two answers slower than timeout_ms (500), then slow
  // but in time; then the receiver is down for a while.
  auto count = std::make_shared<int>(0);
  receiver_.SetPolicy([count](const Received&) {
    int n = (*count)++;
    if (n < 3) return Answer{500};
    if (n < 5) return Answer{503, 800ms};  // too late: the gateway gave up at 500 ms
    if (n < 10) return Answer{200, 100ms};
    return Answer{200};
  });
  auto single = Create("/single");
  auto batched = Create("/batched", ",\"batch_max\":20");
  LetRun(3s);
  receiver_.Down();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = Get(single);
        return v.is_object() && v.at("state").as_string() == "failing" &&
               v.at("last_error").is_string();
      },
      20s))
      << json::serialize(Get(single));
  LetRun(4s);
  receiver_.Up();
  LetRun(2s);
  PauseGeneration();
  ASSERT_TRUE(WaitAllDelivered(single)) << gateway_.Log();
  ASSERT_TRUE(WaitAllDelivered(batched)) << gateway_.Log();
  for (const auto& h : {single, batched}) {
    SCOPED_TRACE(h.path);
    ExpectAllSigned(h.path);
    auto acked = Acked(h.path);
    // No SIGKILL here: not even a duplicate. Strictly increasing.
    for (std::size_t i = 1; i < acked.size(); ++i) EXPECT_LT(acked[i - 1], acked[i]);
    EXPECT_GT(acked.size(), 20u);
  }
  // A retried message keeps its webhook-id.
  auto requests = receiver_.For("/single");
  ASSERT_GE(requests.size(), 4u);
  EXPECT_EQ(requests[0].answered, 500);
  EXPECT_TRUE(requests[0].id == requests[1].id || requests[1].path != requests[0].path);
  std::set<std::string> ok_ids;
  for (const auto& r : receiver_.For("/batched")) {
    if (r.answered == 200) {
      EXPECT_TRUE(ok_ids.insert(r.id).second) << "id acked twice " << r.id;
    }
  }
  // Batches carry up to 20 events.
  bool saw_batch = false;
  for (const auto& r : receiver_.For("/batched")) saw_batch |= Seqs(r.body).size() > 1;
  EXPECT_TRUE(saw_batch);
  ASSERT_TRUE(WaitFor(
      [&] { return Metric("ef45gw_webhook_lag_events{webhook=\"" + single.id + "\"}") == 0; },
      10s));
  auto metrics = HttpRequest(api_port_, "GET", "/metrics").body;
  for (const char* result : {"success", "http_5xx", "timeout", "connection_error"}) {
    EXPECT_NE(metrics.find("result=\"" + std::string(result) + "\""), std::string::npos) << result;
  }
  EXPECT_NE(metrics.find("ef45gw_webhook_state{state=\"active\",webhook=\"" + single.id + "\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("ef45gw_webhook_delivery_seconds_count"), std::string::npos);
  EXPECT_EQ(Get(single).at("state").as_string(), "active");
}

TEST_F(WebhookTest, FiltersReplayRetentionGapAndSecretRotation) {
  Start(3, 4.0, 1.0);
  auto filtered = Create("/filtered", ",\"kinds\":[\"door\"],\"devices\":[\"sim-1\"]");
  auto all = Create("/all", ",\"batch_max\":5");
  LetRun(4s);
  PauseGeneration();
  const std::string where = "kind = 'door' AND device_id = 'sim-1'";
  ASSERT_TRUE(WaitAllDelivered(filtered, where)) << gateway_.Log();
  ASSERT_TRUE(WaitAllDelivered(all)) << gateway_.Log();
  ExpectAllSigned("/filtered");
  {
    auto acked = Acked("/filtered");
    ASSERT_FALSE(acked.empty());
    auto matching = Stored(filtered.start, where);
    std::set<std::int64_t> allowed(matching.begin(), matching.end());
    for (auto s : acked) EXPECT_TRUE(allowed.count(s)) << "seq " << s << " passed the filters";
    // The filters skipped the other events: the cursor still reached the newest seq.
    ASSERT_TRUE(WaitFor(
        [&] {
          return Get(filtered).at("cursor").as_int64() ==
                 std::stoll(Scalar(dsn_, "SELECT max(seq) FROM events"));
        },
        10s));
  }

  // Replay: back to where it started; everything again, in order.
  const auto before_replay = receiver_.For("/all").size();
  auto r = Api("POST", "/api/v1/webhooks/" + all.id + "/replay",
               "{\"after\":" + std::to_string(all.start) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto again = Acked("/all", before_replay);
        std::set<std::int64_t> got(again.begin(), again.end());
        for (auto s : Stored(all.start)) {
          if (!got.count(s)) return false;
        }
        return true;
      },
      60s));
  {
    auto again = Acked("/all", before_replay);
    for (std::size_t i = 1; i < again.size(); ++i) EXPECT_LT(again[i - 1], again[i]);
  }

  // A gap: events the subscription has not got are deleted (as retention would) while it is
  // paused; on resume it gets one `gap` message naming the range, then what is left.
  ASSERT_EQ(Api("PATCH", "/api/v1/webhooks/" + all.id, R"({"state":"paused"})").status, 200);
  ResumeGeneration();
  const auto cursor = Get(all).at("cursor").as_int64();
  ASSERT_TRUE(WaitFor([&] { return Stored(cursor).size() > 8; }, 20s));
  PauseGeneration();
  Query(dsn_, "DELETE FROM events WHERE seq > " + std::to_string(cursor) +
                  " AND seq <= " + std::to_string(cursor + 3));
  const auto before_gap = receiver_.For("/all").size();
  ASSERT_EQ(Api("PATCH", "/api/v1/webhooks/" + all.id, R"({"state":"active"})").status, 200);
  ASSERT_TRUE(WaitFor([&] { return receiver_.For("/all").size() > before_gap + 1; }, 20s));
  {
    auto after = receiver_.For("/all");
    auto gap = json::parse(after[before_gap].body);
    EXPECT_EQ(gap.at("kind").as_string(), "gap") << after[before_gap].body;
    EXPECT_EQ(gap.at("missing_from_seq").as_int64(), cursor + 1);
    EXPECT_EQ(gap.at("missing_to_seq").as_int64(), cursor + 3);
    EXPECT_GE(after[before_gap].valid_signatures, 1);
    all.start = cursor;
    ASSERT_TRUE(WaitAllDelivered(all));
  }

  // Rotation: the answer has the new secret; from then on both secrets sign each request.
  r = Api("POST", "/api/v1/webhooks/" + all.id + "/rotate-secret");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string new_secret(json::parse(r.body).at("secret").as_string());
  EXPECT_NE(new_secret, all.secret);
  receiver_.AddSecret("/all", new_secret);
  // The secret is never shown again.
  EXPECT_EQ(Api("GET", "/api/v1/webhooks/" + all.id).body.find("whsec_"), std::string::npos);
  EXPECT_EQ(Api("GET", "/api/v1/webhooks").body.find("whsec_"), std::string::npos);
  const auto before_rotation = receiver_.For("/all").size();
  ResumeGeneration();
  ASSERT_TRUE(WaitFor([&] { return receiver_.For("/all").size() > before_rotation + 2; }, 20s));
  auto rotated = receiver_.For("/all");
  for (std::size_t i = before_rotation; i < rotated.size(); ++i) {
    EXPECT_EQ(rotated[i].valid_signatures, 2) << rotated[i].signature;
    ASSERT_EQ(rotated[i].verified_by.size(), 2u);
    EXPECT_EQ(rotated[i].verified_by[0], new_secret);  // the new one first
    EXPECT_EQ(rotated[i].verified_by[1], all.secret);
  }
}

TEST_F(WebhookTest, ASigkilledGatewayResumesFromTheCommittedCursor) {
  Start(2, 10.0);
  receiver_.SetPolicy([](const Received&) { return Answer{200, 60ms}; });  // slow: a backlog
  auto hook = Create("/kill");
  ASSERT_TRUE(WaitFor([&] { return Acked("/kill").size() >= 15; }, 30s));
  KillGateway();  // a request is in flight or about to be
  const auto committed =
      std::stoll(Scalar(dsn_, "SELECT cursor_seq FROM webhooks WHERE id = '" + hook.id + "'"));
  const auto acked_before = Acked("/kill");
  const auto requests_before = receiver_.For("/kill").size();
  ASSERT_FALSE(acked_before.empty());
  EXPECT_GE(acked_before.back(), committed);  // acked, maybe not committed: sent again
  receiver_.SetPolicy([](const Received&) { return Answer{200}; });
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  LetRun(2s);
  PauseGeneration();
  ASSERT_TRUE(WaitAllDelivered(hook)) << gateway_.Log();
  ExpectAllSigned("/kill");
  ExpectFirstDeliveriesInOrder(Acked("/kill"));
  // The first request after the restart starts right after the committed cursor: not from the
  // subscription's start (resumed) and nothing after it skipped.
  auto after = receiver_.For("/kill");
  ASSERT_GT(after.size(), requests_before);
  auto first = Seqs(after[requests_before].body);
  ASSERT_FALSE(first.empty());
  auto expected = Stored(committed);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(first.front(), expected.front());
  // Duplicates are at most what was acked but not committed.
  const auto acked = Acked("/kill");
  const auto unique = std::set<std::int64_t>(acked.begin(), acked.end()).size();
  RecordProperty("duplicates_after_sigkill", static_cast<int>(acked.size() - unique));
  EXPECT_LE(acked.size() - unique, 2u);
}

TEST_F(WebhookTest, HttpsVerifiesTheCertificateAndRetriesWhatItRefuses) {
  ASSERT_TRUE(MakeCertificates(dir_->path())) << "openssl CLI failed";
  // The private CA is the gateway's whole trust store (OpenSSL's default verify paths honour
  // SSL_CERT_FILE): the system's CAs do not matter here.
  gateway_env_ = {"SSL_CERT_FILE=" + dir_->File("ca.pem")};
  Receiver tls({dir_->File("server.pem"), dir_->File("server.key")});
  Receiver rogue({dir_->File("rogue.pem"), dir_->File("rogue.key")});
  Start(2, 5.0);
  auto trusted = Create(tls, tls.Url("/tls", "localhost"), "/tls");
  auto wrong_name = Create(tls, tls.Url("/wrong-name"), "/wrong-name");  // 127.0.0.1
  auto untrusted = Create(rogue, rogue.Url("/untrusted", "localhost"), "/untrusted");
  auto error_of = [&](const Hook& h) {
    auto v = Get(h);
    return v.is_object() && v.at("last_error").is_string()
               ? std::string(v.at("last_error").as_string())
               : std::string();
  };
  // Refused certificates: failing, a last_error that says why, retried (several handshakes),
  // nothing received and the cursor where it was.
  ASSERT_TRUE(WaitFor(
      [&] {
        return error_of(wrong_name).find("IP address mismatch") != std::string::npos &&
               error_of(untrusted).find("certificate not trusted") != std::string::npos &&
               rogue.handshakes_failed() >= 3 && tls.handshakes_failed() >= 3;
      },
      30s))
      << error_of(wrong_name) << " / " << error_of(untrusted) << "\n"
      << gateway_.Log();
  for (const auto& h : {wrong_name, untrusted}) {
    auto v = Get(h);
    EXPECT_EQ(v.at("state").as_string(), "failing") << h.path;
    EXPECT_EQ(v.at("cursor").as_int64(), h.start) << h.path;
    EXPECT_TRUE(h.rx->For(h.path).empty()) << h.path;
  }
  // The trusted one is delivered, in order, signed, over a few kept-alive connections.
  LetRun(2s);
  PauseGeneration();
  ASSERT_TRUE(WaitAllDelivered(trusted)) << gateway_.Log();
  ExpectAllSigned("/tls", &tls);
  auto acked = Acked("/tls", 0, &tls);
  ASSERT_GT(acked.size(), 10u);
  for (std::size_t i = 1; i < acked.size(); ++i) EXPECT_LT(acked[i - 1], acked[i]);
  // Handshakes: the trusted connections (kept alive, so far fewer than the requests).
  EXPECT_LT(tls.handshakes_ok(), static_cast<int>(acked.size()) / 2);
  // Nothing was skipped while it failed: pointed at the trusted receiver, the refused one gets
  // everything from where it stood.
  tls.AddSecret("/untrusted", untrusted.secret);
  ASSERT_EQ(Api("PATCH", "/api/v1/webhooks/" + untrusted.id,
                "{\"url\":\"" + tls.Url("/untrusted", "localhost") + "\"}")
                .status,
            200);
  untrusted.rx = &tls;
  ASSERT_TRUE(WaitAllDelivered(untrusted)) << gateway_.Log();
  auto first = Acked("/untrusted", 0, &tls);
  auto expected = Stored(untrusted.start);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.front(), expected.front());
  ExpectAllSigned("/untrusted", &tls);
}

TEST_F(WebhookTest, BadInputIsAProblemNamingTheField) {
  Start(1, 0.5);
  struct Case {
    std::string body, field;
    int status;
  };
  const std::vector<Case> cases = {
      {R"({"kinds":[]})", "url", 400},
      {R"({"url":"ftp://127.0.0.1/"})", "url", 400},
      {R"({"url":"http://10.9.9.9/"})", "url", 422},
      {R"({"url":"https://10.9.9.9/"})", "url", 422},
      {R"({"url":"http://127.0.0.1/","kinds":["nope"]})", "kinds", 400},
      {R"({"url":"http://127.0.0.1/","devices":["a b"]})", "devices", 400},
      {R"({"url":"http://127.0.0.1/","batch_max":0})", "batch_max", 400},
      {R"({"url":"http://127.0.0.1/","batch_max":101})", "batch_max", 400},
      {R"({"url":"http://127.0.0.1/","colour":"red"})", "colour", 400},
  };
  for (const auto& c : cases) {
    auto r = Api("POST", "/api/v1/webhooks", c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/problem+json") << c.body;
    EXPECT_NE(r.body.find("\"field\":\"" + c.field + "\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(Api("GET", "/api/v1/webhooks/nope").status, 404);
  EXPECT_EQ(Api("DELETE", "/api/v1/webhooks/nope").status, 404);
  auto h = Create("/x");
  EXPECT_EQ(Api("DELETE", "/api/v1/webhooks/" + h.id).status, 204);
  EXPECT_EQ(Api("GET", "/api/v1/webhooks/" + h.id).status, 404);
  // Every change is an audit event naming the subscription.
  EXPECT_EQ(
      Scalar(dsn_, "SELECT count(*) FROM events WHERE kind = 'audit' AND payload->>'target' = '" +
                       h.id + "'"),
      "2");
  // The secret never reaches the log.
  EXPECT_EQ(gateway_.Log().find(h.secret.substr(6)), std::string::npos);
}

}  // namespace
}  // namespace gw::test
