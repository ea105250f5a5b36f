// User sync end to end: the real ef45-gatewayd, ef45-sim and PostgreSQL. Reader contents are
// checked through the simulator's control API (GET /sim/readers/{i}/users), never through the
// gateway.
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "e2e/gateway/gateway_fixture.hpp"
#include "pg/pg_fixture.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

/// Fast rounds for tests: short audits and imports, a high call rate, big pages.
constexpr char kSyncYaml[] =
    "sync: { policy: POLICY, import: IMPORT, audit_ms: 3000, inventory_ms: 1000, "
    "max_ops_per_second: 5000, page_size: 1000 }\n"
    "polling: { logs_ms: 500, health_ms: 2000, timeout_ms: 1000 }\n";

/// `import_policy`: what becomes of changes made at readers (the default is review).
std::string SyncYaml(const std::string& policy, const std::string& import_policy = "review") {
  std::string y = kSyncYaml;
  y.replace(y.find("POLICY"), 6, policy);
  y.replace(y.find("IMPORT"), 6, import_policy);
  return y;
}

std::string Uuid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "u-%06d", i);
  return buf;
}

std::string Card(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02X %02X %02X %02X", 0xA0, (i >> 16) & 0xff, (i >> 8) & 0xff,
                i & 0xff);
  return buf;
}

/// A complete user: subject with unique templates, user info, one face, one card.
json::object UserDoc(int i, int record_version = 8976) {
  json::object subject{{"first_name", "First" + std::to_string(i)},
                       {"last_name", "Last" + std::to_string(i)},
                       {"record_version", record_version},
                       {"access_allowed", true},
                       {"wiegand_code", i},
                       {"left_eye_template", "TEZU" + std::to_string(1000000 + i)},
                       {"right_eye_template", "UklH" + std::to_string(1000000 + i)}};
  json::object info{{"card", Card(i)}, {"pin", std::to_string(1000 + i % 9000)}, {"admin", 0}};
  json::array faces{json::object{{"sub_id", 0},
                                 {"face_score", 0.5},
                                 {"face_eye_width", 70},
                                 {"face_feature", "RkFD" + std::to_string(1000000 + i)}}};
  json::array cards{json::object{{"sub_id", 1}, {"card", Card(i + 500000)}, {"remarks", "spare"}}};
  return json::object{{"user_uuid", Uuid(i)},
                      {"subject", std::move(subject)},
                      {"user_info", std::move(info)},
                      {"faces", std::move(faces)},
                      {"cards", std::move(cards)}};
}

class SyncTest : public GatewayTest {
 protected:
  /// Users reader i holds, by uuid (the simulator's bundles).
  std::map<std::string, json::object> ReaderUsers(int reader) {
    std::map<std::string, json::object> out;
    auto v = SimGet("/sim/readers/" + std::to_string(reader) + "/users");
    if (v.is_null()) return out;
    for (const auto& item : v.at("items").as_array()) {
      out.emplace(std::string(item.at("user_uuid").as_string()), item.as_object());
    }
    return out;
  }

  int Put(HttpClient& client, const json::object& doc) {
    std::string uuid(doc.at("user_uuid").as_string());
    return client
        .Request("PUT", "/api/v1/users/" + uuid, json::serialize(doc),
                 {{"Content-Type", "application/json"}})
        .status;
  }

  int Delete(const std::string& uuid) {
    return HttpRequest(api_port_, "DELETE", "/api/v1/users/" + uuid).status;
  }

  bool Holds(int reader, const std::string& uuid) { return ReaderUsers(reader).count(uuid) > 0; }

  void StartFleet(int readers, const std::string& policy,
                  const std::string& import_policy = "review") {
    StartSim(readers, 0.0, 0.0);
    std::vector<int> all;
    for (int i = 0; i < readers; ++i) all.push_back(i);
    WriteConfig(all, SyncYaml(policy, import_policy));
    StartGateway();
    ASSERT_TRUE(WaitReady()) << gateway_.Log();
  }

  /// Two readers, full rounds and inventories ten minutes apart (`polling` as given): whatever
  /// reaches a reader after the first full rounds was brought by something else. Returns when
  /// both had their first full round.
  void StartTwoWithRareRounds(const std::string& polling) {
    sync_yaml_ =
        "sync: { policy: additive, audit_ms: 600000, inventory_ms: 600000, "
        "max_ops_per_second: 5000 }\n"
        "polling: " +
        polling + "\n";
    StartSim(2, 0.0, 0.0);
    WriteConfig({0, 1}, sync_yaml_);
    StartGateway();
    ASSERT_TRUE(WaitReady()) << gateway_.Log();
    ASSERT_TRUE(WaitFor([&] { return !LastFullRound("sim-0").empty(); }, 30s)) << gateway_.Log();
    ASSERT_TRUE(WaitFor([&] { return !LastFullRound("sim-1").empty(); }, 30s)) << gateway_.Log();
  }
  std::string sync_yaml_;  ///< StartTwoWithRareRounds's sync and polling keys

  /// The newest full round of reader `device` ("" before the first).
  std::string LastFullRound(const std::string& device) {
    auto v = GatewayGet("/api/v1/sync/status");
    if (v.is_null()) return {};
    for (const auto& item : v.at("items").as_array()) {
      if (item.at("device_id") == json::value(device) && item.at("last_full_round").is_string()) {
        return std::string(item.at("last_full_round").as_string());
      }
    }
    return {};
  }

  /// Waits until reader `device` completed two more full rounds (each compares the whole
  /// reader): whatever sync was going to do there by now, it did.
  void AwaitTwoFullRounds(const std::string& device) {
    for (int i = 0; i < 2; ++i) {
      auto before = LastFullRound(device);
      ASSERT_TRUE(WaitFor([&] { return LastFullRound(device) != before; }, 30s)) << gateway_.Log();
    }
  }

  /// The value of one series on /metrics (`name{labels}` as printed), or -1 when absent.
  double ScrapeMetric(const std::string& series) {
    auto r = HttpRequest(api_port_, "GET", "/metrics");
    auto pos = r.body.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(r.body.substr(pos + series.size() + 2));
  }

