// fence_bench: what the cluster lease fence costs the event writer. The same transactions (many
// readers' batches each, as the EventWriter builds them) are committed with
// WriteBatchesBlocking, alternately without the fence (single instance) and with it (cluster
// mode: one extra statement per transaction checking owner, epoch and expiry of every reader in
// it, rows locked FOR SHARE).
//
//   fence_bench [--readers N] [--events N] [--batch-events N] [--tx-events N] [--rounds N]
//
// Starts a private PostgreSQL (tests/support/pg.sh) and stops it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "bench/support/private_pg.hpp"
#include "common/log.hpp"
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/leases.hpp"
#include "store/migrate.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int readers = 1000;
  int events = 100000;
  int batch_events = 2;  // events per DeviceBatch: one poll of one reader
  int tx_events = 1000;  // events per transaction (store.batch_max_events)
  int rounds = 5;
};

std::string ReaderId(int r) { return "bench-" + std::to_string(r); }

gw::store::Event Recognition(int reader, std::int64_t log_id) {
  gw::store::Event e;
  e.kind = gw::store::EventKind::kRecognition;
  e.source = gw::store::EventSource::kLog;
  e.device_log_id = log_id;
  e.event_type = "Recognition";
  e.info = "Recog/BioOnly/IrisOk";
  e.additional_data = "Allowed";
  e.user_uuid = "user-" + std::to_string((reader * 7919 + log_id) % 50000);
  e.device_time = gw::store::TimePoint(std::chrono::seconds(1764000000 + log_id));
  e.payload = R"({"left_eye_quality_score":92,"right_eye_quality_score":90,)"
              R"("near_on_face_score":0.97,"far_on_face_score":0.88})";
  return e;
}

// Transactions as the writer forms them: consecutive DeviceBatches of the interleaved stream
// (reader 0, 1, ..., N-1, 0, 1, ...) up to tx_events events.
std::vector<std::vector<gw::store::DeviceBatch>> MakeTransactions(const Args& a) {
  std::vector<std::vector<gw::store::DeviceBatch>> txs(1);
  std::vector<std::int64_t> next(static_cast<std::size_t>(a.readers), 1);
  int in_tx = 0;
  for (int made = 0; made < a.events;) {
    for (int r = 0; r < a.readers && made < a.events; ++r) {
      gw::store::DeviceBatch b;
      b.device_id = ReaderId(r);
      b.lease_epoch = 1;
      auto& id = next[static_cast<std::size_t>(r)];
      for (int i = 0; i < a.batch_events; ++i, ++made) b.events.push_back(Recognition(r, id++));
      b.cursor = gw::store::Cursor{id - 1, 0};
      if (in_tx + a.batch_events > a.tx_events) {
        txs.emplace_back();
        in_tx = 0;
      }
      in_tx += a.batch_events;
      txs.back().push_back(std::move(b));
    }
  }
  return txs;
}

void Truncate(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec("TRUNCATE events, device_cursors, door_state");
  tx.commit();
}

struct Run {
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

Run Commit(gw::store::Database& db, const std::vector<std::vector<gw::store::DeviceBatch>>& txs,
           const std::string& fence_owner, int events) {
  std::vector<double> ms;
  auto start = Clock::now();
  for (const auto& tx : txs) {
    std::vector<const gw::store::DeviceBatch*> ptrs;
    for (const auto& b : tx) ptrs.push_back(&b);
    auto t0 = Clock::now();
    auto r = gw::store::WriteBatchesBlocking(db, ptrs, fence_owner);
    if (!r) throw std::runtime_error("commit failed: " + r.error().message());
    if (!r->fenced.empty()) throw std::runtime_error("unexpectedly fenced: " + r->fenced[0]);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  double s = std::chrono::duration<double>(Clock::now() - start).count();
  return {events / s, Percentile(ms, 0.5), Percentile(ms, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--readers") {
      a.readers = v;
    } else if (k == "--events") {
      a.events = v;
    } else if (k == "--batch-events") {
      a.batch_events = v;
    } else if (k == "--tx-events") {
      a.tx_events = v;
    } else if (k == "--rounds") {
      a.rounds = v;
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  gw::log::SetLevel(gw::log::Level::kWarn);
  int rc = 0;
  try {
    gw::bench::PrivatePg pg("bench", /*migrate=*/true);
    const std::string& dsn = pg.dsn();
    gw::store::Database db(gw::store::DatabaseOptions{dsn, 1});
    // This node holds every reader's lease (epoch 1) for the whole run.
    gw::store::LeaseTickRequest claim;
    claim.node_id = "bench";
    claim.lease = std::chrono::hours(1);
    for (int r = 0; r < a.readers; ++r) claim.readers.push_back(ReaderId(r));
    claim.ensure_rows = true;
    auto claimed = gw::store::LeaseTickBlocking(db, claim);
    if (!claimed || claimed->claimed.size() != static_cast<std::size_t>(a.readers)) {
      throw std::runtime_error("could not claim the leases");
    }
    auto txs = MakeTransactions(a);
    std::vector<Run> off, on;
    std::vector<double> ratios;
    for (int round = 0; round < a.rounds; ++round) {
      Truncate(dsn);
      off.push_back(Commit(db, txs, "", a.events));
      Truncate(dsn);
      on.push_back(Commit(db, txs, "bench", a.events));
      ratios.push_back(on.back().events_per_s / off.back().events_per_s);
    }
    auto med = [](const std::vector<Run>& runs, double Run::*field) {
      std::vector<double> v;
      for (const auto& r : runs) v.push_back(r.*field);
      return Percentile(v, 0.5);
    };
    std::printf(
        "\nfence_bench: %d readers, %d events, %d events per DeviceBatch, %d events (%d readers) "
        "per transaction, %zu transactions, one thread; medians of %d alternating rounds\n\n",
        a.readers, a.events, a.batch_events, a.tx_events, a.tx_events / a.batch_events, txs.size(),
        a.rounds);
    std::printf("| %-32s | %10s | %12s | %12s |\n", "WriteBatchesBlocking", "events/s", "tx p50 ms",
                "tx p99 ms");
    std::printf("|%s|%s|%s|%s|\n", std::string(34, '-').c_str(), std::string(12, '-').c_str(),
                std::string(14, '-').c_str(), std::string(14, '-').c_str());
    for (auto [name, runs] : {std::pair{"no fence (single instance)", &off},
                              std::pair{"lease fence (cluster mode)", &on}}) {
      std::printf("| %-32s | %10.0f | %12.2f | %12.2f |\n", name, med(*runs, &Run::events_per_s),
                  med(*runs, &Run::p50_ms), med(*runs, &Run::p99_ms));
    }
    std::printf("\nfenced/unfenced throughput: %.3f (median of per-round ratios:",
                Percentile(ratios, 0.5));
    for (double r : ratios) std::printf(" %.3f", r);
    std::printf(")\n");
  } catch (const std::exception& e) {
    std::cerr << "fence_bench: " << e.what() << "\n";
    rc = 1;
  }
  return rc;
}
