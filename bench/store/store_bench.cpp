// store_bench: what the EventWriter sustains against a plain COPY of the same rows, and how long a
// producer waits for its acknowledgement at 10% and 80% of that rate.
//
//   store_bench [--readers N] [--events N] [--batch-events N] [--paced-seconds S]
//               [--max-batch N] [--max-delay-ms N]
//
// Starts a private PostgreSQL (tests/support/pg.sh, fsync off like the tests) and stops it.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
#include "store/database.hpp"
#include "store/event_writer.hpp"
#include "store/migrate.hpp"

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using gw::store::DeviceBatch;
using gw::store::Event;

namespace {

struct Args {
  int readers = 1000;
  int events = 200000;
  int batch_events = 2;  // events per DeviceBatch: a poll of one reader
  int paced_seconds = 8;
  int max_batch = 1000;
  int max_delay_ms = 20;
  int rounds = 3;
};

// A recognition: log entry fields plus the match-data fields a poller keeps (no biometrics).
Event Recognition(int reader, std::int64_t log_id) {
  Event e;
  e.kind = gw::store::EventKind::kRecognition;
  e.source = gw::store::EventSource::kLog;
  e.device_log_id = log_id;
  e.encounter_id =
      "6c45cc76-6291-11e8-b384-" + std::to_string(100000000000 + reader * 1000000 + log_id);
  e.event_type = "Recognition";
  e.info = "Recog/BioOnly/IrisOk";
  e.additional_data = "Allowed";
  e.user_uuid = "user-" + std::to_string((reader * 7919 + log_id) % 50000);
  e.device_time = gw::store::TimePoint(std::chrono::seconds(1764000000 + log_id));
  e.received_at =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  e.payload =
      R"({"serial_number":"EF45-)" + std::to_string(100000 + reader) +
      R"(","timestamp":"2025-11-24T16:00:00Z","matched_faceimage_data_len":0,)"
      R"("left_eye_usable_iris_area":87,"left_eye_quality_score":92,"left_eye_quality_ok":true,)"
      R"("right_eye_usable_iris_area":85,"right_eye_quality_score":90,"right_eye_quality_ok":true,)"
      R"("near_on_face_score":0.97,"near_on_face_frontal_score":0.91,"near_on_face_roll":1.5,)"
      R"("near_on_face_eye_width":64,"near_on_face_LED_state":1,"far_on_face_score":0.88,)"
      R"("far_on_face_frontal_score":0.84,"far_on_face_roll":-2.25,"far_on_face_eye_width":41})";
  return e;
}

// The interleaved stream: reader 0 batch 0, reader 1 batch 0, ..., reader 0 batch 1, ...
std::vector<DeviceBatch> MakeBatches(const Args& a, int total_events, std::int64_t first_id) {
  std::vector<DeviceBatch> out;
  int per_reader = std::max(1, total_events / (a.readers * a.batch_events));
  for (int k = 0; k < per_reader; ++k) {
    for (int r = 0; r < a.readers; ++r) {
      DeviceBatch b;
      b.device_id = "reader-" + std::to_string(r);
      for (int i = 0; i < a.batch_events; ++i) {
        b.events.push_back(Recognition(r, first_id + k * a.batch_events + i));
      }
      b.cursor = gw::store::Cursor{first_id + (k + 1) * a.batch_events - 1, 0};
      out.push_back(std::move(b));
    }
  }
  return out;
}