  /// The held imports the API lists.
  json::array HeldImports() {
    auto v = GatewayGet("/api/v1/sync/imports");
    if (v.is_null()) return {};
    return v.at("items").as_array();
  }

  /// The held import of `uuid` (null when none).
  json::value HeldImportOf(const std::string& uuid) {
    for (const auto& item : HeldImports()) {
      if (item.at("user_uuid") == json::value(uuid)) return item;
    }
    return nullptr;
  }

  HttpResult DecideImport(const json::value& item, const std::string& decision) {
    auto r = HttpRequest(
        api_port_, "POST",
        "/api/v1/sync/imports/" + std::to_string(item.at("id").to_number<int>()) + "/" + decision,
        "", {});
    if (r.status == 0) ADD_FAILURE() << r.error << "\n" << gateway_.Log();
    return r;
  }

  std::string Enrol(int reader) {
    auto r =
        HttpRequest(control_port_, "POST", "/sim/readers/" + std::to_string(reader) + "/enroll",
                    "{}", {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 200);
    return std::string(json::parse(r.body).at("user_uuid").as_string());
  }

  /// Waits until the wall clock is in a later second than now. A reader stamps its log in whole
  /// seconds, so a change made at a reader in the same second as the gateway's write looks no
  /// newer than it (and loses the conflict): a change meant to be newer waits for this first.
  void AwaitNextReaderSecond() {
    const auto second = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    ASSERT_TRUE(WaitFor([&] { return std::chrono::system_clock::now() >= second + 1s; }, 2s));
  }

  /// A change made at the reader (logged as the reader's UserData entry).
  void ChangeAt(int reader, const json::object& bundle) {
    ASSERT_EQ(SimPost("/sim/readers/" + std::to_string(reader) + "/users?log=true",
                      json::serialize(bundle)),
              201);
  }
};

/// True when the reader's bundle carries what the document put there.
bool Matches(const json::object& bundle, const json::object& doc) {
  const auto& s = doc.at("subject").as_object();
  for (const auto& kv : s) {
    if (bundle.if_contains(kv.key()) == nullptr || bundle.at(kv.key()) != kv.value()) return false;
  }
  const auto& info = doc.at("user_info").as_object();
  if (bundle.at("card") != info.at("card") || bundle.at("pin") != info.at("pin")) return false;
  const auto& faces = bundle.at("faces").as_array();
  if (faces.size() != 1) return false;
  const auto& face = doc.at("faces").as_array()[0].as_object();
  if (faces[0].at("face_feature") != face.at("face_feature") ||
      faces[0].at("face_eye_width") != face.at("face_eye_width")) {
    return false;
  }
  const auto& cards = bundle.at("cards").as_array();
  return cards.size() == 1 &&
         cards[0].at("card") == doc.at("cards").as_array()[0].as_object().at("card");
}

TEST_F(SyncTest, ThousandUsersReachTwentyReadersWithTheirContent) {
  constexpr int kReaders = 20;
  constexpr int kUsers = 1000;
  StartFleet(kReaders, "mirror");
  std::map<std::string, json::object> docs;
  HttpClient client("127.0.0.1", api_port_, 10s);
  for (int i = 0; i < kUsers; ++i) {
    auto doc = UserDoc(i);
    ASSERT_EQ(Put(client, doc), 201) << i;
    docs.emplace(Uuid(i), std::move(doc));
  }
  // Mirror: the five users each emulated reader starts with (unknown to the gateway) go too,
  // so every reader ends with exactly our users.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int r = 0; r < kReaders; ++r) {
          if (ReaderUsers(r).size() != kUsers) return false;
        }
        return true;
      },
      180s, 500ms))
      << gateway_.Log();
  for (int r = 0; r < kReaders; ++r) {
    auto users = ReaderUsers(r);
    ASSERT_EQ(users.size(), static_cast<std::size_t>(kUsers)) << "reader " << r;
    for (const auto& [uuid, doc] : docs) {
      auto it = users.find(uuid);
      ASSERT_NE(it, users.end()) << "reader " << r << " lacks " << uuid;
      EXPECT_TRUE(Matches(it->second, doc))
          << "reader " << r << " user " << uuid << ": " << json::serialize(it->second);
    }
  }
  // The gateway's own per-reader status agrees.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = GatewayGet("/api/v1/users/" + Uuid(7) + "/devices");
        if (v.is_null()) return false;
        int applied = 0;
        for (const auto& item : v.at("items").as_array()) {
          if (item.at("status") == "applied") ++applied;
        }
        return applied == kReaders;
      },
      30s));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_, "SELECT count(*) FROM user_device_state WHERE status = 'applied'") ==
               std::to_string(kReaders * kUsers);
      },
      30s))
      << Scalar(dsn_, "SELECT count(*) FROM user_device_state WHERE status = 'applied'");
}

TEST_F(SyncTest, ApprovedEnrolmentAtAReaderAndADeleteReachEveryReaderEvenOneThatWasDown) {
  StartFleet(4, "mirror");
  HttpClient client("127.0.0.1", api_port_, 10s);
  auto doc = UserDoc(1);
  ASSERT_EQ(Put(client, doc), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(1)) && Holds(2, Uuid(1)); }, 30s))
      << gateway_.Log();

  // Reader 2 loses power; meanwhile a user enrols at reader 3 (an admin approves it) and user 1
  // is deleted.
  Fault(2, R"({"down": true})");
  std::string uuid = Enrol(3);
  json::value held;
  ASSERT_TRUE(WaitFor([&] { return !(held = HeldImportOf(uuid)).is_null(); }, 30s))
      << gateway_.Log();
  ASSERT_EQ(DecideImport(held, "approve").status, 200);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, uuid) && Holds(1, uuid); }, 60s)) << gateway_.Log();
  auto at3 = ReaderUsers(3).at(uuid);
  auto at0 = ReaderUsers(0).at(uuid);
  for (const char* key :
       {"first_name", "last_name", "left_eye_template", "right_eye_template", "card", "pin"}) {
    EXPECT_EQ(at0.at(key), at3.at(key)) << key;
  }
  EXPECT_EQ(at0.at("faces"), at3.at("faces"));
  // The gateway imported it as a canonical user, from reader 3.
  auto user = GatewayGet("/api/v1/users/" + uuid);
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("source"), "device:sim-3");

  ASSERT_EQ(Delete(Uuid(1)), 200);
  ASSERT_TRUE(
      WaitFor([&] { return !Holds(0, Uuid(1)) && !Holds(1, Uuid(1)) && !Holds(3, Uuid(1)); }, 30s))
      << gateway_.Log();
  EXPECT_TRUE(Holds(2, Uuid(1)));  // still powered off: unchanged

  // Back: it converges to both changes.
  Fault(2, "{}");
  ASSERT_TRUE(WaitFor([&] { return Holds(2, uuid) && !Holds(2, Uuid(1)); }, 60s)) << gateway_.Log();
  EXPECT_EQ(ReaderUsers(2).size(), ReaderUsers(0).size());
}

