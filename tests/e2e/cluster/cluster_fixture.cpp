#include "cluster_fixture.hpp"

#include <algorithm>
#include <csignal>
#include <pqxx/pqxx>
#include <sstream>

#include "pg/pg_fixture.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"

namespace gw::test {

using namespace std::chrono_literals;

namespace {

/// `name{reader="x"} value` lines of a Prometheus text page: reader -> value.
std::map<std::string, double> ReaderSeries(const std::string& page, const std::string& name) {
  std::map<std::string, double> out;
  std::istringstream in(page);
  std::string line;
  const std::string prefix = name + "{reader=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto end = line.find('"', prefix.size());
    if (end == std::string::npos) continue;
    auto space = line.rfind(' ');
    out[line.substr(prefix.size(), end - prefix.size())] = std::stod(line.substr(space + 1));
  }
  return out;
}

// application_name is gw-<node>: a row is legitimate only if that node owns the reader's lease
// at the moment it is written (the lease row cannot change before commit: the writer's fence
// holds it FOR SHARE).
constexpr const char* kAudit = R"sql(
CREATE TABLE write_audit (
  app text, tbl text, op text, device_id text, owner text, owner_ok bool, unexpired bool,
  received_at timestamptz, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION audit_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO write_audit (app, tbl, op, device_id, owner, owner_ok, unexpired, received_at)
  SELECT current_setting('application_name'), TG_TABLE_NAME, TG_OP, NEW.device_id, l.owner,
         coalesce(l.owner = substr(current_setting('application_name'), 4), false),
         coalesce(l.expires_at > clock_timestamp(), false),
         CASE WHEN TG_TABLE_NAME = 'events' THEN to_jsonb(NEW)->>'received_at' END::timestamptz
  FROM (SELECT 1) AS one LEFT JOIN device_leases l ON l.device_id = NEW.device_id;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_events AFTER INSERT OR UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION audit_write();
CREATE TRIGGER audit_cursors AFTER INSERT OR UPDATE ON device_cursors
  FOR EACH ROW EXECUTE FUNCTION audit_write();
CREATE TRIGGER audit_doors AFTER INSERT OR UPDATE ON door_state
  FOR EACH ROW EXECUTE FUNCTION audit_write();
)sql";

}  // namespace

void ClusterTest::AuditWrites() {
  // DDL on tables the nodes are writing to: CREATE TRIGGER's lock on one table and a node's
  // transaction on another can deadlock, and PostgreSQL may roll this transaction back as the
  // victim (seen once in CI). It is all or nothing, so it is tried again.
  for (int attempt = 1;; ++attempt) {
    try {
      Exec(dsn_, kAudit);
      return;
    } catch (const pqxx::deadlock_detected&) {
      if (attempt == 5) throw;
    }
  }
}

void ClusterTest::TearDown() {
  for (auto& [id, n] : nodes_) {
    if (n.process.pid() > 0 && n.process.Running()) {
      n.process.Signal(SIGCONT);  // a paused node must be able to handle SIGTERM
      n.process.Stop(10s);
    }
  }
  GatewayTest::TearDown();
}

ClusterTest::Node& ClusterTest::StartNode(const std::string& id) {
  auto& n = nodes_[id];
  n.id = id;
  if (n.api_port == 0) n.api_port = FreePort();
  std::ostringstream y;
  y << "database: { dsn: \"" << dsn_ << " application_name=gw-" << id << "\" }\n"
    << "api: { listen: \"127.0.0.1:" << n.api_port << "\" }\n"
    << "shutdown: { deadline_ms: 10000 }\n"
    << "cluster: { node_id: " << id << ", lease_ms: " << lease_.count()
    << ", renew_ms: " << renew_.count() << ", advertise_url: \"http://127.0.0.1:" << n.api_port
    << "\" }\n"
    << WriteDataKeys(dir_->File("data.keys")) << extra_yaml_ << "readers:\n";
  for (int i = 0; i < readers_; ++i) {
    y << "  - { id: " << DeviceId(i)
      << ", host: 127.0.0.1, port: " << reader_ports_.at(static_cast<std::size_t>(i)) << " }\n";
  }
  auto config = dir_->File("gateway-" + id + ".yaml");
  WriteFile(config, y.str());
  n.process = Process({BinaryDir() + "/daemon/ef45-gatewayd", "run", "--config", config},
                      dir_->File("gateway-" + id + ".log"));
  return n;
}