double CopyRate(const std::string& dsn, const std::vector<DeviceBatch>& batches) {
  std::size_t n = 0;
  auto start = Clock::now();
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  {
    pqxx::stream_to copy(tx, "events",
                         std::vector<std::string>{
                             "device_id", "event_key", "kind", "sources", "device_log_id",
                             "log_epoch", "encounter_id", "event_type", "info", "additional_data",
                             "user_uuid", "device_time", "received_at", "payload"});
    for (const auto& b : batches) {
      for (const auto& e : b.events) {
        copy << std::make_tuple(
            b.device_id, gw::store::EventKey(e), std::string("recognition"), 1, *e.device_log_id,
            e.log_epoch, *e.encounter_id, *e.event_type, *e.info, *e.additional_data, *e.user_uuid,
            std::string("2025-11-24T16:00:00Z"), std::string("2025-11-24T16:00:01Z"), e.payload);
        ++n;
      }
    }
    copy.complete();
  }
  tx.commit();
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

// WriteBatchesBlocking called directly, one thread, transactions of `per_tx` events: the SQL
// path without the writer's queueing.
double DirectRate(const std::string& dsn, const std::vector<DeviceBatch>& batches, int per_tx) {
  gw::store::Database db(gw::store::DatabaseOptions{dsn, 1});
  std::vector<const DeviceBatch*> group;
  std::size_t n = 0, in_group = 0;
  auto start = Clock::now();
  for (const auto& b : batches) {
    group.push_back(&b);
    in_group += b.events.size();
    if (in_group >= static_cast<std::size_t>(per_tx) || &b == &batches.back()) {
      if (!gw::store::WriteBatchesBlocking(db, group)) throw std::runtime_error("direct failed");
      n += in_group;
      group.clear();
      in_group = 0;
    }
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

void Truncate(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec("TRUNCATE events, device_cursors, door_state, devices CASCADE");
  tx.commit();
  pqxx::nontransaction v(c);
  v.exec("VACUUM ANALYZE events");
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

struct RunResult {
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  std::uint64_t transactions = 0;
  std::size_t events = 0;
};

// One coroutine per reader. `interval` zero = as fast as acks come back (closed loop);
// otherwise each reader sends one batch per interval (waiting for its ack first, like a poller).
asio::awaitable<void> Reader(gw::store::EventWriter* w, std::vector<DeviceBatch>* mine,
                             std::chrono::microseconds interval, Clock::time_point start,
                             std::vector<double>* lat) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto next = start;
  for (auto& b : *mine) {
    if (interval.count() > 0) {
      next += interval;
      timer.expires_at(next);
      co_await timer.async_wait(asio::use_awaitable);
    }
    auto t0 = Clock::now();
    auto ec = co_await w->Write(std::move(b));
    if (ec) throw std::runtime_error("write failed: " + ec.message());
    lat->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
}

RunResult RunWriter(const Args& a, const std::string& dsn, std::vector<DeviceBatch> batches,
                    std::chrono::microseconds interval) {
  asio::io_context io;
  gw::store::Database db(gw::store::DatabaseOptions{dsn, 4});
  gw::store::WriterOptions o;
  o.max_batch_events = a.max_batch;
  o.max_delay = std::chrono::milliseconds(a.max_delay_ms);
  o.queue_capacity = 20000;
  gw::store::EventWriter writer(io.get_executor(), db, o);
  writer.Start();
  std::vector<std::vector<DeviceBatch>> per_reader(static_cast<std::size_t>(a.readers));
  std::size_t events = 0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    events += batches[i].events.size();
    per_reader[i % per_reader.size()].push_back(std::move(batches[i]));
  }
  std::vector<std::vector<double>> lat(per_reader.size());
  auto start = Clock::now();
  std::vector<std::future<void>> done;
  for (std::size_t r = 0; r < per_reader.size(); ++r) {
    // Spread the first sends over one interval, as the poller's start-up spread does.
    auto offset = interval.count() > 0
                      ? std::chrono::microseconds(interval.count() * static_cast<long>(r) /
                                                  static_cast<long>(per_reader.size()))
                      : std::chrono::microseconds(0);
    done.push_back(asio::co_spawn(
        io, Reader(&writer, &per_reader[r], interval, start + offset, &lat[r]), asio::use_future));
  }
  std::thread t([&] { io.run(); });
  for (auto& f : done) f.get();
  auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto stop = [](gw::store::EventWriter* w) -> asio::awaitable<void> {
    co_await w->Stop(std::chrono::seconds(10));
  };
  auto stopped = asio::co_spawn(io, stop(&writer), asio::use_future);
  stopped.get();
  t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  RunResult r;
  r.events = events;
  r.events_per_s = static_cast<double>(events) / elapsed;
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  r.max_ms = Percentile(all, 1.0);
  r.transactions = writer.Stats().transactions;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--readers")
      a.readers = v;
    else if (k == "--events")
      a.events = v;
    else if (k == "--batch-events")
      a.batch_events = v;
    else if (k == "--paced-seconds")
      a.paced_seconds = v;
    else if (k == "--max-batch")
      a.max_batch = v;
    else if (k == "--max-delay-ms")
      a.max_delay_ms = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  gw::log::SetLevel(gw::log::Level::kWarn);
  int rc = 0;
  try {
    gw::bench::PrivatePg pg("bench", /*migrate=*/true);
    const std::string& dsn = pg.dsn();
    auto batches = MakeBatches(a, a.events, 1);
    std::size_t payload_bytes = 0, n = 0;
    for (const auto& b : batches) {
      for (const auto& e : b.events) {
        payload_bytes += e.payload.size() + e.info->size() + e.event_type->size() +
                         e.additional_data->size() + e.user_uuid->size() + e.encounter_id->size();
        ++n;
      }
    }
    // COPY and writer alternate, `rounds` times, so that load from elsewhere on the machine hits
    // both alike; the figures are the medians.
    std::vector<double> copies, directs, ratios;
    std::vector<RunResult> fulls;
    for (int round = 0; round < a.rounds; ++round) {
      Truncate(dsn);
      copies.push_back(CopyRate(dsn, batches));
      Truncate(dsn);
      directs.push_back(DirectRate(dsn, batches, a.max_batch));
      Truncate(dsn);
      fulls.push_back(RunWriter(a, dsn, batches, std::chrono::microseconds(0)));
      ratios.push_back(fulls.back().events_per_s / copies.back());
    }
    auto median = [](std::vector<double> v) { return Percentile(std::move(v), 0.5); };
    double copy_rate = median(copies);
    double direct_rate = median(directs);
    std::sort(fulls.begin(), fulls.end(), [](const RunResult& x, const RunResult& y) {
      return x.events_per_s < y.events_per_s;
    });
    RunResult full = fulls[fulls.size() / 2];
    double ratio = median(ratios);

    // Paced runs: each reader sends one batch per interval so that the fleet offers `pct` of the
    // writer's sustained rate.
    auto paced = [&](double pct) {
      Truncate(dsn);
      double rate = full.events_per_s * pct;  // events/s offered
      double batches_per_s = rate / a.batch_events;
      auto interval = std::chrono::microseconds(static_cast<long>(1e6 * a.readers / batches_per_s));
      int total = static_cast<int>(rate * a.paced_seconds);
      return std::make_pair(RunWriter(a, dsn, MakeBatches(a, total, 1), interval), rate);
    };
    auto [p10, r10] = paced(0.10);
    auto [p80, r80] = paced(0.80);

    std::printf(
        "\nstore_bench: %d readers, %zu events of %zu B avg (payload + text fields), "
        "%d events per DeviceBatch, writer max_batch %d, max_delay %d ms\n\n",
        a.readers, n, payload_bytes / std::max<std::size_t>(1, n), a.batch_events, a.max_batch,
        a.max_delay_ms);
    std::printf("| %-34s | %12s | %10s | %10s | %10s | %8s |\n", "run", "events/s", "p50 ms",
                "p99 ms", "max ms", "tx");
    std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(), std::string(14, '-').c_str(),
                std::string(12, '-').c_str(), std::string(12, '-').c_str(),
                std::string(12, '-').c_str(), std::string(10, '-').c_str());
    std::printf("| %-34s | %12.0f | %10s | %10s | %10s | %8d |\n", "plain COPY (one transaction)",
                copy_rate, "-", "-", "-", 1);
    auto row = [](const char* name, const RunResult& r) {
      std::printf("| %-34s | %12.0f | %10.2f | %10.2f | %10.2f | %8llu |\n", name, r.events_per_s,
                  r.p50_ms, r.p99_ms, r.max_ms, static_cast<unsigned long long>(r.transactions));
    };
    std::printf("| %-34s | %12.0f | %10s | %10s | %10s | %8s |\n", "WriteBatchesBlocking, 1 thread",
                direct_rate, "-", "-", "-", "-");
    row("EventWriter, unpaced (sustained)", full);
    char name10[64], name80[64];
    std::snprintf(name10, sizeof name10, "EventWriter at 10%% (%.0f ev/s)", r10);
    std::snprintf(name80, sizeof name80, "EventWriter at 80%% (%.0f ev/s)", r80);
    row(name10, p10);
    row(name80, p80);
    std::printf("\nwriter/COPY ratio: %.2f (goal >= 0.5), median of %d alternating rounds:", ratio,
                a.rounds);
    for (double r : ratios) std::printf(" %.2f", r);
    std::printf(
        "\nunpaced rows: medians over the rounds; paced rows: one run each, the events/s "
        "column includes the start-up spread (one interval)\n");
    std::printf("latency = Write() hand-over to commit acknowledgement, per DeviceBatch\n");
  } catch (const std::exception& e) {
    std::cerr << "store_bench: " << e.what() << "\n";
    rc = 1;
  }
  return rc;
}