TEST_F(SyncTest, AUserChangedThroughAnotherInstanceReachesTheReadersBeforeTheNextFullRound) {
  // Full rounds and inventories far apart: only the manager's fleet-wide look for users changed
  // by another instance (one query per change poll, not one per reader) can bring the user.
  StartTwoWithRareRounds("{ health_ms: 2000, timeout_ms: 1000 }");
  if (HasFatalFailure()) return;
  const std::string& sync_yaml = sync_yaml_;

  // Another instance on the same database, polling no reader, takes the change.
  const auto other_port = FreePort();
  const std::string other_yaml = dir_->File("other.yaml");
  WriteFile(other_yaml, "database: { dsn: \"" + dsn_ +
                            "\" }\napi: { listen: \"127.0.0.1:" + std::to_string(other_port) +
                            "\" }\n" + SecurityYaml() + sync_yaml + "readers: []\n");
  Process other({BinaryDir() + "/daemon/ef45-gatewayd", "run", "--config", other_yaml},
                dir_->File("other.log"));
  ASSERT_TRUE(WaitFor([&] { return HttpRequest(other_port, "GET", "/readyz").status == 200; }, 30s))
      << other.Log();
  auto doc = UserDoc(5);
  ASSERT_EQ(HttpRequest(other_port, "PUT", "/api/v1/users/" + Uuid(5), json::serialize(doc),
                        {{"Content-Type", "application/json"}})
                .status,
            201)
      << other.Log();
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(5)) && Holds(1, Uuid(5)); }, 20s))
      << gateway_.Log();
  EXPECT_TRUE(Matches(ReaderUsers(0).at(Uuid(5)), doc));
}

TEST_F(SyncTest, AReconcilerWakesForItsReaderNotOnAClock) {
  // Full rounds and inventories far apart: what brings each change is the reader's worker
  // waking its reconciler (enrolments committed, the reader back up), nothing periodic.
  StartTwoWithRareRounds("{ logs_ms: 500, health_ms: 1000, timeout_ms: 500 }");
  if (HasFatalFailure()) return;

  // An enrolment at reader 0: its UserData log entry, once committed, starts the import.
  const std::string uuid = Enrol(0);
  ASSERT_TRUE(WaitFor([&] { return !HeldImportOf(uuid).is_null(); }, 20s)) << gateway_.Log();

  // Reader 1 goes down; a user added meanwhile reaches it when it is back.
  auto state = [&](const std::string& device) -> std::string {
    auto v = GatewayGet("/api/v1/devices/" + device);
    return v.is_null() ? "" : std::string(v.at("state").as_string());
  };
  Fault(1, R"({"down": true})");
  ASSERT_TRUE(WaitFor([&] { return state("sim-1") == "down"; }, 20s)) << gateway_.Log();
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(7)), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(7)); }, 20s)) << gateway_.Log();
  Fault(1, "{}");
  ASSERT_TRUE(WaitFor([&] { return Holds(1, Uuid(7)); }, 20s)) << gateway_.Log();
}

TEST_F(SyncTest, UserUnknownToTheGatewayIsDeletedUnderMirror) {
  StartFleet(2, "mirror");
  auto stranger = UserDoc(77);
  json::object bundle = stranger.at("subject").as_object();
  bundle["user_uuid"] = "stranger";
  ASSERT_EQ(SimPost("/sim/readers/0/users", json::serialize(bundle)), 201);
  ASSERT_TRUE(Holds(0, "stranger"));
  ASSERT_TRUE(WaitFor([&] { return !Holds(0, "stranger"); }, 60s)) << gateway_.Log();
  EXPECT_TRUE(ReaderUsers(0).empty());  // the preenrolled unknown users went too
  EXPECT_TRUE(GatewayGet("/api/v1/users/stranger").is_null());
}

TEST_F(SyncTest, UserUnknownToTheGatewayIsReportedUnderAdditive) {
  StartFleet(2, "additive");
  json::object bundle{{"user_uuid", "stranger"}, {"first_name", "Who"}};
  ASSERT_EQ(SimPost("/sim/readers/0/users", json::serialize(bundle)), 201);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = GatewayGet("/api/v1/sync/status");
        if (v.is_null()) return false;
        for (const auto& item : v.at("items").as_array()) {
          if (item.at("device_id") != "sim-0") continue;
          for (const auto& u : item.at("unknown_users").as_array()) {
            if (u == "stranger") return true;
          }
        }
        return false;
      },
      30s))
      << gateway_.Log();
  auto plan = GatewayGet("/api/v1/sync/plan?device=sim-0");
  ASSERT_FALSE(plan.is_null());
  EXPECT_EQ(plan.at("policy"), "additive");
  EXPECT_GE(plan.at("counts").at("report_unknown").to_number<int>(), 6);  // + 5 preenrolled
  EXPECT_EQ(plan.at("counts").at("delete_unknown").to_number<int>(), 0);
  // Still there after two more full rounds (audits).
  auto full_round = [&]() -> std::string {
    auto v = GatewayGet("/api/v1/sync/status");
    if (v.is_null()) return {};
    for (const auto& item : v.at("items").as_array()) {
      if (item.at("device_id") == "sim-0" && item.at("last_full_round").is_string()) {
        return std::string(item.at("last_full_round").as_string());
      }
    }
    return {};
  };
  for (int i = 0; i < 2; ++i) {
    auto before = full_round();
    ASSERT_TRUE(WaitFor([&] { return full_round() != before; }, 30s));
  }
  EXPECT_TRUE(Holds(0, "stranger"));
}

