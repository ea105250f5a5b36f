#include "e2e/gateway/gateway_fixture.hpp"

#include <unistd.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "pg/pg_fixture.hpp"
#include "support/wait.hpp"

namespace gw::test {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {
// CREATE/DROP DATABASE refuse to run inside a transaction block.
void ExecOutsideTransaction(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}
}  // namespace

void GatewayTest::SetUp() {
  auto dsn = TestPgDsn();
  if (!dsn) {
    if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") {
      FAIL() << "EF45GW_TEST_PG_DSN is not set (tests/run.sh starts PostgreSQL)";
    }
    GTEST_SKIP() << "EF45GW_TEST_PG_DSN is not set; run through tests/run.sh";
  }
  dir_ = std::make_unique<TempDir>();
  admin_dsn_ = *dsn;
  static int counter = 0;
  db_name_ = "e2e_gw_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  ExecOutsideTransaction(admin_dsn_, "CREATE DATABASE " + db_name_);
  dsn_ = WithDbName(admin_dsn_, db_name_);
}

void GatewayTest::TearDown() {
  if (gateway_.pid() > 0) gateway_.Stop(10s);
  if (sim_.pid() > 0) sim_.Stop(10s);
  if (!private_pg_.empty()) {
    Shell(SourceDir() + "/tests/support/pg.sh stop " + private_pg_ + " >/dev/null 2>&1");
  } else if (!db_name_.empty() && !admin_dsn_.empty()) {
    try {
      ExecOutsideTransaction(admin_dsn_, "DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
}

void GatewayTest::UsePrivateCluster() {
  private_pg_ = dir_->File("pg");
  // pg.sh runs the server as `postgres` when we are root: it must be able to reach the directory.
  std::filesystem::permissions(dir_->path(), std::filesystem::perms(0755));
  ASSERT_EQ(Shell(SourceDir() + "/tests/support/pg.sh start " + private_pg_ + " >/dev/null"), 0);
  auto env = ReadFile(private_pg_ + "/env");
  auto pos = env.find("PGPORT=");
  ASSERT_NE(pos, std::string::npos);
  auto port = std::stoi(env.substr(pos + 7));
  admin_dsn_ = "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=postgres";
  ExecOutsideTransaction(admin_dsn_, "CREATE DATABASE " + db_name_);
  dsn_ = WithDbName(admin_dsn_, db_name_);
}

void GatewayTest::RestartDatabase() {
  ASSERT_FALSE(private_pg_.empty()) << "restart only a private cluster";
  ASSERT_EQ(Shell(SourceDir() + "/tests/support/pg.sh restart " + private_pg_ + " >/dev/null"), 0);
}

void GatewayTest::StopDatabase() {
  ASSERT_FALSE(private_pg_.empty()) << "stop only a private cluster";
  ASSERT_EQ(Shell(SourceDir() + "/tests/support/pg.sh stop " + private_pg_ + " >/dev/null"), 0);
}

void GatewayTest::StartDatabase() {
  ASSERT_FALSE(private_pg_.empty()) << "start only a private cluster";
  ASSERT_EQ(Shell(SourceDir() + "/tests/support/pg.sh start " + private_pg_ + " >/dev/null"), 0);
}

void GatewayTest::StartSim(int readers, double rate, double door_rate) {
  auto ready = dir_->File("sim-ready.json");
  std::ostringstream r, d;
  r << rate;
  d << door_rate;
  std::vector<std::string> args{BinaryDir() + "/tools/ef45-sim/ef45-sim",
                                "--readers",
                                std::to_string(readers),
                                "--base-port",
                                "0",
                                "--control-port",
                                "0",
                                "--rate",
                                r.str(),
                                "--door-rate",
                                d.str(),
                                "--seed",
                                "45",
                                "--ready-file",
                                ready};
  args.insert(args.end(), sim_args_.begin(), sim_args_.end());
  sim_ = Process(args, dir_->File("sim.log"));
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(ready).empty(); }, 20s)) << sim_.Log();
  auto v = json::parse(ReadFile(ready));
  control_port_ = static_cast<std::uint16_t>(v.at("control_port").to_number<int>());
  reader_ports_.clear();
  for (const auto& reader : v.at("readers").as_array()) {
    reader_ports_.push_back(static_cast<std::uint16_t>(reader.at("port").to_number<int>()));
  }
}

