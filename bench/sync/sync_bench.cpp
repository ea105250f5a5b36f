// sync_bench: time for N users to converge on R readers through ef45-gatewayd (PUT through the
// façade -> every reader holds every user), next to the same pushes (POST /1.0/user, one per
// user and reader) sent straight to a fresh emulator fleet by a plain sequential loop with the
// same reader client. Starts its own PostgreSQL (tests/support/pg.sh), ef45-sim and the gateway.
// The gateway runs twice on fresh fleets and a fresh users table: with users encrypted at rest
// (the default, security.data_keys_file) and in plaintext (security.plaintext_biometrics), and
// the encryption overhead is printed (issue 17: at most 10 %).
// Not a test. Usage: sync_bench [--users 10000] [--readers 20] [--rate 100000]
//                               [--template-bytes 16] [--repeat 2]
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/private_pg.hpp"
#include "common/log.hpp"
#include "ef45/client.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "sync/user_doc.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using gw::test::HttpClient;
using gw::test::Process;

struct Args {
  int users = 10000;
  int readers = 20;
  int rate = 100000;        // sync.max_ops_per_second
  int template_bytes = 16;  // length of each iris template and face feature (base64 text)
  int repeat = 2;           // gateway runs per mode (alternating); the fastest is reported
};

std::string Card(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02X %02X %02X %02X", 0xB0, (i >> 16) & 0xff, (i >> 8) & 0xff,
                i & 0xff);
  return buf;
}

/// A base64 text of `bytes` characters unique to `tag` and `i`, as random as a real template
/// (a padding of one repeated letter would compress to nothing in PostgreSQL's TOAST, where
/// ciphertext does not: the comparison would measure compression, not encryption).
std::string Blob(const char* tag, int i, int bytes) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = tag + std::to_string(10000000 + i);
  std::uint32_t x = 2463534242u ^ static_cast<std::uint32_t>(i * 7919 + tag[0]);
  while (static_cast<int>(out.size()) < bytes) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out += kB64[x & 63];
  }
  return out;
}

/// The document PUT through the façade (the same content the loop pushes).
std::string UserJson(int i, int template_bytes) {
  char uuid[32];
  std::snprintf(uuid, sizeof uuid, "b-%07d", i);
  json::object doc{
      {"user_uuid", uuid},
      {"subject", json::object{{"first_name", "F" + std::to_string(i)},
                               {"last_name", "L" + std::to_string(i)},
                               {"record_version", 8976},
                               {"access_allowed", true},
                               {"wiegand_code", i},
                               {"left_eye_template", Blob("TEZU", i, template_bytes)},
                               {"right_eye_template", Blob("UklH", i, template_bytes)}}},
      {"user_info", json::object{{"card", Card(i)}, {"pin", std::to_string(1000 + i % 9000)}}},
      {"faces", json::array{json::object{{"sub_id", 0},
                                         {"face_score", 0.5},
                                         {"face_feature", Blob("RkFD", i, template_bytes)}}}}};
  return json::serialize(doc);
}

struct Sim {
  Process process;
  std::uint16_t control = 0;
  std::vector<std::uint16_t> ports;
};