TEST_F(SyncTest, AFailingReaderDoesNotBlockTheOthersAndItsStatusShowsIt) {
  StartFleet(3, "additive");
  Fault(1, R"({"error_rate": 1.0})");
  HttpClient client("127.0.0.1", api_port_, 10s);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Put(client, UserDoc(i)), 201);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 20; ++i) {
          if (!Holds(0, Uuid(i)) || !Holds(2, Uuid(i))) return false;
        }
        return true;
      },
      30s))
      << gateway_.Log();
  EXPECT_FALSE(Holds(1, Uuid(0)));
  json::value sim1;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto v = GatewayGet("/api/v1/users/" + Uuid(3) + "/devices");
        if (v.is_null()) return false;
        for (const auto& item : v.at("items").as_array()) {
          if (item.at("device_id") == "sim-1") sim1 = item;
        }
        return !sim1.is_null() && sim1.at("status") == "failed";
      },
      30s))
      << json::serialize(sim1) << gateway_.Log();
  EXPECT_FALSE(sim1.at("last_error").is_null());
  // The other readers hold the user; the gateway records that just after the reader answered.
  json::value v;
  EXPECT_TRUE(WaitFor(
      [&] {
        v = GatewayGet("/api/v1/users/" + Uuid(3) + "/devices");
        if (v.is_null()) return false;
        for (const auto& item : v.at("items").as_array()) {
          if (item.at("device_id") != "sim-1" && item.at("status") != "applied") return false;
        }
        return true;
      },
      30s))
      << json::serialize(v);
  // Once the reader answers again, it catches up.
  Fault(1, "{}");
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int i = 0; i < 20; ++i) {
          if (!Holds(1, Uuid(i))) return false;
        }
        return true;
      },
      60s))
      << gateway_.Log();
}

TEST_F(SyncTest, TemplatesOfAnotherAlgorithmVersionAreWithheldAndReported) {
  StartFleet(1, "additive");
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(5, /*record_version=*/1234)), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(5)); }, 30s)) << gateway_.Log();
  auto at0 = ReaderUsers(0).at(Uuid(5));
  EXPECT_EQ(at0.at("left_eye_template"), "");
  EXPECT_EQ(at0.at("right_eye_template"), "");
  EXPECT_EQ(at0.at("faces").as_array()[0].at("face_feature"), "");
  EXPECT_EQ(at0.at("first_name"), "First5");
  // The reader holds the user; the gateway records "applied" just after the reader answered.
  json::value v;
  ASSERT_TRUE(WaitFor(
      [&] {
        v = GatewayGet("/api/v1/users/" + Uuid(5) + "/devices");
        return !v.is_null() && !v.at("items").as_array().empty() &&
               v.at("items").as_array().at(0).at("status") == "applied";
      },
      30s))
      << json::serialize(v);
  const auto& item = v.at("items").as_array().at(0);
  ASSERT_TRUE(item.at("note").is_string()) << item;
  EXPECT_NE(std::string(item.at("note").as_string()).find("record_version 1234"),
            std::string::npos);
}

TEST_F(SyncTest, ReaderGroupsLimitWhereAUserGoes) {
  StartSim(2, 0.0, 0.0);
  if (api_port_ == 0) api_port_ = FreePort();
  std::string yaml = "database: { dsn: \"" + dsn_ +
                     "\" }\napi: { listen: \"127.0.0.1:" + std::to_string(api_port_) + "\" }\n" +
                     SecurityYaml() + SyncYaml("additive") +
                     "readers:\n"
                     "  - { id: sim-0, host: 127.0.0.1, port: " +
                     std::to_string(reader_ports_[0]) +
                     ", groups: [lobby] }\n"
                     "  - { id: sim-1, host: 127.0.0.1, port: " +
                     std::to_string(reader_ports_[1]) + ", groups: [lab] }\n";
  WriteFile(dir_->File("gateway.yaml"), yaml);
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  HttpClient client("127.0.0.1", api_port_, 10s);
  auto lab_only = UserDoc(1);
  lab_only["groups"] = json::array{"lab"};
  ASSERT_EQ(Put(client, lab_only), 201);
  ASSERT_EQ(Put(client, UserDoc(2)), 201);
  ASSERT_TRUE(
      WaitFor([&] { return Holds(1, Uuid(1)) && Holds(0, Uuid(2)) && Holds(1, Uuid(2)); }, 30s))
      << gateway_.Log();
  EXPECT_FALSE(Holds(0, Uuid(1)));
  // Moving the user to the lobby moves it between readers.
  lab_only["groups"] = json::array{"lobby"};
  ASSERT_EQ(Put(client, lab_only), 200);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(1)) && !Holds(1, Uuid(1)); }, 30s))
      << gateway_.Log();
}