void GatewayTest::WriteConfig(const std::vector<int>& indices, const std::string& extra_yaml) {
  if (api_port_ == 0) api_port_ = FreePort();
  std::ostringstream y;
  y << "database: { dsn: \"" << dsn_ << "\" }\n"
    << "api: { listen: \"127.0.0.1:" << api_port_ << "\"" << api_extra_ << " }\n"
    << "shutdown: { deadline_ms: 10000 }\n"
    << SecurityYaml() << extra_yaml << "readers:\n";
  for (int i : indices) {
    y << "  - { id: " << DeviceId(i)
      << ", host: 127.0.0.1, port: " << reader_ports_.at(static_cast<std::size_t>(i)) << " }\n";
  }
  WriteFile(dir_->File("gateway.yaml"), y.str());
}

const std::string& GatewayTest::SecurityYaml() {
  if (security_yaml_.empty()) security_yaml_ = WriteDataKeys(dir_->File("data.keys"));
  return security_yaml_;
}

void GatewayTest::StartGateway() {
  ++gateway_starts_;
  gateway_ = Process(
      {BinaryDir() + "/daemon/ef45-gatewayd", "run", "--config", dir_->File("gateway.yaml")},
      dir_->File("gateway.log"), gateway_env_);
}

void GatewayTest::KillGateway() {
  gateway_.Signal(SIGKILL);
  gateway_.Wait(10s);
}

bool GatewayTest::WaitReady(std::chrono::milliseconds deadline) {
  return WaitFor(
             [&] {
               return HttpRequest(api_port_, "GET", "/readyz").status == 200 || !gateway_.Running();
             },
             deadline, 50ms) &&
         gateway_.Running();
}

void GatewayTest::LetRun(std::chrono::seconds duration) {
  auto until = std::chrono::steady_clock::now() + duration;
  do {
    ASSERT_TRUE(gateway_.Running()) << gateway_.Log();
    std::this_thread::sleep_for(250ms);
  } while (std::chrono::steady_clock::now() < until);
}

json::value GatewayTest::SimGet(const std::string& target) {
  auto r = HttpRequest(control_port_, "GET", target);
  if (r.status != 200) return nullptr;
  return json::parse(r.body);
}

int GatewayTest::SimPost(const std::string& target, const std::string& body) {
  return HttpRequest(control_port_, "POST", target, body, {{"Content-Type", "application/json"}})
      .status;
}

json::value GatewayTest::GatewayGet(const std::string& target) {
  auto r = HttpRequest(api_port_, "GET", target);
  if (r.status != 200) return nullptr;
  return json::parse(r.body);
}

std::vector<LogKey> GatewayTest::Generated(int reader) {
  std::vector<LogKey> out;
  std::int64_t after = 0;
  while (true) {
    auto v = SimGet("/sim/readers/" + std::to_string(reader) +
                    "/generated?limit=10000&after=" + std::to_string(after));
    if (v.is_null()) break;
    for (const auto& e : v.at("items").as_array()) {
      out.emplace_back(e.at("log_epoch").to_number<std::int64_t>(),
                       e.at("log_id").to_number<std::int64_t>());
    }
    if (!v.at("has_more").as_bool()) break;
    after = v.at("next").to_number<std::int64_t>();
  }
  return out;
}

std::vector<LogKey> GatewayTest::Stored(int reader) {
  std::vector<LogKey> out;
  for (const auto& row :
       Query(dsn_, "SELECT log_epoch, device_log_id FROM events WHERE device_id = '" +
                       DeviceId(reader) + "' AND device_log_id IS NOT NULL ORDER BY 1, 2")) {
    out.emplace_back(std::stoll(row[0]), std::stoll(row[1]));
  }
  return out;
}

bool GatewayTest::WaitDrained(const std::vector<int>& readers, std::chrono::milliseconds deadline) {
  std::string pending;  // why the last check failed, printed if the deadline passes
  bool drained = WaitFor(
      [&] {
        auto sim = SimGet("/sim/readers");
        if (sim.is_null()) {
          pending = "ef45-sim does not answer";
          return false;
        }
        for (int i : readers) {
          const auto& r = sim.as_array().at(static_cast<std::size_t>(i));
          auto match = r.at("match_pending").to_number<std::int64_t>();
          auto last = r.at("last_log_id").to_number<std::int64_t>();
          auto cursor = Scalar(dsn_,
                               "SELECT coalesce(max(last_log_id), -1) FROM device_cursors "
                               "WHERE device_id = '" +
                                   DeviceId(i) + "'");
          if (match != 0 || std::stoll(cursor) != last) {
            undrained_ = i;
            pending = DeviceId(i) + ": " + std::to_string(match) +
                      " match-data items on the reader, log cursor " + cursor + " of " +
                      std::to_string(last);
            return false;
          }
        }
        return true;
      },
      deadline, 200ms);
  if (!drained) std::cerr << "[ drained  ] not drained: " << pending << "\n";
  return drained;
}