void ClusterTest::KillNode(const std::string& id) {
  auto& n = nodes_.at(id);
  n.process.Signal(SIGKILL);
  n.process.Wait(10s);
}

bool ClusterTest::WaitNodeReady(const std::string& id, std::chrono::milliseconds deadline) {
  auto& n = nodes_.at(id);
  return WaitFor(
             [&] {
               return HttpRequest(n.api_port, "GET", "/readyz").status == 200 ||
                      !n.process.Running();
             },
             deadline, 50ms) &&
         n.process.Running();
}

std::map<std::string, std::set<std::string>> ClusterTest::LeaseOwners() {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& row : Query(dsn_,
                               "SELECT owner, device_id FROM device_leases "
                               "WHERE owner <> '' AND expires_at > now()")) {
    out[row[0]].insert(row[1]);
  }
  return out;
}

std::set<std::string> ClusterTest::Polled(const std::string& id) {
  std::set<std::string> out;
  auto r = HttpRequest(nodes_.at(id).api_port, "GET", "/metrics");
  if (r.status != 200) return out;
  for (const auto& [reader, value] : ReaderSeries(r.body, "ef45gw_reader_up")) out.insert(reader);
  return out;
}

std::set<std::string> ClusterTest::PolledUp(const std::string& id) {
  std::set<std::string> out;
  auto r = HttpRequest(nodes_.at(id).api_port, "GET", "/metrics");
  if (r.status != 200) return out;
  for (const auto& [reader, value] : ReaderSeries(r.body, "ef45gw_reader_up")) {
    if (value == 1) out.insert(reader);
  }
  return out;
}

double ClusterTest::Metric(const std::string& id, const std::string& name) {
  auto r = HttpRequest(nodes_.at(id).api_port, "GET", "/metrics");
  if (r.status != 200) return -1;
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    auto rest = line.substr(name.size());
    if (!rest.empty() && rest[0] != ' ' && rest[0] != '{') continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::vector<std::string> ClusterTest::PolledTwice(const std::vector<std::string>& ids) {
  std::vector<std::set<std::string>> first, second;
  for (const auto& id : ids) first.push_back(Polled(id));
  for (const auto& id : ids) second.push_back(Polled(id));
  std::set<std::string> twice;
  for (std::size_t x = 0; x < ids.size(); ++x) {
    for (std::size_t y = 0; y < ids.size(); ++y) {
      if (x == y) continue;
      // Scrapes ran first[0..n), then second[0..n): first[y] lies between X's two scrapes
      // when y > x, second[y] when y < x.
      const auto& between = x < y ? first[y] : second[y];
      for (const auto& r : first[x]) {
        if (second[x].count(r) && between.count(r))
          twice.insert(r + " (" + ids[x] + ", " + ids[y] + ")");
      }
    }
  }
  return {twice.begin(), twice.end()};
}

bool ClusterTest::WaitBalanced(const std::vector<std::string>& ids, std::size_t min,
                               std::size_t max, std::chrono::milliseconds deadline) {
  return WaitFor(
      [&] {
        auto owners = LeaseOwners();
        std::size_t total = 0;
        for (const auto& [owner, readers] : owners) {
          if (std::find(ids.begin(), ids.end(), owner) == ids.end()) return false;
          if (readers.size() < min || readers.size() > max) return false;
          total += readers.size();
        }
        if (total != static_cast<std::size_t>(readers_) || owners.size() != ids.size()) {
          return false;
        }
        for (const auto& id : ids) {
          if (Polled(id) != owners[id]) return false;
        }
        return true;
      },
      deadline, 200ms);
}

}  // namespace gw::test