TEST_F(SyncTest, ChangesAtAReaderAreImportedAndConflictsGoToTheNewestChange) {
  StartFleet(2, "additive", "auto");
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(3)), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(3)) && Holds(1, Uuid(3)); }, 30s))
      << gateway_.Log();
  auto first_name = [&](int reader) -> std::string {
    auto users = ReaderUsers(reader);
    auto it = users.find(Uuid(3));
    return it == users.end() ? "" : std::string(it->second.at("first_name").as_string());
  };
  auto change_at = [&](int reader, const std::string& name) {
    json::object bundle{
        {"user_uuid", Uuid(3)}, {"first_name", name}, {"record_version", 8976}, {"card", Card(3)}};
    ASSERT_EQ(SimPost("/sim/readers/" + std::to_string(reader) + "/users?log=true",
                      json::serialize(bundle)),
              201);
  };

  // A change at reader 0, newer than the gateway's record: it becomes the next version and
  // reaches reader 1.
  AwaitNextReaderSecond();
  change_at(0, "AtReader");
  ASSERT_TRUE(WaitFor([&] { return first_name(1) == "AtReader"; }, 30s)) << gateway_.Log();
  auto user = GatewayGet("/api/v1/users/" + Uuid(3));
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("version").to_number<int>(), 2);
  EXPECT_EQ(user.at("source"), "device:sim-0");
  EXPECT_EQ(user.at("subject").at("first_name"), "AtReader");

  // A change at reader 1 whose clock is an hour behind: older than the gateway's record, so the
  // gateway wins, the reader gets the record back, and the losing change is an event.
  Fault(1, R"({"clock_skew_s": -3600})");
  change_at(1, "Stale");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_,
                      "SELECT count(*) FROM events WHERE event_type = 'SyncConflict' AND "
                      "info = 'GatewayWins' AND device_id = 'sim-1' AND user_uuid = '" +
                          Uuid(3) + "'") == "1";
      },
      30s))
      << gateway_.Log();
  ASSERT_TRUE(WaitFor([&] { return first_name(1) == "AtReader"; }, 30s)) << gateway_.Log();
  user = GatewayGet("/api/v1/users/" + Uuid(3));
  EXPECT_EQ(user.at("version").to_number<int>(), 2);
  EXPECT_EQ(first_name(0), "AtReader");
}

TEST_F(SyncTest, AnUpdatedUserStaysOnTheReaderThroughoutTheUpdate) {
  // A slow call rate (10 ms between reader calls) makes any moment without the user, such as
  // between a DELETE and the POST that re-adds it, last long enough for the probe to see it.
  constexpr int kReaders = 2;
  constexpr int kUpdates = 25;
  StartSim(kReaders, 0.0, 0.0);
  WriteConfig({0, 1},
              "sync: { policy: additive, audit_ms: 3000, inventory_ms: 1000, "
              "max_ops_per_second: 100, page_size: 1000 }\n"
              "polling: { logs_ms: 500, health_ms: 2000, timeout_ms: 1000 }\n");
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  HttpClient client("127.0.0.1", api_port_, 10s);
  auto doc = UserDoc(42);
  const std::string uuid = Uuid(42);
  ASSERT_EQ(Put(client, doc), 201);
  // Both readers hold the document as it is now.
  auto both_hold_doc = [&] {
    for (int r = 0; r < kReaders; ++r) {
      auto users = ReaderUsers(r);
      auto it = users.find(uuid);
      if (it == users.end() || !Matches(it->second, doc)) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(both_hold_doc, 30s)) << gateway_.Log();

  // The probe reads both readers' user tables through the simulator's control API as fast as
  // it can, on its own connection, and records every observation without the user.
  std::atomic<bool> stop{false};
  std::atomic<int> observations{0};
  std::atomic<int> absent{0};
  std::thread probe([&] {
    HttpClient sim("127.0.0.1", control_port_, 5s);
    for (int n = 0; !stop.load(); ++n) {
      int reader = n % kReaders;
      auto reply = sim.Get("/sim/readers/" + std::to_string(reader) + "/users");
      if (reply.status != 200) continue;
      boost::system::error_code ec;
      auto v = json::parse(reply.body, ec);
      if (ec || !v.is_object()) continue;
      bool present = false;
      for (const auto& item : v.at("items").as_array()) {
        if (item.at("user_uuid").as_string() == uuid) present = true;
      }
      ++observations;
      if (!present) ++absent;
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, probe};

  for (int k = 1; k <= kUpdates; ++k) {
    // A new PIN and card, and a new face (features and score), every time.
    auto& info = doc["user_info"].as_object();
    info["pin"] = std::to_string(5000 + k);
    info["card"] = Card(700000 + k);
    auto& face = doc["faces"].as_array()[0].as_object();
    face["face_feature"] = "RkFE" + std::to_string(1000000 + k);
    face["face_score"] = 0.5 + k / 100.0;
    ASSERT_EQ(Put(client, doc), 200) << k;
    ASSERT_TRUE(WaitFor(both_hold_doc, 30s)) << "update " << k << " did not reach both readers\n"
                                             << gateway_.Log();
  }
  stop = true;
  probe.join();
  std::printf("probe: %d observations, user absent in %d\n", observations.load(), absent.load());
  // The probe ran throughout (many observations), and the user was there in every one.
  EXPECT_GT(observations.load(), 2 * kUpdates);
  EXPECT_EQ(absent.load(), 0) << "the user was missing from a reader in " << absent.load() << " of "
                              << observations.load() << " observations";
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_,
                      "SELECT count(*) FROM user_device_state WHERE status = 'applied' AND "
                      "applied_version = " +
                          std::to_string(kUpdates + 1) + " AND user_uuid = '" + uuid + "'") ==
               std::to_string(kReaders);
      },
      30s))
      << gateway_.Log();
  // Our own in-place writes are not mistaken for changes made at a reader.
  auto user = GatewayGet("/api/v1/users/" + uuid);
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("version").to_number<int>(), kUpdates + 1);
  EXPECT_EQ(user.at("source"), "api");
}

TEST_F(SyncTest, TemplatesAreServedOnlyToAdminsAndTheApiValidatesDocuments) {
  StartFleet(1, "additive");
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(9)), 201);
  ASSERT_EQ(Put(client, UserDoc(9)), 200);  // same content: no new version
  auto user = GatewayGet("/api/v1/users/" + Uuid(9));
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("version").to_number<int>(), 1);
  // The API is open in this test (no tokens): callers are admins and see the templates.
  EXPECT_EQ(user.at("subject").at("left_eye_template"), "TEZU1000009");
  auto by_card = GatewayGet("/api/v1/users/by-card/" + std::string("A0%2000%2000%2009"));
  ASSERT_FALSE(by_card.is_null());
  ASSERT_EQ(by_card.at("items").as_array().size(), 1u);
  auto bad = client.Request("PUT", "/api/v1/users/x1", R"({"subject":{"wiegand_code":"7"}})",
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("subject.wiegand_code"), std::string::npos) << bad.body;
  auto list = GatewayGet("/api/v1/users?limit=10");
  ASSERT_FALSE(list.is_null());
  EXPECT_EQ(list.at("items").as_array().size(), 1u);
}