void GatewayTest::ExpectExactlyOnce(int reader) {
  auto generated = Generated(reader);
  auto stored = Stored(reader);
  std::sort(generated.begin(), generated.end());
  std::set<LogKey> unique(stored.begin(), stored.end());
  EXPECT_EQ(unique.size(), stored.size()) << DeviceId(reader) << ": duplicates stored";
  std::vector<LogKey> missing;
  std::set_difference(generated.begin(), generated.end(), unique.begin(), unique.end(),
                      std::back_inserter(missing));
  std::vector<LogKey> extra;
  std::set_difference(unique.begin(), unique.end(), generated.begin(), generated.end(),
                      std::back_inserter(extra));
  EXPECT_TRUE(missing.empty()) << DeviceId(reader) << ": " << missing.size()
                               << " generated events not stored, first (epoch " << missing[0].first
                               << ", id " << missing[0].second << ")";
  EXPECT_TRUE(extra.empty()) << DeviceId(reader) << ": " << extra.size()
                             << " stored events never generated";
  EXPECT_FALSE(generated.empty()) << DeviceId(reader) << " generated nothing";
}

void GatewayTest::ExpectMatchDataExactlyOnce(int reader) {
  std::set<std::string> generated;
  std::set<std::string> dropped_ids;
  std::int64_t after = 0;
  while (true) {
    auto v = SimGet("/sim/readers/" + std::to_string(reader) +
                    "/generated?limit=10000&after=" + std::to_string(after));
    ASSERT_FALSE(v.is_null()) << DeviceId(reader) << ": no ledger";
    for (const auto& e : v.at("items").as_array()) {
      // Empty: the reader's match buffer was full, so the recognition got no item. Dropped: a
      // reboot emptied the buffer before the item was deleted (lost on the reader; must not be
      // stored twice either, so it is left to the `extra` check below only if stored).
      const auto& id = e.at("encounter_id").as_string();
      if (id.empty()) continue;
      if (const auto* dropped = e.as_object().if_contains("match_dropped");
          dropped && dropped->as_bool()) {
        dropped_ids.emplace(id);
        continue;
      }
      generated.emplace(id);
    }
    if (!v.at("has_more").as_bool()) break;
    after = v.at("next").to_number<std::int64_t>();
  }
  std::map<std::string, int> stored;  // encounter id -> rows with the match-data source
  std::set<std::string> without_source;
  for (const auto& row : Query(dsn_,
                               "SELECT encounter_id, sources & 2 = 2 FROM events "
                               "WHERE device_id = '" +
                                   DeviceId(reader) + "' AND encounter_id IS NOT NULL")) {
    if (row[1] == "t") {
      ++stored[row[0]];
    } else {
      without_source.insert(row[0]);
    }
  }
  std::vector<std::string> missing, doubled, extra;
  for (const auto& id : generated) {
    auto it = stored.find(id);
    if (it == stored.end()) {
      missing.push_back(id);
    } else if (it->second > 1) {
      doubled.push_back(id);
    }
  }
  for (const auto& [id, n] : stored) {
    if (dropped_ids.count(id)) {
      if (n > 1) doubled.push_back(id);
    } else if (!generated.count(id)) {
      extra.push_back(id);
    }
  }
  EXPECT_FALSE(generated.empty()) << DeviceId(reader) << " generated no match-data";
  EXPECT_TRUE(missing.empty()) << DeviceId(reader) << ": " << missing.size() << " of "
                               << generated.size() << " match-data items not stored, first "
                               << missing.front();
  EXPECT_TRUE(doubled.empty()) << DeviceId(reader) << ": " << doubled.size()
                               << " match-data items stored more than once, first "
                               << doubled.front();
  EXPECT_TRUE(extra.empty()) << DeviceId(reader) << ": " << extra.size()
                             << " stored match-data items never generated, first " << extra.front();
  for (const auto& id : dropped_ids) without_source.erase(id);  // its log entry, no item
  EXPECT_TRUE(without_source.empty())
      << DeviceId(reader) << ": " << without_source.size()
      << " rows carry an encounter id but not the match-data source, first "
      << *without_source.begin();
}

bool GatewayTest::LockIsFree(int reader) {
  auto r = HttpRequest(reader_ports_.at(static_cast<std::size_t>(reader)), "POST", "/1.0/lock");
  if (r.status != 200) return false;
  // Give it back so the next check (or the gateway) can take it.
  auto v = json::parse(r.body);
  HttpRequest(reader_ports_.at(static_cast<std::size_t>(reader)), "DELETE",
              "/1.0/lock/" + std::string(v.at("lock_uid").as_string()));
  return true;
}

}  // namespace gw::test