Sim StartSim(const gw::test::TempDir& dir, const std::string& name, int readers) {
  Sim sim;
  auto ready = dir.File(name + ".json");
  sim.process =
      Process({std::string(EF45GW_BINARY_DIR) + "/tools/ef45-sim/ef45-sim", "--readers",
               std::to_string(readers), "--base-port", "0", "--control-port", "0", "--rate", "0",
               "--door-rate", "0", "--ready-file", ready, "--log-level", "warn"},
              dir.File(name + ".log"));
  for (int i = 0; i < 400 && gw::test::ReadFile(ready).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto v = json::parse(gw::test::ReadFile(ready));
  sim.control = static_cast<std::uint16_t>(v.at("control_port").to_number<int>());
  for (const auto& r : v.at("readers").as_array()) {
    sim.ports.push_back(static_cast<std::uint16_t>(r.at("port").to_number<int>()));
  }
  return sim;
}

/// Users (subjects) per reader, from the simulator's own counters.
std::vector<std::int64_t> UsersPerReader(const Sim& sim) {
  std::vector<std::int64_t> out;
  auto r = gw::test::HttpRequest(sim.control, "GET", "/sim/readers");
  if (r.status != 200) return out;
  auto all = json::parse(r.body);
  for (const auto& reader : all.as_array()) {
    out.push_back(reader.at("users").to_number<std::int64_t>());
  }
  return out;
}

/// The plain loop: reader after reader, user after user, one POST /1.0/user each.
asio::awaitable<std::int64_t> PlainLoop(std::vector<std::uint16_t> ports,
                                        const std::vector<gw::ef45::EnrollUser>* users) {
  std::int64_t failures = 0;
  auto ex = co_await asio::this_coro::executor;
  for (auto port : ports) {
    gw::ef45::ClientOptions o;
    o.port = port;
    gw::ef45::Client client(ex, o);
    for (const auto& u : *users) {
      auto r = co_await client.EnrollUser(u);
      if (!r || *r) ++failures;
    }
    co_await client.Unlock();
  }
  co_return failures;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--users") {
      a.users = v;
    } else if (k == "--readers") {
      a.readers = v;
    } else if (k == "--rate") {
      a.rate = v;
    } else if (k == "--template-bytes") {
      a.template_bytes = v;
    } else if (k == "--repeat") {
      a.repeat = std::max(1, v);
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  gw::log::SetLevel(gw::log::Level::kWarn);
  gw::test::TempDir dir;
  int rc = 0;
  try {
    gw::bench::PrivatePg pg("syncbench", /*migrate=*/false);  // the gateway migrates
    std::vector<std::string> docs;
    std::vector<gw::ef45::EnrollUser> bundles;
    for (int i = 0; i < a.users; ++i) {
      docs.push_back(UserJson(i, a.template_bytes));
      char uuid[32];
      std::snprintf(uuid, sizeof uuid, "b-%07d", i);
      std::string problem;
      auto doc = gw::sync::ParseUserDoc(uuid, docs.back(), &problem);
      if (!doc) throw std::runtime_error(problem);
      bundles.push_back(gw::sync::ToEnrollUser(*doc));
    }
    const std::int64_t pushes = static_cast<std::int64_t>(a.users) * a.readers;

    // 1. The plain loop against a fresh fleet.
    auto sim_a = StartSim(dir, "sim-a", a.readers);
    asio::io_context io;
    auto t0 = Clock::now();
    auto fut = asio::co_spawn(io, PlainLoop(sim_a.ports, &bundles), asio::use_future);
    io.run();
    auto loop_failures = fut.get();
    double loop_s = std::chrono::duration<double>(Clock::now() - t0).count();
    auto counts_a = UsersPerReader(sim_a);
    sim_a.process.Stop();

    // 2. The gateway against another fresh fleet, encrypted at rest, then in plaintext.
    struct GatewayRun {
      double put_s = 0;
      double converge_s = 0;
      bool converged = false;
      int put_failures = 0;
    };
    auto run_gateway = [&](const std::string& name, bool encrypted) {
      GatewayRun out;
      {
        pqxx::connection c(pg.dsn());
        pqxx::work t(c);
        // The previous run's users, reader states and cursors (its fleet is gone).
        t.exec(
            "DO $$ BEGIN IF to_regclass('users') IS NOT NULL THEN "
            "TRUNCATE users, user_device_state, sync_import_cursors, sync_imports, "
            "device_cursors, reader_locks, events; END IF; END $$");
        t.commit();
      }
      auto sim_b = StartSim(dir, "sim-" + name, a.readers);
      auto baseline = UsersPerReader(sim_b);  // the emulator's preenrolled users
      std::uint16_t api = gw::test::FreePort();
      std::string security = encrypted ? gw::test::WriteDataKeys(dir.File(name + ".keys"))
                                       : std::string("security: { plaintext_biometrics: true }\n");
      std::string yaml = "database: { dsn: \"" + pg.dsn() + "\" }\n" +
                         "api: { listen: \"127.0.0.1:" + std::to_string(api) + "\" }\n" +
                         "log: { level: warn }\n" + security +
                         "sync: { policy: additive, max_ops_per_second: " + std::to_string(a.rate) +
                         ", page_size: 1000, audit_ms: 600000 }\nreaders:\n";
      for (int i = 0; i < a.readers; ++i) {
        yaml += "  - { id: sim-" + std::to_string(i) + ", host: 127.0.0.1, port: " +
                std::to_string(sim_b.ports[static_cast<std::size_t>(i)]) + " }\n";
      }
      gw::test::WriteFile(dir.File(name + ".yaml"), yaml);
      Process gateway({std::string(EF45GW_BINARY_DIR) + "/daemon/ef45-gatewayd", "run", "--config",
                       dir.File(name + ".yaml")},
                      dir.File(name + ".log"));
      for (int i = 0; i < 600; ++i) {
        if (!gateway.Running()) throw std::runtime_error("gateway exited: " + gateway.Log());
        if (gw::test::HttpRequest(api, "GET", "/readyz").status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      // Let the first (empty) full rounds finish so that both runs start from the same point.
      std::this_thread::sleep_for(std::chrono::seconds(2));
      HttpClient client("127.0.0.1", api, std::chrono::seconds(30));
      auto g0 = Clock::now();
      for (int i = 0; i < a.users; ++i) {
        char target[64];
        std::snprintf(target, sizeof target, "/api/v1/users/b-%07d", i);
        auto r = client.Request("PUT", target, docs[static_cast<std::size_t>(i)],
                                {{"Content-Type", "application/json"}});
        if (r.status != 201) ++out.put_failures;
      }
      out.put_s = std::chrono::duration<double>(Clock::now() - g0).count();
      auto deadline = g0 + std::chrono::minutes(30);
      while (Clock::now() < deadline && gateway.Running()) {
        auto counts = UsersPerReader(sim_b);
        out.converged = counts.size() == baseline.size();
        for (std::size_t i = 0; out.converged && i < counts.size(); ++i) {
          out.converged = counts[i] >= baseline[i] + a.users;
        }
        if (out.converged) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      out.converge_s = std::chrono::duration<double>(Clock::now() - g0).count();
      gateway.Stop();
      sim_b.process.Stop();
      return out;
    };
    // Alternating runs (plaintext first), the fastest of each kept: the order and the
    // machine's other work weigh on one run as much as the encryption does.
    GatewayRun sealed, plain;
    for (int r = 0; r < a.repeat; ++r) {
      auto p = run_gateway("gw-plaintext-" + std::to_string(r), false);
      auto e = run_gateway("gw-encrypted-" + std::to_string(r), true);
      if (r == 0 || p.converge_s < plain.converge_s) plain = p;
      if (r == 0 || e.converge_s < sealed.converge_s) sealed = e;
    }

    std::int64_t loop_users = 0;
    for (auto c : counts_a) loop_users += c;
    std::printf(
        "\nsync_bench: %d users x %d readers = %lld pushes (POST /1.0/user), templates of %d "
        "bytes, gateway sync.max_ops_per_second %d; ef45-sim, ef45-gatewayd, PostgreSQL on this "
        "machine\n\n",
        a.users, a.readers, static_cast<long long>(pushes), a.template_bytes, a.rate);
    std::printf("%-60s %12s %12s\n", "run", "seconds", "pushes/s");
    std::printf("%-60s %12.2f %12.0f\n", "plain loop, straight to the emulators (sequential)",
                loop_s, pushes / loop_s);
    for (const auto& [label, run] :
         {std::pair<const char*, const GatewayRun*>{"encrypted at rest (default)", &sealed},
          std::pair<const char*, const GatewayRun*>{"plaintext_biometrics", &plain}}) {
      std::printf("%-60s %12.2f %12s\n",
                  (std::string("gateway, ") + label + ": PUT of every user").c_str(), run->put_s,
                  "-");
      std::printf("%-60s %12.2f %12.0f\n",
                  (std::string("gateway, ") + label + ": first PUT -> all hold all").c_str(),
                  run->converge_s, pushes / run->converge_s);
    }
    std::printf("\nratio gateway (encrypted) / plain loop: %.2f%s\n", sealed.converge_s / loop_s,
                sealed.converged && plain.converged ? "" : "  (NOT CONVERGED within 30 min)");
    std::printf(
        "encryption overhead (fastest of %d runs each): PUT %+.1f %%, convergence %+.1f %%\n",
        a.repeat, 100.0 * (sealed.put_s / plain.put_s - 1.0),
        100.0 * (sealed.converge_s / plain.converge_s - 1.0));
    std::printf(
        "failures: plain loop %lld, PUT %d (encrypted) %d (plaintext); plain-loop fleet "
        "holds %lld users\n",
        static_cast<long long>(loop_failures), sealed.put_failures, plain.put_failures,
        static_cast<long long>(loop_users));
    if (!sealed.converged || !plain.converged) rc = 1;
  } catch (const std::exception& e) {
    std::cerr << "sync_bench: " << e.what() << "\n";
    rc = 1;
  }
  return rc;
}