TEST_F(SyncTest, ReadCallersGetNoTemplatesAndCannotChangeUsers) {
  // Tokens: sha256("sync-read") with role read, sha256("sync-admin") with role admin.
  api_extra_ =
      ", tokens: [{ name: acs, role: read, sha256: "
      "6f6c93ec28077269d1ac900dedec92e174f214f740a82f8f5f3fc31fe1b6405e }, { name: root, role: "
      "admin, sha256: f347caecc77612a49368685f4c74cdb367ec8f45c3d60c9356367b505fa441bf }]";
  StartFleet(1, "additive");
  auto call = [&](const std::string& method, const std::string& target, const std::string& token,
                  const std::string& body = "") {
    return HttpRequest(
        api_port_, method, target, body,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  };
  auto doc = json::serialize(UserDoc(4));
  EXPECT_EQ(call("PUT", "/api/v1/users/" + Uuid(4), "sync-read", doc).status, 403);
  ASSERT_EQ(call("PUT", "/api/v1/users/" + Uuid(4), "sync-admin", doc).status, 201);
  auto as_read = call("GET", "/api/v1/users/" + Uuid(4), "sync-read");
  ASSERT_EQ(as_read.status, 200);
  EXPECT_EQ(as_read.body.find("TEZU1000004"), std::string::npos) << as_read.body;
  EXPECT_EQ(as_read.body.find("RkFD1000004"), std::string::npos) << as_read.body;
  EXPECT_NE(as_read.body.find("<redacted"), std::string::npos);
  auto listed = call("GET", "/api/v1/users", "sync-read");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find("TEZU1000004"), std::string::npos);
  // Credentials are admin data too: PIN, card numbers and wiegand fields are redacted.
  auto read_json = json::parse(as_read.body);
  EXPECT_EQ(read_json.at("user_info").at("pin"), "<redacted>");
  EXPECT_EQ(read_json.at("user_info").at("card"), "<redacted>");
  EXPECT_EQ(read_json.at("subject").at("wiegand_code"), "<redacted>");
  EXPECT_EQ(read_json.at("cards").at(0).at("card"), "<redacted>");
  EXPECT_EQ(as_read.body.find(Card(4)), std::string::npos) << as_read.body;
  EXPECT_EQ(listed.body.find(Card(4)), std::string::npos) << listed.body;
  auto as_admin = call("GET", "/api/v1/users/" + Uuid(4), "sync-admin");
  EXPECT_NE(as_admin.body.find("TEZU1000004"), std::string::npos);
  auto admin_json = json::parse(as_admin.body);
  EXPECT_EQ(admin_json.at("user_info").at("pin"), "1004");
  EXPECT_EQ(admin_json.at("user_info").at("card"), json::value(Card(4)));
  // Looking a card up tests a credential: admins only.
  const std::string by_card = "/api/v1/users/by-card/A0%2000%2000%2004";
  EXPECT_EQ(call("GET", by_card, "sync-read").status, 403);
  auto found = call("GET", by_card, "sync-admin");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(json::parse(found.body).at("items").as_array().size(), 1u);
  // The dry run reads the reader's whole user database: admins only.
  EXPECT_EQ(call("GET", "/api/v1/sync/plan?device=sim-0", "sync-read").status, 403);
  EXPECT_EQ(call("DELETE", "/api/v1/users/" + Uuid(4), "sync-read").status, 403);
  // Templates never reach the gateway's log.
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(4)); }, 30s));
  EXPECT_EQ(gateway_.Log().find("TEZU1000004"), std::string::npos);
}

// Issue 17: biometric data at rest. Start-up refuses to run without a data key unless the
// operator chose plaintext, and refuses users stored under a key the key file lacks; the users
// it stored are readable again once the key is back, and a deletion erases them.
TEST_F(SyncTest, StartUpRefusesAMissingDataKeyAndDeletionErasesTheUser) {
  StartSim(1, 0.0, 0.0);
  security_yaml_ = "# no security section\n";
  WriteConfig({0}, SyncYaml("additive"));
  StartGateway();
  EXPECT_EQ(gateway_.Wait(30s), 1) << gateway_.Log();
  EXPECT_NE(gateway_.Log().find("security.data_keys_file"), std::string::npos) << gateway_.Log();

  // A key "k1": users are stored under it.
  const std::string keys = dir_->File("data.keys");
  security_yaml_ = WriteDataKeys(keys, TestDataKeyLine("k1"));
  WriteConfig({0}, SyncYaml("additive"));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(1)), 201);
  ASSERT_EQ(Put(client, UserDoc(2)), 201);
  const std::string pin = std::string(UserDoc(1).at("user_info").at("pin").as_string());
  const std::string tmpl =
      std::string(UserDoc(1).at("subject").at("left_eye_template").as_string());
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM users WHERE key_id = 'k1' AND record::text LIKE "
                   "'%gwenc1:k1:%'"),
            "2");
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM users WHERE record::text LIKE '%" + tmpl + "%'"),
            "0");
  gateway_.Signal(SIGTERM);
  ASSERT_EQ(gateway_.Wait(30s), 0) << gateway_.Log();

  // The key file lost k1 (a new key k2 only): start-up names the missing key and stops.
  WriteDataKeys(keys, TestDataKeyLine("k2"));
  StartGateway();
  EXPECT_EQ(gateway_.Wait(30s), 1) << gateway_.Log();
  EXPECT_NE(gateway_.Log().find("k1 which the key file lacks"), std::string::npos)
      << gateway_.Log();

  // k1 back, k2 newest: the users open (an admin sees the PIN), and new writes use k2.
  WriteDataKeys(keys, TestDataKeyLine("k1") + TestDataKeyLine("k2"));
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();
  auto user = GatewayGet("/api/v1/users/" + Uuid(1));
  ASSERT_TRUE(user.is_object()) << gateway_.Log();
  EXPECT_EQ(user.at("user_info").at("pin"), json::value(pin)) << json::serialize(user);
  auto changed = UserDoc(2);
  changed["subject"].as_object()["first_name"] = "Changed";
  HttpClient again("127.0.0.1", api_port_, 10s);  // the first connection went with its gateway
  ASSERT_EQ(Put(again, changed), 200);
  EXPECT_EQ(Scalar(dsn_, "SELECT key_id FROM users WHERE user_uuid = '" + Uuid(2) + "'"), "k2");

  // Deletion is erasure: nothing of the person is left in the row.
  ASSERT_EQ(Delete(Uuid(1)), 200);
  auto row = Query(dsn_,
                   "SELECT record::text, array_to_string(cards, ','), key_id, digest "
                   "FROM users WHERE user_uuid = '" +
                       Uuid(1) + "'");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], "{\"user_uuid\": \"" + Uuid(1) + "\"}");
  EXPECT_EQ(row[0][1], "");
  EXPECT_EQ(row[0][2], "<null>");
  EXPECT_EQ(row[0][3], "");
  // ... and the reader it was pushed to loses it too.
  EXPECT_TRUE(WaitFor([&] { return !Holds(0, Uuid(1)); }, 60s)) << gateway_.Log();
}

TEST_F(SyncTest, UnderReviewAnEnrolmentAtAReaderIsHeldAndPushedNowhereUntilApproved) {
  // mirror: a held user unknown to the gateway must not be deleted from its reader either.
  StartFleet(3, "mirror");
  std::string uuid = Enrol(0);
  const auto enrolled = ReaderUsers(0).at(uuid);
  json::value held;
  ASSERT_TRUE(WaitFor([&] { return !(held = HeldImportOf(uuid)).is_null(); }, 30s))
      << gateway_.Log();
  EXPECT_EQ(held.at("device_id"), "sim-0");
  EXPECT_EQ(held.at("new_user"), true);
  EXPECT_TRUE(held.at("reader_time").is_string());
  EXPECT_TRUE(held.at("received_at").is_string());
  std::set<std::string> changed;
  for (const auto& c : held.at("changed").as_array()) changed.insert(std::string(c.as_string()));
  EXPECT_TRUE(changed.count("templates") && changed.count("name")) << held;
  // The listing shows which parts, never their values.
  auto listing = HttpRequest(api_port_, "GET", "/api/v1/sync/imports");
  for (const char* key : {"left_eye_template", "right_eye_template", "pin", "card"}) {
    const auto& v = enrolled.at(key);
    if (v.is_string() && !v.as_string().empty()) {
      EXPECT_EQ(listing.body.find(std::string(v.as_string())), std::string::npos) << key;
    }
  }
  // Pushed nowhere, not canonical, and left alone on its reader (two full rounds later).
  AwaitTwoFullRounds("sim-0");
  AwaitTwoFullRounds("sim-1");
  EXPECT_TRUE(Holds(0, uuid));
  EXPECT_FALSE(Holds(1, uuid));
  EXPECT_FALSE(Holds(2, uuid));
  EXPECT_TRUE(GatewayGet("/api/v1/users/" + uuid).is_null());
  EXPECT_TRUE(WaitFor(
      [&] { return ScrapeMetric("ef45gw_sync_imports_pending{reader=\"sim-0\"}") == 1.0; }, 30s));

  // Approved: the next version, from sim-0, on every reader.
  // The held reader copy is sealed like the users (issue 17): no template in the table.
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM sync_imports WHERE record LIKE 'gwenc1:k1:%'"), "1");
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM sync_imports WHERE record LIKE '%template%'"), "0");
  auto approved = DecideImport(held, "approve");
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(Scalar(dsn_, "SELECT count(*) FROM sync_imports WHERE record <> ''"), "0");
  ASSERT_TRUE(WaitFor([&] { return Holds(1, uuid) && Holds(2, uuid); }, 30s)) << gateway_.Log();
  auto at1 = ReaderUsers(1).at(uuid);
  for (const char* key : {"first_name", "left_eye_template", "right_eye_template", "pin"}) {
    EXPECT_EQ(at1.at(key), enrolled.at(key)) << key;
  }
  auto user = GatewayGet("/api/v1/users/" + uuid);
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("source"), "device:sim-0");
  EXPECT_TRUE(HeldImports().empty());
  // Deciding twice: 409 problem; the decision is an audit event naming the user.
  auto again = DecideImport(held, "approve");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.headers.count("content-type") ? again.headers.at("content-type") : "",
            "application/problem+json");
  EXPECT_EQ(DecideImport(held, "reject").status, 409);
  // Three decisions (one approved, two refused with 409), each an audit event naming the user.
  EXPECT_EQ(Scalar(dsn_,
                   "SELECT count(*) FROM events WHERE kind = 'audit' AND payload::text "
                   "LIKE '%sync/imports/%' AND payload::text LIKE '%" +
                       uuid + "%'"),
            "3");
  EXPECT_EQ(gateway_.Log().find(std::string(enrolled.at("left_eye_template").as_string())),
            std::string::npos);
}

TEST_F(SyncTest, ARejectedChangeAtAReaderGetsTheGatewaysRecordBackThere) {
  StartFleet(2, "additive");
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(3)), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(3)) && Holds(1, Uuid(3)); }, 30s))
      << gateway_.Log();
  auto field = [&](int reader, const char* key) -> std::string {
    auto users = ReaderUsers(reader);
    auto it = users.find(Uuid(3));
    return it == users.end() ? "" : std::string(it->second.at(key).as_string());
  };
  // Someone at reader 0 changes the user's name and card.
  AwaitNextReaderSecond();
  ChangeAt(0, json::object{{"user_uuid", Uuid(3)},
                           {"first_name", "Mallory"},
                           {"record_version", 8976},
                           {"card", Card(999)}});
  json::value held;
  ASSERT_TRUE(WaitFor([&] { return !(held = HeldImportOf(Uuid(3))).is_null(); }, 30s))
      << gateway_.Log();
  EXPECT_EQ(held.at("new_user"), false);
  EXPECT_EQ(held.at("base_version").to_number<int>(), 1);
  std::set<std::string> changed;
  for (const auto& c : held.at("changed").as_array()) changed.insert(std::string(c.as_string()));
  EXPECT_TRUE(changed.count("name") && changed.count("cards")) << held;
  // While it is held: reader 1 keeps the gateway's record, reader 0 its own copy.
  AwaitTwoFullRounds("sim-0");
  EXPECT_EQ(field(0, "first_name"), "Mallory");
  EXPECT_EQ(field(1, "first_name"), "First3");
  EXPECT_EQ(GatewayGet("/api/v1/users/" + Uuid(3)).at("version").to_number<int>(), 1);

  auto rejected = DecideImport(held, "reject");
  ASSERT_EQ(rejected.status, 200) << rejected.body;
  ASSERT_TRUE(WaitFor([&] { return field(0, "first_name") == "First3"; }, 30s)) << gateway_.Log();
  EXPECT_EQ(field(0, "card"), Card(3));
  EXPECT_EQ(DecideImport(held, "reject").status, 409);
  EXPECT_EQ(GatewayGet("/api/v1/users/" + Uuid(3)).at("version").to_number<int>(), 1);

  // A rejected enrolment of a user the gateway does not know: deleted at that reader.
  std::string stranger = Enrol(1);
  json::value held2;
  ASSERT_TRUE(WaitFor([&] { return !(held2 = HeldImportOf(stranger)).is_null(); }, 30s))
      << gateway_.Log();
  ASSERT_EQ(DecideImport(held2, "reject").status, 200);
  ASSERT_TRUE(WaitFor([&] { return !Holds(1, stranger); }, 30s)) << gateway_.Log();
  EXPECT_FALSE(Holds(0, stranger));
  EXPECT_TRUE(GatewayGet("/api/v1/users/" + stranger).is_null());
}

TEST_F(SyncTest, ATombstoneBeatsAReaderChangeMadeWithItsClockAnHourAhead) {
  // auto: the policy under which a reader change is imported at once; even then a deletion at
  // the gateway is final.
  StartFleet(2, "additive", "auto");
  HttpClient client("127.0.0.1", api_port_, 10s);
  ASSERT_EQ(Put(client, UserDoc(5)), 201);
  ASSERT_TRUE(WaitFor([&] { return Holds(0, Uuid(5)) && Holds(1, Uuid(5)); }, 30s))
      << gateway_.Log();
  ASSERT_EQ(Delete(Uuid(5)), 200);
  ASSERT_TRUE(WaitFor([&] { return !Holds(0, Uuid(5)) && !Holds(1, Uuid(5)); }, 30s))
      << gateway_.Log();
  // Reader 0's clock runs an hour ahead; someone puts the deleted user back there.
  Fault(0, R"({"clock_skew_s": 3600})");
  ChangeAt(0, json::object{{"user_uuid", Uuid(5)},
                           {"first_name", "Back"},
                           {"record_version", 8976},
                           {"card", Card(5)}});
  ASSERT_TRUE(WaitFor(
      [&] {
        return Scalar(dsn_,
                      "SELECT count(*) FROM events WHERE event_type = 'SyncConflict' AND "
                      "info = 'GatewayWins' AND device_id = 'sim-0' AND user_uuid = '" +
                          Uuid(5) + "'") == "1";
      },
      30s))
      << gateway_.Log();
  ASSERT_TRUE(WaitFor([&] { return !Holds(0, Uuid(5)); }, 30s)) << gateway_.Log();
  AwaitTwoFullRounds("sim-1");
  EXPECT_FALSE(Holds(1, Uuid(5)));
  EXPECT_FALSE(Holds(0, Uuid(5)));
  EXPECT_TRUE(GatewayGet("/api/v1/users/" + Uuid(5)).is_null());
  EXPECT_EQ(Scalar(dsn_, "SELECT deleted FROM users WHERE user_uuid = '" + Uuid(5) + "'"), "t");
}

TEST_F(SyncTest, UnderAutoANewUserReachesOnlyTheSourceReadersGroups) {
  StartSim(4, 0.0, 0.0);
  if (api_port_ == 0) api_port_ = FreePort();
  std::string yaml = "database: { dsn: \"" + dsn_ +
                     "\" }\napi: { listen: \"127.0.0.1:" + std::to_string(api_port_) + "\" }\n" +
                     SecurityYaml() + SyncYaml("additive", "auto") + "readers:\n";
  const char* groups[] = {"[lobby]", "[lobby]", "[lab]", "[]"};
  for (int i = 0; i < 4; ++i) {
    yaml += "  - { id: sim-" + std::to_string(i) +
            ", host: 127.0.0.1, port: " + std::to_string(reader_ports_[i]) +
            ", groups: " + groups[i] + " }\n";
  }
  WriteFile(dir_->File("gateway.yaml"), yaml);
  StartGateway();
  ASSERT_TRUE(WaitReady()) << gateway_.Log();

  std::string at_lobby = Enrol(0);
  ASSERT_TRUE(WaitFor([&] { return Holds(1, at_lobby); }, 30s)) << gateway_.Log();
  auto user = GatewayGet("/api/v1/users/" + at_lobby);
  ASSERT_FALSE(user.is_null());
  EXPECT_EQ(user.at("groups"), json::array{"lobby"});
  // A reader without groups: only that reader.
  std::string at_lone = Enrol(3);
  ASSERT_TRUE(WaitFor([&] { return !GatewayGet("/api/v1/users/" + at_lone).is_null(); }, 30s))
      << gateway_.Log();
  EXPECT_EQ(GatewayGet("/api/v1/users/" + at_lone).at("groups"), json::array{"reader:sim-3"});
  for (int r : {2, 3}) AwaitTwoFullRounds("sim-" + std::to_string(r));
  AwaitTwoFullRounds("sim-0");
  EXPECT_FALSE(Holds(2, at_lobby));
  EXPECT_FALSE(Holds(3, at_lobby));
  EXPECT_TRUE(Holds(3, at_lone));
  for (int r : {0, 1, 2}) EXPECT_FALSE(Holds(r, at_lone)) << r;
}

}  // namespace
}  // namespace gw::test
